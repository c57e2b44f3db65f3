//! The pipe store's behaviour (definitions, leases, positions), on every
//! backend (see `common`).

use std::sync::Arc;

use sluice_store::*;

mod common;

fn pipe(name: &str, state: &str) -> PipeRow {
    PipeRow {
        account_id: "111111111111".into(),
        name: name.into(),
        document: format!("{{\"Name\": \"{name}\"}}"),
        desired_state: state.into(),
        created_at_ms: 1,
        updated_at_ms: 1,
        position: None,
        lease_owner: None,
        lease_until_ms: 0,
    }
}

async fn pipes_are_documents_per_account(store: Arc<dyn MetadataStore>) {
    store.create_pipe(&pipe("b", "RUNNING")).await.unwrap();
    store.create_pipe(&pipe("a", "STOPPED")).await.unwrap();
    assert!(matches!(store.create_pipe(&pipe("a", "RUNNING")).await, Err(StoreError::AlreadyExists { .. })));
    let names: Vec<String> = store.list_pipes("111111111111").await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.list_pipes("222222222222").await.unwrap().is_empty());
    assert_eq!(store.running_pipes().await.unwrap().iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["b"]);

    store.update_pipe("111111111111", "a", "{}", "RUNNING", false, 5).await.unwrap();
    let a = store.get_pipe("111111111111", "a").await.unwrap().unwrap();
    assert_eq!((a.document.as_str(), a.desired_state.as_str(), a.updated_at_ms), ("{}", "RUNNING", 5));
    assert!(matches!(
        store.update_pipe("111111111111", "zz", "{}", "RUNNING", false, 5).await,
        Err(StoreError::NotFound { .. })
    ));
    store.delete_pipe("111111111111", "a").await.unwrap();
    assert!(store.get_pipe("111111111111", "a").await.unwrap().is_none());
    assert!(matches!(store.delete_pipe("111111111111", "a").await, Err(StoreError::NotFound { .. })));
}

async fn one_server_holds_a_pipe_at_a_time(store: Arc<dyn MetadataStore>) {
    store.create_pipe(&pipe("p", "RUNNING")).await.unwrap();
    let taken = store.lease_pipe("111111111111", "p", "s1", 100, 200).await.unwrap().unwrap();
    assert_eq!(taken.lease_owner.as_deref(), Some("s1"));
    assert!(store.lease_pipe("111111111111", "p", "s2", 150, 250).await.unwrap().is_none(), "s1 holds it");
    assert!(store.lease_pipe("111111111111", "p", "s1", 150, 300).await.unwrap().is_some(), "renewed");
    assert!(store.save_pipe_position("111111111111", "p", "s1", "42").await.unwrap());
    assert!(!store.save_pipe_position("111111111111", "p", "s2", "43").await.unwrap(), "not s2's");
    // Expired: s2 takes it and sees s1's position.
    let taken = store.lease_pipe("111111111111", "p", "s2", 301, 400).await.unwrap().unwrap();
    assert_eq!(taken.position.as_deref(), Some("42"));
    assert!(!store.save_pipe_position("111111111111", "p", "s1", "44").await.unwrap(), "s1 lost it");
    store.release_pipe("111111111111", "p", "s2").await.unwrap();
    assert!(store.lease_pipe("111111111111", "p", "s1", 302, 500).await.unwrap().is_some(), "released");
    // A new source forgets the position.
    store.update_pipe("111111111111", "p", "{}", "RUNNING", true, 9).await.unwrap();
    assert_eq!(store.get_pipe("111111111111", "p").await.unwrap().unwrap().position, None);
}

store_suite!(sqlite: pipes_are_documents_per_account, one_server_holds_a_pipe_at_a_time,);

store_suite!(postgres: pipes_are_documents_per_account, one_server_holds_a_pipe_at_a_time,);
