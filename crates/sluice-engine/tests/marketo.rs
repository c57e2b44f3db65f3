//! Marketo flows through the real scheduler, worker, store and connectors
//! against the Marketo simulator: an incremental leads pull whose window
//! spans two bulk exports and then reads only what is new, with the
//! simulator throttling calls; activities across pages; the daily quota
//! failing a run with a message naming it; leads synced from a CSV with
//! the ones Marketo skips in the error bucket.

#![cfg(all(feature = "marketo", feature = "s3"))]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use sluice_engine::clock::ManualClock;
use sluice_engine::scheduler::Scheduler;
use sluice_engine::{Worker, WorkerConfig};
use sluice_sim::marketo::db::LeadDatabase;
use sluice_sim::marketo::seed::generate_leads;
use sluice_sim::marketo::state::{SimConfig, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use sluice_sim::marketo::MarketoSim;
use sluice_store::FlowRecord;

mod common;

const DAY: i64 = 86_400;

struct Setup {
    harness: common::Harness,
    sim: MarketoSim,
    /// "Now" of the scheduler, on a whole hour a little before the real now.
    clock: Arc<ManualClock>,
    now: i64,
}

async fn setup() -> Setup {
    let harness = common::Harness::new().await;
    let sim = MarketoSim::new(LeadDatabase::new(), SimConfig::default(), None);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sluice_sim::server::serve(listener, sim.router(), None, std::future::pending()));
    let credentials = json!({"Marketo": {"clientId": DEMO_CLIENT_ID, "clientSecret": DEMO_CLIENT_SECRET}});
    let properties = json!({"Marketo": {"instanceUrl": base}});
    common::create_profile(&*harness.store, &harness.vault, "mk", "Marketo", properties, credentials).await;
    let now = (time::OffsetDateTime::now_utc().unix_timestamp() / 3600) * 3600 - 3600;
    Setup { harness, sim, clock: Arc::new(ManualClock::at(now * 1000)), now }
}

impl Setup {
    fn leads(&self, count: usize, created_at: i64, fields: Value) -> Vec<i64> {
        let overrides: Map<String, Value> = fields.as_object().cloned().unwrap_or_default();
        generate_leads(&mut self.sim.lock().db, count, &overrides, created_at).unwrap()
    }

    fn worker(&self) -> Worker {
        let config = WorkerConfig { clock: self.clock.clone(), settle_lag: Duration::ZERO, ..WorkerConfig::default() };
        Worker::new(self.harness.store.clone(), self.harness.runner(), config)
    }

    /// Ticks the scheduler and runs what it queued; the execution records.
    async fn tick_and_run(&self, flow: &str) -> Vec<Value> {
        let tick = Scheduler::new(self.harness.store.clone(), self.clock.clone()).tick().await.unwrap();
        let worker = self.worker();
        while worker.run_one().await.unwrap() {}
        let mut records = Vec::new();
        for (_, execution_id) in tick.queued.into_iter().filter(|(name, _)| name == flow) {
            records.push(self.harness.store.get_execution(flow, &execution_id).await.unwrap().unwrap().record);
        }
        records
    }

    async fn activate(&self, flow: &FlowRecord) {
        self.harness.store.create_flow(flow).await.unwrap();
        let now = sluice_engine::clock::Clock::now_ms(&*self.clock);
        self.harness.store.schedule_trigger(&flow.name, Some(now), true, now).await.unwrap();
    }

    /// The `id`s in the JSON lines of one run.
    fn delivered(&self, flow: &str, execution: &Value) -> Vec<i64> {
        let id = execution["executionId"].as_str().unwrap();
        let folder = self.harness.objects.join(format!("lake/marketo/{flow}/{id}"));
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
                ids.push(serde_json::from_str::<Value>(line).unwrap()["id"].as_i64().unwrap());
            }
        }
        ids.sort();
        ids
    }
}

fn marketo_flow(name: &str, object: &str, trigger: Value, fields: &[&str]) -> FlowRecord {
    let mut source = json!({"connectorType": "Marketo", "connectorProfileName": "mk",
                            "sourceConnectorProperties": {"Marketo": {"object": object}}});
    if object == "leads" {
        source["incrementalPullConfig"] = json!({"datetimeTypeFieldName": "createdAt"});
    }
    let definition = json!({
        "triggerConfig": trigger,
        "sourceFlowConfig": source,
        "destinationFlowConfigList": [{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
            "bucketName": "lake", "bucketPrefix": "marketo", "s3OutputFormatConfig": {"fileType": "JSON"}}}}],
        "tasks": [{"taskType": "Filter", "sourceFields": fields, "connectorOperator": {"Marketo": "PROJECTION"}}],
    });
    common::flow_record(name, definition, &["mk"])
}

