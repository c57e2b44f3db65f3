//! Encoding record batches into the file formats of object storage and
//! decoding them back, one batch at a time.
//!
//! - [`RecordWriter`] writes CSV (with a header row), JSON lines or Parquet
//!   to any [`std::io::Write`], one writer per output file, and counts the
//!   bytes it hands to the sink.
//! - [`RecordDecoder`] turns CSV or JSON-lines bytes, pushed in chunks of
//!   any size (as object storage streams them), into batches;
//!   [`RecordReader`] does the same over a [`std::io::BufRead`], and
//!   [`infer_schema`] guesses a schema from a sample.
//! - [`read_parquet`] (feature `parquet`) reads a Parquet object.

mod read;
mod write;

use sluice_model::appflow::{FileType, S3InputFileType};

pub use read::{infer_schema, RecordDecoder, RecordReader};
#[cfg(feature = "parquet")]
pub use read::{read_parquet, ParquetBatches};
pub use write::{json_objects, FinishedOutput, RecordWriter, WriterOptions};

/// Rows per decoded batch unless told otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// The formats Sluice writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line; null fields are left out.
    JsonLines,
    /// Apache Parquet, Snappy-compressed (needs the `parquet` feature).
    Parquet,
}

impl OutputFormat {
    /// The usual file name extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::JsonLines => "jsonl",
            OutputFormat::Parquet => "parquet",
        }
    }
}

impl From<FileType> for OutputFormat {
    /// AppFlow's `JSON` output is JSON lines.
    fn from(file_type: FileType) -> Self {
        match file_type {
            FileType::Csv => OutputFormat::Csv,
            FileType::Json => OutputFormat::JsonLines,
            FileType::Parquet => OutputFormat::Parquet,
        }
    }
}

/// The formats Sluice reads from object storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line (any whitespace between objects works).
    JsonLines,
}

impl InputFormat {
    fn name(&self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::JsonLines => "json lines",
        }
    }
}

impl From<S3InputFileType> for InputFormat {
    fn from(file_type: S3InputFileType) -> Self {
        match file_type {
            S3InputFileType::Csv => InputFormat::Csv,
            S3InputFileType::Json => InputFormat::JsonLines,
        }
    }
}

#[cfg(test)]
mod tests;
