//! The service layer: each service's rules, written once and shared by the
//! API handlers (which only translate wire <-> service), the CLI and the
//! web console.
//!
//! - [`appflow`]: connector profiles (validation, the connection check,
//!   credential sealing), flows (validation against the connector catalog
//!   and the task rules, the flow-status state machine), runs (StartFlow,
//!   cancellation, previews) and tags.
//! - [`ServiceError`]: the one error type, which each API renders in its
//!   protocol's shape.

pub mod appflow;
mod error;

pub use error::ServiceError;