#[tokio::test]
async fn an_incremental_leads_pull_spans_exports_reads_only_new_leads_and_waits_out_throttling() {
    let setup = setup().await;
    let now = setup.now;
    let old = setup.leads(2, now - 50 * DAY, json!({}));
    let within = setup.leads(3, now - 40 * DAY, json!({}));
    let recent = setup.leads(2, now - 2 * DAY, json!({}));
    let scheduled = json!({"triggerType": "Scheduled", "triggerProperties": {"Scheduled": {
        "scheduleExpression": "rate(1days)", "dataPullMode": "Incremental", "firstExecutionFrom": now - 45 * DAY}}});
    let flow = marketo_flow("new-leads", "leads", scheduled, &["id", "email", "firstName", "createdAt"]);
    setup.activate(&flow).await;
    // Calls beyond 4 per second are refused with 606 and waited out.
    {
        let mut state = setup.sim.lock();
        state.config.rate_limit_calls = 4;
        state.config.rate_limit_window_secs = 1;
    }
    let first = setup.tick_and_run("new-leads").await;
    assert_eq!(first[0]["executionStatus"], "Successful", "{}", first[0]);
    let mut expected: Vec<i64> = within.iter().chain(&recent).copied().collect();
    expected.sort();
    assert_eq!(setup.delivered("new-leads", &first[0]), expected, "[firstExecutionFrom, now) over two exports");
    assert!(!old.iter().any(|id| setup.delivered("new-leads", &first[0]).contains(id)));
    assert!(setup.sim.lock().usage.errors.get("606").copied().unwrap_or(0) > 0, "the simulator throttled");

    // A day later: only the lead created since.
    let newer = setup.leads(1, now + 3600, json!({}));
    setup.clock.advance(DAY * 1000);
    let second = setup.tick_and_run("new-leads").await;
    assert_eq!(second[0]["executionStatus"], "Successful", "{}", second[0]);
    assert_eq!(setup.delivered("new-leads", &second[0]), newer);
}

#[tokio::test]
async fn activities_are_read_across_pages_and_the_daily_quota_fails_the_run_by_name() {
    let setup = setup().await;
    setup.leads(650, setup.now - DAY, json!({}));
    let activities = setup.sim.lock().db.activities.len();
    assert!(activities > 600, "{activities}");
    let on_demand = json!({"triggerType": "OnDemand"});
    let flow = marketo_flow(
        "activities",
        "activities",
        on_demand.clone(),
        &["id", "leadId", "activityTypeId", "activityDate"],
    );
    let record = setup.harness.run(flow, "exec-activities").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["recordsProcessed"], activities as i64);

    setup.sim.lock().config.daily_quota = 0;
    let flow = marketo_flow("quota", "leads", on_demand, &["id", "email"]);
    let failed = setup.harness.run(flow, "exec-quota").await;
    assert_eq!(failed["executionStatus"], "Error", "{failed}");
    let message = failed["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(
        message.contains("607") && message.contains("daily API quota") && message.contains("resets at midnight"),
        "{message}"
    );
}

#[tokio::test]
async fn leads_sync_from_a_csv_and_the_skipped_ones_go_to_the_error_bucket() {
    let setup = setup().await;
    let existing = setup.leads(1, setup.now - DAY, json!({"email": "ada@example.com", "firstName": "Ada"}));
    let inbox = setup.harness.objects.join("inbox/leads");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("leads.csv"),
        "email,first_name,last_name\nada@example.com,Ada,Lovelace\nbob@example.com,Bob,Builder\n,No,Email\n",
    )
    .unwrap();
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    let definition = json!({
        "triggerConfig": {"triggerType": "OnDemand"},
        "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
            "bucketName": "inbox", "bucketPrefix": "leads", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
        "destinationFlowConfigList": [{"connectorType": "Marketo", "connectorProfileName": "mk",
            "destinationConnectorProperties": {"Marketo": {"object": "leads",
                "errorHandlingConfig": {"bucketName": "errors", "bucketPrefix": "marketo"}}}}],
        "tasks": [map("email", "email"), map("first_name", "firstName"), map("last_name", "lastName")],
    });
    let record = setup.harness.run(common::flow_record("leads-in", definition, &["mk"]), "exec-sync").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["errorInfo"]["putFailuresCount"], 1, "{record}");
    let state = setup.sim.lock();
    let by_email = |email: &str| {
        state.db.leads.values().filter(|l| l.values.get("email").and_then(Value::as_str) == Some(email)).count()
    };
    assert_eq!((by_email("ada@example.com"), by_email("bob@example.com")), (1, 1), "Ada updated, Bob created");
    assert_eq!(state.db.leads[&existing[0]].values.get("lastName"), Some(&json!("Lovelace")));
    let errors =
        std::fs::read_to_string(setup.harness.objects.join("errors/marketo/leads-in/exec-sync/errors.csv")).unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "email,firstName,lastName,error");
    assert!(lines[1].starts_with(",No,Email,") && lines[1].contains("lookup field 'email'"), "{errors}");
}
