//! Shared state of the API handlers.

use sluice_bus::EventBusService;
use sluice_iam::{Caller, IdentityService};
use sluice_model::wire::SecretString;
use sluice_pipes::PipeService;
use sluice_secrets::SecretService;
use sluice_service::appflow::AppflowService;
use sluice_tables::TableService;

/// An access key (the data directory's root credentials, a client's).
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
    identity: IdentityService,
    tables: TableService,
    pipes: PipeService,
    secrets: SecretService,
}

impl AppState {
    /// The state of a server offering `appflow`, `bus` (EventBridge and
    /// SQS), `identity` (accounts, IAM, STS; it knows the access keys) and
    /// `tables` (DynamoDB and DynamoDB Streams), `pipes` (EventBridge Pipes)
    /// and `secrets` (Secrets Manager).
    pub fn new(
        appflow: AppflowService,
        bus: EventBusService,
        identity: IdentityService,
        tables: TableService,
        pipes: PipeService,
        secrets: SecretService,
    ) -> Self {
        Self { appflow, bus, identity, tables, pipes, secrets }
    }

    /// Secrets Manager.
    pub fn secrets(&self) -> &SecretService {
        &self.secrets
    }

    /// EventBridge Pipes.
    pub fn pipes(&self) -> &PipeService {
        &self.pipes
    }

    /// DynamoDB's tables and streams.
    pub fn tables(&self) -> &TableService {
        &self.tables
    }

    /// Accounts, IAM and STS.
    pub fn identity(&self) -> &IdentityService {
        &self.identity
    }

    /// The event bus and queue services.
    pub fn bus(&self) -> &EventBusService {
        &self.bus
    }

    /// Region requests must be signed for; part of every ARN.
    pub fn region(&self) -> &str {
        self.appflow.region()
    }

    /// The server's own account (its data directory's).
    pub fn account_id(&self) -> &str {
        self.appflow.account_id()
    }
}

/// The AppFlow service of the request's caller's account (an extractor:
/// the authentication middleware put the [`Caller`] in the request).
pub struct CallerAppflow(pub AppflowService);

impl axum::extract::FromRequestParts<AppState> for CallerAppflow {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = parts
            .extensions
            .get::<Caller>()
            .ok_or_else(|| crate::error::ApiError::Internal("the request has no authenticated caller".into()))?;
        Ok(Self(state.appflow.for_account(&caller.account_id)))
    }
}
