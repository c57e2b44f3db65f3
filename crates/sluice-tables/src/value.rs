//! DynamoDB's values as Sluice works with them: one enum variant per type
//! (the wire's `AttributeValue` is a struct of ten options), numbers exact
//! ([`Number`]), binaries decoded. Converting from the wire checks what
//! DynamoDB checks (exactly one type, sets neither empty nor repeating,
//! numbers in range) with DynamoDB's messages.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine;
use sluice_model::dynamodb::number::Number;
use sluice_model::dynamodb::AttributeValue;

use crate::error::{TablesError, TablesResult};

/// An item: attribute names and their values.
pub type Item = BTreeMap<String, Value>;

/// One DynamoDB value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `S`: a string.
    S(String),
    /// `N`: an exact decimal.
    N(Number),
    /// `B`: bytes.
    B(Vec<u8>),
    /// `SS`: a set of strings (no repeats, never empty).
    Ss(Vec<String>),
    /// `NS`: a set of numbers.
    Ns(Vec<Number>),
    /// `BS`: a set of binaries.
    Bs(Vec<Vec<u8>>),
    /// `M`: a map.
    M(BTreeMap<String, Value>),
    /// `L`: a list.
    L(Vec<Value>),
    /// `NULL`.
    Null,
    /// `BOOL`.
    Bool(bool),
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

impl Value {
    /// DynamoDB's name of the value's type (`S`, `N`, `B`, `SS`, `NS`, `BS`,
    /// `M`, `L`, `NULL`, `BOOL`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::S(_) => "S",
            Self::N(_) => "N",
            Self::B(_) => "B",
            Self::Ss(_) => "SS",
            Self::Ns(_) => "NS",
            Self::Bs(_) => "BS",
            Self::M(_) => "M",
            Self::L(_) => "L",
            Self::Null => "NULL",
            Self::Bool(_) => "BOOL",
        }
    }

    /// A value from the wire, checked as DynamoDB checks it.
    pub fn from_wire(wire: &AttributeValue) -> TablesResult<Self> {
        let set = [
            wire.s.is_some(),
            wire.n.is_some(),
            wire.b.is_some(),
            wire.ss.is_some(),
            wire.ns.is_some(),
            wire.bs.is_some(),
            wire.m.is_some(),
            wire.l.is_some(),
            wire.null.is_some(),
            wire.bool.is_some(),
        ]
        .iter()
        .filter(|set| **set)
        .count();
        if set == 0 {
            return Err(TablesError::validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ));
        }
        if set > 1 {
            return Err(TablesError::validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ));
        }
        if let Some(s) = &wire.s {
            return Ok(Self::S(s.clone()));
        }
        if let Some(n) = &wire.n {
            return Ok(Self::N(number(n)?));
        }
        if let Some(b) = &wire.b {
            return Ok(Self::B(binary(b)?));
        }
        if let Some(set) = &wire.ss {
            check_set(set, "An string set ", |s| s.clone())?;
            return Ok(Self::Ss(set.clone()));
        }
        if let Some(set) = &wire.ns {
            let numbers = set.iter().map(|n| number(n)).collect::<TablesResult<Vec<_>>>()?;
            check_set(&numbers, "An number set ", Number::canonical)?;
            return Ok(Self::Ns(numbers));
        }
        if let Some(set) = &wire.bs {
            let binaries = set.iter().map(|b| binary(b)).collect::<TablesResult<Vec<_>>>()?;
            check_set(&binaries, "Binary sets ", |b| BASE64.encode(b))?;
            return Ok(Self::Bs(binaries));
        }
        if let Some(map) = &wire.m {
            return Ok(Self::M(item_from_wire(map)?));
        }
        if let Some(list) = &wire.l {
            return Ok(Self::L(list.iter().map(Self::from_wire).collect::<TablesResult<_>>()?));
        }
        if let Some(null) = wire.null {
            if !null {
                return Err(TablesError::validation(
                    "One or more parameter values were invalid: Null attribute value types must have the value of true",
                ));
            }
            return Ok(Self::Null);
        }
        Ok(Self::Bool(wire.bool.unwrap_or_default()))
    }

    /// The value on the wire (numbers in canonical form, binaries base64).
    pub fn to_wire(&self) -> AttributeValue {
        let mut wire = AttributeValue::default();
        match self {
            Self::S(s) => wire.s = Some(s.clone()),
            Self::N(n) => wire.n = Some(n.canonical()),
            Self::B(b) => wire.b = Some(BASE64.encode(b)),
            Self::Ss(set) => wire.ss = Some(set.clone()),
            Self::Ns(set) => wire.ns = Some(set.iter().map(Number::canonical).collect()),
            Self::Bs(set) => wire.bs = Some(set.iter().map(|b| BASE64.encode(b)).collect()),
            Self::M(map) => wire.m = Some(item_to_wire(map)),
            Self::L(list) => wire.l = Some(list.iter().map(Self::to_wire).collect()),
            Self::Null => wire.null = Some(true),
            Self::Bool(b) => wire.bool = Some(*b),
        }
        wire
    }

    /// Whether two values are equal as DynamoDB compares them: same type,
    /// numbers by value, sets regardless of order, maps and lists deeply.
    pub fn equals(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Ss(a), Self::Ss(b)) => same_set(a, b),
            (Self::Ns(a), Self::Ns(b)) => same_set(a, b),
            (Self::Bs(a), Self::Bs(b)) => same_set(a, b),
            (Self::M(a), Self::M(b)) => {
                a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.equals(w)))
            }
            (Self::L(a), Self::L(b)) => a.len() == b.len() && a.iter().zip(b).all(|(v, w)| v.equals(w)),
            _ => self == other,
        }
    }

    /// The order of two scalars of one type (`S` by UTF-8 bytes, `N` by
    /// value, `B` by bytes); `None` for other types or mixed types, where
    /// DynamoDB's comparisons are false.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::S(a), Self::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Self::N(a), Self::N(b)) => Some(a.cmp(b)),
            (Self::B(a), Self::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Bytes that sort as key values of one type sort (only `S`, `N` and
    /// `B` can be keys); `None` for other types.
    pub fn key_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Self::S(s) => Some(s.as_bytes().to_vec()),
            Self::N(n) => Some(n.order_key()),
            Self::B(b) => Some(b.clone()),
            _ => None,
        }
    }
}

