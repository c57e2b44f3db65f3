//! Secrets Manager: secrets of an account with staged versions
//! (AWSCURRENT, AWSPREVIOUS, AWSPENDING and the caller's own labels),
//! scheduled deletion with a recovery window, tags. Every value is sealed
//! by the vault with the secret's ARN and version as its context before it
//! reaches the store, and is never logged.
//!
//! - [`SecretService`]: the operations (`service.rs`), over the store's
//!   `SecretStore` (one document per secret, optimistic revisions).
//! - [`document`]: a secret's document and its version rules.
//! - [`SecretsError`]: the one error type.

pub mod document;
pub mod error;
pub mod service;

pub use error::{SecretsError, SecretsResult};
pub use service::SecretService;
