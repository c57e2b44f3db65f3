//! The Salesforce connector: profile parsing, connection check, entity
//! listing and description, and objects as flow sources and destinations.
//!
//! - [`client`]: the REST and Bulk API 2.0 client (token refresh, retries).
//! - [`decode`]: REST pages and Bulk CSV straight into Arrow.
//! - [`source`], [`sink`]: the data plane.
//! - [`streaming`], [`events`]: event-triggered flows (the Streaming API,
//!   and the events as records).

pub mod client;
pub mod decode;
pub mod events;
pub mod sink;
pub mod source;
pub mod streaming;

use std::sync::Arc;

use arrow_schema::SchemaRef;
use serde_json::Value;
use sluice_model::appflow::catalog::{ConnectorSpec, ALL_TRIGGERS};
use sluice_model::appflow::{
    ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType, DestinationFlowConfig, ErrorHandlingConfig,
    SalesforceConnectorProfileCredentials, SalesforceDataTransferApi, SourceFlowConfig, WriteOperationType,
};
use sluice_model::wire::SecretString;
use sluice_model::ValidationProblems;

use self::client::{ClientApp, SalesforceClient, TokenKeeper, Tokens, WriteOperation};
use self::events::{EventObject, SalesforceEvents};
use self::sink::{SalesforceSink, SinkSettings, BULK_JOB_RECORDS};
use self::source::SalesforceSource;
use self::streaming::CometdSubscription;
use crate::events::{EventStart, EventSubscription};
use crate::plane::{DataSink, DataSource, RunScope};
use crate::{Connector, ConnectorError, CredentialsKeeper, Entity, EntityField};

/// A validated Salesforce connector profile.
#[derive(Clone)]
pub struct SalesforceProfile {
    /// The org's URL (`https://example.my.salesforce.com`).
    pub instance_url: String,
    /// OAuth tokens.
    pub access_token: Option<SecretString>,
    /// Refresh token.
    pub refresh_token: Option<SecretString>,
    /// The connected app used for refreshes, when known.
    pub app: Option<ClientApp>,
    /// The credentials as given, to hand back with renewed tokens.
    credentials: SalesforceConnectorProfileCredentials,
    /// Told about refreshed and refused tokens.
    keeper: Option<Arc<dyn CredentialsKeeper>>,
}

impl std::fmt::Debug for SalesforceProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SalesforceProfile")
            .field("instance_url", &self.instance_url)
            .field("app", &self.app.as_ref().map(|a| &a.client_id))
            .field("kept", &self.keeper.is_some())
            .finish_non_exhaustive()
    }
}

impl SalesforceProfile {
    /// A REST client for this profile; refreshed tokens reach the
    /// profile's keeper as Salesforce credentials with the new tokens.
    pub fn client(&self, http: reqwest::Client) -> SalesforceClient {
        let client = SalesforceClient::new(
            http,
            &self.instance_url,
            self.app.clone(),
            Tokens { access_token: self.access_token.clone(), refresh_token: self.refresh_token.clone() },
        );
        match &self.keeper {
            Some(keeper) => client
                .with_token_keeper(Arc::new(ProfileTokens { given: self.credentials.clone(), keeper: keeper.clone() })),
            None => client,
        }
    }
}

/// Hands a client's tokens to a profile's keeper as Salesforce credentials.
struct ProfileTokens {
    given: SalesforceConnectorProfileCredentials,
    keeper: Arc<dyn CredentialsKeeper>,
}

#[async_trait::async_trait]
impl TokenKeeper for ProfileTokens {
    async fn refreshed(&self, tokens: Tokens) {
        let mut renewed = self.given.clone();
        renewed.access_token = tokens.access_token;
        renewed.refresh_token = tokens.refresh_token.map(|t| t.expose().to_string());
        self.keeper.renewed(ConnectorProfileCredentials { salesforce: Some(renewed), ..Default::default() }).await;
    }

