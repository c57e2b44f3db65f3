//! Connectors: one module per SaaS app or store, each behind a cargo
//! feature. A connector turns AppFlow's connector-profile properties and
//! credentials into a typed profile (pure validation, no I/O), checks that
//! the profile can connect (I/O, kept apart), and lists and describes the
//! entities a flow can read or write.
//!
//! [`Connector`] is the typed interface; [`DynConnector`] erases its
//! profile type so the API can hold every connector in one list, built
//! explicitly by [`registry`].

#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "salesforce")]
pub mod salesforce;

use std::sync::Arc;

use sluice_model::appflow::{ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType};
use sluice_model::ValidationProblems;

/// Makes rustls use the ring crypto provider in this process (once; later
/// calls do nothing). Every HTTPS client here (our own and object_store's)
/// takes the process-wide provider, and the build carries no other.
#[cfg(any(feature = "salesforce", feature = "s3-remote"))]
pub fn install_tls_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

/// What a connector error is about, for retry decisions and for the API
/// status it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorDomain {
    /// The user's configuration or credentials are wrong; retrying won't help.
    User,
    /// The remote system failed or refused for now; a retry may work.
    External,
    /// A bug or an unexpected answer.
    Internal,
}

/// Errors of the connectors.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The credentials were refused and cannot be refreshed: the profile
    /// needs new credentials (for OAuth, a new login).
    #[error("the connector profile needs to be re-authorized: {0}")]
    ReauthRequired(String),
    /// Authentication failed for another reason.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The remote API answered with an error.
    #[error("{system} error {code}: {message}")]
    Remote {
        /// Which system, e.g. "Salesforce".
        system: &'static str,
        /// The remote error code.
        code: String,
        /// The remote message.
        message: String,
        /// HTTP status.
        status: u16,
    },
    /// The remote system could not be reached.
    #[error("cannot reach {system}: {message}")]
    Unreachable {
        /// Which system.
        system: &'static str,
        /// What failed.
        message: String,
    },
    /// The remote answer did not have the expected shape.
    #[error("unexpected answer from {system}: {message}")]
    Protocol {
        /// Which system.
        system: &'static str,
        /// What was wrong.
        message: String,
    },
}

impl ConnectorError {
    /// Whose problem this is.
    pub fn domain(&self) -> ErrorDomain {
        match self {
            Self::ReauthRequired(_) | Self::Authentication(_) => ErrorDomain::User,
            Self::Remote { status, .. } if *status == 400 || *status == 404 => ErrorDomain::User,
            Self::Remote { .. } | Self::Unreachable { .. } => ErrorDomain::External,
            Self::Protocol { .. } => ErrorDomain::Internal,
        }
    }

    /// Whether the same call may succeed if retried with backoff.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Remote { status, code, .. } => *status >= 500 || *status == 429 || code == "REQUEST_LIMIT_EXCEEDED",
            _ => false,
        }
    }
}

/// An entity (object, table, folder) a flow can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// API name, e.g. `Account`.
    pub name: String,
    /// Label for people.
    pub label: String,
    /// Whether it holds other entities (folders) rather than records.
    pub has_children: bool,
}

/// A field of an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityField {
    /// API name.
    pub name: String,
    /// Label for people.
    pub label: String,
    /// The connector's own type name, e.g. `string`, `datetime`.
    pub data_type: String,
    /// May be null.
    pub nullable: bool,
    /// Can be written on insert.
    pub creatable: bool,
    /// Can be written on update.
    pub updatable: bool,
    /// Usable as an upsert key.
    pub external_id: bool,
    /// Allowed values of a picklist.
    pub picklist_values: Vec<String>,
}

/// The owner of a profile's credentials, told by a connector when it
/// renewed them (e.g. OAuth tokens after a refresh, with a rotated refresh
/// token) and when the app refused them for good. The connector waits for
/// it before its next call.
#[async_trait::async_trait]
pub trait CredentialsKeeper: Send + Sync {
    /// The credentials after a renewal, to be stored in place of the old ones.
    async fn renewed(&self, credentials: ConnectorProfileCredentials);
    /// The app refused the credentials and they cannot be renewed: the
    /// profile needs new ones (for OAuth, a new login).
    async fn refused(&self, reason: &str);
}

/// A connector profile as AppFlow carries it (wire properties and
/// credentials), with where renewed credentials go.
#[derive(Clone, Copy)]
pub struct ProfileInput<'a> {
    /// The profile's properties.
    pub properties: &'a ConnectorProfileProperties,
    /// Its credentials, opened.
    pub credentials: Option<&'a ConnectorProfileCredentials>,
    /// Told about renewed and refused credentials.
    pub keeper: Option<&'a Arc<dyn CredentialsKeeper>>,
}

impl<'a> ProfileInput<'a> {
    /// A profile whose renewed credentials are not kept.
    pub fn new(
        properties: &'a ConnectorProfileProperties,
        credentials: Option<&'a ConnectorProfileCredentials>,
    ) -> Self {
        Self { properties, credentials, keeper: None }
    }

    /// Tells `keeper` about renewed and refused credentials.
    pub fn kept_by(mut self, keeper: &'a Arc<dyn CredentialsKeeper>) -> Self {
        self.keeper = Some(keeper);
        self
    }
}

