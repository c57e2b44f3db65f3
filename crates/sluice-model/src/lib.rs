//! Wire and domain types for Sluice's AWS-compatible APIs, with validation
//! that collects every problem. No I/O happens in this crate.
//!
//! - [`shape_validator`] checks a JSON request against a botocore model
//!   (required members, types, enums, lengths, patterns, ranges).
//! - [`appflow`] holds the generated AppFlow wire types plus the semantic
//!   checks and the connector catalog that the model alone cannot express.
//! - [`events`] holds EventBridge's generated wire types, its event patterns
//!   and target input transformation; [`sqs`] SQS's wire types.
//! - [`schedule`] parses `rate(...)` and `cron(...)` schedule expressions and
//!   computes their fire times.

pub mod appflow;
pub mod arn;
pub mod dynamodb;
pub mod dynamodbstreams;
pub mod error;
pub mod events;
pub mod iam;
pub mod pipes;
pub mod query_protocol;
pub mod schedule;
pub mod secretsmanager;
pub mod shape_validator;
pub mod sqs;
pub mod sts;
pub mod wire;

pub use error::{ModelError, ValidationProblems};
