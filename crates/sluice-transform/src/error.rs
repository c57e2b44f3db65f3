//! The one error type of the crate.

use arrow_schema::ArrowError;
use sluice_model::ValidationProblems;

/// Everything that can go wrong while compiling tasks, applying them to a
/// batch, or encoding and decoding records.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    /// The tasks of a flow are invalid; every problem found is listed, each
    /// prefixed with the task's path (`tasks.N.member`).
    #[error("{0}")]
    InvalidTasks(ValidationProblems),
    /// A field the compiled plan reads is not in the batch given to it.
    #[error("field '{field}' is not in the record batch")]
    MissingField {
        /// Name of the missing source field.
        field: String,
    },
    /// A Validate task with `VALIDATION_ACTION` = `TerminateFlow` found a
    /// record that fails its check. Values are not echoed: they may be
    /// sensitive.
    #[error(
        "validation {check} failed on field '{field}' at row {row} of the batch (task {task}); the flow is terminated"
    )]
    ValidationFailed {
        /// One-based position of the Validate task in the flow's task list.
        task: usize,
        /// The validated source field.
        field: String,
        /// The operator that failed, as on the wire (`VALIDATE_NON_NULL`...).
        check: &'static str,
        /// Zero-based row within the batch given to `apply`.
        row: usize,
    },
    /// A value could not be converted to the data type a task asks for.
    #[error("value of field '{field}' at row {row} of the batch cannot be converted to {target}")]
    Conversion {
        /// The source field whose value did not convert.
        field: String,
        /// Zero-based row within the batch given to `apply`.
        row: usize,
        /// The target type, in AppFlow or Arrow wording.
        target: String,
    },
    /// Input bytes are not valid for the format being decoded.
    #[error("invalid {format} input: {reason}")]
    InvalidInput {
        /// `csv`, `json lines` or `parquet`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A batch does not have the schema the writer was opened with.
    #[error("record batch schema does not match the output schema: {0}")]
    SchemaMismatch(String),
    /// The format needs a cargo feature this build does not have.
    #[error("this build of sluice-transform has no {0} support (cargo feature `{0}`)")]
    FormatNotBuilt(&'static str),
    /// An Arrow kernel failed.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// The Parquet encoder or decoder failed.
    #[cfg(feature = "parquet")]
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Reading or writing bytes failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl TransformError {
    /// The task problems when this is [`TransformError::InvalidTasks`].
    pub fn validation_problems(&self) -> Option<&ValidationProblems> {
        match self {
            TransformError::InvalidTasks(problems) => Some(problems),
            _ => None,
        }
    }
}

impl From<ValidationProblems> for TransformError {
    fn from(problems: ValidationProblems) -> Self {
        TransformError::InvalidTasks(problems)
    }
}
