//! Salesforce (the simulator) -> object storage through the real worker,
//! store, vault, connectors and tasks; outputs read back row by row.

#![cfg(all(feature = "salesforce", feature = "s3"))]

use std::sync::Arc;

use serde_json::{json, Value};
use sluice_connectors::s3::Buckets;
use sluice_connectors::salesforce::client::ClientApp;
use sluice_connectors::{ConnectorSettings, Registry};
use sluice_engine::pipeline::PipelineRunner;
use sluice_engine::{new_execution, now_ms, Worker, WorkerConfig};
use sluice_sim::salesforce::state::{FaultRule, SimConfig, DEMO_CLIENT_ID, DEMO_USERNAME};
use sluice_sim::salesforce::{seed, SalesforceSim};
use sluice_store::{open_store, FlowRecord, MetadataStore};
use sluice_vault::Vault;

mod common;

struct Setup {
    store: Arc<dyn MetadataStore>,
    vault: Arc<Vault>,
    objects: std::path::PathBuf,
    sim: SalesforceSim,
    _dir: tempfile::TempDir,
}

/// An org and a profile holding an access token only (no refresh token).
async fn setup() -> Setup {
    setup_with(SimConfig::default(), false).await
}

/// An org and a profile with an access token and, if `refreshable`, a
/// refresh token of the server's connected app.
async fn setup_with(config: SimConfig, refreshable: bool) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&format!("sqlite://{}", dir.path().join("m.db").display())).await.unwrap();
    let vault = Arc::new(Vault::from_key([9u8; 32]));
    let sim = SalesforceSim::new(seed::demo_org(), config, None);
    let base = common::serve_sim(&sim);
    let (token, refresh) = {
        let mut state = sim.lock();
        let user = state.users[DEMO_USERNAME].clone();
        (state.new_session(&user), state.new_refresh_token(DEMO_USERNAME, DEMO_CLIENT_ID))
    };
    let mut credentials = json!({"accessToken": token});
    if refreshable {
        credentials["refreshToken"] = json!(refresh);
    }
    common::create_salesforce_profile(&*store, &vault, &base, credentials).await;
    let objects = dir.path().join("objects");
    Setup { store, vault, objects, sim, _dir: dir }
}

fn banking_accounts_flow(name: &str, file_type: &str, extra_tasks: Vec<Value>) -> FlowRecord {
    let mut tasks = vec![
        json!({"taskType": "Filter", "sourceFields": ["Id", "Name", "Industry", "AnnualRevenue", "CreatedDate"],
               "connectorOperator": {"Salesforce": "PROJECTION"}}),
        json!({"taskType": "Filter", "sourceFields": ["Industry"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
               "taskProperties": {"DATA_TYPE": "string", "VALUE": "Banking"}}),
    ];
    tasks.extend(extra_tasks);
    let definition = json!({
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {"connectorType": "Salesforce", "connectorProfileName": "sf",
                                 "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
            "destinationFlowConfigList": [{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": "exports", "bucketPrefix": "crm",
                "s3OutputFormatConfig": {"fileType": file_type}}}}],
            "tasks": tasks,
    });
    common::flow_record(name, definition, &["sf"])
}

async fn run(setup: &Setup, flow: FlowRecord, execution_id: &str) -> Value {
    setup.store.create_flow(&flow).await.unwrap();
    enqueue(setup, &flow.name, execution_id).await;
    run_queued(setup, &flow.name, execution_id).await
}

/// Records a new run of a stored flow and queues it, as StartFlow does.
async fn enqueue(setup: &Setup, flow_name: &str, execution_id: &str) {
    setup.store.insert_execution(&new_execution(execution_id, flow_name, now_ms())).await.unwrap();
    setup.store.enqueue_run(execution_id, flow_name, now_ms()).await.unwrap();
}

/// The runner a server with the simulator's connected app would have.
fn runner(setup: &Setup) -> Arc<PipelineRunner> {
    runner_with(setup, None)
}