fn number(text: &str) -> TablesResult<Number> {
    Number::parse(text).map_err(|e| TablesError::validation(e.to_string()))
}

fn binary(text: &str) -> TablesResult<Vec<u8>> {
    BASE64.decode(text).map_err(|_| {
        TablesError::validation(
            "One or more parameter values were invalid: Invalid binary value, it is not base64 encoded",
        )
    })
}

fn check_set<T: PartialEq>(set: &[T], empty_name: &str, show: impl Fn(&T) -> String) -> TablesResult<()> {
    if set.is_empty() {
        return Err(TablesError::validation(format!(
            "One or more parameter values were invalid: {empty_name} may not be empty"
        )));
    }
    for (i, element) in set.iter().enumerate() {
        if set[..i].contains(element) {
            let shown: Vec<String> = set.iter().map(&show).collect();
            return Err(TablesError::validation(format!(
                "One or more parameter values were invalid: Input collection [{}] contains duplicates.",
                shown.join(", ")
            )));
        }
    }
    Ok(())
}

fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// An item from the wire, every value checked.
pub fn item_from_wire(wire: &BTreeMap<String, AttributeValue>) -> TablesResult<Item> {
    wire.iter().map(|(name, value)| Ok((name.clone(), Value::from_wire(value)?))).collect()
}

/// An item on the wire.
pub fn item_to_wire(item: &Item) -> BTreeMap<String, AttributeValue> {
    item.iter().map(|(name, value)| (name.clone(), value.to_wire())).collect()
}

/// The item's size as DynamoDB counts it against its 400 KB limit.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// The size of one value (see `sluice_model::dynamodb::item_size`).
pub fn value_size(value: &Value) -> usize {
    match value {
        Value::S(s) => s.len(),
        Value::N(n) => n.size(),
        Value::B(b) => b.len(),
        Value::Ss(set) => set.iter().map(String::len).sum(),
        Value::Ns(set) => set.iter().map(Number::size).sum(),
        Value::Bs(set) => set.iter().map(Vec::len).sum(),
        Value::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        Value::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        Value::Null | Value::Bool(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(json: serde_json::Value) -> AttributeValue {
        serde_json::from_value(json).unwrap()
    }

    fn message(json: serde_json::Value) -> String {
        Value::from_wire(&wire(json)).unwrap_err().to_string()
    }

    #[test]
    fn values_round_trip_in_canonical_form() {
        let given = serde_json::json!({"M": {"n": {"N": "01.50"}, "l": {"L": [{"S": "x"}, {"NULL": true}, {"BOOL": false}]},
            "b": {"B": "AAE="}, "ns": {"NS": ["1", "2.0"]}}});
        let value = Value::from_wire(&wire(given)).unwrap();
        let back = serde_json::to_value(value.to_wire()).unwrap();
        assert_eq!(back["M"]["n"]["N"], "1.5");
        assert_eq!(back["M"]["ns"]["NS"], serde_json::json!(["1", "2"]));
        assert_eq!(back["M"]["b"]["B"], "AAE=");
    }

    #[test]
    fn bad_values_get_dynamodbs_messages() {
        assert!(message(serde_json::json!({})).starts_with("Supplied AttributeValue is empty"));
        assert!(message(serde_json::json!({"S": "a", "N": "1"})).contains("more than one datatypes"));
        assert!(message(serde_json::json!({"SS": []})).contains("An string set  may not be empty"));
        assert!(message(serde_json::json!({"SS": ["a", "a"]})).contains("Input collection [a, a] contains duplicates."));
        assert!(message(serde_json::json!({"NS": ["1", "1.0"]})).contains("contains duplicates"));
        assert!(message(serde_json::json!({"N": "x"})).contains("cannot be converted to a numeric value"));
        assert!(message(serde_json::json!({"NULL": false}))
            .contains("Null attribute value types must have the value of true"));
    }

    #[test]
    fn equality_and_order_follow_dynamodb() {
        let n = |t: &str| Value::N(Number::parse(t).unwrap());
        assert!(n("1.0").equals(&n("1")));
        assert!(Value::Ss(vec!["a".into(), "b".into()]).equals(&Value::Ss(vec!["b".into(), "a".into()])));
        assert!(!Value::S("1".into()).equals(&n("1")));
        assert_eq!(n("2").compare(&n("10")), Some(Ordering::Less));
        assert_eq!(Value::S("2".into()).compare(&Value::S("10".into())), Some(Ordering::Greater));
        assert_eq!(Value::S("a".into()).compare(&n("1")), None);
    }
}
