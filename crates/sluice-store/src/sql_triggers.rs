//! [`TriggerStore`] on SQLite and PostgreSQL: an occurrence is claimed by a
//! compare-and-set on `next_fire_ms`, in the same transaction as the run it
//! queues, so only one of several servers sharing a store fires it.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::records::{ExecutionRow, ListenerRow, TriggerRow};
use crate::sql::{enqueue_query, insert_execution_query, parse_json, SqlStore};
use crate::{StoreResult, TriggerStore};

const TRIGGER_COLUMNS: &str =
    "account_id, flow_name, next_fire_ms, watermark_ms, source_state, consecutive_failures, updated_at_ms";

fn trigger_from_row(row: &AnyRow) -> StoreResult<TriggerRow> {
    Ok(TriggerRow {
        account_id: row.try_get("account_id")?,
        flow_name: row.try_get("flow_name")?,
        next_fire_ms: row.try_get("next_fire_ms")?,
        watermark_ms: row.try_get("watermark_ms")?,
        source_state: row
            .try_get::<Option<String>, _>("source_state")?
            .map(|text| parse_json(&text, "trigger source state"))
            .transpose()?,
        consecutive_failures: row.try_get("consecutive_failures")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

/// A statement of this file's constants and `$n` placeholders.
fn dynamic(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

#[async_trait::async_trait]
impl TriggerStore for SqlStore {
    async fn schedule_trigger(
        &self,
        flow_name: &str,
        next_fire_ms: Option<i64>,
        reset_failures: bool,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let updated = sqlx::query(
            "UPDATE flow_triggers SET next_fire_ms = $1, updated_at_ms = $2, \
             consecutive_failures = CASE WHEN $3 = 1 THEN 0 ELSE consecutive_failures END \
             WHERE flow_name = $4 AND account_id = $5",
        )
        .bind(next_fire_ms)
        .bind(now_ms)
        .bind(i64::from(reset_failures))
        .bind(flow_name)
        .bind(&*self.account)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO flow_triggers (flow_name, next_fire_ms, watermark_ms, source_state, consecutive_failures, \
                 updated_at_ms, account_id) VALUES ($1, $2, NULL, NULL, 0, $3, $4)",
            )
            .bind(flow_name)
            .bind(next_fire_ms)
            .bind(now_ms)
            .bind(&*self.account)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn get_trigger(&self, flow_name: &str) -> StoreResult<Option<TriggerRow>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {TRIGGER_COLUMNS} FROM flow_triggers WHERE flow_name = $1 AND account_id = $2"
        )))
        .bind(flow_name)
        .bind(&*self.account)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(trigger_from_row).transpose()
    }

    async fn due_triggers(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<TriggerRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {TRIGGER_COLUMNS} FROM flow_triggers WHERE next_fire_ms IS NOT NULL AND next_fire_ms <= $1 \
             ORDER BY next_fire_ms, flow_name LIMIT {}",
            limit.max(1)
        )))
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(trigger_from_row).collect()
    }

    async fn fire_trigger(
        &self,
        flow_name: &str,
        due_ms: i64,
        next_fire_ms: Option<i64>,
        run: Option<(&ExecutionRow, &Value)>,
        now_ms: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        let claimed = sqlx::query(
            "UPDATE flow_triggers SET next_fire_ms = $1, updated_at_ms = $2 \
             WHERE flow_name = $3 AND next_fire_ms = $4 AND account_id = $5",
        )
        .bind(next_fire_ms)
        .bind(now_ms)
        .bind(flow_name)
        .bind(due_ms)
        .bind(&*self.account)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some((execution, request)) = run {
            insert_execution_query(&self.account, execution).execute(&mut *tx).await?;
            enqueue_query(&self.account, &execution.execution_id, flow_name, execution.started_at_ms, Some(request))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn record_trigger_outcome(
        &self,
        flow_name: &str,
        succeeded: bool,
        watermark_ms: Option<i64>,
        source_state: Option<&Value>,
        now_ms: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.write_transaction().await?;
        if succeeded {
            sqlx::query(
                "UPDATE flow_triggers SET consecutive_failures = 0, updated_at_ms = $1, \
                 watermark_ms = COALESCE($2, watermark_ms), source_state = COALESCE($3, source_state) \
                 WHERE flow_name = $4 AND account_id = $5",
            )
            .bind(now_ms)
            .bind(watermark_ms)
            .bind(source_state.map(Value::to_string))
            .bind(flow_name)
            .bind(&*self.account)
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE flow_triggers SET consecutive_failures = consecutive_failures + 1, updated_at_ms = $1 \
                 WHERE flow_name = $2 AND account_id = $3",
            )
            .bind(now_ms)
            .bind(flow_name)
            .bind(&*self.account)
            .execute(&mut *tx)
            .await?;
        }
        let failures: Option<i64> =
            sqlx::query("SELECT consecutive_failures FROM flow_triggers WHERE flow_name = $1 AND account_id = $2")
                .bind(flow_name)
                .bind(&*self.account)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get("consecutive_failures"))
                .transpose()?;
        tx.commit().await?;
        Ok(failures.unwrap_or(0))
    }

    async fn run_in_flight(&self, flow_name: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT execution_id FROM run_queue WHERE flow_name = $1 AND account_id = $2 LIMIT 1")
            .bind(flow_name)
            .bind(&*self.account)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    async fn set_listening(
        &self,
        flow_name: &str,
        listen: bool,
        initial_state: Option<&Value>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let exists = sqlx::query("SELECT flow_name FROM flow_triggers WHERE flow_name = $1 AND account_id = $2")
            .bind(flow_name)
            .bind(&*self.account)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            sqlx::query(
                "INSERT INTO flow_triggers (flow_name, next_fire_ms, watermark_ms, source_state, consecutive_failures, \
                 updated_at_ms, account_id) VALUES ($1, NULL, NULL, NULL, 0, $2, $3)",
            )
            .bind(flow_name)
            .bind(now_ms)
            .bind(&*self.account)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE flow_triggers SET listen = $1, updated_at_ms = $2, source_state = COALESCE(source_state, $3), \
             listener_owner = CASE WHEN $1 = 1 THEN listener_owner ELSE NULL END, \
             listener_until_ms = CASE WHEN $1 = 1 THEN listener_until_ms ELSE NULL END \
             WHERE flow_name = $4 AND account_id = $5",
        )
        .bind(i64::from(listen))
        .bind(now_ms)
        .bind(initial_state.map(Value::to_string))
        .bind(flow_name)
        .bind(&*self.account)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn listening_flows(&self) -> StoreResult<Vec<ListenerRow>> {
        let rows = sqlx::query(
            "SELECT account_id, flow_name, listener_owner, listener_until_ms FROM flow_triggers WHERE listen = 1 \
             ORDER BY account_id, flow_name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ListenerRow {
                    account_id: row.try_get("account_id")?,
                    flow_name: row.try_get("flow_name")?,
                    owner: row.try_get("listener_owner")?,
                    until_ms: row.try_get("listener_until_ms")?,
                })
            })
            .collect()
    }

    async fn claim_listener(&self, flow_name: &str, owner: &str, now_ms: i64, lease_ms: i64) -> StoreResult<bool> {
        let claimed = sqlx::query(
            "UPDATE flow_triggers SET listener_owner = $1, listener_until_ms = $2 WHERE flow_name = $3 AND listen = 1 \
             AND (listener_owner IS NULL OR listener_owner = $1 OR listener_until_ms < $4) AND account_id = $5",
        )
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(flow_name)
        .bind(now_ms)
        .bind(&*self.account)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn release_listener(&self, flow_name: &str, owner: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE flow_triggers SET listener_owner = NULL, listener_until_ms = NULL \
             WHERE flow_name = $1 AND listener_owner = $2 AND account_id = $3",
        )
        .bind(flow_name)
        .bind(owner)
        .bind(&*self.account)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn queue_listener_run(
        &self,
        flow_name: &str,
        owner: &str,
        now_ms: i64,
        execution: &ExecutionRow,
        request: &Value,
    ) -> StoreResult<bool> {
        let mut tx = self.write_transaction().await?;
        // Writing the row first holds it for the transaction (PostgreSQL's
        // row lock; SQLite has one writer), so the lease cannot change
        // hands before the run is queued.
        let held = sqlx::query(
            "UPDATE flow_triggers SET updated_at_ms = $1 WHERE flow_name = $2 AND listen = 1 \
             AND listener_owner = $3 AND listener_until_ms >= $1 AND account_id = $4",
        )
        .bind(now_ms)
        .bind(flow_name)
        .bind(owner)
        .bind(&*self.account)
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            return Ok(false);
        }
        let in_flight =
            sqlx::query("SELECT execution_id FROM run_queue WHERE flow_name = $1 AND account_id = $2 LIMIT 1")
                .bind(flow_name)
                .bind(&*self.account)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if in_flight {
            return Ok(false);
        }
        insert_execution_query(&self.account, execution).execute(&mut *tx).await?;
        enqueue_query(&self.account, &execution.execution_id, flow_name, execution.started_at_ms, Some(request))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