/// The runner, with Bulk API 2.0 ingest jobs of at most `bulk_job_records`.
fn runner_with(setup: &Setup, bulk_job_records: Option<usize>) -> Arc<PipelineRunner> {
    let settings = ConnectorSettings {
        salesforce_app: Some(ClientApp { client_id: DEMO_CLIENT_ID.into(), client_secret: None }),
        salesforce_bulk_job_records: bulk_job_records,
        buckets: Some(Buckets::local(&setup.objects)),
        outbound: sluice_connectors::OutboundGuard::allowing_private(),
        ..ConnectorSettings::default()
    };
    Arc::new(PipelineRunner::new(setup.store.clone(), setup.vault.clone(), Arc::new(Registry::new(&settings))))
}

/// A simulator fault rule that makes calls to paths containing `path` take `latency_ms` longer.
fn slow(path: &str, latency_ms: u64) -> FaultRule {
    FaultRule {
        path_contains: path.into(),
        error_rate: 0.0,
        status: 503,
        latency_ms,
        limit_after_calls: None,
        fail_first: None,
        seen: 0,
    }
}

/// A simulator fault rule failing the first `count` calls to paths containing `path` with `status`.
fn burst(path: &str, status: u16, count: u64) -> FaultRule {
    FaultRule { fail_first: Some(count), status, ..slow(path, 0) }
}

/// Runs the queued run with one worker and returns its execution record.
async fn run_queued(setup: &Setup, flow_name: &str, execution_id: &str) -> Value {
    let worker = Worker::new(setup.store.clone(), runner(setup), WorkerConfig::default());
    assert!(worker.run_one().await.unwrap());
    setup.store.get_execution(flow_name, execution_id).await.unwrap().unwrap().record
}

/// The stored Salesforce credentials of the profile, opened.
async fn stored_credentials(setup: &Setup) -> Value {
    let record = setup.store.get_profile("sf").await.unwrap().unwrap();
    let sealed = sluice_vault::SealedSecret::from_text(record.sealed_credentials.as_deref().unwrap()).unwrap();
    serde_json::from_slice(&setup.vault.open(&sealed, &record.arn).unwrap()).unwrap()
}

/// Banking accounts as the simulator holds them: (Id, Name, AnnualRevenue).
fn expected_banking(sim: &SalesforceSim) -> Vec<(String, String, f64)> {
    let state = sim.lock();
    let store = state.org.object("Account").unwrap();
    let mut rows: Vec<(String, String, f64)> = store
        .rows
        .iter()
        .filter(|row| store.value(row, "Industry").and_then(Value::as_str) == Some("Banking"))
        .map(|row| {
            (
                store.value(row, "Id").unwrap().as_str().unwrap().to_string(),
                store.value(row, "Name").unwrap().as_str().unwrap().to_string(),
                store.value(row, "AnnualRevenue").unwrap().as_f64().unwrap(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rows
}

#[tokio::test]
async fn salesforce_accounts_land_as_csv_row_by_row() {
    let setup = setup().await;
    let record = run(&setup, banking_accounts_flow("accounts-csv", "CSV", vec![]), "exec-csv").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(
        record["executionResult"]["recordsProcessed"], 500,
        "every account is read; the filter drops rows after"
    );
    let path = setup.objects.join("exports/crm/accounts-csv/exec-csv/part-00000.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(record["executionResult"]["bytesWritten"], text.len());
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["Id", "Name", "Industry", "AnnualRevenue", "CreatedDate"]);
    let mut rows: Vec<(String, String, f64)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(&r[2], "Banking");
            assert!(r[4].ends_with('Z') || r[4].contains('T'), "{}", &r[4]);
            (r[0].to_string(), r[1].to_string(), r[3].parse().unwrap())
        })
        .collect();
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let expected = expected_banking(&setup.sim);
    assert!(!expected.is_empty());
    assert_eq!(rows, expected);
}

#[tokio::test]
async fn parquet_output_reads_back_with_masked_names() {
    let setup = setup().await;
    let mask = json!({"taskType": "Mask", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "MASK_FIRST_N"},
                      "taskProperties": {"MASK_LENGTH": "3", "MASK_VALUE": "*"}});
    let record = run(&setup, banking_accounts_flow("accounts-parquet", "PARQUET", vec![mask]), "exec-pq").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    let bytes = std::fs::read(setup.objects.join("exports/crm/accounts-parquet/exec-pq/part-00000.parquet")).unwrap();
    let batches: Vec<_> =
        sluice_transform::codec::read_parquet(bytes.into(), 1024).unwrap().collect::<Result<_, _>>().unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, expected_banking(&setup.sim).len());
    let names = batches[0].column_by_name("Name").unwrap();
    let names = names.as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
    assert!(names.iter().flatten().all(|n| n.starts_with("***")), "{names:?}");
}

