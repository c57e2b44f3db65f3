//! Event-triggered flows through the real listeners, worker, store and
//! connectors against the simulator's Streaming API: change events and
//! platform events delivered to object storage exactly once across a
//! listener crash and takeover, the org forgetting the client, a gap event,
//! a failed run retried, and two servers on one PostgreSQL store.

#![cfg(all(feature = "salesforce", feature = "s3"))]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_engine::listener::{initial_event_state, ListenerConfig, Listeners};
use sluice_engine::{now_ms, Worker, WorkerConfig};
use sluice_sim::salesforce::state::FaultRule;
use sluice_sim::salesforce::SalesforceSim;
use sluice_store::{FlowRecord, MetadataStore};

mod common;

struct Setup {
    harness: common::Harness,
    sim: SalesforceSim,
    stop_worker: tokio::sync::watch::Sender<bool>,
}

async fn setup(store_url: Option<&str>) -> Setup {
    let harness = common::Harness::on(store_url).await;
    let sim = common::demo_org_with_profile(&harness).await;
    let (stop_worker, stopped) = tokio::sync::watch::channel(false);
    let config = WorkerConfig { idle_poll: Duration::from_millis(50), ..WorkerConfig::default() };
    let worker = Worker::new(harness.store.clone(), harness.runner(), config);
    tokio::spawn(worker.run_until(async move {
        let mut stopped = stopped;
        let _ = stopped.wait_for(|s| *s).await;
    }));
    Setup { harness, sim, stop_worker }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.stop_worker.send(true);
    }
}

impl Setup {
    /// A listener supervisor as a server named `owner` runs it, scanning often.
    fn listeners(&self, owner: &str) -> Listeners {
        self.listeners_on(self.harness.store.clone(), owner)
    }

    fn listeners_on(&self, store: Arc<dyn MetadataStore>, owner: &str) -> Listeners {
        let config = ListenerConfig {
            owner: owner.into(),
            lease: Duration::from_secs(1),
            scan_every: Duration::from_millis(100),
            batch_wait: Duration::from_millis(200),
            poll: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
            ..ListenerConfig::default()
        };
        Listeners::new(store, self.harness.runner(), config)
    }

    /// Stores `flow` as an active event flow, as StartFlow arms it.
    async fn activate(&self, flow: &FlowRecord) {
        self.harness.store.create_flow(flow).await.unwrap();
        let now = now_ms();
        self.harness.store.set_listening(&flow.name, true, Some(&initial_event_state(now)), now).await.unwrap();
    }

    fn create(&self, object: &str, fields: Value) -> String {
        self.sim.lock().org.create(object, fields.as_object().unwrap(), None).unwrap()
    }

    fn update(&self, object: &str, id: &str, fields: Value) {
        self.sim.lock().org.update(object, id, fields.as_object().unwrap(), None).unwrap();
    }

    /// Replay ids of the org's events on `channel` from `after` on.
    fn published(&self, channel: &str, after: u64) -> Vec<i64> {
        let state = self.sim.lock();
        state
            .org
            .events
            .iter()
            .filter(|e| e.channel == channel && e.replay_id > after)
            .map(|e| e.replay_id as i64)
            .collect()
    }

    fn last_replay_id(&self) -> u64 {
        self.sim.lock().org.next_replay_id - 1
    }

