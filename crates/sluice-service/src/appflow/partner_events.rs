//! AppFlow's EventBridge destinations on Sluice's bus: the
//! [`PartnerEventBus`] the connector publishes through, over the bus
//! service. A source's account is the one its name carries
//! (`aws.partner/appflow/salesforce.com/ACCOUNT/NAME`); CreateFlow makes a
//! flow's partner event source through it once it checked that account is
//! the flow's.

use serde_json::Value;
use sluice_bus::{BusError, EventBusService};
use sluice_connectors::eventbridge::{PartnerEvent, PartnerEventBus};
use sluice_connectors::ConnectorError;

/// Who makes AppFlow's partner event sources (their `CreatedBy`).
pub const CREATED_BY: &str = "appflow.amazonaws.com";

/// Partner event sources and buses, each of the account its name carries.
#[derive(Clone)]
pub struct BusPartnerEvents {
    bus: EventBusService,
}

impl std::fmt::Debug for BusPartnerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusPartnerEvents").finish_non_exhaustive()
    }
}

impl BusPartnerEvents {
    /// Partner events on `bus`.
    pub fn new(bus: EventBusService) -> Self {
        Self { bus }
    }
}

/// The account a source name carries.
fn account_of(name: &str) -> Result<&str, ConnectorError> {
    sluice_connectors::eventbridge::source_account(name)
        .ok_or_else(|| ConnectorError::Invalid(format!("'{name}' is not an AppFlow partner event source")))
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
        self.bus.create_partner_event_source(account_of(name)?, name, CREATED_BY).await.map_err(connector_error)
    }

    async fn check_associated(&self, name: &str) -> Result<(), ConnectorError> {
        self.bus.check_partner_bus(account_of(name)?, name).await.map_err(connector_error)
    }

    async fn publish(&self, name: &str, events: Vec<PartnerEvent>) -> Result<(), ConnectorError> {
        let events: Vec<(String, Value)> = events.into_iter().map(|e| (e.detail_type, e.detail)).collect();
        self.bus.publish_partner_events(account_of(name)?, name, events).await.map(|_| ()).map_err(connector_error)
    }
}