#[tokio::test]
async fn a_failed_run_leaves_no_output() {
    let setup = setup().await;
    let bad = json!({"taskType": "Map", "sourceFields": ["NoSuchField"], "destinationField": "X",
                     "connectorOperator": {"Salesforce": "NO_OP"}});
    let record = run(&setup, banking_accounts_flow("broken", "CSV", vec![bad]), "exec-bad").await;
    assert_eq!(record["executionStatus"], "Error");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("NoSuchField"), "{message}");
    assert!(
        !setup.objects.join("exports/crm/broken").exists()
            || std::fs::read_dir(setup.objects.join("exports/crm/broken")).unwrap().count() == 0
    );
    // Expired credentials: the run fails and says the profile needs new ones.
    setup.sim.lock().sessions.clear();
    let record = run(&setup, banking_accounts_flow("expired", "CSV", vec![]), "exec-expired").await;
    assert_eq!(record["executionStatus"], "Error");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("re-authorized"), "{message}");
    let marked = setup.store.get_profile("sf").await.unwrap().unwrap().auth_error;
    assert!(marked.is_some_and(|m| m.contains("no refresh token")), "a profile that cannot refresh is marked");
    let leftovers = walk(&setup.objects.join("exports/crm/expired"));
    assert_eq!(leftovers, Vec::<String>::new());
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path().display().to_string()] })
        .collect()
}

fn csv_to_salesforce_flow(name: &str, operation: &str, extra: Value) -> FlowRecord {
    let mut destination = json!({"object": "Holiday__c", "writeOperationType": operation,
        "idFieldNames": ["External_Id__c"],
        "errorHandlingConfig": {"bucketName": "errors", "bucketPrefix": "failed"}});
    if let (Value::Object(target), Value::Object(more)) = (&mut destination, extra) {
        target.extend(more);
    }
    let definition = json!({
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": "inbox", "bucketPrefix": "status", "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
            "destinationFlowConfigList": [{"connectorType": "Salesforce", "connectorProfileName": "sf",
                "destinationConnectorProperties": {"Salesforce": destination}}],
            "tasks": [
                {"taskType": "Map", "sourceFields": ["holiday_id"], "destinationField": "External_Id__c",
                 "connectorOperator": {"S3": "NO_OP"}},
                {"taskType": "Map", "sourceFields": ["status"], "destinationField": "Status__c",
                 "connectorOperator": {"S3": "NO_OP"}},
                {"taskType": "Map", "sourceFields": ["message"], "destinationField": "Status_Message__c",
                 "connectorOperator": {"S3": "NO_OP"}}
            ],
    });
    common::flow_record(name, definition, &["sf"])
}

