//! [`PipeStore`] on SQLite and PostgreSQL. A lease is taken by a
//! compare-and-set UPDATE (free, expired, or already ours), so two servers
//! never hold one pipe at once; a position is saved only under the lease.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::pipes::{PipeRow, PipeStore};
use crate::sql::{is_unique_violation, SqlStore};
use crate::{StoreError, StoreResult};

const COLUMNS: &str =
    "account_id, name, document, desired_state, created_at_ms, updated_at_ms, position, lease_owner, lease_until_ms";

fn pipe_from_row(row: &AnyRow) -> StoreResult<PipeRow> {
    Ok(PipeRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        document: row.try_get("document")?,
        desired_state: row.try_get("desired_state")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        position: row.try_get("position")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_until_ms: row.try_get("lease_until_ms")?,
    })
}

fn select(filter: &str) -> String {
    format!("SELECT {COLUMNS} FROM pipes WHERE {filter}")
}

#[async_trait::async_trait]
impl PipeStore for SqlStore {
    async fn create_pipe(&self, p: &PipeRow) -> StoreResult<()> {
        let result = sqlx::query(
            "INSERT INTO pipes (account_id, name, document, desired_state, created_at_ms, updated_at_ms, position, \
             lease_owner, lease_until_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, 0)",
        )
        .bind(&p.account_id)
        .bind(&p.name)
        .bind(&p.document)
        .bind(&p.desired_state)
        .bind(p.created_at_ms)
        .bind(p.updated_at_ms)
        .bind(&p.position)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists { kind: "pipe", name: p.name.clone() }),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_pipe(&self, account_id: &str, name: &str) -> StoreResult<Option<PipeRow>> {
        let row = sqlx::query(crate::sql::dynamic(select("account_id = $1 AND name = $2")))
            .bind(account_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(pipe_from_row).transpose()
    }

    async fn list_pipes(&self, account_id: &str) -> StoreResult<Vec<PipeRow>> {
        let rows = sqlx::query(crate::sql::dynamic(select("account_id = $1 ORDER BY name")))
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(pipe_from_row).collect()
    }

    async fn update_pipe(
        &self,
        account_id: &str,
        name: &str,
        document: &str,
        desired_state: &str,
        reset: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        let sql = if reset {
            "UPDATE pipes SET document = $1, desired_state = $2, updated_at_ms = $3, position = NULL \
             WHERE account_id = $4 AND name = $5"
        } else {
            "UPDATE pipes SET document = $1, desired_state = $2, updated_at_ms = $3 WHERE account_id = $4 AND name = $5"
        };
        let result = sqlx::query(sql)
            .bind(document)
            .bind(desired_state)
            .bind(now_ms)
            .bind(account_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "pipe", name: name.to_string() });
        }
        Ok(())
    }

    async fn delete_pipe(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let result = sqlx::query("DELETE FROM pipes WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "pipe", name: name.to_string() });
        }
        Ok(())
    }

    async fn running_pipes(&self) -> StoreResult<Vec<PipeRow>> {
        let rows = sqlx::query(crate::sql::dynamic(select("desired_state = 'RUNNING' ORDER BY account_id, name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(pipe_from_row).collect()
    }

    async fn lease_pipe(
        &self,
        account_id: &str,
        name: &str,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> StoreResult<Option<PipeRow>> {
        let result = sqlx::query(
            "UPDATE pipes SET lease_owner = $1, lease_until_ms = $2 WHERE account_id = $3 AND name = $4 \
             AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until_ms < $5)",
        )
        .bind(owner)
        .bind(until_ms)
        .bind(account_id)
        .bind(name)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Ok(None);
        }
        let pipe = self.get_pipe(account_id, name).await?;
        Ok(pipe.filter(|p| p.lease_owner.as_deref() == Some(owner)))
    }

    async fn save_pipe_position(&self, account_id: &str, name: &str, owner: &str, position: &str) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE pipes SET position = $1 WHERE account_id = $2 AND name = $3 AND lease_owner = $4")
                .bind(position)
                .bind(account_id)
                .bind(name)
                .bind(owner)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn release_pipe(&self, account_id: &str, name: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE pipes SET lease_owner = NULL, lease_until_ms = 0 WHERE account_id = $1 AND name = $2 \
             AND lease_owner = $3",
        )
        .bind(account_id)
        .bind(name)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
