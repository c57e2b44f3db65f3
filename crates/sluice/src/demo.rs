//! `sluice demo`: first contact with no set-up. One process runs a
//! Salesforce simulator (the demo org) and a Sluice server on the embedded
//! default (SQLite and a local folder in the demo's data directory),
//! creates a connector profile and two sample flows through the signed API
//! (Account -> Parquet; a CSV of holiday statuses -> Holiday__c upsert),
//! runs them with the progress bar, prints where the outputs are and the
//! boto3 / aws CLI lines to go on with, and serves until Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};
use sluice_sim::salesforce::state::{SimConfig, DEMO_CLIENT_ID, DEMO_USERNAME};
use sluice_sim::salesforce::{seed, SalesforceSim};

use crate::client::ApiClient;
use crate::commands::follow_run;
use crate::serve::{self, ConnectorOverrides, ServeArgs};

/// The demo's connector profile.
const PROFILE: &str = "demo-salesforce";
/// Account -> Parquet.
const EXPORT_FLOW: &str = "demo-accounts-to-parquet";
/// CSV -> Holiday__c upsert.
const STATUS_FLOW: &str = "demo-holiday-status";
/// The bucket the export lands in, and the one the status CSV waits in.
const EXPORT_BUCKET: &str = "demo-exports";
const INBOX_BUCKET: &str = "demo-inbox";

/// A contact center's holiday statuses, upserted into Holiday__c by its
/// external id (HOL-9001 is new; the others exist in the demo org).
const HOLIDAY_STATUS_CSV: &str = "\
holiday_id,status,message
HOL-0001,Applied,loaded into the contact center
HOL-0002,Applied,loaded into the contact center
HOL-0003,Failed,the region's calendar is locked
HOL-0004,Applied,loaded into the contact center
HOL-9001,Requested,new holiday from the demo
";

/// Options of `sluice demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Data directory of the demo server (created if missing; a previous
    /// demo's profile and flows in it are replaced).
    #[arg(long, default_value = "sluice-demo")]
    data_dir: PathBuf,
    /// Address the demo server's API listens on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Stop once the flows have run instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

/// Runs the demo.
pub async fn run(args: DemoArgs) -> Result<()> {
    let (stop_sim, sim_stopped) = tokio::sync::watch::channel(false);
    let sim = SalesforceSim::new(seed::demo_org(), SimConfig::default(), None);
    let sim_listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot start the Salesforce simulator")?;
    let sim_url = format!("http://{}", sim_listener.local_addr()?);
    sim.set_base_url(sim_url.clone());
    let sim_task = tokio::spawn(sluice_sim::server::serve(sim_listener, sim.router(), None, async move {
        let mut stopped = sim_stopped;
        let _ = stopped.wait_for(|s| *s).await;
    }));

    let serve_args = ServeArgs {
        data_dir: args.data_dir.clone(),
        listen: args.listen,
        region: "us-east-1".into(),
        store: None,
        salesforce_client_id: None,
        s3_endpoint: None,
        s3_region: "us-east-1".into(),
        settle_lag: sluice_engine::DEFAULT_SETTLE_LAG.as_secs(),
        // The demo's Salesforce is the simulator on loopback.
        allow_private_endpoints: true,
        table_sweep_secs: 30,
    };
    let overrides = ConnectorOverrides {
        salesforce_app: Some(sluice_connectors::salesforce::client::ClientApp {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: None,
        }),
    };
    let server = serve::start(serve_args, overrides).await.with_context(|| {
        format!("cannot start the demo server on {} (another one running? try --listen 127.0.0.1:0)", args.listen)
    })?;
    let endpoint = format!("http://{}", server.address);
    let data_dir = std::fs::canonicalize(&server.data_dir).unwrap_or_else(|_| server.data_dir.clone());
    println!();
    println!("Sluice demo");
    println!("  server:     {endpoint} (SQLite and a local folder in {})", data_dir.display());
    println!("  Salesforce: {sim_url} (a simulated org with 500 accounts and 40 holidays)");

    let outcome = async {
        let api = ApiClient::new(&endpoint, &server.region, server.key.clone())?;
        set_up(&api, &sim, &sim_url, &data_dir).await?;
        let export = run_flow(&api, EXPORT_FLOW, "Account -> Parquet").await?;
        let execution_id = export.get("executionId").and_then(Value::as_str).unwrap_or_default();
        let folder = data_dir.join("objects").join(EXPORT_BUCKET).join("accounts").join(EXPORT_FLOW).join(execution_id);
        println!("  output: {}", folder.join("part-00000.parquet").display());
        run_flow(&api, STATUS_FLOW, "CSV of holiday statuses -> Holiday__c upsert").await?;
        println!("  input:  {}", data_dir.join("objects").join(INBOX_BUCKET).join("holiday-status").display());
        println!("  in Salesforce: {}", holidays_in_org(&sim));
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if outcome.is_ok() {
        print_next_steps(&endpoint, &server.region, &data_dir, args.exit);
        if !args.exit {
            crate::shutdown_signal().await;
        }
    }
    server.stop().await?;
    let _ = stop_sim.send(true);
    let _ = sim_task.await;
    outcome
}

/// Creates (or replaces) the demo's profile, flows and input file.
async fn set_up(api: &ApiClient, sim: &SalesforceSim, sim_url: &str, data_dir: &Path) -> Result<()> {
    for flow in [EXPORT_FLOW, STATUS_FLOW] {
        ignore_missing(api.call("/delete-flow", &json!({"flowName": flow, "forceDelete": true})).await)?;
    }
    ignore_missing(
        api.call("/delete-connector-profile", &json!({"connectorProfileName": PROFILE, "forceDelete": true})).await,
    )?;
    let (access_token, refresh_token) = {
        let mut state = sim.lock();
        let user = state.users[DEMO_USERNAME].clone();
        (state.new_session(&user), state.new_refresh_token(DEMO_USERNAME, DEMO_CLIENT_ID))
    };
    api.call(
        "/create-connector-profile",
        &json!({
            "connectorProfileName": PROFILE,
            "connectorType": "Salesforce",
            "connectionMode": "Public",
            "connectorProfileConfig": {
                "connectorProfileProperties": {"Salesforce": {"instanceUrl": sim_url}},
                "connectorProfileCredentials": {"Salesforce": {"accessToken": access_token, "refreshToken": refresh_token}},
            },
        }),
    )
    .await?;
    api.call(
        "/create-flow",
        &json!({
            "flowName": EXPORT_FLOW,
            "description": "Every Salesforce account into a Parquet file",
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {"connectorType": "Salesforce", "connectorProfileName": PROFILE,
                                 "sourceConnectorProperties": {"Salesforce": {"object": "Account"}}},
            "destinationFlowConfigList": [{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": EXPORT_BUCKET, "bucketPrefix": "accounts",
                "s3OutputFormatConfig": {"fileType": "PARQUET", "aggregationConfig": {"aggregationType": "SingleFile"}}}}}],
            "tasks": [{"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"}}],
        }),
    )
    .await?;
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    api.call(
        "/create-flow",
        &json!({
            "flowName": STATUS_FLOW,
            "description": "Holiday statuses from a CSV file back into Salesforce",
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": INBOX_BUCKET, "bucketPrefix": "holiday-status",
                "s3InputFormatConfig": {"s3InputFileType": "CSV"}}}},
            "destinationFlowConfigList": [{"connectorType": "Salesforce", "connectorProfileName": PROFILE,
                "destinationConnectorProperties": {"Salesforce": {
                    "object": "Holiday__c", "writeOperationType": "UPSERT", "idFieldNames": ["External_Id__c"],
                    "errorHandlingConfig": {"bucketName": INBOX_BUCKET, "bucketPrefix": "errors"}}}}],
            "tasks": [
                {"taskType": "Filter", "sourceFields": ["holiday_id", "status", "message"],
                 "connectorOperator": {"S3": "PROJECTION"}},
                map("holiday_id", "External_Id__c"),
                map("status", "Status__c"),
                map("message", "Status_Message__c"),
            ],
        }),
    )
    .await?;
    let inbox = data_dir.join("objects").join(INBOX_BUCKET).join("holiday-status");
    std::fs::create_dir_all(&inbox).with_context(|| format!("cannot create {}", inbox.display()))?;
    std::fs::write(inbox.join("statuses.csv"), HOLIDAY_STATUS_CSV).context("cannot write the demo's input file")?;
    Ok(())
}

