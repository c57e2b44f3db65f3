//! AWS's query protocol (IAM, STS, later SNS), driven by the botocore model:
//! a request's form parameters (`Action=...&Tags.member.1.Key=...`) become
//! the JSON value of its input shape (then validated and deserialized like
//! the JSON protocols' bodies), and an output value becomes the XML answer
//! (`<OpResponse><OpResult>...</OpResult><ResponseMetadata>...`), lists as
//! `<member>` elements, maps as `<entry>`, timestamps in ISO 8601, as
//! botocore's serializer and parser expect.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::{Map, Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::ValidationProblems;
use crate::shape_validator::ServiceModel;

/// Decodes `application/x-www-form-urlencoded` text into its pairs.
pub fn form_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// The input of `operation` from its form parameters (`Action` and
/// `Version` left out), shaped as the model's input shape. Values that do
/// not parse as their shape's type (a number, a boolean) are reported.
pub fn decode_input(
    model: &ServiceModel,
    operation: &str,
    params: &[(String, String)],
) -> Result<Value, ValidationProblems> {
    let params: BTreeMap<&str, &str> =
        params.iter().filter(|(k, _)| k != "Action" && k != "Version").map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let Some(shape) = model.input_shape(operation) else {
        return Ok(Value::Object(Map::new()));
    };
    let mut problems = ValidationProblems::new();
    let value = decode_structure(model, shape, "", &params, &mut problems);
    if problems.is_empty() {
        Ok(value.unwrap_or_else(|| Value::Object(Map::new())))
    } else {
        Err(problems)
    }
}

fn child(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Whether any parameter is `prefix` itself or lies under `prefix.`.
fn has_prefix(params: &BTreeMap<&str, &str>, prefix: &str) -> bool {
    let under = format!("{prefix}.");
    params.contains_key(prefix) || params.range(under.as_str()..).next().is_some_and(|(k, _)| k.starts_with(&under))
}

fn decode_structure(
    model: &ServiceModel,
    shape: &str,
    prefix: &str,
    params: &BTreeMap<&str, &str>,
    problems: &mut ValidationProblems,
) -> Option<Value> {
    let members = model.shape(shape)?.get("members")?.as_object()?;
    let mut out = Map::new();
    for (name, member) in members {
        let location = member.get("locationName").and_then(Value::as_str).unwrap_or(name);
        let Some(member_shape) = member.get("shape").and_then(Value::as_str) else { continue };
        let key = child(prefix, location);
        if let Some(value) = decode_value(model, member_shape, &key, params, problems) {
            out.insert(name.clone(), value);
        }
    }
    (!out.is_empty() || prefix.is_empty() || params.contains_key(prefix)).then_some(Value::Object(out))
}

fn decode_value(
    model: &ServiceModel,
    shape: &str,
    key: &str,
    params: &BTreeMap<&str, &str>,
    problems: &mut ValidationProblems,
) -> Option<Value> {
    let definition = model.shape(shape)?;
    let kind = definition.get("type").and_then(Value::as_str).unwrap_or("string");
    match kind {
        "structure" => {
            if !has_prefix(params, key) {
                return None;
            }
            decode_structure(model, shape, key, params, problems)
        }
        "list" => {
            let member = definition.get("member")?;
            let member_shape = member.get("shape").and_then(Value::as_str)?;
            let flattened = definition.get("flattened").and_then(Value::as_bool).unwrap_or(false);
            let list_prefix = if flattened {
                key.to_string()
            } else {
                child(key, member.get("locationName").and_then(Value::as_str).unwrap_or("member"))
            };
            if params.get(key) == Some(&"") {
                return Some(Value::Array(Vec::new()));
            }
            let mut items = Vec::new();
            for index in 1.. {
                let item_key = format!("{list_prefix}.{index}");
                if !has_prefix(params, &item_key) {
                    break;
                }
                if let Some(item) = decode_value(model, member_shape, &item_key, params, problems) {
                    items.push(item);
                }
            }
            (!items.is_empty()).then_some(Value::Array(items))
        }
        "map" => {
            let key_name =
                definition.get("key").and_then(|k| k.get("locationName")).and_then(Value::as_str).unwrap_or("key");
            let value_def = definition.get("value")?;
            let value_name = value_def.get("locationName").and_then(Value::as_str).unwrap_or("value");
            let value_shape = value_def.get("shape").and_then(Value::as_str)?;
            let flattened = definition.get("flattened").and_then(Value::as_bool).unwrap_or(false);
            let entry_prefix = if flattened { key.to_string() } else { child(key, "entry") };
            let mut map = Map::new();
            for index in 1.. {
                let entry = format!("{entry_prefix}.{index}");
                let Some(k) = params.get(format!("{entry}.{key_name}").as_str()) else { break };
                if let Some(v) = decode_value(model, value_shape, &format!("{entry}.{value_name}"), params, problems) {
                    map.insert(k.to_string(), v);
                }
            }
            (!map.is_empty()).then_some(Value::Object(map))
        }
        _ => {
            let text = *params.get(key)?;
            match kind {
                "integer" | "long" => match text.parse::<i64>() {
                    Ok(n) => Some(Value::Number(n.into())),
                    Err(_) => {
                        problems.push(format!(
                            "Value '{text}' at '{key}' failed to satisfy constraint: Member must be a number"
                        ));
                        None
                    }
                },
                "double" | "float" => match text.parse::<f64>().ok().and_then(Number::from_f64) {
                    Some(n) => Some(Value::Number(n)),
                    None => {
                        problems.push(format!(
                            "Value '{text}' at '{key}' failed to satisfy constraint: Member must be a number"
                        ));
                        None
                    }
                },
                "boolean" => match text {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    _ => {
                        problems.push(format!(
                            "Value '{text}' at '{key}' failed to satisfy constraint: Member must be true or false"
                        ));
                        None
                    }
                },
                "timestamp" => match OffsetDateTime::parse(text, &Rfc3339) {
                    Ok(t) => Number::from_f64(t.unix_timestamp_nanos() as f64 / 1e9).map(Value::Number),
                    Err(_) => {
                        problems.push(format!("Value '{text}' at '{key}' failed to satisfy constraint: Member must be an ISO 8601 timestamp"));
                        None
                    }
                },
                _ => Some(Value::String(text.to_string())),
            }
        }
    }
}

/// The XML answer of `operation` for `output` (the JSON value of its output
/// shape), with the request id.
pub fn encode_output(
    model: &ServiceModel,
    namespace: &str,
    operation: &str,
    output: &Value,
    request_id: &str,
) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(xml, "<{operation}Response xmlns=\"{namespace}\">");
    let definition = model.operation(operation).and_then(|o| o.get("output"));
    if let Some(definition) = definition {
        let wrapper = definition.get("resultWrapper").and_then(Value::as_str).map(str::to_string);
        let wrapper = wrapper.unwrap_or_else(|| format!("{operation}Result"));
        let _ = write!(xml, "<{wrapper}>");
        if let Some(shape) = definition.get("shape").and_then(Value::as_str) {
            encode_members(model, shape, output, &mut xml);
        }
        let _ = write!(xml, "</{wrapper}>");
    }
    let _ = write!(xml, "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>", escape(request_id));
    let _ = write!(xml, "</{operation}Response>");
    xml
}

