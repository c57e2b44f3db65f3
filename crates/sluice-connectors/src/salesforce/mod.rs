//! The Salesforce connector: profile parsing, connection check, entity
//! listing and description over [`client::SalesforceClient`].

pub mod client;

use serde_json::Value;
use sluice_model::appflow::{ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType};
use sluice_model::wire::SecretString;
use sluice_model::ValidationProblems;

use self::client::{ClientApp, SalesforceClient, Tokens};
use crate::{Connector, ConnectorError, Entity, EntityField};

/// A validated Salesforce connector profile.
#[derive(Debug, Clone)]
pub struct SalesforceProfile {
    /// The org's URL (`https://example.my.salesforce.com`).
    pub instance_url: String,
    /// OAuth tokens.
    pub access_token: Option<SecretString>,
    /// Refresh token.
    pub refresh_token: Option<SecretString>,
    /// The connected app used for refreshes, when known.
    pub app: Option<ClientApp>,
}

impl SalesforceProfile {
    /// A REST client for this profile.
    pub fn client(&self, http: reqwest::Client) -> SalesforceClient {
        SalesforceClient::new(
            http,
            &self.instance_url,
            self.app.clone(),
            Tokens { access_token: self.access_token.clone(), refresh_token: self.refresh_token.clone() },
        )
    }
}

/// The Salesforce connector.
#[derive(Debug, Clone)]
pub struct SalesforceConnector {
    http: reqwest::Client,
}

/// How long connecting to Salesforce may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one Salesforce call may take.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Default for SalesforceConnector {
    /// A connector whose calls time out instead of hanging.
    fn default() -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self { http }
    }
}

impl SalesforceConnector {
    /// The HTTP client the connector uses (with its timeouts).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

#[async_trait::async_trait]
impl Connector for SalesforceConnector {
    type Profile = SalesforceProfile;

    fn connector_type(&self) -> ConnectorType {
        ConnectorType::Salesforce
    }

    fn parse_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<SalesforceProfile, ValidationProblems> {
        let mut problems = ValidationProblems::new();
        let instance_url = properties.salesforce.as_ref().and_then(|p| p.instance_url.clone()).unwrap_or_default();
        if !(instance_url.starts_with("https://") || instance_url.starts_with("http://")) {
            problems.push("Salesforce.instanceUrl must be an http(s) URL");
        }
        let credentials = credentials.and_then(|c| c.salesforce.as_ref());
        if credentials.is_none() {
            problems.push("Salesforce credentials are required");
        }
        problems.into_result()?;
        let credentials = credentials.cloned().unwrap_or_default();
        Ok(SalesforceProfile {
            instance_url,
            access_token: credentials.access_token,
            refresh_token: credentials.refresh_token.map(SecretString::new),
            // Connected-app credentials live behind clientCredentialsArn
            // (a secrets store Sluice does not have yet).
            app: None,
        })
    }

    async fn check_connection(&self, profile: &SalesforceProfile) -> Result<(), ConnectorError> {
        profile.client(self.http.clone()).limits().await.map(|_| ())
    }

    async fn list_entities(&self, profile: &SalesforceProfile) -> Result<Vec<Entity>, ConnectorError> {
        let objects = profile.client(self.http.clone()).list_objects().await?;
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
        let describe = profile.client(self.http.clone()).describe(entity).await?;
        let fields = describe.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(fields.iter().map(field_of).collect())
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
