//! IAM policy documents and their evaluation: Allow / Deny statements over
//! Action / NotAction and Resource / NotResource with `*` and `?`
//! wildcards, Principal for trust and resource policies, and Conditions
//! (String*, Arn*, Bool, Null, with `...IfExists`). An explicit Deny wins;
//! without an Allow the answer is an implicit deny.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::IamError;

/// The policy versions IAM accepts.
const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, whatever else allows.
    Deny,
}

/// What a policy (or a set of them) says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement denies it.
    ExplicitDeny,
    /// A statement allows it and none denies it.
    Allow,
    /// Nothing allows it.
    ImplicitDeny,
}

/// Where a policy is attached, which decides what it must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user or role: no Principal, Resource required.
    Identity,
    /// A role's trust policy: Principal required, no Resource.
    Trust,
    /// Attached to a resource (a bus, a bucket): Principal required.
    Resource,
}

#[derive(Debug, Clone, PartialEq)]
struct Statement {
    effect: Effect,
    principals: Option<Vec<String>>,
    actions: Option<Vec<String>>,
    not_actions: Option<Vec<String>>,
    resources: Option<Vec<String>>,
    not_resources: Option<Vec<String>>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    operator: String,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

/// A parsed, checked policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Who asks for what, on which resource, in which context.
#[derive(Debug, Clone, Default)]
pub struct AccessRequest {
    /// `service:Action`.
    pub action: String,
    /// The resource's ARN (`*` when the action names none).
    pub resource: String,
    /// The caller's ARN (root, user or assumed role).
    pub principal_arn: String,
    /// The caller's account.
    pub principal_account: String,
    /// Condition keys (`aws:SourceAccount`, `sts:ExternalId`, ...), by
    /// lower-cased name.
    pub context: HashMap<String, Vec<String>>,
}

impl AccessRequest {
    /// A request with the keys every request carries
    /// (`aws:PrincipalAccount`, `aws:PrincipalArn`).
    pub fn new(action: &str, resource: &str, principal_arn: &str, principal_account: &str) -> Self {
        let mut request = Self {
            action: action.to_string(),
            resource: resource.to_string(),
            principal_arn: principal_arn.to_string(),
            principal_account: principal_account.to_string(),
            context: HashMap::new(),
        };
        request.set("aws:PrincipalAccount", principal_account);
        request.set("aws:PrincipalArn", principal_arn);
        request
    }

    /// Sets a condition key.
    pub fn set(&mut self, key: &str, value: &str) {
        self.context.insert(key.to_ascii_lowercase(), vec![value.to_string()]);
    }
}

fn malformed(message: impl Into<String>) -> IamError {
    IamError::MalformedPolicyDocument(message.into())
}

/// A string or a list of strings.
fn strings(value: &Value, what: &str) -> Result<Vec<String>, IamError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(malformed(format!("{what} must be a string or a list of strings"))),
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => Err(malformed(format!("{what} must be a string or a list of strings"))),
    }
}

impl Policy {
    /// Parses and checks a policy document, as IAM does when it is attached.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Self, IamError> {
        let document: Value = serde_json::from_str(text).map_err(|_| malformed("Syntax errors in policy."))?;
        let object = document.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
        if let Some(version) = object.get("Version") {
            if !version.as_str().is_some_and(|v| VERSIONS.contains(&v)) {
                return Err(malformed("The policy must contain a valid version string"));
            }
        }
        let statements = match object.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
            Some(item @ Value::Object(_)) => vec![item],
            _ => return Err(malformed("Syntax errors in policy.")),
        };
        if statements.is_empty() {
            return Err(malformed("Syntax errors in policy."));
        }
        let statements = statements.into_iter().map(|s| Statement::parse(s, kind)).collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }

    /// What this policy says about `request`.
    pub fn evaluate(&self, request: &AccessRequest) -> Decision {
        let mut decision = Decision::ImplicitDeny;
        for statement in &self.statements {
            if statement.applies(request) {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => decision = Decision::Allow,
                }
            }
        }
        decision
    }
}

