//! Validation of JSON requests against a botocore service model.
//!
//! The same model file that boto3 uses to build a request is used here to
//! check it: required members, JSON types, enum values, string lengths,
//! regular-expression patterns, numeric ranges and collection sizes. Every
//! problem is collected; messages follow the wording AWS services use
//! (`Value 'x' at 'a.b' failed to satisfy constraint: ...`). Values of
//! sensitive shapes are never echoed.

use std::collections::{HashMap, HashSet};

use fancy_regex::Regex;
use serde_json::Value;

use crate::error::{ModelError, ValidationProblems};

/// A botocore service model loaded for validation.
pub struct ServiceModel {
    shapes: serde_json::Map<String, Value>,
    operations: serde_json::Map<String, Value>,
    patterns: HashMap<String, Regex>,
    sensitive: HashSet<String>,
}

/// How strictly members the model does not define are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownMembers {
    /// Ignore them, as AWS services do (the API server).
    Ignore,
    /// Report each one (local checks of hand-written files).
    Reject,
}

impl ServiceModel {
    /// Loads a model from its JSON text and compiles every pattern.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let root: Value = serde_json::from_str(text).map_err(|e| ModelError::InvalidModel(e.to_string()))?;
        let shapes = root
            .get("shapes")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| ModelError::InvalidModel("no shapes".into()))?;
        let operations = root
            .get("operations")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| ModelError::InvalidModel("no operations".into()))?;
        let mut patterns = HashMap::new();
        let mut sensitive = HashSet::new();
        for (name, shape) in &shapes {
            if shape.get("sensitive").and_then(Value::as_bool) == Some(true) {
                sensitive.insert(name.clone());
            }
            if let Some(pattern) = shape.get("pattern").and_then(Value::as_str) {
                let regex = Regex::new(&translate_java_pattern(pattern)).map_err(|e| ModelError::BadPattern {
                    shape: name.clone(),
                    pattern: pattern.to_string(),
                    reason: e.to_string(),
                })?;
                patterns.insert(name.clone(), regex);
            }
        }
        Ok(Self { shapes, operations, patterns, sensitive })
    }

    /// Treats a shape (and everything inside it) as secret in messages,
    /// in addition to the shapes the model marks `sensitive`.
    pub fn mark_sensitive(&mut self, shape: &str) {
        self.sensitive.insert(shape.to_string());
    }

    /// A shape's definition, as the model writes it.
    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.shapes.get(name)
    }

    /// An operation's definition (`input`, `output`, `errors`, ...).
    pub fn operation(&self, name: &str) -> Option<&Value> {
        self.operations.get(name)
    }

    /// Name of the input shape of an operation.
    pub fn input_shape(&self, operation: &str) -> Option<&str> {
        self.operations.get(operation)?.get("input")?.get("shape")?.as_str()
    }

    /// Enum values of a string shape, if it is an enum.
    pub fn enum_values(&self, shape: &str) -> Option<Vec<&str>> {
        let values = self.shapes.get(shape)?.get("enum")?.as_array()?;
        Some(values.iter().filter_map(Value::as_str).collect())
    }

    /// Validates the input of `operation`. Members carried in the URI or
    /// query string must already be merged into `value` under their member
    /// names.
    pub fn validate_input(&self, operation: &str, value: &Value, unknown: UnknownMembers) -> ValidationProblems {
        let mut problems = ValidationProblems::new();
        match self.input_shape(operation) {
            Some(shape) => self.validate_shape(shape, value, "", unknown, &mut problems),
            None => problems.push(format!("unknown operation {operation}")),
        }
        problems
    }

    /// Validates `value` against the named shape, appending to `problems`.
    /// `path` is the member path of `value` ("" for a request root).
    pub fn validate_shape(
        &self,
        shape: &str,
        value: &Value,
        path: &str,
        unknown: UnknownMembers,
        problems: &mut ValidationProblems,
    ) {
        let mut walker = Walker { model: self, unknown, problems };
        walker.walk(shape, value, path, false);
    }
}

