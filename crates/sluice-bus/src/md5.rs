//! The digests SQS returns with messages: MD5 of the body, and MD5 of the
//! message attributes in SQS's encoding (each attribute, by name: length-
//! prefixed name, data type, a transport byte — 1 string, 2 binary — and
//! length-prefixed value; lengths as 4-byte big-endian integers).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use md5::{Digest, Md5};
use sluice_model::sqs::MessageAttributeValue;

/// Hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn put_field(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buffer.extend_from_slice(bytes);
}

/// Hex MD5 of message attributes, as SQS computes `MD5OfMessageAttributes`.
pub fn md5_of_attributes(attributes: &BTreeMap<String, MessageAttributeValue>) -> String {
    let mut buffer = Vec::new();
    for (name, value) in attributes {
        put_field(&mut buffer, name.as_bytes());
        put_field(&mut buffer, value.data_type.as_bytes());
        if value.data_type.starts_with("Binary") {
            buffer.push(2);
            let bytes = value.binary_value.as_deref().and_then(|b| B64.decode(b).ok()).unwrap_or_default();
            put_field(&mut buffer, &bytes);
        } else {
            buffer.push(1);
            put_field(&mut buffer, value.string_value.as_deref().unwrap_or_default().as_bytes());
        }
    }
    md5_hex(&buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_digest() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_digest_follows_the_sqs_encoding() {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "k".to_string(),
            MessageAttributeValue {
                data_type: "String".into(),
                string_value: Some("v".into()),
                binary_value: None,
                string_list_values: None,
                binary_list_values: None,
            },
        );
        let mut expected = Vec::new();
        expected.extend_from_slice(&[0, 0, 0, 1, b'k', 0, 0, 0, 6]);
        expected.extend_from_slice(b"String");
        expected.extend_from_slice(&[1, 0, 0, 0, 1, b'v']);
        assert_eq!(md5_of_attributes(&attributes), md5_hex(&expected));
    }
}
