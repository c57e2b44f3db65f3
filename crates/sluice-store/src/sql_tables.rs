//! [`TableStore`] on SQLite and PostgreSQL. A commit is one transaction:
//! each write checks its expected version in its own statement (an INSERT
//! that must not collide, an UPDATE or DELETE that must match the version),
//! and each stream record takes the next number from the table's counter,
//! whose row lock orders concurrent commits of one table on PostgreSQL.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::sql::{dynamic, is_unique_violation, parse_json, SqlStore};
use crate::tables::{
    CommitOutcome, Expected, ItemCursor, ItemWrite, KeyRange, StoredItem, StreamAppend, StreamRecordRow, StreamRow,
    TableRow, TableStore, WriteAction,
};
use crate::{StoreError, StoreResult};

const TABLE_COLUMNS: &str = "account_id, name, table_id, description, created_at_ms";
const STREAM_COLUMNS: &str =
    "stream_arn, account_id, table_name, table_id, stream_label, view_type, created_at_ms, disabled_at_ms, first_seq";

fn table_from_row(row: &AnyRow) -> StoreResult<TableRow> {
    Ok(TableRow {
        account_id: row.try_get("account_id")?,
        name: row.try_get("name")?,
        table_id: row.try_get("table_id")?,
        description: parse_json(&row.try_get::<String, _>("description")?, "table description")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

fn stream_from_row(row: &AnyRow) -> StoreResult<StreamRow> {
    Ok(StreamRow {
        stream_arn: row.try_get("stream_arn")?,
        account_id: row.try_get("account_id")?,
        table_name: row.try_get("table_name")?,
        table_id: row.try_get("table_id")?,
        stream_label: row.try_get("stream_label")?,
        view_type: row.try_get("view_type")?,
        created_at_ms: row.try_get("created_at_ms")?,
        disabled_at_ms: row.try_get("disabled_at_ms")?,
        first_seq: row.try_get("first_seq")?,
    })
}

/// Reads a base item row (`version` present) or an index entry.
fn item_from_row(row: &AnyRow, index: bool) -> StoreResult<StoredItem> {
    let hash_key: Vec<u8> = row.try_get("hash_key")?;
    let range_key: Vec<u8> = row.try_get("range_key")?;
    let (base_hash_key, base_range_key, version) = if index {
        (row.try_get("base_hash_key")?, row.try_get("base_range_key")?, 0)
    } else {
        (hash_key.clone(), range_key.clone(), row.try_get("version")?)
    };
    Ok(StoredItem {
        hash_key,
        range_key,
        base_hash_key,
        base_range_key,
        hash_point: row.try_get("hash_point")?,
        version,
        item: row.try_get("item")?,
    })
}

/// A bound parameter of a query built at run time.
enum Bind {
    Text(String),
    Bytes(Vec<u8>),
    Int(i64),
}

/// A query's text and parameters, numbered as they are added.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push_str(&format!("${}", self.binds.len()));
        self
    }

    fn query(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments> {
        let mut query = sqlx::query(dynamic(self.text.clone()));
        for bind in &self.binds {
            query = match bind {
                Bind::Text(t) => query.bind(t.clone()),
                Bind::Bytes(b) => query.bind(b.clone()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query
    }
}

/// `(a, b, ...) > (cursor...)` (or `<`) over the key columns of a listing.
fn after_clause(sql: &mut Sql, columns: &[&str], cursor: &ItemCursor, index: bool, scan: bool, forward: bool) {
    let mut values = Vec::new();
    if scan {
        values.push(Bind::Int(cursor.hash_point));
        values.push(Bind::Bytes(cursor.hash_key.clone()));
    }
    values.push(Bind::Bytes(cursor.range_key.clone()));
    if index {
        values.push(Bind::Bytes(cursor.base_hash_key.clone()));
        values.push(Bind::Bytes(cursor.base_range_key.clone()));
    }
    sql.push(&format!(" AND ({}) {} (", columns.join(", "), if forward { ">" } else { "<" }));
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(value);
    }
    sql.push(")");
}

/// Whether a PostgreSQL error is a deadlock or serialization failure: the
/// commit lost a race and is tried again by the service.
fn is_lost_race(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01") | Some("40001")))
}

#[async_trait::async_trait]
impl TableStore for SqlStore {
    async fn create_table(&self, t: &TableRow) -> StoreResult<()> {
        let result =
            sqlx::query(dynamic(format!("INSERT INTO ddb_tables ({TABLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5)")))
                .bind(&t.account_id)
                .bind(&t.name)
                .bind(&t.table_id)
                .bind(t.description.to_string())
                .bind(t.created_at_ms)
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists { kind: "table", name: t.name.clone() }),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_table(&self, account_id: &str, name: &str) -> StoreResult<Option<TableRow>> {
        let row =
            sqlx::query(dynamic(format!("SELECT {TABLE_COLUMNS} FROM ddb_tables WHERE account_id = $1 AND name = $2")))
                .bind(account_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(table_from_row).transpose()
    }

    async fn list_tables(&self, account_id: &str, after: Option<&str>, limit: usize) -> StoreResult<Vec<TableRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {TABLE_COLUMNS} FROM ddb_tables WHERE account_id = $1 AND name > $2 ORDER BY name LIMIT {limit}"
        )))
        .bind(account_id)
        .bind(after.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(table_from_row).collect()
    }

    async fn all_tables(&self) -> StoreResult<Vec<TableRow>> {
        let rows = sqlx::query(dynamic(format!("SELECT {TABLE_COLUMNS} FROM ddb_tables ORDER BY account_id, name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(table_from_row).collect()
    }

    async fn update_table(&self, account_id: &str, name: &str, description: &Value) -> StoreResult<()> {
        let result = sqlx::query("UPDATE ddb_tables SET description = $1 WHERE account_id = $2 AND name = $3")
            .bind(description.to_string())
            .bind(account_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "table", name: name.to_string() });
        }
        Ok(())
    }

    async fn delete_table(&self, account_id: &str, name: &str) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let table_id: Option<String> =
            sqlx::query_scalar("SELECT table_id FROM ddb_tables WHERE account_id = $1 AND name = $2")
                .bind(account_id)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(table_id) = table_id else {
            return Err(StoreError::NotFound { kind: "table", name: name.to_string() });
        };
        for statement in [
            "DELETE FROM ddb_items WHERE table_id = $1",
            "DELETE FROM ddb_index_entries WHERE table_id = $1",
            "DELETE FROM ddb_tables WHERE table_id = $1",
        ] {
            sqlx::query(statement).bind(&table_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn table_usage(&self, table_id: &str) -> StoreResult<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes FROM ddb_items WHERE table_id = $1")
            .bind(table_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("n")?, row.try_get("bytes")?))
    }

    async fn get_items(&self, table_id: &str, keys: &[(Vec<u8>, Vec<u8>)]) -> StoreResult<Vec<Option<StoredItem>>> {
        let mut found = Vec::with_capacity(keys.len());
        let mut tx = self.pool.begin().await?;
        for (hash_key, range_key) in keys {
            let row = sqlx::query(
                "SELECT hash_key, range_key, hash_point, version, item FROM ddb_items \
                 WHERE table_id = $1 AND hash_key = $2 AND range_key = $3",
            )
            .bind(table_id)
            .bind(hash_key.clone())
            .bind(range_key.clone())
            .fetch_optional(&mut *tx)
            .await?;
            found.push(row.as_ref().map(|r| item_from_row(r, false)).transpose()?);
        }
        tx.commit().await?;
        Ok(found)
    }

    async fn commit(&self, writes: &[ItemWrite], records: &[StreamAppend]) -> StoreResult<CommitOutcome> {
        let mut tx = self.write_transaction().await?;
        for (n, write) in writes.iter().enumerate() {
            let landed = match apply_write(&mut tx, write, self.share_lock()).await {
                Ok(landed) => landed,
                Err(e) if is_unique_violation(&e) || is_lost_race(&e) => false,
                Err(e) => return Err(e.into()),
            };
            if !landed {
                return Ok(CommitOutcome::Conflict(n));
            }
        }
        for record in records {
            let seq: i64 = match sqlx::query_scalar(
                "UPDATE ddb_tables SET stream_seq = stream_seq + 1 WHERE table_id = $1 RETURNING stream_seq",
            )
            .bind(&record.table_id)
            .fetch_optional(&mut *tx)
            .await
            {
                Ok(Some(seq)) => seq,
                Ok(None) => return Err(StoreError::NotFound { kind: "table", name: record.table_id.clone() }),
                Err(e) if is_lost_race(&e) => return Ok(CommitOutcome::Conflict(0)),
                Err(e) => return Err(e.into()),
            };
            sqlx::query(
                "INSERT INTO ddb_stream_records (table_id, seq, stream_label, created_at_ms, record) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&record.table_id)
            .bind(seq)
            .bind(&record.stream_label)
            .bind(record.created_at_ms)
            .bind(&record.record)
            .execute(&mut *tx)
            .await?;
        }
        match tx.commit().await {
            Ok(()) => Ok(CommitOutcome::Committed),
            Err(e) if is_lost_race(&e) => Ok(CommitOutcome::Conflict(0)),
            Err(e) => Err(e.into()),
        }
    }

    async fn query_items(
        &self,
        table_id: &str,
        index: Option<&str>,
        hash_key: &[u8],
        range: &KeyRange,
        forward: bool,
        after: Option<&ItemCursor>,
        limit: usize,
    ) -> StoreResult<Vec<StoredItem>> {
        let mut sql = Sql::default();
        let order: &[&str] =
            if index.is_some() { &["range_key", "base_hash_key", "base_range_key"] } else { &["range_key"] };
        match index {
            Some(name) => {
                sql.push("SELECT hash_key, range_key, base_hash_key, base_range_key, hash_point, item FROM ddb_index_entries WHERE table_id = ")
                    .bind(Bind::Text(table_id.into()))
                    .push(" AND index_name = ")
                    .bind(Bind::Text(name.into()));
            }
            None => {
                sql.push("SELECT hash_key, range_key, hash_point, version, item FROM ddb_items WHERE table_id = ")
                    .bind(Bind::Text(table_id.into()));
            }
        }
        sql.push(" AND hash_key = ").bind(Bind::Bytes(hash_key.to_vec()));
        if let Some((lower, inclusive)) = &range.lower {
            sql.push(if *inclusive { " AND range_key >= " } else { " AND range_key > " })
                .bind(Bind::Bytes(lower.clone()));
        }
        if let Some((upper, inclusive)) = &range.upper {
            sql.push(if *inclusive { " AND range_key <= " } else { " AND range_key < " })
                .bind(Bind::Bytes(upper.clone()));
        }
        if let Some(cursor) = after {
            after_clause(&mut sql, order, cursor, index.is_some(), false, forward);
        }
        let direction = if forward { " ASC" } else { " DESC" };
        let order_by: Vec<String> = order.iter().map(|c| format!("{c}{direction}")).collect();
        sql.push(&format!(" ORDER BY {} LIMIT {limit}", order_by.join(", ")));
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(|r| item_from_row(r, index.is_some())).collect()
    }

    async fn scan_items(
        &self,
        table_id: &str,
        index: Option<&str>,
        points: (i64, i64),
        after: Option<&ItemCursor>,
        limit: usize,
    ) -> StoreResult<Vec<StoredItem>> {
        let mut sql = Sql::default();
        let order: &[&str] = if index.is_some() {
            &["hash_point", "hash_key", "range_key", "base_hash_key", "base_range_key"]
        } else {
            &["hash_point", "hash_key", "range_key"]
        };
        match index {
            Some(name) => {
                sql.push("SELECT hash_key, range_key, base_hash_key, base_range_key, hash_point, item FROM ddb_index_entries WHERE table_id = ")
                    .bind(Bind::Text(table_id.into()))
                    .push(" AND index_name = ")
                    .bind(Bind::Text(name.into()));
            }
            None => {
                sql.push("SELECT hash_key, range_key, hash_point, version, item FROM ddb_items WHERE table_id = ")
                    .bind(Bind::Text(table_id.into()));
            }
        }
        sql.push(" AND hash_point >= ").bind(Bind::Int(points.0));
        sql.push(" AND hash_point < ").bind(Bind::Int(points.1));
        if let Some(cursor) = after {
            after_clause(&mut sql, order, cursor, index.is_some(), true, true);
        }
        sql.push(&format!(" ORDER BY {} LIMIT {limit}", order.join(", ")));
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter().map(|r| item_from_row(r, index.is_some())).collect()
    }

    async fn replace_index(
        &self,
        table_id: &str,
        index_name: &str,
        entries: &[(ItemCursor, String)],
    ) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("DELETE FROM ddb_index_entries WHERE table_id = $1 AND index_name = $2")
            .bind(table_id)
            .bind(index_name)
            .execute(&mut *tx)
            .await?;
        for (key, item) in entries {
            insert_entry(&mut tx, table_id, index_name, key, item).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_stream(&self, s: &StreamRow) -> StoreResult<()> {
        sqlx::query(dynamic(format!(
            "INSERT INTO ddb_streams ({STREAM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )))
        .bind(&s.stream_arn)
        .bind(&s.account_id)
        .bind(&s.table_name)
        .bind(&s.table_id)
        .bind(&s.stream_label)
        .bind(&s.view_type)
        .bind(s.created_at_ms)
        .bind(s.disabled_at_ms)
        .bind(s.first_seq)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn disable_streams(&self, table_id: &str, at_ms: i64) -> StoreResult<()> {
        sqlx::query("UPDATE ddb_streams SET disabled_at_ms = $1 WHERE table_id = $2 AND disabled_at_ms IS NULL")
            .bind(at_ms)
            .bind(table_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list_streams(&self, account_id: &str, table_name: Option<&str>) -> StoreResult<Vec<StreamRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT {STREAM_COLUMNS} FROM ddb_streams WHERE account_id = $1 AND ($2 = '' OR table_name = $2) \
             ORDER BY created_at_ms DESC, stream_arn"
        )))
        .bind(account_id)
        .bind(table_name.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stream_from_row).collect()
    }

    async fn get_stream(&self, stream_arn: &str) -> StoreResult<Option<StreamRow>> {
        let row = sqlx::query(dynamic(format!("SELECT {STREAM_COLUMNS} FROM ddb_streams WHERE stream_arn = $1")))
            .bind(stream_arn)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stream_from_row).transpose()
    }

    async fn stream_records(
        &self,
        table_id: &str,
        stream_label: &str,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<StreamRecordRow>> {
        let rows = sqlx::query(dynamic(format!(
            "SELECT seq, created_at_ms, record FROM ddb_stream_records \
             WHERE table_id = $1 AND stream_label = $2 AND seq > $3 ORDER BY seq LIMIT {limit}"
        )))
        .bind(table_id)
        .bind(stream_label)
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StreamRecordRow {
                    seq: r.try_get("seq")?,
                    created_at_ms: r.try_get("created_at_ms")?,
                    record: r.try_get("record")?,
                })
            })
            .collect()
    }

    async fn last_sequence(&self, table_id: &str) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT stream_seq FROM ddb_tables WHERE table_id = $1")
            .bind(table_id)
            .fetch_optional(&self.pool)
            .await?;
        match seq {
            Some(seq) => Ok(seq),
            None => {
                Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(seq) FROM ddb_stream_records WHERE table_id = $1")
                    .bind(table_id)
                    .fetch_one(&self.pool)
                    .await?
                    .unwrap_or(0))
            }
        }
    }

    async fn trim_streams(&self, before_ms: i64) -> StoreResult<u64> {
        let records = sqlx::query("DELETE FROM ddb_stream_records WHERE created_at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM ddb_streams WHERE disabled_at_ms IS NOT NULL AND disabled_at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(records.rows_affected())
    }
}

async fn insert_entry(
    tx: &mut sqlx::Transaction<'static, Any>,
    table_id: &str,
    index_name: &str,
    key: &ItemCursor,
    item: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ddb_index_entries (table_id, index_name, hash_key, range_key, base_hash_key, base_range_key, \
         hash_point, item) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(table_id)
    .bind(index_name)
    .bind(key.hash_key.clone())
    .bind(key.range_key.clone())
    .bind(key.base_hash_key.clone())
    .bind(key.base_range_key.clone())
    .bind(key.hash_point)
    .bind(item)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Applies one write; false when its expectation does not hold.
async fn apply_write(
    tx: &mut sqlx::Transaction<'static, Any>,
    w: &ItemWrite,
    share_lock: &str,
) -> Result<bool, sqlx::Error> {
    let landed = match (&w.expected, &w.action) {
        (Expected::Absent, WriteAction::Put(new)) => {
            sqlx::query(
                "INSERT INTO ddb_items (table_id, hash_key, range_key, hash_point, version, size_bytes, item) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&w.table_id)
            .bind(w.hash_key.clone())
            .bind(w.range_key.clone())
            .bind(w.hash_point)
            .bind(new.version)
            .bind(new.size_bytes)
            .bind(&new.item)
            .execute(&mut **tx)
            .await?;
            true
        }
        (Expected::Absent, WriteAction::Delete | WriteAction::Check) => {
            let found: Option<i64> = sqlx::query_scalar(dynamic(format!(
                "SELECT version FROM ddb_items WHERE table_id = $1 AND hash_key = $2 AND range_key = $3{share_lock}"
            )))
            .bind(&w.table_id)
            .bind(w.hash_key.clone())
            .bind(w.range_key.clone())
            .fetch_optional(&mut **tx)
            .await?;
            return Ok(found.is_none());
        }
        (Expected::Version(version), WriteAction::Put(new)) => {
            sqlx::query(
                "UPDATE ddb_items SET version = $1, size_bytes = $2, item = $3 \
                 WHERE table_id = $4 AND hash_key = $5 AND range_key = $6 AND version = $7",
            )
            .bind(new.version)
            .bind(new.size_bytes)
            .bind(&new.item)
            .bind(&w.table_id)
            .bind(w.hash_key.clone())
            .bind(w.range_key.clone())
            .bind(*version)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1
        }
        (Expected::Version(version), WriteAction::Delete) => {
            sqlx::query(
                "DELETE FROM ddb_items WHERE table_id = $1 AND hash_key = $2 AND range_key = $3 AND version = $4",
            )
            .bind(&w.table_id)
            .bind(w.hash_key.clone())
            .bind(w.range_key.clone())
            .bind(*version)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                == 1
        }
        (Expected::Version(version), WriteAction::Check) => {
            let found: Option<i64> = sqlx::query_scalar(dynamic(format!(
                "SELECT version FROM ddb_items WHERE table_id = $1 AND hash_key = $2 AND range_key = $3{share_lock}"
            )))
            .bind(&w.table_id)
            .bind(w.hash_key.clone())
            .bind(w.range_key.clone())
            .fetch_optional(&mut **tx)
            .await?;
            return Ok(found == Some(*version));
        }
    };
    if !landed {
        return Ok(false);
    }
    if matches!(w.expected, Expected::Version(_)) {
        sqlx::query("DELETE FROM ddb_index_entries WHERE table_id = $1 AND base_hash_key = $2 AND base_range_key = $3")
            .bind(&w.table_id)
            .bind(w.hash_key.clone())
            .bind(w.range_key.clone())
            .execute(&mut **tx)
            .await?;
    }
    if let WriteAction::Put(new) = &w.action {
        for entry in &new.index_entries {
            let key = ItemCursor {
                hash_point: entry.hash_point,
                hash_key: entry.hash_key.clone(),
                range_key: entry.range_key.clone(),
                base_hash_key: w.hash_key.clone(),
                base_range_key: w.range_key.clone(),
            };
            insert_entry(tx, &w.table_id, &entry.index_name, &key, &entry.item).await?;
        }
    }
    Ok(true)
}
