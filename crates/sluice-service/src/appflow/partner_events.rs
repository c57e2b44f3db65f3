//! AppFlow's EventBridge destinations on Sluice's bus: the
//! [`PartnerEventBus`] the connector publishes through, over the bus
//! service, for one account. CreateFlow makes a flow's partner event
//! source through it.

use serde_json::Value;
use sluice_bus::{BusError, EventBusService};
use sluice_connectors::eventbridge::{PartnerEvent, PartnerEventBus};
use sluice_connectors::ConnectorError;

/// Who makes AppFlow's partner event sources (their `CreatedBy`).
pub const CREATED_BY: &str = "appflow.amazonaws.com";

/// Partner event sources and buses of one account.
#[derive(Clone)]
pub struct BusPartnerEvents {
    bus: EventBusService,
    account_id: String,
}

impl std::fmt::Debug for BusPartnerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusPartnerEvents").field("account_id", &self.account_id).finish_non_exhaustive()
    }
}

impl BusPartnerEvents {
    /// Partner events of `account_id` on `bus`.
    pub fn new(bus: EventBusService, account_id: &str) -> Self {
        Self { bus, account_id: account_id.to_string() }
    }
}

fn connector_error(error: BusError) -> ConnectorError {
    match error {
        BusError::NotFound(message)
        | BusError::InvalidParameter(message)
        | BusError::AccessDenied(message)
        | BusError::IllegalState(message) => ConnectorError::Invalid(message),
        other => ConnectorError::Unreachable { system: "EventBridge", message: other.to_string() },
    }
}

#[async_trait::async_trait]
impl PartnerEventBus for BusPartnerEvents {
    async fn create_source(&self, name: &str) -> Result<(), ConnectorError> {
        self.bus.create_partner_event_source(&self.account_id, name, CREATED_BY).await.map_err(connector_error)
    }

    async fn check_associated(&self, name: &str) -> Result<(), ConnectorError> {
        self.bus.check_partner_bus(&self.account_id, name).await.map_err(connector_error)
    }

    async fn publish(&self, name: &str, events: Vec<PartnerEvent>) -> Result<(), ConnectorError> {
        let events: Vec<(String, Value)> = events.into_iter().map(|e| (e.detail_type, e.detail)).collect();
        self.bus.publish_partner_events(&self.account_id, name, events).await.map(|_| ()).map_err(connector_error)
    }
}
