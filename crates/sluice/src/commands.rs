//! The CLI's client commands (`sluice profile`, `sluice flow`): the same
//! signed AppFlow API boto3 uses, with request files checked strictly
//! against the model before they are sent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use sluice_model::appflow::service_model;
use sluice_model::shape_validator::UnknownMembers;

use crate::client::ApiClient;
use crate::datadir;

/// Where a CLI command finds the server and its credentials.
#[derive(clap::Args)]
pub struct ClientArgs {
    /// Server endpoint.
    #[arg(long, global = true, env = "SLUICE_ENDPOINT", default_value = "http://127.0.0.1:7878")]
    pub endpoint: String,
    /// Data directory whose `credentials` file holds the access key (unless
    /// SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY are set).
    #[arg(long, global = true, env = "SLUICE_DATA_DIR", default_value = "sluice-data")]
    pub data_dir: PathBuf,
    /// Region to sign requests for.
    #[arg(long, global = true, env = "SLUICE_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// `sluice profile ...`.
#[derive(Subcommand)]
pub enum ProfileAction {
    /// Create a profile from a CreateConnectorProfile request (JSON file, `-` for stdin).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// List profiles.
    List {
        /// Only this connector type (e.g. Salesforce).
        #[arg(long = "type")]
        connector_type: Option<String>,
    },
    /// Show one profile (credentials are never shown).
    Describe { name: String },
    /// Delete a profile.
    Delete {
        name: String,
        /// Delete even if flows use it.
        #[arg(long)]
        force: bool,
    },
}

/// `sluice flow ...`.
#[derive(Subcommand)]
pub enum FlowAction {
    /// Create a flow from a CreateFlow request (JSON file, `-` for stdin).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// List flows.
    List,
    /// Show a flow's full definition.
    Describe { name: String },
    /// Delete a flow.
    Delete {
        name: String,
        /// Delete even while a run is in progress.
        #[arg(long)]
        force: bool,
    },
    /// Activate a scheduled/event flow, or start a run of an on-demand flow.
    Start { name: String },
    /// Deactivate a scheduled/event flow.
    Stop { name: String },
    /// Show a flow's runs, most recent first.
    Runs { name: String },
    /// Show what a run would deliver for the first records, writing nothing.
    Preview {
        name: String,
        /// How many source records to read (1 to 2000).
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Run a scheduled flow once over a past window (RFC 3339 times) without
    /// moving its incremental position, and follow the run to its end.
    Backfill {
        name: String,
        /// Start of the window (inclusive), e.g. 2026-11-01T00:00:00Z.
        #[arg(long)]
        from: String,
        /// End of the window (exclusive).
        #[arg(long)]
        to: String,
        /// Give up waiting after this many seconds (the run goes on).
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
    /// Start a run of an on-demand flow and follow it to the end with a
    /// progress bar; exits non-zero unless the run succeeds.
    Run {
        name: String,
        /// Give up waiting after this many seconds (the run goes on).
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
}

/// A signed client for the server `target` names.
pub fn client(target: &ClientArgs) -> Result<ApiClient> {
    let key = match (std::env::var(datadir::ACCESS_KEY_ENV), std::env::var(datadir::SECRET_KEY_ENV)) {
        (Ok(id), Ok(secret)) => {
            sluice_api::AccessKey { access_key_id: id, secret_access_key: sluice_model::wire::SecretString::new(secret) }
        }
        _ => datadir::read_credentials_file(&target.data_dir.join(datadir::CREDENTIALS_FILE), "default").context(
            "no credentials: set SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY, or point --data-dir at the server's data directory",
        )?,
    };
    ApiClient::new(&target.endpoint, &target.region, key)
}

/// Reads a request file and checks it against the model, strictly (unknown
/// fields are errors here, since they would be silently ignored remotely).
pub fn read_request(path: &Path, operation: &str) -> Result<Value> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let value: Value = serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let problems = service_model().validate_input(operation, &value, UnknownMembers::Reject);
    if !problems.is_empty() {
        bail!("{} is not a valid {operation} request: {problems}", path.display());
    }
    Ok(value)
}

pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Calls a paginated operation until the last page, collecting `field`.
async fn collect_pages(api: &ApiClient, path: &str, mut body: Value, field: &str) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    loop {
        let page = api.call(path, &body).await?;
        items.extend(page.get(field).and_then(Value::as_array).cloned().unwrap_or_default());
        match page.get("nextToken").and_then(Value::as_str) {
            Some(token) => body["nextToken"] = json!(token),
            None => return Ok(items),
        }
    }
}

/// Starts a run and shows its records and bytes until it ends; returns the
/// final execution record (an error unless the run succeeded).
pub async fn follow_run(api: &ApiClient, name: &str, timeout: Duration) -> Result<Value> {
    let started = api.call("/start-flow", &json!({"flowName": name})).await?;
    let execution_id = started
        .get("executionId")
        .and_then(Value::as_str)
        .context("the flow did not start a run (only on-demand flows run now; scheduled ones are activated)")?
        .to_string();
    follow_execution(api, name, &execution_id, timeout).await
}

/// Shows a run's records and bytes until it ends; returns the final
/// execution record (an error unless the run succeeded).
pub async fn follow_execution(api: &ApiClient, name: &str, execution_id: &str, timeout: Duration) -> Result<Value> {
    let execution_id = execution_id.to_string();
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let deadline = std::time::Instant::now() + timeout;
    let record = loop {
        let runs = api.call("/describe-flow-execution-records", &json!({"flowName": name, "maxResults": 20})).await?;
        let record = runs
            .get("flowExecutions")
            .and_then(Value::as_array)
            .and_then(|runs| {
                runs.iter().find(|r| r.get("executionId").and_then(Value::as_str) == Some(execution_id.as_str()))
            })
            .cloned()
            .unwrap_or(Value::Null);
        bar.set_message(format!("{execution_id}: {}", run_counters(&record)));
        let status = text(&record, "executionStatus");
        if !matches!(status.as_str(), "InProgress" | "CancelStarted" | "-") {
            break record;
        }
        if std::time::Instant::now() > deadline {
            bar.abandon_with_message(format!("{execution_id}: still {status}; stopped waiting (the run goes on)"));
            bail!("timed out waiting for run {execution_id}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let status = text(&record, "executionStatus");
    bar.finish_and_clear();
    // A plain last line, also when stderr is no terminal (no bar is drawn then).
    println!("{execution_id}: {status}, {}", run_counters(&record));
    if status != "Successful" {
        let message =
            record.pointer("/executionResult/errorInfo/executionMessage").and_then(Value::as_str).unwrap_or("");
        bail!("run {execution_id} ended {status}: {message}");
    }
    Ok(record)
}

/// "N records, X read, Y written" of an execution record.
fn run_counters(record: &Value) -> String {
    let result = record.get("executionResult").cloned().unwrap_or(Value::Null);
    let count = |key: &str| result.get(key).and_then(Value::as_i64).unwrap_or(0);
    let mut counters = format!(
        "{} records, {} read, {} written",
        count("recordsProcessed"),
        indicatif::HumanBytes(count("bytesProcessed") as u64),
        indicatif::HumanBytes(count("bytesWritten") as u64)
    );
    match count("retriedCalls") {
        0 => {}
        1 => counters.push_str(", 1 call retried"),
        n => counters.push_str(&format!(", {n} calls retried")),
    }
    counters
}

pub fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or("-").to_string()
}

/// Runs a `sluice profile` command.
pub async fn profile(target: ClientArgs, action: ProfileAction) -> Result<()> {
    let api = client(&target)?;
    match action {
        ProfileAction::Create { file } => {
            let request = read_request(&file, "CreateConnectorProfile")?;
            print_json(&api.call("/create-connector-profile", &request).await?);
        }
        ProfileAction::List { connector_type } => {
            let mut body = json!({});
            if let Some(t) = connector_type {
                body["connectorType"] = json!(t);
            }
            let profiles = collect_pages(&api, "/describe-connector-profiles", body, "connectorProfileDetails").await?;
            println!("{:<32} {:<12} {:<8}", "NAME", "TYPE", "MODE");
            for p in &profiles {
                println!(
                    "{:<32} {:<12} {:<8}",
                    text(p, "connectorProfileName"),
                    text(p, "connectorType"),
                    text(p, "connectionMode")
                );
            }
        }
        ProfileAction::Describe { name } => {
            let page = api.call("/describe-connector-profiles", &json!({"connectorProfileNames": [name]})).await?;
            match page.get("connectorProfileDetails").and_then(Value::as_array).and_then(|d| d.first()) {
                Some(profile) => print_json(profile),
                None => bail!("connector profile '{name}' does not exist"),
            }
        }
        ProfileAction::Delete { name, force } => {
            api.call("/delete-connector-profile", &json!({"connectorProfileName": name, "forceDelete": force})).await?;
            println!("deleted connector profile {name}");
        }
    }
    Ok(())
}

/// Runs a `sluice flow` command.
pub async fn flow(target: ClientArgs, action: FlowAction) -> Result<()> {
    let api = client(&target)?;
    match action {
        FlowAction::Create { file } => {
            let request = read_request(&file, "CreateFlow")?;
            print_json(&api.call("/create-flow", &request).await?);
        }
        FlowAction::List => {
            let flows = collect_pages(&api, "/list-flows", json!({}), "flows").await?;
            println!("{:<32} {:<10} {:<10} {:<12} {:<12}", "NAME", "STATUS", "TRIGGER", "SOURCE", "DESTINATION");
            for f in &flows {
                println!(
                    "{:<32} {:<10} {:<10} {:<12} {:<12}",
                    text(f, "flowName"),
                    text(f, "flowStatus"),
                    text(f, "triggerType"),
                    text(f, "sourceConnectorType"),
                    text(f, "destinationConnectorType")
                );
            }
        }
        FlowAction::Describe { name } => print_json(&api.call("/describe-flow", &json!({"flowName": name})).await?),
        FlowAction::Delete { name, force } => {
            api.call("/delete-flow", &json!({"flowName": name, "forceDelete": force})).await?;
            println!("deleted flow {name}");
        }
        FlowAction::Start { name } => print_json(&api.call("/start-flow", &json!({"flowName": name})).await?),
        FlowAction::Stop { name } => print_json(&api.call("/stop-flow", &json!({"flowName": name})).await?),
        FlowAction::Preview { name, limit } => {
            let preview = api.call("/preview-flow", &json!({"flowName": name, "limit": limit})).await?;
            for record in preview.get("records").and_then(Value::as_array).into_iter().flatten() {
                println!("{record}");
            }
            eprintln!(
                "{} record(s) after the flow's tasks",
                preview.get("recordCount").and_then(Value::as_u64).unwrap_or(0)
            );
        }
        FlowAction::Backfill { name, from, to, timeout } => {
            let seconds = |text: &str| -> Result<f64> {
                let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .with_context(|| format!("'{text}' is not an RFC 3339 time such as 2026-11-01T00:00:00Z"))?;
                Ok(t.unix_timestamp_nanos() as f64 / 1e9)
            };
            let body = json!({"flowName": name, "startTime": seconds(&from)?, "endTime": seconds(&to)?});
            let started = api.call("/backfill-flow", &body).await?;
            let execution_id = started.get("executionId").and_then(Value::as_str).unwrap_or_default().to_string();
            follow_execution(&api, &name, &execution_id, Duration::from_secs(timeout)).await?;
        }
        FlowAction::Run { name, timeout } => {
            follow_run(&api, &name, Duration::from_secs(timeout)).await?;
        }
        FlowAction::Runs { name } => {
            let runs =
                collect_pages(&api, "/describe-flow-execution-records", json!({"flowName": name}), "flowExecutions")
                    .await?;
            println!("{:<38} {:<14} {:<10} MESSAGE", "EXECUTION", "STATUS", "RECORDS");
            for run in &runs {
                let result = run.get("executionResult").cloned().unwrap_or(Value::Null);
                let records = result.get("recordsProcessed").map(|v| v.to_string()).unwrap_or_else(|| "-".into());
                let message = result.pointer("/errorInfo/executionMessage").and_then(Value::as_str).unwrap_or("");
                println!(
                    "{:<38} {:<14} {:<10} {message}",
                    text(run, "executionId"),
                    text(run, "executionStatus"),
                    records
                );
            }
        }
    }
    Ok(())
}