/// What several policies together say: any Deny wins, then any Allow.
pub fn evaluate_all<'a>(policies: impl IntoIterator<Item = &'a Policy>, request: &AccessRequest) -> Decision {
    let mut decision = Decision::ImplicitDeny;
    for policy in policies {
        match policy.evaluate(request) {
            Decision::ExplicitDeny => return Decision::ExplicitDeny,
            Decision::Allow => decision = Decision::Allow,
            Decision::ImplicitDeny => {}
        }
    }
    decision
}

impl Statement {
    fn parse(value: &Value, kind: PolicyKind) -> Result<Self, IamError> {
        let object = value.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
        let effect = match object.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(malformed("Missing required field Effect")),
        };
        let list = |key: &str| object.get(key).map(|v| strings(v, key)).transpose();
        let actions = list("Action")?;
        let not_actions = list("NotAction")?;
        if actions.is_none() && not_actions.is_none() {
            return Err(malformed("Policy statement must contain actions."));
        }
        let resources = list("Resource")?;
        let not_resources = list("NotResource")?;
        let principals = match object.get("Principal") {
            None => None,
            Some(Value::String(s)) if s == "*" => Some(vec!["*".to_string()]),
            Some(Value::Object(map)) => {
                let mut all = Vec::new();
                for (key, value) in map {
                    for principal in strings(value, "Principal")? {
                        all.push(match key.as_str() {
                            "AWS" => principal,
                            other => format!("{other}:{principal}"),
                        });
                    }
                }
                Some(all)
            }
            Some(_) => return Err(malformed("Invalid principal in policy")),
        };
        match kind {
            PolicyKind::Identity => {
                if principals.is_some() || object.contains_key("NotPrincipal") {
                    return Err(malformed("Policy document should not specify a principal."));
                }
                if resources.is_none() && not_resources.is_none() {
                    return Err(malformed("Policy statement must contain resources."));
                }
            }
            PolicyKind::Trust | PolicyKind::Resource => {
                if principals.is_none() {
                    return Err(malformed("Missing required field Principal"));
                }
                if kind == PolicyKind::Trust && (resources.is_some() || not_resources.is_some()) {
                    return Err(malformed("Has prohibited field Resource"));
                }
            }
        }
        let mut conditions = Vec::new();
        if let Some(block) = object.get("Condition") {
            let block = block.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
            for (operator, keys) in block {
                let (operator, if_exists) = match operator.strip_suffix("IfExists") {
                    Some(base) => (base.to_string(), true),
                    None => (operator.clone(), false),
                };
                if !KNOWN_OPERATORS.contains(&operator.as_str()) {
                    return Err(malformed(format!("Invalid Condition type : {operator}")));
                }
                let keys = keys.as_object().ok_or_else(|| malformed("Syntax errors in policy."))?;
                for (key, values) in keys {
                    conditions.push(Condition {
                        operator: operator.clone(),
                        if_exists,
                        key: key.to_ascii_lowercase(),
                        values: strings(values, "Condition")?,
                    });
                }
            }
        }
        Ok(Self { effect, principals, actions, not_actions, resources, not_resources, conditions })
    }

    fn applies(&self, request: &AccessRequest) -> bool {
        let action_matches = |patterns: &[String]| patterns.iter().any(|p| wildcard(p, &request.action, true));
        let resource_matches = |patterns: &[String]| patterns.iter().any(|p| wildcard(p, &request.resource, false));
        if let Some(actions) = &self.actions {
            if !action_matches(actions) {
                return false;
            }
        }
        if let Some(actions) = &self.not_actions {
            if action_matches(actions) {
                return false;
            }
        }
        if let Some(resources) = &self.resources {
            if !resource_matches(resources) {
                return false;
            }
        }
        if let Some(resources) = &self.not_resources {
            if resource_matches(resources) {
                return false;
            }
        }
        if let Some(principals) = &self.principals {
            if !principals.iter().any(|p| principal_matches(p, request)) {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(request))
    }
}

