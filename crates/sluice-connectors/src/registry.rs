//! The explicit list of the connectors compiled into this build, and the
//! catalog built from it: DescribeConnectors, flow validation and the
//! engine all read this one list.

use std::sync::Arc;

use sluice_model::appflow::catalog::Catalog;
use sluice_model::appflow::{ConnectorType, ErrorHandlingConfig};

use crate::plane::{RefusedRecordSink, RunScope};
use crate::{ConnectorError, DynConnector};

/// Server-wide connector settings (not part of any profile or flow).
#[derive(Debug, Clone, Default)]
pub struct ConnectorSettings {
    /// The connected app Sluice refreshes Salesforce tokens with: the
    /// counterpart of AppFlow's own managed connected app.
    #[cfg(feature = "salesforce")]
    pub salesforce_app: Option<crate::salesforce::client::ClientApp>,
    /// Records per Salesforce Bulk API 2.0 ingest job at most (`None`: the
    /// default, 50,000).
    #[cfg(feature = "salesforce")]
    pub salesforce_bulk_job_records: Option<usize>,
    /// Which addresses the connectors may call for a profile (instance
    /// URLs, database hosts): strict by default; the server's
    /// `--allow-private-endpoints` lets loopback and private ones through.
    pub outbound: sluice_net::OutboundGuard,
    /// Where the S3 connector's buckets are (`None`: nowhere; flows using
    /// buckets fail saying so).
    #[cfg(feature = "s3")]
    pub buckets: Option<crate::s3::Buckets>,
    /// Where EventBridge destinations publish (`None`: such flows fail
    /// saying so).
    #[cfg(feature = "eventbridge")]
    pub partner_events: Option<Arc<dyn crate::eventbridge::PartnerEventBus>>,
}

/// The connectors of this build.
#[derive(Clone)]
pub struct Registry {
    connectors: Vec<Arc<dyn DynConnector>>,
    catalog: Catalog,
    #[cfg(feature = "s3")]
    buckets: Option<crate::s3::Buckets>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("catalog", &self.catalog.supported_names()).finish()
    }
}

impl Registry {
    /// Every connector compiled in, in display order, with the server's settings.
    pub fn new(settings: &ConnectorSettings) -> Self {
        let _ = settings;
        #[allow(unused_mut)]
        let mut connectors: Vec<Arc<dyn DynConnector>> = Vec::new();
        #[cfg(feature = "salesforce")]
        {
            let mut salesforce =
                crate::salesforce::SalesforceConnector::guarded(settings.salesforce_app.clone(), settings.outbound);
            if let Some(records) = settings.salesforce_bulk_job_records {
                salesforce = salesforce.with_bulk_job_records(records);
            }
            connectors.push(Arc::new(salesforce));
        }
        #[cfg(feature = "marketo")]
        connectors.push(Arc::new(crate::marketo::MarketoConnector::guarded(settings.outbound)));
        #[cfg(feature = "redshift")]
        connectors.push(Arc::new(crate::redshift::RedshiftConnector::guarded(settings.outbound)));
        #[cfg(feature = "s3")]
        connectors.push(Arc::new(crate::s3::S3Connector::new(settings.buckets.clone())));
        #[cfg(feature = "eventbridge")]
        connectors.push(Arc::new(crate::eventbridge::EventBridgeConnector::new(
            settings.partner_events.clone(),
            settings.buckets.clone(),
        )));
        let catalog = Catalog::new(connectors.iter().map(|c| c.spec()).collect());
        Self {
            connectors,
            catalog,
            #[cfg(feature = "s3")]
            buckets: settings.buckets.clone(),
        }
    }

    /// What the connectors can do and which pairs can run.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The connector for a type, if this build has one.
    pub fn connector(&self, connector_type: ConnectorType) -> Option<Arc<dyn DynConnector>> {
        self.connectors.iter().find(|c| c.spec().connector_type == connector_type).cloned()
    }

    /// Opens where a run keeps the records its destination refused
    /// (`errorHandlingConfig.bucketName`); `None` without a bucket.
    pub async fn open_error_file(
        &self,
        config: &ErrorHandlingConfig,
        columns: Vec<String>,
        scope: &RunScope,
    ) -> Result<Option<Box<dyn RefusedRecordSink>>, ConnectorError> {
        let Some(bucket) = config.bucket_name.as_deref() else { return Ok(None) };
        #[cfg(feature = "s3")]
        {
            let buckets = self
                .buckets
                .as_ref()
                .ok_or_else(|| ConnectorError::Invalid("this server has no object storage for error files".into()))?;
            buckets.check_owner(bucket, &scope.account_id).await?;
            let file = crate::s3::error_file::ErrorFile::open(
                buckets,
                bucket,
                config.bucket_prefix.as_deref(),
                columns,
                scope,
            )?;
            Ok(Some(Box::new(file)))
        }
        #[cfg(not(feature = "s3"))]
        {
            let _ = (columns, scope);
            Err(ConnectorError::Invalid(format!(
                "error files go to object storage (bucket '{bucket}'), which this build does not have"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_exactly_the_registered_connectors() {
        let registry = Registry::new(&ConnectorSettings::default());
        let listed: Vec<ConnectorType> = registry.catalog().specs().iter().map(|s| s.connector_type).collect();
        let registered: Vec<ConnectorType> = registry.connectors.iter().map(|c| c.spec().connector_type).collect();
        assert_eq!(listed, registered);
        for spec in registry.catalog().specs() {
            assert!(registry.connector(spec.connector_type).is_some());
        }
        assert!(registry.connector(ConnectorType::Zendesk).is_none());
    }

    #[cfg(all(feature = "salesforce", feature = "s3"))]
    #[test]
    fn salesforce_and_object_storage_run_both_ways() {
        let catalog = Registry::new(&ConnectorSettings::default()).catalog().clone();
        assert!(catalog.can_run(ConnectorType::Salesforce, ConnectorType::S3));
        assert!(catalog.can_run(ConnectorType::S3, ConnectorType::Salesforce));
        assert!(catalog.can_run(ConnectorType::S3, ConnectorType::S3));
        assert!(!catalog.can_run(ConnectorType::Salesforce, ConnectorType::Salesforce));
    }
}
