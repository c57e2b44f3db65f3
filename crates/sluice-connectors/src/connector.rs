//! The connector interface: typed ([`Connector`], with its own profile,
//! source and destination configuration types) and erased
//! ([`DynConnector`], which takes AppFlow's wire structures), joined by a
//! blanket impl so the registry can hold every connector in one list.

use std::sync::Arc;

use arrow_schema::SchemaRef;
use sluice_model::appflow::catalog::ConnectorSpec;
use sluice_model::appflow::{
    ConnectorProfileCredentials, ConnectorProfileProperties, DestinationFlowConfig, ErrorHandlingConfig,
    SourceFlowConfig,
};
use sluice_model::ValidationProblems;

use crate::events::{EventStart, EventSubscription};
use crate::plane::{DataSink, DataSource, RunScope};
use crate::ConnectorError;

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

/// A connector with its own types: the reusable profile (credentials and
/// where the app is) and the per-flow source and destination settings.
/// Parsing is pure (no I/O) and collects every problem; the I/O happens in
/// the `check_connection`, entity and `open_*` calls.
#[async_trait::async_trait]
pub trait Connector: Send + Sync + 'static {
    /// The validated connector profile (properties and credentials);
    /// `()` for connectors without profiles.
    type Profile: Send + Sync;
    /// A flow's source settings for this connector.
    type SourceConfig: Send + Sync;
    /// A flow's destination settings for this connector.
    type DestinationConfig: Send + Sync;

    /// What the connector can do (its catalog entry).
    fn spec(&self) -> ConnectorSpec;

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

    /// Builds the source settings of a flow. No I/O.
    fn parse_source(&self, source: &SourceFlowConfig) -> Result<Self::SourceConfig, ValidationProblems> {
        let _ = source;
        Err(ValidationProblems::single(format!(
            "the {} connector cannot be a flow's source",
            self.spec().connector_type
        )))
    }

    /// Opens a flow's source for a run (describes the object, lists the files).
    async fn open_source(
        &self,
        profile: Option<Self::Profile>,
        config: Self::SourceConfig,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSource>, ConnectorError> {
        let _ = (profile, config, scope);
        Err(ConnectorError::Invalid(format!("the {} connector cannot be a flow's source", self.spec().connector_type)))
    }

    /// Subscribes to the events of a flow's source (event-triggered flows).
    async fn subscribe(
        &self,
        profile: Option<Self::Profile>,
        config: Self::SourceConfig,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, ConnectorError> {
        let _ = (profile, config, start);
        Err(ConnectorError::Invalid(format!(
            "the {} connector has no events to subscribe to",
            self.spec().connector_type
        )))
    }

    /// Builds the destination settings of a flow. No I/O.
    fn parse_destination(
        &self,
        destination: &DestinationFlowConfig,
    ) -> Result<Self::DestinationConfig, ValidationProblems> {
        let _ = destination;
        Err(ValidationProblems::single(format!(
            "the {} connector cannot be a flow's destination",
            self.spec().connector_type
        )))
    }

    /// Where the destination wants refused records kept, and whether the
    /// first one ends the run.
    fn error_handling(&self, config: &Self::DestinationConfig) -> Option<ErrorHandlingConfig> {
        let _ = config;
        None
    }

    /// Opens a flow's destination for a run; batches will have `schema`.
    async fn open_sink(
        &self,
        profile: Option<Self::Profile>,
        config: Self::DestinationConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, ConnectorError> {
        let _ = (profile, config, schema, scope);
        Err(ConnectorError::Invalid(format!(
            "the {} connector cannot be a flow's destination",
            self.spec().connector_type
        )))
    }
}

/// Adds a problem unless `url` is an http(s) URL (`what` names the property).
pub(crate) fn check_http_url(url: &str, what: &str, problems: &mut ValidationProblems) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        problems.push(format!("{what} must be an http(s) URL"));
    }
}

/// Errors of the erased interface: a profile or flow setting that does not
/// validate, or a connector error.
#[derive(Debug, thiserror::Error)]
pub enum DynError {
    /// The profile does not validate.
    #[error("{0}")]
    InvalidProfile(ValidationProblems),
    /// The flow's source or destination settings do not validate.
    #[error("{0}")]
    InvalidConfig(ValidationProblems),
    /// The connector failed.
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

/// A connector whose types are erased: profiles and flow settings go in as
/// AppFlow wire structures and are parsed on every call.
#[async_trait::async_trait]
pub trait DynConnector: Send + Sync {
    /// What the connector can do.
    fn spec(&self) -> ConnectorSpec;
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
    /// Parses the profile and source settings, then opens the source.
    async fn open_source(
        &self,
        profile: Option<ProfileInput<'_>>,
        source: &SourceFlowConfig,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSource>, DynError>;
    /// Parses the profile and source settings, then subscribes to the
    /// source's events.
    async fn subscribe(
        &self,
        profile: Option<ProfileInput<'_>>,
        source: &SourceFlowConfig,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, DynError>;
    /// The destination's error handling settings (unparseable settings: none).
    fn error_handling(&self, destination: &DestinationFlowConfig) -> Option<ErrorHandlingConfig>;
    /// Parses the profile and destination settings, then opens the sink.
    async fn open_sink(
        &self,
        profile: Option<ProfileInput<'_>>,
        destination: &DestinationFlowConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, DynError>;
}

/// Parses an erased profile into a connector's typed one.
fn typed_profile<C: Connector>(connector: &C, input: ProfileInput<'_>) -> Result<C::Profile, DynError> {
    let mut profile = connector.parse_profile(input.properties, input.credentials).map_err(DynError::InvalidProfile)?;
    if let Some(keeper) = input.keeper {
        connector.set_keeper(&mut profile, keeper.clone());
    }
    Ok(profile)
}

fn optional_profile<C: Connector>(
    connector: &C,
    input: Option<ProfileInput<'_>>,
) -> Result<Option<C::Profile>, DynError> {
    input.map(|input| typed_profile(connector, input)).transpose()
}

#[async_trait::async_trait]
impl<C: Connector> DynConnector for C {
    fn spec(&self) -> ConnectorSpec {
        Connector::spec(self)
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

    async fn open_source(
        &self,
        profile: Option<ProfileInput<'_>>,
        source: &SourceFlowConfig,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSource>, DynError> {
        let config = self.parse_source(source).map_err(DynError::InvalidConfig)?;
        let profile = optional_profile(self, profile)?;
        Ok(Connector::open_source(self, profile, config, scope).await?)
    }

    async fn subscribe(
        &self,
        profile: Option<ProfileInput<'_>>,
        source: &SourceFlowConfig,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, DynError> {
        let config = self.parse_source(source).map_err(DynError::InvalidConfig)?;
        let profile = optional_profile(self, profile)?;
        Ok(Connector::subscribe(self, profile, config, start).await?)
    }

    fn error_handling(&self, destination: &DestinationFlowConfig) -> Option<ErrorHandlingConfig> {
        self.parse_destination(destination).ok().and_then(|config| Connector::error_handling(self, &config))
    }

    async fn open_sink(
        &self,
        profile: Option<ProfileInput<'_>>,
        destination: &DestinationFlowConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, DynError> {
        let config = self.parse_destination(destination).map_err(DynError::InvalidConfig)?;
        let profile = optional_profile(self, profile)?;
        Ok(Connector::open_sink(self, profile, config, schema, scope).await?)
    }
}
