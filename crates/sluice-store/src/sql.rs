//! [`MetadataStore`] on SQLite and PostgreSQL through sqlx's `Any` driver.

use std::collections::BTreeMap;
use std::sync::Once;

use serde_json::Value;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::records::*;
use crate::{MetadataStore, StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database a [`SqlStore`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL implementation of [`MetadataStore`].
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// The account whose AppFlow resources this view holds
    /// ([`MetadataStore::for_account`]).
    pub(crate) account: std::sync::Arc<str>,
}

const PROFILE_COLUMNS: &str = "name, arn, connector_type, connector_label, connection_mode, properties, sealed_credentials, created_at_ms, updated_at_ms, auth_error";
const FLOW_COLUMNS: &str = "name, arn, status, definition, created_at_ms, updated_at_ms";
const EXECUTION_COLUMNS: &str = "execution_id, flow_name, status, record, started_at_ms, updated_at_ms";

impl SqlStore {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://...`
    /// and applies pending migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite://") {
            let url = if rest.contains('?') { url.to_string() } else { format!("sqlite://{rest}?mode=rwc") };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let options = AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 8 });
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets readers work while a writer commits; foreign keys off by default in SQLite.
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        MIGRATOR.run(&pool).await?;
        tracing::info!(backend = ?backend, "metadata store ready");
        Ok(Self { pool, backend, account: "".into() })
    }

    /// Fails with `NotFound` unless every named profile exists; on
    /// PostgreSQL the rows stay share-locked until the transaction ends, so
    /// a concurrent delete waits for it.
    async fn ensure_profiles_exist(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        names: &[String],
    ) -> StoreResult<()> {
        for profile in names {
            let exists = sqlx::query(dynamic(format!(
                "SELECT name FROM connector_profiles WHERE name = $1 AND account_id = $2{}",
                self.share_lock()
            )))
            .bind(profile)
            .bind(&*self.account)
            .fetch_optional(&mut **tx)
            .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound { kind: "connector profile", name: profile.clone() });
            }
        }
        Ok(())
    }

    /// A transaction that writes: `BEGIN IMMEDIATE` on SQLite, so it takes
    /// the write lock up front (waiting up to the busy timeout) instead of
    /// failing with "database is locked" when it reads, another connection
    /// writes, and it then tries to write on its stale snapshot.
    pub(crate) async fn write_transaction(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// ` FOR UPDATE SKIP LOCKED` on PostgreSQL (claimers pass each other);
    /// nothing on SQLite, which runs one writer at a time.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        }
    }

    pub(crate) fn share_lock(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        }
    }
}

/// Queues a run (`request`: what it is for).
pub(crate) fn enqueue_query(
    account_id: &str,
    execution_id: &str,
    flow_name: &str,
    now_ms: i64,
    request: Option<&Value>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(
        "INSERT INTO run_queue (execution_id, flow_name, enqueued_at_ms, attempts, lease_owner, \
         lease_expires_at_ms, cancel_requested, request, account_id) VALUES ($1, $2, $3, 0, NULL, NULL, 0, $4, $5)",
    )
    .bind(execution_id.to_string())
    .bind(flow_name.to_string())
    .bind(now_ms)
    .bind(request.map(Value::to_string))
    .bind(account_id.to_string())
}

/// The INSERT of a new execution record.
pub(crate) fn insert_execution_query(
    account_id: &str,
    e: &ExecutionRow,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(dynamic(format!(
        "INSERT INTO flow_executions ({EXECUTION_COLUMNS}, account_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )))
    .bind(e.execution_id.clone())
    .bind(e.flow_name.clone())
    .bind(e.status.clone())
    .bind(e.record.to_string())
    .bind(e.started_at_ms)
    .bind(e.updated_at_ms)
    .bind(account_id.to_string())
}

/// A statement assembled at run time from this file's constants (column
/// lists, a backend's lock clause, a page size) and `$n` placeholders:
/// values always travel as bound parameters, never in the text.
pub(crate) fn dynamic(sql: impl Into<String>) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql.into())
}

pub(crate) fn parse_json(text: &str, what: impl Into<String>) -> StoreResult<Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { what: what.into(), reason: e.to_string() })
}

