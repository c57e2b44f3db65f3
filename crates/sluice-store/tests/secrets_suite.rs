//! The secret store's behaviour (documents, optimistic revisions), on
//! every backend (see `common`).

use std::sync::Arc;

use sluice_store::*;

mod common;

async fn secrets_change_by_revision(store: Arc<dyn MetadataStore>) {
    store.create_secret("111111111111", "b", "{\"v\": 1}").await.unwrap();
    store.create_secret("111111111111", "a", "{}").await.unwrap();
    assert!(matches!(store.create_secret("111111111111", "a", "{}").await, Err(StoreError::AlreadyExists { .. })));
    let names: Vec<String> = store.list_secrets("111111111111").await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(store.list_secrets("222222222222").await.unwrap().is_empty());
    assert_eq!(store.count_secrets("111111111111").await.unwrap(), 2);
    assert_eq!(store.count_secrets("222222222222").await.unwrap(), 0);

    let b = store.get_secret("111111111111", "b").await.unwrap().unwrap();
    assert_eq!(b.revision, 1);
    assert!(store.update_secret("111111111111", "b", "{\"v\": 2}", 1).await.unwrap());
    assert!(!store.update_secret("111111111111", "b", "{\"v\": 3}", 1).await.unwrap(), "revision 1 is gone");
    let b = store.get_secret("111111111111", "b").await.unwrap().unwrap();
    assert_eq!((b.document.as_str(), b.revision), ("{\"v\": 2}", 2));
    store.delete_secret("111111111111", "b").await.unwrap();
    assert!(store.get_secret("111111111111", "b").await.unwrap().is_none());
    assert!(matches!(store.delete_secret("111111111111", "b").await, Err(StoreError::NotFound { .. })));
    assert!(!store.update_secret("111111111111", "b", "{}", 2).await.unwrap());
}

store_suite!(sqlite: secrets_change_by_revision,);

store_suite!(postgres: secrets_change_by_revision,);
