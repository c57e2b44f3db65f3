//! Item sizes as DynamoDB counts them against its 400 KB limit: each
//! attribute's name (UTF-8 bytes) plus its value — strings by UTF-8 bytes,
//! binaries by raw bytes, numbers by their base-100 digits
//! ([`Number::size`]), booleans and nulls 1 byte, sets the sum of their
//! elements, lists and maps 3 bytes plus 1 byte and the size of each
//! element (a map's element counting its key).

use std::collections::BTreeMap;

use base64::Engine;

use super::number::{Number, NumberError};
use super::AttributeValue;

/// DynamoDB's largest item (400 KB).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// DynamoDB's message for an item over [`MAX_ITEM_BYTES`].
pub const ITEM_TOO_LARGE: &str = "Item size has exceeded the maximum allowed size";

/// Bytes of a binary value given in base64 (its decoded length; text that is
/// not base64 counts as its own bytes, it is refused elsewhere).
fn binary_size(text: &str) -> usize {
    base64::engine::general_purpose::STANDARD.decode(text).map(|b| b.len()).unwrap_or(text.len())
}

fn number_size(text: &str) -> Result<usize, NumberError> {
    Ok(Number::parse(text)?.size())
}

/// The size of one attribute value.
pub fn value_size(value: &AttributeValue) -> Result<usize, NumberError> {
    let mut size = 0;
    if let Some(s) = &value.s {
        size += s.len();
    }
    if let Some(n) = &value.n {
        size += number_size(n)?;
    }
    if let Some(b) = &value.b {
        size += binary_size(b);
    }
    if value.bool.is_some() || value.null.is_some() {
        size += 1;
    }
    if let Some(set) = &value.ss {
        size += set.iter().map(String::len).sum::<usize>();
    }
    if let Some(set) = &value.ns {
        for n in set {
            size += number_size(n)?;
        }
    }
    if let Some(set) = &value.bs {
        size += set.iter().map(|b| binary_size(b)).sum::<usize>();
    }
    if let Some(list) = &value.l {
        size += 3;
        for element in list {
            size += 1 + value_size(element)?;
        }
    }
    if let Some(map) = &value.m {
        size += 3;
        for (key, element) in map {
            size += 1 + key.len() + value_size(element)?;
        }
    }
    Ok(size)
}

/// The size of an item: its attributes' names and values.
pub fn item_size(item: &BTreeMap<String, AttributeValue>) -> Result<usize, NumberError> {
    let mut size = 0;
    for (name, value) in item {
        size += name.len() + value_size(value)?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: serde_json::Value) -> AttributeValue {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn scalar_values_count_their_bytes() {
        assert_eq!(value_size(&value(serde_json::json!({"S": "héllo"}))).unwrap(), 6);
        assert_eq!(value_size(&value(serde_json::json!({"N": "123"}))).unwrap(), 3);
        assert_eq!(value_size(&value(serde_json::json!({"B": "AAEC"}))).unwrap(), 3);
        assert_eq!(value_size(&value(serde_json::json!({"BOOL": true}))).unwrap(), 1);
        assert_eq!(value_size(&value(serde_json::json!({"NULL": true}))).unwrap(), 1);
        assert_eq!(value_size(&value(serde_json::json!({"SS": ["ab", "c"]}))).unwrap(), 3);
        assert_eq!(value_size(&value(serde_json::json!({"NS": ["1", "100"]}))).unwrap(), 4);
        assert!(value_size(&value(serde_json::json!({"N": "x"}))).is_err());
    }

    #[test]
    fn documents_add_three_bytes_and_one_per_element() {
        assert_eq!(value_size(&value(serde_json::json!({"L": []}))).unwrap(), 3);
        assert_eq!(value_size(&value(serde_json::json!({"M": {}}))).unwrap(), 3);
        // 3 + (1 + 2 "ab") + (1 + 1 BOOL)
        assert_eq!(value_size(&value(serde_json::json!({"L": [{"S": "ab"}, {"BOOL": false}]}))).unwrap(), 8);
        // 3 + (1 + 3 "key" + 1 "v")
        assert_eq!(value_size(&value(serde_json::json!({"M": {"key": {"S": "v"}}}))).unwrap(), 8);
        let item: BTreeMap<String, AttributeValue> = serde_json::from_value(serde_json::json!({
            "id": {"S": "a1"}, "n": {"N": "12"}, "tags": {"SS": ["x"]},
        }))
        .unwrap();
        // "id"+2, "n"+2, "tags"+1
        assert_eq!(item_size(&item).unwrap(), 2 + 2 + 1 + 2 + 4 + 1);
    }

    #[test]
    fn the_limit_is_400_kb() {
        let name = "payload".to_string();
        let fits = BTreeMap::from([(name.clone(), value(serde_json::json!({"S": "x".repeat(MAX_ITEM_BYTES - 7)})))]);
        assert_eq!(item_size(&fits).unwrap(), MAX_ITEM_BYTES);
        let over = BTreeMap::from([(name, value(serde_json::json!({"S": "x".repeat(MAX_ITEM_BYTES - 6)})))]);
        assert!(item_size(&over).unwrap() > MAX_ITEM_BYTES);
    }
}
