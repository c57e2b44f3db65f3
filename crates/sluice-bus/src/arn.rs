//! ARNs of the bus's resources and of the targets it delivers to.

/// The name of every account's own bus.
pub const DEFAULT_BUS: &str = "default";

/// `arn:aws:events:REGION:ACCOUNT:event-bus/NAME`.
pub fn bus_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:events:{region}:{account_id}:event-bus/{name}")
}

/// A rule's ARN: `rule/NAME` on the default bus, `rule/BUS/NAME` elsewhere.
pub fn rule_arn(region: &str, account_id: &str, bus: &str, name: &str) -> String {
    if bus == DEFAULT_BUS {
        format!("arn:aws:events:{region}:{account_id}:rule/{name}")
    } else {
        format!("arn:aws:events:{region}:{account_id}:rule/{bus}/{name}")
    }
}

/// `arn:aws:events:REGION:ACCOUNT:KIND/NAME[/ID]` of a connection, API
/// destination, archive or replay.
pub fn resource_arn(region: &str, account_id: &str, kind: &str, name: &str, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("arn:aws:events:{region}:{account_id}:{kind}/{name}/{id}"),
        None => format!("arn:aws:events:{region}:{account_id}:{kind}/{name}"),
    }
}

/// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
pub fn queue_arn(region: &str, account_id: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account_id}:{name}")
}

/// The parts of an ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `events`, `sqs`, `appflow`, `lambda`...
    pub service: &'a str,
    /// Region.
    pub region: &'a str,
    /// Account id.
    pub account_id: &'a str,
    /// Everything after the account.
    pub resource: &'a str,
}

/// Splits `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
pub fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account_id = parts.next()?;
    let resource = parts.next()?;
    if service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(Arn { service, region, account_id, resource })
}

/// Where a target's events go, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// An SQS queue.
    Queue {
        /// Its account.
        account_id: String,
        /// Its name.
        name: String,
    },
    /// An event bus (this account's or another's).
    Bus {
        /// Its account.
        account_id: String,
        /// Its name.
        name: String,
    },
    /// An API destination (HTTP endpoint with a connection's auth).
    ApiDestination {
        /// Its account.
        account_id: String,
        /// Its name.
        name: String,
    },
    /// An AppFlow flow, started by StartFlow.
    Flow {
        /// Its account.
        account_id: String,
        /// Its name.
        name: String,
    },
}

impl TargetKind {
    /// The kind of target an ARN names, or why it cannot be one.
    pub fn parse(arn: &str) -> Result<Self, String> {
        let parsed = parse_arn(arn).ok_or_else(|| format!("'{arn}' is not a valid ARN"))?;
        let account_id = parsed.account_id.to_string();
        let named = |prefix: &str| parsed.resource.strip_prefix(prefix).map(|rest| rest.to_string());
        match parsed.service {
            "sqs" if !parsed.resource.contains('/') => {
                Ok(Self::Queue { account_id, name: parsed.resource.to_string() })
            }
            "events" => {
                if let Some(name) = named("event-bus/") {
                    return Ok(Self::Bus { account_id, name });
                }
                if let Some(rest) = named("api-destination/") {
                    let name = rest.split('/').next().unwrap_or_default().to_string();
                    return Ok(Self::ApiDestination { account_id, name });
                }
                Err(format!("'{arn}' is not an event bus or API destination ARN"))
            }
            "appflow" => match named("flow/") {
                Some(name) => Ok(Self::Flow { account_id, name }),
                None => Err(format!("'{arn}' is not an AppFlow flow ARN")),
            },
            other => Err(format!(
                "targets of service '{other}' are not supported by this server yet (supported: SQS queues, event \
                 buses, API destinations, AppFlow flows)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kinds_from_arns() {
        let account_id = "111122223333".to_string();
        assert_eq!(
            TargetKind::parse("arn:aws:sqs:us-east-1:111122223333:dlq").unwrap(),
            TargetKind::Queue { account_id: account_id.clone(), name: "dlq".into() }
        );
        assert_eq!(
            TargetKind::parse("arn:aws:events:us-east-1:111122223333:event-bus/consumer").unwrap(),
            TargetKind::Bus { account_id: account_id.clone(), name: "consumer".into() }
        );
        assert_eq!(
            TargetKind::parse("arn:aws:events:us-east-1:111122223333:api-destination/hook/8d5a").unwrap(),
            TargetKind::ApiDestination { account_id: account_id.clone(), name: "hook".into() }
        );
        assert_eq!(
            TargetKind::parse("arn:aws:appflow:us-east-1:111122223333:flow/second").unwrap(),
            TargetKind::Flow { account_id, name: "second".into() }
        );
        let error = TargetKind::parse("arn:aws:lambda:us-east-1:111122223333:function:f").unwrap_err();
        assert!(error.contains("'lambda'"), "{error}");
        assert!(TargetKind::parse("nonsense").is_err());
        assert_eq!(rule_arn("r", "1", "default", "x"), "arn:aws:events:r:1:rule/x");
        assert_eq!(rule_arn("r", "1", "orders", "x"), "arn:aws:events:r:1:rule/orders/x");
    }
}
