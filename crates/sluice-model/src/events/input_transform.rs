//! Target input shaping as EventBridge does it: `InputPath` (a JSON path
//! selecting part of the event) and `InputTransformer` (an
//! `InputPathsMap` of variables and an `InputTemplate` with `<name>`
//! placeholders).
//!
//! Rules followed (EventBridge user guide, "Amazon EventBridge input
//! transformation", and behaviour recorded against the service):
//!
//! - Paths: `$`, dot notation, array indices (`[0]`) and wildcards (`*`,
//!   `[*]`); a path that selects nothing gives no value.
//! - A template that is a JSON object (it starts with `{`) is JSON: a
//!   variable in value position is inserted as JSON (strings quoted); inside
//!   a JSON string it is inserted as text, not quoted again (objects and
//!   arrays lose their inner quotes). Any other template is text: values
//!   are inserted as text, the template kept as written (quotes included).
//! - A variable whose path selects nothing is empty: `""` in value
//!   position, nothing inside a string or a text template.
//! - Predefined variables: `aws.events.rule-arn`, `aws.events.rule-name`,
//!   `aws.events.event.ingestion-time`, and `aws.events.event` (the event
//!   without `detail`) and `aws.events.event.json` (the whole event); the
//!   last two only as values of a JSON template.
//! - A placeholder that is neither in the map nor predefined is refused, as
//!   `PutTargets` refuses it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Most `InputPathsMap` entries.
pub const MAX_PATHS: usize = 100;
/// Longest `InputPathsMap` key.
pub const MAX_KEY_LENGTH: usize = 256;
/// Longest path (`InputPath` or an `InputPathsMap` value).
pub const MAX_PATH_LENGTH: usize = 256;
/// Longest `InputTemplate`.
pub const MAX_TEMPLATE_LENGTH: usize = 8192;

const RULE_ARN: &str = "aws.events.rule-arn";
const RULE_NAME: &str = "aws.events.rule-name";
const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
const EVENT: &str = "aws.events.event";
const EVENT_JSON: &str = "aws.events.event.json";
const PREDEFINED: &[&str] = &[RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON];

/// Why a path, map or template is invalid; `Display` is the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransformError {
    /// Every problem found, separated by `; `.
    pub message: String,
}

impl TransformError {
    fn new(message: impl Into<String>) -> Self {
        TransformError { message: message.into() }
    }
}

/// What the predefined variables stand for when rendering.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransformContext {
    /// `<aws.events.rule-arn>`.
    pub rule_arn: String,
    /// `<aws.events.rule-name>`.
    pub rule_name: String,
    /// `<aws.events.event.ingestion-time>` (ISO 8601).
    pub ingestion_time: String,
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    /// `*` or `[*]`: every member or element.
    All,
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    fn parse(path: &str) -> Result<JsonPath, String> {
        if path.chars().count() > MAX_PATH_LENGTH {
            return Err(format!("it is longer than {MAX_PATH_LENGTH} characters"));
        }
        let Some(mut rest) = path.strip_prefix('$') else {
            return Err("it must start with '$'".into());
        };
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('.') {
                let end = after.find(['.', '[']).unwrap_or(after.len());
                let name = &after[..end];
                if name.is_empty() {
                    return Err("a '.' must be followed by a field name".into());
                }
                if let Some(bad) = name.chars().find(|c| c.is_whitespace() || matches!(c, ']' | '"' | '\'' | '$')) {
                    return Err(format!("field name '{name}' contains '{bad}'"));
                }
                steps.push(if name == "*" { Step::All } else { Step::Field(name.to_string()) });
                rest = &after[end..];
            } else if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or("a '[' is not closed")?;
                let inside = &after[..end];
                if inside == "*" {
                    steps.push(Step::All);
                } else if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()) {
                    steps.push(Step::Index(inside.parse().map_err(|_| format!("index {inside} is too large"))?));
                } else {
                    return Err(format!("'[{inside}]' is not an array index or [*]"));
                }
                rest = &after[end + 1..];
            } else {
                return Err(format!("unexpected '{}'", rest.chars().next().unwrap_or(' ')));
            }
        }
        Ok(JsonPath { steps })
    }

    fn select(&self, event: &Value) -> Option<Value> {
        let mut current = vec![event];
        for step in &self.steps {
            current = current
                .into_iter()
                .flat_map(|value| -> Vec<&Value> {
                    match (step, value) {
                        (Step::Field(name), Value::Object(members)) => members.get(name).into_iter().collect(),
                        (Step::Index(i), Value::Array(items)) => items.get(*i).into_iter().collect(),
                        (Step::All, Value::Object(members)) => members.values().collect(),
                        (Step::All, Value::Array(items)) => items.iter().collect(),
                        _ => Vec::new(),
                    }
                })
                .collect();
        }
        if self.steps.contains(&Step::All) {
            (!current.is_empty()).then(|| Value::Array(current.into_iter().cloned().collect()))
        } else {
            current.first().map(|v| (*v).clone())
        }
    }
}

/// Selects the part of `event` that `path` (an `InputPath`) names:
/// `Ok(None)` when it names nothing, an error when it is not a valid path.
/// With a wildcard, the selected values come as an array.
pub fn select_path(event: &Value, path: &str) -> Result<Option<Value>, TransformError> {
    let parsed = JsonPath::parse(path)
        .map_err(|reason| TransformError::new(format!("{path} is not a valid JSON path: {reason}")))?;
    Ok(parsed.select(event))
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// A placeholder; `in_string` when inside a JSON string literal.
    Var {
        name: String,
        in_string: bool,
    },
}

/// A validated `InputTransformer`.
#[derive(Debug, Clone)]
pub struct InputTransformer {
    paths: BTreeMap<String, JsonPath>,
    pieces: Vec<Piece>,
    json: bool,
}

