//! [`SecretStore`] on SQLite and PostgreSQL: updates compare and set the
//! revision.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::secrets::{SecretRow, SecretStore};
use crate::sql::{is_unique_violation, SqlStore};
use crate::{StoreError, StoreResult};

fn secret_from_row(row: &AnyRow) -> StoreResult<SecretRow> {
    Ok(SecretRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        document: row.try_get("document")?,
        revision: row.try_get("revision")?,
    })
}

#[async_trait::async_trait]
impl SecretStore for SqlStore {
    async fn create_secret(&self, account_id: &str, name: &str, document: &str) -> StoreResult<()> {
        let result = sqlx::query("INSERT INTO secrets (account_id, name, document, revision) VALUES ($1, $2, $3, 1)")
            .bind(account_id)
            .bind(name)
            .bind(document)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: "secret", name: name.to_string() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_secret(&self, account_id: &str, name: &str) -> StoreResult<Option<SecretRow>> {
        let row =
            sqlx::query("SELECT account_id, name, document, revision FROM secrets WHERE account_id = $1 AND name = $2")
                .bind(account_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(secret_from_row).transpose()
    }

    async fn count_secrets(&self, account_id: &str) -> StoreResult<usize> {
        let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM secrets WHERE account_id = $1")
            .bind(account_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(count as usize)
    }

    async fn list_secrets(&self, account_id: &str) -> StoreResult<Vec<SecretRow>> {
        let rows =
            sqlx::query("SELECT account_id, name, document, revision FROM secrets WHERE account_id = $1 ORDER BY name")
                .bind(account_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(secret_from_row).collect()
    }

    async fn update_secret(&self, account_id: &str, name: &str, document: &str, revision: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE secrets SET document = $1, revision = revision + 1 \
             WHERE account_id = $2 AND name = $3 AND revision = $4",
        )
        .bind(document)
        .bind(account_id)
        .bind(name)
        .bind(revision)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_secret(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let result = sqlx::query("DELETE FROM secrets WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "secret", name: name.to_string() });
        }
        Ok(())
    }
}
