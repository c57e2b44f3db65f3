//! [`BucketStore`] on SQLite and PostgreSQL: a claim is an insert that
//! loses quietly to an earlier one, then a read of whoever won.

use sqlx::Row;

use crate::buckets::BucketStore;
use crate::sql::SqlStore;
use crate::StoreResult;

#[async_trait::async_trait]
impl BucketStore for SqlStore {
    async fn claim_bucket(&self, bucket: &str, account_id: &str, now_ms: i64) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO bucket_owners (bucket, account_id, created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (bucket) DO NOTHING",
        )
        .bind(bucket)
        .bind(account_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(self.bucket_owner(bucket).await?.unwrap_or_else(|| account_id.to_string()))
    }

    async fn bucket_owner(&self, bucket: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT account_id FROM bucket_owners WHERE bucket = $1")
            .bind(bucket)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("account_id")).transpose()?)
    }
}
