//! The Redshift/PostgreSQL destination: one transaction per run.
//!
//! The run's records are copied (`COPY ... FROM STDIN`, CSV) into a
//! temporary staging table shaped like the target, then one statement moves
//! them into the target: merged on the target's primary key when it has
//! one and the flow writes every key column (`INSERT ... ON CONFLICT DO
//! UPDATE`, the last record of a key winning), appended otherwise. A target
//! that does not exist is created from the flow's output schema. Nothing is
//! visible before the commit, so a failed, cancelled or killed run leaves
//! the target as it was.
//!
//! The connection belongs to a loader task: batches reach it encoded, and
//! it keeps one COPY open across them for a segment of up to
//! [`SEGMENT_BYTES`], so the database parses one batch while the next is
//! read and encoded. A segment the database refuses is rolled back to its
//! savepoint and copied again row by row, each row in a savepoint of its
//! own, so the rows it refuses (a value of the wrong type) are reported with
//! the database's error and the others go on; a move the database refuses
//! (a constraint) is redone the same way, record by record.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, Row};
use tokio::sync::{mpsc, oneshot};

use super::db_error;
use super::sql::{create_table, format_options, quote, CsvRows, TableName};
use crate::plane::{DataSink, RefusedRecord, RunScope};
use crate::ConnectorError;

/// The staging table (temporary: one per connection, dropped at commit).
const STAGE: &str = "sluice_stage";
/// The staging table's order column (the last record of a key wins).
const SEQ: &str = "_sluice_seq";
/// COPY data held for a retry at most: a segment ends when it is this big.
pub const SEGMENT_BYTES: usize = 16 * 1024 * 1024;
/// Encoded batches waiting for the loader at most.
const QUEUED_BATCHES: usize = 2;

/// What the sink asks of its loader.
enum Command {
    /// Copy these rows (the batch is kept for a row-by-row retry).
    Rows { data: Vec<u8>, batch: RecordBatch },
    /// End the input: copy what is held, move it into the target, and
    /// answer with the records refused since the last answer.
    Finish(oneshot::Sender<Result<Vec<RefusedRecord>, ConnectorError>>),
    /// Commit the run's transaction.
    Commit(oneshot::Sender<Result<(), ConnectorError>>),
}

/// The SQL of one load, fixed at open.
#[derive(Clone)]
struct LoadPlan {
    table: TableName,
    /// Output field names, in batch order.
    fields: Vec<String>,
    /// The target's column for each output field, quoted, in batch order.
    columns: Vec<String>,
    /// The primary key's columns (quoted), when the flow writes all of them.
    merge_key: Vec<String>,
}

impl LoadPlan {
    fn copy_statement(&self) -> String {
        format!("COPY {STAGE} ({}) FROM STDIN WITH (FORMAT csv)", self.columns.join(", "))
    }

    /// The move from staging into the target: `deduplicate` keeps the last
    /// record of each key (needed when a key comes more than once: one
    /// `ON CONFLICT DO UPDATE` cannot change a row twice); `only_seq` moves
    /// the one record `$1`.
    fn move_statement(&self, deduplicate: bool, only_seq: bool) -> String {
        let columns = self.columns.join(", ");
        let filter = if only_seq { format!(" WHERE {SEQ} = $1") } else { String::new() };
        let target = self.table.quoted();
        if self.merge_key.is_empty() {
            return format!("INSERT INTO {target} ({columns}) SELECT {columns} FROM {STAGE}{filter}");
        }
        let key = self.merge_key.join(", ");
        let updates: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !self.merge_key.contains(c))
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let action =
            if updates.is_empty() { "DO NOTHING".to_string() } else { format!("DO UPDATE SET {}", updates.join(", ")) };
        if deduplicate {
            format!(
                "INSERT INTO {target} ({columns}) SELECT DISTINCT ON ({key}) {columns} FROM {STAGE}{filter} \
                 ORDER BY {key}, {SEQ} DESC ON CONFLICT ({key}) {action}"
            )
        } else {
            format!(
                "INSERT INTO {target} ({columns}) SELECT {columns} FROM {STAGE}{filter} ON CONFLICT ({key}) {action}"
            )
        }
    }
}