/// `NotFound` unless an UPDATE of the profile `name` changed a row.
fn one_profile_changed(result: &sqlx::any::AnyQueryResult, name: &str) -> StoreResult<()> {
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound { kind: "connector profile", name: name.to_string() });
    }
    Ok(())
}

fn profile_from_row(row: &AnyRow) -> StoreResult<ProfileRecord> {
    let name: String = row.try_get("name")?;
    let properties: String = row.try_get("properties")?;
    Ok(ProfileRecord {
        properties: parse_json(&properties, format!("properties of profile {name}"))?,
        arn: row.try_get("arn")?,
        connector_type: row.try_get("connector_type")?,
        connector_label: row.try_get("connector_label")?,
        connection_mode: row.try_get("connection_mode")?,
        sealed_credentials: row.try_get("sealed_credentials")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        auth_error: row.try_get("auth_error")?,
        name,
    })
}

fn flow_from_row(row: &AnyRow, profile_names: Vec<String>) -> StoreResult<FlowRecord> {
    let name: String = row.try_get("name")?;
    let definition: String = row.try_get("definition")?;
    Ok(FlowRecord {
        definition: parse_json(&definition, format!("definition of flow {name}"))?,
        arn: row.try_get("arn")?,
        status: row.try_get("status")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        profile_names,
        name,
    })
}

fn execution_from_row(row: &AnyRow) -> StoreResult<ExecutionRow> {
    let execution_id: String = row.try_get("execution_id")?;
    let record: String = row.try_get("record")?;
    Ok(ExecutionRow {
        record: parse_json(&record, format!("execution {execution_id}"))?,
        flow_name: row.try_get("flow_name")?,
        status: row.try_get("status")?,
        started_at_ms: row.try_get("started_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        execution_id,
    })
}

pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Splits fetched rows (`limit + 1` asked) into a page and its next cursor.
pub(crate) fn paginate<T>(mut items: Vec<T>, limit: usize, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor_of)
    } else {
        None
    };
    Page { items, next_cursor }
}

pub(crate) fn fetch_limit(page: &PageRequest) -> i64 {
    page.limit.max(1) as i64 + 1
}

#[async_trait::async_trait]
impl MetadataStore for SqlStore {
    fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn for_account(&self, account_id: &str) -> std::sync::Arc<dyn MetadataStore> {
        std::sync::Arc::new(Self { pool: self.pool.clone(), backend: self.backend, account: account_id.into() })
    }

    fn account_scope(&self) -> &str {
        &self.account
    }

