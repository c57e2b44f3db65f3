//! Workers against a real SQLite store: statuses, counters, errors,
//! cancellation, lease takeover, and several workers sharing one queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sluice_engine::{new_execution, now_ms, FlowRunner, RunContext, RunError, RunProgress, Worker, WorkerConfig};
use sluice_store::{open_store, FlowRecord, MetadataStore};

async fn store_with_flow() -> (Arc<dyn MetadataStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
    store
        .create_flow(&FlowRecord {
            name: "f".into(),
            arn: "arn:aws:appflow:us-east-1:123456789012:flow/f".into(),
            status: "Active".into(),
            definition: json!({}),
            profile_names: vec![],
            created_at_ms: 1,
            updated_at_ms: 1,
        })
        .await
        .unwrap();
    (store, dir)
}

async fn start_run(store: &Arc<dyn MetadataStore>, id: &str) {
    store.insert_execution(&new_execution(id, "f", now_ms())).await.unwrap();
    store.enqueue_run(id, "f", now_ms()).await.unwrap();
}

fn config(owner: &str) -> WorkerConfig {
    WorkerConfig {
        owner: owner.into(),
        lease: Duration::from_millis(300),
        idle_poll: Duration::from_millis(20),
        ..WorkerConfig::default()
    }
}

/// Counts runs per execution and behaves as told by the execution id.
#[derive(Default)]
struct ScriptedRunner {
    runs: Mutex<HashMap<String, usize>>,
}

#[async_trait::async_trait]
impl FlowRunner for ScriptedRunner {
    async fn run(&self, ctx: &RunContext) -> Result<RunProgress, RunError> {
        *self.runs.lock().unwrap().entry(ctx.execution_id.clone()).or_default() += 1;
        if ctx.execution_id.starts_with("fail") {
            ctx.report(RunProgress { records_processed: 7, bytes_processed: 70, bytes_written: 0 }).await;
            return Err(RunError::Failed("the source refused the query".into()));
        }
        if ctx.execution_id.starts_with("slow") {
            for _ in 0..200 {
                ctx.check_cancelled()?;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Ok(RunProgress { records_processed: 42, bytes_processed: 4200, bytes_written: 1000 })
    }
}

async fn record(store: &Arc<dyn MetadataStore>, id: &str) -> serde_json::Value {
    store.get_execution("f", id).await.unwrap().unwrap().record
}

#[tokio::test]
async fn success_and_failure_are_recorded_with_counters() {
    let (store, _dir) = store_with_flow().await;
    let runner = Arc::new(ScriptedRunner::default());
    let worker = Worker::new(store.clone(), runner.clone(), config("w1"));
    start_run(&store, "ok-1").await;
    start_run(&store, "fail-1").await;
    assert!(worker.run_one().await.unwrap());
    assert!(worker.run_one().await.unwrap());
    assert!(!worker.run_one().await.unwrap(), "the queue is empty");
    let ok = record(&store, "ok-1").await;
    assert_eq!(ok["executionStatus"], "Successful");
    assert_eq!(ok["executionResult"]["recordsProcessed"], 42);
    assert_eq!(ok["executionResult"]["bytesWritten"], 1000);
    assert!(ok["dataPullEndTime"].as_f64().unwrap() >= ok["dataPullStartTime"].as_f64().unwrap());
    let failed = record(&store, "fail-1").await;
    assert_eq!(failed["executionStatus"], "Error");
    assert_eq!(failed["executionResult"]["errorInfo"]["executionMessage"], "the source refused the query");
    assert_eq!(failed["executionResult"]["recordsProcessed"], 7, "progress reported before the failure is kept");
}

#[tokio::test]
async fn a_cancel_request_stops_a_running_run() {
    let (store, _dir) = store_with_flow().await;
    let runner = Arc::new(ScriptedRunner::default());
    start_run(&store, "slow-1").await;
    let worker = Worker::new(store.clone(), runner.clone(), config("w1"));
    let running = tokio::spawn(async move { worker.run_one().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(record(&store, "slow-1").await["executionStatus"], "InProgress");
    assert!(store.request_cancel("slow-1").await.unwrap());
    tokio::time::timeout(Duration::from_secs(5), running).await.expect("stops soon after the request").unwrap();
    assert_eq!(record(&store, "slow-1").await["executionStatus"], "Canceled");
}

#[tokio::test]
async fn a_dead_workers_run_is_taken_over_after_its_lease() {
    let (store, _dir) = store_with_flow().await;
    start_run(&store, "ok-2").await;
    let dead = store.claim_run("dead-worker", now_ms(), 200).await.unwrap().unwrap();
    assert_eq!(dead.attempts, 1);
    let runner = Arc::new(ScriptedRunner::default());
    let worker = Worker::new(store.clone(), runner.clone(), config("w2"));
    assert!(!worker.run_one().await.unwrap(), "the lease is still live");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(worker.run_one().await.unwrap());
    assert_eq!(record(&store, "ok-2").await["executionStatus"], "Successful");
    assert_eq!(runner.runs.lock().unwrap()["ok-2"], 1);
}

#[tokio::test]
async fn workers_sharing_a_queue_run_each_run_once() {
    let (store, _dir) = store_with_flow().await;
    for i in 0..12 {
        start_run(&store, &format!("ok-{i:02}")).await;
    }
    let runner = Arc::new(ScriptedRunner::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for w in 0..3 {
        let worker = Worker::new(store.clone(), runner.clone(), config(&format!("w{w}")));
        let mut stopped = stopped.clone();
        handles.push(tokio::spawn(worker.run_until(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while runner.runs.lock().unwrap().len() < 12 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for handle in handles {
        handle.await.unwrap();
    }
    let runs = runner.runs.lock().unwrap();
    assert_eq!(runs.len(), 12);
    assert!(runs.values().all(|n| *n == 1), "{runs:?}");
}

#[tokio::test]
async fn a_stopping_worker_gives_its_run_back() {
    let (store, _dir) = store_with_flow().await;
    start_run(&store, "slow-2").await;
    let runner = Arc::new(ScriptedRunner::default());
    let worker = Worker::new(store.clone(), runner.clone(), config("w1"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.send(()).unwrap();
    handle.await.unwrap();
    let next = Worker::new(store.clone(), runner.clone(), config("w2"));
    assert!(next.run_one().await.unwrap(), "claimable at once, without waiting for the lease");
    assert_eq!(record(&store, "slow-2").await["executionStatus"], "Successful");
    assert_eq!(runner.runs.lock().unwrap()["slow-2"], 2);
}
