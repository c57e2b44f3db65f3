//! The Redshift connector (AppFlow's `Redshift` type) as a destination,
//! over the PostgreSQL wire protocol: it loads PostgreSQL and databases
//! that speak its dialect (`COPY ... FROM STDIN`, `INSERT ... ON
//! CONFLICT`).
//!
//! - The profile: `databaseUrl` (`jdbc:redshift://host:5439/db`,
//!   `jdbc:postgresql://host:5432/db` or `postgres://...`; `databaseName`
//!   names the database when the URL does not) and `username` / `password`.
//!   `bucketName` / `roleArn` are kept but not used: records go straight to
//!   the database, not through an intermediate bucket.
//! - [`sink`]: one transaction per run, through a staging table, merged on
//!   the target's primary key.
//! - [`sql`]: names, types of new tables, batches as COPY input.

pub mod sink;
pub mod sql;

use std::str::FromStr;
use std::time::Duration;

use arrow_schema::SchemaRef;
use sluice_model::appflow::catalog::ConnectorSpec;
use sluice_model::appflow::{
    ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType, DestinationFlowConfig, ErrorHandlingConfig,
    WriteOperationType,
};
use sluice_model::wire::SecretString;
use sluice_model::ValidationProblems;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

use self::sink::RedshiftSink;
use self::sql::TableName;
use crate::plane::{DataSink, RunScope};
use crate::{Connector, ConnectorError, Entity, EntityField};

/// The system named in errors.
pub const SYSTEM: &str = "Redshift";

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Redshift connector's catalog entry.
pub const SPEC: ConnectorSpec = ConnectorSpec {
    connector_type: ConnectorType::Redshift,
    description: "Amazon Redshift and PostgreSQL tables (destination; merged on the primary key)",
    can_use_as_source: false,
    can_use_as_destination: true,
    requires_profile: true,
    trigger_types: &[],
    write_operations: &[WriteOperationType::Insert],
    union_member: "Redshift",
    same_type_destination: false,
    only_from: &[],
};

/// A validated Redshift profile.
#[derive(Clone)]
pub struct RedshiftProfile {
    /// Where and as whom to connect (the password inside).
    pub options: PgConnectOptions,
    /// `host:port/database`, for messages.
    pub target: String,
    /// Which database hosts may be reached.
    pub guard: sluice_net::OutboundGuard,
}

impl std::fmt::Debug for RedshiftProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedshiftProfile").field("target", &self.target).finish_non_exhaustive()
    }
}

/// A flow's Redshift destination settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RedshiftDestinationConfig {
    /// The table (`schema.table`).
    pub object: String,
    /// `errorHandlingConfig`.
    pub error_handling: Option<ErrorHandlingConfig>,
}

/// The Redshift connector.
#[derive(Debug, Clone, Default)]
pub struct RedshiftConnector {
    guard: sluice_net::OutboundGuard,
}

impl RedshiftConnector {
    /// A connector connecting only to database hosts `guard` allows.
    pub fn guarded(guard: sluice_net::OutboundGuard) -> Self {
        Self { guard }
    }
}

/// Connection options from a profile's `databaseUrl` and credentials.
pub fn connect_options(
    database_url: &str,
    database_name: Option<&str>,
    username: &str,
    password: &SecretString,
) -> Result<(PgConnectOptions, String), String> {
    let url = database_url.trim();
    let url = url.strip_prefix("jdbc:").unwrap_or(url);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("Redshift.databaseUrl '{database_url}' is not a database URL (jdbc:redshift://host:5439/database)")
    })?;
    let default_port = match scheme {
        "redshift" => 5439,
        "postgresql" | "postgres" => 5432,
        other => {
            return Err(format!("Redshift.databaseUrl: unknown scheme '{other}' (use jdbc:redshift:// or postgres://)"))
        }
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return Err("Redshift.databaseUrl must name a host (and no user: the credentials carry it)".into());
    }
    let mut options = PgConnectOptions::from_str(&format!("postgres://{rest}"))
        .map_err(|e| format!("Redshift.databaseUrl '{database_url}' does not parse: {e}"))?;
    // `host`, `host:port`, `[::1]`, `[::1]:port`.
    let has_port = authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok());
    if !has_port {
        options = options.port(default_port);
    }
    if options.get_database().is_none() {
        match database_name.filter(|d| !d.is_empty()) {
            Some(database) => options = options.database(database),
            None => return Err("Redshift.databaseUrl names no database (and databaseName is not set)".into()),
        }
    }
    // Datetimes without a zone are read as UTC, whatever the server's default.
    options = options
        .username(username)
        .password(password.expose())
        .application_name("sluice")
        .options([("TimeZone", "UTC")]);
    let target =
        format!("{}:{}/{}", options.get_host(), options.get_port(), options.get_database().unwrap_or_default());
    Ok((options, target))
}

