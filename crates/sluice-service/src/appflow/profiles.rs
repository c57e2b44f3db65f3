//! Connector profiles: validated against the connector catalog, proven to
//! connect before they are stored (as AppFlow does), their credentials
//! sealed with the vault (bound to the profile's ARN) and never returned.

use std::sync::Arc;

use sluice_connectors::{CredentialsKeeper, DynConnector, Entity, EntityField, ProfileInput};
use sluice_engine::profiles::OpenedProfile;
use sluice_model::appflow::checks::check_connector_profile;
use sluice_model::appflow::{
    ConnectionMode, ConnectorProfileConfig, ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType,
    CreateConnectorProfileRequest, UpdateConnectorProfileRequest,
};
use sluice_model::arn::{appflow_arn, AppflowResourceKind};
use sluice_model::ValidationProblems;
use sluice_store::{Page, PageRequest, ProfileFilter, ProfileRecord, StoreError};

use super::{later_than, AppflowService};
use crate::ServiceError;

fn profile_not_found(name: &str) -> ServiceError {
    ServiceError::NotFound(format!("connector profile '{name}' does not exist"))
}

/// Keeps the credentials a connection check renewed, so the profile is
/// stored with them (a refresh during the check may rotate the refresh
/// token the request carried).
#[derive(Default)]
struct RenewedDuringCheck(std::sync::Mutex<Option<ConnectorProfileCredentials>>);

#[async_trait::async_trait]
impl CredentialsKeeper for RenewedDuringCheck {
    async fn renewed(&self, credentials: ConnectorProfileCredentials) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(credentials);
    }

    async fn refused(&self, _reason: &str) {}
}

impl AppflowService {
    /// The ARN under which a profile's credentials are reported as kept
    /// (`credentialsArn`; never their value).
    pub fn credentials_arn(&self, profile_name: &str) -> String {
        format!("arn:aws:sluice-vault:{}:{}:connectorprofile/{profile_name}", self.region, self.account_id)
    }

    /// The rules of a profile request the botocore model cannot express.
    pub fn profile_problems(
        &self,
        connector_type: ConnectorType,
        connection_mode: ConnectionMode,
        config: &ConnectorProfileConfig,
        credentials_required: bool,
    ) -> ValidationProblems {
        check_connector_profile(self.catalog(), connector_type, connection_mode, config, credentials_required)
    }

    /// The problems of an UpdateConnectorProfile request, judged against the
    /// stored profile's connector type (none when there is no such profile:
    /// [`AppflowService::update_profile`] says so).
    pub async fn update_profile_problems(
        &self,
        request: &UpdateConnectorProfileRequest,
    ) -> Result<ValidationProblems, ServiceError> {
        let Some(existing) = self.store.get_profile(&request.connector_profile_name).await? else {
            return Ok(ValidationProblems::new());
        };
        let connector_type = stored_type(&existing)?;
        Ok(self.profile_problems(connector_type, request.connection_mode, &request.connector_profile_config, false))
    }

    fn seal(&self, arn: &str, credentials: &ConnectorProfileCredentials) -> Result<String, ServiceError> {
        let plaintext = zeroize::Zeroizing::new(
            serde_json::to_vec(credentials)
                .map_err(|e| ServiceError::Internal(format!("credentials did not serialize: {e}")))?,
        );
        Ok(self.vault.seal(&plaintext, arn).to_text())
    }