/// A connector with its own profile type.
#[async_trait::async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The validated, typed connector profile (properties and credentials).
    type Profile: Send + Sync;

    /// The AppFlow connector type this implements.
    fn connector_type(&self) -> ConnectorType;

    /// Builds the typed profile, collecting every problem. No I/O.
    fn parse_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<Self::Profile, ValidationProblems>;

    /// Makes the profile tell `keeper` about renewed and refused
    /// credentials; a connector whose credentials never change ignores it.
    fn set_keeper(&self, _profile: &mut Self::Profile, _keeper: Arc<dyn CredentialsKeeper>) {}

    /// Proves the profile can connect (authenticates and makes one call).
    async fn check_connection(&self, profile: &Self::Profile) -> Result<(), ConnectorError>;

    /// The entities a flow can use.
    async fn list_entities(&self, profile: &Self::Profile) -> Result<Vec<Entity>, ConnectorError>;

    /// The fields of one entity.
    async fn describe_entity(&self, profile: &Self::Profile, entity: &str) -> Result<Vec<EntityField>, ConnectorError>;
}

/// A connector whose profile type is erased: profiles go in as AppFlow wire
/// structures and are parsed on every call.
#[async_trait::async_trait]
pub trait DynConnector: Send + Sync {
    /// The AppFlow connector type.
    fn connector_type(&self) -> ConnectorType;
    /// Pure validation of a profile.
    fn validate_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> ValidationProblems;
    /// Parses the profile, then checks the connection.
    async fn check_connection(&self, profile: ProfileInput<'_>) -> Result<(), DynError>;
    /// Parses the profile, then lists entities.
    async fn list_entities(&self, profile: ProfileInput<'_>) -> Result<Vec<Entity>, DynError>;
    /// Parses the profile, then describes one entity.
    async fn describe_entity(&self, profile: ProfileInput<'_>, entity: &str) -> Result<Vec<EntityField>, DynError>;
}

/// Errors of the erased interface: an invalid profile or a connector error.
#[derive(Debug, thiserror::Error)]
pub enum DynError {
    /// The profile does not validate.
    #[error("{0}")]
    InvalidProfile(ValidationProblems),
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// Parses an erased profile into a connector's typed one.
fn typed_profile<C: Connector>(connector: &C, input: ProfileInput<'_>) -> Result<C::Profile, DynError> {
    let mut profile = connector.parse_profile(input.properties, input.credentials).map_err(DynError::InvalidProfile)?;
    if let Some(keeper) = input.keeper {
        connector.set_keeper(&mut profile, keeper.clone());
    }
    Ok(profile)
}

#[async_trait::async_trait]
impl<C: Connector> DynConnector for C {
    fn connector_type(&self) -> ConnectorType {
        Connector::connector_type(self)
    }

    fn validate_profile(
        &self,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> ValidationProblems {
        self.parse_profile(properties, credentials).err().unwrap_or_default()
    }

    async fn check_connection(&self, profile: ProfileInput<'_>) -> Result<(), DynError> {
        let profile = typed_profile(self, profile)?;
        Ok(Connector::check_connection(self, &profile).await?)
    }

    async fn list_entities(&self, profile: ProfileInput<'_>) -> Result<Vec<Entity>, DynError> {
        let profile = typed_profile(self, profile)?;
        Ok(Connector::list_entities(self, &profile).await?)
    }

    async fn describe_entity(&self, profile: ProfileInput<'_>, entity: &str) -> Result<Vec<EntityField>, DynError> {
        let profile = typed_profile(self, profile)?;
        Ok(Connector::describe_entity(self, &profile, entity).await?)
    }
}

/// Server-wide connector settings (not part of any profile).
#[derive(Debug, Clone, Default)]
pub struct ConnectorSettings {
    /// The connected app Sluice refreshes Salesforce tokens with: the
    /// counterpart of AppFlow's own managed connected app.
    #[cfg(feature = "salesforce")]
    pub salesforce_app: Option<salesforce::client::ClientApp>,
}

/// Every connector compiled into this build, in one explicit list.
pub fn registry(settings: &ConnectorSettings) -> Vec<Box<dyn DynConnector>> {
    let _ = settings;
    #[allow(unused_mut)]
    let mut connectors: Vec<Box<dyn DynConnector>> = Vec::new();
    #[cfg(feature = "salesforce")]
    connectors.push(Box::new(salesforce::SalesforceConnector::new(settings.salesforce_app.clone())));
    connectors
}

/// The connector for a type, if this build has one.
pub fn connector_for(settings: &ConnectorSettings, connector_type: ConnectorType) -> Option<Box<dyn DynConnector>> {
    registry(settings).into_iter().find(|c| c.connector_type() == connector_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_hints() {
        let limit = ConnectorError::Remote {
            system: "Salesforce",
            code: "REQUEST_LIMIT_EXCEEDED".into(),
            message: "x".into(),
            status: 403,
        };
        assert!(limit.is_retryable());
        assert!(!ConnectorError::ReauthRequired("expired".into()).is_retryable());
        assert_eq!(ConnectorError::ReauthRequired("x".into()).domain(), ErrorDomain::User);
    }

    #[cfg(feature = "salesforce")]
    #[test]
    fn registry_lists_salesforce() {
        let settings = ConnectorSettings::default();
        assert!(connector_for(&settings, ConnectorType::Salesforce).is_some());
        assert!(connector_for(&settings, ConnectorType::Zendesk).is_none());
    }
}
