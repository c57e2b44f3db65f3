//! `sluice serve`: the data directory, the store, the connectors, the API
//! and a worker, in one process; also started in-process by `sluice demo`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::datadir::{self, CredentialSource, DataDir};

/// Options of `sluice serve`.
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Data directory: SQLite file, objects, master key, credentials, account id.
    #[arg(long, env = "SLUICE_DATA_DIR", default_value = "sluice-data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Region that requests are signed for and ARNs carry.
    #[arg(long, env = "SLUICE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Metadata store URL; default is SQLite in the data directory.
    /// Use postgres://... to share one store between several servers.
    #[arg(long, env = "SLUICE_STORE_URL")]
    pub store: Option<String>,
    /// Consumer key of the Salesforce connected app that refreshes the
    /// profiles' access tokens (its secret, if the app needs one for
    /// refreshes, comes from SLUICE_SALESFORCE_CLIENT_SECRET).
    #[arg(long, env = "SLUICE_SALESFORCE_CLIENT_ID")]
    pub salesforce_client_id: Option<String>,
    /// S3 or S3-compatible endpoint that holds every bucket of the S3
    /// connector (default: folders under DATA_DIR/objects). Credentials come
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN).
    #[arg(long, env = "SLUICE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region the S3 endpoint's requests are signed for.
    #[arg(long, env = "SLUICE_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Seconds before now at which an incremental pull's window ends, so
    /// records whose timestamps are written a little late are read by the
    /// next run.
    #[arg(long, env = "SLUICE_SETTLE_LAG", default_value_t = sluice_engine::DEFAULT_SETTLE_LAG.as_secs())]
    pub settle_lag: u64,
    /// Let user-supplied URLs (API destinations, connector profiles'
    /// instance URLs and database hosts) reach loopback, private and
    /// link-local addresses. For local simulators and tests only: it lets
    /// anyone who can create a profile or an API destination make this
    /// server call its own machine's and network's services.
    #[arg(long, env = "SLUICE_ALLOW_PRIVATE_ENDPOINTS")]
    pub allow_private_endpoints: bool,
    /// Seconds between two sweeps of the tables' expired items (time to
    /// live) and stream records past their 24-hour retention.
    #[arg(long, env = "SLUICE_TABLE_SWEEP_SECS", default_value_t = 30)]
    pub table_sweep_secs: u64,
}

/// Where the S3 connector's buckets are: the endpoint given, or folders
/// under the data directory.
#[cfg(feature = "s3")]
fn buckets(args: &ServeArgs, data: &DataDir) -> Result<sluice_connectors::s3::Buckets> {
    let Some(endpoint) = &args.s3_endpoint else {
        return Ok(sluice_connectors::s3::Buckets::local(data.root.join("objects")));
    };
    remote_buckets(endpoint, &args.s3_region)
}

#[cfg(all(feature = "s3", not(feature = "s3-remote")))]
fn remote_buckets(_endpoint: &str, _region: &str) -> Result<sluice_connectors::s3::Buckets> {
    bail!("this build has no S3 endpoint support (cargo feature s3-remote)")
}

#[cfg(feature = "s3-remote")]
fn remote_buckets(endpoint: &str, region: &str) -> Result<sluice_connectors::s3::Buckets> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(access_key_id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) else {
        bail!("--s3-endpoint needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    };
    Ok(sluice_connectors::s3::Buckets::remote(sluice_connectors::s3::S3Endpoint {
        endpoint: endpoint.to_string(),
        region: region.to_string(),
        access_key_id,
        secret_access_key: sluice_model::wire::SecretString::new(secret),
        session_token: env("AWS_SESSION_TOKEN").map(sluice_model::wire::SecretString::new),
    }))
}

/// Env var holding the Salesforce connected app's consumer secret.
#[cfg(feature = "salesforce")]
const SALESFORCE_CLIENT_SECRET_ENV: &str = "SLUICE_SALESFORCE_CLIENT_SECRET";

/// How often the scheduler looks for due occurrences.
const SCHEDULER_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// A server running in this process (API and worker).
#[cfg_attr(not(all(feature = "sim", feature = "salesforce", feature = "s3")), allow(dead_code))]
pub struct RunningServer {
    /// Where the API listens.
    pub address: SocketAddr,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The root access key.
    pub key: sluice_api::AccessKey,
    /// The region requests are signed for.
    pub region: String,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningServer {
    /// Stops the API and the worker (a running run is given back to the
    /// queue) and waits for them.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("the server task failed")?
    }
}

/// `sluice serve`: runs until SIGTERM or Ctrl-C.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let server = start(args, connector_overrides()).await?;
    println!("listening on http://{}", server.address);
    crate::shutdown_signal().await;
    server.stop().await?;
    tracing::info!("sluice stopped");
    Ok(())
}

