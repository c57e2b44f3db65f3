//! Key condition expressions: one or two conditions joined by `AND`, each
//! comparing a top-level attribute with a `:value` (`=`, `<`, `<=`, `>`,
//! `>=`, `BETWEEN`, `begins_with`). DynamoDB parses them with the
//! condition grammar and then refuses what a key condition cannot say; so
//! does this module. Which condition is on the hash key is for the caller
//! to decide (it knows the schema): see [`KeyCondition::resolve`].

use std::cmp::Ordering;

use super::condition::{parse_tree, Comparator, Node, Operand};
use super::path::Path;
use super::ExpressionAttributes;
use crate::error::{TablesError, TablesResult};
use crate::value::Value;

const WHICH: &str = "KeyConditionExpression";

/// A parsed key condition: one or two parts, each an attribute name and
/// its condition, in the order written (no attribute twice). The hash key's
/// part must be [`RangeCondition::Eq`]; the caller checks that against the
/// key schema.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCondition {
    /// The conditions, by attribute name.
    pub parts: Vec<(String, RangeCondition)>,
}

/// A condition on one key attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeCondition {
    /// `= v`
    Eq(Value),
    /// `< v`
    Lt(Value),
    /// `<= v`
    Le(Value),
    /// `> v`
    Gt(Value),
    /// `>= v`
    Ge(Value),
    /// `BETWEEN low AND high` (both included).
    Between(Value, Value),
    /// `begins_with(attribute, prefix)` (strings and binaries).
    BeginsWith(Value),
}

impl RangeCondition {
    /// Whether a key value satisfies the condition (values of another type
    /// never do).
    pub fn matches(&self, value: &Value) -> bool {
        let order = |bound: &Value| value.compare(bound);
        match self {
            Self::Eq(v) => value.equals(v),
            Self::Lt(v) => order(v) == Some(Ordering::Less),
            Self::Le(v) => matches!(order(v), Some(Ordering::Less | Ordering::Equal)),
            Self::Gt(v) => order(v) == Some(Ordering::Greater),
            Self::Ge(v) => matches!(order(v), Some(Ordering::Greater | Ordering::Equal)),
            Self::Between(low, high) => {
                matches!(order(low), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(order(high), Some(Ordering::Less | Ordering::Equal))
            }
            Self::BeginsWith(prefix) => match (value, prefix) {
                (Value::S(s), Value::S(p)) => s.starts_with(p.as_str()),
                (Value::B(b), Value::B(p)) => b.starts_with(p),
                _ => false,
            },
        }
    }

    /// The values the condition compares with.
    pub fn values(&self) -> Vec<&Value> {
        match self {
            Self::Eq(v) | Self::Lt(v) | Self::Le(v) | Self::Gt(v) | Self::Ge(v) | Self::BeginsWith(v) => vec![v],
            Self::Between(low, high) => vec![low, high],
        }
    }
}

impl KeyCondition {
    /// The condition on `attribute`, if any.
    pub fn get(&self, attribute: &str) -> Option<&RangeCondition> {
        self.parts.iter().find(|(name, _)| name == attribute).map(|(_, condition)| condition)
    }

