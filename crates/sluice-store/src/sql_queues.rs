//! [`QueueStore`] on SQLite and PostgreSQL. A receive is one UPDATE of the
//! visible messages it picks (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so
//! concurrent receivers never share a message.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::queues::{MessageRow, QueueCounts, QueueRow, QueueStore, Redrive};
use crate::sql::{dynamic, fetch_limit, is_unique_violation, paginate, parse_json, SqlStore};
use crate::sql_bus::prefix_clause;
use crate::{Page, PageRequest, StoreError, StoreResult};

const QUEUE_COLUMNS: &str = "account_id, name, arn, attributes, created_at_ms, updated_at_ms";
const MESSAGE_COLUMNS: &str = "message_id, account_id, queue_name, body, attributes, sent_at_ms, visible_at_ms, \
     receive_count, receipt_handle, first_received_at_ms";

fn queue_from_row(row: &AnyRow) -> StoreResult<QueueRow> {
    Ok(QueueRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        arn: row.try_get("arn")?,
        attributes: parse_json(&row.try_get::<String, _>("attributes")?, "queue attributes")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

fn message_from_row(row: &AnyRow) -> StoreResult<MessageRow> {
    Ok(MessageRow {
        message_id: row.try_get("message_id")?,
        account_id: row.try_get("account_id")?,
        queue_name: row.try_get("queue_name")?,
        body: row.try_get("body")?,
        attributes: parse_json(&row.try_get::<String, _>("attributes")?, "message attributes")?,
        sent_at_ms: row.try_get("sent_at_ms")?,
        visible_at_ms: row.try_get("visible_at_ms")?,
        receive_count: row.try_get("receive_count")?,
        receipt_handle: row.try_get("receipt_handle")?,
        first_received_at_ms: row.try_get("first_received_at_ms")?,
    })
}

#[async_trait::async_trait]
impl QueueStore for SqlStore {
    async fn create_queue(&self, q: &QueueRow) -> StoreResult<()> {
        let result =
            sqlx::query(dynamic(format!("INSERT INTO queues ({QUEUE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)")))
                .bind(&q.account_id)
                .bind(&q.name)
                .bind(&q.arn)
                .bind(q.attributes.to_string())
                .bind(q.created_at_ms)
                .bind(q.updated_at_ms)
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists { kind: "queue", name: q.name.clone() }),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_queue(&self, account_id: &str, name: &str) -> StoreResult<Option<QueueRow>> {
        let row =
            sqlx::query(dynamic(format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE account_id = $1 AND name = $2")))
                .bind(account_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(queue_from_row).transpose()
    }

    async fn list_queues(&self, account_id: &str, prefix: &str, page: &PageRequest) -> StoreResult<Page<QueueRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE account_id = $1 AND {} AND name > $4 \
             ORDER BY name LIMIT {}",
            prefix_clause("name", 2, 3),
            fetch_limit(page)
        )))
        .bind(account_id)
        .bind(prefix)
        .bind(prefix.chars().count() as i64)
        .bind(page.cursor.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(queue_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |q| q.name.clone()))
    }

    async fn set_queue_attributes(
        &self,
        account_id: &str,
        name: &str,
        attributes: &Value,
        now_ms: i64,
    ) -> StoreResult<()> {
        let result =
            sqlx::query("UPDATE queues SET attributes = $1, updated_at_ms = $2 WHERE account_id = $3 AND name = $4")
                .bind(attributes.to_string())
                .bind(now_ms)
                .bind(account_id)
                .bind(name)
                .execute(&self.pool)
                .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "queue", name: name.to_string() });
        }
        Ok(())
    }

    async fn delete_queue(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let result = sqlx::query("DELETE FROM queues WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "queue", name: name.to_string() });
        }
        sqlx::query("DELETE FROM queue_messages WHERE account_id = $1 AND queue_name = $2")
            .bind(account_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn send_messages(&self, messages: &[MessageRow]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for m in messages {
            sqlx::query(dynamic(format!(
                "INSERT INTO queue_messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            )))
            .bind(&m.message_id)
            .bind(&m.account_id)
            .bind(&m.queue_name)
            .bind(&m.body)
            .bind(m.attributes.to_string())
            .bind(m.sent_at_ms)
            .bind(m.visible_at_ms)
            .bind(m.receive_count)
            .bind(m.receipt_handle.clone())
            .bind(m.first_received_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn receive_messages(
        &self,
        account_id: &str,
        queue_name: &str,
        now_ms: i64,
        visibility_ms: i64,
        max: usize,
        redrive: Option<&Redrive>,
    ) -> StoreResult<Vec<MessageRow>> {
        let limit = max.clamp(1, 10);
        let skip_locked = self.skip_locked();
        let mut tx = self.write_transaction().await?;
        if let Some(redrive) = redrive {
            sqlx::query(dynamic(format!(
                "UPDATE queue_messages SET queue_name = $1, receive_count = 0, receipt_handle = NULL, \
                 first_received_at_ms = NULL, visible_at_ms = $2 \
                 WHERE message_id IN (SELECT message_id FROM queue_messages \
                     WHERE account_id = $3 AND queue_name = $4 AND visible_at_ms <= $2 AND receive_count >= $5 \
                     ORDER BY sent_at_ms, message_id LIMIT {limit}{skip_locked})"
            )))
            .bind(&redrive.dead_letter_queue)
            .bind(now_ms)
            .bind(account_id)
            .bind(queue_name)
            .bind(redrive.max_receive_count)
            .execute(&mut *tx)
            .await?;
        }
        // One token per receive makes every handle of it unique.
        let token = uuid::Uuid::new_v4().simple().to_string();
        let rows = sqlx::query(dynamic(format!(
            "UPDATE queue_messages SET receipt_handle = $1 || message_id, visible_at_ms = $2, \
             receive_count = receive_count + 1, first_received_at_ms = COALESCE(first_received_at_ms, $3) \
             WHERE message_id IN (SELECT message_id FROM queue_messages \
                 WHERE account_id = $4 AND queue_name = $5 AND visible_at_ms <= $3 \
                 ORDER BY sent_at_ms, message_id LIMIT {limit}{skip_locked}) \
             RETURNING {MESSAGE_COLUMNS}"
        )))
        .bind(format!("{token}:"))
        .bind(now_ms + visibility_ms)
        .bind(now_ms)
        .bind(account_id)
        .bind(queue_name)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut messages = rows.iter().map(message_from_row).collect::<StoreResult<Vec<_>>>()?;
        messages.sort_by(|a, b| (a.sent_at_ms, &a.message_id).cmp(&(b.sent_at_ms, &b.message_id)));
        Ok(messages)
    }

    async fn delete_message(&self, account_id: &str, queue_name: &str, receipt_handle: &str) -> StoreResult<bool> {
        let result =
            sqlx::query("DELETE FROM queue_messages WHERE receipt_handle = $1 AND account_id = $2 AND queue_name = $3")
                .bind(receipt_handle)
                .bind(account_id)
                .bind(queue_name)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn change_visibility(
        &self,
        account_id: &str,
        queue_name: &str,
        receipt_handle: &str,
        visible_at_ms: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE queue_messages SET visible_at_ms = $1 WHERE receipt_handle = $2 AND account_id = $3 AND queue_name = $4",
        )
        .bind(visible_at_ms)
        .bind(receipt_handle)
        .bind(account_id)
        .bind(queue_name)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn purge_queue(&self, account_id: &str, queue_name: &str) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM queue_messages WHERE account_id = $1 AND queue_name = $2")
            .bind(account_id)
            .bind(queue_name)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn expire_messages(&self, account_id: &str, queue_name: &str, sent_before_ms: i64) -> StoreResult<u64> {
        let result =
            sqlx::query("DELETE FROM queue_messages WHERE account_id = $1 AND queue_name = $2 AND sent_at_ms < $3")
                .bind(account_id)
                .bind(queue_name)
                .bind(sent_before_ms)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected())
    }

    async fn queue_counts(&self, account_id: &str, queue_name: &str, now_ms: i64) -> StoreResult<QueueCounts> {
        let row = sqlx::query(
            "SELECT \
               COALESCE(SUM(CASE WHEN visible_at_ms <= $1 THEN 1 ELSE 0 END), 0) AS visible, \
               COALESCE(SUM(CASE WHEN visible_at_ms > $1 AND receive_count > 0 THEN 1 ELSE 0 END), 0) AS in_flight, \
               COALESCE(SUM(CASE WHEN visible_at_ms > $1 AND receive_count = 0 THEN 1 ELSE 0 END), 0) AS delayed \
             FROM queue_messages WHERE account_id = $2 AND queue_name = $3",
        )
        .bind(now_ms)
        .bind(account_id)
        .bind(queue_name)
        .fetch_one(&self.pool)
        .await?;
        let count = |name: &str| -> StoreResult<u64> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
        Ok(QueueCounts { visible: count("visible")?, in_flight: count("in_flight")?, delayed: count("delayed")? })
    }

    async fn peek_messages(&self, account_id: &str, queue_name: &str, max: usize) -> StoreResult<Vec<MessageRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {MESSAGE_COLUMNS} FROM queue_messages WHERE account_id = $1 AND queue_name = $2 \
             ORDER BY sent_at_ms, message_id LIMIT {}",
            max.max(1)
        )))
        .bind(account_id)
        .bind(queue_name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    async fn move_messages(
        &self,
        account_id: &str,
        from_queue: &str,
        to_queue: &str,
        message_ids: &[String],
        now_ms: i64,
    ) -> StoreResult<u64> {
        let mut tx = self.write_transaction().await?;
        let mut moved = 0;
        for id in message_ids {
            moved += sqlx::query(
                "UPDATE queue_messages SET queue_name = $1, receive_count = 0, receipt_handle = NULL, \
                 first_received_at_ms = NULL, visible_at_ms = $2 WHERE message_id = $3 AND account_id = $4 AND queue_name = $5",
            )
            .bind(to_queue)
            .bind(now_ms)
            .bind(id)
            .bind(account_id)
            .bind(from_queue)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(moved)
    }
}