/// Opens a connection, within [`CONNECT_TIMEOUT`], once `guard` allows
/// every address the host resolves to.
pub(crate) async fn connect(
    options: &PgConnectOptions,
    guard: &sluice_net::OutboundGuard,
) -> Result<PgConnection, ConnectorError> {
    let host = options.get_host();
    if !host.starts_with('/') {
        guard.resolve(host, options.get_port()).await.map_err(|e| match e {
            sluice_net::GuardError::Unresolvable { .. } => {
                ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() }
            }
            other => ConnectorError::Invalid(other.to_string()),
        })?;
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(connector_error(&error)),
        Err(_) => Err(ConnectorError::Unreachable {
            system: SYSTEM,
            message: format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        }),
    }
}

/// The database's message, with the column it names (never the password).
pub(crate) fn db_error(error: &sqlx::Error) -> String {
    let Some(db) = error.as_database_error().and_then(|e| e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>())
    else {
        return error.to_string();
    };
    let mut message = db.message().to_string();
    let column = db.column().map(str::to_string).or_else(|| {
        // COPY names the column in its context: `COPY t, line 1, column amount: "x"`.
        let context = db.r#where()?;
        let after = context.split(", column ").nth(1)?;
        Some(after.split(':').next()?.to_string())
    });
    if let Some(column) = column {
        message.push_str(&format!(" (column {column})"));
    }
    if let Some(detail) = db.detail() {
        message.push_str(&format!(": {detail}"));
    }
    message
}

/// A connector error for a database error: refused credentials,
/// unreachable servers and transient conditions apart from the user's
/// mistakes.
pub(crate) fn connector_error(error: &sqlx::Error) -> ConnectorError {
    match error {
        sqlx::Error::Io(e) => ConnectorError::Unreachable { system: SYSTEM, message: e.to_string() },
        sqlx::Error::Tls(e) => ConnectorError::Unreachable { system: SYSTEM, message: format!("TLS: {e}") },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            ConnectorError::Unreachable { system: SYSTEM, message: error.to_string() }
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            let message = db_error(error);
            match &code[..code.len().min(2)] {
                "28" => ConnectorError::Authentication(message),
                "08" => ConnectorError::Unreachable { system: SYSTEM, message },
                // Serialization failures, deadlocks, resources, shutdowns: a retry may do.
                "40" | "53" | "57" => ConnectorError::Remote { system: SYSTEM, code, message, status: 503 },
                _ => ConnectorError::Remote { system: SYSTEM, code, message, status: 400 },
            }
        }
        other => ConnectorError::Protocol { system: SYSTEM, message: other.to_string() },
    }
}

#[async_trait::async_trait]
impl Connector for RedshiftConnector {
    type Profile = RedshiftProfile;
    type SourceConfig = ();
    type DestinationConfig = RedshiftDestinationConfig;

    fn spec(&self) -> ConnectorSpec {
        SPEC
    }

    fn parse_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<RedshiftProfile, ValidationProblems> {
        let mut problems = ValidationProblems::new();
        let properties = properties.redshift.as_ref();
        let url = properties.and_then(|p| p.database_url.clone()).unwrap_or_default();
        if url.is_empty() {
            problems.push("Redshift.databaseUrl is required");
        }
        let credentials = credentials.and_then(|c| c.redshift.as_ref());
        let (Some(username), Some(password)) =
            (credentials.and_then(|c| c.username.clone()), credentials.and_then(|c| c.password.clone()))
        else {
            problems.push("Redshift credentials need a username and a password");
            return Err(problems);
        };
        problems.into_result()?;
        let database = properties.and_then(|p| p.database_name.as_deref());
        let (options, target) =
            connect_options(&url, database, &username, &password).map_err(ValidationProblems::single)?;
        Ok(RedshiftProfile { options, target, guard: self.guard })
    }