/// A call's result, with "it does not exist" counted as done.
fn ignore_missing(result: Result<Value>) -> Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(error) => match error.downcast_ref::<crate::client::ServiceError>() {
            Some(e) if e.code == "ResourceNotFoundException" => Ok(()),
            _ => Err(error),
        },
    }
}

async fn run_flow(api: &ApiClient, flow: &str, what: &str) -> Result<Value> {
    println!();
    println!("flow {flow}: {what}");
    follow_run(api, flow, Duration::from_secs(600)).await
}

/// The holidays of the status file as the org holds them now.
fn holidays_in_org(sim: &SalesforceSim) -> String {
    let state = sim.lock();
    let Ok(store) = state.org.object("Holiday__c") else { return "no Holiday__c object".into() };
    let text =
        |row: &Vec<Value>, field: &str| store.value(row, field).and_then(Value::as_str).unwrap_or("").to_string();
    let mut shown: Vec<String> = store
        .rows
        .iter()
        .filter(|row| HOLIDAY_STATUS_CSV.contains(&format!("{},", text(row, "External_Id__c"))))
        .map(|row| format!("{} {}", text(row, "External_Id__c"), text(row, "Status__c")))
        .collect();
    shown.sort();
    shown.join(", ")
}

fn print_next_steps(endpoint: &str, region: &str, data_dir: &Path, exit: bool) {
    let credentials = data_dir.join(crate::datadir::CREDENTIALS_FILE);
    println!();
    println!("Go on with boto3 or the aws CLI (the root credentials are in {}):", credentials.display());
    println!(
        "  export AWS_SHARED_CREDENTIALS_FILE={} AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region}",
        credentials.display()
    );
    println!("  python3 -c 'import boto3; print([f[\"flowName\"] for f in boto3.client(\"appflow\").list_flows()[\"flows\"]])'");
    println!("  aws appflow describe-flow-execution-records --flow-name {EXPORT_FLOW}");
    println!("or with this binary:");
    println!("  sluice flow run {EXPORT_FLOW} --endpoint {endpoint} --data-dir {}", data_dir.display());
    if !exit {
        println!();
        println!("The demo server keeps running until Ctrl-C.");
    }
}
