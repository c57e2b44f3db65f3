//! The connector catalog: what each connector of a build can do, in the
//! terms of AppFlow's `ConnectorConfiguration`, and which source ->
//! destination pairs can run. The connector registry builds it from the
//! connectors it holds (one list); the model only knows its shape, so
//! validation and DescribeConnectors read the same catalog.

use super::types::{ConnectorConfiguration, ConnectorDetail, ConnectorType, TriggerType, WriteOperationType};

/// Static capabilities of one connector type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Whether a flow may read from and write to this same connector type
    /// (object storage to object storage); AppFlow refuses it for apps.
    pub same_type_destination: bool,
    /// As a destination, the only source types it takes (empty: any), e.g.
    /// EventBridge takes Salesforce events only.
    pub only_from: &'static [ConnectorType],
}

/// Every trigger type.
pub const ALL_TRIGGERS: &[TriggerType] = &[TriggerType::OnDemand, TriggerType::Scheduled, TriggerType::Event];
/// On demand and scheduled (sources without change events).
pub const BATCH_TRIGGERS: &[TriggerType] = &[TriggerType::OnDemand, TriggerType::Scheduled];

/// The connectors of a build and the pairs they can run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    specs: Vec<ConnectorSpec>,
}

impl Catalog {
    /// A catalog of `specs`, in display order.
    pub fn new(specs: Vec<ConnectorSpec>) -> Self {
        Self { specs }
    }

    /// Every connector, in display order.
    pub fn specs(&self) -> &[ConnectorSpec] {
        &self.specs
    }

    /// The spec of a connector type, or `None` when this build has none.
    pub fn spec(&self, connector_type: ConnectorType) -> Option<&ConnectorSpec> {
        self.specs.iter().find(|c| c.connector_type == connector_type)
    }

    /// Comma-separated connector type names, for error messages.
    pub fn supported_names(&self) -> String {
        self.specs.iter().map(|c| c.connector_type.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Whether a flow from `source` to `destination` can run.
    pub fn can_run(&self, source: ConnectorType, destination: ConnectorType) -> bool {
        let (Some(from), Some(to)) = (self.spec(source), self.spec(destination)) else { return false };
        from.can_use_as_source
            && to.can_use_as_destination
            && (source != destination || from.same_type_destination)
            && (to.only_from.is_empty() || to.only_from.contains(&source))
    }

    /// Every pair that can run, sources in display order.
    pub fn pairs(&self) -> Vec<(ConnectorType, ConnectorType)> {
        let mut pairs = Vec::new();
        for source in &self.specs {
            for destination in &self.specs {
                if self.can_run(source.connector_type, destination.connector_type) {
                    pairs.push((source.connector_type, destination.connector_type));
                }
            }
        }
        pairs
    }

    /// The pairs as `A -> B, C -> D`, for error messages.
    pub fn pairs_text(&self) -> String {
        self.pairs().iter().map(|(from, to)| format!("{from} -> {to}")).collect::<Vec<_>>().join(", ")
    }

    /// The AppFlow `ConnectorConfiguration` describing one connector.
    pub fn configuration(&self, spec: &ConnectorSpec) -> ConnectorConfiguration {
        let destinations: Vec<ConnectorType> =
            self.pairs().into_iter().filter(|(from, _)| *from == spec.connector_type).map(|(_, to)| to).collect();
        ConnectorConfiguration {
            can_use_as_source: Some(spec.can_use_as_source),
            can_use_as_destination: Some(spec.can_use_as_destination),
            supported_destination_connectors: Some(destinations),
            supported_trigger_types: Some(spec.trigger_types.to_vec()),
            supported_write_operations: Some(spec.write_operations.to_vec()),
            is_private_link_enabled: Some(false),
            is_private_link_endpoint_url_required: Some(false),
            connector_type: Some(spec.connector_type),
            connector_name: Some(spec.connector_type.as_str().to_string()),
            connector_description: Some(spec.description.to_string()),
            connector_owner: Some("Sluice".to_string()),
            ..Default::default()
        }
    }
}

impl ConnectorSpec {
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
pub(crate) mod tests {
    use super::*;

    /// A catalog like a full build's: Salesforce and S3 both ways, and
    /// Marketo for profiles only.
    pub(crate) fn test_catalog() -> Catalog {
        let app = ConnectorSpec {
            connector_type: ConnectorType::Salesforce,
            description: "Salesforce",
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
            same_type_destination: false,
            only_from: &[],
        };
        let s3 = ConnectorSpec {
            connector_type: ConnectorType::S3,
            description: "object storage",
            requires_profile: false,
            trigger_types: BATCH_TRIGGERS,
            write_operations: &[WriteOperationType::Insert],
            union_member: "S3",
            same_type_destination: true,
            only_from: &[],
            ..app
        };
        let marketo = ConnectorSpec {
            connector_type: ConnectorType::Marketo,
            description: "Marketo",
            can_use_as_source: false,
            can_use_as_destination: false,
            trigger_types: &[],
            write_operations: &[],
            union_member: "Marketo",
            ..app
        };
        Catalog::new(vec![app, marketo, s3])
    }

    #[test]
    fn pairs_follow_the_specs() {
        let catalog = test_catalog();
        assert!(catalog.can_run(ConnectorType::Salesforce, ConnectorType::S3));
        assert!(catalog.can_run(ConnectorType::S3, ConnectorType::S3), "object storage to object storage");
        assert!(!catalog.can_run(ConnectorType::Salesforce, ConnectorType::Salesforce));
        assert!(!catalog.can_run(ConnectorType::Marketo, ConnectorType::S3), "profiles only");
        assert!(!catalog.can_run(ConnectorType::Zendesk, ConnectorType::S3));
        assert_eq!(catalog.pairs_text(), "Salesforce -> S3, S3 -> Salesforce, S3 -> S3");
        let salesforce = catalog.spec(ConnectorType::Salesforce).unwrap();
        let destinations = catalog.configuration(salesforce).supported_destination_connectors.unwrap();
        assert_eq!(destinations, [ConnectorType::S3]);
        assert!(catalog.spec(ConnectorType::Zendesk).is_none());
    }
}