/// What a caller of [`start`] may set beyond the command-line options.
#[derive(Default)]
pub struct ConnectorOverrides {
    /// The Salesforce connected app (instead of --salesforce-client-id).
    #[cfg(feature = "salesforce")]
    pub salesforce_app: Option<sluice_connectors::salesforce::client::ClientApp>,
}

/// The connectors' server-wide settings from the options (and `overrides`),
/// for the connectors this build has.
fn connector_settings(
    args: &ServeArgs,
    data: &DataDir,
    overrides: ConnectorOverrides,
) -> Result<sluice_connectors::ConnectorSettings> {
    let _ = (args, data, &overrides);
    #[allow(unused_mut)]
    let mut settings = sluice_connectors::ConnectorSettings {
        outbound: sluice_net::OutboundGuard::new(args.allow_private_endpoints),
        ..sluice_connectors::ConnectorSettings::default()
    };
    #[cfg(feature = "salesforce")]
    {
        settings.salesforce_app = overrides.salesforce_app.or_else(|| {
            args.salesforce_client_id.clone().map(|client_id| sluice_connectors::salesforce::client::ClientApp {
                client_id,
                client_secret: std::env::var(SALESFORCE_CLIENT_SECRET_ENV)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(sluice_model::wire::SecretString::new),
            })
        });
        if settings.salesforce_app.is_none() {
            tracing::info!(
                "no Salesforce connected app configured (--salesforce-client-id): expired access tokens cannot be refreshed"
            );
        }
    }
    #[cfg(feature = "s3")]
    {
        let buckets = buckets(args, data)?;
        tracing::info!(buckets = %buckets.describe(), "S3 connector buckets");
        settings.buckets = Some(buckets);
    }
    Ok(settings)
}

fn connector_overrides() -> ConnectorOverrides {
    ConnectorOverrides::default()
}

