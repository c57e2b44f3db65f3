//! A table's schema as the service keeps it (key schema, attribute types,
//! secondary indexes, stream and TTL settings, tags), built from
//! CreateTable with DynamoDB's checks and rendered back as DynamoDB's
//! `TableDescription`; and the keys of items under that schema.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sluice_model::dynamodb as wire;
use sluice_model::wire::EpochSeconds;

use crate::error::{TablesError, TablesResult};
use crate::value::{Item, Value};

/// Largest hash key value (bytes).
const MAX_HASH_KEY_BYTES: usize = 2048;
/// Largest range key value (bytes).
const MAX_RANGE_KEY_BYTES: usize = 1024;
/// Most secondary indexes of each kind per table.
const MAX_INDEXES: usize = 20;
/// Most local secondary indexes per table.
const MAX_LOCAL_INDEXES: usize = 5;

/// One key attribute: its name and scalar type (`S`, `N` or `B`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyAttribute {
    /// The attribute's name.
    pub name: String,
    /// `S`, `N` or `B`.
    pub kind: String,
}

/// A key schema: a hash key and maybe a range key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySchema {
    /// The partition key.
    pub hash: KeyAttribute,
    /// The sort key.
    pub range: Option<KeyAttribute>,
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSchema {
    /// The index's name.
    pub name: String,
    /// Its key schema.
    pub key: KeySchema,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection: String,
    /// The attributes an `INCLUDE` projection adds.
    pub non_key_attributes: Vec<String>,
    /// Whether it is global (else local).
    pub global: bool,
}

/// A table's stream as enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamState {
    /// `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or `NEW_AND_OLD_IMAGES`.
    pub view_type: String,
    /// The stream's label (creation time, ISO 8601).
    pub label: String,
    /// The stream's ARN.
    pub arn: String,
}

/// Everything the service keeps about a table (stored as JSON, `v` 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Format version of this document.
    pub v: u32,
    /// The table's ARN.
    pub arn: String,
    /// Its key schema.
    pub key: KeySchema,
    /// Its attribute definitions (name, type), as given.
    pub attributes: Vec<KeyAttribute>,
    /// Its secondary indexes, local then global.
    pub indexes: Vec<IndexSchema>,
    /// `PROVISIONED` or `PAY_PER_REQUEST`.
    pub billing_mode: String,
    /// Read and write capacity units (provisioned mode).
    pub throughput: Option<(i64, i64)>,
    /// The current stream, when enabled.
    pub stream: Option<StreamState>,
    /// The TTL attribute, when time to live is enabled.
    pub ttl_attribute: Option<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Whether DeleteTable is refused.
    pub deletion_protection: bool,
}

fn key_schema(elements: &[wire::KeySchemaElement], attributes: &[KeyAttribute], what: &str) -> TablesResult<KeySchema> {
    let find = |name: &str| attributes.iter().find(|a| a.name == name).cloned();
    let Some(first) = elements.first() else {
        return Err(TablesError::validation(format!("Invalid KeySchema: {what} must have a HASH key")));
    };
    if first.key_type != wire::KeyType::Hash {
        return Err(TablesError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type"));
    }
    if elements.len() > 2 {
        return Err(TablesError::validation("Invalid KeySchema: Too many KeySchemaElements"));
    }
    if let Some(second) = elements.get(1) {
        if second.key_type != wire::KeyType::Range {
            return Err(TablesError::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
        if second.attribute_name == first.attribute_name {
            return Err(TablesError::validation(
                "Invalid KeySchema: Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
    }
    let missing: Vec<&str> =
        elements.iter().map(|e| e.attribute_name.as_str()).filter(|name| find(name).is_none()).collect();
    if !missing.is_empty() {
        let defined: Vec<&str> = attributes.iter().map(|a| a.name.as_str()).collect();
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: Some index key attributes are not defined in \
             AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            missing.join(", "),
            defined.join(", ")
        )));
    }
    Ok(KeySchema {
        hash: find(&first.attribute_name).expect("checked above"),
        range: elements.get(1).map(|e| find(&e.attribute_name).expect("checked above")),
    })
}

fn index_schema(
    name: &str,
    elements: &[wire::KeySchemaElement],
    projection: &wire::Projection,
    attributes: &[KeyAttribute],
    global: bool,
) -> TablesResult<IndexSchema> {
    let key = key_schema(elements, attributes, "an index")?;
    let projection_type = projection.projection_type.map(|p| p.as_str()).unwrap_or("");
    let non_key_attributes = projection.non_key_attributes.clone().unwrap_or_default();
    match projection_type {
        "ALL" | "KEYS_ONLY" if !non_key_attributes.is_empty() => {
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: ProjectionType is {projection_type}, but NonKeyAttributes is specified"
            )));
        }
        "ALL" | "KEYS_ONLY" | "INCLUDE" => {}
        _ => {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Unknown ProjectionType: null",
            ))
        }
    }
    Ok(IndexSchema { name: name.to_string(), key, projection: projection_type.to_string(), non_key_attributes, global })
}

