//! What the engine's integration tests share: a store, a vault and local
//! buckets in a temporary folder, a simulator served on a free port, and
//! running one queued flow through a real worker.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use sluice_connectors::{ConnectorSettings, Registry};
use sluice_engine::pipeline::PipelineRunner;
use sluice_engine::{new_execution, now_ms, Worker, WorkerConfig};
use sluice_sim::salesforce::SalesforceSim;
use sluice_store::{open_store, FlowRecord, MetadataStore};
use sluice_vault::Vault;

/// Serves `sim` on a free loopback port and returns its base URL.
pub fn serve_sim(sim: &SalesforceSim) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    sim.set_base_url(base.clone());
    tokio::spawn(sluice_sim::server::serve(listener, sim.router(), None, std::future::pending()));
    base
}

/// The demo org's simulator served on a free port, with the profile `sf`
/// stored for a session of its demo user.
pub async fn demo_org_with_profile(harness: &Harness) -> SalesforceSim {
    use sluice_sim::salesforce::state::{SimConfig, DEMO_USERNAME};
    let sim = SalesforceSim::new(sluice_sim::salesforce::seed::demo_org(), SimConfig::default(), None);
    let base = serve_sim(&sim);
    let token = {
        let mut state = sim.lock();
        let user = state.users[DEMO_USERNAME].clone();
        state.new_session(&user)
    };
    create_salesforce_profile(&*harness.store, &harness.vault, &base, serde_json::json!({"accessToken": token})).await;
    sim
}

/// A flow record as CreateFlow would store it (status `Active`).
pub fn flow_record(name: &str, definition: Value, profiles: &[&str]) -> FlowRecord {
    FlowRecord {
        name: name.into(),
        arn: format!("arn:aws:appflow:us-east-1:123456789012:flow/{name}"),
        status: "Active".into(),
        definition,
        profile_names: profiles.iter().map(|p| p.to_string()).collect(),
        created_at_ms: 1,
        updated_at_ms: 1,
    }
}

/// Stores the connector profile `name` of `connector_type` with
/// `properties` and `credentials` (AppFlow's union members, e.g.
/// `{"Salesforce": {...}}`), the credentials sealed.
pub async fn create_profile(
    store: &dyn MetadataStore,
    vault: &Vault,
    name: &str,
    connector_type: &str,
    properties: Value,
    credentials: Value,
) {
    let arn = format!("arn:aws:appflow:us-east-1:123456789012:connectorprofile/{name}");
    let sealed = vault.seal(credentials.to_string().as_bytes(), &arn).to_text();
    store
        .create_profile(&sluice_store::ProfileRecord {
            name: name.into(),
            arn,
            connector_type: connector_type.into(),
            connector_label: None,
            connection_mode: "Public".into(),
            properties,
            sealed_credentials: Some(sealed),
            created_at_ms: 1,
            updated_at_ms: 1,
            auth_error: None,
        })
        .await
        .unwrap();
}

/// Stores the Salesforce profile `sf` for the org at `base`, with
/// `credentials` (the `Salesforce` member of AppFlow's credentials) sealed.
pub async fn create_salesforce_profile(store: &dyn MetadataStore, vault: &Vault, base: &str, credentials: Value) {
    let properties = serde_json::json!({"Salesforce": {"instanceUrl": base}});
    create_profile(store, vault, "sf", "Salesforce", properties, serde_json::json!({"Salesforce": credentials})).await;
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A SQLite store, a vault and local buckets in a temporary folder.
pub struct Harness {
    pub store: Arc<dyn MetadataStore>,
    pub vault: Arc<Vault>,
    pub objects: PathBuf,
    pub settings: ConnectorSettings,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        Self::on(None).await
    }

    /// A harness whose store is at `store_url` (`None`: SQLite in the
    /// temporary folder).
    pub async fn on(store_url: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("m.db").display());
        let store = open_store(store_url.unwrap_or(&sqlite)).await.unwrap();
        let vault = Arc::new(Vault::from_key([9u8; 32]));
        let objects = dir.path().join("objects");
        #[allow(unused_mut)]
        let mut settings =
            ConnectorSettings { outbound: sluice_connectors::OutboundGuard::allowing_private(), ..Default::default() };
        #[cfg(feature = "s3")]
        {
            settings.buckets = Some(sluice_connectors::s3::Buckets::local(&objects));
        }
        Self { store, vault, objects, settings, _dir: dir }
    }

    /// The runner a server would have.
    pub fn runner(&self) -> Arc<PipelineRunner> {
        Arc::new(PipelineRunner::new(self.store.clone(), self.vault.clone(), Arc::new(Registry::new(&self.settings))))
    }

    /// Stores `flow` (unless it is stored already), queues a run as
    /// StartFlow does and runs it with a worker; returns the execution record.
    pub async fn run(&self, flow: FlowRecord, execution_id: &str) -> Value {
        if self.store.get_flow(&flow.name).await.unwrap().is_none() {
            self.store.create_flow(&flow).await.unwrap();
        }
        self.store.insert_execution(&new_execution(execution_id, &flow.name, now_ms())).await.unwrap();
        self.store.enqueue_run(execution_id, &flow.name, now_ms()).await.unwrap();
        let worker = Worker::new(self.store.clone(), self.runner(), WorkerConfig::default());
        assert!(worker.run_one().await.unwrap(), "the run was queued");
        self.store.get_execution(&flow.name, execution_id).await.unwrap().unwrap().record
    }
}

/// A fresh PostgreSQL database for one test (dropped with it), or `None`
/// when none is configured.
pub use sluice_store::test_support::TestDatabase;