/// The XML error answer (`<ErrorResponse>`) of the query protocol.
pub fn encode_error(namespace: &str, code: &str, message: &str, sender_fault: bool, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type>\
         <Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        if sender_fault { "Sender" } else { "Receiver" },
        escape(code),
        escape(message),
        escape(request_id)
    )
}

fn encode_members(model: &ServiceModel, shape: &str, value: &Value, xml: &mut String) {
    let (Some(members), Some(object)) =
        (model.shape(shape).and_then(|s| s.get("members")).and_then(Value::as_object), value.as_object())
    else {
        return;
    };
    for (name, member) in members {
        let Some(item) = object.get(name) else { continue };
        if item.is_null() {
            continue;
        }
        let location = member.get("locationName").and_then(Value::as_str).unwrap_or(name);
        let Some(member_shape) = member.get("shape").and_then(Value::as_str) else { continue };
        encode_value(model, member_shape, location, item, xml);
    }
}

fn encode_value(model: &ServiceModel, shape: &str, element: &str, value: &Value, xml: &mut String) {
    let Some(definition) = model.shape(shape) else { return };
    match definition.get("type").and_then(Value::as_str).unwrap_or("string") {
        "structure" => {
            let _ = write!(xml, "<{element}>");
            encode_members(model, shape, value, xml);
            let _ = write!(xml, "</{element}>");
        }
        "list" => {
            let member = definition.get("member");
            let member_shape = member.and_then(|m| m.get("shape")).and_then(Value::as_str).unwrap_or_default();
            let flattened = definition.get("flattened").and_then(Value::as_bool).unwrap_or(false);
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            if flattened {
                for item in items {
                    encode_value(model, member_shape, element, item, xml);
                }
            } else {
                let name = member.and_then(|m| m.get("locationName")).and_then(Value::as_str).unwrap_or("member");
                let _ = write!(xml, "<{element}>");
                for item in items {
                    encode_value(model, member_shape, name, item, xml);
                }
                let _ = write!(xml, "</{element}>");
            }
        }
        "map" => {
            let value_shape =
                definition.get("value").and_then(|v| v.get("shape")).and_then(Value::as_str).unwrap_or_default();
            let _ = write!(xml, "<{element}>");
            for (k, v) in value.as_object().into_iter().flatten() {
                let _ = write!(xml, "<entry><key>{}</key>", escape(k));
                encode_value(model, value_shape, "value", v, xml);
                xml.push_str("</entry>");
            }
            let _ = write!(xml, "</{element}>");
        }
        "timestamp" => {
            let text = value
                .as_f64()
                .and_then(|seconds| OffsetDateTime::from_unix_timestamp_nanos((seconds * 1e9) as i128).ok())
                .map(iso8601)
                .unwrap_or_else(|| value.as_str().unwrap_or_default().to_string());
            let _ = write!(xml, "<{element}>{text}</{element}>");
        }
        _ => {
            let text = match value {
                Value::String(s) => escape(s),
                other => other.to_string(),
            };
            let _ = write!(xml, "<{element}>{text}</{element}>");
        }
    }
}