fn holidays(sim: &SalesforceSim) -> Vec<(String, String, String)> {
    let state = sim.lock();
    let store = state.org.object("Holiday__c").unwrap();
    let text = |row: &Vec<Value>, f: &str| store.value(row, f).and_then(Value::as_str).unwrap_or("").to_string();
    let mut rows: Vec<_> = store
        .rows
        .iter()
        .map(|row| (text(row, "External_Id__c"), text(row, "Status__c"), text(row, "Status_Message__c")))
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn csv_in_a_bucket_upserts_into_salesforce_and_a_rerun_adds_no_duplicates() {
    let setup = setup().await;
    let inbox = setup.objects.join("inbox/status");
    std::fs::create_dir_all(&inbox).unwrap();
    let long = "x".repeat(1200);
    std::fs::write(
        inbox.join("2026-11-24-applied.csv"),
        format!("holiday_id,status,message\nHOL-0001,Applied,ok\nHOL-0002,Failed,table locked\nHOL-9999,Applied,new\nHOL-0003,Applied,{long}\n"),
    )
    .unwrap();
    let before = holidays(&setup.sim).len();
    let record = run(&setup, csv_to_salesforce_flow("status-back", "UPSERT", json!({})), "exec-up-1").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["recordsProcessed"], 4);
    let error_info = &record["executionResult"]["errorInfo"];
    assert_eq!(error_info["putFailuresCount"], 1, "{record}");
    let message = error_info["executionMessage"].as_str().unwrap();
    assert!(
        message.contains("STRING_TOO_LONG") && message.contains("errors/failed/status-back/exec-up-1/errors.csv"),
        "{message}"
    );
    let after = holidays(&setup.sim);
    assert_eq!(after.len(), before + 1, "HOL-9999 is new; the others are updated");
    assert!(after.contains(&("HOL-0001".into(), "Applied".into(), "ok".into())));
    assert!(after.contains(&("HOL-0002".into(), "Failed".into(), "table locked".into())));
    assert!(after.contains(&("HOL-9999".into(), "Applied".into(), "new".into())));
    let errors = std::fs::read_to_string(setup.objects.join("errors/failed/status-back/exec-up-1/errors.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(errors.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1, "{errors}");
    assert_eq!(&rows[0][0], "HOL-0003");
    assert!(errors.contains("STRING_TOO_LONG"), "{errors}");

    // A second run of the same flow over the same file: still one record per id.
    enqueue(&setup, "status-back", "exec-up-2").await;
    run_queued(&setup, "status-back", "exec-up-2").await;
    let again = holidays(&setup.sim);
    assert_eq!(again.len(), after.len());
    assert_eq!(again.iter().filter(|h| h.0 == "HOL-9999").count(), 1);
}

#[tokio::test]
async fn bulk_api_and_fail_fast() {
    let setup = setup().await;
    let inbox = setup.objects.join("inbox/status");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("a.csv"), "holiday_id,status,message\nBULK-1,Applied,a\nBULK-2,Applied,b\n").unwrap();
    let record =
        run(&setup, csv_to_salesforce_flow("bulk", "UPSERT", json!({"dataTransferApi": "BULKV2"})), "exec-bulk").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(holidays(&setup.sim).iter().filter(|h| h.0.starts_with("BULK-")).count(), 2);
    std::fs::write(inbox.join("b.csv"), format!("holiday_id,status,message\nBULK-3,Applied,{}\n", "y".repeat(1200)))
        .unwrap();
    let strict = json!({"errorHandlingConfig": {"failOnFirstDestinationError": true}});
    let record = run(&setup, csv_to_salesforce_flow("strict", "UPSERT", strict), "exec-strict").await;
    assert_eq!(record["executionStatus"], "Error");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("STRING_TOO_LONG"), "{message}");
    assert_eq!(record["executionResult"]["errorInfo"]["putFailuresCount"], 1);
}