impl TableSchema {
    /// The schema CreateTable asks for, checked as DynamoDB checks it.
    pub fn from_create(input: &wire::CreateTableInput, arn: String) -> TablesResult<Self> {
        let attributes: Vec<KeyAttribute> = input
            .attribute_definitions
            .iter()
            .flatten()
            .map(|a| KeyAttribute { name: a.attribute_name.clone(), kind: a.attribute_type.as_str().to_string() })
            .collect();
        for (i, a) in attributes.iter().enumerate() {
            if attributes[..i].iter().any(|b| b.name == a.name) {
                return Err(TablesError::validation(format!(
                    "Cannot have two attributes with the same name. Attribute name: {}",
                    a.name
                )));
            }
        }
        let Some(elements) = &input.key_schema else {
            return Err(TablesError::validation(
                "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null",
            ));
        };
        let key = key_schema(elements, &attributes, "the table")?;
        let mut indexes = Vec::new();
        let locals = input.local_secondary_indexes.as_deref().unwrap_or_default();
        if locals.len() > MAX_LOCAL_INDEXES {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Number of LocalSecondaryIndexes exceeds per-table limit of 5",
            ));
        }
        for lsi in locals {
            if key.range.is_none() {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: Table KeySchema does not have a range key, which is \
                     required when specifying a LocalSecondaryIndex",
                ));
            }
            let index = index_schema(&lsi.index_name, &lsi.key_schema, &lsi.projection, &attributes, false)?;
            if index.key.hash != key.hash {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Index KeySchema does not have the same leading hash key \
                     as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
                    index.name, index.key.hash.name, key.hash.name
                )));
            }
            if index.key.range.is_none() {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Index KeySchema does not have a range key for index: {}",
                    index.name
                )));
            }
            indexes.push(index);
        }
        let globals = input.global_secondary_indexes.as_deref().unwrap_or_default();
        if globals.len() > MAX_INDEXES {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table limit of 20",
            ));
        }
        for gsi in globals {
            indexes.push(index_schema(&gsi.index_name, &gsi.key_schema, &gsi.projection, &attributes, true)?);
        }
        for (i, index) in indexes.iter().enumerate() {
            if indexes[..i].iter().any(|other| other.name == index.name) {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Duplicate index name: {}",
                    index.name
                )));
            }
        }
        let used = |name: &str| {
            key.hash.name == name
                || key.range.as_ref().is_some_and(|r| r.name == name)
                || indexes
                    .iter()
                    .any(|i| i.key.hash.name == name || i.key.range.as_ref().is_some_and(|r| r.name == name))
        };
        if attributes.iter().any(|a| !used(&a.name)) {
            return Err(TablesError::validation(
                "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match \
                 number of attributes defined in AttributeDefinitions",
            ));
        }
        let billing_mode = input.billing_mode.map(|b| b.as_str()).unwrap_or("PROVISIONED").to_string();
        let throughput = input.provisioned_throughput.as_ref().map(|t| (t.read_capacity_units, t.write_capacity_units));
        match (billing_mode.as_str(), throughput) {
            ("PROVISIONED", None) => {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be \
                     specified when BillingMode is PROVISIONED",
                ))
            }
            ("PAY_PER_REQUEST", Some(_)) => return Err(TablesError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be \
                     specified when BillingMode is PAY_PER_REQUEST",
            )),
            _ => {}
        }
        Ok(Self {
            v: 1,
            arn,
            key,
            attributes,
            indexes,
            billing_mode,
            throughput,
            stream: None,
            ttl_attribute: None,
            tags: input.tags.iter().flatten().map(|t| (t.key.clone(), t.value.clone())).collect(),
            deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
        })
    }

    /// The schema stored in a table's row.
    pub fn from_stored(description: &serde_json::Value) -> TablesResult<Self> {
        serde_json::from_value(description.clone())
            .map_err(|e| TablesError::Internal(format!("a stored table description does not decode: {e}")))
    }

    /// The schema as a table's row stores it.
    pub fn to_stored(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("schemas serialize")
    }

    /// A global secondary index added by UpdateTable, checked as CreateTable
    /// checks its indexes.
    pub fn global_index(
        name: &str,
        elements: &[wire::KeySchemaElement],
        projection: &wire::Projection,
        attributes: &[KeyAttribute],
    ) -> TablesResult<IndexSchema> {
        index_schema(name, elements, projection, attributes, true)
    }

    /// The index of that name.
    pub fn index(&self, name: &str) -> Option<&IndexSchema> {
        self.indexes.iter().find(|i| i.name == name)
    }

    /// Whether `name` is an attribute of the table's key.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.key.hash.name == name || self.key.range.as_ref().is_some_and(|r| r.name == name)
    }

    /// The key attributes of the table and of every index (what a
    /// `KEYS_ONLY` projection keeps, with the index's own).
    pub fn table_key_names(&self) -> Vec<&str> {
        let mut names = vec![self.key.hash.name.as_str()];
        if let Some(range) = &self.key.range {
            names.push(&range.name);
        }
        names
    }

    /// The key of an item being written (PutItem's Item, a new item from
    /// UpdateItem's Key), with DynamoDB's messages for missing or mistyped
    /// key attributes.
    pub fn item_key(&self, item: &Item) -> TablesResult<ItemKey> {
        let part = |attribute: &KeyAttribute, limit: usize| -> TablesResult<Vec<u8>> {
            let Some(value) = item.get(&attribute.name) else {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Missing the key {} in the item",
                    attribute.name
                )));
            };
            if value.type_name() != attribute.kind {
                return Err(TablesError::validation(format!(
                    "One or more parameter values were invalid: Type mismatch for key {} expected: {} actual: {}",
                    attribute.name,
                    attribute.kind,
                    value.type_name()
                )));
            }
            key_part(&attribute.name, value, limit)
        };
        let hash = part(&self.key.hash, MAX_HASH_KEY_BYTES)?;
        let range = match &self.key.range {
            Some(attribute) => part(attribute, MAX_RANGE_KEY_BYTES)?,
            None => Vec::new(),
        };
        Ok(ItemKey::new(hash, range))
    }

    /// The key a request names (GetItem's and DeleteItem's `Key`): exactly
    /// the key attributes with their types, else DynamoDB's
    /// "The provided key element does not match the schema".
    pub fn request_key(&self, key: &Item) -> TablesResult<ItemKey> {
        let mismatch = || TablesError::validation("The provided key element does not match the schema");
        let expected = 1 + usize::from(self.key.range.is_some());
        if key.len() != expected {
            return Err(mismatch());
        }
        let part = |attribute: &KeyAttribute, limit: usize| -> TablesResult<Vec<u8>> {
            let value = key.get(&attribute.name).ok_or_else(mismatch)?;
            if value.type_name() != attribute.kind {
                return Err(mismatch());
            }
            key_part(&attribute.name, value, limit)
        };
        let hash = part(&self.key.hash, MAX_HASH_KEY_BYTES)?;
        let range = match &self.key.range {
            Some(attribute) => part(attribute, MAX_RANGE_KEY_BYTES)?,
            None => Vec::new(),
        };
        Ok(ItemKey::new(hash, range))
    }

    /// The key attributes of an item (its `Keys` in a stream record, the
    /// `LastEvaluatedKey` of a table listing).
    pub fn key_of(&self, item: &Item) -> Item {
        let mut key = Item::new();
        for name in self.table_key_names() {
            if let Some(value) = item.get(name) {
                key.insert(name.to_string(), value.clone());
            }
        }
        key
    }

    /// The entries of an item in the table's indexes: none for an index
    /// whose key attributes the item lacks (indexes are sparse); an index
    /// key of the wrong type is refused.
    pub fn index_entries(&self, item: &Item) -> TablesResult<Vec<(String, ItemKey, Item)>> {
        let mut entries = Vec::new();
        for index in &self.indexes {
            let mut parts = Vec::new();
            for attribute in std::iter::once(&index.key.hash).chain(index.key.range.iter()) {
                match item.get(&attribute.name) {
                    None => break,
                    Some(value) if value.type_name() != attribute.kind => {
                        return Err(TablesError::validation(format!(
                            "One or more parameter values were invalid: Type mismatch for Index Key {} Expected: {} \
                             Actual: {} IndexName: {}",
                            attribute.name,
                            attribute.kind,
                            value.type_name(),
                            index.name
                        )));
                    }
                    Some(value) => parts.push(key_part(&attribute.name, value, MAX_HASH_KEY_BYTES)?),
                }
            }
            if parts.len() < 1 + usize::from(index.key.range.is_some()) {
                continue;
            }
            let range = parts.get(1).cloned().unwrap_or_default();
            let key = ItemKey::new(parts.swap_remove(0), range);
            entries.push((index.name.clone(), key, self.project_for_index(index, item)));
        }
        Ok(entries)
    }

    /// What an index keeps of an item (its projection).
    pub fn project_for_index(&self, index: &IndexSchema, item: &Item) -> Item {
        if index.projection == "ALL" {
            return item.clone();
        }
        item.iter()
            .filter(|(name, _)| {
                self.is_key_attribute(name)
                    || index.key.hash.name == **name
                    || index.key.range.as_ref().is_some_and(|r| r.name == **name)
                    || index.non_key_attributes.iter().any(|n| n == *name)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// DynamoDB's `TableDescription` of this table.
    pub fn describe(
        &self,
        name: &str,
        table_id: &str,
        created_at_ms: i64,
        status: wire::TableStatus,
        usage: (i64, i64),
    ) -> wire::TableDescription {
        let key_elements = |key: &KeySchema| {
            let mut elements =
                vec![wire::KeySchemaElement { attribute_name: key.hash.name.clone(), key_type: wire::KeyType::Hash }];
            if let Some(range) = &key.range {
                elements.push(wire::KeySchemaElement {
                    attribute_name: range.name.clone(),
                    key_type: wire::KeyType::Range,
                });
            }
            elements
        };
        let projection = |index: &IndexSchema| wire::Projection {
            projection_type: wire::ProjectionType::ALL.iter().copied().find(|p| p.as_str() == index.projection),
            non_key_attributes: (!index.non_key_attributes.is_empty()).then(|| index.non_key_attributes.clone()),
        };
        let throughput = wire::ProvisionedThroughputDescription {
            number_of_decreases_today: Some(0),
            read_capacity_units: Some(self.throughput.map(|t| t.0).unwrap_or(0)),
            write_capacity_units: Some(self.throughput.map(|t| t.1).unwrap_or(0)),
            ..Default::default()
        };
        let locals: Vec<wire::LocalSecondaryIndexDescription> = self
            .indexes
            .iter()
            .filter(|i| !i.global)
            .map(|i| wire::LocalSecondaryIndexDescription {
                index_name: Some(i.name.clone()),
                key_schema: Some(key_elements(&i.key)),
                projection: Some(projection(i)),
                index_size_bytes: Some(0),
                item_count: Some(0),
                index_arn: Some(format!("{}/index/{}", self.arn, i.name)),
            })
            .collect();
        let globals: Vec<wire::GlobalSecondaryIndexDescription> = self
            .indexes
            .iter()
            .filter(|i| i.global)
            .map(|i| wire::GlobalSecondaryIndexDescription {
                index_name: Some(i.name.clone()),
                key_schema: Some(key_elements(&i.key)),
                projection: Some(projection(i)),
                index_status: Some(wire::IndexStatus::Active),
                provisioned_throughput: Some(throughput.clone()),
                index_size_bytes: Some(0),
                item_count: Some(0),
                index_arn: Some(format!("{}/index/{}", self.arn, i.name)),
                ..Default::default()
            })
            .collect();
        wire::TableDescription {
            attribute_definitions: Some(
                self.attributes
                    .iter()
                    .map(|a| wire::AttributeDefinition {
                        attribute_name: a.name.clone(),
                        attribute_type: scalar_type(&a.kind),
                    })
                    .collect(),
            ),
            table_name: Some(name.to_string()),
            key_schema: Some(key_elements(&self.key)),
            table_status: Some(status),
            creation_date_time: Some(EpochSeconds::from_millis(created_at_ms)),
            provisioned_throughput: Some(throughput),
            table_size_bytes: Some(usage.1),
            item_count: Some(usage.0),
            table_arn: Some(self.arn.clone()),
            table_id: Some(table_id.to_string()),
            billing_mode_summary: Some(wire::BillingModeSummary {
                billing_mode: wire::BillingMode::ALL.iter().copied().find(|b| b.as_str() == self.billing_mode),
                last_update_to_pay_per_request_date_time: (self.billing_mode == "PAY_PER_REQUEST")
                    .then(|| EpochSeconds::from_millis(created_at_ms)),
            }),
            local_secondary_indexes: (!locals.is_empty()).then_some(locals),
            global_secondary_indexes: (!globals.is_empty()).then_some(globals),
            stream_specification: self.stream.as_ref().map(|s| wire::StreamSpecification {
                stream_enabled: true,
                stream_view_type: wire::StreamViewType::ALL.iter().copied().find(|v| v.as_str() == s.view_type),
            }),
            latest_stream_label: self.stream.as_ref().map(|s| s.label.clone()),
            latest_stream_arn: self.stream.as_ref().map(|s| s.arn.clone()),
            deletion_protection_enabled: Some(self.deletion_protection),
            ..Default::default()
        }
    }
}

fn scalar_type(kind: &str) -> wire::ScalarAttributeType {
    match kind {
        "N" => wire::ScalarAttributeType::N,
        "B" => wire::ScalarAttributeType::B,
        _ => wire::ScalarAttributeType::S,
    }
}

fn key_part(name: &str, value: &Value, limit: usize) -> TablesResult<Vec<u8>> {
    let bytes = value.key_bytes().ok_or_else(|| {
        TablesError::validation(format!("One or more parameter values were invalid: Type mismatch for key {name}"))
    })?;
    if bytes.is_empty() {
        let kind = if matches!(value, Value::B(_)) { "binary" } else { "string" };
        return Err(TablesError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an \
             empty {kind} value. Key: {name}"
        )));
    }
    if bytes.len() > limit {
        let which = if limit == MAX_HASH_KEY_BYTES { "hashkey" } else { "rangekey" };
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: Size of {which} has exceeded the maximum size limit of{limit} bytes"
        )));
    }
    Ok(bytes)
}

