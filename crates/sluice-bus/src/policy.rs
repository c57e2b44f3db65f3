//! A bus's resource policy: which other accounts may put events on it.
//! Kept as the IAM policy document EventBridge returns; evaluation covers
//! what PutPermission writes (`Allow` of `events:PutEvents` to an account,
//! `*`, or an organization through `aws:PrincipalOrgID`).

use serde_json::{json, Value};
use sluice_model::events::Condition;

use crate::error::{BusError, BusResult};

/// Largest policy EventBridge keeps (PolicyLengthExceededException past it).
pub const MAX_POLICY_BYTES: usize = 10_240;

/// A bus's resource policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusPolicy {
    statements: Vec<Value>,
}

impl BusPolicy {
    /// The policy stored in a bus document (empty if none).
    pub fn of(document: &Value) -> Self {
        let statements = document
            .get("Policy")
            .and_then(|p| p.get("Statement"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Self { statements }
    }

    /// A whole policy given as JSON text (PutPermission's `Policy`).
    pub fn parse(text: &str) -> BusResult<Self> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(BusError::validation("The event bus policy is too long."));
        }
        let value: Value = serde_json::from_str(text).map_err(|_| BusError::validation("Policy is not valid JSON."))?;
        let statements = match value.get("Statement") {
            Some(Value::Array(statements)) => statements.clone(),
            Some(statement @ Value::Object(_)) => vec![statement.clone()],
            _ => return Err(BusError::validation("Policy has no Statement.")),
        };
        Ok(Self { statements })
    }

    /// This policy plus a statement allowing `principal` (`*` or an account
    /// id) to call `action` on `bus_arn`.
    pub fn with_statement(
        &self,
        statement_id: &str,
        action: &str,
        principal: &str,
        condition: Option<&Condition>,
        bus_arn: &str,
    ) -> BusResult<Self> {
        if statement_id.is_empty() || action.is_empty() || principal.is_empty() {
            return Err(BusError::validation(
                "Parameters StatementId, Action and Principal are required when Policy is not given.",
            ));
        }
        if action != "events:PutEvents" {
            return Err(BusError::validation("Provided value in parameter 'action' is not supported."));
        }
        if principal != "*" && !sluice_model::arn::is_account_id(principal) {
            return Err(BusError::validation("Principal must be an AWS account id or '*'."));
        }
        let principal_value =
            if principal == "*" { json!("*") } else { json!({ "AWS": format!("arn:aws:iam::{principal}:root") }) };
        let mut statement = json!({
            "Sid": statement_id,
            "Effect": "Allow",
            "Principal": principal_value,
            "Action": action,
            "Resource": bus_arn,
        });
        if let Some(condition) = condition {
            statement["Condition"] =
                json!({ condition.r#type.clone(): { condition.key.clone(): condition.value.clone() } });
        }
        let mut statements: Vec<Value> = self
            .statements
            .iter()
            .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(statement_id))
            .cloned()
            .collect();
        statements.push(statement);
        let policy = Self { statements };
        if policy.to_text().map(|t| t.len()).unwrap_or(0) > MAX_POLICY_BYTES {
            return Err(BusError::validation("The event bus policy is too long."));
        }
        Ok(policy)
    }

    /// This policy without the statement `statement_id`.
    pub fn without_statement(&self, statement_id: &str) -> BusResult<Self> {
        let statements: Vec<Value> = self
            .statements
            .iter()
            .filter(|s| s.get("Sid").and_then(Value::as_str) != Some(statement_id))
            .cloned()
            .collect();
        if statements.len() == self.statements.len() {
            return Err(BusError::NotFound(format!("Statement with the provided id ({statement_id}) does not exist.")));
        }
        Ok(Self { statements })
    }

    /// Writes the policy into a bus document (removing it when empty).
    pub fn store_in(&self, document: &mut Value) {
        if let Value::Object(map) = document {
            if self.statements.is_empty() {
                map.remove("Policy");
            } else {
                map.insert("Policy".into(), json!({"Version": "2012-10-17", "Statement": self.statements}));
            }
        }
    }

    /// The policy as EventBridge returns it, `None` when empty.
    pub fn to_text(&self) -> Option<String> {
        (!self.statements.is_empty())
            .then(|| json!({"Version": "2012-10-17", "Statement": self.statements}).to_string())
    }

    /// Whether an `Allow` statement lets `account_id` call `action` on `bus_arn`.
    pub fn allows(&self, account_id: &str, action: &str, bus_arn: &str) -> bool {
        let root = format!("arn:aws:iam::{account_id}:root");
        self.statements.iter().any(|s| {
            let effect = s.get("Effect").and_then(Value::as_str) == Some("Allow");
            let principal = match s.get("Principal") {
                Some(Value::String(p)) => p == "*",
                Some(Value::Object(map)) => match map.get("AWS") {
                    Some(Value::String(p)) => p == "*" || *p == root || p == account_id,
                    Some(Value::Array(ps)) => ps.iter().any(|p| p == "*" || p == &json!(root) || p == account_id),
                    _ => false,
                },
                _ => false,
            };
            let action_ok = one_or_many(s.get("Action")).iter().any(|a| *a == action || *a == "events:*");
            let resource_ok = one_or_many(s.get("Resource")).iter().any(|r| *r == bus_arn || *r == "*");
            // Conditions on organization ids cannot hold: Sluice has no organizations.
            let unconditional = s.get("Condition").is_none();
            effect && principal && action_ok && resource_ok && unconditional
        })
    }
}

fn one_or_many(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_allow_the_accounts_they_name() {
        let bus = "arn:aws:events:us-east-1:111111111111:event-bus/consumer";
        let policy =
            BusPolicy::default().with_statement("producer", "events:PutEvents", "222222222222", None, bus).unwrap();
        assert!(policy.allows("222222222222", "events:PutEvents", bus));
        assert!(!policy.allows("333333333333", "events:PutEvents", bus));
        assert!(!policy.allows(
            "222222222222",
            "events:PutEvents",
            "arn:aws:events:us-east-1:111111111111:event-bus/other"
        ));
        let everyone = policy.with_statement("all", "events:PutEvents", "*", None, bus).unwrap();
        assert!(everyone.allows("333333333333", "events:PutEvents", bus));
        let back = everyone.without_statement("all").unwrap();
        assert_eq!(back, policy);
        assert!(back.without_statement("nope").is_err());
        assert!(BusPolicy::default().with_statement("x", "events:DeleteRule", "*", None, bus).is_err());
        let mut document = json!({});
        policy.store_in(&mut document);
        assert_eq!(BusPolicy::of(&document), policy);
        let parsed = BusPolicy::parse(&policy.to_text().unwrap()).unwrap();
        assert!(parsed.allows("222222222222", "events:PutEvents", bus));
    }
}