#[tokio::test]
async fn target_file_size_splits_the_output_into_several_files() {
    let setup = setup().await;
    let mut flow = banking_accounts_flow("split", "JSON", vec![]);
    flow.definition["tasks"] = json!([
        {"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}
    ]);
    flow.definition["destinationFlowConfigList"][0]["destinationConnectorProperties"]["S3"]["s3OutputFormatConfig"] =
        json!({"fileType": "JSON", "aggregationConfig": {"aggregationType": "None", "targetFileSize": 1}});
    flow.definition["sourceFlowConfig"]["sourceConnectorProperties"]["Salesforce"]["object"] = json!("Lead");
    seed::generate_leads(&mut setup.sim.lock().org, 5000);
    let record = run(&setup, flow, "exec-split").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    let files = {
        let mut files = walk(&setup.objects.join("exports/crm/split/exec-split"));
        files.sort();
        files
    };
    let total: usize = files.iter().map(|f| std::fs::read_to_string(f).unwrap().lines().count()).sum();
    assert!(files.len() >= 3, "about 5 MB of leads in files of 1 MB: {files:?}");
    assert_eq!(total, 7000, "every lead once across the files");
    let written: u64 = files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
    assert_eq!(record["executionResult"]["bytesWritten"], written);
    assert!(files[0].ends_with("part-00000.jsonl"), "{files:?}");
}

#[tokio::test]
async fn a_session_that_expires_mid_run_is_refreshed_and_the_rotated_token_saved() {
    let setup = setup_with(SimConfig { rotate_refresh_tokens: true, ..SimConfig::default() }, true).await;
    let given_refresh = stored_credentials(&setup).await["Salesforce"]["refreshToken"].as_str().unwrap().to_string();
    let leads = {
        let mut state = setup.sim.lock();
        seed::generate_leads(&mut state.org, 10_000);
        // Later pages (nextRecordsUrl) are slow, so the session can be
        // expired while the run is between pages.
        state.faults = vec![slow("/query/", 300)];
        state.org.object("Lead").unwrap().rows.len()
    };
    assert!(leads > 4 * 2000, "several pages: {leads}");
    let mut flow = banking_accounts_flow("leads", "CSV", vec![]);
    flow.definition["sourceFlowConfig"]["sourceConnectorProperties"]["Salesforce"]["object"] = json!("Lead");
    flow.definition["tasks"] = json!([{"taskType": "Filter", "sourceFields": ["Id", "LastName"],
                                       "connectorOperator": {"Salesforce": "PROJECTION"}}]);
    setup.store.create_flow(&flow).await.unwrap();
    enqueue(&setup, "leads", "exec-leads").await;
    let expire = {
        let sim = setup.sim.clone();
        tokio::spawn(async move {
            // Once the second page is being served, every session ends.
            while sim.lock().faults[0].seen == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            sim.lock().sessions.clear();
        })
    };
    let record = run_queued(&setup, "leads", "exec-leads").await;
    expire.await.unwrap();
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["recordsProcessed"], leads);
    let text = std::fs::read_to_string(setup.objects.join("exports/crm/leads/exec-leads/part-00000.csv")).unwrap();
    let ids: std::collections::HashSet<String> =
        csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(ids.len(), leads, "every lead once, none lost across the refresh");
    // The rotated refresh token was saved; the one the profile had is revoked.
    let saved = stored_credentials(&setup).await;
    let rotated = saved["Salesforce"]["refreshToken"].as_str().unwrap();
    assert_ne!(rotated, given_refresh);
    let state = setup.sim.lock();
    assert!(state.refresh_tokens.contains_key(rotated) && !state.refresh_tokens.contains_key(&given_refresh));
    assert!(state.session(saved["Salesforce"]["accessToken"].as_str().unwrap()).is_some());
}

#[tokio::test]
async fn a_refused_refresh_token_marks_the_profile_until_it_gets_new_credentials() {
    let setup = setup_with(SimConfig::default(), true).await;
    {
        let mut state = setup.sim.lock();
        state.sessions.clear();
        state.refresh_tokens.clear();
    }
    let record = run(&setup, banking_accounts_flow("revoked", "CSV", vec![]), "exec-revoked-1").await;
    assert_eq!(record["executionStatus"], "Error");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("re-authorized") && message.contains("invalid_grant"), "{message}");
    let marked = setup.store.get_profile("sf").await.unwrap().unwrap();
    assert!(marked.auth_error.as_deref().is_some_and(|e| e.starts_with("invalid_grant")), "{marked:?}");

    // The next run is refused at once, saying what to do.
    enqueue(&setup, "revoked", "exec-revoked-2").await;
    let record = run_queued(&setup, "revoked", "exec-revoked-2").await;
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("UpdateConnectorProfile"), "{message}");

    // New credentials clear the mark and the flow runs again.
    let fresh = {
        let mut state = setup.sim.lock();
        let user = state.users[DEMO_USERNAME].clone();
        state.new_session(&user)
    };
    let record = setup.store.get_profile("sf").await.unwrap().unwrap();
    let sealed = setup.vault.seal(json!({"Salesforce": {"accessToken": fresh}}).to_string().as_bytes(), &record.arn);
    setup.store.save_profile_credentials("sf", &sealed.to_text(), now_ms()).await.unwrap();
    enqueue(&setup, "revoked", "exec-revoked-3").await;
    let record = run_queued(&setup, "revoked", "exec-revoked-3").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
}