/// Prepares the data directory, opens the store and starts the API and a
/// worker in this process.
pub async fn start(args: ServeArgs, overrides: ConnectorOverrides) -> Result<RunningServer> {
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
    let guard = sluice_net::OutboundGuard::new(args.allow_private_endpoints);
    if guard.allows_private() {
        tracing::warn!("--allow-private-endpoints: API destinations and connector profiles may call loopback and private addresses");
    }
    let bus = sluice_bus::EventBusService::new(store.clone(), vault.clone(), &args.region, guard);
    bus.ensure_default_bus(&account_id).await.context("cannot create the default event bus")?;
    let adopted = store.adopt_unowned(&account_id).await.context("cannot give earlier flows to the account")?;
    if adopted > 0 {
        tracing::info!(%account_id, rows = adopted, "profiles, flows and runs from before accounts given to the data directory's account");
    }
    #[allow(unused_mut)]
    let mut connector_settings = connector_settings(&args, &data, overrides)?;
    #[cfg(feature = "eventbridge")]
    let partner_events: Arc<dyn sluice_connectors::eventbridge::PartnerEventBus> =
        Arc::new(sluice_service::appflow::partner_events::BusPartnerEvents::new(bus.clone()));
    #[cfg(feature = "eventbridge")]
    {
        connector_settings.partner_events = Some(partner_events.clone());
    }
    #[cfg(feature = "s3")]
    if let Some(buckets) = connector_settings.buckets.take() {
        // Each local bucket is one account's; those made before buckets had
        // owners are the data directory's account's.
        let owners = sluice_service::appflow::bucket_owners::StoreBucketOwners::new(store.clone());
        let adopted = owners.adopt(&buckets.local_bucket_names(), &account_id).await?;
        if adopted > 0 {
            tracing::info!(%account_id, buckets = adopted, "existing buckets given to the data directory's account");
        }
        connector_settings.buckets = Some(buckets.with_owners(Arc::new(owners)));
    }
    let registry = Arc::new(sluice_connectors::Registry::new(&connector_settings));
    let pipeline =
        Arc::new(sluice_engine::pipeline::PipelineRunner::new(store.clone(), vault.clone(), registry.clone()));
    let appflow = sluice_service::appflow::AppflowService::new(
        store.for_account(&account_id),
        vault.clone(),
        registry,
        &args.region,
        &account_id,
    )
    .with_pipeline(pipeline.clone());
    #[cfg(feature = "eventbridge")]
    let appflow = appflow.with_partner_events(partner_events);
    let identity = sluice_iam::IdentityService::new(store.clone(), vault.clone());
    identity
        .ensure_account(&account_id, datadir::FIRST_ACCOUNT_NAME, &key.access_key_id, key.secret_access_key.expose())
        .await
        .context("cannot register the data directory's account and root key")?;
    let tables = sluice_tables::TableService::new(store.clone(), &args.region);
    let pipes = sluice_pipes::PipeService::new(store.clone(), tables.clone(), bus.clone(), &args.region);
    let secrets = sluice_secrets::SecretService::new(store.clone(), vault.clone(), &args.region);
    let state = sluice_api::AppState::new(
        appflow.clone(),
        bus.clone(),
        identity.clone(),
        tables.clone(),
        pipes.clone(),
        secrets,
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, region = %args.region, account_id = %account_id, data_dir = %data.root.display(), "sluice listening");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let server_id = data.server_id()?;
    let run_events = sluice_service::appflow::run_events::RunEvents::new(bus.clone());
    let config = sluice_engine::WorkerConfig {
        settle_lag: std::time::Duration::from_secs(args.settle_lag),
        reports: sluice_engine::reports::Reports(Some(Arc::new(run_events))),
        ..sluice_engine::WorkerConfig::default()
    };
    let deliverer = sluice_bus::Deliverer::new(
        bus,
        Some(Arc::new(sluice_service::appflow::run_events::FlowTargets::new(appflow))),
        sluice_bus::DeliveryConfig { owner: format!("server-{server_id}"), ..sluice_bus::DeliveryConfig::default() },
    );
    let deliverer = tokio::spawn(deliverer.run_until(until_stopped()));
    let schedules = tokio::spawn(sluice_bus::schedules::run_schedules(state.bus().clone(), until_stopped()));
    let replays = tokio::spawn(sluice_bus::replays::run_replays(
        state.bus().clone(),
        format!("server-{server_id}"),
        until_stopped(),
    ));
    let scheduler = sluice_engine::scheduler::Scheduler::new(store.clone(), config.clock.clone());
    let scheduler = tokio::spawn(scheduler.run_until(SCHEDULER_TICK, until_stopped()));
    let listeners = sluice_engine::listener::Listeners::new(
        store.clone(),
        pipeline.clone(),
        sluice_engine::listener::ListenerConfig {
            owner: format!("server-{server_id}"),
            clock: config.clock.clone(),
            ..sluice_engine::listener::ListenerConfig::default()
        },
    );
    let listeners = tokio::spawn(listeners.run_until(until_stopped()));
    let sessions = tokio::spawn(sweep_expired_sessions(identity, until_stopped()));
    let pipe_runner = sluice_pipes::PipeRunner::new(pipes, format!("server-{server_id}"));
    let pipe_runner = tokio::spawn(pipe_runner.run_until(until_stopped()));
    let table_sweeps = tokio::spawn(sweep_tables(
        tables,
        std::time::Duration::from_secs(args.table_sweep_secs.max(1)),
        until_stopped(),
    ));
    let worker = sluice_engine::Worker::new(store, pipeline, config);
    let worker = tokio::spawn(worker.run_until(until_stopped()));
    let api = sluice_api::serve(listener, state, until_stopped());
    let task = tokio::spawn(async move {
        api.await.context("the API server failed")?;
        let _ = worker.await;
        let _ = scheduler.await;
        let _ = listeners.await;
        let _ = deliverer.await;
        let _ = schedules.await;
        let _ = replays.await;
        let _ = sessions.await;
        let _ = table_sweeps.await;
        let _ = pipe_runner.await;
        Ok(())
    });
    Ok(RunningServer { address, data_dir: data.root.clone(), key, region: args.region.clone(), stop, task })
}

/// Deletes the tables' expired items and trims their streams every `period`.
async fn sweep_tables(
    tables: sluice_tables::TableService,
    period: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    sluice_bus::schedules::run_every(period, shutdown, "sweeping expired table items", || async {
        let (removed, trimmed) = tables.housekeep().await?;
        if trimmed > 0 {
            tracing::debug!(trimmed, "table stream records past retention removed");
        }
        Ok::<_, sluice_tables::TablesError>(removed)
    })
    .await
}

/// Removes long-expired STS sessions' keys from the store once a minute (they
/// are refused from their expiry on; this only keeps the table small).
async fn sweep_expired_sessions(
    identity: sluice_iam::IdentityService,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let period = std::time::Duration::from_secs(60);
    sluice_bus::schedules::run_every(period, shutdown, "removing expired STS sessions", || async {
        let removed = identity.sweep_expired_sessions().await?;
        if removed > 0 {
            tracing::debug!(removed, "expired STS sessions removed");
        }
        Ok::<_, sluice_iam::IamError>(removed)
    })
    .await
}
