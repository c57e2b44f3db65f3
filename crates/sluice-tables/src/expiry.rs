//! Time to live: items whose TTL attribute (a number of epoch seconds) has
//! passed are deleted by the service, with a REMOVE stream record whose
//! `userIdentity` is DynamoDB's service principal; housekeeping runs the
//! sweep and trims streams past their retention.
//!
//! Several servers may sweep at once: each delete expects the version it
//! read, so an item is removed (and recorded) once.

use sluice_store::tables::TableRow;

use crate::error::TablesResult;
use crate::items::{cursor_of, Decision};
use crate::records::ChangeOrigin;
use crate::schema::{TableSchema, POINTS};
use crate::service::{decode_item, now_ms, LoadedTable, TableService};
use crate::value::{Item, Value};

/// Items read per page while sweeping.
const SWEEP_PAGE: usize = 500;
/// DynamoDB ignores expiry times more than five years in the past.
const FIVE_YEARS_SECONDS: i64 = 5 * 365 * 24 * 60 * 60;

/// Whether an item's TTL attribute says it has expired at `now_s`.
pub fn is_expired(item: &Item, attribute: &str, now_s: i64) -> bool {
    let Some(Value::N(number)) = item.get(attribute) else { return false };
    let Ok(expires) = number.canonical().parse::<f64>() else { return false };
    expires <= now_s as f64 && expires >= (now_s - FIVE_YEARS_SECONDS) as f64
}

impl TableService {
    /// Deletes every expired item of every table with time to live;
    /// returns how many went.
    pub async fn sweep_expired(&self) -> TablesResult<usize> {
        let mut removed = 0;
        for row in self.store.all_tables().await? {
            removed += self.sweep_table(row).await?;
        }
        Ok(removed)
    }

    async fn sweep_table(&self, row: TableRow) -> TablesResult<usize> {
        let schema = TableSchema::from_stored(&row.description)?;
        let Some(attribute) = schema.ttl_attribute.clone() else { return Ok(0) };
        let table = LoadedTable { row, schema };
        let now_s = now_ms() / 1000;
        let mut removed = 0;
        let mut after = None;
        loop {
            let page = self.store.scan_items(table.id(), None, (0, POINTS), after.as_ref(), SWEEP_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(cursor_of(last));
            for stored in &page {
                let item = decode_item(stored)?;
                if !is_expired(&item, &attribute, now_s) {
                    continue;
                }
                let key = table.schema.item_key(&item)?;
                let change = self
                    .mutate(&table, &key, ChangeOrigin::TimeToLive, |current| {
                        Ok(match current {
                            Some(current) if is_expired(current, &attribute, now_s) => Decision::Delete,
                            _ => Decision::Keep,
                        })
                    })
                    .await?;
                if change.old.is_some() && change.new.is_none() {
                    removed += 1;
                }
            }
            if page.len() < SWEEP_PAGE {
                break;
            }
        }
        if removed > 0 {
            tracing::info!(table = %table.name(), removed, "expired items deleted");
        }
        Ok(removed)
    }

    /// One round of housekeeping: expired items swept, stream records past
    /// retention trimmed. Returns (items removed, records trimmed).
    pub async fn housekeep(&self) -> TablesResult<(usize, u64)> {
        let removed = self.sweep_expired().await?;
        let trimmed = self.trim_streams().await?;
        Ok((removed, trimmed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_model::dynamodb::number::Number;

    #[test]
    fn expiry_reads_epoch_seconds_and_ignores_the_distant_past() {
        let item =
            |n: &str| -> Item { [("ttl".to_string(), Value::N(Number::parse(n).unwrap()))].into_iter().collect() };
        let now = 1_800_000_000;
        assert!(is_expired(&item("1799999999"), "ttl", now));
        assert!(is_expired(&item("1800000000"), "ttl", now));
        assert!(!is_expired(&item("1800000001"), "ttl", now));
        assert!(!is_expired(&item("1000"), "ttl", now), "more than five years ago");
        let text: Item = [("ttl".to_string(), Value::S("1".into()))].into_iter().collect();
        assert!(!is_expired(&text, "ttl", now), "only numbers expire");
        assert!(!is_expired(&item("1"), "other", now));
    }
}
