//! Scheduled flows through the real scheduler, worker, store and
//! connectors, on a clock the test drives: incremental windows with ties on
//! the boundary and a late write (into object storage, and from there into
//! an upsert), a failed window retried, an empty window,
//! catch-up after downtime, deactivation, object-storage sources that read
//! only new files into an upsert, and two schedulers on one PostgreSQL
//! store firing each occurrence once.

#![cfg(all(feature = "salesforce", feature = "s3"))]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_engine::clock::ManualClock;
use sluice_engine::scheduler::Scheduler;
use sluice_engine::trigger::next_occurrence;
use sluice_engine::{Worker, WorkerConfig};
use sluice_model::appflow::flow::FlowSpec;
use sluice_sim::salesforce::org::format_datetime;
use sluice_sim::salesforce::state::FaultRule;

use sluice_sim::salesforce::SalesforceSim;
use sluice_store::{FlowRecord, MetadataStore};
use time::OffsetDateTime;

mod common;

/// 2030-01-01T12:00:00Z: after every record the demo org seeds (they are
/// stamped in the days before the real now), so the windows hold only the
/// records the tests write.
const T0: i64 = 1_893_499_200_000;
const HOUR: i64 = 3_600_000;
const LAG_MS: i64 = 60_000;

struct Setup {
    harness: common::Harness,
    sim: SalesforceSim,
    clock: Arc<ManualClock>,
}

async fn setup() -> Setup {
    let harness = common::Harness::new().await;
    let sim = common::demo_org_with_profile(&harness).await;
    Setup { harness, sim, clock: Arc::new(ManualClock::at(T0)) }
}

impl Setup {
    fn worker(&self) -> Worker {
        let config = WorkerConfig {
            clock: self.clock.clone(),
            settle_lag: Duration::from_millis(LAG_MS as u64),
            ..WorkerConfig::default()
        };
        Worker::new(self.harness.store.clone(), self.harness.runner(), config)
    }

    fn scheduler(&self) -> Scheduler {
        Scheduler::new(self.harness.store.clone(), self.clock.clone())
    }

    /// Stores `flow` as an active scheduled flow whose next occurrence is
    /// its first one from now (as StartFlow arms it).
    async fn activate(&self, flow: &FlowRecord) {
        self.harness.store.create_flow(flow).await.unwrap();
        let spec = FlowSpec::from_document(&flow.definition).unwrap();
        let now = self.clock.now();
        let next = next_occurrence(&spec, now, now);
        self.harness.store.schedule_trigger(&flow.name, next, true, now).await.unwrap();
    }

    /// Ticks the scheduler and runs what it queued; returns the execution
    /// records of those runs.
    async fn tick_and_run(&self, flow: &str) -> Vec<Value> {
        let tick = self.scheduler().tick().await.unwrap();
        let worker = self.worker();
        while worker.run_one().await.unwrap() {}
        let mut records = Vec::new();
        for (_, execution_id) in tick.queued.into_iter().filter(|(name, _)| name == flow) {
            records.push(self.harness.store.get_execution(flow, &execution_id).await.unwrap().unwrap().record);
        }
        records
    }

    /// Adds a Lead whose `SystemModstamp` is `at_ms`.
    fn lead(&self, last_name: &str, at_ms: i64) -> String {
        let mut state = self.sim.lock();
        let fields = json!({"LastName": last_name, "Company": "Ties Ltd"}).as_object().cloned().unwrap();
        let id = state.org.create("Lead", &fields, None).unwrap();
        let store = state.org.objects.get_mut("lead").unwrap();
        let column = store.column("SystemModstamp").unwrap();
        let row = store.by_id[&id];
        let stamp = OffsetDateTime::from_unix_timestamp_nanos(at_ms as i128 * 1_000_000).unwrap();
        store.rows[row][column] = json!(format_datetime(stamp));
        id
    }

    /// Every record of every output file of a flow, by Id, with how often it came.
    fn delivered(&self, flow: &str) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for file in common::files_under(&self.harness.objects.join(format!("lake/leads/{flow}"))) {
            for line in std::fs::read_to_string(&file).unwrap().lines() {
                let record: Value = serde_json::from_str(line).unwrap();
                *seen.entry(record["Id"].as_str().unwrap().to_string()).or_insert(0) += 1;
            }
        }
        seen
    }
}

trait Now {
    fn now(&self) -> i64;
}

impl Now for ManualClock {
    fn now(&self) -> i64 {
        sluice_engine::clock::Clock::now_ms(self)
    }
}

