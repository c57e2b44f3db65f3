//! [`RecordWriter`]: one output file in CSV, JSON lines or Parquet.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::OutputFormat;
use crate::error::TransformError;

/// Tuning of a [`RecordWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// A Parquet row group is closed (and written to the sink) once it
    /// holds this many rows.
    pub parquet_max_row_group_rows: usize,
    /// ... or once its encoded size reaches this many bytes, which bounds
    /// the memory a Parquet writer holds.
    pub parquet_max_row_group_bytes: usize,
}

impl Default for WriterOptions {
    /// Row groups of at most 122,880 rows (DuckDB's size) or 32 MB: a
    /// writer's buffered row group stays small even for wide records, whose
    /// in-memory pages and dictionaries take several times their encoded size.
    fn default() -> Self {
        WriterOptions { parquet_max_row_group_rows: 122_880, parquet_max_row_group_bytes: 32 * 1024 * 1024 }
    }
}

/// A completed output file.
#[derive(Debug)]
pub struct FinishedOutput<W> {
    /// The sink the file was written to.
    pub sink: W,
    /// Every byte of the file.
    pub bytes_written: u64,
    /// Every record of the file.
    pub rows_written: u64,
}

/// Passes bytes to the sink and counts them.
struct CountingSink<W> {
    sink: W,
    bytes: Arc<AtomicU64>,
}

impl<W: Write> Write for CountingSink<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.sink.write(buf)?;
        self.bytes.fetch_add(written as u64, Ordering::Relaxed);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sink.flush()
    }
}

enum Encoder<W: Write + Send> {
    Csv(arrow_csv::Writer<CountingSink<W>>),
    JsonLines(arrow_json::LineDelimitedWriter<CountingSink<W>>),
    #[cfg(feature = "parquet")]
    Parquet(parquet::arrow::ArrowWriter<CountingSink<W>>),
}

/// Writes one output file: batches go in one at a time, the encoded bytes
/// go to the sink as the format allows (CSV and JSON lines after each
/// batch, Parquet per row group and the footer at [`RecordWriter::finish`]).
pub struct RecordWriter<W: Write + Send> {
    encoder: Encoder<W>,
    format: OutputFormat,
    schema: SchemaRef,
    bytes: Arc<AtomicU64>,
    rows_written: u64,
    batches_written: u64,
}

impl<W: Write + Send> std::fmt::Debug for RecordWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordWriter")
            .field("format", &self.format)
            .field("rows_written", &self.rows_written)
            .field("bytes_written", &self.bytes_written())
            .finish()
    }
}

impl<W: Write + Send> RecordWriter<W> {
    /// Opens a writer with the default [`WriterOptions`]. Every batch
    /// written must have `schema`.
    pub fn new(format: OutputFormat, schema: SchemaRef, sink: W) -> Result<Self, TransformError> {
        Self::with_options(format, schema, sink, WriterOptions::default())
    }

    /// Opens a writer with the given options.
    pub fn with_options(
        format: OutputFormat,
        schema: SchemaRef,
        sink: W,
        options: WriterOptions,
    ) -> Result<Self, TransformError> {
        let bytes = Arc::new(AtomicU64::new(0));
        let sink = CountingSink { sink, bytes: bytes.clone() };
        let encoder = match format {
            OutputFormat::Csv => Encoder::Csv(arrow_csv::WriterBuilder::new().with_header(true).build(sink)),
            OutputFormat::JsonLines => Encoder::JsonLines(arrow_json::LineDelimitedWriter::new(sink)),
            OutputFormat::Parquet => parquet_encoder(sink, &schema, options)?,
        };
        Ok(RecordWriter { encoder, format, schema, bytes, rows_written: 0, batches_written: 0 })
    }

    /// The format being written.
    pub fn format(&self) -> OutputFormat {
        self.format
    }

    /// Encodes one batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), TransformError> {
        if batch.schema().fields() != self.schema.fields() {
            return Err(TransformError::SchemaMismatch(format!(
                "expected fields [{}], found [{}]",
                field_list(&self.schema),
                field_list(&batch.schema())
            )));
        }
        match &mut self.encoder {
            Encoder::Csv(writer) => writer.write(batch)?,
            Encoder::JsonLines(writer) => writer.write(batch)?,
            #[cfg(feature = "parquet")]
            Encoder::Parquet(writer) => writer.write(batch)?,
        }
        self.rows_written += batch.num_rows() as u64;
        self.batches_written += 1;
        Ok(())
    }

    /// Bytes of the file produced so far. For CSV and JSON lines these
    /// have reached the sink after each write; for Parquet they count the
    /// closed row groups (the open one and the footer come later), some of
    /// which may still sit in the encoder's write buffer. The total is
    /// exact in [`FinishedOutput::bytes_written`].
    pub fn bytes_written(&self) -> u64 {
        let counted = self.bytes.load(Ordering::Relaxed);
        match &self.encoder {
            #[cfg(feature = "parquet")]
            Encoder::Parquet(writer) => counted.max(writer.bytes_written() as u64),
            _ => counted,
        }
    }

    /// Records written so far.
    pub fn rows_written(&self) -> u64 {
        self.rows_written
    }

    /// Completes the file (the CSV header when no batch was written, the
    /// Parquet footer), flushes and returns the sink with the final counts.
    pub fn finish(self) -> Result<FinishedOutput<W>, TransformError> {
        let counting_sink = match self.encoder {
            Encoder::Csv(mut writer) => {
                if self.batches_written == 0 {
                    writer.write(&RecordBatch::new_empty(self.schema.clone()))?;
                }
                writer.into_inner()
            }
            Encoder::JsonLines(mut writer) => {
                writer.finish()?;
                writer.into_inner()
            }
            #[cfg(feature = "parquet")]
            Encoder::Parquet(writer) => writer.into_inner()?,
        };
        let mut counting_sink = counting_sink;
        counting_sink.flush()?;
        Ok(FinishedOutput {
            bytes_written: counting_sink.bytes.load(Ordering::Relaxed),
            rows_written: self.rows_written,
            sink: counting_sink.sink,
        })
    }
}

/// The rows of a batch as JSON objects (null fields left out), as JSON
/// lines would carry them.
pub fn json_objects(batch: &RecordBatch) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, TransformError> {
    let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    let lines = writer.into_inner();
    lines
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice(line)
                .map_err(|e| TransformError::InvalidInput { format: "json lines", reason: e.to_string() })
        })
        .collect()
}

fn field_list(schema: &SchemaRef) -> String {
    schema
        .fields()
        .iter()
        .map(|field| format!("{}: {}", field.name(), field.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(feature = "parquet")]
fn parquet_encoder<W: Write + Send>(
    sink: CountingSink<W>,
    schema: &SchemaRef,
    options: WriterOptions,
) -> Result<Encoder<W>, TransformError> {
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(options.parquet_max_row_group_rows.max(1)))
        .set_max_row_group_bytes(Some(options.parquet_max_row_group_bytes.max(1)))
        .build();
    let writer = parquet::arrow::ArrowWriter::try_new(sink, schema.clone(), Some(properties))?;
    Ok(Encoder::Parquet(writer))
}

#[cfg(not(feature = "parquet"))]
fn parquet_encoder<W: Write + Send>(
    _sink: CountingSink<W>,
    _schema: &SchemaRef,
    _options: WriterOptions,
) -> Result<Encoder<W>, TransformError> {
    Err(TransformError::FormatNotBuilt("parquet"))
}
