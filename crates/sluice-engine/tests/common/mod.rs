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
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
        let vault = Arc::new(Vault::from_key([9u8; 32]));
        let objects = dir.path().join("objects");
        #[allow(unused_mut)]
        let mut settings = ConnectorSettings::default();
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

    /// Stores `flow`, queues a run as StartFlow does and runs it with a
    /// worker; returns the execution record.
    pub async fn run(&self, flow: FlowRecord, execution_id: &str) -> Value {
        self.store.create_flow(&flow).await.unwrap();
        self.store.insert_execution(&new_execution(execution_id, &flow.name, now_ms())).await.unwrap();
        self.store.enqueue_run(execution_id, &flow.name, now_ms()).await.unwrap();
        let worker = Worker::new(self.store.clone(), self.runner(), WorkerConfig::default());
        assert!(worker.run_one().await.unwrap(), "the run was queued");
        self.store.get_execution(&flow.name, execution_id).await.unwrap().unwrap().record
    }
}