    /// Proves, as AppFlow does, that a profile connects before it is stored,
    /// and returns the credentials to store: the given ones, or those the
    /// check renewed.
    async fn check_connects(
        &self,
        connector_type: ConnectorType,
        properties: &ConnectorProfileProperties,
        credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<Option<ConnectorProfileCredentials>, ServiceError> {
        let Some(connector) = self.registry.connector(connector_type) else {
            return Err(ServiceError::invalid(format!(
                "connectorType '{connector_type}' is not supported; supported types: {}",
                self.catalog().supported_names()
            )));
        };
        let renewed = Arc::new(RenewedDuringCheck::default());
        let keeper: Arc<dyn CredentialsKeeper> = renewed.clone();
        connector.check_connection(ProfileInput::new(properties, credentials).kept_by(&keeper)).await?;
        let renewed = renewed.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(renewed.or_else(|| credentials.cloned()))
    }

    /// CreateConnectorProfile: the profile must connect before it is stored.
    /// Returns its ARN.
    pub async fn create_profile(&self, request: CreateConnectorProfileRequest) -> Result<String, ServiceError> {
        let name = request.connector_profile_name;
        if self.store.get_profile(&name).await?.is_some() {
            return Err(StoreError::AlreadyExists { kind: "connector profile", name }.into());
        }
        let arn = appflow_arn(AppflowResourceKind::ConnectorProfile, &self.region, &self.account_id, &name);
        let config = &request.connector_profile_config;
        let credentials = self
            .check_connects(
                request.connector_type,
                &config.connector_profile_properties,
                config.connector_profile_credentials.as_ref(),
            )
            .await?;
        let sealed = credentials.as_ref().map(|c| self.seal(&arn, c)).transpose()?;
        let now = sluice_engine::now_ms();
        let record = ProfileRecord {
            name: name.clone(),
            arn: arn.clone(),
            connector_type: request.connector_type.as_str().to_string(),
            connector_label: request.connector_label,
            connection_mode: request.connection_mode.as_str().to_string(),
            properties: serde_json::to_value(&config.connector_profile_properties)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
            sealed_credentials: sealed,
            created_at_ms: now,
            updated_at_ms: now,
            auth_error: None,
        };
        self.store.create_profile(&record).await?;
        tracing::info!(profile = %name, connector_type = %record.connector_type, "connector profile created");
        Ok(arn)
    }

    /// Profiles matching `filter`, one page.
    pub async fn list_profiles(
        &self,
        filter: &ProfileFilter,
        page: &PageRequest,
    ) -> Result<Page<ProfileRecord>, ServiceError> {
        Ok(self.store.list_profiles(filter, page).await?)
    }

    /// UpdateConnectorProfile. Omitted credentials keep the stored ones; the
    /// changed profile must connect too. New credentials end a "needs to be
    /// re-authorized" mark. Returns the ARN.
    pub async fn update_profile(&self, request: UpdateConnectorProfileRequest) -> Result<String, ServiceError> {
        let name = &request.connector_profile_name;
        let mut record = self.store.get_profile(name).await?.ok_or_else(|| profile_not_found(name))?;
        let connector_type = stored_type(&record)?;
        let config = &request.connector_profile_config;
        let given = config.connector_profile_credentials.clone();
        let stored = match &given {
            Some(_) => None,
            None => {
                self.profiles()
                    .open_record(record.clone())
                    .map_err(|e| ServiceError::corrupt("connector profile", e))?
                    .credentials
            }
        };
        let checked = self
            .check_connects(connector_type, &config.connector_profile_properties, given.as_ref().or(stored.as_ref()))
            .await?;
        let renewed = checked.filter(|c| given.is_some() || Some(c) != stored.as_ref());
        if let Some(credentials) = &renewed {
            record.sealed_credentials = Some(self.seal(&record.arn, credentials)?);
            record.auth_error = None;
        }
        record.connection_mode = request.connection_mode.as_str().to_string();
        record.properties = serde_json::to_value(&config.connector_profile_properties)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        record.updated_at_ms = later_than(record.updated_at_ms);
        self.store.update_profile(&record).await?;
        tracing::info!(profile = %record.name, "connector profile updated");
        Ok(record.arn)
    }

    /// DeleteConnectorProfile: refused while flows use the profile unless `force`.
    pub async fn delete_profile(&self, name: &str, force: bool) -> Result<(), ServiceError> {
        self.store.delete_profile(name, force).await?;
        tracing::info!(profile = %name, "connector profile deleted");
        Ok(())
    }

    /// The live connector of a stored profile, and the profile opened
    /// (renewed credentials are saved).
    async fn profile_connector(
        &self,
        profile_name: Option<&str>,
        connector_type: Option<ConnectorType>,
    ) -> Result<(Arc<dyn DynConnector>, OpenedProfile), ServiceError> {
        let name =
            profile_name.ok_or_else(|| ServiceError::invalid("connectorProfileName is required for this connector"))?;
        let record = self.store.get_profile(name).await?.ok_or_else(|| profile_not_found(name))?;
        let profile_type = stored_type(&record)?;
        if let Some(wanted) = connector_type.filter(|t| *t != profile_type) {
            return Err(ServiceError::invalid(format!(
                "connector profile '{name}' is a {profile_type} profile, not {wanted}"
            )));
        }
        let connector = self.registry.connector(profile_type).ok_or_else(|| {
            ServiceError::UnsupportedOperation(format!(
                "the {profile_type} connector cannot browse entities in this build"
            ))
        })?;
        let opened = self.profiles().open_record(record).map_err(|e| {
            tracing::error!(profile = %name, error = %e, "cannot open the connector profile");
            ServiceError::Internal("the profile's credentials cannot be opened; see the server log".into())
        })?;
        Ok((connector, opened))
    }

    /// ListConnectorEntities: the objects of the profile's app, asked live.
    pub async fn list_entities(
        &self,
        profile_name: Option<&str>,
        connector_type: Option<ConnectorType>,
    ) -> Result<Vec<Entity>, ServiceError> {
        let (connector, profile) = self.profile_connector(profile_name, connector_type).await?;
        Ok(connector.list_entities(profile.input()).await?)
    }

    /// DescribeConnectorEntity: the fields of one object, asked live.
    pub async fn describe_entity(
        &self,
        profile_name: Option<&str>,
        connector_type: Option<ConnectorType>,
        entity: &str,
    ) -> Result<Vec<EntityField>, ServiceError> {
        let (connector, profile) = self.profile_connector(profile_name, connector_type).await?;
        Ok(connector.describe_entity(profile.input(), entity).await?)
    }
}

/// A stored profile's connector type.
pub(crate) fn stored_type(record: &ProfileRecord) -> Result<ConnectorType, ServiceError> {
    ConnectorType::from_wire(&record.connector_type)
        .ok_or_else(|| ServiceError::corrupt("connector type", &record.connector_type))
}