    async fn check_connection(&self, profile: &RedshiftProfile) -> Result<(), ConnectorError> {
        let mut connection = connect(&profile.options, &profile.guard).await?;
        sqlx::query("SELECT 1").execute(&mut connection).await.map_err(|e| connector_error(&e))?;
        let _ = connection.close().await;
        Ok(())
    }

    async fn list_entities(&self, profile: &RedshiftProfile) -> Result<Vec<Entity>, ConnectorError> {
        let mut connection = connect(&profile.options, &profile.guard).await?;
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables \
             WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') \
             AND table_schema NOT LIKE 'pg\\_%' ORDER BY 1, 2",
        )
        .fetch_all(&mut connection)
        .await
        .map_err(|e| connector_error(&e))?;
        let _ = connection.close().await;
        Ok(tables
            .into_iter()
            .map(|(schema, table)| {
                let name = format!("{schema}.{table}");
                Entity { label: name.clone(), name, has_children: false }
            })
            .collect())
    }

    async fn describe_entity(
        &self,
        profile: &RedshiftProfile,
        entity: &str,
    ) -> Result<Vec<EntityField>, ConnectorError> {
        let table = TableName::parse(entity).map_err(ConnectorError::Invalid)?;
        let mut connection = connect(&profile.options, &profile.guard).await?;
        let columns: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text, is_nullable::text, column_default::text \
             FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(&table.schema)
        .bind(&table.table)
        .fetch_all(&mut connection)
        .await
        .map_err(|e| connector_error(&e))?;
        if columns.is_empty() {
            return Err(ConnectorError::Invalid(format!("there is no table {table}")));
        }
        let key = sink::primary_key(&mut connection, &table).await?;
        let _ = connection.close().await;
        Ok(columns
            .into_iter()
            .map(|(name, data_type, nullable, _default)| EntityField {
                label: name.clone(),
                external_id: key.contains(&name),
                name,
                data_type,
                nullable: nullable == "YES",
                creatable: true,
                updatable: true,
                picklist_values: Vec::new(),
            })
            .collect())
    }

    fn parse_destination(
        &self,
        destination: &DestinationFlowConfig,
    ) -> Result<RedshiftDestinationConfig, ValidationProblems> {
        let redshift = destination
            .destination_connector_properties
            .redshift
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("destinationConnectorProperties.Redshift is missing"))?;
        TableName::parse(&redshift.object)
            .map_err(|e| ValidationProblems::single(format!("destinationConnectorProperties.Redshift.object: {e}")))?;
        Ok(RedshiftDestinationConfig {
            object: redshift.object.clone(),
            error_handling: redshift.error_handling_config.clone(),
        })
    }

    fn error_handling(&self, config: &RedshiftDestinationConfig) -> Option<ErrorHandlingConfig> {
        config.error_handling.clone()
    }

    async fn open_sink(
        &self,
        profile: Option<RedshiftProfile>,
        config: RedshiftDestinationConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, ConnectorError> {
        let profile =
            profile.ok_or_else(|| ConnectorError::Invalid("a Redshift flow needs a connector profile".into()))?;
        Ok(Box::new(RedshiftSink::open(&profile.options, &profile.guard, &config.object, schema, scope).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str, database: Option<&str>) -> Result<String, String> {
        connect_options(url, database, "loader", &SecretString::new("pw".to_string())).map(|(_, target)| target)
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            options("jdbc:redshift://example.abc.us-east-1.redshift.amazonaws.com:5439/dev", None).unwrap(),
            "example.abc.us-east-1.redshift.amazonaws.com:5439/dev"
        );
        assert_eq!(options("jdbc:redshift://warehouse/dev", None).unwrap(), "warehouse:5439/dev");
        assert_eq!(options("jdbc:postgresql://127.0.0.1/analytics", None).unwrap(), "127.0.0.1:5432/analytics");
        assert_eq!(options("postgres://127.0.0.1:6543", Some("crm")).unwrap(), "127.0.0.1:6543/crm");
        assert!(options("postgres://127.0.0.1:6543", None).unwrap_err().contains("names no database"));
        assert!(options("mysql://db/x", None).unwrap_err().contains("unknown scheme"));
        assert!(options("postgres://user:pw@db/x", None).unwrap_err().contains("no user"));
        assert!(options("warehouse", None).is_err());
    }
}