    async fn refused(&self, reason: &str) {
        self.keeper.refused(reason).await;
    }
}

/// The Salesforce connector.
#[derive(Debug, Clone)]
pub struct SalesforceConnector {
    http: reqwest::Client,
    app: Option<ClientApp>,
    bulk_job_records: usize,
    guard: sluice_net::OutboundGuard,
}

/// The Salesforce connector's catalog entry.
pub const SPEC: ConnectorSpec = ConnectorSpec {
    connector_type: ConnectorType::Salesforce,
    description: "Salesforce objects, change data capture and platform events",
    can_use_as_source: true,
    can_use_as_destination: true,
    requires_profile: true,
    trigger_types: ALL_TRIGGERS,
    write_operations: &[
        WriteOperationType::Insert,
        WriteOperationType::Upsert,
        WriteOperationType::Update,
        WriteOperationType::Delete,
    ],
    union_member: "Salesforce",
    same_type_destination: false,
    only_from: &[],
};

/// A flow's Salesforce source settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceSourceConfig {
    /// The object read.
    pub object: String,
    /// `includeDeletedRecords` (read with `queryAll`).
    pub include_deleted: bool,
    /// `dataTransferApi`.
    pub api: Option<SalesforceDataTransferApi>,
}

/// A flow's Salesforce destination settings.
#[derive(Debug, Clone)]
pub struct SalesforceDestinationConfig {
    /// How records are written.
    pub settings: SinkSettings,
    /// `errorHandlingConfig`.
    pub error_handling: Option<ErrorHandlingConfig>,
}

/// How long connecting to Salesforce may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one Salesforce call may take.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Default for SalesforceConnector {
    /// A connector without a connected app (profiles cannot refresh tokens).
    fn default() -> Self {
        Self::new(None)
    }
}

impl SalesforceConnector {
    /// A connector whose calls time out instead of hanging, refreshing
    /// tokens with `app` (the server's connected app).
    pub fn new(app: Option<ClientApp>) -> Self {
        Self::guarded(app, sluice_net::OutboundGuard::allowing_private())
    }

    /// Like [`SalesforceConnector::new`], calling only the instance URLs
    /// `guard` allows (their names are judged when the client resolves them,
    /// literal addresses before every client is made).
    pub fn guarded(app: Option<ClientApp>, guard: sluice_net::OutboundGuard) -> Self {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .dns_resolver(guard.resolver())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http, app, bulk_job_records: BULK_JOB_RECORDS, guard }
    }

    /// The client of a profile, once the guard allows its instance URL.
    fn client_of(&self, profile: &SalesforceProfile) -> Result<SalesforceClient, ConnectorError> {
        self.guard.check_url_syntax(&profile.instance_url).map_err(|e| ConnectorError::Invalid(e.to_string()))?;
        Ok(profile.client(self.http.clone()))
    }

    /// Sets how many records one Bulk API 2.0 ingest job takes at most
    /// (default [`BULK_JOB_RECORDS`]).
    pub fn with_bulk_job_records(mut self, records: usize) -> Self {
        self.bulk_job_records = records.max(1);
        self
    }

    /// The profile's client for a run: transient failures retried as the
    /// run's scope says, refreshed tokens handed to the profile's keeper.
    fn run_client(
        &self,
        profile: Option<SalesforceProfile>,
        scope: &RunScope,
    ) -> Result<Arc<SalesforceClient>, ConnectorError> {
        let profile =
            profile.ok_or_else(|| ConnectorError::Invalid("a Salesforce flow needs a connector profile".into()))?;
        Ok(Arc::new(self.client_of(&profile)?.with_retries(scope.retries.clone())))
    }

    /// The HTTP client the connector uses (with its timeouts).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

#[async_trait::async_trait]
impl Connector for SalesforceConnector {
    type Profile = SalesforceProfile;
    type SourceConfig = SalesforceSourceConfig;
    type DestinationConfig = SalesforceDestinationConfig;

    fn spec(&self) -> ConnectorSpec {
        SPEC
    }

