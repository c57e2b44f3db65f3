//! IAM operations: users, roles, access keys and inline policies.

use serde_json::{json, Value};
use sluice_iam::{Caller, IamError};
use sluice_model::iam::*;
use sluice_store::PrincipalKind;

use super::{input, output, QueryService};
use crate::state::AppState;

pub(crate) fn service() -> QueryService {
    QueryService { model: service_model(), namespace: "https://iam.amazonaws.com/doc/2010-05-08/" }
}

pub(crate) async fn run(
    state: &AppState,
    caller: &Caller,
    action: &str,
    params: &[(String, String)],
) -> Result<Value, IamError> {
    let identity = state.identity();
    let service = service();
    macro_rules! request {
        () => {
            input(&service, action, params)?
        };
    }
    let done = || Ok(json!({}));
    match action {
        "CreateUser" => output(&identity.create_user(caller, request!()).await?),
        "GetUser" => output(&identity.get_user(caller, request!()).await?),
        "ListUsers" => output(&identity.list_users(caller, request!()).await?),
        "DeleteUser" => {
            identity.delete_user(caller, request!()).await?;
            done()
        }
        "CreateAccessKey" => output(&identity.create_access_key(caller, request!()).await?),
        "ListAccessKeys" => output(&identity.list_access_keys(caller, request!()).await?),
        "UpdateAccessKey" => {
            identity.update_access_key(caller, request!()).await?;
            done()
        }
        "DeleteAccessKey" => {
            identity.delete_access_key(caller, request!()).await?;
            done()
        }
        "CreateRole" => output(&identity.create_role(caller, request!()).await?),
        "GetRole" => output(&identity.get_role(caller, request!()).await?),
        "ListRoles" => output(&identity.list_roles(caller, request!()).await?),
        "DeleteRole" => {
            identity.delete_role(caller, request!()).await?;
            done()
        }
        "PutUserPolicy" => {
            let r: PutUserPolicyRequest = request!();
            identity
                .put_inline_policy(caller, PrincipalKind::User, &r.user_name, &r.policy_name, &r.policy_document)
                .await?;
            done()
        }
        "PutRolePolicy" => {
            let r: PutRolePolicyRequest = request!();
            identity
                .put_inline_policy(caller, PrincipalKind::Role, &r.role_name, &r.policy_name, &r.policy_document)
                .await?;
            done()
        }
        "GetUserPolicy" => {
            let r: GetUserPolicyRequest = request!();
            let document =
                identity.get_inline_policy(caller, PrincipalKind::User, &r.user_name, &r.policy_name).await?;
            output(&GetUserPolicyResponse {
                user_name: r.user_name,
                policy_name: r.policy_name,
                policy_document: document,
            })
        }
        "GetRolePolicy" => {
            let r: GetRolePolicyRequest = request!();
            let document =
                identity.get_inline_policy(caller, PrincipalKind::Role, &r.role_name, &r.policy_name).await?;
            output(&GetRolePolicyResponse {
                role_name: r.role_name,
                policy_name: r.policy_name,
                policy_document: document,
            })
        }
        "ListUserPolicies" => {
            let r: ListUserPoliciesRequest = request!();
            let (names, marker) = identity
                .list_inline_policies(caller, PrincipalKind::User, &r.user_name, r.marker.as_deref(), r.max_items)
                .await?;
            output(&ListUserPoliciesResponse { policy_names: names, is_truncated: Some(marker.is_some()), marker })
        }
        "ListRolePolicies" => {
            let r: ListRolePoliciesRequest = request!();
            let (names, marker) = identity
                .list_inline_policies(caller, PrincipalKind::Role, &r.role_name, r.marker.as_deref(), r.max_items)
                .await?;
            output(&ListRolePoliciesResponse { policy_names: names, is_truncated: Some(marker.is_some()), marker })
        }
        "DeleteUserPolicy" => {
            let r: DeleteUserPolicyRequest = request!();
            identity.delete_inline_policy(caller, PrincipalKind::User, &r.user_name, &r.policy_name).await?;
            done()
        }
        "DeleteRolePolicy" => {
            let r: DeleteRolePolicyRequest = request!();
            identity.delete_inline_policy(caller, PrincipalKind::Role, &r.role_name, &r.policy_name).await?;
            done()
        }
        other => Err(IamError::Validation(format!("Sluice does not serve the IAM operation {other}"))),
    }
}
