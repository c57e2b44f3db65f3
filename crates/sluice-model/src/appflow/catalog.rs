//! The connectors Sluice supports and what each can do, in the terms of
//! AppFlow's `ConnectorConfiguration`.

use super::types::{ConnectorConfiguration, ConnectorDetail, ConnectorType, TriggerType, WriteOperationType};

/// Static capabilities of one supported connector type.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorSpec {
    /// The AppFlow connector type.
    pub connector_type: ConnectorType,
    /// One-line human description.
    pub description: &'static str,
    /// Whether flows may read from it.
    pub can_use_as_source: bool,
    /// Whether flows may write to it.
    pub can_use_as_destination: bool,
    /// Whether flows using it must name a connector profile.
    pub requires_profile: bool,
    /// Trigger types allowed when it is the source.
    pub trigger_types: &'static [TriggerType],
    /// Write operations allowed when it is the destination.
    pub write_operations: &'static [WriteOperationType],
    /// Key of this connector inside union structures such as
    /// `SourceConnectorProperties` (AppFlow spells some differently from the type).
    pub union_member: &'static str,
}

const ALL_TRIGGERS: &[TriggerType] = &[TriggerType::OnDemand, TriggerType::Scheduled, TriggerType::Event];
const BATCH_TRIGGERS: &[TriggerType] = &[TriggerType::OnDemand, TriggerType::Scheduled];

/// Every connector type Sluice accepts, in display order.
pub const SUPPORTED_CONNECTORS: &[ConnectorSpec] = &[
    ConnectorSpec {
        connector_type: ConnectorType::Salesforce,
        description: "Salesforce objects, change data capture and platform events",
        can_use_as_source: true,
        can_use_as_destination: true,
        requires_profile: true,
        trigger_types: ALL_TRIGGERS,
        write_operations: &[
            WriteOperationType::Insert,
            WriteOperationType::Upsert,
            WriteOperationType::Update,
            WriteOperationType::Delete,
        ],
        union_member: "Salesforce",
    },
    ConnectorSpec {
        connector_type: ConnectorType::Marketo,
        description: "Marketo leads and activities",
        can_use_as_source: true,
        can_use_as_destination: true,
        requires_profile: true,
        trigger_types: BATCH_TRIGGERS,
        write_operations: &[WriteOperationType::Insert, WriteOperationType::Upsert],
        union_member: "Marketo",
    },
    ConnectorSpec {
        connector_type: ConnectorType::S3,
        description: "Object storage (a local folder by default, or any S3-compatible endpoint)",
        can_use_as_source: true,
        can_use_as_destination: true,
        requires_profile: false,
        trigger_types: BATCH_TRIGGERS,
        write_operations: &[WriteOperationType::Insert],
        union_member: "S3",
    },
    ConnectorSpec {
        connector_type: ConnectorType::Redshift,
        description: "Amazon Redshift or PostgreSQL tables",
        can_use_as_source: false,
        can_use_as_destination: true,
        requires_profile: true,
        trigger_types: &[],
        write_operations: &[WriteOperationType::Insert],
        union_member: "Redshift",
    },
    ConnectorSpec {
        connector_type: ConnectorType::EventBridge,
        description: "Sluice's event bus",
        can_use_as_source: false,
        can_use_as_destination: true,
        requires_profile: false,
        trigger_types: &[],
        write_operations: &[WriteOperationType::Insert],
        union_member: "EventBridge",
    },
];

/// The spec of a connector type, or `None` when Sluice does not support it.
pub fn connector_spec(connector_type: ConnectorType) -> Option<&'static ConnectorSpec> {
    SUPPORTED_CONNECTORS.iter().find(|c| c.connector_type == connector_type)
}

/// Comma-separated list of supported type names, for error messages.
pub fn supported_names() -> String {
    SUPPORTED_CONNECTORS.iter().map(|c| c.connector_type.as_str()).collect::<Vec<_>>().join(", ")
}

impl ConnectorSpec {
    /// The AppFlow `ConnectorConfiguration` describing this connector.
    pub fn configuration(&self) -> ConnectorConfiguration {
        let destinations: Vec<ConnectorType> = if self.can_use_as_source {
            SUPPORTED_CONNECTORS
                .iter()
                .filter(|c| c.can_use_as_destination && c.connector_type != self.connector_type)
                .map(|c| c.connector_type)
                .collect()
        } else {
            Vec::new()
        };
        ConnectorConfiguration {
            can_use_as_source: Some(self.can_use_as_source),
            can_use_as_destination: Some(self.can_use_as_destination),
            supported_destination_connectors: Some(destinations),
            supported_trigger_types: Some(self.trigger_types.to_vec()),
            supported_write_operations: Some(self.write_operations.to_vec()),
            is_private_link_enabled: Some(false),
            is_private_link_endpoint_url_required: Some(false),
            connector_type: Some(self.connector_type),
            connector_name: Some(self.connector_type.as_str().to_string()),
            connector_description: Some(self.description.to_string()),
            connector_owner: Some("Sluice".to_string()),
            ..Default::default()
        }
    }

    /// The AppFlow `ConnectorDetail` (ListConnectors entry) for this connector.
    pub fn detail(&self) -> ConnectorDetail {
        ConnectorDetail {
            connector_type: Some(self.connector_type),
            connector_name: Some(self.connector_type.as_str().to_string()),
            connector_description: Some(self.description.to_string()),
            connector_owner: Some("Sluice".to_string()),
            application_type: Some(self.connector_type.as_str().to_string()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_can_send_to_s3_but_not_to_itself() {
        let config = connector_spec(ConnectorType::Salesforce).unwrap().configuration();
        let destinations = config.supported_destination_connectors.unwrap();
        assert!(destinations.contains(&ConnectorType::S3));
        assert!(!destinations.contains(&ConnectorType::Salesforce));
        assert!(connector_spec(ConnectorType::Zendesk).is_none());
    }
}
