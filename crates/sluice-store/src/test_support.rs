//! Test support (feature `test-support`): a fresh PostgreSQL database per
//! test, on the server `SLUICE_TEST_POSTGRES_URL` names. Without that
//! variable the tests that need it are skipped, unless
//! `SLUICE_REQUIRE_SERVICES=1` (CI), where they fail.

use sqlx::Connection;

/// A database made for one test, dropped when this is dropped.
pub struct TestDatabase {
    /// URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Makes a fresh database; `None` when PostgreSQL is not configured.
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("SLUICE_TEST_POSTGRES_URL") else {
            if std::env::var("SLUICE_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("SLUICE_TEST_POSTGRES_URL is not set but SLUICE_REQUIRE_SERVICES=1");
            }
            eprintln!("skipping: SLUICE_TEST_POSTGRES_URL not set");
            return None;
        };
        let name = format!("sluice_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("connect to SLUICE_TEST_POSTGRES_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test database");
        let mut url = url::Url::parse(&admin_url).expect("SLUICE_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(Self { url: url.to_string(), admin_url, name })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Dropped from async tests too: a thread of its own with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}