fn leads_flow(name: &str, scheduled: Value) -> FlowRecord {
    let definition = json!({
        "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": scheduled}},
        "sourceFlowConfig": {"connectorType": "Salesforce", "connectorProfileName": "sf",
                             "sourceConnectorProperties": {"Salesforce": {"object": "Lead"}},
                             "incrementalPullConfig": {"datetimeTypeFieldName": "SystemModstamp"}},
        "destinationFlowConfigList": [{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": "leads", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        "tasks": [{"taskType": "Filter", "sourceFields": ["Id", "LastName", "SystemModstamp"],
                   "connectorOperator": {"Salesforce": "PROJECTION"}}],
    });
    common::flow_record(name, definition, &["sf"])
}

fn window(record: &Value) -> (i64, i64) {
    let ms = |key: &str| (record[key].as_f64().unwrap() * 1000.0).round() as i64;
    (ms("dataPullStartTime"), ms("dataPullEndTime"))
}

fn burst(path: &str, status: u16, count: u64) -> FaultRule {
    FaultRule {
        path_contains: path.into(),
        error_rate: 0.0,
        status,
        latency_ms: 0,
        limit_after_calls: None,
        fail_first: Some(count),
        seen: 0,
    }
}

#[tokio::test]
async fn incremental_windows_deliver_every_record_once_across_ties_late_writes_and_a_failed_run() {
    let setup = setup().await;
    let first_from = T0 - 24 * HOUR;
    let flow = leads_flow(
        "leads",
        json!({"scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental", "firstExecutionFrom": first_from / 1000}),
    );
    setup.activate(&flow).await;
    // Downstream, on the same schedule: the published files upserted into
    // Salesforce (each lead as a Holiday__c keyed by its Id).
    setup.activate(&copies_flow("copies")).await;
    let a = setup.lead("A", T0 - 2 * HOUR);
    let b = setup.lead("B", T0 - 90_000);
    // Two records exactly on the first window's end: they belong to the second.
    let ties = [setup.lead("Tie1", T0 - LAG_MS), setup.lead("Tie2", T0 - LAG_MS)];

    let run1 = setup.tick_and_run("leads").await;
    assert_eq!(run1.len(), 1);
    assert_eq!(run1[0]["executionStatus"], "Successful", "{}", run1[0]);
    assert_eq!(window(&run1[0]), (first_from, T0 - LAG_MS), "[firstExecutionFrom, now - settle lag)");
    assert_eq!(run1[0]["executionResult"]["recordsProcessed"], 2);
    // Written late: its timestamp is before now, but after the first window's end.
    let late = setup.lead("Late", T0 - 30_000);

    setup.clock.set(T0 + HOUR);
    let e = setup.lead("E", T0 + 10 * 60_000);
    let run2 = setup.tick_and_run("leads").await;
    assert_eq!(window(&run2[0]), (T0 - LAG_MS, T0 + HOUR - LAG_MS), "the next window starts where the last ended");
    assert_eq!(run2[0]["executionResult"]["recordsProcessed"], 4, "{}", run2[0]);

    // The third occurrence fails: its window is read again by the next.
    setup.clock.set(T0 + 2 * HOUR);
    setup.sim.lock().faults = vec![burst("/query", 400, 1)];
    let f = setup.lead("F", T0 + HOUR + 5 * 60_000);
    let run3 = setup.tick_and_run("leads").await;
    assert_eq!(run3[0]["executionStatus"], "Error", "{}", run3[0]);
    setup.clock.set(T0 + 3 * HOUR);
    let run4 = setup.tick_and_run("leads").await;
    assert_eq!(run4[0]["executionStatus"], "Successful", "{}", run4[0]);
    assert_eq!(window(&run4[0]), (T0 + HOUR - LAG_MS, T0 + 3 * HOUR - LAG_MS), "the failed window is not skipped");
    assert_eq!(run4[0]["executionResult"]["recordsProcessed"], 1);

    // Nothing new: an empty window succeeds and writes no file.
    setup.clock.set(T0 + 4 * HOUR);
    let files_before = common::files_under(&setup.harness.objects.join("lake/leads/leads")).len();
    let run5 = setup.tick_and_run("leads").await;
    assert_eq!(run5[0]["executionStatus"], "Successful", "{}", run5[0]);
    assert_eq!(run5[0]["executionResult"]["recordsProcessed"], 0);
    assert_eq!(
        common::files_under(&setup.harness.objects.join("lake/leads/leads")).len(),
        files_before,
        "no empty file"
    );

    let delivered = setup.delivered("leads");
    let expected: Vec<&String> = [&a, &b, &ties[0], &ties[1], &late, &e, &f].into_iter().collect();
    for id in &expected {
        assert_eq!(delivered.get(*id), Some(&1), "{id} exactly once: {delivered:?}");
    }
    assert_eq!(delivered.len(), expected.len(), "nothing outside the windows: {delivered:?}");
    let trigger = setup.harness.store.get_trigger("leads").await.unwrap().unwrap();
    assert_eq!(trigger.watermark_ms, Some(T0 + 4 * HOUR - LAG_MS));
    assert_eq!(trigger.next_fire_ms, Some(T0 + 5 * HOUR));

    // One more occurrence lets the downstream flow read the last files: the
    // upsert destination holds each record once, with its fields.
    setup.clock.set(T0 + 5 * HOUR);
    let copies = setup.tick_and_run("copies").await;
    assert_eq!(copies[0]["executionStatus"], "Successful", "{}", copies[0]);
    let state = setup.sim.lock();
    let holidays = state.org.object("Holiday__c").unwrap();
    let mut upserted: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for row in &holidays.rows {
        if let Some(id) = holidays.value(row, "External_Id__c").and_then(Value::as_str) {
            let description = holidays.value(row, "Description__c").cloned().unwrap_or(Value::Null);
            upserted.entry(id.to_string()).or_default().push(description);
        }
    }
    for id in &expected {
        assert_eq!(upserted.get(*id).map(Vec::len), Some(1), "{id} upserted once: {upserted:?}");
    }
    assert_eq!(upserted[&late], vec![json!("Late")]);
    assert_eq!(upserted[&ties[1]], vec![json!("Tie2")]);
}

