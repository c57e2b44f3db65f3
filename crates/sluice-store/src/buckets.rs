//! Owners of the embedded object storage's buckets: a bucket name belongs
//! to the first account that uses it.

use crate::StoreResult;

/// The store of bucket owners.
#[async_trait::async_trait]
pub trait BucketStore: Send + Sync {
    /// The owner of `bucket`, making it `account_id`'s if it has none yet.
    async fn claim_bucket(&self, bucket: &str, account_id: &str, now_ms: i64) -> StoreResult<String>;
    /// The owner of `bucket`, if it has one.
    async fn bucket_owner(&self, bucket: &str) -> StoreResult<Option<String>>;
}
