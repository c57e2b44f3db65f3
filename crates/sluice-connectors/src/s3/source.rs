//! Objects under a prefix as a flow's source, read in key order: CSV or
//! JSON lines (as `s3InputFileType` says) in chunks, and Parquet (objects
//! named `*.parquet`) by row group with range reads, so no object has to
//! fit in memory.
//!
//! The flow's schema comes from the first object (for text, inferred from
//! its first megabyte). Every object is decoded with its own schema and its
//! batches are matched to the flow's by field name: a field an object lacks
//! is null, one of another type is converted, and one that cannot be is an
//! error naming the object and field.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, RecordBatch};
use arrow_schema::{Schema, SchemaRef};
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use object_store::path::Path;
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStream};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use sluice_model::appflow::S3InputFileType;
use sluice_transform::codec::{infer_schema, InputFormat, RecordDecoder};

use super::buckets::{Buckets, ObjectChunks, ObjectInfo};
use super::S3SourceConfig;
use crate::plane::{BatchStream, DataSource, NoBatches, ReadRequest, RunScope, SourceBatch, SourceCapabilities};
use crate::ConnectorError;

/// Bytes of a text object sampled to infer its schema.
pub const SAMPLE_BYTES: usize = 1024 * 1024;
/// Records of the sample the inference looks at.
const SAMPLE_RECORDS: usize = 1000;
/// Rows per decoded batch.
pub const BATCH_ROWS: usize = 8192;

/// How one object is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectFormat {
    Text(InputFormat),
    Parquet,
}

fn object_format(key: &str, file_type: Option<S3InputFileType>) -> ObjectFormat {
    if key.to_ascii_lowercase().ends_with(".parquet") {
        return ObjectFormat::Parquet;
    }
    ObjectFormat::Text(match file_type {
        Some(S3InputFileType::Json) => InputFormat::JsonLines,
        _ => InputFormat::Csv,
    })
}

fn in_object(key: &str) -> impl Fn(String) -> ConnectorError + '_ {
    move |message| ConnectorError::Invalid(format!("{key}: {message}"))
}

/// The objects of a flow's source prefix.
pub struct S3Source {
    buckets: Buckets,
    config: S3SourceConfig,
    objects: Vec<ObjectInfo>,
    schema: Option<SchemaRef>,
    scope: RunScope,
}

impl S3Source {
    /// Lists the objects (folder markers and empty objects are skipped) and
    /// learns the schema from the first.
    pub async fn open(buckets: Buckets, config: S3SourceConfig, scope: &RunScope) -> Result<Self, ConnectorError> {
        let objects: Vec<ObjectInfo> = buckets
            .list(&config.bucket, config.prefix.as_deref())
            .await?
            .into_iter()
            .filter(|o| !o.key.ends_with('/') && o.size > 0)
            .collect();
        let schema = match objects.first() {
            Some(first) => Some(Arc::new(object_schema(&buckets, &config, first).await?)),
            None => None,
        };
        Ok(Self { buckets, config, objects, schema, scope: scope.clone() })
    }
}

/// The schema of one object.
async fn object_schema(
    buckets: &Buckets,
    config: &S3SourceConfig,
    object: &ObjectInfo,
) -> Result<Schema, ConnectorError> {
    let wrap = in_object(&object.key);
    match object_format(&object.key, config.file_type) {
        ObjectFormat::Parquet => {
            let builder = parquet_builder(buckets, &config.bucket, object).await?;
            Ok(builder.schema().as_ref().clone())
        }
        ObjectFormat::Text(format) => {
            let mut chunks = buckets.open(&config.bucket, &object.key).await?;
            let (sample, complete) = sample(&mut chunks).await?;
            infer_schema(format, &sample, SAMPLE_RECORDS, complete).map_err(|e| wrap(e.to_string()))
        }
    }
}

async fn parquet_builder(
    buckets: &Buckets,
    bucket: &str,
    object: &ObjectInfo,
) -> Result<ParquetRecordBatchStreamBuilder<ObjectRanges>, ConnectorError> {
    let reader =
        ObjectRanges { store: buckets.bucket(bucket)?, path: Path::from(object.key.as_str()), size: object.size };
    ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| in_object(&object.key)(format!("not a readable Parquet file: {e}")))
}