/// Upserts the JSON lines the `leads` flow publishes into Holiday__c.
fn copies_flow(name: &str) -> FlowRecord {
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    let definition = json!({
        "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental"}}},
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": "leads/leads", "s3InputFormatConfig": {"s3InputFileType": "JSON"}}}},
        "destinationFlowConfigList": [{"connectorType": "Salesforce", "connectorProfileName": "sf",
            "destinationConnectorProperties": {"Salesforce": {"object": "Holiday__c", "writeOperationType": "UPSERT",
                "idFieldNames": ["External_Id__c"]}}}],
        "tasks": [map("Id", "External_Id__c"), map("LastName", "Description__c")],
    });
    common::flow_record(name, definition, &["sf"])
}

#[tokio::test]
async fn after_downtime_one_run_covers_the_gap_and_the_schedule_goes_on() {
    let setup = setup().await;
    let flow = leads_flow(
        "catch-up",
        json!({"scheduleExpression": "rate(1hours)", "dataPullMode": "Incremental",
                                              "firstExecutionFrom": (T0 - HOUR) / 1000}),
    );
    setup.activate(&flow).await;
    setup.lead("Before", T0 - 10 * 60_000);
    assert_eq!(setup.tick_and_run("catch-up").await.len(), 1);
    // Down for five hours: one run, then the next occurrence after now.
    let during = setup.lead("During", T0 + 2 * HOUR);
    setup.clock.set(T0 + 5 * HOUR + 10 * 60_000);
    let runs = setup.tick_and_run("catch-up").await;
    assert_eq!(runs.len(), 1, "one catch-up run, not one per missed occurrence");
    assert_eq!(window(&runs[0]), (T0 - LAG_MS, T0 + 5 * HOUR + 10 * 60_000 - LAG_MS));
    assert_eq!(setup.delivered("catch-up").get(&during), Some(&1));
    let trigger = setup.harness.store.get_trigger("catch-up").await.unwrap().unwrap();
    assert_eq!(trigger.next_fire_ms, Some(T0 + 6 * HOUR));
    assert!(setup.tick_and_run("catch-up").await.is_empty(), "nothing is due until then");
}

#[tokio::test]
async fn failed_runs_in_a_row_deactivate_the_flow_at_its_threshold() {
    let setup = setup().await;
    let flow = leads_flow(
        "fragile",
        json!({"scheduleExpression": "rate(1hours)", "dataPullMode": "Complete",
                                             "flowErrorDeactivationThreshold": 2}),
    );
    setup.activate(&flow).await;
    setup.sim.lock().faults = vec![burst("/sobjects/Lead/describe", 400, 100)];
    let first = setup.tick_and_run("fragile").await;
    assert_eq!(first[0]["executionStatus"], "Error");
    let stored = setup.harness.store.get_flow("fragile").await.unwrap().unwrap();
    assert_eq!(stored.status, "Active", "one failure is below the threshold");
    setup.clock.advance(HOUR);
    let second = setup.tick_and_run("fragile").await;
    assert_eq!(second[0]["executionStatus"], "Error");
    let stored = setup.harness.store.get_flow("fragile").await.unwrap().unwrap();
    assert_eq!(stored.status, "Errored");
    let spec = FlowSpec::from_document(&stored.definition).unwrap();
    assert!(spec.flow_status_message.unwrap().contains("2 failed runs in a row"));
    assert_eq!(setup.harness.store.get_trigger("fragile").await.unwrap().unwrap().next_fire_ms, None);
    setup.clock.advance(HOUR);
    assert!(setup.tick_and_run("fragile").await.is_empty(), "a deactivated flow does not run");
}

