//! The IAM subset: users, roles, access keys and inline policies, each in
//! the caller's account, with IAM's errors and messages.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sluice_model::iam::*;
use sluice_model::wire::{EpochSeconds, SecretString};
use sluice_store::{AccessKeyRow, KeyKind, PrincipalKind, PrincipalRow};

use crate::policy::{Policy, PolicyKind};
use crate::{new_id, new_secret, now_ms, Caller, IamError, IamResult, IdentityService, Principal};

/// IAM's quota of access keys per user.
pub const ACCESS_KEYS_PER_USER: usize = 2;
/// IAM's longest role session (12 hours) and the default (1 hour).
pub const MAX_SESSION_DURATION: i32 = 43_200;
/// The default MaxSessionDuration of a role.
pub const DEFAULT_SESSION_DURATION: i32 = 3_600;

fn no_such(kind: PrincipalKind, name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The {} with name {name} cannot be found.", kind.as_str()))
}

fn no_such_policy(kind: PrincipalKind, policy_name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The {} policy with name {policy_name} cannot be found.", kind.as_str()))
}

/// A user or role name is taken (IAM's message).
fn taken(error: sluice_store::StoreError, kind: PrincipalKind, name: &str) -> IamError {
    match error {
        sluice_store::StoreError::AlreadyExists { .. } => {
            let kind = if kind == PrincipalKind::User { "User" } else { "Role" };
            IamError::EntityAlreadyExists(format!("{kind} with name {name} already exists."))
        }
        other => other.into(),
    }
}

fn path_or_default(path: Option<String>) -> String {
    path.unwrap_or_else(|| "/".to_string())
}

fn to_document<T: Serialize>(value: &T) -> IamResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| IamError::Internal(e.to_string()))
}

fn from_document<T: DeserializeOwned>(row: &PrincipalRow) -> IamResult<T> {
    serde_json::from_value(row.document.clone()).map_err(|e| IamError::Internal(format!("stored IAM entity: {e}")))
}

