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
