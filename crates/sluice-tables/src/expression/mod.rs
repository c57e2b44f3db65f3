//! DynamoDB's expression language: condition and filter expressions,
//! update expressions, projection expressions and key condition
//! expressions, parsed once (with DynamoDB's validation messages) and then
//! evaluated against items.
//!
//! - [`ExpressionAttributes`]: the request's `#name` and `:value`
//!   placeholders, remembering which the expressions used.
//! - [`parse_condition`] -> [`Condition`]: `ConditionExpression` and
//!   `FilterExpression`.
//! - [`parse_update`] -> [`UpdateExpression`]: `SET`, `REMOVE`, `ADD`,
//!   `DELETE`.
//! - [`parse_projection`] and [`project`]: `ProjectionExpression`.
//! - [`parse_key_condition`] -> [`KeyCondition`]: `KeyConditionExpression`.
//!
//! Every parse function takes the same [`ExpressionAttributes`]; after
//! parsing all of a request's expressions, call
//! [`ExpressionAttributes::check_all_used`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::{TablesError, TablesResult};
use crate::value::Value;

mod apply;
mod arith;
mod condition;
mod key;
mod lexer;
mod parser;
mod path;
mod projection;
mod reserved;
mod update;

pub use condition::{parse_condition, Condition};
pub use key::{parse_key_condition, KeyCondition, RangeCondition};
pub use path::{Path, PathElement};
pub use projection::{parse_projection, project};
pub use update::{parse_update, UpdateExpression};

/// A request's `ExpressionAttributeNames` and `ExpressionAttributeValues`,
/// and which of them the parsed expressions used (DynamoDB refuses unused
/// ones). Parsing records uses through a shared reference (behind a mutex
/// rather than a `RefCell`, so the value stays `Sync` and may be borrowed
/// across an `.await` in a `Send` future).
#[derive(Debug, Default)]
pub struct ExpressionAttributes {
    names: BTreeMap<String, String>,
    values: BTreeMap<String, Value>,
    used_names: Mutex<BTreeSet<String>>,
    used_values: Mutex<BTreeSet<String>>,
}

impl ExpressionAttributes {
    /// The placeholders of a request, checked as DynamoDB checks them: a
    /// map given must not be empty and its keys must be `#name` or
    /// `:value` tokens.
    pub fn new(
        names: Option<&BTreeMap<String, String>>,
        values: Option<&BTreeMap<String, Value>>,
    ) -> TablesResult<Self> {
        check_keys(names.map(|n| n.keys()), "ExpressionAttributeNames", '#')?;
        check_keys(values.map(|v| v.keys()), "ExpressionAttributeValues", ':')?;
        Ok(Self {
            names: names.cloned().unwrap_or_default(),
            values: values.cloned().unwrap_or_default(),
            ..Self::default()
        })
    }

    /// The attribute name `#placeholder` stands for, marking it used.
    pub(crate) fn name(&self, placeholder: &str, which: &str) -> TablesResult<String> {
        let name = self.names.get(placeholder).ok_or_else(|| {
            TablesError::validation(format!(
                "Invalid {which}: An expression attribute name used in the document path is not defined; \
                 attribute name: {placeholder}"
            ))
        })?;
        lock(&self.used_names).insert(placeholder.to_string());
        Ok(name.clone())
    }

    /// The value `:placeholder` stands for, marking it used.
    pub(crate) fn value(&self, placeholder: &str, which: &str) -> TablesResult<Value> {
        let value = self.values.get(placeholder).ok_or_else(|| {
            TablesError::validation(format!(
                "Invalid {which}: An expression attribute value used in expression is not defined; \
                 attribute value: {placeholder}"
            ))
        })?;
        lock(&self.used_values).insert(placeholder.to_string());
        Ok(value.clone())
    }

    /// Refuses names or values no parsed expression used, as DynamoDB does.
    pub fn check_all_used(&self) -> TablesResult<()> {
        let unused = |all: Vec<&String>, used: &BTreeSet<String>| -> Vec<String> {
            all.into_iter().filter(|key| !used.contains(*key)).cloned().collect()
        };
        let names = unused(self.names.keys().collect(), &lock(&self.used_names));
        if !names.is_empty() {
            return Err(TablesError::validation(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                names.join(", ")
            )));
        }
        let values = unused(self.values.keys().collect(), &lock(&self.used_values));
        if !values.is_empty() {
            return Err(TablesError::validation(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                values.join(", ")
            )));
        }
        Ok(())
    }
}

fn lock(set: &Mutex<BTreeSet<String>>) -> MutexGuard<'_, BTreeSet<String>> {
    set.lock().unwrap_or_else(PoisonError::into_inner)
}

