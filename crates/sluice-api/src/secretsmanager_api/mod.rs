//! Secrets Manager's JSON 1.1 API (botocore model `secretsmanager`
//! 2017-10-17, see `crates/sluice-model/models/README.md`): `X-Amz-Target:
//! secretsmanager.<Operation>`, each a call to the
//! [`SecretService`](sluice_secrets::SecretService) in the caller's account.

mod error;

use axum::body::Bytes;
use axum::response::Response;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_iam::Caller;
use sluice_model::secretsmanager::{self as wire, service_model};
use sluice_secrets::SecretsError;

use crate::json_protocol::{answer, body_json, parse};
use crate::state::AppState;

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

fn ok<T: Serialize>(value: &T) -> Result<Response, SecretsError> {
    Ok(answer(CONTENT_TYPE, value))
}

/// Runs one Secrets Manager operation and renders its answer or error.
pub async fn handle(state: &AppState, caller: &Caller, operation: &str, body: &Bytes) -> Response {
    match run(state, &caller.account_id, operation, body).await {
        Ok(response) => response,
        Err(e) => error::render(e),
    }
}

async fn run(state: &AppState, account: &str, operation: &str, body: &Bytes) -> Result<Response, SecretsError> {
    let secrets = state.secrets();
    let value: Value = body_json(body).map_err(|p| SecretsError::Validation(p.to_string()))?;
    macro_rules! input {
        () => {
            parse(service_model(), operation, value).map_err(|p| SecretsError::Validation(p.to_string()))?
        };
    }
    match operation {
        "CreateSecret" => ok(&secrets.create_secret(account, &input!()).await?),
        "GetSecretValue" => ok(&secrets.get_secret_value(account, &input!()).await?),
        "PutSecretValue" => ok(&secrets.put_secret_value(account, &input!()).await?),
        "UpdateSecret" => ok(&secrets.update_secret(account, &input!()).await?),
        "DescribeSecret" => {
            let input: wire::DescribeSecretRequest = input!();
            ok(&secrets.describe_secret(account, &input.secret_id).await?)
        }
        "ListSecrets" => ok(&secrets.list_secrets(account, &input!()).await?),
        "DeleteSecret" => ok(&secrets.delete_secret(account, &input!()).await?),
        "RestoreSecret" => {
            let input: wire::RestoreSecretRequest = input!();
            ok(&secrets.restore_secret(account, &input.secret_id).await?)
        }
        "TagResource" => {
            let input: wire::TagResourceRequest = input!();
            secrets.change_tags(account, &input.secret_id, &input.tags, &[]).await?;
            ok(&json!({}))
        }
        "UntagResource" => {
            let input: wire::UntagResourceRequest = input!();
            secrets.change_tags(account, &input.secret_id, &[], &input.tag_keys).await?;
            ok(&json!({}))
        }
        other => Err(SecretsError::Validation(format!("Unsupported operation: {other}"))),
    }
}
