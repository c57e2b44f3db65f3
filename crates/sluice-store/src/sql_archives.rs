//! [`ArchiveStore`] on SQLite and PostgreSQL. Archived events are written in
//! the transaction of the deliveries of the same events
//! ([`crate::BusStore::insert_routed`]); replays are claimed like
//! deliveries, by a lease.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::archives::{ArchivePosition, ArchiveStore, ArchivedEventRow, ReplayRow};
use crate::sql::{dynamic, fetch_limit, is_unique_violation, paginate, parse_json, SqlStore};
use crate::sql_bus::prefix_clause;
use crate::{Page, PageRequest, StoreError, StoreResult};

const EVENT_COLUMNS: &str =
    "account_id, archive_name, event_time_ms, event_id, archived_at_ms, expires_at_ms, size_bytes, event";
const REPLAY_COLUMNS: &str = "account_id, name, arn, archive_name, state, document, lease_owner, \
     lease_expires_at_ms, created_at_ms, updated_at_ms";
/// The active states as an SQL list (they are constants, not input).
const ACTIVE: &str = "('STARTING', 'RUNNING', 'CANCELLING')";

fn event_from_row(row: &AnyRow) -> StoreResult<ArchivedEventRow> {
    Ok(ArchivedEventRow {
        account_id: row.try_get("account_id")?,
        archive_name: row.try_get("archive_name")?,
        event_id: row.try_get("event_id")?,
        event_time_ms: row.try_get("event_time_ms")?,
        archived_at_ms: row.try_get("archived_at_ms")?,
        expires_at_ms: row.try_get("expires_at_ms")?,
        size_bytes: row.try_get("size_bytes")?,
        event: parse_json(&row.try_get::<String, _>("event")?, "archived event")?,
    })
}

