//! Authorization of every signed request: the IAM action it is
//! (`events:PutRule`, `appflow:StartFlow`, `iam:CreateUser`, ...) and the
//! ARN of the resource it names, evaluated against the caller's policies
//! by the identity service. Resources of another account are the owning
//! service's to allow (a bus policy); here a caller acts in its own account.

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::Method;
use serde_json::Value;
use sluice_iam::{AccessRequest, Caller};

use crate::auth::identity_error;
use crate::error::ApiError;
use crate::state::AppState;

/// Refuses the request unless the caller's policies allow it.
pub async fn authorize(
    state: &AppState,
    caller: &Caller,
    service: &str,
    parts: &Parts,
    body: &Bytes,
) -> Result<(), ApiError> {
    // A root user may do anything in its own account: no need to name the call.
    if caller.is_root() {
        return Ok(());
    }
    let (action, resource) = action_and_resource(state.region(), caller, service, parts, body);
    // Anyone may ask who they are; AssumeRole is judged against the role's
    // trust policy (and the caller's own) by STS itself.
    if action == "sts:GetCallerIdentity" || action == "sts:AssumeRole" {
        return Ok(());
    }
    let request = AccessRequest::new(&action, &resource, &caller.arn(), &caller.account_id);
    state.identity().authorize(caller, &request).await.map_err(identity_error)
}

/// `Foo-bar-baz` path segment -> `FooBarBaz`.
fn camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn text<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The IAM action and resource ARN of a request (`*` when it names none).
pub fn action_and_resource(
    region: &str,
    caller: &Caller,
    service: &str,
    parts: &Parts,
    body: &Bytes,
) -> (String, String) {
    let account = &caller.account_id;
    let json = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    match service {
        "events" | "sqs" | "states" | "dynamodb" | "secretsmanager" => {
            let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
            let operation = target.rsplit('.').next().unwrap_or_default();
            let body = json();
            let resource = match service {
                "events" => events_resource(region, account, operation, &body),
                "sqs" => text(&body, "QueueUrl")
                    .and_then(|url| url.rsplit('/').next())
                    .or_else(|| text(&body, "QueueName"))
                    .map(|queue| format!("arn:aws:sqs:{region}:{account}:{queue}")),
                "dynamodb" => dynamodb_resource(region, account, &body),
                "secretsmanager" => text(&body, "SecretId").or_else(|| text(&body, "Name")).map(|id| {
                    if id.starts_with("arn:") {
                        id.to_string()
                    } else {
                        format!("arn:aws:secretsmanager:{region}:{account}:secret:{id}")
                    }
                }),
                _ => None,
            };
            (format!("{service}:{operation}"), resource.unwrap_or_else(|| "*".into()))
        }
        "sts" | "iam" => {
            let params = sluice_model::query_protocol::form_pairs(&String::from_utf8_lossy(body));
            let param = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            let action = param("Action").unwrap_or_default();
            let resource = match service {
                "iam" => param("UserName")
                    .map(|user| format!("arn:aws:iam::{account}:user/{user}"))
                    .or_else(|| param("RoleName").map(|role| format!("arn:aws:iam::{account}:role/{role}"))),
                _ => param("RoleArn"),
            };
            (format!("{service}:{action}"), resource.unwrap_or_else(|| "*".into()))
        }
        "pipes" if parts.uri.path().starts_with("/tags/") => {
            let arn = percent_encoding::percent_decode_str(&parts.uri.path()["/tags/".len()..])
                .decode_utf8_lossy()
                .into_owned();
            let action = match parts.method {
                Method::GET => "ListTagsForResource",
                Method::DELETE => "UntagResource",
                _ => "TagResource",
            };
            (format!("pipes:{action}"), arn)
        }
        "pipes" => {
            let path = parts.uri.path();
            let mut segments = path.trim_start_matches("/v1/pipes").trim_start_matches('/').split('/');
            let name = segments.next().filter(|n| !n.is_empty());
            let action = match (&parts.method, name, segments.next()) {
                (_, None, _) => "ListPipes",
                (_, Some(_), Some("start")) => "StartPipe",
                (_, Some(_), Some("stop")) => "StopPipe",
                (&Method::POST, Some(_), _) => "CreatePipe",
                (&Method::PUT, Some(_), _) => "UpdatePipe",
                (&Method::DELETE, Some(_), _) => "DeletePipe",
                _ => "DescribePipe",
            };
            let resource =
                name.map(|n| format!("arn:aws:pipes:{region}:{account}:pipe/{n}")).unwrap_or_else(|| "*".into());
            (format!("pipes:{action}"), resource)
        }
        _ => {
            let path = parts.uri.path();
            let operation = if let Some(_arn) = path.strip_prefix("/tags/") {
                match parts.method {
                    Method::GET => "ListTagsForResource".to_string(),
                    Method::DELETE => "UntagResource".to_string(),
                    _ => "TagResource".to_string(),
                }
            } else {
                camel(path.trim_start_matches('/'))
            };
            let body = json();
            let resource = text(&body, "flowName")
                .map(|flow| format!("arn:aws:appflow:{region}:{account}:flow/{flow}"))
                .or_else(|| {
                    text(&body, "connectorProfileName")
                        .map(|p| format!("arn:aws:appflow:{region}:{account}:connectorprofile/{p}"))
                })
                .or_else(|| {
                    path.strip_prefix("/tags/")
                        .map(|arn| percent_encoding::percent_decode_str(arn).decode_utf8_lossy().into_owned())
                });
            (format!("appflow:{operation}"), resource.unwrap_or_else(|| "*".into()))
        }
    }
}