    async fn adopt_unowned(&self, account_id: &str) -> StoreResult<u64> {
        let mut tx = self.write_transaction().await?;
        let mut moved = 0;
        for table in ["connector_profiles", "flows", "flow_profiles", "flow_executions", "run_queue", "flow_triggers"] {
            let result = sqlx::query(dynamic(format!("UPDATE {table} SET account_id = $1 WHERE account_id = ''")))
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
            moved += result.rows_affected();
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn create_profile(&self, p: &ProfileRecord) -> StoreResult<()> {
        let result = sqlx::query(dynamic(format!(
            "INSERT INTO connector_profiles ({PROFILE_COLUMNS}, account_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(&p.name)
        .bind(&p.arn)
        .bind(&p.connector_type)
        .bind(&p.connector_label)
        .bind(&p.connection_mode)
        .bind(p.properties.to_string())
        .bind(&p.sealed_credentials)
        .bind(p.created_at_ms)
        .bind(p.updated_at_ms)
        .bind(&p.auth_error)
        .bind(&*self.account)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists { kind: "connector profile", name: p.name.clone() })
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn get_profile(&self, name: &str) -> StoreResult<Option<ProfileRecord>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {PROFILE_COLUMNS} FROM connector_profiles WHERE name = $1 AND account_id = $2"
        )))
        .bind(name)
        .bind(&*self.account)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(profile_from_row).transpose()
    }

    async fn list_profiles(&self, filter: &ProfileFilter, page: &PageRequest) -> StoreResult<Page<ProfileRecord>> {
        let mut sql = format!("SELECT {PROFILE_COLUMNS} FROM connector_profiles WHERE account_id = $1");
        let mut binds: Vec<String> = vec![self.account.to_string()];
        let placeholder = |binds: &mut Vec<String>, value: &str| {
            binds.push(value.to_string());
            format!("${}", binds.len())
        };
        if let Some(cursor) = &page.cursor {
            let p = placeholder(&mut binds, cursor);
            sql.push_str(&format!(" AND name > {p}"));
        }
        if let Some(connector_type) = &filter.connector_type {
            let p = placeholder(&mut binds, connector_type);
            sql.push_str(&format!(" AND connector_type = {p}"));
        }
        if let Some(label) = &filter.connector_label {
            let p = placeholder(&mut binds, label);
            sql.push_str(&format!(" AND connector_label = {p}"));
        }
        if !filter.names.is_empty() {
            let list: Vec<String> = filter.names.iter().map(|n| placeholder(&mut binds, n)).collect();
            sql.push_str(&format!(" AND name IN ({})", list.join(", ")));
        }
        sql.push_str(&format!(" ORDER BY name LIMIT {}", fetch_limit(page)));
        let mut query = sqlx::query(dynamic(sql));
        for value in &binds {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        let items = rows.iter().map(profile_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |p| p.name.clone()))
    }

    async fn update_profile(&self, p: &ProfileRecord) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE connector_profiles SET arn = $1, connector_type = $2, connector_label = $3, connection_mode = $4, \
             properties = $5, sealed_credentials = $6, created_at_ms = $7, updated_at_ms = $8, auth_error = $9 \
             WHERE name = $10 AND account_id = $11",
        )
        .bind(&p.arn)
        .bind(&p.connector_type)
        .bind(&p.connector_label)
        .bind(&p.connection_mode)
        .bind(p.properties.to_string())
        .bind(&p.sealed_credentials)
        .bind(p.created_at_ms)
        .bind(p.updated_at_ms)
        .bind(&p.auth_error)
        .bind(&p.name)
        .bind(&*self.account)
        .execute(&self.pool)
        .await?;
        one_profile_changed(&result, &p.name)
    }

    async fn save_profile_credentials(&self, name: &str, sealed: &str, now_ms: i64) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE connector_profiles SET sealed_credentials = $1, auth_error = NULL, \
             updated_at_ms = CASE WHEN updated_at_ms < $2 THEN $2 ELSE updated_at_ms + 1 END \
             WHERE name = $3 AND account_id = $4",
        )
        .bind(sealed)
        .bind(now_ms)
        .bind(name)
        .bind(&*self.account)
        .execute(&self.pool)
        .await?;
        one_profile_changed(&result, name)
    }

    async fn set_profile_auth_error(&self, name: &str, auth_error: Option<&str>) -> StoreResult<()> {
        let result = sqlx::query("UPDATE connector_profiles SET auth_error = $1 WHERE name = $2 AND account_id = $3")
            .bind(auth_error)
            .bind(name)
            .bind(&*self.account)
            .execute(&self.pool)
            .await?;
        one_profile_changed(&result, name)
    }

    async fn delete_profile(&self, name: &str, force: bool) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        // Delete first: on PostgreSQL this waits for a concurrent CreateFlow
        // holding the row FOR SHARE, so its reference is visible below.
        let arn: Option<String> = sqlx::query("SELECT arn FROM connector_profiles WHERE name = $1 AND account_id = $2")
            .bind(name)
            .bind(&*self.account)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get("arn"))
            .transpose()?;
        let deleted = sqlx::query("DELETE FROM connector_profiles WHERE name = $1 AND account_id = $2")
            .bind(name)
            .bind(&*self.account)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "connector profile", name: name.to_string() });
        }
        let users: Vec<String> = sqlx::query(
            "SELECT flow_name FROM flow_profiles WHERE profile_name = $1 AND account_id = $2 ORDER BY flow_name",
        )
        .bind(name)
        .bind(&*self.account)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get("flow_name"))
        .collect::<Result<_, _>>()?;
        if !users.is_empty() && !force {
            tx.rollback().await?;
            return Err(StoreError::ProfileInUse { profile: name.to_string(), flows: users });
        }
        if let Some(arn) = arn {
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1").bind(arn).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        self.ensure_profiles_exist(&mut tx, &flow.profile_names).await?;
        let inserted = sqlx::query(dynamic(format!(
            "INSERT INTO flows ({FLOW_COLUMNS}, account_id) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )))
        .bind(&flow.name)
        .bind(&flow.arn)
        .bind(&flow.status)
        .bind(flow.definition.to_string())
        .bind(flow.created_at_ms)
        .bind(flow.updated_at_ms)
        .bind(&*self.account)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists { kind: "flow", name: flow.name.clone() });
            }
            Err(e) => return Err(e.into()),
        }
        insert_flow_profiles(&mut tx, &self.account, flow).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_flow(&self, name: &str) -> StoreResult<Option<FlowRecord>> {
        let Some(row) =
            sqlx::query(dynamic(format!("SELECT {FLOW_COLUMNS} FROM flows WHERE name = $1 AND account_id = $2")))
                .bind(name)
                .bind(&*self.account)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let profiles = flow_profile_names(&self.pool, &self.account, name).await?;
        flow_from_row(&row, profiles).map(Some)
    }

    async fn list_flows(&self, page: &PageRequest) -> StoreResult<Page<FlowRecord>> {
        let limit = fetch_limit(page);
        let rows = match &page.cursor {
            Some(cursor) => {
                sqlx::query(dynamic(format!(
                    "SELECT {FLOW_COLUMNS} FROM flows WHERE name > $1 AND account_id = $2 ORDER BY name LIMIT {limit}"
                )))
                .bind(cursor)
                .bind(&*self.account)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(dynamic(format!(
                    "SELECT {FLOW_COLUMNS} FROM flows WHERE account_id = $1 ORDER BY name LIMIT {limit}"
                )))
                .bind(&*self.account)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.try_get("name")?;
            items.push(flow_from_row(row, flow_profile_names(&self.pool, &self.account, &name).await?)?);
        }
        Ok(paginate(items, page.limit, |f| f.name.clone()))
    }

    async fn update_flow(&self, flow: &FlowRecord) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        self.ensure_profiles_exist(&mut tx, &flow.profile_names).await?;
        let result = sqlx::query(
            "UPDATE flows SET arn = $1, status = $2, definition = $3, created_at_ms = $4, updated_at_ms = $5 \
             WHERE name = $6 AND account_id = $7",
        )
        .bind(&flow.arn)
        .bind(&flow.status)
        .bind(flow.definition.to_string())
        .bind(flow.created_at_ms)
        .bind(flow.updated_at_ms)
        .bind(&flow.name)
        .bind(&*self.account)
        .execute(&mut *tx)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "flow", name: flow.name.clone() });
        }
        sqlx::query("DELETE FROM flow_profiles WHERE flow_name = $1 AND account_id = $2")
            .bind(&flow.name)
            .bind(&*self.account)
            .execute(&mut *tx)
            .await?;
        insert_flow_profiles(&mut tx, &self.account, flow).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_flow(&self, name: &str) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        let arn: Option<String> = sqlx::query("SELECT arn FROM flows WHERE name = $1 AND account_id = $2")
            .bind(name)
            .bind(&*self.account)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| row.try_get("arn"))
            .transpose()?;
        let Some(arn) = arn else {
            return Err(StoreError::NotFound { kind: "flow", name: name.to_string() });
        };
        for table in ["flows", "flow_profiles", "flow_executions", "flow_triggers"] {
            let column = if table == "flows" { "name" } else { "flow_name" };
            sqlx::query(dynamic(format!("DELETE FROM {table} WHERE {column} = $1 AND account_id = $2")))
                .bind(name)
                .bind(&*self.account)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1").bind(arn).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_execution(&self, e: &ExecutionRow) -> StoreResult<()> {
        insert_execution_query(&self.account, e).execute(&self.pool).await?;
        Ok(())
    }

    async fn update_execution(&self, e: &ExecutionRow) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE flow_executions SET status = $1, record = $2, updated_at_ms = $3 \
             WHERE execution_id = $4 AND flow_name = $5 AND account_id = $6",
        )
        .bind(&e.status)
        .bind(e.record.to_string())
        .bind(e.updated_at_ms)
        .bind(&e.execution_id)
        .bind(&e.flow_name)
        .bind(&*self.account)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { kind: "flow execution", name: e.execution_id.clone() });
        }
        Ok(())
    }

    async fn get_execution(&self, flow_name: &str, execution_id: &str) -> StoreResult<Option<ExecutionRow>> {
        let row = sqlx::query(dynamic(format!(
            "SELECT {EXECUTION_COLUMNS} FROM flow_executions WHERE execution_id = $1 AND flow_name = $2 \
             AND account_id = $3"
        )))
        .bind(execution_id)
        .bind(flow_name)
        .bind(&*self.account)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(execution_from_row).transpose()
    }

    async fn list_executions(&self, flow_name: &str, page: &PageRequest) -> StoreResult<Page<ExecutionRow>> {
        let limit = fetch_limit(page);
        let rows = match &page.cursor {
            Some(cursor) => {
                let (started, id) = cursor
                    .split_once(':')
                    .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id)))
                    .ok_or(StoreError::InvalidCursor)?;
                sqlx::query(dynamic(format!(
                    "SELECT {EXECUTION_COLUMNS} FROM flow_executions WHERE flow_name = $1 \
                     AND (started_at_ms < $2 OR (started_at_ms = $3 AND execution_id < $4)) AND account_id = $5 \
                     ORDER BY started_at_ms DESC, execution_id DESC LIMIT {limit}"
                )))
                .bind(flow_name)
                .bind(started)
                .bind(started)
                .bind(id)
                .bind(&*self.account)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(dynamic(format!(
                    "SELECT {EXECUTION_COLUMNS} FROM flow_executions WHERE flow_name = $1 AND account_id = $2 \
                     ORDER BY started_at_ms DESC, execution_id DESC LIMIT {limit}"
                )))
                .bind(flow_name)
                .bind(&*self.account)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let items = rows.iter().map(execution_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok(paginate(items, page.limit, |e| format!("{}:{}", e.started_at_ms, e.execution_id)))
    }

    async fn start_run(&self, e: &ExecutionRow, request: Option<&Value>) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        insert_execution_query(&self.account, e).execute(&mut *tx).await?;
        enqueue_query(&self.account, &e.execution_id, &e.flow_name, e.started_at_ms, request).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn enqueue_run(&self, execution_id: &str, flow_name: &str, now_ms: i64) -> StoreResult<()> {
        enqueue_query(&self.account, execution_id, flow_name, now_ms, None).execute(&self.pool).await?;
        Ok(())
    }

    async fn claim_run(&self, owner: &str, now_ms: i64, lease_ms: i64) -> StoreResult<Option<ClaimedRun>> {
        // One statement: the sub-select and the update happen atomically. On
        // PostgreSQL, SKIP LOCKED lets concurrent claimers pass each other;
        // SQLite runs one writer at a time.
        let skip_locked = self.skip_locked();
        let row = sqlx::query(dynamic(format!(
            "UPDATE run_queue SET lease_owner = $1, lease_expires_at_ms = $2, attempts = attempts + 1 \
             WHERE execution_id = (SELECT execution_id FROM run_queue \
                 WHERE lease_owner IS NULL OR lease_expires_at_ms < $3 \
                 ORDER BY enqueued_at_ms, execution_id LIMIT 1{skip_locked}) \
             RETURNING execution_id, account_id, flow_name, attempts, request"
        )))
        .bind(owner)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(ClaimedRun {
                execution_id: row.try_get("execution_id")?,
                account_id: row.try_get("account_id")?,
                flow_name: row.try_get("flow_name")?,
                attempts: row.try_get("attempts")?,
                request: row
                    .try_get::<Option<String>, _>("request")?
                    .map(|text| parse_json(&text, "queued run request"))
                    .transpose()?,
            })
        })
        .transpose()
    }

    async fn renew_lease(&self, execution_id: &str, owner: &str, now_ms: i64, lease_ms: i64) -> StoreResult<bool> {
        // Still ours while no other worker claimed it, even if it expired
        // meanwhile (a busy or paused worker): a claim changes the owner.
        let result =
            sqlx::query("UPDATE run_queue SET lease_expires_at_ms = $1 WHERE execution_id = $2 AND lease_owner = $3")
                .bind(now_ms + lease_ms)
                .bind(execution_id)
                .bind(owner)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn release_run(&self, execution_id: &str, owner: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE run_queue SET lease_owner = NULL, lease_expires_at_ms = NULL WHERE execution_id = $1 AND lease_owner = $2",
        )
        .bind(execution_id)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn finish_run(&self, execution_id: &str, owner: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM run_queue WHERE execution_id = $1 AND lease_owner = $2")
            .bind(execution_id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn request_cancel(&self, execution_id: &str) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE run_queue SET cancel_requested = 1 WHERE execution_id = $1")
            .bind(execution_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn cancel_requested(&self, execution_id: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT cancel_requested FROM run_queue WHERE execution_id = $1")
            .bind(execution_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get::<i64, _>("cancel_requested")).transpose()?.unwrap_or(0) != 0)
    }

    async fn get_tags(&self, resource_arn: &str) -> StoreResult<BTreeMap<String, String>> {
        let rows = sqlx::query("SELECT tag_key, tag_value FROM resource_tags WHERE resource_arn = $1")
            .bind(resource_arn)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("tag_key")?, row.try_get("tag_value")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    async fn put_tags(&self, resource_arn: &str, tags: &BTreeMap<String, String>) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for (key, value) in tags {
            sqlx::query(
                "INSERT INTO resource_tags (resource_arn, tag_key, tag_value) VALUES ($1, $2, $3) \
                 ON CONFLICT (resource_arn, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
            )
            .bind(resource_arn)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn remove_tags(&self, resource_arn: &str, keys: &[String]) -> StoreResult<()> {
        let mut tx = self.write_transaction().await?;
        for key in keys {
            sqlx::query("DELETE FROM resource_tags WHERE resource_arn = $1 AND tag_key = $2")
                .bind(resource_arn)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_flow_profiles(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: &str,
    flow: &FlowRecord,
) -> StoreResult<()> {
    let mut names = flow.profile_names.clone();
    names.sort();
    names.dedup();
    for profile in names {
        sqlx::query("INSERT INTO flow_profiles (flow_name, profile_name, account_id) VALUES ($1, $2, $3)")
            .bind(&flow.name)
            .bind(profile)
            .bind(account_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn flow_profile_names(pool: &AnyPool, account_id: &str, flow_name: &str) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT profile_name FROM flow_profiles WHERE flow_name = $1 AND account_id = $2 ORDER BY profile_name",
    )
    .bind(flow_name)
    .bind(account_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| row.try_get("profile_name").map_err(Into::into)).collect()
}
