//! Documents the AppFlow API keeps in the metadata store. Each carries a
//! `version` so later releases can read what earlier ones wrote.

use serde::{Deserialize, Serialize};
use sluice_model::appflow::*;

fn version_1() -> u32 {
    1
}

/// A flow definition as stored (`flows.definition`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFlow {
    /// Document version.
    #[serde(default = "version_1")]
    pub version: u32,
    /// User description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// KMS key ARN given at creation (recorded, not used: the vault encrypts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_arn: Option<String>,
    /// Trigger settings.
    pub trigger_config: TriggerConfig,
    /// Source settings.
    pub source_flow_config: SourceFlowConfig,
    /// Destination settings.
    pub destination_flow_config_list: Vec<DestinationFlowConfig>,
    /// Tasks.
    pub tasks: Vec<Task>,
    /// Catalog settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_catalog_config: Option<MetadataCatalogConfig>,
    /// Who created the flow.
    pub created_by: String,
    /// Who last changed it.
    pub last_updated_by: String,
    /// Why a scheduled or event flow is suspended or errored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_status_message: Option<String>,
}

impl StoredFlow {
    /// Connector profiles the flow uses (source and destinations).
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.source_flow_config.connector_profile_name.iter().cloned().collect();
        names.extend(self.destination_flow_config_list.iter().filter_map(|d| d.connector_profile_name.clone()));
        names.sort();
        names.dedup();
        names
    }
}
