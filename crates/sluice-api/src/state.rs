//! Shared state of the API handlers.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_model::wire::SecretString;
use sluice_store::MetadataStore;
use sluice_vault::Vault;

/// An access key the server accepts.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// The public id (`AKIA...`-like).
    pub access_key_id: String,
    /// The secret used to sign requests.
    pub secret_access_key: SecretString,
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The metadata store.
    pub store: Arc<dyn MetadataStore>,
    /// Seals and opens connector credentials.
    pub vault: Arc<Vault>,
    /// Region requests must be signed for; part of every ARN.
    pub region: String,
    /// 12-digit account id; part of every ARN.
    pub account_id: String,
    access_keys: Arc<HashMap<String, AccessKey>>,
    /// Runs flow sources and tasks for previews, when the server has one.
    pub pipeline: Option<Arc<sluice_engine::pipeline::PipelineRunner>>,
    /// Server-wide connector settings (the Salesforce connected app).
    pub connector_settings: Arc<sluice_connectors::ConnectorSettings>,
}

impl AppState {
    /// Builds the state from its parts.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        vault: Arc<Vault>,
        region: String,
        account_id: String,
        keys: Vec<AccessKey>,
    ) -> Self {
        let access_keys = keys.into_iter().map(|k| (k.access_key_id.clone(), k)).collect();
        Self {
            store,
            vault,
            region,
            account_id,
            access_keys: Arc::new(access_keys),
            pipeline: None,
            connector_settings: Arc::default(),
        }
    }

    /// Uses the server's connector settings for live calls.
    pub fn with_connector_settings(mut self, settings: sluice_connectors::ConnectorSettings) -> Self {
        self.connector_settings = Arc::new(settings);
        self
    }

    /// Stored connector profiles, opened with the vault.
    pub fn profiles(&self) -> sluice_engine::profiles::Profiles {
        sluice_engine::profiles::Profiles::new(self.store.clone(), self.vault.clone())
    }

    /// Adds the pipeline used by flow previews.
    pub fn with_pipeline(mut self, pipeline: Arc<sluice_engine::pipeline::PipelineRunner>) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// The access key with this id, if the server knows it.
    pub fn access_key(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.access_keys.get(access_key_id)
    }

    /// The identity recorded as `createdBy` / `lastUpdatedBy`.
    pub fn caller_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account_id)
    }
}
