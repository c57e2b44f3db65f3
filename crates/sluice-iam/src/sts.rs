//! STS: GetCallerIdentity, and AssumeRole (the role's trust policy must
//! allow the caller, with the ExternalId it requires; a caller other than
//! a root user needs sts:AssumeRole in its own policies too), returning
//! temporary credentials whose secret is sealed and whose token is kept
//! only as a digest.

use serde_json::json;
use sluice_model::sts::*;
use sluice_model::wire::{EpochSeconds, SecretString};
use sluice_store::{AccessKeyRow, KeyKind};

use crate::policy::{AccessRequest, Decision, Policy, PolicyKind};
use crate::{new_id, new_secret, now_ms, sha256_hex, Caller, IamError, IamResult, IdentityService, Principal};

/// Shortest session STS grants (15 minutes).
pub const MIN_DURATION_SECONDS: i32 = 900;
/// How long an expired session's key is kept so that its callers are told
/// it expired (1 hour).
pub const EXPIRED_SESSION_GRACE_MS: i64 = 3_600_000;
/// Longest session of a role chain (a session assuming another role).
pub const CHAINED_MAX_DURATION_SECONDS: i32 = 3_600;

impl IdentityService {
    /// GetCallerIdentity.
    pub fn get_caller_identity(&self, caller: &Caller) -> GetCallerIdentityResponse {
        GetCallerIdentityResponse {
            user_id: Some(caller.user_id()),
            account: Some(caller.account_id.clone()),
            arn: Some(caller.arn()),
        }
    }

    /// AssumeRole.
    pub async fn assume_role(&self, caller: &Caller, request: AssumeRoleRequest) -> IamResult<AssumeRoleResponse> {
        let denied = || {
            IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn(),
                request.role_arn
            ))
        };
        let (account_id, role_name) = parse_role_arn(&request.role_arn)
            .ok_or_else(|| IamError::Validation(format!("{} is invalid", request.role_arn)))?;
        let role = self.role(&account_id, &role_name).await?.ok_or_else(denied)?;
        let trust = role
            .assume_role_policy_document
            .as_deref()
            .map(|d| Policy::parse(d, PolicyKind::Trust))
            .transpose()
            .map_err(|_| denied())?
            .ok_or_else(denied)?;
        let mut access = AccessRequest::new("sts:AssumeRole", &role.arn, &caller.arn(), &caller.account_id);
        if let Some(external_id) = &request.external_id {
            access.set("sts:ExternalId", external_id);
        }
        access.set("aws:SourceAccount", &caller.account_id);
        if trust.evaluate(&access) != Decision::Allow {
            return Err(denied());
        }
        // The caller's own account must let it assume the role too.
        self.authorize(caller, &access).await.map_err(|_| denied())?;

        let chained = matches!(caller.principal, Principal::AssumedRole { .. });
        let max = if chained {
            CHAINED_MAX_DURATION_SECONDS
        } else {
            role.max_session_duration.unwrap_or(crate::iam_ops::DEFAULT_SESSION_DURATION)
        };
        let duration = request.duration_seconds.unwrap_or(3_600.min(max));
        if duration < MIN_DURATION_SECONDS {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{duration}' at 'durationSeconds' failed to satisfy constraint: \
                 Member must have value greater than or equal to {MIN_DURATION_SECONDS}"
            )));
        }
        if duration > max {
            return Err(IamError::Validation(if chained {
                format!(
                    "The requested DurationSeconds exceeds the {CHAINED_MAX_DURATION_SECONDS} second limit for \
                     role chaining."
                )
            } else {
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".to_string()
            }));
        }

        let access_key_id = new_id("ASIA");
        let secret = new_secret(40);
        let token = format!("IQoJ{}", new_secret(352));
        let now = now_ms();
        let expires_at_ms = now / 1000 * 1000 + i64::from(duration) * 1000;
        self.store
            .insert_access_key(&AccessKeyRow {
                access_key_id: access_key_id.clone(),
                account_id: account_id.clone(),
                kind: KeyKind::Session,
                principal: role_name.to_lowercase(),
                sealed_secret: self.seal_secret(&access_key_id, &secret),
                status: "Active".into(),
                session: Some(json!({
                    "RoleArn": role.arn,
                    "RoleName": role.role_name,
                    "RoleId": role.role_id,
                    "RoleSessionName": request.role_session_name,
                    "TokenSha256": sha256_hex(&token),
                    "AssumedBy": caller.arn(),
                })),
                expires_at_ms: Some(expires_at_ms),
                created_at_ms: now,
            })
            .await?;
        tracing::info!(
            role = %role.arn, session = %request.role_session_name, by = %caller.arn(), access_key_id = %access_key_id,
            duration, "role assumed"
        );
        Ok(AssumeRoleResponse {
            credentials: Some(Credentials {
                access_key_id,
                secret_access_key: SecretString::new(secret),
                session_token: token,
                expiration: EpochSeconds::from_millis(expires_at_ms),
            }),
            assumed_role_user: Some(AssumedRoleUser {
                assumed_role_id: format!("{}:{}", role.role_id, request.role_session_name),
                arn: format!("arn:aws:sts::{account_id}:assumed-role/{}/{}", role.role_name, request.role_session_name),
            }),
            packed_policy_size: None,
            source_identity: request.source_identity,
            session_token_size: None,
            session_token_utilization: None,
        })
    }

    /// Removes the keys of sessions that expired more than
    /// [`EXPIRED_SESSION_GRACE_MS`] ago (until then their callers hear
    /// `ExpiredToken`, not that the key is unknown); how many.
    pub async fn sweep_expired_sessions(&self) -> IamResult<u64> {
        Ok(self.store.delete_expired_sessions(now_ms() - EXPIRED_SESSION_GRACE_MS).await?)
    }
}

/// `arn:aws:iam::ACCOUNT:role/PATH/NAME` -> (ACCOUNT, NAME).
fn parse_role_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    (sluice_model::arn::is_account_id(account) && !name.is_empty()).then(|| (account.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_name_an_account_and_a_role() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::111111111111:role/ops/isv-access"),
            Some(("111111111111".into(), "isv-access".into()))
        );
        assert_eq!(parse_role_arn("arn:aws:iam::1111:role/x"), None);
        assert_eq!(parse_role_arn("arn:aws:iam::111111111111:user/x"), None);
    }
}