/// An open load into one table.
pub struct RedshiftSink {
    commands: Option<mpsc::Sender<Command>>,
    loader: Option<tokio::task::JoinHandle<()>>,
    /// Records the loader refused, not yet handed to the engine.
    refused: std::sync::Arc<std::sync::Mutex<Vec<RefusedRecord>>>,
    /// The loader's failure, once it failed.
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    bytes_written: u64,
    scope: RunScope,
}

impl RedshiftSink {
    /// Connects, opens the run's transaction, creates the target if it is
    /// missing, makes the staging table and starts the loader.
    pub async fn open(
        options: &PgConnectOptions,
        guard: &sluice_net::OutboundGuard,
        object: &str,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Self, ConnectorError> {
        let table = TableName::parse(object).map_err(ConnectorError::Invalid)?;
        let mut connection = scope.unless_cancelled(super::connect(options, guard)).await?;
        execute(&mut connection, "BEGIN").await?;
        let table = match find_table(&mut connection, &table).await? {
            Some(found) => found,
            None => {
                tracing::info!(table = %table, "creating the destination table from the flow's output");
                execute(&mut connection, &create_table(&table, &schema)).await?;
                table
            }
        };
        let target_columns = table_columns(&mut connection, &table).await?;
        let mut columns = Vec::new();
        let mut unmatched = Vec::new();
        for field in schema.fields() {
            let exact = target_columns.iter().find(|c| *c == field.name());
            let folded = || target_columns.iter().find(|c| c.eq_ignore_ascii_case(field.name()));
            match exact.or_else(folded) {
                Some(column) => columns.push(quote(column)),
                None => unmatched.push(field.name().clone()),
            }
        }
        if !unmatched.is_empty() {
            return Err(ConnectorError::Invalid(format!(
                "the table {table} has no column for the field(s) {}; its columns are {}",
                unmatched.join(", "),
                target_columns.join(", ")
            )));
        }
        let key = primary_key(&mut connection, &table).await?;
        let merge_key: Vec<String> = if !key.is_empty() && key.iter().all(|k| columns.contains(&quote(k))) {
            key.iter().map(|k| quote(k)).collect()
        } else {
            Vec::new()
        };
        execute(
            &mut connection,
            &format!(
                "CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                columns.join(", "),
                table.quoted()
            ),
        )
        .await?;
        execute(&mut connection, &format!("ALTER TABLE {STAGE} ADD COLUMN {SEQ} bigserial")).await?;
        tracing::info!(table = %table, merge_key = ?merge_key, "loading through a staging table");
        let plan =
            LoadPlan { table, fields: schema.fields().iter().map(|f| f.name().clone()).collect(), columns, merge_key };
        let (commands, received) = mpsc::channel(QUEUED_BATCHES);
        let refused = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let failed = std::sync::Arc::new(std::sync::Mutex::new(None));
        let loader =
            Loader { connection, plan, refused: refused.clone(), failed: failed.clone(), scope: scope.clone() };
        let loader = tokio::spawn(loader.run(received));
        Ok(Self {
            commands: Some(commands),
            loader: Some(loader),
            refused,
            failed,
            bytes_written: 0,
            scope: scope.clone(),
        })
    }

    fn failure(&self) -> ConnectorError {
        let message = self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
        ConnectorError::Unreachable {
            system: super::SYSTEM,
            message: message.unwrap_or_else(|| "the load's connection ended".to_string()),
        }
    }

    async fn send(&self, command: Command) -> Result<(), ConnectorError> {
        let commands = self.commands.as_ref().ok_or_else(|| ConnectorError::Invalid("the load has ended".into()))?;
        self.scope.unless_cancelled(async { commands.send(command).await.map_err(|_| self.failure()) }).await
    }

    fn take_refused(&self) -> Vec<RefusedRecord> {
        std::mem::take(&mut *self.refused.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait::async_trait]
impl DataSink for RedshiftSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError> {
        if batch.num_rows() > 0 {
            let data = encode(&batch)?;
            self.bytes_written += data.len() as u64;
            self.send(Command::Rows { data, batch }).await?;
        }
        Ok(self.take_refused())
    }

    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Finish(reply)).await?;
        let mut refused = self.scope.unless_cancelled(async { answer.await.map_err(|_| self.failure())? }).await?;
        refused.splice(0..0, self.take_refused());
        Ok(refused)
    }