fn status_flow(name: &str) -> FlowRecord {
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    let definition = json!({
        "triggerConfig": {"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
            "scheduleExpression": "rate(5minutes)", "dataPullMode": "Incremental"}}},
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "inbox", "bucketPrefix": "status", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
        "destinationFlowConfigList": [{"connectorType": "Salesforce", "connectorProfileName": "sf",
            "destinationConnectorProperties": {"Salesforce": {"object": "Holiday__c", "writeOperationType": "UPSERT",
                "idFieldNames": ["External_Id__c"]}}}],
        "tasks": [map("holiday_id", "External_Id__c"), map("status", "Status__c")],
    });
    common::flow_record(name, definition, &["sf"])
}

#[tokio::test]
async fn an_object_storage_source_on_a_schedule_reads_only_new_files_into_an_upsert() {
    let setup = setup().await;
    let inbox = setup.harness.objects.join("inbox/status");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("a.csv"), "holiday_id,status\nHOL-0001,Applied\nHOL-9001,Requested\n").unwrap();
    setup.activate(&status_flow("status")).await;
    let run1 = setup.tick_and_run("status").await;
    assert_eq!(run1[0]["executionStatus"], "Successful", "{}", run1[0]);
    assert_eq!(run1[0]["executionResult"]["recordsProcessed"], 2);

    std::fs::write(inbox.join("b.csv"), "holiday_id,status\nHOL-9002,Applied\n").unwrap();
    setup.clock.advance(5 * 60_000);
    let run2 = setup.tick_and_run("status").await;
    assert_eq!(run2[0]["executionResult"]["recordsProcessed"], 1, "only the new file: {}", run2[0]);

    setup.clock.advance(5 * 60_000);
    let run3 = setup.tick_and_run("status").await;
    assert_eq!(run3[0]["executionStatus"], "Successful");
    assert_eq!(run3[0]["executionResult"]["recordsProcessed"], 0, "no new file");

    // A file written again is read again; the upsert keeps one record per id.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(inbox.join("a.csv"), "holiday_id,status\nHOL-0001,Failed\nHOL-9001,Requested\n").unwrap();
    setup.clock.advance(5 * 60_000);
    let run4 = setup.tick_and_run("status").await;
    assert_eq!(run4[0]["executionResult"]["recordsProcessed"], 2, "{}", run4[0]);
    let state = setup.sim.lock();
    let store = state.org.object("Holiday__c").unwrap();
    let with = |id: &str| {
        store.rows.iter().filter(|r| store.value(r, "External_Id__c").and_then(Value::as_str) == Some(id)).count()
    };
    assert_eq!((with("HOL-0001"), with("HOL-9001"), with("HOL-9002")), (1, 1, 1), "each record once");
    let status = store
        .rows
        .iter()
        .find(|r| store.value(r, "External_Id__c").and_then(Value::as_str) == Some("HOL-0001"))
        .and_then(|r| store.value(r, "Status__c").cloned());
    assert_eq!(status, Some(json!("Failed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgresql_store_fire_each_occurrence_once() {
    let Some(database) = common::TestDatabase::create().await else { return };
    let url = database.url.clone();
    let clock = Arc::new(ManualClock::at(T0));
    // Two servers: two connection pools on one database.
    let stores: Vec<Arc<dyn MetadataStore>> =
        vec![sluice_store::open_store(&url).await.unwrap(), sluice_store::open_store(&url).await.unwrap()];
    let flow = leads_flow("shared", json!({"scheduleExpression": "rate(5minutes)", "dataPullMode": "Complete"}));
    let vault = sluice_vault::Vault::from_key([9u8; 32]);
    common::create_salesforce_profile(&*stores[0], &vault, "https://sim.invalid", json!({"accessToken": "t"})).await;
    stores[0].create_flow(&flow).await.unwrap();
    stores[0].schedule_trigger("shared", Some(T0), true, T0).await.unwrap();
    for occurrence in 0..3 {
        let mut ticks = Vec::new();
        for round in 0..10 {
            let store = stores[round % 2].clone();
            let clock = clock.clone();
            ticks.push(tokio::spawn(async move { Scheduler::new(store, clock).tick().await.unwrap() }));
        }
        let mut queued = 0;
        for tick in ticks {
            queued += tick.await.unwrap().queued.len();
        }
        assert_eq!(queued, 1, "occurrence {occurrence} fired once by twenty ticks of two servers");
        // The run is taken by a worker and ends before the next occurrence.
        let claimed = stores[1].claim_run("w", T0, 60_000).await.unwrap().unwrap();
        assert!(stores[1].finish_run(&claimed.execution_id, "w").await.unwrap());
        clock.advance(5 * 60_000);
    }
    let executions = stores[0].list_executions("shared", &sluice_store::PageRequest::first(100)).await.unwrap();
    assert_eq!(executions.items.len(), 3);
    drop(stores);
    drop(database);
}