    /// Splits the condition along a key schema, with DynamoDB's messages:
    /// the hash key's value, and the range key's condition if any.
    pub fn resolve(&self, hash_key: &str, range_key: Option<&str>) -> TablesResult<(Value, Option<RangeCondition>)> {
        let Some(hash) = self.get(hash_key) else {
            return Err(TablesError::validation(format!("Query condition missed key schema element: {hash_key}")));
        };
        let RangeCondition::Eq(hash) = hash else {
            return Err(TablesError::validation("Query key condition not supported"));
        };
        let Some((other, range)) = self.parts.iter().find(|(name, _)| name != hash_key) else {
            return Ok((hash.clone(), None));
        };
        match range_key {
            Some(range_key) if range_key == other => Ok((hash.clone(), Some(range.clone()))),
            Some(range_key) => {
                Err(TablesError::validation(format!("Query condition missed key schema element: {range_key}")))
            }
            None => Err(TablesError::validation("Query key condition not supported")),
        }
    }
}

/// Parses a `KeyConditionExpression`, resolving placeholders from `attrs`.
pub fn parse_key_condition(text: &str, attrs: &ExpressionAttributes) -> TablesResult<KeyCondition> {
    let root = parse_tree(text, WHICH, attrs, false)?;
    let mut leaves = Vec::new();
    flatten(root, &mut leaves)?;
    let mut parts: Vec<(String, RangeCondition)> = Vec::new();
    for leaf in leaves {
        let (name, condition) = part(leaf)?;
        if parts.iter().any(|(seen, _)| *seen == name) {
            return Err(error("KeyConditionExpressions must only contain one condition per key"));
        }
        parts.push((name, condition));
    }
    if parts.len() > 2 {
        return Err(error("Conditions can be of length 1 or 2 only"));
    }
    Ok(KeyCondition { parts })
}

fn error(message: &str) -> TablesError {
    TablesError::validation(format!("Invalid {WHICH}: {message}"))
}

fn unsupported(operator: &str) -> TablesError {
    error(&format!("Invalid operator used in KeyConditionExpression: {operator}"))
}

fn flatten(node: Node, leaves: &mut Vec<Node>) -> TablesResult<()> {
    match node {
        Node::And(a, b) => {
            flatten(*a, leaves)?;
            flatten(*b, leaves)
        }
        Node::Or(..) => Err(unsupported("OR")),
        Node::Not(..) => Err(unsupported("NOT")),
        leaf => {
            leaves.push(leaf);
            Ok(())
        }
    }
}

fn part(leaf: Node) -> TablesResult<(String, RangeCondition)> {
    match leaf {
        Node::Compare(_, Comparator::Ne, _) => Err(unsupported("<>")),
        Node::Compare(left, comparator, right) => match (left, right) {
            (Operand::Path(path), Operand::Value(v)) => Ok((key_name(path)?, compare(comparator, v))),
            (Operand::Value(v), Operand::Path(path)) => Ok((key_name(path)?, compare(flipped(comparator), v))),
            (Operand::Size(_), _) | (_, Operand::Size(_)) => Err(unsupported("size")),
            _ => Err(error("Key conditions must compare a key attribute with an expression attribute value")),
        },
        Node::Between(Operand::Path(path), Operand::Value(low), Operand::Value(high)) => {
            Ok((key_name(path)?, RangeCondition::Between(low, high)))
        }
        Node::Between(..) => Err(error("BETWEEN must compare a key attribute with two expression attribute values")),
        Node::BeginsWith(Operand::Path(path), Operand::Value(prefix)) => {
            Ok((key_name(path)?, RangeCondition::BeginsWith(prefix)))
        }
        Node::BeginsWith(..) => {
            Err(error("begins_with must compare a key attribute with an expression attribute value"))
        }
        Node::In(..) => Err(unsupported("IN")),
        Node::Exists(_) => Err(unsupported("attribute_exists")),
        Node::NotExists(_) => Err(unsupported("attribute_not_exists")),
        Node::Type(..) => Err(unsupported("attribute_type")),
        Node::Contains(..) => Err(unsupported("contains")),
        Node::And(..) | Node::Or(..) | Node::Not(..) => unreachable!("flattened"),
    }
}

fn key_name(path: Path) -> TablesResult<String> {
    if !path.is_top_level() {
        return Err(error("KeyConditionExpressions cannot have conditions on nested attributes"));
    }
    Ok(path.first_attribute().to_string())
}

fn compare(comparator: Comparator, value: Value) -> RangeCondition {
    match comparator {
        Comparator::Eq | Comparator::Ne => RangeCondition::Eq(value),
        Comparator::Lt => RangeCondition::Lt(value),
        Comparator::Le => RangeCondition::Le(value),
        Comparator::Gt => RangeCondition::Gt(value),
        Comparator::Ge => RangeCondition::Ge(value),
    }
}

/// The comparator with its operands swapped: `:v < k` is `k > :v`.
fn flipped(comparator: Comparator) -> Comparator {
    match comparator {
        Comparator::Lt => Comparator::Gt,
        Comparator::Le => Comparator::Ge,
        Comparator::Gt => Comparator::Lt,
        Comparator::Ge => Comparator::Le,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expression::testing::{attrs, value};

    fn sample_attrs() -> ExpressionAttributes {
        attrs(
            json!({"#pk": "pk", "#sk": "sk"}),
            json!({":p": {"S": "p1"}, ":c": {"N": "5"}, ":d": {"N": "7"}, ":pre": {"S": "ab"}, ":b": {"B": "AAE="}}),
        )
    }

    fn n(text: &str) -> Value {
        value(json!({ "N": text }))
    }

    fn s(text: &str) -> Value {
        Value::S(text.to_string())
    }

    #[test]
    fn key_conditions_parse_into_parts() {
        let p = || ("pk".to_string(), RangeCondition::Eq(s("p1")));
        for (text, parts) in [
            ("pk = :p", vec![p()]),
            (" pk  =   :p ", vec![p()]),
            (":p = pk", vec![p()]),
            ("#pk = :p AND sk < :c", vec![p(), ("sk".into(), RangeCondition::Lt(n("5")))]),
            ("pk = :p AND sk <= :c", vec![p(), ("sk".into(), RangeCondition::Le(n("5")))]),
            ("pk = :p AND sk > :c", vec![p(), ("sk".into(), RangeCondition::Gt(n("5")))]),
            ("pk = :p AND sk >= :c", vec![p(), ("sk".into(), RangeCondition::Ge(n("5")))]),
            ("pk = :p AND :c < #sk", vec![p(), ("sk".into(), RangeCondition::Gt(n("5")))]),
            ("pk = :p AND :c >= sk", vec![p(), ("sk".into(), RangeCondition::Le(n("5")))]),
            ("pk = :p AnD sk BeTwEeN :c aNd :d", vec![p(), ("sk".into(), RangeCondition::Between(n("5"), n("7")))]),
            ("pk = :p AND begins_with(sk, :pre)", vec![p(), ("sk".into(), RangeCondition::BeginsWith(s("ab")))]),
            ("sk = :c AND pk = :p", vec![("sk".into(), RangeCondition::Eq(n("5"))), p()]),
            ("((sk = :c) AND (pk = :p))", vec![("sk".into(), RangeCondition::Eq(n("5"))), p()]),
            ("((#pk = :p)) AND ((#sk = :c))", vec![p(), ("sk".into(), RangeCondition::Eq(n("5")))]),
        ] {
            let got = parse_key_condition(text, &sample_attrs()).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(got.parts, parts, "{text}");
        }
    }

    #[test]
    fn what_key_conditions_cannot_say_is_refused() {
        for (text, expected) in [
            ("", "The expression can not be empty;"),
            ("pk = :p AND sk != :c", "Syntax error; token: \"!\", near: \"sk !=\""),
            ("pk", "Syntax error; token: \"<EOF>\", near: \"pk\""),
            ("pk = :p OR sk = :c", "Invalid operator used in KeyConditionExpression: OR"),
            ("NOT sk = :c AND pk = :p", "Invalid operator used in KeyConditionExpression: NOT"),
            ("pk = :p AND sk <> :c", "Invalid operator used in KeyConditionExpression: <>"),
            ("pk = :p AND sk IN (:c)", "Invalid operator used in KeyConditionExpression: IN"),
            ("pk = :p AND attribute_exists(sk)", "Invalid operator used in KeyConditionExpression: attribute_exists"),
            ("pk = :p AND contains(sk, :c)", "Invalid operator used in KeyConditionExpression: contains"),
            ("pk = :p AND size(sk) = :c", "Invalid operator used in KeyConditionExpression: size"),
            ("pk = :p AND dog(sk, :c)", "Invalid function name; function: dog"),
            ("pk = :p AND BEGINS_WITH(sk, :c)", "Invalid function name; function: BEGINS_WITH"),
            (
                "pk = :p AND begins_with(sk, :c)",
                "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
            ),
            ("pk = :p AND pk = :p", "KeyConditionExpressions must only contain one condition per key"),
            ("pk = :p AND sk >= :c AND sk <= :d", "KeyConditionExpressions must only contain one condition per key"),
            ("pk = :p AND sk < :c AND a < :c", "Conditions can be of length 1 or 2 only"),
            ("pk = :p AND #sk.foo = :c", "KeyConditionExpressions cannot have conditions on nested attributes"),
            ("pk = sk", "Key conditions must compare a key attribute with an expression attribute value"),
            (":p = :c", "Key conditions must compare a key attribute with an expression attribute value"),
            ("pk = :nope", "An expression attribute value used in expression is not defined; attribute value: :nope"),
        ] {
            let got = parse_key_condition(text, &sample_attrs()).unwrap_err().to_string();
            assert_eq!(got, format!("Invalid KeyConditionExpression: {expected}"), "{text}");
        }
    }

    #[test]
    fn range_conditions_match_key_values() {
        let bytes = |b: &[u8]| Value::B(b.to_vec());
        for (condition, value, expected) in [
            (RangeCondition::Eq(n("5")), n("5.0"), true),
            (RangeCondition::Eq(n("5")), s("5"), false),
            (RangeCondition::Lt(n("5")), n("4"), true),
            (RangeCondition::Lt(n("5")), n("5"), false),
            (RangeCondition::Le(n("5")), n("5"), true),
            (RangeCondition::Gt(s("b")), s("ba"), true),
            (RangeCondition::Gt(s("b")), s("a"), false),
            (RangeCondition::Ge(s("b")), s("b"), true),
            (RangeCondition::Ge(n("1")), s("2"), false),
            (RangeCondition::Between(n("4"), n("7")), n("4"), true),
            (RangeCondition::Between(n("4"), n("7")), n("7"), true),
            (RangeCondition::Between(n("4"), n("7")), n("8"), false),
            (RangeCondition::Lt(bytes(&[128])), bytes(&[127]), true),
            (RangeCondition::BeginsWith(s("ab")), s("abc"), true),
            (RangeCondition::BeginsWith(s("ab")), s("a"), false),
            (RangeCondition::BeginsWith(bytes(&[0])), bytes(&[0, 1]), true),
            (RangeCondition::BeginsWith(s("1")), n("12"), false),
        ] {
            assert_eq!(condition.matches(&value), expected, "{condition:?} {value:?}");
        }
    }

    #[test]
    fn key_conditions_resolve_against_the_schema() {
        let parse = |text: &str| parse_key_condition(text, &sample_attrs()).unwrap();
        let (hash, range) = parse("sk > :c AND pk = :p").resolve("pk", Some("sk")).unwrap();
        assert_eq!((hash, range), (s("p1"), Some(RangeCondition::Gt(n("5")))));
        assert_eq!(parse("pk = :p").resolve("pk", Some("sk")).unwrap(), (s("p1"), None));
        for (text, hash, range, expected) in [
            ("sk = :c", "pk", Some("sk"), "Query condition missed key schema element: pk"),
            ("a = :c", "pk", Some("sk"), "Query condition missed key schema element: pk"),
            ("pk < :p", "pk", None, "Query key condition not supported"),
            ("pk = :p AND a < :c", "pk", Some("sk"), "Query condition missed key schema element: sk"),
            ("pk = :p AND a < :c", "pk", None, "Query key condition not supported"),
        ] {
            assert_eq!(parse(text).resolve(hash, range).unwrap_err().to_string(), expected, "{text}");
        }
    }
}