/// `2026-12-04T18:00:00Z`, as AWS's query services write timestamps.
fn iso8601(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Escapes text for XML content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts() -> &'static ServiceModel {
        crate::sts::service_model()
    }

    #[test]
    fn form_text_is_percent_decoded() {
        let pairs = form_pairs("Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=a+b&X=%ZZ");
        assert_eq!(pairs[1], ("RoleArn".into(), "arn:aws:iam::1:role/r".into()));
        assert_eq!(pairs[2].1, "a b");
        assert_eq!(pairs[3].1, "%ZZ");
    }

    #[test]
    fn inputs_follow_the_shape() {
        let params = form_pairs(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn&RoleSessionName=s&DurationSeconds=900\
             &Tags.member.1.Key=k&Tags.member.1.Value=v&Tags.member.2.Key=k2&Tags.member.2.Value=v2\
             &PolicyArns.member.1.arn=p",
        );
        let value = decode_input(sts(), "AssumeRole", &params).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "RoleArn": "arn", "RoleSessionName": "s", "DurationSeconds": 900,
                "Tags": [{"Key": "k", "Value": "v"}, {"Key": "k2", "Value": "v2"}],
                "PolicyArns": [{"arn": "p"}],
            })
        );
        let bad = form_pairs("RoleArn=a&RoleSessionName=s&DurationSeconds=soon");
        let problems = decode_input(sts(), "AssumeRole", &bad).unwrap_err();
        assert!(problems.to_string().contains("'DurationSeconds'"), "{problems}");
    }

    #[test]
    fn outputs_are_wrapped_xml_with_iso_timestamps() {
        let output = serde_json::json!({
            "Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s<&>", "SessionToken": "t",
                            "Expiration": 1_764_871_200.0},
            "AssumedRoleUser": {"Arn": "arn:aws:sts::1:assumed-role/r/s", "AssumedRoleId": "AROA:s"},
        });
        let xml = encode_output(sts(), "https://sts.amazonaws.com/doc/2011-06-15/", "AssumeRole", &output, "req-1");
        assert!(
            xml.contains("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"),
            "{xml}"
        );
        // Members come in the model's order or by name, as serde_json keeps
        // maps (its `preserve_order` feature); clients read them by name.
        assert!(xml.contains("<AssumedRoleUser><"), "{xml}");
        assert!(xml.contains("<Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"), "{xml}");
        assert!(xml.contains("<SecretAccessKey>s&lt;&amp;&gt;</SecretAccessKey>"), "{xml}");
        assert!(xml.contains("<Expiration>2025-12-04T18:00:00Z</Expiration>"), "{xml}");
        assert!(xml.ends_with("<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></AssumeRoleResponse>"));
    }

    #[test]
    fn lists_render_as_members() {
        let iam = crate::iam::service_model();
        let output = serde_json::json!({"PolicyNames": ["a", "b"], "IsTruncated": false});
        let xml = encode_output(iam, "ns", "ListRolePolicies", &output, "r");
        assert!(xml.contains("<PolicyNames><member>a</member><member>b</member></PolicyNames>"), "{xml}");
        assert!(xml.contains("<IsTruncated>false</IsTruncated>"), "{xml}");
    }
}
