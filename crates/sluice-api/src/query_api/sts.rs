//! STS operations: GetCallerIdentity and AssumeRole.

use serde_json::Value;
use sluice_iam::{Caller, IamError};
use sluice_model::sts::{service_model, AssumeRoleRequest};

use super::{input, output, QueryService};
use crate::state::AppState;

pub(crate) fn service() -> QueryService {
    QueryService { model: service_model(), namespace: "https://sts.amazonaws.com/doc/2011-06-15/" }
}

pub(crate) async fn run(
    state: &AppState,
    caller: &Caller,
    action: &str,
    params: &[(String, String)],
) -> Result<Value, IamError> {
    let identity = state.identity();
    let service = service();
    match action {
        "GetCallerIdentity" => output(&identity.get_caller_identity(caller)),
        "AssumeRole" => {
            let request: AssumeRoleRequest = input(&service, action, params)?;
            output(&identity.assume_role(caller, request).await?)
        }
        other => Err(IamError::Validation(format!("Sluice does not serve the STS operation {other}"))),
    }
}
