//! The Marketo connector, for connector profiles only in this release: a
//! profile is validated and stored, but no flow reads or writes Marketo yet
//! (its catalog entry says so, and CreateFlow refuses such flows), and its
//! credentials are not tried against Marketo when the profile is created.

use sluice_model::appflow::catalog::ConnectorSpec;
use sluice_model::appflow::{ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType};
use sluice_model::ValidationProblems;

use crate::{Connector, ConnectorError, Entity, EntityField};

/// The Marketo connector's catalog entry: profiles, no data plane yet.
pub const SPEC: ConnectorSpec = ConnectorSpec {
    connector_type: ConnectorType::Marketo,
    description: "Marketo leads and activities (connector profiles; flows come with the Marketo data plane)",
    can_use_as_source: false,
    can_use_as_destination: false,
    requires_profile: true,
    trigger_types: &[],
    write_operations: &[],
    union_member: "Marketo",
    same_type_destination: false,
};

/// A validated Marketo profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketoProfile {
    /// The REST endpoint, e.g. `https://123-ABC-456.mktorest.com`.
    pub instance_url: String,
    /// The LaunchPoint service's client id.
    pub client_id: String,
}

/// The Marketo connector.
#[derive(Debug, Clone, Default)]
pub struct MarketoConnector;

fn not_yet() -> ConnectorError {
    ConnectorError::Invalid("browsing Marketo entities is not available in this release".into())
}

#[async_trait::async_trait]
impl Connector for MarketoConnector {
    type Profile = MarketoProfile;
    type SourceConfig = ();
    type DestinationConfig = ();

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
        let client_id = credentials.and_then(|c| c.marketo.as_ref()).map(|c| c.client_id.clone());
        if client_id.is_none() {
            problems.push("Marketo credentials are required");
        }
        problems.into_result()?;
        Ok(MarketoProfile { instance_url, client_id: client_id.unwrap_or_default() })
    }

    /// Marketo profiles are not tried against Marketo in this release.
    async fn check_connection(&self, _profile: &MarketoProfile) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn list_entities(&self, _profile: &MarketoProfile) -> Result<Vec<Entity>, ConnectorError> {
        Err(not_yet())
    }

    async fn describe_entity(
        &self,
        _profile: &MarketoProfile,
        _entity: &str,
    ) -> Result<Vec<EntityField>, ConnectorError> {
        Err(not_yet())
    }
}
