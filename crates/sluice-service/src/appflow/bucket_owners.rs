//! Owners of the embedded object storage's buckets, kept in the store: the
//! S3 connector, error files and EventBridge's large events use a bucket
//! only for a run of its owner's flows (a bucket nobody owns yet becomes
//! the account's that uses it first).

use std::sync::Arc;

use sluice_connectors::s3::BucketOwners;
use sluice_connectors::ConnectorError;
use sluice_store::MetadataStore;

/// Bucket owners in `store`.
#[derive(Clone)]
pub struct StoreBucketOwners {
    store: Arc<dyn MetadataStore>,
}

impl std::fmt::Debug for StoreBucketOwners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBucketOwners").finish_non_exhaustive()
    }
}

impl StoreBucketOwners {
    /// Owners kept in `store`.
    pub fn new(store: Arc<dyn MetadataStore>) -> Self {
        Self { store }
    }

    /// Gives the buckets that exist and have no owner (made before buckets
    /// had owners) to `account_id`; how many there were.
    pub async fn adopt(&self, buckets: &[String], account_id: &str) -> Result<usize, ConnectorError> {
        let mut adopted = 0;
        for bucket in buckets {
            if self.store.bucket_owner(bucket).await.map_err(store_error)?.is_none() {
                self.store.claim_bucket(bucket, account_id, sluice_engine::now_ms()).await.map_err(store_error)?;
                adopted += 1;
            }
        }
        Ok(adopted)
    }
}

fn store_error(error: sluice_store::StoreError) -> ConnectorError {
    ConnectorError::Unreachable { system: "metadata store", message: error.to_string() }
}

#[async_trait::async_trait]
impl BucketOwners for StoreBucketOwners {
    async fn claim(&self, bucket: &str, account_id: &str) -> Result<String, ConnectorError> {
        self.store.claim_bucket(bucket, account_id, sluice_engine::now_ms()).await.map_err(store_error)
    }
}
