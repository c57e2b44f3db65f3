//! Accounts, IAM users and roles, STS sessions, and the policy engine that
//! authorizes every request.
//!
//! - [`IdentityService`] resolves an access key to its [`Caller`] (cached
//!   for a few seconds, secrets opened from the vault), checks session
//!   tokens and expiry, and authorizes calls by policy evaluation.
//! - [`accounts`] creates, lists and deletes accounts and their root keys.
//! - [`iam_ops`] is the IAM subset (users, roles, access keys, inline
//!   policies); [`sts`] is AssumeRole and GetCallerIdentity.
//! - [`policy`] parses and evaluates policy documents.

pub mod accounts;
pub mod caller;
pub mod error;
pub mod iam_ops;
pub mod policy;
pub mod sts;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngExt;
use sha2::{Digest, Sha256};
use sluice_model::wire::SecretString;
use sluice_store::{AccessKeyRow, KeyKind, MetadataStore, PrincipalKind};
use sluice_vault::{SealedSecret, Vault};

pub use caller::{Caller, Principal};
pub use error::{IamError, IamResult};
pub use policy::{AccessRequest, Decision, Policy, PolicyKind};

/// How long a resolved key or a principal's policies are reused before
/// the store is read again (a deleted key or changed policy takes effect
/// within this time on every server, like IAM's eventual consistency).
pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// A key resolved to its caller and secret.
#[derive(Debug)]
pub struct ResolvedKey {
    /// Who signs with it.
    pub caller: Caller,
    /// The secret to verify signatures with.
    pub secret: SecretString,
    /// SHA-256 of a session's token (hex).
    session_token_sha256: Option<String>,
    /// When a session ends (ms).
    expires_at_ms: Option<i64>,
    active: bool,
}

impl ResolvedKey {
    /// Refuses an inactive key, a session without its token or with another
    /// one, and an expired session.
    pub fn check(&self, session_token: Option<&str>, now_ms: i64) -> IamResult<()> {
        if !self.active {
            return Err(IamError::InvalidClientTokenId);
        }
        if let Some(expected) = &self.session_token_sha256 {
            let given = session_token.ok_or(IamError::InvalidClientTokenId)?;
            if &sha256_hex(given) != expected {
                return Err(IamError::InvalidClientTokenId);
            }
            if self.expires_at_ms.is_some_and(|t| t <= now_ms) {
                return Err(IamError::ExpiredToken);
            }
        }
        Ok(())
    }
}

type Cached<T> = Mutex<HashMap<String, (Instant, Arc<T>)>>;

/// The identity service of a server; cheap to clone.
#[derive(Clone)]
pub struct IdentityService {
    store: Arc<dyn MetadataStore>,
    vault: Arc<Vault>,
    keys: Arc<Cached<ResolvedKey>>,
    policies: Arc<Cached<Vec<Policy>>>,
}

impl std::fmt::Debug for IdentityService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityService").finish_non_exhaustive()
    }
}

