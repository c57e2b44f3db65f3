//! The table service: what DynamoDB's operations do, over the store.
//! Tables are loaded per request (a table's schema is one row), items are
//! read with their versions and written with optimistic commits that carry
//! their stream records (see [`sluice_store::tables`]).

use std::sync::Arc;

use sluice_model::dynamodb as wire;
use sluice_store::tables::{StoredItem, TableRow};
use sluice_store::MetadataStore;

use crate::error::{TablesError, TablesResult};
use crate::schema::TableSchema;
use crate::value::{item_from_wire, item_to_wire, Item};

/// How often a commit that lost a race is decided again before giving up.
pub(crate) const MAX_ATTEMPTS: usize = 20;

/// DynamoDB's tables and streams of one server; cheap to clone. Every
/// operation names the account it acts in.
#[derive(Clone)]
pub struct TableService {
    pub(crate) store: Arc<dyn MetadataStore>,
    pub(crate) region: String,
}

/// A table as a request sees it: its row and its schema.
#[derive(Debug, Clone)]
pub(crate) struct LoadedTable {
    pub row: TableRow,
    pub schema: TableSchema,
}

impl LoadedTable {
    /// The table's name.
    pub fn name(&self) -> &str {
        &self.row.name
    }

    /// The table's id (its items' key in the store).
    pub fn id(&self) -> &str {
        &self.row.table_id
    }
}

/// An item read from the store with the version it was written with.
#[derive(Debug, Clone)]
pub(crate) struct VersionedItem {
    pub item: Item,
    pub version: i64,
}

impl TableService {
    /// The service over `store`, naming `region` in its ARNs and records.
    pub fn new(store: Arc<dyn MetadataStore>, region: impl Into<String>) -> Self {
        Self { store, region: region.into() }
    }

    /// The region of the service's ARNs.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// A table's ARN.
    pub(crate) fn table_arn(&self, account_id: &str, name: &str) -> String {
        format!("arn:aws:dynamodb:{}:{account_id}:table/{name}", self.region)
    }

    /// A table, or `ResourceNotFoundException` in the words item operations use.
    pub(crate) async fn table(&self, account_id: &str, name: &str) -> TablesResult<LoadedTable> {
        self.find_table(account_id, name)
            .await?
            .ok_or_else(|| TablesError::ResourceNotFound("Requested resource not found".into()))
    }

    /// A table by name or ARN (TableName accepts both), if it exists.
    pub(crate) async fn find_table(&self, account_id: &str, name: &str) -> TablesResult<Option<LoadedTable>> {
        let (account_id, name) = match parse_table_arn(name) {
            Some((account, table)) => (account, table),
            None => (account_id, name),
        };
        let Some(row) = self.store.get_table(account_id, name).await? else {
            return Ok(None);
        };
        let schema = TableSchema::from_stored(&row.description)?;
        Ok(Some(LoadedTable { row, schema }))
    }
}

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME` -> (account, name).
pub(crate) fn parse_table_arn(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("arn:")?;
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 || parts[1] != "dynamodb" {
        return None;
    }
    let name = parts[4].strip_prefix("table/")?;
    Some((parts[3], name.split('/').next().unwrap_or(name)))
}

/// The item of a stored row (items are stored as their wire JSON).
pub(crate) fn decode_item(stored: &StoredItem) -> TablesResult<Item> {
    decode_item_text(&stored.item)
}

/// An item from its stored wire JSON.
pub(crate) fn decode_item_text(text: &str) -> TablesResult<Item> {
    let wire: std::collections::BTreeMap<String, wire::AttributeValue> =
        serde_json::from_str(text).map_err(|e| TablesError::Internal(format!("a stored item does not decode: {e}")))?;
    item_from_wire(&wire)
}

/// An item's stored form.
pub(crate) fn encode_item(item: &Item) -> String {
    serde_json::to_string(&item_to_wire(item)).expect("items serialize")
}

/// Whether two items hold the same attributes with equal values.
pub(crate) fn items_equal(a: &Item, b: &Item) -> bool {
    a.len() == b.len() && a.iter().zip(b.iter()).all(|((ka, va), (kb, vb))| ka == kb && va.equals(vb))
}

/// A fresh item version: random, so a deleted and re-created item never
/// carries the version a writer read before.
pub(crate) fn new_version() -> i64 {
    (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64
}

pub(crate) use sluice_store::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_arns_name_account_and_table() {
        assert_eq!(parse_table_arn("arn:aws:dynamodb:us-east-1:111111111111:table/t1"), Some(("111111111111", "t1")));
        assert_eq!(
            parse_table_arn("arn:aws:dynamodb:us-east-1:111111111111:table/t1/stream/2026"),
            Some(("111111111111", "t1"))
        );
        assert_eq!(parse_table_arn("t1"), None);
        assert_eq!(parse_table_arn("arn:aws:sqs:us-east-1:111111111111:q"), None);
    }
}
