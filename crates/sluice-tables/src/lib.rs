//! Key-value tables with change streams, as DynamoDB and DynamoDB Streams
//! serve them: tables with hash (and range) keys and secondary indexes,
//! items with DynamoDB's type system and limits, the expression language
//! (conditions, updates, projections, key conditions), transactions, time
//! to live, and a stream of every change committed with the change itself.
//!
//! - [`TableService`]: the operations, over the store's
//!   [`TableStore`](sluice_store::tables::TableStore): table management
//!   (`table_ops`), single items (`items`), Query and Scan (`reads`),
//!   batches and transactions (`batch`), the Streams API (`streams`), time
//!   to live and stream retention (`expiry`).
//! - [`value`]: DynamoDB's values and items, checked as DynamoDB checks them.
//! - [`schema`]: a table's key schema and indexes, and its description.
//! - [`expression`]: the expression language, parsed once and evaluated
//!   against items.
//! - [`records`]: stream records in DynamoDB Streams' shape.
//! - [`TablesError`]: the one error type, one variant per DynamoDB error.

mod batch;
mod capacity;
pub mod error;
pub mod expiry;
pub mod expression;
mod items;
mod reads;
pub mod records;
pub mod schema;
mod service;
pub mod streams;
mod table_ops;
pub mod value;

pub use error::{CancellationReason, TablesError, TablesResult};
pub use service::TableService;
pub use value::{Item, Value};