    /// Every record of every output file under `prefix`, by replay id
    /// (each run writes its own file).
    fn delivered(&self, prefix: &str) -> Vec<Value> {
        let mut records: Vec<Value> = Vec::new();
        for file in common::files_under(&self.harness.objects.join(prefix)) {
            // A run's file may be renamed into place between the listing and the read.
            let text = match std::fs::read_to_string(&file) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                other => other.unwrap(),
            };
            for line in text.lines() {
                records.push(serde_json::from_str(line).unwrap());
            }
        }
        records.sort_by_key(|r| replay_id(&r["ReplayId"]));
        records
    }

    /// Waits until `count` records arrived under `prefix` (and a little
    /// longer, so a duplicate would show), then returns them.
    async fn wait_for(&self, prefix: &str, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let records = self.delivered(prefix);
            if records.len() >= count {
                tokio::time::sleep(Duration::from_millis(600)).await;
                return self.delivered(prefix);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} records arrived: {records:?}",
                records.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Runs `listeners` in the background; the handle's abort is a crash (the
/// lease is not given back).
fn spawn(listeners: Listeners) -> tokio::task::JoinHandle<()> {
    tokio::spawn(listeners.run_until(std::future::pending()))
}

fn event_flow(name: &str, object: &str, prefix: &str, fields: &[&str]) -> FlowRecord {
    let definition = json!({
        "triggerConfig": {"triggerType": "Event"},
        "sourceFlowConfig": {"connectorType": "Salesforce", "connectorProfileName": "sf",
                             "sourceConnectorProperties": {"Salesforce": {"object": object}}},
        "destinationFlowConfigList": [{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": prefix, "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        "tasks": [{"taskType": "Filter", "sourceFields": fields, "connectorOperator": {"Salesforce": "PROJECTION"}}],
    });
    common::flow_record(name, definition, &["sf"])
}

/// A platform event's describe types ReplayId as a string (as Salesforce's does).
fn replay_id(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

fn replay_ids(records: &[Value]) -> Vec<i64> {
    records.iter().map(|r| replay_id(&r["ReplayId"]).unwrap_or_else(|| panic!("no ReplayId: {r}"))).collect()
}

fn counts(ids: &[i64]) -> BTreeMap<i64, usize> {
    let mut seen = BTreeMap::new();
    for id in ids {
        *seen.entry(*id).or_insert(0) += 1;
    }
    seen
}

fn header(record: &Value) -> Value {
    serde_json::from_str(record["ChangeEventHeader"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_events_arrive_once_across_a_crash_a_takeover_and_a_forgotten_client() {
    let setup = setup(None).await;
    let prefix = "lake/cdc";
    let flow = event_flow(
        "accounts-cdc",
        "AccountChangeEvent",
        "cdc",
        &["Id", "Name", "Industry", "ReplayId", "ChangeEventHeader"],
    );
    setup.create("Account", json!({"Name": "Before activation"}));
    let before = setup.last_replay_id();
    tokio::time::sleep(Duration::from_millis(20)).await;
    setup.activate(&flow).await;

    let first = spawn(setup.listeners("server-a"));
    let acme = setup.create("Account", json!({"Name": "Acme", "Industry": "Energy"}));
    setup.create("Account", json!({"Name": "Globex"}));
    setup.update("Account", &acme, json!({"Industry": "Banking"}));
    let records = setup.wait_for(prefix, 3).await;
    assert_eq!(replay_ids(&records), setup.published("/data/AccountChangeEvent", before));
    assert_eq!(records[0]["Name"], "Acme");
    assert_eq!(header(&records[0])["changeType"], "CREATE");
    assert_eq!(records[2]["Id"], acme.as_str());
    assert_eq!(records[2]["Industry"], "Banking");
    let changed = header(&records[2])["changedFields"].clone();
    assert!(changed.as_array().unwrap().contains(&json!("Industry")), "{changed}");

    // A crash: the listener stops without giving its lease back, and the
    // org keeps changing while no one listens.
    first.abort();
    let _ = first.await;
    let initech = setup.create("Account", json!({"Name": "Initech"}));
    setup.update("Account", &acme, json!({"Name": "Acme Corp"}));
    setup.sim.lock().cometd_clients.clear();
    let second = spawn(setup.listeners("server-b"));
    let records = setup.wait_for(prefix, 5).await;
    assert_eq!(replay_ids(&records), setup.published("/data/AccountChangeEvent", before), "after the takeover");
    assert_eq!(records[3]["Id"], initech.as_str());

    // The org forgets the client mid long-poll: the subscription hands shakes
    // again and resumes after the last event it delivered.
    setup.sim.lock().cometd_clients.clear();
    setup.create("Account", json!({"Name": "Umbrella"}));
    let records = setup.wait_for(prefix, 6).await;
    assert_eq!(records[5]["Name"], "Umbrella");

    // A gap event names the record but not its change: it is read by Id.
    let now = time::OffsetDateTime::now_utc();
    let gap = json!({"ChangeEventHeader": {
        "entityName": "Account", "recordIds": [acme], "changeType": "GAP_UPDATE", "changeOrigin": "",
        "transactionKey": "gap-1", "sequenceNumber": 1, "commitTimestamp": now_ms(), "commitNumber": 1,
        "commitUser": "005000000000001", "changedFields": [], "diffFields": [], "nulledFields": []}});
    setup.sim.lock().org.publish("/data/AccountChangeEvent".into(), gap, now);
    let records = setup.wait_for(prefix, 7).await;
    assert_eq!(records[6]["Id"], acme.as_str());
    assert_eq!(records[6]["Name"], "Acme Corp", "the gap record carries its current fields: {}", records[6]);
    assert_eq!(records[6]["Industry"], "Banking");

    let published = setup.published("/data/AccountChangeEvent", before);
    let delivered = replay_ids(&records);
    assert_eq!(delivered, published, "every event after activation");
    assert!(counts(&delivered).values().all(|n| *n == 1), "none twice: {delivered:?}");
    assert!(!records.iter().any(|r| r["Name"] == "Before activation"));

    let trigger = setup.harness.store.get_trigger("accounts-cdc").await.unwrap().unwrap();
    assert_eq!(trigger.source_state, Some(json!({"checkpoint": {"replayId": published.last().unwrap()}})));
    let executions =
        setup.harness.store.list_executions("accounts-cdc", &sluice_store::PageRequest::first(100)).await.unwrap();
    assert!(executions.items.iter().all(|e| e.status == "Successful"), "{:?}", executions.items);
    second.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_event_run_is_retried_with_the_same_events_and_platform_events_keep_their_fields() {
    let setup = setup(None).await;
    let prefix = "lake/holidays";
    let flow = event_flow(
        "holiday-events",
        "Holiday_Event__e",
        "holidays",
        &["Action__c", "Holiday_Id__c", "Region__c", "Holiday_Date__c", "ReplayId", "EventUuid"],
    );
    setup.activate(&flow).await;
    // The first run's describe fails at once (a 400): the run fails and the
    // listener reads the events again from the last committed one.
    setup.sim.lock().faults.push(FaultRule {
        path_contains: "/sobjects/Holiday_Event__e/describe".into(),
        error_rate: 0.0,
        status: 400,
        latency_ms: 0,
        limit_after_calls: None,
        fail_first: Some(1),
        seen: 0,
    });
    let listeners = spawn(setup.listeners("server-a"));
    for (i, region) in ["EMEA", "AMER"].iter().enumerate() {
        setup.create(
            "Holiday_Event__e",
            json!({"Action__c": "Add", "Holiday_Id__c": format!("H-{i}"), "Region__c": region, "Holiday_Date__c": "2026-12-25"}),
        );
    }
    let records = setup.wait_for(prefix, 2).await;
    assert_eq!(replay_ids(&records), setup.published("/event/Holiday_Event__e", 0));
    assert_eq!(records[0]["Holiday_Id__c"], "H-0");
    assert_eq!(records[1]["Region__c"], "AMER");
    assert_eq!(records[1]["Holiday_Date__c"], "2026-12-25");
    assert!(records[0]["EventUuid"].as_str().is_some_and(|u| u.len() == 36), "{}", records[0]);

    let executions =
        setup.harness.store.list_executions("holiday-events", &sluice_store::PageRequest::first(100)).await.unwrap();
    let statuses: Vec<&str> = executions.items.iter().map(|e| e.status.as_str()).collect();
    assert!(statuses.contains(&"Error") && statuses.contains(&"Successful"), "{statuses:?}");
    let failed = executions.items.iter().find(|e| e.status == "Error").unwrap();
    let message = failed.record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("Salesforce"), "{message}");
    listeners.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql_store_listen_once() {
    let Some(database) = common::TestDatabase::create().await else { return };
    let url = database.url.clone();
    let setup = setup(Some(&url)).await;
    let prefix = "lake/shared";
    let flow = event_flow("shared-cdc", "ContactChangeEvent", "shared", &["Id", "LastName", "ReplayId"]);
    let before = setup.last_replay_id();
    setup.activate(&flow).await;
    // A second server: its own connection pool on the same database.
    let other = sluice_store::open_store(&url).await.unwrap();
    let a = setup.listeners("server-a");
    let b = setup.listeners_on(other, "server-b");
    let (a, b) = (spawn(a), spawn(b));
    for i in 0..20 {
        setup.create("Contact", json!({"LastName": format!("Contact {i}")}));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let records = setup.wait_for(prefix, 20).await;
    let delivered = replay_ids(&records);
    assert_eq!(delivered, setup.published("/data/ContactChangeEvent", before));
    let listeners = setup.harness.store.listening_flows().await.unwrap();
    assert_eq!(listeners.len(), 1);
    assert!(matches!(listeners[0].owner.as_deref(), Some("server-a" | "server-b")));
    a.abort();
    b.abort();
    drop(setup);
    drop(database);
}