fn all_accounts_flow(name: &str, api: &str) -> FlowRecord {
    let mut flow = banking_accounts_flow(name, "JSON", vec![]);
    flow.definition["tasks"] =
        json!([{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}]);
    flow.definition["sourceFlowConfig"]["sourceConnectorProperties"]["Salesforce"] =
        json!({"object": "Account", "dataTransferApi": api, "includeDeletedRecords": true});
    flow
}

#[tokio::test]
async fn bulk_and_rest_reads_give_the_same_output() {
    let setup = setup().await;
    let deleted: Vec<String> = {
        let mut state = setup.sim.lock();
        let store = state.org.object("Account").unwrap();
        let ids: Vec<String> =
            store.rows.iter().take(3).map(|row| store.value(row, "Id").unwrap().as_str().unwrap().into()).collect();
        for id in &ids {
            state.org.delete("Account", id, None).unwrap();
        }
        ids
    };
    let mut outputs = Vec::new();
    for (flow, api) in [("rest", "REST_SYNC"), ("bulk", "BULKV2")] {
        let record = run(&setup, all_accounts_flow(flow, api), &format!("exec-{flow}")).await;
        assert_eq!(record["executionStatus"], "Successful", "{record}");
        assert_eq!(record["executionResult"]["recordsProcessed"], 500, "deleted accounts included");
        let path = setup.objects.join(format!("exports/crm/{flow}/exec-{flow}/part-00000.jsonl"));
        let mut lines: Vec<String> = std::fs::read_to_string(path).unwrap().lines().map(str::to_string).collect();
        lines.sort();
        outputs.push(lines);
    }
    let bulk_jobs = setup.sim.lock().bulk_jobs.len();
    assert_eq!(bulk_jobs, 1, "BULKV2 ran one query job; REST_SYNC none");
    assert_eq!(outputs[0].len(), 500);
    assert_eq!(outputs[0], outputs[1], "the same records, fields, types, datetimes and nulls");
    let first: Value = serde_json::from_str(&outputs[1][0]).unwrap();
    assert!(first["AnnualRevenue"].is_number() && first["IsDeleted"].is_boolean(), "{first}");
    let deleted_rows = outputs[1].iter().filter(|line| deleted.iter().any(|id| line.contains(id.as_str())));
    assert!(deleted_rows.clone().count() == 3 && deleted_rows.into_iter().all(|l| l.contains("\"IsDeleted\":true")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_inputs_are_read_in_chunks_and_written_in_several_bulk_jobs() {
    let setup = setup().await;
    let inbox = setup.objects.join("inbox/status");
    std::fs::create_dir_all(&inbox).unwrap();
    // Two files of 2,250 rows, over 1 MB each (an unmapped wide column):
    // read in chunks after the schema sample.
    let padding = "p".repeat(480);
    for (file, first) in [("a.csv", 0), ("b.csv", 2_250)] {
        let mut text = String::from("holiday_id,status,message,notes\n");
        for i in first..first + 2_250 {
            text.push_str(&format!("BIG-{i:05},Applied,row {i},{padding}\n"));
        }
        assert!(text.len() > 1024 * 1024);
        std::fs::write(inbox.join(file), text).unwrap();
    }
    let flow = csv_to_salesforce_flow("big", "UPSERT", json!({}));
    setup.store.create_flow(&flow).await.unwrap();
    enqueue(&setup, "big", "exec-big").await;
    let runner = runner_with(&setup, Some(2_000));
    assert!(Worker::new(setup.store.clone(), runner, WorkerConfig::default()).run_one().await.unwrap());
    let record = setup.store.get_execution("big", "exec-big").await.unwrap().unwrap().record;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["recordsProcessed"], 4_500);
    assert!(record["executionResult"]["bytesProcessed"].as_i64().unwrap() > 2 * 1024 * 1024, "{record}");
    let big: Vec<(String, String, String)> =
        holidays(&setup.sim).into_iter().filter(|h| h.0.starts_with("BIG-")).collect();
    assert_eq!(big.len(), 4_500, "every row once");
    assert!(big.iter().all(|h| h.1 == "Applied"));
    // AUTOMATIC chose Bulk API 2.0 (4,500 >= 1,000): three jobs of at most 2,000.
    let jobs: Vec<usize> = setup.sim.lock().bulk_jobs.values().map(|j| j.successful.len()).collect();
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    assert!(jobs.iter().all(|n| *n <= 2_000) && jobs.iter().sum::<usize>() == 4_500, "{jobs:?}");
}

#[tokio::test]
async fn a_run_taken_over_after_its_worker_died_removes_the_dead_attempts_uploads() {
    let setup = setup().await;
    let flow = banking_accounts_flow("retried", "CSV", vec![]);
    setup.store.create_flow(&flow).await.unwrap();
    enqueue(&setup, "retried", "exec-retried").await;
    // A worker claims the run, starts its output and dies.
    let dead = setup.store.claim_run("dead-worker", now_ms(), 1).await.unwrap().unwrap();
    assert_eq!(dead.attempts, 1);
    let folder = setup.objects.join("exports/crm/retried/exec-retried");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("part-00000.csv#1"), "Id,Name\n001,half a ro").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let record = run_queued(&setup, "retried", "exec-retried").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    let files: Vec<String> = walk(&folder).into_iter().map(|p| p.rsplit('/').next().unwrap().to_string()).collect();
    assert_eq!(files, ["part-00000.csv"], "only the finished output is left");
    let rows = csv::Reader::from_path(folder.join("part-00000.csv")).unwrap().records().count();
    assert_eq!(rows, expected_banking(&setup.sim).len());
}

#[tokio::test]
async fn a_cancel_does_not_wait_for_a_bulk_job() {
    let setup = setup().await;
    // Every call about the query job takes 5 s.
    setup.sim.lock().faults = vec![slow("/jobs/query/", 5_000)];
    let flow = all_accounts_flow("slow-bulk", "BULKV2");
    setup.store.create_flow(&flow).await.unwrap();
    enqueue(&setup, "slow-bulk", "exec-slow").await;
    let config = WorkerConfig { lease: std::time::Duration::from_millis(600), ..WorkerConfig::default() };
    let worker = Worker::new(setup.store.clone(), runner(&setup), config);
    let started = std::time::Instant::now();
    let cancel = {
        let store = setup.store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(store.request_cancel("exec-slow").await.unwrap());
        })
    };
    assert!(worker.run_one().await.unwrap());
    cancel.await.unwrap();
    let elapsed = started.elapsed();
    let record = setup.store.get_execution("slow-bulk", "exec-slow").await.unwrap().unwrap().record;
    assert_eq!(record["executionStatus"], "Canceled", "{record}");
    assert!(elapsed < std::time::Duration::from_millis(3_000), "cancelled after {elapsed:?}");
    assert!(walk(&setup.objects.join("exports/crm/slow-bulk")).is_empty(), "nothing published");
}