struct Walker<'a> {
    model: &'a ServiceModel,
    unknown: UnknownMembers,
    problems: &'a mut ValidationProblems,
}

impl Walker<'_> {
    fn walk(&mut self, shape_name: &str, value: &Value, path: &str, inherited_sensitive: bool) {
        let Some(shape) = self.model.shapes.get(shape_name) else {
            self.problems.push(format!("internal: shape {shape_name} missing from model"));
            return;
        };
        let sensitive = inherited_sensitive || self.model.sensitive.contains(shape_name);
        let kind = shape.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "structure" => self.structure(shape, value, path, sensitive),
            "list" => self.list(shape, value, path, sensitive),
            "map" => self.map(shape, value, path, sensitive),
            "string" => self.string(shape_name, shape, value, path, sensitive),
            "integer" | "long" => self.integer(shape, value, path),
            "double" | "float" => {
                if !value.is_number() {
                    self.type_mismatch(path, "a number", value);
                }
            }
            "boolean" => {
                if !value.is_boolean() {
                    self.type_mismatch(path, "a boolean", value);
                }
            }
            "timestamp" => {
                if !value.is_number() {
                    self.type_mismatch(path, "a timestamp in epoch seconds", value);
                }
            }
            "blob" => {
                if !value.is_string() {
                    self.type_mismatch(path, "a base64 string", value);
                }
            }
            other => self.problems.push(format!("internal: unsupported shape type {other} at '{path}'")),
        }
    }

    fn structure(&mut self, shape: &Value, value: &Value, path: &str, sensitive: bool) {
        let Some(object) = value.as_object() else {
            self.type_mismatch(path, "an object", value);
            return;
        };
        let members = shape.get("members").and_then(Value::as_object);
        let required: Vec<&str> = shape
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for name in &required {
            if object.get(*name).is_none_or(Value::is_null) {
                self.problems.push(format!(
                    "Value null at '{}' failed to satisfy constraint: Member must not be null",
                    join(path, name)
                ));
            }
        }
        for (name, member_value) in object {
            let member = members.and_then(|m| m.get(name));
            match member {
                Some(member) => {
                    if member_value.is_null() {
                        continue;
                    }
                    let target = member.get("shape").and_then(Value::as_str).unwrap_or("");
                    self.walk(target, member_value, &join(path, name), sensitive);
                }
                None if self.unknown == UnknownMembers::Reject => {
                    self.problems
                        .push(format!("Unknown member '{}': the model defines no such field", join(path, name)));
                }
                None => {}
            }
        }
    }

    fn list(&mut self, shape: &Value, value: &Value, path: &str, sensitive: bool) {
        let Some(items) = value.as_array() else {
            self.type_mismatch(path, "a list", value);
            return;
        };
        self.size_bounds(shape, items.len(), path);
        let member = shape.get("member").and_then(|m| m.get("shape")).and_then(Value::as_str).unwrap_or("");
        for (i, item) in items.iter().enumerate() {
            let item_path = format!("{}.{}.member", path, i + 1);
            if item.is_null() {
                self.problems
                    .push(format!("Value null at '{item_path}' failed to satisfy constraint: Member must not be null"));
                continue;
            }
            self.walk(member, item, &item_path, sensitive);
        }
    }

    fn map(&mut self, shape: &Value, value: &Value, path: &str, sensitive: bool) {
        let Some(entries) = value.as_object() else {
            self.type_mismatch(path, "a map", value);
            return;
        };
        self.size_bounds(shape, entries.len(), path);
        let key_shape = shape.get("key").and_then(|m| m.get("shape")).and_then(Value::as_str).unwrap_or("");
        let value_shape = shape.get("value").and_then(|m| m.get("shape")).and_then(Value::as_str).unwrap_or("");
        for (key, entry) in entries {
            self.walk(key_shape, &Value::String(key.clone()), &format!("{path}.key"), sensitive);
            let entry_path = format!("{path}.{key}");
            if entry.is_null() {
                self.problems.push(format!(
                    "Value null at '{entry_path}' failed to satisfy constraint: Member must not be null"
                ));
                continue;
            }
            self.walk(value_shape, entry, &entry_path, sensitive);
        }
    }

    fn string(&mut self, shape_name: &str, shape: &Value, value: &Value, path: &str, sensitive: bool) {
        let Some(text) = value.as_str() else {
            self.type_mismatch(path, "a string", value);
            return;
        };
        let shown = if sensitive { String::new() } else { format!(" '{}'", text) };
        if let Some(values) = shape.get("enum").and_then(Value::as_array) {
            if !values.iter().any(|v| v.as_str() == Some(text)) {
                let set: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                self.problems.push(format!(
                    "Value{shown} at '{path}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    set.join(", ")
                ));
            }
            return;
        }
        let length = text.chars().count() as i64;
        if let Some(max) = shape.get("max").and_then(Value::as_i64) {
            if length > max {
                self.problems.push(format!(
                    "Value{shown} at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"
                ));
            }
        }
        if let Some(min) = shape.get("min").and_then(Value::as_i64) {
            if length < min {
                self.problems.push(format!(
                    "Value{shown} at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
                ));
            }
        }
        if let Some(regex) = self.model.patterns.get(shape_name) {
            if !regex.is_match(text).unwrap_or(false) {
                let pattern = shape.get("pattern").and_then(Value::as_str).unwrap_or("");
                self.problems.push(format!(
                    "Value{shown} at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
                ));
            }
        }
    }

    fn integer(&mut self, shape: &Value, value: &Value, path: &str) {
        let Some(number) = value.as_i64() else {
            self.type_mismatch(path, "an integer", value);
            return;
        };
        if let Some(max) = shape.get("max").and_then(Value::as_i64) {
            if number > max {
                self.problems.push(format!(
                    "Value '{number}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {max}"
                ));
            }
        }
        if let Some(min) = shape.get("min").and_then(Value::as_i64) {
            if number < min {
                self.problems.push(format!(
                    "Value '{number}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
                ));
            }
        }
    }

    fn size_bounds(&mut self, shape: &Value, len: usize, path: &str) {
        let len = len as i64;
        if let Some(max) = shape.get("max").and_then(Value::as_i64) {
            if len > max {
                self.problems.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}"
                ));
            }
        }
        if let Some(min) = shape.get("min").and_then(Value::as_i64) {
            if len < min {
                self.problems.push(format!(
                    "Value at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}"
                ));
            }
        }
    }

    fn type_mismatch(&mut self, path: &str, expected: &str, found: &Value) {
        let found = match found {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        };
        let at = if path.is_empty() { "the request body".to_string() } else { format!("'{path}'") };
        self.problems.push(format!("Value at {at} must be {expected}, found {found}"));
    }
}

fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

/// Translates a pattern from a botocore model (Java regex syntax, matched
/// against the whole value) into an anchored `fancy_regex` pattern with
/// Java's ASCII meaning of `\w`, `\d` and `\s`.
pub fn translate_java_pattern(pattern: &str) -> String {
    // Java spells supplementary characters as UTF-16 surrogate pairs.
    let pattern = pattern.replace(r"\uD800\uDC00-\uDBFF\uDFFF", r"\x{10000}-\x{10FFFF}");
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let (class_body, negated_body) = match next {
                    'w' => (Some("A-Za-z0-9_"), None),
                    'd' => (Some("0-9"), None),
                    's' => (Some(r" \t\n\x0B\f\r"), None),
                    'W' => (None, Some("A-Za-z0-9_")),
                    'D' => (None, Some("0-9")),
                    'S' => (None, Some(r" \t\n\x0B\f\r")),
                    _ => (None, None),
                };
                match (class_body, negated_body) {
                    (Some(body), _) if in_class => out.push_str(body),
                    (Some(body), _) => {
                        out.push('[');
                        out.push_str(body);
                        out.push(']');
                    }
                    (_, Some(body)) if !in_class => {
                        out.push_str("[^");
                        out.push_str(body);
                        out.push(']');
                    }
                    _ if next == 'u' => {
                        let hex: String = chars.by_ref().take(4).collect();
                        out.push_str(&format!(r"\x{{{hex}}}"));
                    }
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                // A leading ']' is a literal in Java as well.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str(r"\]");
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    format!("^(?:{out})$")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn model() -> ServiceModel {
        ServiceModel::from_json(include_str!("../models/appflow-service-2.json")).unwrap()
    }

    #[test]
    fn every_appflow_pattern_compiles() {
        model();
    }

    #[test]
    fn patterns_match_whole_value_with_ascii_classes() {
        let re = Regex::new(&translate_java_pattern(r"[a-zA-Z0-9][\w!@#.-]+")).unwrap();
        assert!(re.is_match("my_flow-1").unwrap());
        assert!(!re.is_match("my flow").unwrap());
        assert!(!re.is_match("flüss").unwrap());
        let tag = Regex::new(&translate_java_pattern(r"^(?!aws:)[a-zA-Z+-=._:/]+$")).unwrap();
        assert!(tag.is_match("team").unwrap());
        assert!(!tag.is_match("aws:owner").unwrap());
        let s = Regex::new(&translate_java_pattern(r"\S+")).unwrap();
        assert!(s.is_match("abc").unwrap());
        assert!(!s.is_match("a c").unwrap());
    }

    #[test]
    fn collects_every_problem() {
        let request = json!({
            "flowName": "bad name",
            "triggerConfig": {"triggerType": "Sometimes"},
            "destinationFlowConfigList": [],
            "tasks": [{"sourceFields": "Id"}]
        });
        let problems = model().validate_input("CreateFlow", &request, UnknownMembers::Ignore);
        let text = problems.to_string();
        assert!(text.contains("Value 'bad name' at 'flowName' failed to satisfy constraint: Member must satisfy regular expression pattern"), "{text}");
        assert!(text.contains("Value 'Sometimes' at 'triggerConfig.triggerType' failed to satisfy constraint: Member must satisfy enum value set: [Scheduled, Event, OnDemand]"), "{text}");
        assert!(
            text.contains("Value null at 'sourceFlowConfig' failed to satisfy constraint: Member must not be null"),
            "{text}"
        );
        assert!(text.contains("Value at 'tasks.1.member.sourceFields' must be a list, found a string"), "{text}");
        assert!(text.contains("Value null at 'tasks.1.member.taskType'"), "{text}");
        assert_eq!(problems.len(), 5, "{text}");
    }

    #[test]
    fn sensitive_values_are_not_echoed() {
        let mut m = model();
        m.mark_sensitive("ConnectorProfileCredentials");
        let request = json!({
            "connectorProfileName": "p",
            "connectorType": "Salesforce",
            "connectionMode": "Public",
            "connectorProfileConfig": {
                "connectorProfileProperties": {},
                "connectorProfileCredentials": {"Salesforce": {"refreshToken": "x".repeat(5000)}}
            }
        });
        let problems = m.validate_input("CreateConnectorProfile", &request, UnknownMembers::Ignore);
        let text = problems.to_string();
        assert!(
            text.contains("at 'connectorProfileConfig.connectorProfileCredentials.Salesforce.refreshToken'"),
            "{text}"
        );
        assert!(!text.contains("xxxx"), "{text}");
    }

    #[test]
    fn unknown_members_rejected_only_when_asked() {
        let request = json!({"flowName": "flow1", "flowNmae": "typo"});
        let m = model();
        assert!(m.validate_input("DescribeFlow", &request, UnknownMembers::Ignore).is_empty());
        let strict = m.validate_input("DescribeFlow", &request, UnknownMembers::Reject);
        assert_eq!(strict.problems(), ["Unknown member 'flowNmae': the model defines no such field"]);
    }

    #[test]
    fn ranges_and_sizes() {
        let m = model();
        let p = m.validate_input("ListFlows", &json!({"maxResults": 0}), UnknownMembers::Ignore);
        assert_eq!(
            p.problems(),
            ["Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"]
        );
        let p = m.validate_input("ListFlows", &json!({"maxResults": "5"}), UnknownMembers::Ignore);
        assert_eq!(p.problems(), ["Value at 'maxResults' must be an integer, found a string"]);
    }
}