    fn parse_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<SalesforceProfile, ValidationProblems> {
        let mut problems = ValidationProblems::new();
        let instance_url = properties.salesforce.as_ref().and_then(|p| p.instance_url.clone()).unwrap_or_default();
        crate::connector::check_http_url(&instance_url, "Salesforce.instanceUrl", &mut problems);
        let credentials = credentials.and_then(|c| c.salesforce.as_ref());
        if credentials.is_none() {
            problems.push("Salesforce credentials are required");
        }
        problems.into_result()?;
        let credentials = credentials.cloned().unwrap_or_default();
        Ok(SalesforceProfile {
            instance_url,
            access_token: credentials.access_token.clone(),
            refresh_token: credentials.refresh_token.clone().map(SecretString::new),
            // AppFlow keeps a custom connected app behind clientCredentialsArn
            // (Secrets Manager, which Sluice does not have); every profile
            // refreshes with the server's connected app.
            app: self.app.clone(),
            credentials,
            keeper: None,
        })
    }

    fn set_keeper(&self, profile: &mut SalesforceProfile, keeper: Arc<dyn CredentialsKeeper>) {
        profile.keeper = Some(keeper);
    }

    async fn check_connection(&self, profile: &SalesforceProfile) -> Result<(), ConnectorError> {
        self.client_of(profile)?.limits().await.map(|_| ())
    }

    async fn list_entities(&self, profile: &SalesforceProfile) -> Result<Vec<Entity>, ConnectorError> {
        let objects = self.client_of(profile)?.list_objects().await?;
        Ok(objects
            .iter()
            .filter(|o| o.get("queryable").and_then(Value::as_bool).unwrap_or(false) || is_platform_event(o))
            .map(|o| Entity { name: text(o, "name"), label: text(o, "label"), has_children: false })
            .collect())
    }

    async fn describe_entity(
        &self,
        profile: &SalesforceProfile,
        entity: &str,
    ) -> Result<Vec<EntityField>, ConnectorError> {
        let describe = self.client_of(profile)?.describe(entity).await?;
        let fields = describe.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(fields.iter().map(field_of).collect())
    }

