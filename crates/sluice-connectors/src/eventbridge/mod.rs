//! The EventBridge connector (AppFlow's `EventBridge` type), a destination
//! only: an event flow's Salesforce events become events on a partner
//! event bus. The flow's `object` names the partner event source
//! (`aws.partner/appflow/salesforce.com/ACCOUNT/NAME`); CreateFlow makes
//! the source (PENDING), and a run needs it associated with a bus
//! (CreateEventBus with that name as EventSourceName), as in AppFlow. Each
//! record becomes one event: `source` the partner event source,
//! `detail-type` the Salesforce event's name, `detail` the mapped fields.
//! An event over 256 KB is written to `errorHandlingConfig.bucketName` and
//! the bus gets a pointer to it instead ([`sink`]).
//!
//! The connector knows no bus: a [`PartnerEventBus`] (the service layer's,
//! over the bus service) makes sources and publishes.

pub mod sink;

use std::sync::Arc;

use arrow_schema::SchemaRef;
use serde_json::Value;
use sluice_model::appflow::catalog::ConnectorSpec;
use sluice_model::appflow::{
    ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType, DestinationFlowConfig, ErrorHandlingConfig,
    WriteOperationType,
};
use sluice_model::ValidationProblems;

use self::sink::EventBridgeSink;
use crate::plane::{DataSink, RunScope};
use crate::{Connector, ConnectorError, Entity, EntityField};

/// The EventBridge connector's catalog entry.
pub const SPEC: ConnectorSpec = ConnectorSpec {
    connector_type: ConnectorType::EventBridge,
    description: "Amazon EventBridge partner event buses (destination of Salesforce event flows)",
    can_use_as_source: false,
    can_use_as_destination: true,
    requires_profile: false,
    trigger_types: &[],
    write_operations: &[WriteOperationType::Insert],
    union_member: "EventBridge",
    same_type_destination: false,
    only_from: &[ConnectorType::Salesforce],
};

/// What every AppFlow partner event source's name starts with.
pub const PARTNER_SOURCE_PREFIX: &str = "aws.partner/appflow/salesforce.com/";

/// An event for a partner event bus.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerEvent {
    /// `detail-type`: the Salesforce event's name.
    pub detail_type: String,
    /// `detail`: the record's fields (or a pointer to them in a bucket).
    pub detail: Value,
}

/// Partner event sources and their buses, as AppFlow uses them.
#[async_trait::async_trait]
pub trait PartnerEventBus: Send + Sync + std::fmt::Debug {
    /// Makes the partner event source `name` (nothing if it exists).
    async fn create_source(&self, name: &str) -> Result<(), ConnectorError>;
    /// `Ok` when a bus is associated with the source.
    async fn check_associated(&self, name: &str) -> Result<(), ConnectorError>;
    /// Puts events from the source on its bus (durably, before returning).
    async fn publish(&self, name: &str, events: Vec<PartnerEvent>) -> Result<(), ConnectorError>;
}

/// Checks the shape of a partner event source name: the prefix, a 12-digit
/// account and a name of letters, digits, `.`, `_` and `-`.
pub fn check_source_name(name: &str) -> Result<(), String> {
    let shape = || {
        format!(
            "'{name}' is not an AppFlow partner event source: use {PARTNER_SOURCE_PREFIX}ACCOUNT_ID/NAME \
             (NAME: letters, digits, '.', '_', '-')"
        )
    };
    let rest = name.strip_prefix(PARTNER_SOURCE_PREFIX).ok_or_else(shape)?;
    let (account, suffix) = rest.split_once('/').ok_or_else(shape)?;
    let account_ok = sluice_model::arn::is_account_id(account);
    let suffix_ok = !suffix.is_empty()
        && suffix.len() <= 256
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if account_ok && suffix_ok {
        Ok(())
    } else {
        Err(shape())
    }
}

/// The 12-digit account in a partner event source name.
pub fn source_account(name: &str) -> Option<&str> {
    name.strip_prefix(PARTNER_SOURCE_PREFIX)?.split('/').next()
}

