//! Tags of flows and connector profiles (at most 50 per resource).

use std::collections::BTreeMap;

use sluice_model::arn::{parse_appflow_arn, AppflowResourceKind};

use super::AppflowService;
use crate::ServiceError;

/// Most tags one resource can have.
pub const MAX_TAGS: usize = 50;

impl AppflowService {
    /// The ARN of an existing flow or profile of this account and region.
    pub async fn tagged_resource(&self, arn: &str) -> Result<String, ServiceError> {
        let parsed = parse_appflow_arn(arn)
            .ok_or_else(|| ServiceError::invalid(format!("'{arn}' is not an AppFlow flow or connector profile ARN")))?;
        let missing = || ServiceError::NotFound(format!("resource '{arn}' does not exist"));
        if parsed.region != self.region || parsed.account_id != self.account_id {
            return Err(missing());
        }
        let exists = match parsed.kind {
            AppflowResourceKind::Flow => self.store.get_flow(&parsed.name).await?.is_some_and(|f| f.arn == arn),
            AppflowResourceKind::ConnectorProfile => {
                self.store.get_profile(&parsed.name).await?.is_some_and(|p| p.arn == arn)
            }
        };
        if !exists {
            return Err(missing());
        }
        Ok(arn.to_string())
    }

    /// ListTagsForResource.
    pub async fn list_tags(&self, arn: &str) -> Result<BTreeMap<String, String>, ServiceError> {
        let arn = self.tagged_resource(arn).await?;
        Ok(self.store.get_tags(&arn).await?)
    }

    /// TagResource: adds or overwrites tags, refused beyond [`MAX_TAGS`].
    pub async fn tag(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), ServiceError> {
        let arn = self.tagged_resource(arn).await?;
        let mut merged = self.store.get_tags(&arn).await?;
        merged.extend(tags.clone());
        if merged.len() > MAX_TAGS {
            return Err(ServiceError::invalid(format!(
                "a resource can have at most {MAX_TAGS} tags; this request would leave {}",
                merged.len()
            )));
        }
        Ok(self.store.put_tags(&arn, tags).await?)
    }

    /// UntagResource.
    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<(), ServiceError> {
        let arn = self.tagged_resource(arn).await?;
        Ok(self.store.remove_tags(&arn, keys).await?)
    }
}
