//! The identity store: accounts, IAM users and roles with their inline
//! policies, and access keys (an account's root key, users' keys and STS
//! sessions' temporary keys). Secrets arrive sealed; the store never sees
//! them in plain text.

use serde_json::Value;

use crate::StoreResult;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    /// 12-digit id.
    pub account_id: String,
    /// Unique name.
    pub name: String,
    /// Creation time (ms).
    pub created_at_ms: i64,
}

/// Which kind of IAM principal a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM user.
    User,
    /// An IAM role.
    Role,
}

impl PrincipalKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Role => "role",
        }
    }
}

/// An IAM user or role.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalRow {
    /// Owning account.
    pub account_id: String,
    /// User or role.
    pub kind: PrincipalKind,
    /// The name, lower-cased (IAM names are unique regardless of case).
    pub name_key: String,
    /// The IAM resource as IAM describes it (UserName/RoleName, Path, ...).
    pub document: Value,
    /// Creation time (ms).
    pub created_at_ms: i64,
}

/// Whose an access key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The account's root key.
    Root,
    /// An IAM user's key (principal = the user's name key).
    User,
    /// An STS session's temporary key (principal = the role's name key).
    Session,
}

impl KeyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::User => "user",
            Self::Session => "session",
        }
    }

    /// The kind of a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "root" => Some(Self::Root),
            "user" => Some(Self::User),
            "session" => Some(Self::Session),
            _ => None,
        }
    }
}

/// An access key.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessKeyRow {
    /// The public id.
    pub access_key_id: String,
    /// Owning account.
    pub account_id: String,
    /// Root, user or session.
    pub kind: KeyKind,
    /// The user's or role's name key ("" for root).
    pub principal: String,
    /// The secret, sealed by the vault.
    pub sealed_secret: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// A session's details (role ARN, session name, token digest).
    pub session: Option<Value>,
    /// When a session's key expires (ms).
    pub expires_at_ms: Option<i64>,
    /// Creation time (ms).
    pub created_at_ms: i64,
}

/// The store of accounts, IAM and STS.
#[async_trait::async_trait]
pub trait IdentityStore: Send + Sync {
    /// Stores a new account; `AlreadyExists` if its id or name is taken.
    async fn create_account(&self, account: &AccountRow) -> StoreResult<()>;
    /// An account by id.
    async fn get_account(&self, account_id: &str) -> StoreResult<Option<AccountRow>>;
    /// Every account, by name.
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRow>>;
    /// Removes an account with its principals, policies and keys; `NotFound`
    /// if missing.
    async fn delete_account(&self, account_id: &str) -> StoreResult<()>;

    /// Stores a new user or role; `AlreadyExists` if the name is taken.
    async fn create_principal(&self, principal: &PrincipalRow) -> StoreResult<()>;
    /// A user or role by name key.
    async fn get_principal(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        name_key: &str,
    ) -> StoreResult<Option<PrincipalRow>>;
    /// An account's users or roles, by name key.
    async fn list_principals(&self, account_id: &str, kind: PrincipalKind) -> StoreResult<Vec<PrincipalRow>>;
    /// Removes a user or role; `NotFound` if missing.
    async fn delete_principal(&self, account_id: &str, kind: PrincipalKind, name_key: &str) -> StoreResult<()>;

    /// Creates or replaces an inline policy.
    async fn put_inline_policy(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        principal_key: &str,
        policy_name: &str,
        document: &str,
    ) -> StoreResult<()>;
    /// A principal's inline policies (name, document), by name.
    async fn inline_policies(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        principal_key: &str,
    ) -> StoreResult<Vec<(String, String)>>;
    /// Removes an inline policy; `NotFound` if missing.
    async fn delete_inline_policy(
        &self,
        account_id: &str,
        kind: PrincipalKind,
        principal_key: &str,
        policy_name: &str,
    ) -> StoreResult<()>;

    /// Stores a new access key.
    async fn insert_access_key(&self, key: &AccessKeyRow) -> StoreResult<()>;
    /// An access key by id.
    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRow>>;
    /// The keys of a principal, oldest first.
    async fn list_access_keys(
        &self,
        account_id: &str,
        kind: KeyKind,
        principal: &str,
    ) -> StoreResult<Vec<AccessKeyRow>>;
    /// Sets a key's status; `NotFound` unless it is the account's.
    async fn set_access_key_status(&self, account_id: &str, access_key_id: &str, status: &str) -> StoreResult<()>;
    /// Removes a key; `NotFound` unless it is the account's.
    async fn delete_access_key(&self, account_id: &str, access_key_id: &str) -> StoreResult<()>;
    /// Removes session keys that expired before `now_ms`; how many.
    async fn delete_expired_sessions(&self, now_ms: i64) -> StoreResult<u64>;
}
