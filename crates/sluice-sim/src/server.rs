//! Serving a simulator over HTTP or HTTPS (rustls with the ring provider).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;

/// A PEM certificate chain and private key for HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain (PEM).
    pub cert: PathBuf,
    /// Private key (PEM).
    pub key: PathBuf,
}

/// Serves `app` on an already bound listener until `shutdown` completes.
/// With `tls`, connections are HTTPS.
pub async fn serve(
    listener: std::net::TcpListener,
    app: Router,
    tls: Option<TlsFiles>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    match tls {
        None => {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
        Some(files) => {
            // Installing twice (several simulators in one process) is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key).await.map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot load TLS files {} / {}: {e}", files.cert.display(), files.key.display()),
                    )
                })?;
            let handle = axum_server::Handle::<SocketAddr>::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            axum_server::from_tcp_rustls(listener, config)?.handle(handle).serve(app.into_make_service()).await
        }
    }
}

/// A simulator that can be served and keeps its state in a file.
pub trait Simulator: Clone + Send + Sync + 'static {
    /// The HTTP application.
    fn router(&self) -> Router;
    /// Saves the state file if the state changed; returns whether it wrote.
    fn save_if_dirty(&self) -> std::io::Result<bool>;
}

impl Simulator for crate::salesforce::SalesforceSim {
    fn router(&self) -> Router {
        crate::salesforce::SalesforceSim::router(self)
    }
    fn save_if_dirty(&self) -> std::io::Result<bool> {
        crate::salesforce::SalesforceSim::save_if_dirty(self)
    }
}

impl Simulator for crate::marketo::MarketoSim {
    fn router(&self) -> Router {
        crate::marketo::MarketoSim::router(self)
    }
    fn save_if_dirty(&self) -> std::io::Result<bool> {
        crate::marketo::MarketoSim::save_if_dirty(self)
    }
}

/// How often a served simulator saves a changed state.
pub const AUTOSAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves `sim` until `shutdown`, saving its state every
/// [`AUTOSAVE_INTERVAL`] when it changed, and once more at exit.
pub async fn serve_with_autosave<S: Simulator>(
    sim: S,
    listener: std::net::TcpListener,
    tls: Option<TlsFiles>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let saver = sim.clone();
    let autosave = tokio::spawn(async move {
        loop {
            tokio::time::sleep(AUTOSAVE_INTERVAL).await;
            if let Err(e) = saver.save_if_dirty() {
                tracing::error!(error = %e, "cannot save the simulator state");
            }
        }
    });
    let served = serve(listener, sim.router(), tls, shutdown).await;
    autosave.abort();
    sim.save_if_dirty()?;
    served
}
