//! The Marketo connector: a profile's client credentials are tried against
//! the instance when it is created (an identity token and a describe of
//! leads), ListConnectorEntities / DescribeConnectorEntity answer from the
//! instance, flows read leads and activities and write leads.
//!
//! - [`client`]: identity tokens, Marketo's error envelope and limits.
//! - [`source`]: leads by bulk export, activities by paging tokens.
//! - [`sink`]: leads by Sync Leads.

pub mod client;
pub mod sink;
pub mod source;

use std::sync::Arc;

use arrow_schema::SchemaRef;
use sluice_model::appflow::catalog::BATCH_TRIGGERS;
use sluice_model::appflow::{DestinationFlowConfig, ErrorHandlingConfig, SourceFlowConfig, WriteOperationType};

use self::sink::MarketoSink;
use self::source::{MarketoActivities, MarketoLeads};
use crate::plane::{DataSink, DataSource, RunScope};

use serde_json::Value;
use sluice_model::appflow::catalog::ConnectorSpec;
use sluice_model::appflow::{ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType};
use sluice_model::wire::SecretString;
use sluice_model::ValidationProblems;

use self::client::{MarketoClient, CALL_TIMEOUT, CONNECT_TIMEOUT};
use crate::{Connector, ConnectorError, Entity, EntityField};

/// The Marketo connector's catalog entry.
pub const SPEC: ConnectorSpec = ConnectorSpec {
    connector_type: ConnectorType::Marketo,
    description: "Marketo leads and activities (leads as a destination, synced by email)",
    can_use_as_source: true,
    can_use_as_destination: true,
    requires_profile: true,
    trigger_types: BATCH_TRIGGERS,
    write_operations: &[WriteOperationType::Upsert],
    union_member: "Marketo",
    same_type_destination: false,
    only_from: &[],
};

/// A validated Marketo profile.
#[derive(Clone)]
pub struct MarketoProfile {
    /// The REST endpoint, e.g. `https://123-ABC-456.mktorest.com`.
    pub instance_url: String,
    /// The LaunchPoint service's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: SecretString,
}

impl std::fmt::Debug for MarketoProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketoProfile")
            .field("instance_url", &self.instance_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The Marketo connector.
#[derive(Debug, Clone)]
pub struct MarketoConnector {
    http: reqwest::Client,
    guard: sluice_net::OutboundGuard,
}

impl Default for MarketoConnector {
    /// A connector that calls any instance URL (tests; the server's
    /// registry uses [`MarketoConnector::guarded`]).
    fn default() -> Self {
        Self::guarded(sluice_net::OutboundGuard::allowing_private())
    }
}

impl MarketoConnector {
    /// A connector calling only the instance URLs `guard` allows.
    pub fn guarded(guard: sluice_net::OutboundGuard) -> Self {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .dns_resolver(guard.resolver())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self { http, guard }
    }
}

/// The objects a Marketo flow can use.
pub const ENTITIES: &[(&str, &str)] = &[("leads", "Leads"), ("activities", "Activities")];

/// The fields of an activity (Get Lead Activities), with Marketo's type names.
const ACTIVITY_FIELDS: &[(&str, &str, &str)] = &[
    ("id", "Id", "integer"),
    ("marketoGUID", "Marketo GUID", "string"),
    ("leadId", "Lead Id", "integer"),
    ("activityDate", "Activity Date", "datetime"),
    ("activityTypeId", "Activity Type Id", "integer"),
    ("campaignId", "Campaign Id", "integer"),
    ("primaryAttributeValueId", "Primary Attribute Value Id", "integer"),
    ("primaryAttributeValue", "Primary Attribute Value", "string"),
    ("attributes", "Attributes", "string"),
];

impl MarketoConnector {
    fn client(&self, profile: &MarketoProfile) -> Result<MarketoClient, ConnectorError> {
        self.guard.check_url_syntax(&profile.instance_url).map_err(|e| ConnectorError::Invalid(e.to_string()))?;
        Ok(MarketoClient::new(
            self.http.clone(),
            &profile.instance_url,
            &profile.client_id,
            profile.client_secret.clone(),
        ))
    }

    fn run_client(&self, profile: Option<MarketoProfile>) -> Result<Arc<MarketoClient>, ConnectorError> {
        let profile =
            profile.ok_or_else(|| ConnectorError::Invalid("a Marketo flow needs a connector profile".into()))?;
        Ok(Arc::new(self.client(&profile)?))
    }
}

/// A flow's Marketo source settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketoSourceConfig {
    /// `leads` or `activities`.
    pub object: String,
}

