//! A bucket as a flow's destination: the run's records as CSV, JSON lines
//! or Parquet files in AppFlow's key layout. A file is closed once it
//! reaches the target size and the next one started (each with its own CSV
//! header or Parquet footer); every file stays an unfinished upload until
//! the run commits, so a failed run publishes none of them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use sluice_transform::codec::{OutputFormat, RecordWriter};

use super::buckets::{Buckets, ObjectStore, PendingObject};
use super::layout::OutputLayout;
use super::S3DestinationConfig;
use crate::plane::{DataSink, RefusedRecord, RunScope};
use crate::ConnectorError;

/// The output files of one run.
pub struct S3Sink {
    bucket: Arc<dyn ObjectStore>,
    layout: OutputLayout,
    format: OutputFormat,
    schema: SchemaRef,
    target_bytes: Option<u64>,
    buffer: SharedBuffer,
    writer: Option<RecordWriter<SharedBuffer>>,
    current: Option<PendingObject>,
    closed: Vec<PendingObject>,
    bytes_written: u64,
    execution_id: String,
}

fn encoding(error: sluice_transform::TransformError) -> ConnectorError {
    ConnectorError::Invalid(format!("cannot encode the output: {error}"))
}

impl S3Sink {
    /// Opens the outputs of a run. An attempt after a takeover first
    /// removes the unfinished uploads the dead attempt left in the run's
    /// folder.
    pub fn open(
        buckets: &Buckets,
        config: S3DestinationConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Self, ConnectorError> {
        let layout = OutputLayout {
            bucket_prefix: config.bucket_prefix.clone(),
            flow_name: scope.flow_name.clone(),
            execution_id: scope.execution_id.clone(),
            prefix_config: config.prefix_config.clone(),
            started_at: scope.started_at,
        };
        let bucket = buckets.bucket(&config.bucket)?;
        if scope.attempt > 1 && layout.folder().contains(&scope.execution_id) {
            let folder = layout.folder();
            match buckets.sweep_unfinished(&config.bucket, &folder) {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(execution_id = %scope.execution_id, removed, "unfinished uploads of an earlier attempt removed")
                }
                Err(e) => {
                    tracing::warn!(execution_id = %scope.execution_id, error = %e, "cannot remove unfinished uploads")
                }
            }
        }
        Ok(Self {
            bucket,
            layout,
            format: config.format,
            schema,
            target_bytes: config.target_file_bytes,
            buffer: SharedBuffer::default(),
            writer: None,
            current: None,
            closed: Vec::new(),
            bytes_written: 0,
            execution_id: scope.execution_id.clone(),
        })
    }

    async fn write_batch(&mut self, batch: &RecordBatch) -> Result<(), ConnectorError> {
        if self.writer.is_none() {
            let key = self.layout.object_key(self.closed.len(), self.format.extension());
            self.current = Some(PendingObject::start(&self.bucket, &key).await?);
            self.writer =
                Some(RecordWriter::new(self.format, self.schema.clone(), self.buffer.clone()).map_err(encoding)?);
        }
        if let (Some(writer), Some(current)) = (self.writer.as_mut(), self.current.as_mut()) {
            writer.write(batch).map_err(encoding)?;
            current.write(&self.buffer.take()).await?;
            if self.target_bytes.is_some_and(|target| current.bytes_written() >= target) {
                self.close_current().await?;
            }
        }
        Ok(())
    }

    /// Ends the current file (it stays unpublished).
    async fn close_current(&mut self) -> Result<(), ConnectorError> {
        if let (Some(writer), Some(mut current)) = (self.writer.take(), self.current.take()) {
            writer.finish().map_err(encoding)?;
            current.write(&self.buffer.take()).await?;
            self.bytes_written += current.bytes_written();
            self.closed.push(current);
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl DataSink for S3Sink {
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError> {
        self.write_batch(&batch).await?;
        Ok(Vec::new())
    }

    /// Closes the last file. A run without any record still gets one file
    /// (a CSV header, an empty Parquet file).
    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        if self.closed.is_empty() && self.writer.is_none() {
            let empty = RecordBatch::new_empty(self.schema.clone());
            self.write_batch(&empty).await?;
        }
        self.close_current().await?;
        Ok(Vec::new())
    }

    async fn commit(mut self: Box<Self>) -> Result<(), ConnectorError> {
        self.close_current().await?;
        for file in self.closed.drain(..) {
            file.finish().await?;
        }
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        let files: Vec<PendingObject> = self.closed.drain(..).chain(self.current.take()).collect();
        for file in files {
            if let Err(e) = file.abort().await {
                tracing::warn!(execution_id = %self.execution_id, error = %e, "cannot discard a partial output");
            }
        }
    }

    fn bytes_written(&self) -> u64 {
        self.bytes_written + self.current.as_ref().map(PendingObject::bytes_written).unwrap_or(0)
    }
}

/// A `Write` sink whose bytes the sink drains into the output object after
/// each batch, so the whole output never sits in memory.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