/// A Parquet object read by byte ranges (the footer first, then the row
/// groups' column chunks as they are needed).
struct ObjectRanges {
    store: Arc<dyn super::buckets::ObjectStore>,
    path: Path,
    size: u64,
}

fn parquet_error(error: object_store::Error) -> parquet::errors::ParquetError {
    parquet::errors::ParquetError::External(Box::new(error))
}

impl AsyncFileReader for ObjectRanges {
    fn get_bytes(&mut self, range: std::ops::Range<u64>) -> BoxFuture<'_, parquet::errors::Result<bytes::Bytes>> {
        async move { self.store.get_range(&self.path, range).await.map_err(parquet_error) }.boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<bytes::Bytes>>> {
        async move { self.store.get_ranges(&self.path, &ranges).await.map_err(parquet_error) }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata =
                ParquetMetaDataReader::new().with_arrow_reader_options(options).load_and_finish(self, size).await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// The first chunks of a text object, up to [`SAMPLE_BYTES`], and whether
/// they are the whole object.
async fn sample(chunks: &mut ObjectChunks) -> Result<(Vec<u8>, bool), ConnectorError> {
    let mut sample = Vec::new();
    while sample.len() < SAMPLE_BYTES {
        match chunks.next_chunk().await? {
            Some(chunk) => sample.extend_from_slice(&chunk),
            None => return Ok((sample, true)),
        }
    }
    Ok((sample, false))
}

#[async_trait::async_trait]
impl DataSource for S3Source {
    fn schema(&self) -> Option<SchemaRef> {
        self.schema.clone()
    }

    fn capabilities(&self) -> SourceCapabilities {
        SourceCapabilities {
            bounded: true,
            datetime_window: false,
            deleted_records: false,
            incremental_state: true,
            events: false,
        }
    }

    async fn read(&self, request: ReadRequest) -> Result<Box<dyn BatchStream>, ConnectorError> {
        let Some(schema) = &self.schema else {
            return Ok(Box::new(NoBatches));
        };
        let mut fields = Vec::new();
        for name in &request.fields {
            let field = schema.field_with_name(name).map_err(|_| {
                ConnectorError::Invalid(format!(
                    "{} has no field {name}; its fields are {}",
                    self.objects.first().map(|o| o.key.as_str()).unwrap_or("the first object"),
                    schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
                ))
            })?;
            fields.push(field.clone());
        }
        // Incremental reads skip the objects an earlier run read unchanged
        // (same key, same last-modified time).
        let already_read = read_objects(request.previous_state.as_ref());
        let objects: VecDeque<ObjectInfo> =
            self.objects.iter().filter(|o| already_read.get(&o.key) != Some(&o.last_modified_ms)).cloned().collect();
        let checkpoint = serde_json::json!({
            "objects": self.objects.iter().map(|o| (o.key.clone(), serde_json::json!(o.last_modified_ms))).collect::<serde_json::Map<_, _>>()
        });
        Ok(Box::new(ObjectRecords {
            buckets: self.buckets.clone(),
            config: self.config.clone(),
            objects,
            checkpoint,
            schema: Arc::new(Schema::new(fields)),
            current: None,
            ready: VecDeque::new(),
            bytes_pending: 0,
            remaining: request.limit,
            rows_in_object: 0,
            scope: self.scope.clone(),
        }))
    }
}

/// The object being read now.
enum CurrentObject {
    Text { key: String, chunks: ObjectChunks, decoder: RecordDecoder, ended: bool },
    Parquet { key: String, stream: ParquetRecordBatchStream<ObjectRanges> },
}

/// The records of every object, batch by batch.
struct ObjectRecords {
    buckets: Buckets,
    config: S3SourceConfig,
    objects: VecDeque<ObjectInfo>,
    /// The schema of the batches handed out (the fields asked for).
    schema: SchemaRef,
    current: Option<CurrentObject>,
    ready: VecDeque<RecordBatch>,
    /// Bytes read since the last batch handed out.
    bytes_pending: u64,
    /// Records still wanted, with a limit.
    remaining: Option<usize>,
    /// Records decoded from the current object so far.
    rows_in_object: usize,
    /// Every object listed, by key and last-modified time: what the next
    /// incremental read may skip once this run committed.
    checkpoint: serde_json::Value,
    scope: RunScope,
}

impl ObjectRecords {
    /// Opens the next object; false at the end.
    async fn open_next(&mut self) -> Result<bool, ConnectorError> {
        let Some(object) = self.objects.pop_front() else { return Ok(false) };
        let wrap = in_object(&object.key);
        self.rows_in_object = 0;
        self.current = Some(match object_format(&object.key, self.config.file_type) {
            ObjectFormat::Parquet => {
                let builder = parquet_builder(&self.buckets, &self.config.bucket, &object).await?;
                let file_schema = builder.schema().clone();
                let wanted: Vec<usize> =
                    self.schema.fields().iter().filter_map(|f| file_schema.index_of(f.name()).ok()).collect();
                let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
                let stream = builder
                    .with_projection(mask)
                    .with_batch_size(BATCH_ROWS)
                    .build()
                    .map_err(|e| wrap(format!("cannot read the Parquet file: {e}")))?;
                self.bytes_pending += object.size;
                CurrentObject::Parquet { key: object.key.clone(), stream }
            }
            ObjectFormat::Text(format) => {
                let mut chunks = self.buckets.open(&self.config.bucket, &object.key).await?;
                let (sample, complete) = sample(&mut chunks).await?;
                let object_schema =
                    Arc::new(infer_schema(format, &sample, SAMPLE_RECORDS, complete).map_err(|e| wrap(e.to_string()))?);
                let mut decoder =
                    RecordDecoder::new(format, object_schema, BATCH_ROWS).map_err(|e| wrap(e.to_string()))?;
                self.bytes_pending += sample.len() as u64;
                let batches = decoder.decode(&sample).map_err(|e| wrap(e.to_string()))?;
                self.accept(&object.key, batches)?;
                let mut current = CurrentObject::Text { key: object.key.clone(), chunks, decoder, ended: false };
                if complete {
                    self.end_text(&mut current)?;
                }
                current
            }
        });
        Ok(true)
    }

    /// Matches decoded batches to the flow's fields and queues them.
    fn accept(&mut self, key: &str, batches: Vec<RecordBatch>) -> Result<(), ConnectorError> {
        for batch in batches {
            let first_row = self.rows_in_object;
            self.rows_in_object += batch.num_rows();
            let batch = conform(&batch, &self.schema, first_row).map_err(in_object(key))?;
            if batch.num_rows() > 0 {
                self.ready.push_back(batch);
            }
        }
        Ok(())
    }

    fn end_text(&mut self, current: &mut CurrentObject) -> Result<(), ConnectorError> {
        if let CurrentObject::Text { key, decoder, ended, .. } = current {
            let key = key.clone();
            let batches = decoder.finish().map_err(|e| in_object(&key)(e.to_string()))?;
            *ended = true;
            self.accept(&key, batches)?;
        }
        Ok(())
    }

    /// Reads on in the current object; false when it is done.
    async fn advance(&mut self) -> Result<bool, ConnectorError> {
        let Some(mut current) = self.current.take() else { return Ok(false) };
        let more = match &mut current {
            CurrentObject::Text { ended: true, .. } => false,
            CurrentObject::Text { key, chunks, decoder, .. } => match chunks.next_chunk().await? {
                Some(chunk) => {
                    self.bytes_pending += chunk.len() as u64;
                    let key = key.clone();
                    let batches = decoder.decode(&chunk).map_err(|e| in_object(&key)(e.to_string()))?;
                    self.accept(&key, batches)?;
                    true
                }
                None => {
                    self.end_text(&mut current)?;
                    false
                }
            },
            CurrentObject::Parquet { key, stream } => match stream.next().await {
                Some(batch) => {
                    let key = key.clone();
                    let batch = batch.map_err(|e| in_object(&key)(format!("cannot read the Parquet file: {e}")))?;
                    self.accept(&key, vec![batch])?;
                    true
                }
                None => false,
            },
        };
        if more {
            self.current = Some(current);
        }
        Ok(more)
    }
}

/// The objects an incremental state says were read: key -> last-modified ms.
fn read_objects(state: Option<&serde_json::Value>) -> std::collections::HashMap<String, i64> {
    state
        .and_then(|s| s.get("objects"))
        .and_then(serde_json::Value::as_object)
        .map(|objects| objects.iter().filter_map(|(k, v)| Some((k.clone(), v.as_i64()?))).collect())
        .unwrap_or_default()
}

#[async_trait::async_trait]
impl BatchStream for ObjectRecords {
    fn checkpoint(&self) -> Option<serde_json::Value> {
        Some(self.checkpoint.clone())
    }

    async fn next_batch(&mut self) -> Result<Option<SourceBatch>, ConnectorError> {
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            if let Some(mut batch) = self.ready.pop_front() {
                if let Some(remaining) = self.remaining.as_mut() {
                    if batch.num_rows() > *remaining {
                        batch = batch.slice(0, *remaining);
                    }
                    *remaining -= batch.num_rows();
                }
                let bytes_read = std::mem::take(&mut self.bytes_pending);
                return Ok(Some(SourceBatch { batch, bytes_read }));
            }
            self.scope.check_cancelled()?;
            if self.current.is_some() {
                self.advance().await?;
            } else if !self.open_next().await? {
                return Ok(None);
            }
        }
    }
}

/// Conversions that fail on a value they cannot convert (instead of
/// making it null).
const STRICT: arrow_cast::CastOptions<'static> =
    arrow_cast::CastOptions { safe: false, format_options: arrow_cast::display::FormatOptions::new() };

/// `batch` with exactly the fields of `schema`, by name: missing fields
/// are null, others converted to the schema's type. `first_row` is the
/// batch's first record in its object, for naming the record a value that
/// does not convert is in.
fn conform(batch: &RecordBatch, schema: &SchemaRef, first_row: usize) -> Result<RecordBatch, String> {
    if batch.schema().fields() == schema.fields() {
        return Ok(batch.clone());
    }
    let rows = batch.num_rows();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = match batch.column_by_name(field.name()) {
            None => new_null_array(field.data_type(), rows),
            Some(column) if column.data_type() == field.data_type() => column.clone(),
            Some(column) => arrow_cast::cast_with_options(column, field.data_type(), &STRICT).map_err(|_| {
                // Which record: the first whose value became null in a lenient cast.
                let lenient = arrow_cast::cast(column, field.data_type()).ok();
                let row = lenient
                    .and_then(|converted| (0..rows).find(|&i| column.is_valid(i) && converted.is_null(i)))
                    .map(|i| first_row + i + 1);
                let at = match row {
                    Some(row) => format!("data row {row} (line {}), ", row + 1),
                    None => String::new(),
                };
                format!(
                    "{at}column '{}': the value is not a valid {} (the type the first object gave the field)",
                    field.name(),
                    field.data_type()
                )
            })?,
        };
        columns.push(column);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use arrow_array::{Int64Array, StringArray};
    use arrow_schema::{DataType, Field};

    use super::*;

    #[test]
    fn formats_follow_the_key_and_the_file_type() {
        assert_eq!(object_format("a/b.parquet", Some(S3InputFileType::Csv)), ObjectFormat::Parquet);
        assert_eq!(object_format("a/b.PARQUET", None), ObjectFormat::Parquet);
        assert_eq!(object_format("a/b.json", Some(S3InputFileType::Json)), ObjectFormat::Text(InputFormat::JsonLines));
        assert_eq!(object_format("a/b.txt", None), ObjectFormat::Text(InputFormat::Csv));
    }

    #[test]
    fn batches_are_matched_to_the_flow_schema_by_name() {
        let flow = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("gone", DataType::Utf8, true),
        ]));
        let object =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true), Field::new("id", DataType::Utf8, true)]));
        let batch = RecordBatch::try_new(
            object.clone(),
            vec![Arc::new(StringArray::from(vec!["1", "2"])), Arc::new(StringArray::from(vec!["a", "b"]))],
        )
        .unwrap();
        let conformed = conform(&batch, &flow, 0).unwrap();
        assert_eq!(conformed.schema(), flow);
        assert_eq!(conformed.column(1).as_any().downcast_ref::<Int64Array>().unwrap().values(), &[1, 2]);
        assert_eq!(conformed.column(2).null_count(), 2);
        let bad = RecordBatch::try_new(
            object,
            vec![Arc::new(StringArray::from(vec!["3", "x"])), Arc::new(StringArray::from(vec!["a", "b"]))],
        )
        .unwrap();
        let error = conform(&bad, &flow, 10).unwrap_err();
        assert_eq!(error, "data row 12 (line 13), column 'n': the value is not a valid Int64 (the type the first object gave the field)");
    }
}