    async fn commit(mut self: Box<Self>) -> Result<(), ConnectorError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Commit(reply)).await?;
        let committed = answer.await.map_err(|_| self.failure())?;
        self.commands = None;
        if let Some(loader) = self.loader.take() {
            let _ = loader.await;
        }
        committed
    }

    async fn abort(mut self: Box<Self>) {
        // Dropping the loader's channel ends it; its connection closes
        // without a commit, so the database rolls the run back.
        self.commands = None;
        if let Some(loader) = self.loader.take() {
            let _ = loader.await;
        }
    }

    fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}

impl Drop for RedshiftSink {
    fn drop(&mut self) {
        if let Some(loader) = self.loader.take() {
            loader.abort();
        }
    }
}

fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ConnectorError> {
    let options = format_options();
    let rows = CsvRows::new(batch, &options)?;
    let mut data = Vec::with_capacity(batch.num_rows() * 64);
    for row in 0..batch.num_rows() {
        rows.write_row(row, &mut data);
    }
    Ok(data)
}

/// The task that owns the load's connection.
struct Loader {
    connection: PgConnection,
    plan: LoadPlan,
    refused: std::sync::Arc<std::sync::Mutex<Vec<RefusedRecord>>>,
    failed: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    scope: RunScope,
}

/// How a segment ended.
enum Segment {
    /// The input ended (the channel closed): roll back.
    Closed,
    /// Full: more rows may come.
    Full,
    /// A command other than rows came; handle it next.
    Then(Command),
}