impl IdentityService {
    /// The service over `store`, sealing secrets with `vault`.
    pub fn new(store: Arc<dyn MetadataStore>, vault: Arc<Vault>) -> Self {
        Self { store, vault, keys: Default::default(), policies: Default::default() }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn MetadataStore> {
        &self.store
    }

    /// Seals a secret access key for the store, bound to its key id.
    pub(crate) fn seal_secret(&self, access_key_id: &str, secret: &str) -> String {
        self.vault.seal(secret.as_bytes(), &key_context(access_key_id)).to_text()
    }

    /// The caller and secret of `access_key_id`; `InvalidClientTokenId` if
    /// the server does not know it.
    pub async fn resolve(&self, access_key_id: &str) -> IamResult<Arc<ResolvedKey>> {
        if let Some(hit) = cached(&self.keys, access_key_id) {
            return Ok(hit);
        }
        let row = self.store.get_access_key(access_key_id).await?.ok_or(IamError::InvalidClientTokenId)?;
        let resolved = Arc::new(self.open_key(&row).await?);
        remember(&self.keys, access_key_id, resolved.clone());
        Ok(resolved)
    }

    async fn open_key(&self, row: &AccessKeyRow) -> IamResult<ResolvedKey> {
        let sealed = SealedSecret::from_text(&row.sealed_secret).map_err(|e| IamError::Internal(e.to_string()))?;
        let secret = self
            .vault
            .open(&sealed, &key_context(&row.access_key_id))
            .map_err(|e| IamError::Internal(format!("access key {}: {e}", row.access_key_id)))?;
        let secret = SecretString::new(String::from_utf8_lossy(&secret).into_owned());
        let principal = match row.kind {
            KeyKind::Root => Principal::Root,
            KeyKind::User => {
                let user = self
                    .store
                    .get_principal(&row.account_id, PrincipalKind::User, &row.principal)
                    .await?
                    .ok_or(IamError::InvalidClientTokenId)?;
                let text = |key: &str| user.document.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                Principal::User { name: text("UserName"), path: text("Path"), id: text("UserId") }
            }
            KeyKind::Session => {
                let session = row.session.clone().unwrap_or_default();
                let text = |key: &str| session.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
                Principal::AssumedRole {
                    role_name: text("RoleName"),
                    role_id: text("RoleId"),
                    session_name: text("RoleSessionName"),
                }
            }
        };
        // Only sessions carry a token; a session row without its digest
        // matches no token at all.
        let session_token_sha256 = (row.kind == KeyKind::Session).then(|| {
            let session = row.session.as_ref();
            session.and_then(|s| s.get("TokenSha256")).and_then(|v| v.as_str()).unwrap_or("-").to_string()
        });
        Ok(ResolvedKey {
            caller: Caller { account_id: row.account_id.clone(), principal, access_key_id: row.access_key_id.clone() },
            secret,
            session_token_sha256,
            expires_at_ms: row.expires_at_ms,
            active: row.status == "Active",
        })
    }

    /// Forgets a cached key (after it is deleted or changed on this server).
    pub(crate) fn forget_key(&self, access_key_id: &str) {
        self.keys.lock().unwrap_or_else(|p| p.into_inner()).remove(access_key_id);
    }

    /// Forgets a principal's cached policies.
    pub(crate) fn forget_policies(&self, account_id: &str, kind: PrincipalKind, name_key: &str) {
        self.policies.lock().unwrap_or_else(|p| p.into_inner()).remove(&policy_key(account_id, kind, name_key));
    }

    /// The identity-based policies of a caller (none for root).
    async fn identity_policies(&self, caller: &Caller) -> IamResult<Arc<Vec<Policy>>> {
        let (kind, name) = match &caller.principal {
            Principal::Root => return Ok(Arc::new(Vec::new())),
            Principal::User { name, .. } => (PrincipalKind::User, name.to_lowercase()),
            Principal::AssumedRole { role_name, .. } => (PrincipalKind::Role, role_name.to_lowercase()),
        };
        let key = policy_key(&caller.account_id, kind, &name);
        if let Some(hit) = cached(&self.policies, &key) {
            return Ok(hit);
        }
        let mut policies = Vec::new();
        for (policy_name, document) in self.store.inline_policies(&caller.account_id, kind, &name).await? {
            match Policy::parse(&document, PolicyKind::Identity) {
                Ok(policy) => policies.push(policy),
                Err(error) => {
                    tracing::warn!(policy = %policy_name, %error, "a stored policy no longer parses; ignored")
                }
            }
        }
        let policies = Arc::new(policies);
        remember(&self.policies, &key, policies.clone());
        Ok(policies)
    }

    /// Authorizes `request` for `caller`: the root user may do anything in
    /// its own account; other identities need an identity-based policy that
    /// allows it and none that denies it. The resource's own account checks
    /// (a bus policy, a bucket policy) are the owning service's.
    pub async fn authorize(&self, caller: &Caller, request: &AccessRequest) -> IamResult<()> {
        if caller.is_root() {
            return Ok(());
        }
        let policies = self.identity_policies(caller).await?;
        match policy::evaluate_all(policies.iter(), request) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny => Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: {} on resource: {} with an explicit deny in an \
                 identity-based policy",
                caller.arn(),
                request.action,
                request.resource
            ))),
            Decision::ImplicitDeny => Err(IamError::AccessDenied(format!(
                "User: {} is not authorized to perform: {} on resource: {} because no identity-based policy \
                 allows the {} action",
                caller.arn(),
                request.action,
                request.resource,
                request.action
            ))),
        }
    }
}

fn cached<T>(cache: &Cached<T>, key: &str) -> Option<Arc<T>> {
    let cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache.get(key).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, v)| v.clone())
}

fn remember<T>(cache: &Cached<T>, key: &str, value: Arc<T>) {
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() > 10_000 {
        cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
    }
    cache.insert(key.to_string(), (Instant::now(), value));
}

fn policy_key(account_id: &str, kind: PrincipalKind, name_key: &str) -> String {
    format!("{account_id}/{}/{name_key}", kind.as_str())
}

/// The vault context a key's secret is sealed under (a sealed secret
/// copied to another key does not open).
fn key_context(access_key_id: &str) -> String {
    format!("access-key:{access_key_id}")
}

/// Hex SHA-256 of `text`.
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub(crate) use sluice_store::now_ms;

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A random id with AWS's prefix (`AKIA`, `ASIA`, `AIDA`, `AROA`): 20
/// characters of upper-case letters and digits.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let tail: String =
        (0..20 - prefix.len()).map(|_| ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char).collect();
    format!("{prefix}{tail}")
}

/// A random secret of `len` characters, as AWS's secret keys look.
pub(crate) fn new_secret(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| SECRET_ALPHABET[rng.random_range(0..SECRET_ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets_look_like_aws() {
        let id = new_id("AKIA");
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA") && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert_eq!(new_secret(40).len(), 40);
        assert_ne!(new_secret(40), new_secret(40));
    }
}