/// Whether `pattern` (a Principal entry) names the caller: `*`, the
/// caller's account (`123456789012` or `arn:aws:iam::123456789012:root`,
/// meaning any identity of that account), or the caller's own ARN (an
/// assumed role's session also matches its role's ARN).
fn principal_matches(pattern: &str, request: &AccessRequest) -> bool {
    if pattern == "*" {
        return true;
    }
    if pattern == request.principal_account || pattern == format!("arn:aws:iam::{}:root", request.principal_account) {
        return true;
    }
    if wildcard(pattern, &request.principal_arn, false) {
        return true;
    }
    // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION is a session of
    // arn:aws:iam::ACCOUNT:role/ROLE.
    if let Some(rest) =
        request.principal_arn.strip_prefix(&format!("arn:aws:sts::{}:assumed-role/", request.principal_account))
    {
        if let Some((role, _session)) = rest.rsplit_once('/') {
            let role_arn = format!("arn:aws:iam::{}:role/{role}", request.principal_account);
            return wildcard(pattern, &role_arn, false);
        }
    }
    false
}

const KNOWN_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Bool",
    "Null",
];

impl Condition {
    fn holds(&self, request: &AccessRequest) -> bool {
        let present = request.context.get(&self.key);
        if self.operator == "Null" {
            // "Null": "true" holds when the key is absent.
            let absent = present.is_none();
            return self.values.iter().any(|v| (v == "true") == absent);
        }
        let Some(actual) = present else {
            // A missing key: ...IfExists holds; negated operators hold; the rest fail.
            return self.if_exists || self.operator.contains("Not");
        };
        let matches_one = |value: &str| {
            self.values.iter().any(|expected| match self.operator.as_str() {
                "StringEquals" | "StringNotEquals" | "ArnEquals" | "ArnNotEquals" | "Bool" => expected == value,
                "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => expected.eq_ignore_ascii_case(value),
                "StringLike" | "StringNotLike" | "ArnLike" | "ArnNotLike" => wildcard(expected, value, false),
                _ => false,
            })
        };
        let any = actual.iter().any(|v| matches_one(v));
        if self.operator.contains("Not") {
            !any
        } else {
            any
        }
    }
}

