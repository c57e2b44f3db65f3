//! The `sluice` command: runs the server and drives it from a terminal.

mod client;
mod datadir;
#[cfg(feature = "sim")]
mod sim;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use sluice_model::appflow::service_model;
use sluice_model::shape_validator::UnknownMembers;

use crate::client::ApiClient;
use crate::datadir::{CredentialSource, DataDir};

#[derive(Parser)]
#[command(name = "sluice", version, about = "Self-hosted, AppFlow-compatible data integration")]
struct Cli {
    /// Log format on stderr: text (colours only on a terminal) or json (one
    /// object per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value = "text", env = "SLUICE_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (AppFlow REST-JSON on one port, SigV4-authenticated).
    Serve(ServeArgs),
    /// Manage connector profiles on a running server.
    Profile {
        #[command(flatten)]
        target: ClientArgs,
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Manage flows on a running server.
    Flow {
        #[command(flatten)]
        target: ClientArgs,
        #[command(subcommand)]
        action: FlowAction,
    },
    /// Run a local simulator of a SaaS app (for development, demos and tests).
    #[cfg(feature = "sim")]
    Sim {
        #[command(subcommand)]
        app: sim::SimApp,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Data directory: SQLite file, objects, master key, credentials, account id.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "sluice-data")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Region that requests are signed for and ARNs carry.
    #[arg(long, env = "SLUICE_REGION", default_value = "us-east-1")]
    region: String,
    /// Metadata store URL; default is SQLite in the data directory.
    /// Use postgres://... to share one store between several servers.
    #[arg(long, env = "SLUICE_STORE_URL")]
    store: Option<String>,
    /// Consumer key of the Salesforce connected app that refreshes the
    /// profiles' access tokens (its secret, if the app needs one for
    /// refreshes, comes from SLUICE_SALESFORCE_CLIENT_SECRET).
    #[arg(long, env = "SLUICE_SALESFORCE_CLIENT_ID")]
    salesforce_client_id: Option<String>,
    /// S3 or S3-compatible endpoint that holds every bucket of the S3
    /// connector (default: folders under DATA_DIR/objects). Credentials come
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
    #[arg(long, env = "SLUICE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// Region the S3 endpoint's requests are signed for.
    #[arg(long, env = "SLUICE_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
}

#[derive(clap::Args)]
struct ClientArgs {
    /// Server endpoint.
    #[arg(long, global = true, env = "SLUICE_ENDPOINT", default_value = "http://127.0.0.1:7878")]
    endpoint: String,
    /// Data directory whose `credentials` file holds the access key (unless
    /// SLUICE_ACCESS_KEY_ID and SLUICE_SECRET_ACCESS_KEY are set).
    #[arg(long, global = true, env = "SLUICE_DATA_DIR", default_value = "sluice-data")]
    data_dir: PathBuf,
    /// Region to sign requests for.
    #[arg(long, global = true, env = "SLUICE_REGION", default_value = "us-east-1")]
    region: String,
}

#[derive(Subcommand)]
enum ProfileAction {
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

#[derive(Subcommand)]
enum FlowAction {
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
    /// Start a run of an on-demand flow and follow it to the end with a
    /// progress bar; exits non-zero unless the run succeeds.
    Run {
        name: String,
        /// Give up waiting after this many seconds (the run goes on).
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging(cli.log_format);
            serve(args).await
        }
        Command::Profile { target, action } => profile(target, action).await,
        Command::Flow { target, action } => flow(target, action).await,
        #[cfg(feature = "sim")]
        Command::Sim { app } => {
            init_logging(cli.log_format);
            sim::run(app, shutdown_signal()).await
        }
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// Logs go to stderr, filtered by `SLUICE_LOG` (default `info`); text logs
/// are coloured only when stderr is a terminal.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Where the S3 connector's buckets are: the endpoint given, or folders
/// under the data directory.
fn buckets(args: &ServeArgs, data: &DataDir) -> Result<sluice_connectors::s3::Buckets> {
    let Some(endpoint) = &args.s3_endpoint else {
        return Ok(sluice_connectors::s3::Buckets::local(data.root.join("objects")));
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(access_key_id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
        bail!("--s3-endpoint needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    };
    Ok(sluice_connectors::s3::Buckets::remote(sluice_connectors::s3::S3Endpoint {
        endpoint: endpoint.clone(),
        region: args.s3_region.clone(),
        access_key_id,
        secret_access_key: sluice_model::wire::SecretString::new(secret),
        session_token: env("AWS_SESSION_TOKEN").map(sluice_model::wire::SecretString::new),
    }))
}

/// Env var holding the Salesforce connected app's consumer secret.
const SALESFORCE_CLIENT_SECRET_ENV: &str = "SLUICE_SALESFORCE_CLIENT_SECRET";

async fn serve(args: ServeArgs) -> Result<()> {
    let data = DataDir::open(&args.data_dir)?;
    let account_id = data.account_id()?;
    let (key, source) = data.root_credentials()?;
    match source {
        CredentialSource::Generated => println!(
            "generated root credentials (shown once; also in {}):\n  aws_access_key_id = {}\n  aws_secret_access_key = {}",
            data.root.join(datadir::CREDENTIALS_FILE).display(),
            key.access_key_id,
            key.secret_access_key.expose()
        ),
        CredentialSource::File => tracing::info!(access_key_id = %key.access_key_id, "root credentials loaded from the data directory"),
        CredentialSource::Environment => tracing::info!(access_key_id = %key.access_key_id, "root credentials taken from the environment"),
    }
    let vault = Arc::new(sluice_vault::Vault::open_default(&data.root).context("cannot load the master key")?);
    let store_url = args.store.clone().unwrap_or_else(|| data.sqlite_url());
    let store = sluice_store::open_store(&store_url).await.context("cannot open the metadata store")?;
    let buckets = buckets(&args, &data)?;
    tracing::info!(buckets = %buckets.describe(), "S3 connector buckets");
    let connector_settings = sluice_connectors::ConnectorSettings {
        salesforce_app: args.salesforce_client_id.clone().map(|client_id| {
            sluice_connectors::salesforce::client::ClientApp {
                client_id,
                client_secret: std::env::var(SALESFORCE_CLIENT_SECRET_ENV)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(sluice_model::wire::SecretString::new),
            }
        }),
        salesforce_bulk_job_records: None,
        buckets: Some(buckets),
    };
    if connector_settings.salesforce_app.is_none() {
        tracing::info!(
            "no Salesforce connected app configured (--salesforce-client-id): expired access tokens cannot be refreshed"
        );
    }
    let registry = Arc::new(sluice_connectors::Registry::new(&connector_settings));
    let pipeline =
        Arc::new(sluice_engine::pipeline::PipelineRunner::new(store.clone(), vault.clone(), registry.clone()));
    let appflow =
        sluice_service::appflow::AppflowService::new(store.clone(), vault.clone(), registry, &args.region, &account_id)
            .with_pipeline(pipeline.clone());
    let state = sluice_api::AppState::new(appflow, vec![key]);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, region = %args.region, account_id = %account_id, data_dir = %data.root.display(), "sluice listening");
    println!("listening on http://{address}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let worker = sluice_engine::Worker::new(store, pipeline, sluice_engine::WorkerConfig::default());
    let worker = tokio::spawn(worker.run_until(until_stopped()));
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    sluice_api::serve(listener, state, until_stopped()).await?;
    let _ = worker.await;
    tracing::info!("sluice stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested");
}

fn client(target: &ClientArgs) -> Result<ApiClient> {
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
fn read_request(path: &Path, operation: &str) -> Result<Value> {
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

fn print_json(value: &Value) {
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

/// Starts a run and shows its records and bytes until it ends.
async fn follow_run(api: &ApiClient, name: &str, timeout: Duration) -> Result<()> {
    let started = api.call("/start-flow", &json!({"flowName": name})).await?;
    let execution_id = started
        .get("executionId")
        .and_then(Value::as_str)
        .context("the flow did not start a run (only on-demand flows run now; scheduled ones are activated)")?
        .to_string();
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
    Ok(())
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

fn text(value: &Value, key: &str) -> String {
    value.get(key).and_then(Value::as_str).unwrap_or("-").to_string()
}

async fn profile(target: ClientArgs, action: ProfileAction) -> Result<()> {
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

async fn flow(target: ClientArgs, action: FlowAction) -> Result<()> {
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
        FlowAction::Run { name, timeout } => follow_run(&api, &name, Duration::from_secs(timeout)).await?,
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