/// The table (or stream) a DynamoDB operation acts on: its `TableName`
/// (a name or an ARN), its `StreamArn` or `ResourceArn`, or the first
/// table of a batch.
fn dynamodb_resource(region: &str, account: &str, body: &Value) -> Option<String> {
    let table = |name: &str| {
        if name.starts_with("arn:") {
            name.to_string()
        } else {
            format!("arn:aws:dynamodb:{region}:{account}:table/{name}")
        }
    };
    text(body, "TableName")
        .map(table)
        .or_else(|| text(body, "StreamArn").or_else(|| text(body, "ResourceArn")).map(str::to_string))
        .or_else(|| body.get("RequestItems").and_then(Value::as_object).and_then(|m| m.keys().next()).map(|n| table(n)))
}

/// The bus or rule an EventBridge operation acts on.
fn events_resource(region: &str, account: &str, operation: &str, body: &Value) -> Option<String> {
    let bus_of = |value: &Value| {
        text(value, "EventBusName").map(|b| b.rsplit('/').next().unwrap_or(b).to_string()).unwrap_or("default".into())
    };
    let rule = |name: &str| {
        let bus = bus_of(body);
        if bus == "default" {
            format!("arn:aws:events:{region}:{account}:rule/{name}")
        } else {
            format!("arn:aws:events:{region}:{account}:rule/{bus}/{name}")
        }
    };
    match operation {
        "PutRule" | "DescribeRule" | "DeleteRule" | "EnableRule" | "DisableRule" => text(body, "Name").map(rule),
        "PutTargets" | "RemoveTargets" | "ListTargetsByRule" => text(body, "Rule").map(rule),
        "CreateEventBus" | "DescribeEventBus" | "DeleteEventBus" => {
            text(body, "Name").map(|b| format!("arn:aws:events:{region}:{account}:event-bus/{b}"))
        }
        "PutEvents" => {
            let first = body.get("Entries").and_then(Value::as_array).and_then(|e| e.first())?;
            let bus = text(first, "EventBusName").unwrap_or("default");
            if bus.starts_with("arn:") {
                Some(bus.to_string())
            } else {
                Some(format!("arn:aws:events:{region}:{account}:event-bus/{bus}"))
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: &str, path: &str, target: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder().method(method).uri(path);
        if let Some(target) = target {
            builder = builder.header("x-amz-target", target);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn requests_name_their_action_and_resource() {
        let caller = Caller::root("111111111111");
        let of = |service: &str, parts: Parts, body: &str| {
            action_and_resource("us-east-1", &caller, service, &parts, &Bytes::from(body.to_string()))
        };
        assert_eq!(
            of("appflow", parts("POST", "/start-flow", None), r#"{"flowName": "f1"}"#),
            ("appflow:StartFlow".into(), "arn:aws:appflow:us-east-1:111111111111:flow/f1".into())
        );
        assert_eq!(of("appflow", parts("GET", "/tags/arn%3Ax", None), "").0, "appflow:ListTagsForResource");
        assert_eq!(
            of("events", parts("POST", "/", Some("AWSEvents.PutRule")), r#"{"Name": "r", "EventBusName": "orders"}"#),
            ("events:PutRule".into(), "arn:aws:events:us-east-1:111111111111:rule/orders/r".into())
        );
        assert_eq!(
            of("events", parts("POST", "/", Some("AWSEvents.PutEvents")), r#"{"Entries": [{"Source": "s"}]}"#).1,
            "arn:aws:events:us-east-1:111111111111:event-bus/default"
        );
        assert_eq!(
            of("sqs", parts("POST", "/", Some("AmazonSQS.SendMessage")), r#"{"QueueUrl": "http://h/111111111111/q1"}"#),
            ("sqs:SendMessage".into(), "arn:aws:sqs:us-east-1:111111111111:q1".into())
        );
        assert_eq!(
            of("iam", parts("POST", "/", None), "Action=CreateUser&UserName=bob"),
            ("iam:CreateUser".into(), "arn:aws:iam::111111111111:user/bob".into())
        );
        assert_eq!(of("events", parts("POST", "/", Some("AWSEvents.ListRules")), "{}").1, "*");
        assert_eq!(
            of("pipes", parts("POST", "/v1/pipes/p1/stop", None), ""),
            ("pipes:StopPipe".into(), "arn:aws:pipes:us-east-1:111111111111:pipe/p1".into())
        );
        assert_eq!(of("pipes", parts("GET", "/v1/pipes", None), "").0, "pipes:ListPipes");
        assert_eq!(
            of("dynamodb", parts("POST", "/", Some("DynamoDB_20120810.PutItem")), r#"{"TableName": "t1"}"#),
            ("dynamodb:PutItem".into(), "arn:aws:dynamodb:us-east-1:111111111111:table/t1".into())
        );
        assert_eq!(
            of(
                "dynamodb",
                parts("POST", "/", Some("DynamoDB_20120810.BatchGetItem")),
                r#"{"RequestItems": {"t2": {}}}"#
            )
            .1,
            "arn:aws:dynamodb:us-east-1:111111111111:table/t2"
        );
    }
}