    fn parse_source(&self, source: &SourceFlowConfig) -> Result<SalesforceSourceConfig, ValidationProblems> {
        let salesforce = source
            .source_connector_properties
            .salesforce
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("sourceConnectorProperties.Salesforce is missing"))?;
        Ok(SalesforceSourceConfig {
            object: salesforce.object.clone(),
            include_deleted: salesforce.include_deleted_records.unwrap_or(false),
            api: salesforce.data_transfer_api,
        })
    }

    async fn open_source(
        &self,
        profile: Option<SalesforceProfile>,
        config: SalesforceSourceConfig,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSource>, ConnectorError> {
        let client = self.run_client(profile, scope)?;
        if let Some(kind) = EventObject::of(&config.object) {
            return Ok(Box::new(SalesforceEvents::open(client, &config.object, kind).await?));
        }
        Ok(Box::new(SalesforceSource::open(client, &config.object, config.include_deleted, config.api, scope).await?))
    }

    async fn subscribe(
        &self,
        profile: Option<SalesforceProfile>,
        config: SalesforceSourceConfig,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, ConnectorError> {
        let kind = EventObject::of(&config.object).ok_or_else(|| {
            ConnectorError::Invalid(format!(
                "{} has no events: an Event trigger needs a platform event (X__e) or a change event (AccountChangeEvent)",
                config.object
            ))
        })?;
        let profile =
            profile.ok_or_else(|| ConnectorError::Invalid("a Salesforce flow needs a connector profile".into()))?;
        let client = Arc::new(self.client_of(&profile)?);
        Ok(Box::new(CometdSubscription::start(client, kind.channel(&config.object), start)))
    }

    fn parse_destination(
        &self,
        destination: &DestinationFlowConfig,
    ) -> Result<SalesforceDestinationConfig, ValidationProblems> {
        let target = destination
            .destination_connector_properties
            .salesforce
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("destinationConnectorProperties.Salesforce is missing"))?;
        let first_id = target.id_field_names.as_ref().and_then(|ids| ids.first().cloned());
        let operation = match target.write_operation_type.unwrap_or(WriteOperationType::Insert) {
            WriteOperationType::Insert => WriteOperation::Insert,
            WriteOperationType::Update => WriteOperation::Update,
            WriteOperationType::Delete => WriteOperation::Delete,
            WriteOperationType::Upsert => WriteOperation::Upsert {
                external_id_field: first_id
                    .clone()
                    .ok_or_else(|| ValidationProblems::single("UPSERT needs idFieldNames"))?,
            },
        };
        // UPDATE and DELETE find records by their Salesforce Id, held in the
        // first of idFieldNames (default `Id`).
        let record_id_field = match operation {
            WriteOperation::Update | WriteOperation::Delete => Some(first_id.unwrap_or_else(|| "Id".into())),
            _ => None,
        };
        Ok(SalesforceDestinationConfig {
            settings: SinkSettings {
                object: target.object.clone(),
                operation,
                record_id_field,
                api: target.data_transfer_api,
                bulk_job_records: self.bulk_job_records,
            },
            error_handling: target.error_handling_config.clone(),
        })
    }

    fn error_handling(&self, config: &SalesforceDestinationConfig) -> Option<ErrorHandlingConfig> {
        config.error_handling.clone()
    }

    async fn open_sink(
        &self,
        profile: Option<SalesforceProfile>,
        config: SalesforceDestinationConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, ConnectorError> {
        let client = self.run_client(profile, scope)?;
        Ok(Box::new(SalesforceSink::new(client, config.settings, schema, scope)))
    }
}

fn is_platform_event(object: &Value) -> bool {
    object.get("name").and_then(Value::as_str).is_some_and(|n| n.ends_with("__e"))
}

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// An entity field from a describe field.
pub fn field_of(field: &Value) -> EntityField {
    EntityField {
        name: text(field, "name"),
        label: text(field, "label"),
        data_type: text(field, "type"),
        nullable: flag(field, "nillable"),
        creatable: flag(field, "createable"),
        updatable: flag(field, "updateable"),
        external_id: flag(field, "externalId"),
        picklist_values: field
            .get("picklistValues")
            .and_then(Value::as_array)
            .map(|values| {
                values.iter().filter_map(|v| v.get("value").and_then(Value::as_str).map(str::to_string)).collect()
            })
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn profile_parsing_collects_problems() {
        let properties: ConnectorProfileProperties =
            serde_json::from_value(json!({"Salesforce": {"instanceUrl": "ftp://x"}})).unwrap();
        let problems = SalesforceConnector::default().parse_profile(&properties, None).unwrap_err();
        assert_eq!(problems.len(), 2);
        let properties: ConnectorProfileProperties =
            serde_json::from_value(json!({"Salesforce": {"instanceUrl": "https://x.my.salesforce.com"}})).unwrap();
        let credentials: ConnectorProfileCredentials =
            serde_json::from_value(json!({"Salesforce": {"accessToken": "a", "refreshToken": "r"}})).unwrap();
        let profile = SalesforceConnector::default().parse_profile(&properties, Some(&credentials)).unwrap();
        assert_eq!(profile.instance_url, "https://x.my.salesforce.com");
        assert_eq!(profile.refresh_token.unwrap().expose(), "r");
    }

    #[test]
    fn describe_fields_map_to_entity_fields() {
        let field = field_of(&json!({
            "name": "Status", "label": "Status", "type": "picklist", "nillable": false,
            "createable": true, "updateable": true, "externalId": false,
            "picklistValues": [{"value": "Open"}, {"value": "Closed"}]
        }));
        assert_eq!(field.picklist_values, ["Open", "Closed"]);
        assert!(!field.nullable && field.creatable);
    }
}