fn holiday_ids(sim: &SalesforceSim) -> Vec<String> {
    let state = sim.lock();
    let store = state.org.object("Holiday__c").unwrap();
    store
        .rows
        .iter()
        .filter(|row| store.value(row, "IsDeleted").and_then(Value::as_bool) != Some(true))
        .map(|row| store.value(row, "Id").unwrap().as_str().unwrap().to_string())
        .collect()
}

fn by_id_flow(name: &str, operation: &str, tasks: Value) -> FlowRecord {
    let mut flow = csv_to_salesforce_flow(name, operation, json!({"idFieldNames": ["Id"]}));
    flow.definition["sourceFlowConfig"]["sourceConnectorProperties"]["S3"]["bucketPrefix"] = json!(name);
    flow.definition["tasks"] = tasks;
    flow
}

#[tokio::test]
async fn update_and_delete_find_records_by_id_and_refuse_records_without_one() {
    let setup = setup().await;
    let ids = holiday_ids(&setup.sim);
    let folder = setup.objects.join("inbox/by-id");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.csv"), format!("record_id,status\n{},Closed\n,Closed\n", ids[0])).unwrap();
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    let update = by_id_flow("by-id", "UPDATE", json!([map("record_id", "Id"), map("status", "Status__c")]));
    let record = run(&setup, update, "exec-update").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["errorInfo"]["putFailuresCount"], 1, "{record}");
    let status = {
        let state = setup.sim.lock();
        let store = state.org.object("Holiday__c").unwrap();
        let row =
            store.rows.iter().find(|row| store.value(row, "Id").and_then(Value::as_str) == Some(&ids[0])).unwrap();
        store.value(row, "Status__c").cloned()
    };
    assert_eq!(status, Some(json!("Closed")));
    let errors = std::fs::read_to_string(setup.objects.join("errors/failed/by-id/exec-update/errors.csv")).unwrap();
    assert!(errors.contains("MISSING_ID") && errors.lines().count() == 2, "{errors}");

    let folder = setup.objects.join("inbox/gone");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("a.csv"), format!("record_id\n{}\n{}\n", ids[1], ids[2])).unwrap();
    let delete = by_id_flow("gone", "DELETE", json!([map("record_id", "Id")]));
    let record = run(&setup, delete, "exec-delete").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    let left = holiday_ids(&setup.sim);
    assert_eq!(left.len(), ids.len() - 2);
    assert!(!left.contains(&ids[1]) && !left.contains(&ids[2]) && left.contains(&ids[0]));
}

