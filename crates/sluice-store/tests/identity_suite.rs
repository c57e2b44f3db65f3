//! The identity store's behaviour (accounts, IAM principals and policies,
//! access keys and sessions), on every backend (see `common`).

use std::sync::Arc;

use serde_json::json;
use sluice_store::*;

mod common;

fn key(id: &str, account: &str, kind: KeyKind, principal: &str, expires: Option<i64>) -> AccessKeyRow {
    AccessKeyRow {
        access_key_id: id.into(),
        account_id: account.into(),
        kind,
        principal: principal.into(),
        sealed_secret: format!("sealed-{id}"),
        status: "Active".into(),
        session: expires.map(|_| json!({"RoleArn": "arn:aws:iam::111111111111:role/r"})),
        expires_at_ms: expires,
        created_at_ms: 1,
    }
}

async fn accounts_principals_policies_and_keys(store: Arc<dyn MetadataStore>) {
    let a = AccountRow { account_id: "111111111111".into(), name: "producer".into(), created_at_ms: 1 };
    let b = AccountRow { account_id: "222222222222".into(), name: "consumer".into(), created_at_ms: 2 };
    store.create_account(&a).await.unwrap();
    store.create_account(&b).await.unwrap();
    let same_name = AccountRow { account_id: "333333333333".into(), ..a.clone() };
    assert!(matches!(store.create_account(&same_name).await, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.list_accounts().await.unwrap(), vec![b.clone(), a.clone()]);

    let user = PrincipalRow {
        account_id: a.account_id.clone(),
        kind: PrincipalKind::User,
        name_key: "alice".into(),
        document: json!({"UserName": "Alice"}),
        created_at_ms: 3,
    };
    store.create_principal(&user).await.unwrap();
    assert!(matches!(store.create_principal(&user).await, Err(StoreError::AlreadyExists { .. })));
    // The same name in another account or as a role is another principal.
    store.create_principal(&PrincipalRow { account_id: b.account_id.clone(), ..user.clone() }).await.unwrap();
    store.create_principal(&PrincipalRow { kind: PrincipalKind::Role, ..user.clone() }).await.unwrap();
    assert_eq!(store.get_principal(&a.account_id, PrincipalKind::User, "alice").await.unwrap(), Some(user.clone()));
    assert_eq!(store.list_principals(&a.account_id, PrincipalKind::User).await.unwrap().len(), 1);

    store.put_inline_policy(&a.account_id, PrincipalKind::User, "alice", "p1", "{\"v\":1}").await.unwrap();
    store.put_inline_policy(&a.account_id, PrincipalKind::User, "alice", "p1", "{\"v\":2}").await.unwrap();
    store.put_inline_policy(&a.account_id, PrincipalKind::User, "alice", "p0", "{}").await.unwrap();
    assert_eq!(
        store.inline_policies(&a.account_id, PrincipalKind::User, "alice").await.unwrap(),
        vec![("p0".to_string(), "{}".to_string()), ("p1".to_string(), "{\"v\":2}".to_string())]
    );
    assert!(store.inline_policies(&b.account_id, PrincipalKind::User, "alice").await.unwrap().is_empty());
    store.delete_inline_policy(&a.account_id, PrincipalKind::User, "alice", "p0").await.unwrap();
    assert!(matches!(
        store.delete_inline_policy(&a.account_id, PrincipalKind::User, "alice", "p0").await,
        Err(StoreError::NotFound { .. })
    ));

    store.insert_access_key(&key("AKIAROOT", &a.account_id, KeyKind::Root, "", None)).await.unwrap();
    store.insert_access_key(&key("AKIAUSER", &a.account_id, KeyKind::User, "alice", None)).await.unwrap();
    store.insert_access_key(&key("ASIAOLD", &a.account_id, KeyKind::Session, "alice", Some(100))).await.unwrap();
    store.insert_access_key(&key("ASIANEW", &a.account_id, KeyKind::Session, "alice", Some(10_000))).await.unwrap();
    let got = store.get_access_key("ASIANEW").await.unwrap().unwrap();
    assert_eq!(got, key("ASIANEW", &a.account_id, KeyKind::Session, "alice", Some(10_000)));
    assert_eq!(store.list_access_keys(&a.account_id, KeyKind::User, "alice").await.unwrap().len(), 1);
    // Another account can neither change nor delete the key.
    assert!(matches!(
        store.set_access_key_status(&b.account_id, "AKIAUSER", "Inactive").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(store.delete_access_key(&b.account_id, "AKIAUSER").await, Err(StoreError::NotFound { .. })));
    store.set_access_key_status(&a.account_id, "AKIAUSER", "Inactive").await.unwrap();
    assert_eq!(store.get_access_key("AKIAUSER").await.unwrap().unwrap().status, "Inactive");
    assert_eq!(store.delete_expired_sessions(5_000).await.unwrap(), 1);
    assert!(store.get_access_key("ASIAOLD").await.unwrap().is_none());
    assert!(store.get_access_key("ASIANEW").await.unwrap().is_some());

    store.delete_principal(&a.account_id, PrincipalKind::Role, "alice").await.unwrap();
    assert!(store.get_principal(&a.account_id, PrincipalKind::Role, "alice").await.unwrap().is_none());
    store.delete_account(&a.account_id).await.unwrap();
    assert!(store.get_account(&a.account_id).await.unwrap().is_none());
    assert!(store.get_access_key("AKIAROOT").await.unwrap().is_none());
    assert!(store.get_principal(&a.account_id, PrincipalKind::User, "alice").await.unwrap().is_none());
    assert!(store.get_principal(&b.account_id, PrincipalKind::User, "alice").await.unwrap().is_some());
    assert!(matches!(store.delete_account(&a.account_id).await, Err(StoreError::NotFound { .. })));
}

async fn buckets_belong_to_the_first_account_that_uses_them(store: Arc<dyn MetadataStore>) {
    assert_eq!(store.bucket_owner("exports").await.unwrap(), None);
    assert_eq!(store.claim_bucket("exports", "111111111111", 1).await.unwrap(), "111111111111");
    assert_eq!(store.claim_bucket("exports", "222222222222", 2).await.unwrap(), "111111111111");
    assert_eq!(store.claim_bucket("reports", "222222222222", 3).await.unwrap(), "222222222222");
    assert_eq!(store.bucket_owner("exports").await.unwrap().as_deref(), Some("111111111111"));
}

store_suite!(sqlite: accounts_principals_policies_and_keys, buckets_belong_to_the_first_account_that_uses_them,);

store_suite!(postgres: accounts_principals_policies_and_keys, buckets_belong_to_the_first_account_that_uses_them,);