/// A flow's EventBridge destination settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBridgeDestinationConfig {
    /// The partner event source (`object`).
    pub source: String,
    /// `errorHandlingConfig`: the bucket of events over 256 KB (and of
    /// refused records).
    pub error_handling: Option<ErrorHandlingConfig>,
}

/// The EventBridge connector.
#[derive(Debug, Clone, Default)]
pub struct EventBridgeConnector {
    bus: Option<Arc<dyn PartnerEventBus>>,
    buckets: Option<crate::s3::Buckets>,
}

impl EventBridgeConnector {
    /// A connector publishing through `bus`, writing large events to `buckets`.
    pub fn new(bus: Option<Arc<dyn PartnerEventBus>>, buckets: Option<crate::s3::Buckets>) -> Self {
        Self { bus, buckets }
    }
}

#[async_trait::async_trait]
impl Connector for EventBridgeConnector {
    type Profile = ();
    type SourceConfig = ();
    type DestinationConfig = EventBridgeDestinationConfig;

    fn spec(&self) -> ConnectorSpec {
        SPEC
    }

    fn parse_profile(
        &self,
        _properties: &ConnectorProfileProperties,
        _credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<(), ValidationProblems> {
        Err(ValidationProblems::single("the EventBridge connector takes no connector profile"))
    }

    async fn check_connection(&self, _profile: &()) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn list_entities(&self, _profile: &()) -> Result<Vec<Entity>, ConnectorError> {
        Err(ConnectorError::Invalid("the EventBridge connector has no profile to list entities with".into()))
    }

    async fn describe_entity(&self, _profile: &(), _entity: &str) -> Result<Vec<EntityField>, ConnectorError> {
        Err(ConnectorError::Invalid("the EventBridge connector has no profile to describe entities with".into()))
    }

    fn parse_destination(
        &self,
        destination: &DestinationFlowConfig,
    ) -> Result<EventBridgeDestinationConfig, ValidationProblems> {
        let properties = destination
            .destination_connector_properties
            .event_bridge
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("destinationConnectorProperties.EventBridge is missing"))?;
        check_source_name(&properties.object).map_err(|e| {
            ValidationProblems::single(format!("destinationConnectorProperties.EventBridge.object: {e}"))
        })?;
        Ok(EventBridgeDestinationConfig {
            source: properties.object.clone(),
            error_handling: properties.error_handling_config.clone(),
        })
    }

    fn error_handling(&self, config: &EventBridgeDestinationConfig) -> Option<ErrorHandlingConfig> {
        config.error_handling.clone()
    }

    async fn open_sink(
        &self,
        _profile: Option<()>,
        config: EventBridgeDestinationConfig,
        _schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, ConnectorError> {
        let bus = self.bus.clone().ok_or_else(|| {
            ConnectorError::Invalid("this server has no event bus for EventBridge destinations".into())
        })?;
        bus.check_associated(&config.source).await?;
        // Large events go to the error-handling bucket: it must be the run's
        // account's (checked once here, not per event).
        if let (Some(buckets), Some(bucket)) =
            (&self.buckets, config.error_handling.as_ref().and_then(|c| c.bucket_name.as_deref()))
        {
            buckets.check_owner(bucket, &scope.account_id).await?;
        }
        Ok(Box::new(EventBridgeSink::new(bus, self.buckets.clone(), config, scope)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partner_event_source_names_have_appflows_shape() {
        assert!(check_source_name("aws.partner/appflow/salesforce.com/123456789012/telephony").is_ok());
        assert!(check_source_name("aws.partner/appflow/salesforce.com/123456789012/a.b_c-d").is_ok());
        for bad in [
            "telephony",
            "aws.partner/appflow/salesforce.com/123456789012",
            "aws.partner/appflow/salesforce.com/123456789012/",
            "aws.partner/appflow/salesforce.com/12345/telephony",
            "aws.partner/appflow/salesforce.com/123456789012/has space",
            "aws.partner/appflow/salesforce.com/123456789012/a/b",
        ] {
            assert!(check_source_name(bad).is_err(), "{bad}");
        }
        assert_eq!(source_account("aws.partner/appflow/salesforce.com/123456789012/t"), Some("123456789012"));
    }
}