impl InputTransformer {
    /// Validates paths map and template (all problems collected).
    pub fn new(paths_map: &BTreeMap<String, String>, template: &str) -> Result<Self, TransformError> {
        Self::build(None, paths_map, template)
    }

    /// As [`InputTransformer::new`], with messages naming the target as
    /// `PutTargets` does (`InputTemplate for target t1 contains invalid
    /// placeholder x.`).
    pub fn for_target(
        target_id: &str,
        paths_map: &BTreeMap<String, String>,
        template: &str,
    ) -> Result<Self, TransformError> {
        Self::build(Some(target_id), paths_map, template)
    }

    fn build(
        target: Option<&str>,
        paths_map: &BTreeMap<String, String>,
        template: &str,
    ) -> Result<Self, TransformError> {
        let subject = match target {
            Some(id) => format!("InputTemplate for target {id}"),
            None => "InputTemplate".to_string(),
        };
        let mut problems = Vec::new();
        if paths_map.len() > MAX_PATHS {
            problems.push(format!("InputPathsMap has {} entries; at most {MAX_PATHS} are allowed", paths_map.len()));
        }
        let mut paths = BTreeMap::new();
        for (key, path) in paths_map {
            if PREDEFINED.contains(&key.as_str()) {
                problems.push(format!("InputPathsMap key {key} is reserved for a predefined variable"));
            } else if key.is_empty()
                || key.chars().count() > MAX_KEY_LENGTH
                || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                problems.push(format!(
                    "InputPathsMap key '{key}' is not valid: keys are 1 to {MAX_KEY_LENGTH} letters, digits, '_' or '-'"
                ));
            }
            match JsonPath::parse(path) {
                Ok(parsed) => {
                    paths.insert(key.clone(), parsed);
                }
                Err(reason) => problems
                    .push(format!("InputPathsMap value {path} for key {key} is not a valid JSON path: {reason}")),
            }
        }
        let length = template.chars().count();
        if length == 0 || length > MAX_TEMPLATE_LENGTH {
            problems.push(format!("{subject} must be 1 to {MAX_TEMPLATE_LENGTH} characters long"));
        }
        let json = template.trim_start().starts_with('{');
        let pieces = split_template(template, json);
        for piece in &pieces {
            let Piece::Var { name, in_string } = piece else { continue };
            if !paths_map.contains_key(name) && !PREDEFINED.contains(&name.as_str()) {
                problems.push(format!("{subject} contains invalid placeholder {name}."));
            } else if (name == EVENT || name == EVENT_JSON) && (!json || *in_string) {
                problems.push(format!("{subject} contains placeholder {name} valid only for JSON template."));
            }
        }
        if json && length > 0 {
            let probe: String = pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Text(text) => text.as_str(),
                    Piece::Var { in_string: true, .. } => "",
                    Piece::Var { in_string: false, .. } => "null",
                })
                .collect();
            if let Err(e) = serde_json::from_str::<Value>(&probe) {
                problems.push(format!("{subject} is not valid JSON: {e}"));
            }
        }
        if !problems.is_empty() {
            return Err(TransformError::new(problems.join("; ")));
        }
        Ok(InputTransformer { paths, pieces, json })
    }

    /// Renders the target input for `event`; `context` gives the rule
    /// ARN/name and ingestion time.
    pub fn render(&self, event: &Value, context: &TransformContext) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var { name, in_string } => {
                    let value = self.value_of(name, event, context);
                    out.push_str(&insert(value.as_ref(), self.json && !in_string));
                }
            }
        }
        out
    }

    fn value_of(&self, name: &str, event: &Value, context: &TransformContext) -> Option<Value> {
        match name {
            RULE_ARN => Some(Value::String(context.rule_arn.clone())),
            RULE_NAME => Some(Value::String(context.rule_name.clone())),
            INGESTION_TIME => Some(Value::String(context.ingestion_time.clone())),
            EVENT_JSON => Some(event.clone()),
            EVENT => Some(event_without_detail(event)),
            _ => self.paths.get(name).and_then(|path| path.select(event)),
        }
    }
}

/// The event for `<aws.events.event>`: no `detail`, and `detail-type`
/// spelled `detailType` (as observed from the service).
fn event_without_detail(event: &Value) -> Value {
    match event {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(key, _)| key.as_str() != "detail")
                .map(|(key, value)| {
                    (if key == "detail-type" { "detailType".to_string() } else { key.clone() }, value.clone())
                })
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

/// How a value is written into the template.
fn insert(value: Option<&Value>, as_json: bool) -> String {
    match (value, as_json) {
        (None, true) => "\"\"".to_string(),
        (None, false) => String::new(),
        (Some(value), true) => value.to_string(),
        (Some(Value::String(s)), false) => s.clone(),
        (Some(value @ (Value::Object(_) | Value::Array(_))), false) => value.to_string().replace('"', ""),
        (Some(value), false) => value.to_string(),
    }
}

/// Splits a template into text and `<name>` placeholders, noting for JSON
/// templates which placeholders sit inside a string literal.
fn split_template(template: &str, json: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut in_string = false;
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '<' {
            let rest = &template[i + 1..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')));
            if let Some(end) = end.filter(|&end| end > 0 && rest[end..].starts_with('>')) {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Var { name: rest[..end].to_string(), in_string: json && in_string });
                for _ in 0..=end {
                    chars.next();
                }
                continue;
            }
        }
        if json {
            if c == '"' {
                in_string = !in_string;
            } else if c == '\\' && in_string {
                text.push(c);
                if let Some((_, escaped)) = chars.next() {
                    text.push(escaped);
                }
                continue;
            }
        }
        text.push(c);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

#[cfg(test)]
mod tests;
