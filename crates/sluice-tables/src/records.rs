//! Stream records in DynamoDB Streams' shape, built when a change commits
//! and stored with it (without their sequence number, which the store
//! assigns and the reader adds).

use serde_json::{json, Value as Json};
use sluice_store::tables::StreamAppend;

use crate::schema::TableSchema;
use crate::service::{items_equal, LoadedTable};
use crate::value::{item_size, item_to_wire, Item};

/// Who made a change, when it was not a client: the TTL sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOrigin {
    /// A request of a client.
    Client,
    /// Time to live expired the item (DynamoDB's service identity).
    TimeToLive,
}

/// The stream record of a change from `old` to `new` on a table with a
/// stream, or `None` when the table has none or nothing changed.
pub(crate) fn stream_record(
    table: &LoadedTable,
    region: &str,
    old: Option<&Item>,
    new: Option<&Item>,
    at_ms: i64,
    origin: ChangeOrigin,
) -> Option<StreamAppend> {
    let stream = table.schema.stream.as_ref()?;
    let record = record_json(&table.schema, region, &stream.view_type, old, new, at_ms, origin)?;
    Some(StreamAppend {
        table_id: table.id().to_string(),
        stream_label: stream.label.clone(),
        created_at_ms: at_ms,
        record: record.to_string(),
    })
}

fn record_json(
    schema: &TableSchema,
    region: &str,
    view_type: &str,
    old: Option<&Item>,
    new: Option<&Item>,
    at_ms: i64,
    origin: ChangeOrigin,
) -> Option<Json> {
    let event_name = match (old, new) {
        (None, None) => return None,
        (Some(a), Some(b)) if items_equal(a, b) => return None,
        (None, Some(_)) => "INSERT",
        (Some(_), Some(_)) => "MODIFY",
        (Some(_), None) => "REMOVE",
    };
    let keys = schema.key_of(new.or(old).expect("one image exists"));
    let new_image = new.filter(|_| matches!(view_type, "NEW_IMAGE" | "NEW_AND_OLD_IMAGES"));
    let old_image = old.filter(|_| matches!(view_type, "OLD_IMAGE" | "NEW_AND_OLD_IMAGES"));
    let size = item_size(&keys) + new_image.map(item_size).unwrap_or(0) + old_image.map(item_size).unwrap_or(0);
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": at_ms / 1000,
        "Keys": item_to_wire(&keys),
        "SizeBytes": size,
        "StreamViewType": view_type,
    });
    if let Some(image) = new_image {
        dynamodb["NewImage"] = json!(item_to_wire(image));
    }
    if let Some(image) = old_image {
        dynamodb["OldImage"] = json!(item_to_wire(image));
    }
    let mut record = json!({
        "eventID": uuid::Uuid::new_v4().simple().to_string(),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
    });
    if origin == ChangeOrigin::TimeToLive {
        record["userIdentity"] = json!({"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"});
    }
    Some(record)
}

/// A sequence number as DynamoDB Streams writes them: decimal digits, of
/// one width so they also sort as text.
pub fn sequence_number(seq: i64) -> String {
    format!("{seq:021}")
}

/// A stored record with its sequence number, as GetRecords returns it.
pub(crate) fn with_sequence_number(record: &str, seq: i64) -> Option<Json> {
    let mut record: Json = serde_json::from_str(record).ok()?;
    record.get_mut("dynamodb")?.as_object_mut()?.insert("SequenceNumber".into(), json!(sequence_number(seq)));
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    fn schema() -> TableSchema {
        let input: sluice_model::dynamodb::CreateTableInput = serde_json::from_value(json!({
            "TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}))
        .unwrap();
        TableSchema::from_create(&input, "arn:aws:dynamodb:us-east-1:111111111111:table/t".into()).unwrap()
    }

    fn item(pk: &str, x: &str) -> Item {
        [("pk".to_string(), Value::S(pk.into())), ("x".to_string(), Value::S(x.into()))].into_iter().collect()
    }

    #[test]
    fn records_carry_the_images_their_view_type_asks_for() {
        let schema = schema();
        let (a, b) = (item("k", "1"), item("k", "2"));
        let record = |view, old: Option<&Item>, new: Option<&Item>| {
            record_json(&schema, "eu-west-1", view, old, new, 1_700_000_000_999, ChangeOrigin::Client)
        };
        let insert = record("NEW_AND_OLD_IMAGES", None, Some(&a)).unwrap();
        assert_eq!(insert["eventName"], "INSERT");
        assert_eq!(insert["awsRegion"], "eu-west-1");
        assert_eq!(insert["dynamodb"]["Keys"], json!({"pk": {"S": "k"}}));
        assert_eq!(insert["dynamodb"]["NewImage"]["x"], json!({"S": "1"}));
        assert!(insert["dynamodb"].get("OldImage").is_none());
        assert_eq!(insert["dynamodb"]["ApproximateCreationDateTime"], 1_700_000_000);
        let modify = record("OLD_IMAGE", Some(&a), Some(&b)).unwrap();
        assert_eq!(modify["eventName"], "MODIFY");
        assert_eq!(modify["dynamodb"]["OldImage"]["x"], json!({"S": "1"}));
        assert!(modify["dynamodb"].get("NewImage").is_none());
        let keys_only = record("KEYS_ONLY", Some(&a), None).unwrap();
        assert_eq!(keys_only["eventName"], "REMOVE");
        assert_eq!(keys_only["dynamodb"]["SizeBytes"], 3);
        assert!(keys_only.get("userIdentity").is_none());
        assert!(record("NEW_IMAGE", Some(&a), Some(&a.clone())).is_none(), "no change, no record");
        let ttl = record_json(&schema, "r", "KEYS_ONLY", Some(&a), None, 0, ChangeOrigin::TimeToLive).unwrap();
        assert_eq!(ttl["userIdentity"], json!({"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}));
        let numbered = with_sequence_number(&ttl.to_string(), 42).unwrap();
        assert_eq!(numbered["dynamodb"]["SequenceNumber"], "000000000000000000042");
    }
}
