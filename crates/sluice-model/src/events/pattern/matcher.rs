//! Matches compiled branches against an event.
//!
//! The event is flattened into leaves (a dotted path and a scalar value,
//! with the array elements the value sits in), the way the reference rule
//! engine sees an event: nested objects and dotted keys give the same
//! paths, arrays are looked through, and empty arrays or objects give no
//! leaf at all. A branch matches when every field finds a leaf its match
//! list accepts, and the leaves chosen never come from two different
//! elements of one array ("array-consistent" matching).

use std::collections::HashMap;

use serde_json::Value;

use super::ops::Matcher;
use super::parse::Branch;

/// One scalar value of the event.
struct Leaf<'e> {
    value: &'e Value,
    /// `(array id, element index)` of every array around the value.
    trail: Vec<(u32, u32)>,
}

/// The leaves of an event, by path (only paths a pattern can use).
pub(super) struct Flattened<'e> {
    leaves: HashMap<String, Vec<Leaf<'e>>>,
}

impl<'e> Flattened<'e> {
    /// Flattens `event`, keeping only leaves under one of `paths` (every
    /// leaf when `None`: an event matched against many patterns is
    /// flattened once).
    pub(super) fn new(event: &'e Value, paths: Option<&[String]>) -> Self {
        let mut flat = Flattened { leaves: HashMap::new() };
        if let Value::Object(members) = event {
            let mut next_array = 0;
            for (key, value) in members {
                flat.walk(key.clone(), value, &mut Vec::new(), &mut next_array, paths);
            }
        }
        flat
    }

    fn walk(
        &mut self,
        path: String,
        value: &'e Value,
        trail: &mut Vec<(u32, u32)>,
        next: &mut u32,
        paths: Option<&[String]>,
    ) {
        let relevant = paths.is_none_or(|paths| {
            paths
                .iter()
                .any(|p| p == &path || (p.starts_with(path.as_str()) && p.as_bytes().get(path.len()) == Some(&b'.')))
        });
        if !relevant {
            return;
        }
        match value {
            Value::Object(members) => {
                for (key, child) in members {
                    self.walk(format!("{path}.{key}"), child, trail, next, paths);
                }
            }
            Value::Array(items) => {
                let id = *next;
                *next += 1;
                for (index, item) in items.iter().enumerate() {
                    trail.push((id, u32::try_from(index).unwrap_or(u32::MAX)));
                    self.walk(path.clone(), item, trail, next, paths);
                    trail.pop();
                }
            }
            _ => self.leaves.entry(path).or_default().push(Leaf { value, trail: trail.clone() }),
        }
    }
}

/// Whether `branch` matches the flattened event.
pub(super) fn branch_matches(branch: &Branch, flat: &Flattened<'_>) -> bool {
    // For each field, the trails of the leaves it could bind.
    let mut to_bind: Vec<Vec<&[(u32, u32)]>> = Vec::new();
    for (path, matchers) in branch {
        let leaves = flat.leaves.get(path).map(Vec::as_slice).unwrap_or(&[]);
        if leaves.is_empty() && matchers.contains(&Matcher::Exists(false)) {
            continue;
        }
        let candidates: Vec<&[(u32, u32)]> = leaves
            .iter()
            .filter(|leaf| matchers.iter().any(|m| *m != Matcher::Exists(false) && m.accepts(leaf.value)))
            .map(|leaf| leaf.trail.as_slice())
            .collect();
        if candidates.is_empty() {
            return false;
        }
        // A leaf outside any array is consistent with every choice.
        if candidates.iter().any(|t| t.is_empty()) {
            continue;
        }
        to_bind.push(candidates);
    }
    to_bind.sort_by_key(Vec::len);
    bind(&to_bind, &mut Vec::new())
}

/// Picks one candidate per field so that no array is entered at two
/// different elements.
fn bind(fields: &[Vec<&[(u32, u32)]>], chosen: &mut Vec<(u32, u32)>) -> bool {
    let Some((first, rest)) = fields.split_first() else { return true };
    for trail in first {
        let consistent = trail.iter().all(|(array, index)| chosen.iter().all(|(a, i)| a != array || i == index));
        if !consistent {
            continue;
        }
        let before = chosen.len();
        chosen.extend(
            trail.iter().filter(|(array, _)| !chosen.iter().any(|(a, _)| a == array)).copied().collect::<Vec<_>>(),
        );
        if bind(rest, chosen) {
            return true;
        }
        chosen.truncate(before);
    }
    false
}
