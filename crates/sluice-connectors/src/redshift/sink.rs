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
//! A batch the database refuses is copied again row by row, each row in its
//! own savepoint, so the rows it refuses (a value of the wrong type, a null
//! in a NOT NULL column) are reported with the database's error and the
//! others go on; a move the database refuses (a constraint) is redone the
//! same way, record by record.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor, Row};

use super::db_error;
use super::sql::{create_table, format_options, quote, CsvRows, TableName};
use crate::plane::{DataSink, RefusedRecord, RunScope};
use crate::ConnectorError;

/// The staging table (temporary: one per connection, dropped at commit).
const STAGE: &str = "sluice_stage";
/// The staging table's order column (the last record of a key wins).
const SEQ: &str = "_sluice_seq";

/// A target's column, as the database has it.
#[derive(Debug, Clone)]
struct TargetColumn {
    name: String,
}

/// An open load into one table.
pub struct RedshiftSink {
    connection: Option<PgConnection>,
    table: TableName,
    /// Output field names, in batch order.
    fields: Vec<String>,
    /// The target's column for each output field, quoted, in batch order.
    columns: Vec<String>,
    /// The primary key's columns (quoted), when the flow writes all of them.
    merge_key: Vec<String>,
    bytes_written: u64,
    rows_staged: u64,
    scope: RunScope,
}