impl Loader {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut staged = 0u64;
        let mut pending: Option<Command> = None;
        loop {
            let command = match pending.take() {
                Some(command) => command,
                None => match commands.recv().await {
                    Some(command) => command,
                    None => break,
                },
            };
            match command {
                Command::Rows { data, batch } => match self.segment(data, batch, &mut commands).await {
                    Ok((rows, next)) => {
                        staged += rows;
                        match next {
                            Segment::Closed => break,
                            Segment::Full => {}
                            Segment::Then(command) => pending = Some(command),
                        }
                    }
                    Err(error) => return self.fail(error),
                },
                Command::Finish(reply) => {
                    let moved = if staged == 0 { Ok(Vec::new()) } else { self.move_rows().await };
                    let broken = moved.as_ref().err().map(ToString::to_string);
                    let _ = reply.send(moved);
                    if let Some(message) = broken {
                        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
                        return;
                    }
                }
                Command::Commit(reply) => {
                    let committed = execute(&mut self.connection, "COMMIT").await;
                    let _ = reply.send(committed);
                    let _ = self.connection.close().await;
                    return;
                }
            }
        }
        // The sink went away without a commit: nothing becomes visible.
        let _ = execute(&mut self.connection, "ROLLBACK").await;
        let _ = self.connection.close().await;
    }

    fn fail(self, error: ConnectorError) {
        tracing::warn!(table = %self.plan.table, error = %error, "the load failed");
        *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
    }

    /// Copies `data` and the rows that follow in one COPY until the segment
    /// is full or another command comes; a refused segment is copied again
    /// row by row. Returns the rows staged and how the segment ended.
    async fn segment(
        &mut self,
        data: Vec<u8>,
        batch: RecordBatch,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Result<(u64, Segment), ConnectorError> {
        execute(&mut self.connection, "SAVEPOINT sluice_copy").await?;
        let statement = self.plan.copy_statement();
        let mut batches = vec![batch];
        let mut bytes = data.len();
        let mut next = Segment::Full;
        let copied = {
            let connection = &mut self.connection;
            async {
                let mut copy = connection.copy_in_raw(&statement).await?;
                copy.send(data).await?;
                while bytes < SEGMENT_BYTES {
                    match commands.recv().await {
                        Some(Command::Rows { data, batch }) => {
                            bytes += data.len();
                            copy.send(data).await?;
                            batches.push(batch);
                        }
                        Some(other) => {
                            next = Segment::Then(other);
                            break;
                        }
                        None => {
                            next = Segment::Closed;
                            break;
                        }
                    }
                }
                copy.finish().await
            }
            .await
        };
        let rows: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
        match copied {
            Ok(_) => {
                execute(&mut self.connection, "RELEASE SAVEPOINT sluice_copy").await?;
                Ok((rows, next))
            }
            Err(error @ sqlx::Error::Database(_)) => {
                execute(&mut self.connection, "ROLLBACK TO SAVEPOINT sluice_copy").await?;
                tracing::info!(table = %self.plan.table, error = %db_error(&error), "rows were refused; copying them one by one");
                let staged = self.copy_one_by_one(&batches).await?;
                Ok((staged, next))
            }
            Err(error) => Err(super::connector_error(&error)),
        }
    }

    /// Copies each row of `batches` on its own; the refused ones are kept.
    async fn copy_one_by_one(&mut self, batches: &[RecordBatch]) -> Result<u64, ConnectorError> {
        let statement = self.plan.copy_statement();
        let mut staged = 0;
        for batch in batches {
            let rows: Vec<(Vec<u8>, Vec<String>)> = {
                let options = format_options();
                let rows = CsvRows::new(batch, &options)?;
                (0..batch.num_rows())
                    .map(|row| {
                        let mut data = Vec::with_capacity(128);
                        rows.write_row(row, &mut data);
                        (data, rows.cells(row))
                    })
                    .collect()
            };
            for (data, cells) in rows {
                self.scope.check_cancelled()?;
                execute(&mut self.connection, "SAVEPOINT sluice_row").await?;
                let copied = async {
                    let mut copy = self.connection.copy_in_raw(&statement).await?;
                    copy.send(data).await?;
                    copy.finish().await
                }
                .await;
                match copied {
                    Ok(_) => {
                        execute(&mut self.connection, "RELEASE SAVEPOINT sluice_row").await?;
                        staged += 1;
                    }
                    Err(error @ sqlx::Error::Database(_)) => {
                        execute(&mut self.connection, "ROLLBACK TO SAVEPOINT sluice_row").await?;
                        let cells = self.plan.fields.iter().cloned().zip(cells).collect();
                        self.refused
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(RefusedRecord { cells, error: db_error(&error) });
                    }
                    Err(error) => return Err(super::connector_error(&error)),
                }
            }
        }
        Ok(staged)
    }

    /// Runs one move statement in a savepoint; the database's error when it
    /// refused it (rolled back).
    async fn try_move(&mut self, statement: String) -> Result<Result<u64, sqlx::Error>, ConnectorError> {
        execute(&mut self.connection, "SAVEPOINT sluice_move").await?;
        match sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut self.connection).await {
            Ok(done) => {
                execute(&mut self.connection, "RELEASE SAVEPOINT sluice_move").await?;
                Ok(Ok(done.rows_affected()))
            }
            Err(error @ sqlx::Error::Database(_)) => {
                execute(&mut self.connection, "ROLLBACK TO SAVEPOINT sluice_move").await?;
                Ok(Err(error))
            }
            Err(error) => Err(super::connector_error(&error)),
        }
    }

    /// Moves the staged rows into the target; the records refused there.
    async fn move_rows(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        // Keys usually come once: the plain move first, the deduplicating
        // one when a key came twice.
        let mut moved = self.try_move(self.plan.move_statement(false, false)).await?;
        if let Err(error) = &moved {
            let twice = error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "21000");
            if twice {
                moved = self.try_move(self.plan.move_statement(true, false)).await?;
            }
        }
        match moved {
            Ok(rows) => {
                tracing::info!(table = %self.plan.table, rows, "records moved into the table");
                Ok(std::mem::take(&mut *self.refused.lock().unwrap_or_else(|p| p.into_inner())))
            }
            Err(error) => {
                tracing::info!(table = %self.plan.table, error = %db_error(&error), "the move was refused; moving record by record");
                let mut refused = std::mem::take(&mut *self.refused.lock().unwrap_or_else(|p| p.into_inner()));
                refused.extend(self.move_one_by_one().await?);
                Ok(refused)
            }
        }
    }

    /// Moves the staged records one by one (after the whole move was
    /// refused), returning those the database refuses.
    async fn move_one_by_one(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        let statement = self.plan.move_statement(true, true);
        let cells_query = format!(
            "SELECT {} FROM {STAGE} WHERE {SEQ} = $1",
            self.plan.columns.iter().map(|c| format!("{c}::text")).collect::<Vec<_>>().join(", ")
        );
        let seqs: Vec<i64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {SEQ} FROM {STAGE} ORDER BY {SEQ}")))
                .fetch_all(&mut self.connection)
                .await
                .map_err(|e| super::connector_error(&e))?;
        let mut refused = Vec::new();
        for seq in seqs {
            self.scope.check_cancelled()?;
            execute(&mut self.connection, "SAVEPOINT sluice_row").await?;
            match sqlx::query(sqlx::AssertSqlSafe(statement.clone())).bind(seq).execute(&mut self.connection).await {
                Ok(_) => execute(&mut self.connection, "RELEASE SAVEPOINT sluice_row").await?,
                Err(error) => {
                    execute(&mut self.connection, "ROLLBACK TO SAVEPOINT sluice_row").await?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(cells_query.clone()))
                        .bind(seq)
                        .fetch_one(&mut self.connection)
                        .await
                        .map_err(|e| super::connector_error(&e))?;
                    let cells = (0..self.plan.fields.len())
                        .map(|i| {
                            let value = row.try_get::<Option<String>, _>(i).ok().flatten().unwrap_or_default();
                            (self.plan.fields[i].clone(), value)
                        })
                        .collect();
                    refused.push(RefusedRecord { cells, error: db_error(&error) });
                }
            }
        }
        Ok(refused)
    }
}

