//! Opening stored connector profiles for connectors, and keeping what the
//! connectors learn about their credentials: renewed OAuth tokens are
//! sealed and saved at once (a rotated refresh token must never be lost),
//! and credentials the app refused for good mark the profile as needing
//! re-authorization.

use std::sync::Arc;

use sluice_connectors::{CredentialsKeeper, ProfileInput};
use sluice_model::appflow::{ConnectorProfileCredentials, ConnectorProfileProperties};
use sluice_store::{MetadataStore, ProfileRecord};
use sluice_vault::Vault;

/// A stored profile, opened: its record, properties and decrypted
/// credentials, with a keeper that saves what the connector renews.
pub struct OpenedProfile {
    /// The stored record (its `auth_error` says whether it needs new credentials).
    pub record: ProfileRecord,
    /// The profile's properties.
    pub properties: ConnectorProfileProperties,
    /// Its credentials, decrypted.
    pub credentials: Option<ConnectorProfileCredentials>,
    /// Saves renewed credentials and marks refused ones.
    pub keeper: Arc<dyn CredentialsKeeper>,
}

impl OpenedProfile {
    /// The profile as a connector takes it, kept by [`OpenedProfile::keeper`].
    pub fn input(&self) -> ProfileInput<'_> {
        ProfileInput::new(&self.properties, self.credentials.as_ref()).kept_by(&self.keeper)
    }

    /// Refuses a profile marked as needing new credentials, with a message
    /// that says what to do.
    pub fn ensure_authorized(&self) -> Result<(), String> {
        match &self.record.auth_error {
            Some(reason) => Err(reauthorize_message(&self.record.name, reason)),
            None => Ok(()),
        }
    }
}

/// What a user reads when a profile needs new credentials.
pub fn reauthorize_message(profile: &str, reason: &str) -> String {
    format!(
        "connector profile '{profile}' needs to be re-authorized ({reason}); \
         give it new credentials with UpdateConnectorProfile"
    )
}

/// Opens stored profiles with the vault.
#[derive(Clone)]
pub struct Profiles {
    store: Arc<dyn MetadataStore>,
    vault: Arc<Vault>,
}

impl Profiles {
    /// Profiles of `store` (of the account it is a view of), credentials
    /// opened with `vault`.
    pub fn new(store: Arc<dyn MetadataStore>, vault: Arc<Vault>) -> Self {
        Self { store, vault }
    }

    /// The profiles of `account_id`.
    pub fn of_account(&self, account_id: &str) -> Self {
        Self { store: self.store.for_account(account_id), vault: self.vault.clone() }
    }

    /// Opens the profile called `name`. The error says what is wrong
    /// (never a credential value).
    pub async fn open(&self, name: &str) -> Result<OpenedProfile, String> {
        let record = self
            .store
            .get_profile(name)
            .await
            .map_err(|e| format!("cannot read connector profile '{name}': {e}"))?
            .ok_or_else(|| format!("connector profile '{name}' does not exist"))?;
        self.open_record(record)
    }

    /// Opens a profile record already read.
    pub fn open_record(&self, record: ProfileRecord) -> Result<OpenedProfile, String> {
        let (properties, credentials) = open_profile(&record, &self.vault)?;
        let keeper = Arc::new(StoredCredentials {
            store: self.store.clone(),
            vault: self.vault.clone(),
            name: record.name.clone(),
            arn: record.arn.clone(),
        });
        Ok(OpenedProfile { record, properties, credentials, keeper })
    }
}

/// Opens a stored connector profile: its properties and, decrypted with the
/// vault, its credentials. The error says which part is unreadable (never
/// a credential value).
pub fn open_profile(
    record: &ProfileRecord,
    vault: &Vault,
) -> Result<(ConnectorProfileProperties, Option<ConnectorProfileCredentials>), String> {
    let properties = serde_json::from_value(record.properties.clone())
        .map_err(|e| format!("connector profile '{}' has unreadable properties: {e}", record.name))?;
    let credentials = match &record.sealed_credentials {
        Some(text) => {
            let sealed = sluice_vault::SealedSecret::from_text(text).map_err(|e| e.to_string())?;
            let plain = vault.open(&sealed, &record.arn).map_err(|e| e.to_string())?;
            Some(
                serde_json::from_slice(&plain)
                    .map_err(|e| format!("connector profile '{}' has unreadable credentials: {e}", record.name))?,
            )
        }
        None => None,
    };
    Ok((properties, credentials))
}

/// Keeps a stored profile's credentials up to date.
struct StoredCredentials {
    store: Arc<dyn MetadataStore>,
    vault: Arc<Vault>,
    name: String,
    arn: String,
}

#[async_trait::async_trait]
impl CredentialsKeeper for StoredCredentials {
    async fn renewed(&self, credentials: ConnectorProfileCredentials) {
        let plain = match serde_json::to_vec(&credentials) {
            Ok(plain) => zeroize::Zeroizing::new(plain),
            Err(e) => {
                tracing::error!(profile = %self.name, error = %e, "renewed credentials do not serialize");
                return;
            }
        };
        let sealed = self.vault.seal(&plain, &self.arn).to_text();
        match self.store.save_profile_credentials(&self.name, &sealed, crate::now_ms()).await {
            Ok(()) => tracing::info!(profile = %self.name, "renewed credentials saved"),
            Err(e) => tracing::error!(profile = %self.name, error = %e, "cannot save renewed credentials"),
        }
    }

    async fn refused(&self, reason: &str) {
        match self.store.set_profile_auth_error(&self.name, Some(reason)).await {
            Ok(()) => tracing::warn!(profile = %self.name, %reason, "connector profile needs to be re-authorized"),
            Err(e) => tracing::error!(profile = %self.name, error = %e, "cannot mark the profile for re-authorization"),
        }
    }
}