/// A flow's Marketo destination settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketoDestinationConfig {
    /// `leads`.
    pub object: String,
    /// `errorHandlingConfig`.
    pub error_handling: Option<ErrorHandlingConfig>,
}

fn known_object(object: &str, path: &str, allowed: &[&str]) -> Result<(), ValidationProblems> {
    if allowed.contains(&object) {
        Ok(())
    } else {
        Err(ValidationProblems::single(format!(
            "{path}: Marketo has no object '{object}' here; use {}",
            allowed.join(" or ")
        )))
    }
}

fn text(item: &Value, pointer: &str) -> String {
    item.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string()
}

#[async_trait::async_trait]
impl Connector for MarketoConnector {
    type Profile = MarketoProfile;
    type SourceConfig = MarketoSourceConfig;
    type DestinationConfig = MarketoDestinationConfig;

    fn spec(&self) -> ConnectorSpec {
        SPEC
    }

    fn parse_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<MarketoProfile, ValidationProblems> {
        let mut problems = ValidationProblems::new();
        let instance_url = properties.marketo.as_ref().map(|p| p.instance_url.clone()).unwrap_or_default();
        crate::connector::check_http_url(&instance_url, "Marketo.instanceUrl", &mut problems);
        let Some(credentials) = credentials.and_then(|c| c.marketo.clone()) else {
            problems.push("Marketo credentials are required");
            return Err(problems);
        };
        problems.into_result()?;
        Ok(MarketoProfile { instance_url, client_id: credentials.client_id, client_secret: credentials.client_secret })
    }

    /// An identity token from the client credentials, then one REST call.
    async fn check_connection(&self, profile: &MarketoProfile) -> Result<(), ConnectorError> {
        let client = self.client(profile)?;
        client.authenticate().await?;
        client.get("/rest/v1/leads/describe.json", &[]).await.map(|_| ())
    }

    async fn list_entities(&self, profile: &MarketoProfile) -> Result<Vec<Entity>, ConnectorError> {
        self.client(profile)?.authenticate().await?;
        Ok(ENTITIES
            .iter()
            .map(|(name, label)| Entity { name: name.to_string(), label: label.to_string(), has_children: false })
            .collect())
    }