async fn execute(connection: &mut PgConnection, statement: &str) -> Result<(), ConnectorError> {
    connection.execute(sqlx::AssertSqlSafe(statement.to_string())).await.map_err(|e| super::connector_error(&e))?;
    Ok(())
}

/// The table as the database spells it: the name as written, else the
/// only one that matches it ignoring case; `None` when there is none.
async fn find_table(connection: &mut PgConnection, table: &TableName) -> Result<Option<TableName>, ConnectorError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE lower(table_schema) = lower($1) AND lower(table_name) = lower($2)",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| super::connector_error(&e))?;
    let named = |(schema, name): &(String, String)| TableName { schema: schema.clone(), table: name.clone() };
    if let Some(exact) = rows.iter().find(|(s, t)| *s == table.schema && *t == table.table) {
        return Ok(Some(named(exact)));
    }
    match rows.as_slice() {
        [only] => Ok(Some(named(only))),
        [] => Ok(None),
        _ => Err(ConnectorError::Invalid(format!("several tables match {table} but for case; name one exactly"))),
    }
}

/// The target's column names, in table order.
async fn table_columns(connection: &mut PgConnection, table: &TableName) -> Result<Vec<String>, ConnectorError> {
    sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| super::connector_error(&e))
}

/// The primary key's columns, in key order (empty without one).
pub(super) async fn primary_key(
    connection: &mut PgConnection,
    table: &TableName,
) -> Result<Vec<String>, ConnectorError> {
    sqlx::query_scalar(
        "SELECT k.column_name::text FROM information_schema.table_constraints c \
         JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name \
           AND k.constraint_schema = c.constraint_schema AND k.table_name = c.table_name \
         WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = $1 AND c.table_name = $2 \
         ORDER BY k.ordinal_position",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| super::connector_error(&e))
}
