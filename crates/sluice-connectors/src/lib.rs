//! Connectors: one module per SaaS app or store, each behind a cargo
//! feature, and the data plane they share.
//!
//! - [`Connector`] is the typed interface (a connector's profile, source and
//!   destination settings are its own types, parsed without I/O);
//!   [`DynConnector`] erases those types so [`Registry`] can hold every
//!   connector of the build in one explicit list, from which the catalog
//!   (DescribeConnectors, flow validation) is built.
//! - [`plane`]: sources yield Arrow record batches, sinks take them, report
//!   refused records and commit or abort. The engine runs any pair the
//!   registry offers without knowing either side.
//! - [`events`]: subscriptions to an app's events, for event-triggered flows.
//! - [`retry`]: transient failures retried with backoff and jitter.

mod connector;
mod error;
pub mod events;
pub mod plane;
mod registry;
pub mod retry;

#[cfg(feature = "eventbridge")]
pub mod eventbridge;
#[cfg(feature = "marketo")]
pub mod marketo;
#[cfg(feature = "redshift")]
pub mod redshift;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "salesforce")]
pub mod salesforce;

pub use connector::{Connector, CredentialsKeeper, DynConnector, DynError, Entity, EntityField, ProfileInput};
pub use error::{ConnectorError, ErrorDomain};
pub use registry::{ConnectorSettings, Registry};
pub use sluice_net::OutboundGuard;

/// Makes rustls use the ring crypto provider in this process (once; later
/// calls do nothing). Every HTTPS client here (our own and object_store's)
/// takes the process-wide provider, and the build carries no other.
pub fn install_tls_provider() {
    #[cfg(any(feature = "salesforce", feature = "marketo", feature = "s3-remote"))]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            let _already_installed = rustls::crypto::ring::default_provider().install_default();
        });
    }
}
