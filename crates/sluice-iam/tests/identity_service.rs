//! Accounts, IAM and STS through the identity service on SQLite: keys
//! resolve to their callers, secrets are sealed in the store, policies
//! allow and deny, roles are assumed only as their trust policy says.

use std::sync::Arc;

use sluice_iam::*;
use sluice_model::iam::*;
use sluice_model::sts::AssumeRoleRequest;
use sluice_store::{open_store, PrincipalKind};
use sluice_vault::Vault;

async fn service(dir: &tempfile::TempDir) -> IdentityService {
    let store = open_store(&format!("sqlite://{}", dir.path().join("store.db").display())).await.unwrap();
    IdentityService::new(store, Arc::new(Vault::from_key([7; 32])))
}

fn assume(role_arn: &str, external_id: Option<&str>) -> AssumeRoleRequest {
    serde_json::from_value(serde_json::json!({
        "RoleArn": role_arn, "RoleSessionName": "s1", "ExternalId": external_id, "DurationSeconds": 900,
    }))
    .unwrap()
}

#[tokio::test]
async fn accounts_users_roles_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let identity = service(&dir).await;
    identity.ensure_account("111111111111", "main", "AKIAMAINROOT00000000", "main-secret").await.unwrap();
    identity.ensure_account("111111111111", "main", "AKIAMAINROOT00000000", "main-secret").await.unwrap();
    let isv = identity.create_account("isv").await.unwrap();
    assert!(matches!(identity.create_account("isv").await, Err(IamError::EntityAlreadyExists(_))));
    assert!(matches!(identity.create_account("No Spaces").await, Err(IamError::Validation(_))));
    let names: Vec<String> = identity.list_accounts().await.unwrap().into_iter().map(|a| a.name).collect();
    assert_eq!(names, ["isv", "main"]);

    // A new root key from the data directory (the environment's) replaces the earlier one.
    identity.ensure_account("111111111111", "main", "AKIAMAINROOT11111111", "next-secret").await.unwrap();
    assert!(matches!(identity.resolve("AKIAMAINROOT00000000").await, Err(IamError::InvalidClientTokenId)));
    identity.resolve("AKIAMAINROOT11111111").await.unwrap().check(None, 0).unwrap();
    identity.ensure_account("111111111111", "main", "AKIAMAINROOT00000000", "main-secret").await.unwrap();
    let root = identity.resolve("AKIAMAINROOT00000000").await.unwrap();
    root.check(None, 0).unwrap();
    assert_eq!((root.caller.arn().as_str(), root.secret.expose()), ("arn:aws:iam::111111111111:root", "main-secret"));
    assert!(matches!(identity.resolve("AKIANOBODY").await, Err(IamError::InvalidClientTokenId)));
    let main = root.caller.clone();
    let isv_root = identity.resolve(&isv.access_key_id).await.unwrap().caller.clone();
    assert_eq!(isv_root.account_id, isv.account.account_id);

    // A user with a key: denied by default, allowed by its policy, denied explicitly.
    identity
        .create_user(&main, serde_json::from_value(serde_json::json!({"UserName": "alice"})).unwrap())
        .await
        .unwrap();
    let key = identity
        .create_access_key(&main, CreateAccessKeyRequest { user_name: Some("alice".into()) })
        .await
        .unwrap()
        .access_key;
    let alice = identity.resolve(&key.access_key_id).await.unwrap();
    assert_eq!(alice.caller.arn(), "arn:aws:iam::111111111111:user/alice");
    assert_eq!(alice.secret.expose(), key.secret_access_key.expose());
    let put = AccessRequest::new(
        "events:PutEvents",
        "arn:aws:events:us-east-1:111111111111:event-bus/default",
        &alice.caller.arn(),
        "111111111111",
    );
    assert!(
        matches!(identity.authorize(&alice.caller, &put).await, Err(IamError::AccessDenied(m)) if m.contains("because no identity-based policy allows the events:PutEvents action"))
    );
    identity
        .put_inline_policy(
            &main,
            PrincipalKind::User,
            "alice",
            "events",
            r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "events:*", "Resource": "*"}]}"#,
        )
        .await
        .unwrap();
    identity.authorize(&alice.caller, &put).await.unwrap();
    identity
        .put_inline_policy(
            &main,
            PrincipalKind::User,
            "alice",
            "no-default",
            r#"{"Statement": [{"Effect": "Deny", "Action": "events:PutEvents", "Resource": "*:event-bus/default"}]}"#,
        )
        .await
        .unwrap();
    assert!(
        matches!(identity.authorize(&alice.caller, &put).await, Err(IamError::AccessDenied(m)) if m.contains("explicit deny"))
    );
    assert!(matches!(
        identity.put_inline_policy(&main, PrincipalKind::User, "alice", "bad", "{}").await,
        Err(IamError::MalformedPolicyDocument(_))
    ));
    // Other accounts see nothing of it.
    assert!(matches!(
        identity.get_user(&isv_root, GetUserRequest { user_name: Some("alice".into()) }).await,
        Err(IamError::NoSuchEntity(_))
    ));
    assert!(matches!(
        identity
            .delete_access_key(
                &isv_root,
                DeleteAccessKeyRequest { user_name: None, access_key_id: key.access_key_id.clone() }
            )
            .await,
        Err(IamError::NoSuchEntity(_))
    ));
    assert!(matches!(
        identity.delete_user(&main, DeleteUserRequest { user_name: "alice".into() }).await,
        Err(IamError::DeleteConflict(_))
    ));
    // At most two keys; an inactive key is refused.
    identity.create_access_key(&main, CreateAccessKeyRequest { user_name: Some("alice".into()) }).await.unwrap();
    assert!(matches!(
        identity.create_access_key(&main, CreateAccessKeyRequest { user_name: Some("alice".into()) }).await,
        Err(IamError::LimitExceeded(_))
    ));
    identity
        .update_access_key(
            &main,
            UpdateAccessKeyRequest {
                user_name: Some("alice".into()),
                access_key_id: key.access_key_id.clone(),
                status: StatusType::Inactive,
            },
        )
        .await
        .unwrap();
    assert!(matches!(
        identity.resolve(&key.access_key_id).await.unwrap().check(None, 0),
        Err(IamError::InvalidClientTokenId)
    ));

    // The ISV assumes a role in main's account only with the ExternalId.
    let trust = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Principal": {{"AWS": "arn:aws:iam::{}:root"}},
            "Action": "sts:AssumeRole", "Condition": {{"StringEquals": {{"sts:ExternalId": "ext-1"}}}}}}]}}"#,
        isv.account.account_id
    );
    let role = identity
        .create_role(
            &main,
            serde_json::from_value(serde_json::json!({"RoleName": "isv-access", "AssumeRolePolicyDocument": trust}))
                .unwrap(),
        )
        .await
        .unwrap()
        .role;
    assert!(role.assume_role_policy_document.unwrap().starts_with("%7B"));
    assert!(matches!(identity.assume_role(&isv_root, assume(&role.arn, None)).await, Err(IamError::AccessDenied(_))));
    assert!(matches!(
        identity.assume_role(&isv_root, assume(&role.arn, Some("other"))).await,
        Err(IamError::AccessDenied(_))
    ));
    assert!(
        matches!(identity.assume_role(&main, assume(&role.arn, Some("ext-1"))).await, Err(IamError::AccessDenied(_))),
        "main is not trusted"
    );
    let session = identity.assume_role(&isv_root, assume(&role.arn, Some("ext-1"))).await.unwrap();
    let credentials = session.credentials.unwrap();
    assert!(credentials.access_key_id.starts_with("ASIA"));
    assert_eq!(session.assumed_role_user.unwrap().arn, "arn:aws:sts::111111111111:assumed-role/isv-access/s1");
    let resolved = identity.resolve(&credentials.access_key_id).await.unwrap();
    assert_eq!(resolved.caller.account_id, "111111111111");
    resolved.check(Some(&credentials.session_token), 0).unwrap();
    assert!(matches!(resolved.check(None, 0), Err(IamError::InvalidClientTokenId)));
    assert!(matches!(resolved.check(Some("forged"), 0), Err(IamError::InvalidClientTokenId)));
    assert!(matches!(resolved.check(Some(&credentials.session_token), i64::MAX), Err(IamError::ExpiredToken)));
    let mut long = assume(&role.arn, Some("ext-1"));
    long.duration_seconds = Some(7_200);
    assert!(
        matches!(identity.assume_role(&isv_root, long).await, Err(IamError::Validation(m)) if m.contains("MaxSessionDuration"))
    );

    // Secrets are sealed: no plain secret in the store's bytes.
    drop(identity);
    let bytes = std::fs::read(dir.path().join("store.db")).unwrap();
    let wal = std::fs::read(dir.path().join("store.db-wal")).unwrap_or_default();
    for secret in [
        "main-secret",
        key.secret_access_key.expose(),
        credentials.secret_access_key.expose(),
        &credentials.session_token,
    ] {
        let found = |haystack: &[u8]| haystack.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found(&bytes) && !found(&wal), "a secret is in the store's bytes");
    }
}