fn check_keys<'k>(keys: Option<impl ExactSizeIterator<Item = &'k String>>, what: &str, sign: char) -> TablesResult<()> {
    let Some(mut keys) = keys else { return Ok(()) };
    if keys.len() == 0 {
        return Err(TablesError::validation(format!("{what} must not be empty")));
    }
    match keys.find(|key| !is_placeholder(key, sign)) {
        Some(key) => Err(TablesError::validation(format!("{what} contains invalid key: Syntax error; key: \"{key}\""))),
        None => Ok(()),
    }
}

fn is_placeholder(key: &str, sign: char) -> bool {
    key.strip_prefix(sign)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Helpers for the module's tests: items and values written as DynamoDB
/// JSON.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;

    use sluice_model::dynamodb::AttributeValue;

    use super::ExpressionAttributes;
    use crate::value::{item_from_wire, Item, Value};

    /// An item from DynamoDB JSON (`{"a": {"N": "1"}}`).
    pub fn item(json: serde_json::Value) -> Item {
        let wire: BTreeMap<String, AttributeValue> = serde_json::from_value(json).unwrap();
        item_from_wire(&wire).unwrap()
    }

    /// One value from DynamoDB JSON (`{"N": "1"}`).
    pub fn value(json: serde_json::Value) -> Value {
        Value::from_wire(&serde_json::from_value(json).unwrap()).unwrap()
    }

    /// Placeholders from JSON: names `{"#a": "x"}`, values in DynamoDB
    /// JSON; `null` for none.
    pub fn attrs(names: serde_json::Value, values: serde_json::Value) -> ExpressionAttributes {
        let names: Option<BTreeMap<String, String>> = serde_json::from_value(names).unwrap();
        let values = (!values.is_null()).then(|| item(values));
        ExpressionAttributes::new(names.as_ref(), values.as_ref()).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{attrs, value};
    use super::*;

    fn message<T: std::fmt::Debug>(result: TablesResult<T>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn placeholder_maps_are_checked_as_dynamodb_checks_them() {
        let names = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let empty_values = BTreeMap::new();
        for (names, values, expected) in [
            (Some(names(&[])), None, "ExpressionAttributeNames must not be empty"),
            (None, Some(&empty_values), "ExpressionAttributeValues must not be empty"),
            (
                Some(names(&[("a", "x")])),
                None,
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\"",
            ),
            (
                Some(names(&[("#a-b", "x")])),
                None,
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#a-b\"",
            ),
            (
                Some(names(&[("#", "x")])),
                None,
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#\"",
            ),
        ] {
            assert_eq!(message(ExpressionAttributes::new(names.as_ref(), values)), expected);
        }
        let values: BTreeMap<String, Value> = [("v".to_string(), value(serde_json::json!({"N": "1"})))].into();
        assert_eq!(
            message(ExpressionAttributes::new(None, Some(&values))),
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\""
        );
        assert!(ExpressionAttributes::new(Some(&names(&[("#_1", "x")])), None).is_ok());
    }

    #[test]
    fn placeholders_resolve_and_unused_ones_are_refused() {
        let a =
            attrs(serde_json::json!({"#a": "x", "#b": "y"}), serde_json::json!({":v": {"S": "s"}, ":w": {"N": "2"}}));
        assert_eq!(a.name("#a", "ConditionExpression").unwrap(), "x");
        assert_eq!(
            message(a.name("#x", "ConditionExpression")),
            "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; \
             attribute name: #x"
        );
        assert_eq!(
            message(a.value(":x", "UpdateExpression")),
            "Invalid UpdateExpression: An expression attribute value used in expression is not defined; \
             attribute value: :x"
        );
        assert_eq!(
            message(a.check_all_used()),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"
        );
        a.name("#b", "ConditionExpression").unwrap();
        assert_eq!(
            message(a.check_all_used()),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v, :w}"
        );
        a.value(":v", "ConditionExpression").unwrap();
        a.value(":w", "ConditionExpression").unwrap();
        assert!(a.check_all_used().is_ok());
        assert!(ExpressionAttributes::new(None, None).unwrap().check_all_used().is_ok());
    }

    #[test]
    fn parsed_expressions_can_cross_threads_and_awaits() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ExpressionAttributes>();
        send_sync::<Condition>();
        send_sync::<UpdateExpression>();
        send_sync::<KeyCondition>();
        send_sync::<Path>();
    }

    #[test]
    fn uses_across_expressions_of_one_request_count() {
        let a = attrs(serde_json::json!({"#n": "n"}), serde_json::json!({":one": {"N": "1"}, ":zero": {"N": "0"}}));
        parse_update("SET #n = #n + :one", &a).unwrap();
        assert!(a.check_all_used().is_err());
        // Used in a branch evaluation would skip still counts.
        parse_condition("attribute_not_exists(#n) OR #n > :zero", "ConditionExpression", &a).unwrap();
        assert!(a.check_all_used().is_ok());
    }
}