impl RedshiftSink {
    /// Connects, opens the run's transaction, creates the target if it is
    /// missing, and makes the staging table.
    pub async fn open(
        options: &PgConnectOptions,
        object: &str,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Self, ConnectorError> {
        let table = TableName::parse(object).map_err(ConnectorError::Invalid)?;
        let mut connection = scope.unless_cancelled(super::connect(options)).await?;
        execute(&mut connection, "BEGIN").await?;
        let mut target = find_table(&mut connection, &table).await?;
        if target.is_none() {
            let statement = create_table(&table, &schema);
            tracing::info!(table = %table, "creating the destination table from the flow's output");
            execute(&mut connection, &statement).await?;
            target = Some(table.clone());
        }
        let table = target.unwrap_or(table);
        let target_columns = table_columns(&mut connection, &table).await?;
        let mut columns = Vec::new();
        let mut unmatched = Vec::new();
        for field in schema.fields() {
            let exact = target_columns.iter().find(|c| c.name == *field.name());
            let folded = || target_columns.iter().find(|c| c.name.eq_ignore_ascii_case(field.name()));
            match exact.or_else(folded) {
                Some(column) => columns.push(quote(&column.name)),
                None => unmatched.push(field.name().clone()),
            }
        }
        if !unmatched.is_empty() {
            let names: Vec<&str> = target_columns.iter().map(|c| c.name.as_str()).collect();
            return Err(ConnectorError::Invalid(format!(
                "the table {table} has no column for the field(s) {}; its columns are {}",
                unmatched.join(", "),
                names.join(", ")
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
        Ok(Self {
            connection: Some(connection),
            table,
            fields: schema.fields().iter().map(|f| f.name().clone()).collect(),
            columns,
            merge_key,
            bytes_written: 0,
            rows_staged: 0,
            scope: scope.clone(),
        })
    }

    fn connection(&mut self) -> Result<&mut PgConnection, ConnectorError> {
        self.connection.as_mut().ok_or_else(|| ConnectorError::Invalid("the load has ended".into()))
    }

    fn copy_statement(&self) -> String {
        format!("COPY {STAGE} ({}) FROM STDIN WITH (FORMAT csv)", self.columns.join(", "))
    }

    /// Copies `data` (CSV rows) into the staging table in a savepoint;
    /// `Some(message)` when the database refused them (rolled back).
    async fn copy(&mut self, data: Vec<u8>) -> Result<Option<String>, ConnectorError> {
        let statement = self.copy_statement();
        let connection = self.connection()?;
        execute(connection, "SAVEPOINT sluice_copy").await?;
        let copied = async {
            let mut copy = connection.copy_in_raw(&statement).await?;
            copy.send(data).await?;
            copy.finish().await
        }
        .await;
        match copied {
            Ok(_) => {
                execute(connection, "RELEASE SAVEPOINT sluice_copy").await?;
                Ok(None)
            }
            Err(error @ sqlx::Error::Database(_)) => {
                execute(connection, "ROLLBACK TO SAVEPOINT sluice_copy").await?;
                Ok(Some(db_error(&error)))
            }
            Err(error) => Err(remote(&error)),
        }
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

    /// Runs one move statement in a savepoint; the database's error when it
    /// refused it (rolled back).
    async fn try_move(&mut self, statement: String) -> Result<Result<u64, sqlx::Error>, ConnectorError> {
        let connection = self.connection()?;
        execute(connection, "SAVEPOINT sluice_move").await?;
        match sqlx::query(sqlx::AssertSqlSafe(statement)).execute(&mut *connection).await {
            Ok(done) => {
                execute(connection, "RELEASE SAVEPOINT sluice_move").await?;
                Ok(Ok(done.rows_affected()))
            }
            Err(error @ sqlx::Error::Database(_)) => {
                execute(connection, "ROLLBACK TO SAVEPOINT sluice_move").await?;
                Ok(Err(error))
            }
            Err(error) => Err(remote(&error)),
        }
    }

    /// Moves the staged records one by one (after the whole move was
    /// refused), returning those the database refuses.
    async fn move_one_by_one(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        let statement = self.move_statement(true, true);
        let cells_query = format!(
            "SELECT {} FROM {STAGE} WHERE {SEQ} = $1",
            self.columns.iter().map(|c| format!("{c}::text")).collect::<Vec<_>>().join(", ")
        );
        let fields = self.fields.clone();
        let scope = self.scope.clone();
        let connection = self.connection()?;
        let seqs: Vec<i64> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {SEQ} FROM {STAGE} ORDER BY {SEQ}")))
                .fetch_all(&mut *connection)
                .await
                .map_err(|e| remote(&e))?;
        let mut refused = Vec::new();
        for seq in seqs {
            scope.check_cancelled()?;
            execute(connection, "SAVEPOINT sluice_row").await?;
            match sqlx::query(sqlx::AssertSqlSafe(statement.clone())).bind(seq).execute(&mut *connection).await {
                Ok(_) => execute(connection, "RELEASE SAVEPOINT sluice_row").await?,
                Err(error) => {
                    execute(connection, "ROLLBACK TO SAVEPOINT sluice_row").await?;
                    let row = sqlx::query(sqlx::AssertSqlSafe(cells_query.clone()))
                        .bind(seq)
                        .fetch_one(&mut *connection)
                        .await
                        .map_err(|e| remote(&e))?;
                    let cells = (0..fields.len())
                        .map(|i| {
                            (fields[i].clone(), row.try_get::<Option<String>, _>(i).ok().flatten().unwrap_or_default())
                        })
                        .collect();
                    refused.push(RefusedRecord { cells, error: db_error(&error) });
                }
            }
        }
        Ok(refused)
    }
}

#[async_trait::async_trait]
impl DataSink for RedshiftSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError> {
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        let data = {
            let options = format_options();
            let rows = CsvRows::new(&batch, &options)?;
            let mut data = Vec::with_capacity(batch.num_rows() * 64);
            for row in 0..batch.num_rows() {
                rows.write_row(row, &mut data);
            }
            data
        };
        let size = data.len() as u64;
        match self.copy(data).await? {
            None => {
                self.bytes_written += size;
                self.rows_staged += batch.num_rows() as u64;
                return Ok(Vec::new());
            }
            Some(message) => {
                tracing::info!(table = %self.table, error = %message, "a batch was refused; copying it row by row");
            }
        }
        // Each row on its own, with its cells for the error file.
        let rows: Vec<(Vec<u8>, Vec<String>)> = {
            let options = format_options();
            let rows = CsvRows::new(&batch, &options)?;
            (0..batch.num_rows())
                .map(|row| {
                    let mut data = Vec::with_capacity(128);
                    rows.write_row(row, &mut data);
                    (data, rows.cells(row))
                })
                .collect()
        };
        let mut refused = Vec::new();
        for (data, cells) in rows {
            self.scope.check_cancelled()?;
            let size = data.len() as u64;
            match self.copy(data).await? {
                None => {
                    self.bytes_written += size;
                    self.rows_staged += 1;
                }
                Some(error) => {
                    let cells = self.fields.iter().cloned().zip(cells).collect();
                    refused.push(RefusedRecord { cells, error });
                }
            }
        }
        Ok(refused)
    }

    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        if self.rows_staged == 0 {
            return Ok(Vec::new());
        }
        let table = self.table.clone();
        // Keys usually come once: the plain move first, the deduplicating
        // one when a key came twice.
        let mut moved = self.try_move(self.move_statement(false, false)).await?;
        if let Err(error) = &moved {
            let twice = error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "21000");
            if twice {
                moved = self.try_move(self.move_statement(true, false)).await?;
            }
        }
        match moved {
            Ok(rows) => {
                tracing::info!(table = %table, rows, "records moved into the table");
                Ok(Vec::new())
            }
            Err(error) => {
                tracing::info!(table = %table, error = %db_error(&error), "the move was refused; moving record by record");
                self.move_one_by_one().await
            }
        }
    }

    async fn commit(mut self: Box<Self>) -> Result<(), ConnectorError> {
        let mut connection =
            self.connection.take().ok_or_else(|| ConnectorError::Invalid("the load has ended".into()))?;
        execute(&mut connection, "COMMIT").await?;
        let _ = connection.close().await;
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(mut connection) = self.connection.take() {
            let _ = execute(&mut connection, "ROLLBACK").await;
            let _ = connection.close().await;
        }
    }

    fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}

fn remote(error: &sqlx::Error) -> ConnectorError {
    super::connector_error(error)
}

async fn execute(connection: &mut PgConnection, statement: &str) -> Result<(), ConnectorError> {
    connection.execute(sqlx::AssertSqlSafe(statement.to_string())).await.map_err(|e| remote(&e))?;
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
    .map_err(|e| remote(&e))?;
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

async fn table_columns(connection: &mut PgConnection, table: &TableName) -> Result<Vec<TargetColumn>, ConnectorError> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| remote(&e))?;
    Ok(names.into_iter().map(|name| TargetColumn { name }).collect())
}

/// The primary key's columns, in key order (empty without one).
pub(super) async fn primary_key(
    connection: &mut PgConnection,
    table: &TableName,
) -> Result<Vec<String>, ConnectorError> {
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "SELECT k.column_name::text, k.ordinal_position::int FROM information_schema.table_constraints c \
         JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name \
           AND k.constraint_schema = c.constraint_schema AND k.table_name = c.table_name \
         WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = $1 AND c.table_name = $2 \
         ORDER BY k.ordinal_position",
    )
    .bind(&table.schema)
    .bind(&table.table)
    .fetch_all(&mut *connection)
    .await
    .map_err(|e| remote(&e))?;
    let mut seen = HashMap::new();
    Ok(rows.into_iter().filter(|(name, _)| seen.insert(name.clone(), ()).is_none()).map(|(name, _)| name).collect())
}
