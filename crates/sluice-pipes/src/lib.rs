//! EventBridge Pipes over Sluice's own sources and targets: a table's
//! stream delivered in batches to an SQS queue or an event bus, with
//! filters, a batching window, retries with backoff, bisection of failing
//! batches, a maximum record age and a dead-letter queue.
//!
//! - [`PipeService`]: the Pipes API's operations (`service.rs`) over the
//!   store's `PipeStore`, definitions checked in `definition.rs`.
//! - [`PipeRunner`]: one per server; leases pipes through the store, so
//!   several servers on one PostgreSQL share them, each moved by one.
//! - [`PipesError`]: the one error type.

pub mod definition;
pub mod error;
pub mod runner;
pub mod service;

pub use error::{PipesError, PipesResult};
pub use runner::PipeRunner;
pub use service::PipeService;
