//! EventBridge event patterns: parsing with EventBridge's validation (and
//! its `InvalidEventPatternException` messages), and matching events.
//!
//! Semantics follow the EventBridge user guide ("Content filtering in
//! Amazon EventBridge event patterns", "Arrays in event patterns") and the
//! behaviour of the reference rule engine EventBridge is built on:
//!
//! - A pattern is a JSON object; leaves are non-empty arrays of match
//!   values; a field matches when any value matches; all fields must match.
//! - Exact values: strings, numbers (compared numerically, so `[5]`
//!   matches `5.0`), `true`, `false`, `null`. A string that is an IP
//!   address literal matches the same address however it is written.
//! - `prefix`, `suffix` (each also with `{"equals-ignore-case": ..}`),
//!   `equals-ignore-case`, `wildcard` (`*`, `\*`, `\\`; `**` refused),
//!   `anything-but` (a string, a number, a list of either, or an object of
//!   `prefix`, `suffix`, `equals-ignore-case` or `wildcard` with a value or
//!   a list), `numeric` (`=`, `<`, `<=`, `>`, `>=`, or a lower then an upper
//!   bound), `cidr` (IPv4 and IPv6), `exists`, and `$or` at any level.
//! - String tests only accept strings; `numeric` only numbers;
//!   `anything-but` accepts values of any other type (and `null`).
//! - Event arrays: a field matches when any element matches; fields taken
//!   from objects inside one array must come from the same element.
//! - Nested pattern objects and dotted field names both address nested
//!   event fields (`{"a": {"b": ..}}` is `{"a.b": ..}`).
//! - `exists` judges leaves: an object, an empty array or a missing field
//!   all count as absent.

mod lexer;
mod matcher;
mod ops;
mod parse;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_invalid;

use serde_json::Value;

/// Longest pattern text accepted (`EventPattern` in the service model).
pub const MAX_PATTERN_LENGTH: usize = 4096;

/// The prefix of every refusal, as EventBridge words it.
const PREFIX: &str = "Event pattern is not valid. Reason: ";

/// A parsed, validated EventBridge event pattern.
#[derive(Debug, Clone)]
pub struct EventPattern {
    branches: Vec<parse::Branch>,
    /// Every field path the pattern tests (for pruning the event).
    paths: Vec<String>,
}

/// Why a pattern is invalid; `Display` is the message returned to clients
/// (`InvalidEventPatternException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatternError {
    /// The whole message, starting `Event pattern is not valid. Reason: `.
    pub message: String,
}

impl PatternError {
    fn new(reason: impl std::fmt::Display) -> Self {
        PatternError { message: format!("{PREFIX}{reason}") }
    }

    /// The reason without the location the message may end with (what
    /// some clients show), e.g. `Empty arrays are not allowed`.
    pub fn reason(&self) -> &str {
        let reason = self.message.strip_prefix(PREFIX).unwrap_or(&self.message);
        reason.split("\n at [Source: ").next().unwrap_or(reason)
    }
}

/// An event flattened once, to be matched against many patterns.
pub struct FlatEvent<'e> {
    flat: matcher::Flattened<'e>,
}

impl<'e> FlatEvent<'e> {
    /// Flattens every leaf of `event`.
    pub fn new(event: &'e Value) -> Self {
        Self { flat: matcher::Flattened::new(event, None) }
    }
}

impl EventPattern {
    /// Parses and validates a pattern given as JSON text.
    pub fn parse(text: &str) -> Result<EventPattern, PatternError> {
        let length = text.encode_utf16().count();
        if length > MAX_PATTERN_LENGTH {
            return Err(PatternError::new(format!(
                "the pattern is {length} characters long; at most {MAX_PATTERN_LENGTH} are allowed"
            )));
        }
        let branches = parse::compile(text).map_err(PatternError::new)?;
        let mut paths: Vec<String> = branches.iter().flatten().map(|(path, _)| path.clone()).collect();
        paths.sort();
        paths.dedup();
        Ok(EventPattern { branches, paths })
    }

    /// Whether `event` (an EventBridge event envelope as JSON: version, id,
    /// detail-type, source, account, time, region, resources, detail)
    /// matches.
    pub fn matches(&self, event: &Value) -> bool {
        let flat = matcher::Flattened::new(event, Some(&self.paths));
        self.branches.iter().any(|branch| matcher::branch_matches(branch, &flat))
    }

    /// Whether an event flattened once by [`FlatEvent::new`] matches (the
    /// same answer as [`EventPattern::matches`], for many patterns at the
    /// cost of one flattening).
    pub fn matches_flat(&self, event: &FlatEvent<'_>) -> bool {
        self.branches.iter().any(|branch| matcher::branch_matches(branch, &event.flat))
    }

    /// Parses `event_text` and matches it (`false` when it is not JSON).
    pub fn matches_json(&self, event_text: &str) -> bool {
        serde_json::from_str::<Value>(event_text).is_ok_and(|event| self.matches(&event))
    }
}
