//! Document paths (`a.b[2].c`): reading them in an item, finding the slot
//! an update writes, and DynamoDB's rule that no two paths of one
//! expression may overlap (one inside the other) or conflict (one reads a
//! map where the other reads a list).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::error::{TablesError, TablesResult};
use crate::value::{Item, Value};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElement {
    /// A map member (or, first, a top-level attribute).
    Attribute(String),
    /// A list element.
    Index(usize),
}

/// A document path; the first element is always an attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// The path of one top-level attribute.
    pub fn attribute(name: impl Into<String>) -> Self {
        Self(vec![PathElement::Attribute(name.into())])
    }

    /// The value at the path, if the item has one there.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a Value> {
        let (first, rest) = self.0.split_first()?;
        let PathElement::Attribute(name) = first else { return None };
        rest.iter().try_fold(item.get(name)?, |value, element| match (element, value) {
            (PathElement::Attribute(name), Value::M(map)) => map.get(name),
            (PathElement::Index(index), Value::L(list)) => list.get(*index),
            _ => None,
        })
    }

    /// The top-level attribute the path starts at.
    pub fn first_attribute(&self) -> &str {
        match self.0.first() {
            Some(PathElement::Attribute(name)) => name,
            _ => "",
        }
    }

    /// Whether the path is just a top-level attribute.
    pub fn is_top_level(&self) -> bool {
        self.0.len() == 1
    }

    /// The path as DynamoDB's messages show it: `[a, b, [2]]`.
    pub fn bracketed(&self) -> String {
        let elements: Vec<String> = self
            .0
            .iter()
            .map(|element| match element {
                PathElement::Attribute(name) => name.clone(),
                PathElement::Index(index) => format!("[{index}]"),
            })
            .collect();
        format!("[{}]", elements.join(", "))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, element) in self.0.iter().enumerate() {
            match element {
                PathElement::Attribute(name) if i == 0 => write!(f, "{name}")?,
                PathElement::Attribute(name) => write!(f, ".{name}")?,
                PathElement::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// An order of paths in which list indexes grow: sorting the writes of an
/// update by it appends out-of-range list elements in index order.
pub(super) fn compare_paths(a: &Path, b: &Path) -> Ordering {
    for (x, y) in a.0.iter().zip(&b.0) {
        let order = match (x, y) {
            (PathElement::Attribute(x), PathElement::Attribute(y)) => x.cmp(y),
            (PathElement::Index(x), PathElement::Index(y)) => x.cmp(y),
            (PathElement::Attribute(_), PathElement::Index(_)) => Ordering::Less,
            (PathElement::Index(_), PathElement::Attribute(_)) => Ordering::Greater,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    a.0.len().cmp(&b.0.len())
}

/// Refuses two paths of which one is (inside) the other, or which read the
/// same value once as a map and once as a list, with DynamoDB's messages.
pub(super) fn check_overlaps(paths: &[&Path], which: &str) -> TablesResult<()> {
    for (i, one) in paths.iter().enumerate() {
        for two in &paths[i + 1..] {
            if let Some(relation) = relation(one, two) {
                return Err(TablesError::validation(format!(
                    "Invalid {which}: Two document paths {relation} with each other; must remove or rewrite one of \
                     these paths; path one: {}, path two: {}",
                    one.bracketed(),
                    two.bracketed()
                )));
            }
        }
    }
    Ok(())
}

fn relation(a: &Path, b: &Path) -> Option<&'static str> {
    for (x, y) in a.0.iter().zip(&b.0) {
        match (x, y) {
            (PathElement::Attribute(x), PathElement::Attribute(y)) if x == y => {}
            (PathElement::Index(x), PathElement::Index(y)) if x == y => {}
            (PathElement::Attribute(_), PathElement::Attribute(_)) | (PathElement::Index(_), PathElement::Index(_)) => {
                return None
            }
            _ => return Some("conflict"),
        }
    }
    Some("overlap")
}

/// Where a path's value lives, for writing it: a member of a map (the item
/// itself for a top-level attribute) or an element of a list.
pub(super) enum Slot<'a> {
    /// The member `name` of a map.
    Map(&'a mut BTreeMap<String, Value>, &'a str),
    /// The element `index` of a list (possibly past its end).
    List(&'a mut Vec<Value>, usize),
}

impl<'a> Slot<'a> {
    /// The slot of `path` in `item`; `None` when the value holding it is
    /// missing or of the wrong type (not a map, not a list).
    pub fn find(item: &'a mut Item, path: &'a Path) -> Option<Self> {
        let (last, parents) = path.0.split_last()?;
        let Some((first, between)) = parents.split_first() else {
            return match last {
                PathElement::Attribute(name) => Some(Self::Map(item, name)),
                PathElement::Index(_) => None,
            };
        };
        let PathElement::Attribute(name) = first else { return None };
        let mut value = item.get_mut(name)?;
        for element in between {
            value = match (element, value) {
                (PathElement::Attribute(name), Value::M(map)) => map.get_mut(name)?,
                (PathElement::Index(index), Value::L(list)) => list.get_mut(*index)?,
                _ => return None,
            };
        }
        match (last, value) {
            (PathElement::Attribute(name), Value::M(map)) => Some(Self::Map(map, name)),
            (PathElement::Index(index), Value::L(list)) => Some(Self::List(list, *index)),
            _ => None,
        }
    }

    /// The value in the slot, if any.
    pub fn get(&self) -> Option<&Value> {
        match self {
            Self::Map(map, name) => map.get(*name),
            Self::List(list, index) => list.get(*index),
        }
    }

    /// Writes the slot; an index past the list's end appends.
    pub fn put(self, value: Value) {
        match self {
            Self::Map(map, name) => {
                map.insert(name.to_string(), value);
            }
            Self::List(list, index) if index < list.len() => list[index] = value,
            Self::List(list, _) => list.push(value),
        }
    }

    /// Empties the slot (nothing happens when it is empty already); later
    /// list elements move up one.
    pub fn remove(self) {
        match self {
            Self::Map(map, name) => {
                map.remove(name);
            }
            Self::List(list, index) if index < list.len() => {
                list.remove(index);
            }
            Self::List(..) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use sluice_model::dynamodb::number::Number;

    use super::*;
    use crate::expression::testing::item;

    fn path(elements: &[&str]) -> Path {
        Path(
            elements
                .iter()
                .map(|e| match e.parse() {
                    Ok(index) => PathElement::Index(index),
                    Err(_) => PathElement::Attribute(e.to_string()),
                })
                .collect(),
        )
    }

    #[test]
    fn paths_read_nested_values() {
        let item = item(serde_json::json!({
            "a": {"M": {"b": {"L": [{"N": "1"}, {"M": {"c": {"S": "deep"}}}]}}},
            "s": {"S": "x"}
        }));
        let text = |t: &str| Some(Value::S(t.to_string()));
        for (elements, expected) in [
            (&["s"][..], text("x")),
            (&["a", "b", "1", "c"][..], text("deep")),
            (&["a", "b", "0"][..], Some(Value::N(Number::parse("1").unwrap()))),
            (&["a", "b", "2"][..], None),
            (&["a", "x"][..], None),
            (&["s", "0"][..], None),
            (&["a", "0"][..], None),
            (&["missing", "b"][..], None),
        ] {
            assert_eq!(path(elements).get(&item).cloned(), expected, "{elements:?}");
        }
    }

    #[test]
    fn paths_display_as_written_and_as_dynamodb_quotes_them() {
        let p = path(&["a", "b", "2", "c", "0", "1"]);
        assert_eq!(p.to_string(), "a.b[2].c[0][1]");
        assert_eq!(p.bracketed(), "[a, b, [2], c, [0], [1]]");
        assert_eq!(p.first_attribute(), "a");
        assert!(!p.is_top_level());
        assert!(Path::attribute("x").is_top_level());
    }

    #[test]
    fn overlaps_and_conflicts_follow_dynamodb() {
        for (one, two, expected) in [
            (&["a"][..], &["a"][..], Some("overlap")),
            (&["a"][..], &["a", "b"][..], Some("overlap")),
            (&["a", "b", "c"][..], &["a", "b"][..], Some("overlap")),
            (&["a", "1"][..], &["a", "1", "1"][..], Some("overlap")),
            (&["a", "b"][..], &["a", "1"][..], Some("conflict")),
            (&["a", "b", "c"][..], &["a", "b", "2"][..], Some("conflict")),
            (&["a"][..], &["b"][..], None),
            (&["a", "b"][..], &["a", "c"][..], None),
            (&["a", "1"][..], &["a", "2"][..], None),
            (&["a", "b"][..], &["a", "c", "2"][..], None),
        ] {
            assert_eq!(relation(&path(one), &path(two)), expected, "{one:?} {two:?}");
        }
        let (a, ab) = (path(&["a"]), path(&["a", "b"]));
        assert_eq!(
            check_overlaps(&[&a, &ab], "UpdateExpression").unwrap_err().to_string(),
            "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these \
             paths; path one: [a], path two: [a, b]"
        );
    }

    #[test]
    fn slots_write_maps_and_lists() {
        let mut item = item(serde_json::json!({"m": {"M": {}}, "l": {"L": [{"N": "0"}]}, "s": {"S": "x"}}));
        let (mb, l0, l5, sx, top) =
            (path(&["m", "b"]), path(&["l", "0"]), path(&["l", "5"]), path(&["s", "x"]), path(&["t"]));
        Slot::find(&mut item, &mb).unwrap().put(Value::Bool(true));
        Slot::find(&mut item, &l5).unwrap().put(Value::Null);
        Slot::find(&mut item, &top).unwrap().put(Value::Bool(false));
        assert!(Slot::find(&mut item, &sx).is_none());
        assert!(Slot::find(&mut item, &path(&["nope", "x"])).is_none());
        assert_eq!(mb.get(&item), Some(&Value::Bool(true)));
        assert_eq!(path(&["l", "1"]).get(&item), Some(&Value::Null), "past the end appends");
        Slot::find(&mut item, &l0).unwrap().remove();
        assert_eq!(path(&["l"]).get(&item), Some(&Value::L(vec![Value::Null])));
        Slot::find(&mut item, &l5).unwrap().remove();
        assert_eq!(path(&["l"]).get(&item), Some(&Value::L(vec![Value::Null])));
    }
}