fn replay_from_row(row: &AnyRow) -> StoreResult<ReplayRow> {
    Ok(ReplayRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        arn: row.try_get("arn")?,
        archive_name: row.try_get("archive_name")?,
        state: row.try_get("state")?,
        document: parse_json(&row.try_get::<String, _>("document")?, "replay")?,
        lease_owner: row.try_get("lease_owner")?,
        lease_expires_at_ms: row.try_get("lease_expires_at_ms")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

/// Writes archived events inside `tx` (an event archived twice, e.g. a
/// retried write, is kept once).
pub(crate) async fn insert_archived(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    archived: &[ArchivedEventRow],
) -> StoreResult<()> {
    for e in archived {
        sqlx::query(dynamic(format!(
            "INSERT INTO event_archive_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT DO NOTHING"
        )))
        .bind(e.account_id.clone())
        .bind(e.archive_name.clone())
        .bind(e.event_time_ms)
        .bind(e.event_id.clone())
        .bind(e.archived_at_ms)
        .bind(e.expires_at_ms)
        .bind(e.size_bytes)
        .bind(e.event.to_string())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl ArchiveStore for SqlStore {
    async fn archived_events(
        &self,
        account_id: &str,
        archive_name: &str,
        from_ms: i64,
        until_ms: i64,
        after: Option<&ArchivePosition>,
        limit: usize,
    ) -> StoreResult<Vec<ArchivedEventRow>> {
        let (after_time, after_id) = match after {
            Some(p) => (p.event_time_ms, p.event_id.clone()),
            None => (i64::MIN, String::new()),
        };
        let rows = sqlx::query(dynamic(format!(
            "SELECT {EVENT_COLUMNS} FROM event_archive_events WHERE account_id = $1 AND archive_name = $2 \
             AND event_time_ms >= $3 AND event_time_ms < $4 \
             AND (event_time_ms > $5 OR (event_time_ms = $5 AND event_id > $6)) \
             ORDER BY event_time_ms, event_id LIMIT {}",
            limit.max(1)
        )))
        .bind(account_id)
        .bind(archive_name)
        .bind(from_ms)
        .bind(until_ms)
        .bind(after_time)
        .bind(after_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn archive_totals(&self, account_id: &str, archive_name: &str) -> StoreResult<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS events, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes \
             FROM event_archive_events WHERE account_id = $1 AND archive_name = $2",
        )
        .bind(account_id)
        .bind(archive_name)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("events")?, row.try_get("bytes")?))
    }

    async fn delete_archived_events(&self, account_id: &str, archive_name: &str) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM event_archive_events WHERE account_id = $1 AND archive_name = $2")
            .bind(account_id)
            .bind(archive_name)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn set_archive_retention(
        &self,
        account_id: &str,
        archive_name: &str,
        retention_ms: Option<i64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE event_archive_events SET expires_at_ms = archived_at_ms + $1 \
             WHERE account_id = $2 AND archive_name = $3",
        )
        .bind(retention_ms)
        .bind(account_id)
        .bind(archive_name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn expire_archived_events(&self, now_ms: i64, limit: usize) -> StoreResult<u64> {
        let result = sqlx::query(dynamic(format!(
            "DELETE FROM event_archive_events WHERE (account_id, archive_name, event_time_ms, event_id) IN \
             (SELECT account_id, archive_name, event_time_ms, event_id FROM event_archive_events \
              WHERE expires_at_ms < $1 LIMIT {})",
            limit.max(1)
        )))
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    async fn create_replay(&self, r: &ReplayRow) -> StoreResult<()> {
        let result = sqlx::query(dynamic(format!(
            "INSERT INTO event_replays ({REPLAY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(&r.account_id)
        .bind(&r.name)
        .bind(&r.arn)
        .bind(&r.archive_name)
        .bind(&r.state)
        .bind(r.document.to_string())
        .bind(r.lease_owner.clone())
        .bind(r.lease_expires_at_ms)
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: "replay", name: r.name.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_replay(&self, account_id: &str, name: &str) -> StoreResult<Option<ReplayRow>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {REPLAY_COLUMNS} FROM event_replays WHERE account_id = $1 AND name = $2"
        )))
        .bind(account_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(replay_from_row).transpose()
    }

    async fn list_replays(&self, account_id: &str, prefix: &str, page: &PageRequest) -> StoreResult<Page<ReplayRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {REPLAY_COLUMNS} FROM event_replays WHERE account_id = $1 AND {} AND name > $4 \
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
        let items = rows.iter().map(replay_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |r| r.name.clone()))
    }

    async fn active_replays(&self, account_id: &str) -> StoreResult<u64> {
        let row = sqlx::query(dynamic(format!(
            "SELECT COUNT(*) AS n FROM event_replays WHERE account_id = $1 AND state IN {ACTIVE}"
        )))
        .bind(account_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    async fn claim_replays(
        &self,
        owner: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<ReplayRow>> {
        let skip_locked = self.skip_locked();
        let rows = sqlx::query(dynamic(format!(
            "UPDATE event_replays SET lease_owner = $1, lease_expires_at_ms = $2 \
             WHERE (account_id, name) IN (SELECT account_id, name FROM event_replays \
                 WHERE state IN {ACTIVE} AND (lease_owner IS NULL OR lease_owner = $1 OR lease_expires_at_ms < $3) \
                 ORDER BY created_at_ms LIMIT {}{skip_locked}) \
             RETURNING {REPLAY_COLUMNS}",
            limit.max(1)
        )))
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(replay_from_row).collect()
    }

    async fn update_replay(&self, r: &ReplayRow, expected_state: &str, owner: Option<&str>) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE event_replays SET state = $1, document = $2, lease_owner = $3, lease_expires_at_ms = $4, \
             updated_at_ms = $5 WHERE account_id = $6 AND name = $7 AND state = $8 \
             AND ($9 IS NULL OR lease_owner = $9)",
        )
        .bind(&r.state)
        .bind(r.document.to_string())
        .bind(r.lease_owner.clone())
        .bind(r.lease_expires_at_ms)
        .bind(r.updated_at_ms)
        .bind(&r.account_id)
        .bind(&r.name)
        .bind(expected_state)
        .bind(owner.map(str::to_string))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }
}
