//! AppFlow's rules, below its API: [`AppflowService`] holds what they need
//! (the store, the vault, the connector registry, the engine's runner) and
//! its methods are the operations, grouped by resource:
//!
//! - [`profiles`]: connector profiles and live entity browsing;
//! - [`flows`]: flow definitions and their validation;
//! - [`status`]: the flow-status state machine;
//! - [`runs`]: StartFlow, StopFlow, execution records, cancellation, previews;
//! - [`tags`]: resource tags;
//! - [`run_events`]: run reports on the event bus, flows as rule targets;
//! - `partner_events`: EventBridge destinations' partner event sources and buses;
//! - `bucket_owners`: which account each local bucket belongs to.

#[cfg(feature = "s3")]
pub mod bucket_owners;
pub mod flows;
#[cfg(feature = "eventbridge")]
pub mod partner_events;
pub mod profiles;
pub mod run_events;
pub mod runs;
pub mod status;
pub mod tags;

use std::sync::Arc;

use sluice_connectors::Registry;
use sluice_engine::pipeline::PipelineRunner;
use sluice_model::appflow::catalog::Catalog;
use sluice_store::MetadataStore;
use sluice_vault::Vault;

/// The AppFlow service of one server (an account and a region).
#[derive(Clone)]
pub struct AppflowService {
    store: Arc<dyn MetadataStore>,
    vault: Arc<Vault>,
    registry: Arc<Registry>,
    pipeline: Option<Arc<PipelineRunner>>,
    #[cfg(feature = "eventbridge")]
    partner_events: Option<Arc<dyn sluice_connectors::eventbridge::PartnerEventBus>>,
    region: String,
    account_id: String,
}

impl AppflowService {
    /// The service over `store`, sealing credentials with `vault`, with the
    /// connectors of `registry`, in `region` for `account_id` (both part of
    /// every ARN).
    pub fn new(
        store: Arc<dyn MetadataStore>,
        vault: Arc<Vault>,
        registry: Arc<Registry>,
        region: &str,
        account_id: &str,
    ) -> Self {
        Self {
            store,
            vault,
            registry,
            pipeline: None,
            #[cfg(feature = "eventbridge")]
            partner_events: None,
            region: region.to_string(),
            account_id: account_id.to_string(),
        }
    }

    /// Makes the partner event sources of EventBridge destinations through
    /// `partner_events` (at CreateFlow and UpdateFlow).
    #[cfg(feature = "eventbridge")]
    pub fn with_partner_events(
        mut self,
        partner_events: Arc<dyn sluice_connectors::eventbridge::PartnerEventBus>,
    ) -> Self {
        self.partner_events = Some(partner_events);
        self
    }

    /// Makes the partner event source of an EventBridge destination, as
    /// AppFlow does when a flow is saved (a no-op for other destinations).
    pub(crate) async fn ensure_partner_source(
        &self,
        spec: &sluice_model::appflow::flow::FlowSpec,
    ) -> Result<(), crate::ServiceError> {
        #[cfg(feature = "eventbridge")]
        if let Some(destination) = spec.destination() {
            if let Some(properties) = &destination.destination_connector_properties.event_bridge {
                let bus = self.partner_events.as_ref().ok_or_else(|| {
                    crate::ServiceError::invalid("this server has no event bus for EventBridge destinations")
                })?;
                sluice_connectors::eventbridge::check_source_name(&properties.object).map_err(|e| {
                    crate::ServiceError::invalid(format!(
                        "destinationFlowConfigList.member.1.destinationConnectorProperties.EventBridge.object: {e}"
                    ))
                })?;
                let owner = sluice_connectors::eventbridge::source_account(&properties.object);
                if owner != Some(self.account_id.as_str()) {
                    return Err(crate::ServiceError::invalid(format!(
                        "destinationFlowConfigList.member.1.destinationConnectorProperties.EventBridge.object: \
                         '{}' names another account than the flow's ({})",
                        properties.object, self.account_id
                    )));
                }
                bus.create_source(&properties.object).await?;
            }
        }
        #[cfg(not(feature = "eventbridge"))]
        let _ = spec;
        Ok(())
    }

    /// Refuses to activate a flow whose EventBridge destination's partner
    /// event source has no bus yet, as AppFlow does.
    pub(crate) async fn check_partner_bus(
        &self,
        spec: &sluice_model::appflow::flow::FlowSpec,
    ) -> Result<(), crate::ServiceError> {
        #[cfg(feature = "eventbridge")]
        if let (Some(destination), Some(bus)) = (spec.destination(), &self.partner_events) {
            if let Some(properties) = &destination.destination_connector_properties.event_bridge {
                bus.check_associated(&properties.object).await?;
            }
        }
        #[cfg(not(feature = "eventbridge"))]
        let _ = spec;
        Ok(())
    }

    /// Uses `pipeline` for previews.
    pub fn with_pipeline(mut self, pipeline: Arc<PipelineRunner>) -> Self {
        self.pipeline = Some(pipeline);
        self
    }

    /// The same service for `account_id`'s profiles, flows and runs (the
    /// caller's account), its ARNs that account's.
    pub fn for_account(&self, account_id: &str) -> Self {
        let mut service = self.clone();
        service.store = self.store.for_account(account_id);
        service.account_id = account_id.to_string();
        service
    }

    /// The metadata store.
    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// The connectors of this build.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// What the connectors can do and which pairs can run.
    pub fn catalog(&self) -> &Catalog {
        self.registry.catalog()
    }

    /// The region in every ARN.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account in every ARN.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Stored connector profiles, opened with the vault.
    pub fn profiles(&self) -> sluice_engine::profiles::Profiles {
        sluice_engine::profiles::Profiles::new(self.store.clone(), self.vault.clone())
    }
}

/// Milliseconds since the epoch, never earlier than `previous + 1` (so an
/// update always moves `lastUpdatedAt`).
pub(crate) fn later_than(previous: i64) -> i64 {
    sluice_engine::now_ms().max(previous + 1)
}
