//! Shared state of the API handlers.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_bus::EventBusService;
use sluice_model::wire::SecretString;
use sluice_service::appflow::AppflowService;

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
    /// AppFlow's rules (profiles, flows, runs, tags).
    pub appflow: AppflowService,
    bus: EventBusService,
    access_keys: Arc<HashMap<String, AccessKey>>,
}

impl AppState {
    /// The state of a server offering `appflow` and `bus` (EventBridge and
    /// SQS), accepting `keys`.
    pub fn new(appflow: AppflowService, bus: EventBusService, keys: Vec<AccessKey>) -> Self {
        let access_keys = keys.into_iter().map(|k| (k.access_key_id.clone(), k)).collect();
        Self { appflow, bus, access_keys: Arc::new(access_keys) }
    }

    /// The event bus and queue services.
    pub fn bus(&self) -> &EventBusService {
        &self.bus
    }

    /// Region requests must be signed for; part of every ARN.
    pub fn region(&self) -> &str {
        self.appflow.region()
    }

    /// 12-digit account id; part of every ARN.
    pub fn account_id(&self) -> &str {
        self.appflow.account_id()
    }

    /// The access key with this id, if the server knows it.
    pub fn access_key(&self, access_key_id: &str) -> Option<&AccessKey> {
        self.access_keys.get(access_key_id)
    }

    /// The identity recorded as `createdBy` / `lastUpdatedBy`.
    pub fn caller_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account_id())
    }
}
