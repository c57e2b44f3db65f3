//! A flow's definition as Sluice keeps it: the domain document the API,
//! the engine and the service layer share, stored in the metadata store as
//! JSON with a `version`, so later releases can read what earlier ones wrote.

use serde::{Deserialize, Serialize};

use super::types::*;

fn version_1() -> u32 {
    1
}

/// A flow definition as stored (`flows.definition`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowSpec {
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
    #[serde(default)]
    pub created_by: String,
    /// Who last changed it.
    #[serde(default)]
    pub last_updated_by: String,
    /// Why a scheduled or event flow is suspended or errored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_status_message: Option<String>,
}

impl FlowSpec {
    /// The source's `object` (or `bucketName`), whichever connector it is.
    pub fn source_object(&self) -> Option<String> {
        let properties = serde_json::to_value(&self.source_flow_config.source_connector_properties).ok()?;
        first_object(&properties)
    }

    /// The destination's `object` (or `bucketName`), whichever connector it is.
    pub fn destination_object(&self) -> Option<String> {
        let first = self.destination_flow_config_list.first()?;
        let properties = serde_json::to_value(&first.destination_connector_properties).ok()?;
        first_object(&properties)
    }

    /// The stored document, parsed.
    pub fn from_document(document: &serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(document.clone()).map_err(|e| format!("the stored flow definition is unreadable: {e}"))
    }

    /// The document to store.
    pub fn to_document(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The flow's destination (AppFlow flows have exactly one).
    pub fn destination(&self) -> Option<&DestinationFlowConfig> {
        self.destination_flow_config_list.first()
    }

    /// Connector profiles the flow uses (source and destinations).
    pub fn profile_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.source_flow_config.connector_profile_name.iter().cloned().collect();
        names.extend(self.destination_flow_config_list.iter().filter_map(|d| d.connector_profile_name.clone()));
        names.sort();
        names.dedup();
        names
    }
}

/// The `object` (or `bucketName`) of whichever connector member is set.
fn first_object(properties: &serde_json::Value) -> Option<String> {
    let member = properties.as_object()?.values().find(|v| !v.is_null())?;
    member.get("object").or_else(|| member.get("bucketName")).and_then(serde_json::Value::as_str).map(str::to_string)
}