/// A page of `items` after `marker` (the last name of the previous page).
fn page<T>(
    items: Vec<T>,
    name: impl Fn(&T) -> String,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> (Vec<T>, Option<String>) {
    let max = max_items.unwrap_or(100).clamp(1, 1000) as usize;
    let mut rest: Vec<T> = items.into_iter().filter(|item| marker.is_none_or(|m| name(item).as_str() > m)).collect();
    if rest.len() > max {
        rest.truncate(max);
        let next = rest.last().map(&name);
        (rest, next)
    } else {
        (rest, None)
    }
}

/// IAM's percent-encoding of policy documents in its answers (botocore
/// decodes them back into JSON).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl IdentityService {
    async fn principal(&self, caller: &Caller, kind: PrincipalKind, name: &str) -> IamResult<PrincipalRow> {
        self.store
            .get_principal(&caller.account_id, kind, &name.to_lowercase())
            .await?
            .ok_or_else(|| no_such(kind, name))
    }

    /// CreateUser.
    pub async fn create_user(&self, caller: &Caller, request: CreateUserRequest) -> IamResult<CreateUserResponse> {
        let path = path_or_default(request.path);
        let user = User {
            arn: format!("arn:aws:iam::{}:user{path}{}", caller.account_id, request.user_name),
            path,
            user_name: request.user_name.clone(),
            user_id: new_id("AIDA"),
            create_date: EpochSeconds::from_millis(now_ms() / 1000 * 1000),
            password_last_used: None,
            permissions_boundary: None,
            tags: request.tags.filter(|t| !t.is_empty()),
        };
        let row = PrincipalRow {
            account_id: caller.account_id.clone(),
            kind: PrincipalKind::User,
            name_key: request.user_name.to_lowercase(),
            document: to_document(&user)?,
            created_at_ms: now_ms(),
        };
        self.store.create_principal(&row).await.map_err(|e| taken(e, PrincipalKind::User, &request.user_name))?;
        Ok(CreateUserResponse { user: Some(user) })
    }

    /// GetUser (the caller itself without a name).
    pub async fn get_user(&self, caller: &Caller, request: GetUserRequest) -> IamResult<GetUserResponse> {
        let name = match (request.user_name, &caller.principal) {
            (Some(name), _) => name,
            (None, Principal::User { name, .. }) => name.clone(),
            (None, Principal::Root) => {
                // IAM describes the root user itself.
                return Ok(GetUserResponse {
                    user: User {
                        path: "/".into(),
                        user_name: String::new(),
                        user_id: caller.account_id.clone(),
                        arn: caller.arn(),
                        create_date: EpochSeconds::from_millis(0),
                        password_last_used: None,
                        permissions_boundary: None,
                        tags: None,
                    },
                });
            }
            (None, Principal::AssumedRole { .. }) => {
                return Err(IamError::Validation("Must specify userName when calling with non-User credentials".into()))
            }
        };
        let row = self.principal(caller, PrincipalKind::User, &name).await?;
        Ok(GetUserResponse { user: from_document(&row)? })
    }

    /// ListUsers.
    pub async fn list_users(&self, caller: &Caller, request: ListUsersRequest) -> IamResult<ListUsersResponse> {
        let prefix = request.path_prefix.unwrap_or_else(|| "/".into());
        let users: Vec<User> = self
            .store
            .list_principals(&caller.account_id, PrincipalKind::User)
            .await?
            .iter()
            .map(from_document::<User>)
            .collect::<IamResult<_>>()?;
        let users = users.into_iter().filter(|u| u.path.starts_with(&prefix)).collect();
        let (users, marker) =
            page(users, |u: &User| u.user_name.to_lowercase(), request.marker.as_deref(), request.max_items);
        Ok(ListUsersResponse { users, is_truncated: Some(marker.is_some()), marker })
    }

    /// DeleteUser: refused while the user has access keys or policies.
    pub async fn delete_user(&self, caller: &Caller, request: DeleteUserRequest) -> IamResult<()> {
        let row = self.principal(caller, PrincipalKind::User, &request.user_name).await?;
        if !self.store.list_access_keys(&caller.account_id, KeyKind::User, &row.name_key).await?.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must delete access keys first.".into()));
        }
        if !self.store.inline_policies(&caller.account_id, PrincipalKind::User, &row.name_key).await?.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
        }
        self.store.delete_principal(&caller.account_id, PrincipalKind::User, &row.name_key).await?;
        Ok(())
    }

    /// The user an access-key call is about: the named one, or the calling
    /// user (root without a name means the root user's own keys).
    async fn key_owner(&self, caller: &Caller, user_name: Option<&str>) -> IamResult<(KeyKind, String, String)> {
        match (user_name, &caller.principal) {
            (Some(name), _) => {
                let row = self.principal(caller, PrincipalKind::User, name).await?;
                let user: User = from_document(&row)?;
                Ok((KeyKind::User, row.name_key, user.user_name))
            }
            (None, Principal::User { name, .. }) => Ok((KeyKind::User, name.to_lowercase(), name.clone())),
            (None, Principal::Root) => Ok((KeyKind::Root, String::new(), String::new())),
            (None, Principal::AssumedRole { .. }) => {
                Err(IamError::Validation("Must specify userName when calling with non-User credentials".into()))
            }
        }
    }

    /// CreateAccessKey: a new key (at most two per user); the secret is in
    /// this answer only.
    pub async fn create_access_key(
        &self,
        caller: &Caller,
        request: CreateAccessKeyRequest,
    ) -> IamResult<CreateAccessKeyResponse> {
        let (kind, principal, user_name) = self.key_owner(caller, request.user_name.as_deref()).await?;
        let existing = self.store.list_access_keys(&caller.account_id, kind, &principal).await?;
        if existing.len() >= ACCESS_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
            )));
        }
        let access_key_id = new_id("AKIA");
        let secret = new_secret(40);
        let created_at_ms = now_ms() / 1000 * 1000;
        self.store
            .insert_access_key(&AccessKeyRow {
                access_key_id: access_key_id.clone(),
                account_id: caller.account_id.clone(),
                kind,
                principal,
                sealed_secret: self.seal_secret(&access_key_id, &secret),
                status: "Active".into(),
                session: None,
                expires_at_ms: None,
                created_at_ms,
            })
            .await?;
        Ok(CreateAccessKeyResponse {
            access_key: AccessKey {
                user_name,
                access_key_id,
                status: StatusType::Active,
                secret_access_key: SecretString::new(secret),
                create_date: Some(EpochSeconds::from_millis(created_at_ms)),
            },
        })
    }

    /// ListAccessKeys (ids and status; never secrets).
    pub async fn list_access_keys(
        &self,
        caller: &Caller,
        request: ListAccessKeysRequest,
    ) -> IamResult<ListAccessKeysResponse> {
        let (kind, principal, user_name) = self.key_owner(caller, request.user_name.as_deref()).await?;
        let keys = self.store.list_access_keys(&caller.account_id, kind, &principal).await?;
        let metadata = keys
            .into_iter()
            .map(|k| AccessKeyMetadata {
                user_name: Some(user_name.clone()),
                access_key_id: Some(k.access_key_id),
                status: Some(if k.status == "Active" { StatusType::Active } else { StatusType::Inactive }),
                create_date: Some(EpochSeconds::from_millis(k.created_at_ms)),
            })
            .collect::<Vec<_>>();
        let (metadata, marker) = page(
            metadata,
            |k: &AccessKeyMetadata| k.access_key_id.clone().unwrap_or_default(),
            request.marker.as_deref(),
            request.max_items,
        );
        Ok(ListAccessKeysResponse { access_key_metadata: metadata, is_truncated: Some(marker.is_some()), marker })
    }

    async fn owned_key(&self, caller: &Caller, user_name: Option<&str>, access_key_id: &str) -> IamResult<()> {
        let (kind, principal, _) = self.key_owner(caller, user_name).await?;
        let row = self.store.get_access_key(access_key_id).await?;
        match row {
            Some(row) if row.account_id == caller.account_id && row.kind == kind && row.principal == principal => {
                Ok(())
            }
            _ => Err(IamError::NoSuchEntity(format!("The Access Key with id {access_key_id} cannot be found."))),
        }
    }

    /// UpdateAccessKey (Active / Inactive).
    pub async fn update_access_key(&self, caller: &Caller, request: UpdateAccessKeyRequest) -> IamResult<()> {
        self.owned_key(caller, request.user_name.as_deref(), &request.access_key_id).await?;
        let status = match request.status {
            StatusType::Active => "Active",
            StatusType::Inactive => "Inactive",
            StatusType::Expired => {
                return Err(IamError::Validation("Status must be Active or Inactive".into()));
            }
        };
        self.store.set_access_key_status(&caller.account_id, &request.access_key_id, status).await?;
        self.forget_key(&request.access_key_id);
        Ok(())
    }

    /// DeleteAccessKey.
    pub async fn delete_access_key(&self, caller: &Caller, request: DeleteAccessKeyRequest) -> IamResult<()> {
        self.owned_key(caller, request.user_name.as_deref(), &request.access_key_id).await?;
        self.store.delete_access_key(&caller.account_id, &request.access_key_id).await?;
        self.forget_key(&request.access_key_id);
        Ok(())
    }

    /// CreateRole with its trust policy.
    pub async fn create_role(&self, caller: &Caller, request: CreateRoleRequest) -> IamResult<CreateRoleResponse> {
        Policy::parse(&request.assume_role_policy_document, PolicyKind::Trust)?;
        let max = request.max_session_duration.unwrap_or(DEFAULT_SESSION_DURATION);
        if !(DEFAULT_SESSION_DURATION..=MAX_SESSION_DURATION).contains(&max) {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: \
                 Member must have value less than or equal to {MAX_SESSION_DURATION}"
            )));
        }
        let path = path_or_default(request.path);
        let role = Role {
            arn: format!("arn:aws:iam::{}:role{path}{}", caller.account_id, request.role_name),
            path,
            role_name: request.role_name.clone(),
            role_id: new_id("AROA"),
            create_date: EpochSeconds::from_millis(now_ms() / 1000 * 1000),
            assume_role_policy_document: Some(request.assume_role_policy_document),
            description: request.description,
            max_session_duration: Some(max),
            max_signin_session_duration: None,
            permissions_boundary: None,
            tags: request.tags.filter(|t| !t.is_empty()),
            role_last_used: None,
            source_role_template: None,
        };
        let row = PrincipalRow {
            account_id: caller.account_id.clone(),
            kind: PrincipalKind::Role,
            name_key: request.role_name.to_lowercase(),
            document: to_document(&role)?,
            created_at_ms: now_ms(),
        };
        self.store.create_principal(&row).await.map_err(|e| taken(e, PrincipalKind::Role, &request.role_name))?;
        Ok(CreateRoleResponse { role: wire_role(role) })
    }

    /// A stored role (its trust policy as stored, not encoded).
    pub(crate) async fn role(&self, account_id: &str, name: &str) -> IamResult<Option<Role>> {
        match self.store.get_principal(account_id, PrincipalKind::Role, &name.to_lowercase()).await? {
            Some(row) => Ok(Some(from_document(&row)?)),
            None => Ok(None),
        }
    }

    /// GetRole.
    pub async fn get_role(&self, caller: &Caller, request: GetRoleRequest) -> IamResult<GetRoleResponse> {
        let row = self.principal(caller, PrincipalKind::Role, &request.role_name).await?;
        Ok(GetRoleResponse { role: wire_role(from_document(&row)?) })
    }

    /// ListRoles.
    pub async fn list_roles(&self, caller: &Caller, request: ListRolesRequest) -> IamResult<ListRolesResponse> {
        let prefix = request.path_prefix.unwrap_or_else(|| "/".into());
        let roles: Vec<Role> = self
            .store
            .list_principals(&caller.account_id, PrincipalKind::Role)
            .await?
            .iter()
            .map(from_document::<Role>)
            .collect::<IamResult<_>>()?;
        let roles = roles.into_iter().filter(|r| r.path.starts_with(&prefix)).map(wire_role).collect();
        let (roles, marker) =
            page(roles, |r: &Role| r.role_name.to_lowercase(), request.marker.as_deref(), request.max_items);
        Ok(ListRolesResponse { roles, is_truncated: Some(marker.is_some()), marker })
    }

    /// DeleteRole: refused while it has inline policies.
    pub async fn delete_role(&self, caller: &Caller, request: DeleteRoleRequest) -> IamResult<()> {
        let row = self.principal(caller, PrincipalKind::Role, &request.role_name).await?;
        if !self.store.inline_policies(&caller.account_id, PrincipalKind::Role, &row.name_key).await?.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
        }
        self.store.delete_principal(&caller.account_id, PrincipalKind::Role, &row.name_key).await?;
        Ok(())
    }

    /// PutUserPolicy / PutRolePolicy: checks and stores an inline policy.
    pub async fn put_inline_policy(
        &self,
        caller: &Caller,
        kind: PrincipalKind,
        principal_name: &str,
        policy_name: &str,
        document: &str,
    ) -> IamResult<()> {
        let row = self.principal(caller, kind, principal_name).await?;
        Policy::parse(document, PolicyKind::Identity)?;
        self.store.put_inline_policy(&caller.account_id, kind, &row.name_key, policy_name, document).await?;
        self.forget_policies(&caller.account_id, kind, &row.name_key);
        Ok(())
    }

    /// GetUserPolicy / GetRolePolicy: the document (percent-encoded, as IAM
    /// answers).
    pub async fn get_inline_policy(
        &self,
        caller: &Caller,
        kind: PrincipalKind,
        principal_name: &str,
        policy_name: &str,
    ) -> IamResult<String> {
        let row = self.principal(caller, kind, principal_name).await?;
        let policies = self.store.inline_policies(&caller.account_id, kind, &row.name_key).await?;
        policies
            .into_iter()
            .find(|(name, _)| name == policy_name)
            .map(|(_, doc)| url_encode(&doc))
            .ok_or_else(|| no_such_policy(kind, policy_name))
    }

    /// ListUserPolicies / ListRolePolicies: the names, a page at a time.
    pub async fn list_inline_policies(
        &self,
        caller: &Caller,
        kind: PrincipalKind,
        principal_name: &str,
        marker: Option<&str>,
        max_items: Option<i32>,
    ) -> IamResult<(Vec<String>, Option<String>)> {
        let row = self.principal(caller, kind, principal_name).await?;
        let names = self
            .store
            .inline_policies(&caller.account_id, kind, &row.name_key)
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        Ok(page(names, |n: &String| n.clone(), marker, max_items))
    }

    /// DeleteUserPolicy / DeleteRolePolicy.
    pub async fn delete_inline_policy(
        &self,
        caller: &Caller,
        kind: PrincipalKind,
        principal_name: &str,
        policy_name: &str,
    ) -> IamResult<()> {
        let row = self.principal(caller, kind, principal_name).await?;
        self.store.delete_inline_policy(&caller.account_id, kind, &row.name_key, policy_name).await.map_err(
            |e| match e {
                sluice_store::StoreError::NotFound { .. } => no_such_policy(kind, policy_name),
                other => other.into(),
            },
        )?;
        self.forget_policies(&caller.account_id, kind, &row.name_key);
        Ok(())
    }
}

/// A role as IAM answers with it: the trust policy percent-encoded.
fn wire_role(mut role: Role) -> Role {
    role.assume_role_policy_document = role.assume_role_policy_document.map(|d| url_encode(&d));
    role
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_continue_after_the_marker() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let (first, marker) = page(names.clone(), |n: &String| n.clone(), None, Some(2));
        assert_eq!((first.len(), marker.as_deref()), (2, Some("b")));
        let (rest, marker) = page(names, |n: &String| n.clone(), Some("b"), Some(2));
        assert_eq!((rest, marker), (vec!["c".to_string()], None));
    }

    #[test]
    fn documents_are_percent_encoded() {
        assert_eq!(url_encode(r#"{"a": "b/c"}"#), "%7B%22a%22%3A%20%22b%2Fc%22%7D");
    }
}
