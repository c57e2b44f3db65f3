//! The store fixtures both suites share: a fresh SQLite file or a fresh
//! PostgreSQL database per test, and the macro that instantiates a suite
//! for a backend.
#![allow(dead_code)]

use std::sync::Arc;

use sluice_store::*;

/// A store under test plus what keeps it alive.
pub struct Fixture {
    pub store: Arc<dyn MetadataStore>,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL admin URL and the per-test database to drop afterwards.
    drop_database: Option<(String, String)>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let Some((admin_url, db)) = self.drop_database.take() else { return };
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

pub async fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    Some(Fixture { store: open_store(&url).await.unwrap(), _dir: Some(dir), drop_database: None })
}

pub async fn postgres() -> Option<Fixture> {
    let Ok(admin_url) = std::env::var("SLUICE_TEST_POSTGRES_URL") else {
        if std::env::var("SLUICE_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("SLUICE_TEST_POSTGRES_URL is not set but SLUICE_REQUIRE_SERVICES=1");
        }
        eprintln!("skipping: SLUICE_TEST_POSTGRES_URL not set");
        return None;
    };
    use sqlx::Connection;
    let db = format!("sluice_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connect to SLUICE_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut admin).await.unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{db}"));
    Some(Fixture { store: open_store(url.as_str()).await.unwrap(), _dir: None, drop_database: Some((admin_url, db)) })
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