#[tokio::test]
async fn a_burst_of_503s_is_retried_and_counted_and_a_400_fails_at_once() {
    let setup = setup().await;
    // Three failures in a row on the query: retried with backoff, the run succeeds.
    setup.sim.lock().faults = vec![burst("/query", 503, 3)];
    let record = run(&setup, banking_accounts_flow("flaky", "CSV", vec![]), "exec-flaky").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["retriedCalls"], 3, "{record}");
    let rows = csv::Reader::from_path(setup.objects.join("exports/crm/flaky/exec-flaky/part-00000.csv"))
        .unwrap()
        .records()
        .count();
    assert_eq!(rows, expected_banking(&setup.sim).len(), "every record once");

    // A 400 is the caller's problem: no retry, the run fails at once.
    setup.sim.lock().faults = vec![burst("/query", 400, 1)];
    let started = std::time::Instant::now();
    let record = run(&setup, banking_accounts_flow("refused", "CSV", vec![]), "exec-refused").await;
    assert_eq!(record["executionStatus"], "Error", "{record}");
    assert_eq!(record["executionResult"]["retriedCalls"], 0, "{record}");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.starts_with("Salesforce:") && message.contains("unavailable"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "no backoff for a 400");
    assert!(walk(&setup.objects.join("exports/crm/refused")).is_empty(), "nothing published");

    // More failures than attempts: the run fails after its retries, saying why.
    setup.sim.lock().faults = vec![burst("/describe", 503, 100)];
    let record = run(&setup, banking_accounts_flow("down", "CSV", vec![]), "exec-down").await;
    assert_eq!(record["executionStatus"], "Error", "{record}");
    assert_eq!(record["executionResult"]["retriedCalls"], 5, "six attempts in all: {record}");
}
