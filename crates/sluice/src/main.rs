//! The `sluice` command: runs the server and drives it from a terminal.

mod accounts_cli;
mod client;
mod commands;
mod datadir;
#[cfg(all(feature = "sim", feature = "salesforce", feature = "s3"))]
mod demo;
mod events_cli;
mod serve;
#[cfg(feature = "sim")]
mod sim;

use clap::{Parser, Subcommand, ValueEnum};

/// The server makes many small, short-lived allocations per event and
/// request (JSON values, rows, HTTP headers); mimalloc serves them with
/// less contention and fragmentation than glibc's malloc (see
/// docs/benchmarks.md, "Event bus").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::commands::{ClientArgs, FlowAction, ProfileAction};
use crate::serve::ServeArgs;

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
    /// Run the API server (AppFlow, EventBridge and SQS on one port, SigV4-authenticated).
    Serve(ServeArgs),
    /// Manage the server's accounts (against its data directory and store).
    Account {
        #[command(flatten)]
        target: accounts_cli::AccountTarget,
        #[command(subcommand)]
        action: accounts_cli::AccountAction,
    },
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
    /// The event bus: put events, list rules and targets, dead-letter queues.
    Events {
        #[command(flatten)]
        target: ClientArgs,
        #[command(subcommand)]
        action: events_cli::EventsAction,
    },
    /// Run a local simulator of a SaaS app (for development, demos and tests).
    #[cfg(feature = "sim")]
    Sim {
        #[command(subcommand)]
        app: sim::SimApp,
    },
    /// First contact: a server, a simulated Salesforce org, a profile and two
    /// sample flows, run with a progress bar; then the lines to go on with.
    #[cfg(all(feature = "sim", feature = "salesforce", feature = "s3"))]
    Demo(demo::DemoArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            init_logging(cli.log_format, "info,sqlx=warn");
            serve::serve(args).await
        }
        Command::Account { target, action } => accounts_cli::account(target, action).await,
        Command::Profile { target, action } => commands::profile(target, action).await,
        Command::Flow { target, action } => commands::flow(target, action).await,
        Command::Events { target, action } => events_cli::events(target, action).await,
        #[cfg(feature = "sim")]
        Command::Sim { app } => {
            init_logging(cli.log_format, "info,sqlx=warn");
            sim::run(app, shutdown_signal()).await
        }
        #[cfg(all(feature = "sim", feature = "salesforce", feature = "s3"))]
        Command::Demo(args) => {
            // The demo talks to its user on stdout; the log shows only problems.
            init_logging(cli.log_format, "warn");
            demo::run(args).await
        }
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// Logs go to stderr, filtered by `SLUICE_LOG` (default `default_filter`);
/// text logs are coloured only when stderr is a terminal.
fn init_logging(format: LogFormat, default_filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SLUICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
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
