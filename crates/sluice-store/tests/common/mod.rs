//! The store fixtures both suites share: a fresh SQLite file or a fresh
//! PostgreSQL database per test, and the macro that instantiates a suite
//! for a backend.
#![allow(dead_code)]

use std::sync::Arc;

use sluice_store::*;

// The same fresh-database helper other crates get from the `test-support`
// feature (a crate's own tests cannot turn its features on).
#[path = "../../src/test_support.rs"]
mod test_support;

pub use test_support::TestDatabase;

/// A store under test plus what keeps it alive (its directory or database).
pub struct Fixture {
    pub store: Arc<dyn MetadataStore>,
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

pub async fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    Some(Fixture { store: open_store(&url).await.unwrap(), _dir: Some(dir), _database: None })
}

pub async fn postgres() -> Option<Fixture> {
    let database = TestDatabase::create().await?;
    Some(Fixture { store: open_store(&database.url).await.unwrap(), _dir: None, _database: Some(database) })
}

/// Instantiates each case for a backend (`sqlite` or `postgres`).
#[macro_export]
macro_rules! store_suite {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(fixture) = super::common::$backend().await {
                        super::$case(fixture.store.clone()).await;
                    }
                }
            )*
        }
    };
}