    async fn describe_entity(
        &self,
        profile: &MarketoProfile,
        entity: &str,
    ) -> Result<Vec<EntityField>, ConnectorError> {
        match entity {
            "leads" => {
                let body = self.client(profile)?.get("/rest/v1/leads/describe.json", &[]).await?;
                let fields = body.get("result").and_then(Value::as_array).cloned().unwrap_or_default();
                Ok(fields
                    .iter()
                    .filter(|f| !text(f, "/rest/name").is_empty())
                    .map(|f| {
                        let read_only = f.pointer("/rest/readOnly").and_then(Value::as_bool).unwrap_or(false);
                        let name = text(f, "/rest/name");
                        EntityField {
                            label: text(f, "/displayName"),
                            data_type: text(f, "/dataType"),
                            nullable: name != "id",
                            creatable: !read_only,
                            updatable: !read_only,
                            external_id: name == "id" || name == "email",
                            picklist_values: Vec::new(),
                            name,
                        }
                    })
                    .collect())
            }
            "activities" => {
                self.client(profile)?.authenticate().await?;
                Ok(ACTIVITY_FIELDS
                    .iter()
                    .map(|(name, label, data_type)| EntityField {
                        name: name.to_string(),
                        label: label.to_string(),
                        data_type: data_type.to_string(),
                        nullable: *name != "id",
                        creatable: false,
                        updatable: false,
                        external_id: *name == "id",
                        picklist_values: Vec::new(),
                    })
                    .collect())
            }
            other => Err(ConnectorError::Invalid(format!(
                "Marketo has no object '{other}'; the objects are {}",
                ENTITIES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn parse_source(&self, source: &SourceFlowConfig) -> Result<MarketoSourceConfig, ValidationProblems> {
        let marketo = source
            .source_connector_properties
            .marketo
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("sourceConnectorProperties.Marketo is missing"))?;
        known_object(&marketo.object, "sourceConnectorProperties.Marketo.object", &["leads", "activities"])?;
        Ok(MarketoSourceConfig { object: marketo.object.clone() })
    }

    async fn open_source(
        &self,
        profile: Option<MarketoProfile>,
        config: MarketoSourceConfig,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSource>, ConnectorError> {
        let client = self.run_client(profile)?;
        match config.object.as_str() {
            "activities" => Ok(Box::new(MarketoActivities::open(client, scope))),
            _ => Ok(Box::new(MarketoLeads::open(client, scope).await?)),
        }
    }

    fn parse_destination(
        &self,
        destination: &DestinationFlowConfig,
    ) -> Result<MarketoDestinationConfig, ValidationProblems> {
        let marketo = destination
            .destination_connector_properties
            .marketo
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("destinationConnectorProperties.Marketo is missing"))?;
        known_object(&marketo.object, "destinationConnectorProperties.Marketo.object", &["leads"])?;
        Ok(MarketoDestinationConfig {
            object: marketo.object.clone(),
            error_handling: marketo.error_handling_config.clone(),
        })
    }

    fn error_handling(&self, config: &MarketoDestinationConfig) -> Option<ErrorHandlingConfig> {
        config.error_handling.clone()
    }

    async fn open_sink(
        &self,
        profile: Option<MarketoProfile>,
        _config: MarketoDestinationConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, ConnectorError> {
        let client = self.run_client(profile)?;
        Ok(Box::new(MarketoSink::open(client, &schema, scope)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_sim::marketo::state::{SimConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
    use sluice_sim::marketo::MarketoSim;

    async fn serve() -> (MarketoSim, String) {
        let sim = MarketoSim::new(sluice_sim::marketo::seed::demo_database(), SimConfig::default(), None);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(sluice_sim::server::serve(listener, sim.router(), None, std::future::pending()));
        (sim, base)
    }

    fn profile(base: &str, secret: &str) -> MarketoProfile {
        MarketoProfile {
            instance_url: base.to_string(),
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: SecretString::new(secret.to_string()),
        }
    }

    #[tokio::test]
    async fn a_profile_connects_with_its_client_credentials_and_describes_leads() {
        let (_sim, base) = serve().await;
        let connector = MarketoConnector::default();
        connector.check_connection(&profile(&base, DEMO_CLIENT_SECRET)).await.unwrap();
        let refused = connector.check_connection(&profile(&base, "wrong")).await.unwrap_err();
        assert!(
            matches!(&refused, ConnectorError::Authentication(m) if m.contains("Bad client credentials")),
            "{refused}"
        );
        let fields = connector.describe_entity(&profile(&base, DEMO_CLIENT_SECRET), "leads").await.unwrap();
        let email = fields.iter().find(|f| f.name == "email").unwrap();
        assert_eq!(email.data_type, "email");
        assert!(fields.iter().any(|f| f.name == "updatedAt" && !f.creatable));
        let unknown = connector.describe_entity(&profile(&base, DEMO_CLIENT_SECRET), "opportunities").await;
        assert!(matches!(unknown, Err(ConnectorError::Invalid(m)) if m.contains("leads, activities")));
    }

    #[tokio::test]
    async fn expired_tokens_are_renewed_throttled_calls_wait_and_the_daily_quota_is_named() {
        let (sim, base) = serve().await;
        crate::install_tls_provider();
        let client = MarketoClient::new(
            reqwest::Client::new(),
            &base,
            DEMO_CLIENT_ID,
            SecretString::new(DEMO_CLIENT_SECRET.to_string()),
        )
        .with_throttle_wait(std::time::Duration::from_millis(20));
        client.get("/rest/v1/leads/describe.json", &[]).await.unwrap();
        // The token expires: 602, renewed once, and the call goes through.
        for token in sim.lock().tokens.values_mut() {
            token.expires_at = std::time::Instant::now();
        }
        client.get("/rest/v1/leads/describe.json", &[]).await.unwrap();
        // A rate limit of 2 calls per window: the third waits until the window passes.
        {
            let mut state = sim.lock();
            state.config.rate_limit_calls = 2;
            state.config.rate_limit_window_secs = 1;
        }
        let started = std::time::Instant::now();
        for _ in 0..3 {
            client.get("/rest/v1/leads/describe.json", &[]).await.unwrap();
        }
        assert!(started.elapsed() >= std::time::Duration::from_millis(20), "the throttled call waited");
        assert!(sim.lock().usage.errors.get("606").copied().unwrap_or(0) >= 1, "Marketo answered 606");
        assert!(sim.lock().usage.errors.get("602").copied().unwrap_or(0) >= 1, "Marketo answered 602");
        {
            let mut state = sim.lock();
            state.config.rate_limit_calls = 1000;
            state.config.daily_quota = 0;
        }
        let error = client.get("/rest/v1/leads/describe.json", &[]).await.unwrap_err();
        assert!(
            matches!(&error, ConnectorError::Remote { code, message, .. } if code == "607" && message.contains("resets at midnight")),
            "{error}"
        );
        assert!(!error.is_retryable());
    }
}