/// `*` (any run) and `?` (any one character) matching; actions compare
/// without regard to case, as IAM does.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) = if ignore_case {
        (pattern.to_lowercase().chars().collect(), text.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == '*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(action: &str, resource: &str) -> AccessRequest {
        AccessRequest::new(action, resource, "arn:aws:iam::111111111111:user/alice", "111111111111")
    }

    fn identity(text: &str) -> Policy {
        Policy::parse(text, PolicyKind::Identity).unwrap()
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(wildcard("events:*", "events:PutEvents", true));
        assert!(wildcard("EVENTS:put*", "events:PutEvents", true));
        assert!(wildcard("arn:aws:events:*:*:rule/a?c", "arn:aws:events:us-east-1:1:rule/abc", false));
        assert!(!wildcard("arn:aws:events:*:*:rule/a?c", "arn:aws:events:us-east-1:1:rule/abbc", false));
        assert!(!wildcard("arn:*:Rule/x", "arn:aws:rule/x", false), "resources are case-sensitive");
        assert!(wildcard("*", "", false));
    }

    #[test]
    fn allow_deny_and_default_deny() {
        let policy = identity(
            r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["events:*", "sqs:SendMessage"], "Resource": "*"},
                {"Effect": "Deny", "Action": "events:DeleteRule", "Resource": "arn:aws:events:*:*:rule/keep-*"}
            ]}"#,
        );
        assert_eq!(policy.evaluate(&request("events:PutRule", "arn:aws:events:r:1:rule/x")), Decision::Allow);
        assert_eq!(policy.evaluate(&request("events:DeleteRule", "arn:aws:events:r:1:rule/x")), Decision::Allow);
        assert_eq!(
            policy.evaluate(&request("events:DeleteRule", "arn:aws:events:r:1:rule/keep-me")),
            Decision::ExplicitDeny
        );
        assert_eq!(policy.evaluate(&request("appflow:StartFlow", "*")), Decision::ImplicitDeny);
        let open = identity(r#"{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#);
        assert_eq!(evaluate_all([&open, &policy], &request("events:DeleteRule", "arn:x:rule/keep-1")), Decision::Allow);
        assert_eq!(
            evaluate_all([&open, &policy], &request("events:DeleteRule", "arn:aws:events:r:1:rule/keep-1")),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn not_action_and_not_resource_invert() {
        let policy = identity(
            r#"{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:sqs:*:*:secret"}]}"#,
        );
        assert_eq!(
            policy.evaluate(&request("events:PutEvents", "arn:aws:events:r:1:event-bus/default")),
            Decision::Allow
        );
        assert_eq!(policy.evaluate(&request("iam:CreateUser", "*")), Decision::ImplicitDeny);
        assert_eq!(policy.evaluate(&request("sqs:SendMessage", "arn:aws:sqs:r:1:secret")), Decision::ImplicitDeny);
    }

    #[test]
    fn conditions_on_accounts_and_external_ids() {
        let trust = Policy::parse(
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "isv-42"}}}]}"#,
            PolicyKind::Trust,
        )
        .unwrap();
        let mut ask = AccessRequest::new(
            "sts:AssumeRole",
            "arn:aws:iam::111111111111:role/isv",
            "arn:aws:iam::999999999999:user/app",
            "999999999999",
        );
        assert_eq!(trust.evaluate(&ask), Decision::ImplicitDeny, "no ExternalId");
        ask.set("sts:ExternalId", "wrong");
        assert_eq!(trust.evaluate(&ask), Decision::ImplicitDeny);
        ask.set("sts:ExternalId", "isv-42");
        assert_eq!(trust.evaluate(&ask), Decision::Allow);
        let stranger = AccessRequest::new("sts:AssumeRole", "arn:x", "arn:aws:iam::222222222222:root", "222222222222");
        assert_eq!(trust.evaluate(&stranger), Decision::ImplicitDeny);

        let like = identity(
            r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {
                "StringLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/a*"},
                "StringNotEqualsIfExists": {"aws:SourceAccount": "666666666666"},
                "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}}}]}"#,
        );
        let mut ask = request("sqs:SendMessage", "*");
        assert_eq!(like.evaluate(&ask), Decision::Allow);
        ask.set("aws:SourceAccount", "666666666666");
        assert_eq!(like.evaluate(&ask), Decision::ImplicitDeny);
        let null = identity(
            r#"{"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"Null": {"aws:SourceAccount": "true"}}}]}"#,
        );
        assert_eq!(null.evaluate(&request("x:y", "*")), Decision::ExplicitDeny);
    }

    #[test]
    fn sessions_match_their_role_and_accounts_match_every_identity() {
        let session = AccessRequest::new(
            "events:PutEvents",
            "arn:aws:events:r:2:event-bus/b",
            "arn:aws:sts::111111111111:assumed-role/writer/s1",
            "111111111111",
        );
        let by_role = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/writer"},
                "Action": "events:PutEvents", "Resource": "*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert_eq!(by_role.evaluate(&session), Decision::Allow);
        let by_account = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": "events:*", "Resource": "*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert_eq!(by_account.evaluate(&session), Decision::Allow);
        let other_role = Policy::parse(
            r#"{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:role/reader"},
                "Action": "*", "Resource": "*"}]}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        assert_eq!(other_role.evaluate(&session), Decision::ImplicitDeny);
    }

    #[test]
    fn malformed_documents_are_refused_with_iams_messages() {
        let refuse = |text: &str, kind: PolicyKind| match Policy::parse(text, kind) {
            Err(IamError::MalformedPolicyDocument(message)) => message,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(refuse("{not json", PolicyKind::Identity), "Syntax errors in policy.");
        assert_eq!(
            refuse(r#"{"Version": "2020-01-01", "Statement": []}"#, PolicyKind::Identity),
            "The policy must contain a valid version string"
        );
        assert_eq!(
            refuse(r#"{"Statement": [{"Action": "*", "Resource": "*"}]}"#, PolicyKind::Identity),
            "Missing required field Effect"
        );
        assert_eq!(
            refuse(r#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#, PolicyKind::Identity),
            "Policy statement must contain actions."
        );
        assert_eq!(
            refuse(r#"{"Statement": [{"Effect": "Allow", "Action": "*"}]}"#, PolicyKind::Identity),
            "Policy statement must contain resources."
        );
        assert_eq!(
            refuse(r#"{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}"#, PolicyKind::Trust),
            "Missing required field Principal"
        );
        assert_eq!(
            refuse(
                r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Foo": {"a": "b"}}}]}"#,
                PolicyKind::Identity
            ),
            "Invalid Condition type : Foo"
        );
    }
}
