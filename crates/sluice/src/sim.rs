//! `sluice sim ...`: run a simulator in the foreground.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Subcommand, ValueEnum};
use sluice_sim::marketo::{self, MarketoSim};
use sluice_sim::salesforce::state::{self, SimConfig};
use sluice_sim::salesforce::{org::Org, seed, SalesforceSim};
use sluice_sim::server::TlsFiles;

/// Which app to simulate.
#[derive(Subcommand)]
pub enum SimApp {
    /// A Salesforce org: OAuth, SOAP login, REST sObjects, SOQL query, collections, limits.
    Salesforce(SalesforceArgs),
    /// A Marketo instance: identity, leads, activities, bulk lead export, rate limits.
    Marketo(MarketoArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Seed {
    /// Standard objects only, plus the admin user.
    Empty,
    /// A realistic org: accounts, contacts, leads, opportunities, cases, holidays.
    Demo,
}

#[derive(clap::Args)]
pub struct SalesforceArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// PEM certificate for HTTPS (with --tls-key). Without both, plain HTTP.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Data to start with when no state file exists yet.
    #[arg(long, value_enum, default_value = "demo")]
    seed: Seed,
    /// Keep the org in this file: loaded at start, saved every few seconds and at exit.
    #[arg(long)]
    state: Option<PathBuf>,
    /// URL clients should use (instance_url); default: derived from --listen.
    #[arg(long)]
    public_url: Option<String>,
    /// Add this many generated Lead records at start (benchmarks).
    #[arg(long, default_value_t = 0)]
    generate_leads: usize,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 7200)]
    token_lifetime: u64,
    /// Issue a new refresh token on every refresh and revoke the old one.
    #[arg(long)]
    rotate_refresh_tokens: bool,
}

/// Options of `sluice sim marketo`.
#[derive(clap::Args)]
pub struct MarketoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8444")]
    listen: SocketAddr,
    /// PEM certificate for HTTPS (with --tls-key). Without both, plain HTTP.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Data to start with when no state file exists yet.
    #[arg(long, value_enum, default_value = "demo")]
    seed: MarketoSeed,
    /// Keep the leads and activities in this file: loaded at start, saved every few seconds and at exit.
    #[arg(long)]
    state: Option<PathBuf>,
    /// URL clients should use (shown at start); default: derived from --listen.
    #[arg(long)]
    public_url: Option<String>,
    /// Access token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
}

/// Data a Marketo simulator starts with when no state file exists yet.
#[derive(Clone, Copy, ValueEnum)]
pub enum MarketoSeed {
    /// No leads.
    Empty,
    /// 2,500 realistic leads created from January 2024 on, with their activity history.
    Demo,
}

/// Runs the chosen simulator until `shutdown`.
pub async fn run(app: SimApp, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
    match app {
        SimApp::Salesforce(args) => salesforce(args, shutdown).await,
        SimApp::Marketo(args) => marketo(args, shutdown).await,
    }
}

async fn salesforce(
    args: SalesforceArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let config = SimConfig {
        token_lifetime_secs: args.token_lifetime,
        rotate_refresh_tokens: args.rotate_refresh_tokens,
        ..SimConfig::default()
    };
    let seed = args.seed;
    let sim = SalesforceSim::load_or(
        args.state.clone(),
        move || match seed {
            Seed::Empty => Org::new(),
            Seed::Demo => seed::demo_org(),
        },
        config,
    )
    .context("cannot load the simulator state")?;
    if args.generate_leads > 0 {
        let mut state = sim.lock();
        seed::generate_leads(&mut state.org, args.generate_leads);
        state.dirty = true;
    }
    let (listener, tls, base) = bind(args.listen, args.tls_cert, args.tls_key, args.public_url)?;
    sim.set_base_url(base.clone());
    println!("salesforce simulator listening on {base}");
    println!(
        "  login: {} / {} (security token {}); connected app: {} / {}",
        state::DEMO_USERNAME,
        state::DEMO_PASSWORD,
        state::DEMO_SECURITY_TOKEN,
        state::DEMO_CLIENT_ID,
        state::DEMO_CLIENT_SECRET
    );
    sluice_sim::server::serve_with_autosave(sim, listener, tls, shutdown)
        .await
        .context("simulator stopped with an error")
}

async fn marketo(args: MarketoArgs, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<()> {
    let config = marketo::state::SimConfig { token_lifetime_secs: args.token_lifetime, ..Default::default() };
    let seed = args.seed;
    let sim = MarketoSim::load_or(
        args.state.clone(),
        move || match seed {
            MarketoSeed::Empty => marketo::db::LeadDatabase::new(),
            MarketoSeed::Demo => marketo::seed::demo_database(),
        },
        config,
    )
    .context("cannot load the simulator state")?;
    let (listener, tls, base) = bind(args.listen, args.tls_cert, args.tls_key, args.public_url)?;
    let leads = sim.lock().db.leads.len();
    println!("marketo simulator listening on {base} ({leads} leads)");
    println!(
        "  munchkin id: {}; client id: {}; client secret: {}",
        marketo::state::DEMO_MUNCHKIN_ID,
        marketo::state::DEMO_CLIENT_ID,
        marketo::state::DEMO_CLIENT_SECRET
    );
    println!("  identity: {base}/identity  REST: {base}/rest  bulk: {base}/bulk");
    sluice_sim::server::serve_with_autosave(sim, listener, tls, shutdown)
        .await
        .context("simulator stopped with an error")
}

/// Binds the listen address and works out TLS and the URL clients use.
fn bind(
    listen: SocketAddr,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    public_url: Option<String>,
) -> Result<(std::net::TcpListener, Option<TlsFiles>, String)> {
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => bail!("--tls-cert and --tls-key go together"),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = public_url.unwrap_or_else(|| format!("{scheme}://{address}"));
    Ok((listener, tls, base))
}