/// An item's key as the store keeps it: order bytes of the hash and range
/// values, and the hash key's point in scan order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    /// The hash value's order bytes.
    pub hash: Vec<u8>,
    /// The range value's order bytes (empty without a range key).
    pub range: Vec<u8>,
    /// Where the hash key falls in scan order (FNV-1a of its bytes).
    pub point: i64,
}

impl ItemKey {
    /// The key of these order bytes.
    pub fn new(hash: Vec<u8>, range: Vec<u8>) -> Self {
        let point = hash_point(&hash);
        Self { hash, range, point }
    }
}

/// Scan points run from 0 to 2^32 - 1.
pub const POINTS: i64 = 1 << 32;

/// A hash key's point in scan order: FNV-1a (32 bits) of its bytes, so
/// scans and their segments spread over keys as DynamoDB's partitions do.
pub fn hash_point(bytes: &[u8]) -> i64 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in bytes {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i64::from(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: serde_json::Value) -> TablesResult<TableSchema> {
        let input: wire::CreateTableInput = serde_json::from_value(json).unwrap();
        TableSchema::from_create(&input, "arn:aws:dynamodb:us-east-1:111111111111:table/t".into())
    }

    fn simple() -> TableSchema {
        create(serde_json::json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "g", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}]}))
        .unwrap()
    }

    #[test]
    fn create_table_checks_keys_attributes_and_billing() {
        let message = |json| create(json).unwrap_err().to_string();
        assert!(message(serde_json::json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "x", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}))
        .contains(
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [id], AttributeDefinitions: [x]"
        ));
        assert!(message(serde_json::json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "x", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}))
        .contains("Number of attributes in KeySchema does not exactly match"));
        assert!(message(serde_json::json!({"TableName": "t",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}))
        .contains("must both be specified when BillingMode is PROVISIONED"));
        assert!(message(serde_json::json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "RANGE"}]}))
        .contains("The first KeySchemaElement is not a HASH key type"));
    }

    #[test]
    fn keys_come_from_items_and_requests() {
        let schema = simple();
        let item = |json: serde_json::Value| -> Item {
            let wire: BTreeMap<String, wire::AttributeValue> = serde_json::from_value(json).unwrap();
            crate::value::item_from_wire(&wire).unwrap()
        };
        let key =
            schema.item_key(&item(serde_json::json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}))).unwrap();
        assert_eq!(key.hash, b"a");
        assert!(schema
            .item_key(&item(serde_json::json!({"pk": {"S": "a"}})))
            .unwrap_err()
            .to_string()
            .contains("Missing the key sk in the item"));
        assert!(schema
            .item_key(&item(serde_json::json!({"pk": {"N": "1"}, "sk": {"N": "1"}})))
            .unwrap_err()
            .to_string()
            .contains("Type mismatch for key pk expected: S actual: N"));
        assert!(schema
            .item_key(&item(serde_json::json!({"pk": {"S": ""}, "sk": {"N": "1"}})))
            .unwrap_err()
            .to_string()
            .contains("cannot contain an empty string value. Key: pk"));
        assert_eq!(
            schema.request_key(&item(serde_json::json!({"pk": {"S": "a"}}))).unwrap_err().to_string(),
            "The provided key element does not match the schema"
        );
        // Sparse index: no `g`, no entry; KEYS_ONLY keeps the keys.
        assert!(schema
            .index_entries(&item(serde_json::json!({"pk": {"S": "a"}, "sk": {"N": "1"}})))
            .unwrap()
            .is_empty());
        let entries = schema
            .index_entries(&item(
                serde_json::json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": "z"}, "x": {"S": "y"}}),
            ))
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].2.keys().collect::<Vec<_>>(), ["g", "pk", "sk"]);
    }
}
