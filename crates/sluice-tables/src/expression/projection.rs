//! Projection expressions: a comma-separated list of document paths, none
//! overlapping another. Projecting keeps the item's structure: `a.b` gives
//! `{a: {b: ...}}` and list elements picked from one list come back in a
//! shorter list, in the list's order; paths the item lacks are left out.

use std::collections::BTreeMap;

use super::lexer::Kind;
use super::parser::Parser;
use super::path::{check_overlaps, Path, PathElement};
use super::ExpressionAttributes;
use crate::error::TablesResult;
use crate::value::{Item, Value};

const WHICH: &str = "ProjectionExpression";

/// Parses a `ProjectionExpression` into its paths, in the order written.
pub fn parse_projection(text: &str, attrs: &ExpressionAttributes) -> TablesResult<Vec<Path>> {
    let mut p = Parser::new(text, WHICH, attrs)?;
    let mut paths = vec![p.parse_path()?];
    while p.eat(Kind::Comma) {
        paths.push(p.parse_path()?);
    }
    p.finish()?;
    check_overlaps(&paths.iter().collect::<Vec<_>>(), WHICH)?;
    Ok(paths)
}

/// The part of `item` the paths select, nested as in the item.
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut top: BTreeMap<String, Picked> = BTreeMap::new();
    for path in paths {
        let (Some(value), Some((PathElement::Attribute(name), rest))) = (path.get(item), path.0.split_first()) else {
            continue;
        };
        top.entry(name.clone()).or_insert_with(|| Picked::for_rest(rest)).insert(rest, value);
    }
    top.into_iter().map(|(name, picked)| (name, picked.into_value())).collect()
}

/// What was picked of one value: all of it, or some members or elements.
enum Picked {
    Whole(Value),
    Members(BTreeMap<String, Picked>),
    Elements(BTreeMap<usize, Picked>),
}

impl Picked {
    /// An empty pick shaped for the path steps still to take.
    fn for_rest(rest: &[PathElement]) -> Self {
        match rest.first() {
            Some(PathElement::Attribute(_)) => Self::Members(BTreeMap::new()),
            Some(PathElement::Index(_)) => Self::Elements(BTreeMap::new()),
            None => Self::Whole(Value::Null),
        }
    }

    /// Adds `value`, found `rest` steps further down.
    fn insert(&mut self, rest: &[PathElement], value: &Value) {
        let Some((step, rest)) = rest.split_first() else {
            *self = Self::Whole(value.clone());
            return;
        };
        let next = match (self, step) {
            (Self::Members(members), PathElement::Attribute(name)) => {
                members.entry(name.clone()).or_insert_with(|| Self::for_rest(rest))
            }
            (Self::Elements(elements), PathElement::Index(index)) => {
                elements.entry(*index).or_insert_with(|| Self::for_rest(rest))
            }
            // Already whole (an overlapping path), or shaped otherwise.
            _ => return,
        };
        next.insert(rest, value);
    }

    fn into_value(self) -> Value {
        match self {
            Self::Whole(value) => value,
            Self::Members(members) => Value::M(members.into_iter().map(|(k, v)| (k, v.into_value())).collect()),
            Self::Elements(elements) => Value::L(elements.into_values().map(Self::into_value).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::expression::testing::{attrs, item};

    fn list() -> serde_json::Value {
        json!({"L": [{"N": "2"}, {"N": "4"}, {"M": {"x": {"S": "hi"}, "y": {"S": "yo"}}}]})
    }

    fn sample() -> Item {
        item(json!({"a": {"M": {"b": list(), "c": {"N": "5"}}}, "b": {"S": "hello"}, "a.b": {"S": "dotted"}}))
    }

    #[test]
    fn projections_keep_the_items_structure() {
        let a = attrs(json!({"#ab": "a.b", "#a": "a"}), serde_json::Value::Null);
        for (text, expected) in [
            ("a", json!({"a": {"M": {"b": list(), "c": {"N": "5"}}}})),
            ("a.b", json!({"a": {"M": {"b": list()}}})),
            ("a.b[0]", json!({"a": {"M": {"b": {"L": [{"N": "2"}]}}}})),
            ("a.b[2].y", json!({"a": {"M": {"b": {"L": [{"M": {"y": {"S": "yo"}}}]}}}})),
            ("a.b[1], a.b[0]", json!({"a": {"M": {"b": {"L": [{"N": "2"}, {"N": "4"}]}}}})),
            ("a.b[0],a.c", json!({"a": {"M": {"b": {"L": [{"N": "2"}]}, "c": {"N": "5"}}}})),
            ("a.c, b", json!({"a": {"M": {"c": {"N": "5"}}}, "b": {"S": "hello"}})),
            (" #ab , #a.c ", json!({"a.b": {"S": "dotted"}, "a": {"M": {"c": {"N": "5"}}}})),
            ("a.x, a.b[0], x, a.b[3].x", json!({"a": {"M": {"b": {"L": [{"N": "2"}]}}}})),
            ("x", json!({})),
            ("a.b[3]", json!({})),
            ("a.b.x", json!({})),
            ("a[0]", json!({})),
            ("a.b[0][0]", json!({})),
        ] {
            let paths = parse_projection(text, &a).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(project(&sample(), &paths), item(expected), "{text}");
        }
    }

    #[test]
    fn mistakes_get_dynamodbs_messages() {
        let a = attrs(json!({"#a": "a"}), serde_json::Value::Null);
        let overlap = |one: &str, two: &str| {
            format!(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: \
                 {one}, path two: {two}"
            )
        };
        for (text, expected) in [
            ("", "The expression can not be empty;".to_string()),
            ("a,", "Syntax error; token: \"<EOF>\", near: \",\"".to_string()),
            (",a", "Syntax error; token: \",\", near: \",a\"".to_string()),
            ("a,,b", "Syntax error; token: \",\", near: \",,b\"".to_string()),
            ("a b", "Syntax error; token: \"b\", near: \"a b\"".to_string()),
            ("pk, status", "Attribute name is a reserved keyword; reserved keyword: status".to_string()),
            (
                "#nope",
                "An expression attribute name used in the document path is not defined; attribute name: #nope"
                    .to_string(),
            ),
            ("a, a", overlap("[a]", "[a]")),
            ("#a, a", overlap("[a]", "[a]")),
            ("a, a.b", overlap("[a]", "[a, b]")),
            ("a.b.d, a.b", overlap("[a, b, d]", "[a, b]")),
            ("a.b[0],a.b[0]", overlap("[a, b, [0]]", "[a, b, [0]]")),
            (
                "a.b, a[1]",
                "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: \
                 [a, b], path two: [a, [1]]"
                    .to_string(),
            ),
        ] {
            let got = parse_projection(text, &a).unwrap_err().to_string();
            assert_eq!(got, format!("Invalid ProjectionExpression: {expected}"), "{text}");
        }
        for text in ["a, b", "a.b, a.c", "a.b.d, a.b.e", "a[1], a[2]", "a.b, a.c[2]"] {
            assert!(parse_projection(text, &a).is_ok(), "{text}");
        }
    }
}
