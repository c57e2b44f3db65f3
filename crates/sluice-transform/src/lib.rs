//! AppFlow's per-field tasks over Arrow record batches, and the file
//! formats flows read and write.
//!
//! - [`TaskPlan::compile`] checks a flow's `tasks` against the schema of its
//!   source records, collecting every problem ([`TransformError::InvalidTasks`]),
//!   and [`check_tasks`] runs the checks that need no schema.
//! - [`TaskPlan::apply`] runs the plan over one [`arrow_array::RecordBatch`]:
//!   row filters, validations, masks and truncation, then the output fields
//!   (projection, Map with type conversion, Map_all, Merge, Arithmetic,
//!   Passthrough), with counters of what was filtered and dropped.
//! - [`codec`] writes batches as CSV, JSON lines or Parquet and reads CSV,
//!   JSON lines (and Parquet) back, a batch at a time.
//!
//! No I/O happens here beyond the readers and writers handed in.
//!
//! ```
//! use std::sync::Arc;
//!
//! use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//! use sluice_model::appflow::Task;
//! use sluice_transform::codec::{OutputFormat, RecordWriter};
//! use sluice_transform::TaskPlan;
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("Id", DataType::Utf8, false),
//!     Field::new("Employees", DataType::Int64, true),
//! ]));
//! let tasks: Vec<Task> = serde_json::from_str(
//!     r#"[
//!         {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
//!         {"taskType": "Filter", "sourceFields": ["Employees"],
//!          "connectorOperator": {"Salesforce": "GREATER_THAN"}, "taskProperties": {"VALUE": "10"}}
//!     ]"#,
//! )?;
//! let plan = TaskPlan::compile(&tasks, &schema)?;
//! let batch = RecordBatch::try_new(
//!     schema,
//!     vec![Arc::new(StringArray::from(vec!["001A", "001B"])) as ArrayRef, Arc::new(Int64Array::from(vec![5, 50]))],
//! )?;
//! let output = plan.apply(batch)?;
//! assert_eq!((output.rows_in, output.rows_filtered), (2, 1));
//!
//! let mut writer = RecordWriter::new(OutputFormat::Csv, plan.output_schema(), Vec::new())?;
//! writer.write(&output.batch)?;
//! let file = writer.finish()?;
//! assert_eq!(String::from_utf8(file.sink)?, "Id\n001B\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The `parquet` cargo feature (on by default) brings the Parquet writer and
//! reader; without it, [`codec::OutputFormat::Parquet`] is refused with
//! [`TransformError::FormatNotBuilt`].

#![warn(missing_docs)]

mod apply;
pub mod codec;
pub mod data_type;
mod error;
mod plan;
mod spec;
#[cfg(test)]
mod test_support;

pub use apply::{TaskOutput, ValidationDrop};
pub use error::TransformError;
pub use plan::{check_tasks, TaskPlan};
pub use spec::ValidationAction;
