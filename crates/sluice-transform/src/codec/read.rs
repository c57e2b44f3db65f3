//! Decoding CSV and JSON lines (pushed in chunks or pulled from a reader),
//! schema inference from a sample, and reading Parquet.

use std::io::BufRead;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, Schema, SchemaRef};

use super::InputFormat;
use crate::error::TransformError;

/// Infers a schema from the first `max_records` records of `sample`.
///
/// `sample` may be a prefix of an object: unless `sample_is_complete`,
/// anything after its last line break is ignored, as it may be a record cut
/// short. CSV takes the header row for the field names and guesses Int64,
/// Float64, Boolean, Date32, Timestamp or Utf8 per column; JSON lines gives
/// Int64, Float64, Boolean, Utf8, lists and structs.
pub fn infer_schema(
    format: InputFormat,
    sample: &[u8],
    max_records: usize,
    sample_is_complete: bool,
) -> Result<Schema, TransformError> {
    let sample = if sample_is_complete {
        sample
    } else {
        match sample.iter().rposition(|byte| *byte == b'\n') {
            Some(last_break) => &sample[..=last_break],
            None => &[],
        }
    };
    let inferred = match format {
        InputFormat::Csv => arrow_csv::reader::Format::default()
            .with_header(true)
            .infer_schema(sample, Some(max_records))
            .map(|(schema, _)| schema),
        InputFormat::JsonLines => arrow_json::reader::infer_json_schema(sample, Some(max_records))
            .map(|(schema, _)| in_first_seen_order(schema, &json_keys_in_order(sample, max_records))),
    };
    inferred.map_err(|error| invalid(format, error))
}

/// The keys of the first `max_records` JSON objects of `sample`, each once,
/// in the order they first appear. (Parsed JSON objects do not keep their
/// key order, so inference alone would sort the fields by name.)
fn json_keys_in_order(sample: &[u8], max_records: usize) -> Vec<String> {
    struct ObjectKeys(Vec<String>);

    impl<'de> serde::Deserialize<'de> for ObjectKeys {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct KeysVisitor;
            impl<'de> serde::de::Visitor<'de> for KeysVisitor {
                type Value = ObjectKeys;

                fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    formatter.write_str("a JSON object")
                }

                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ObjectKeys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(key);
                    }
                    Ok(ObjectKeys(keys))
                }
            }
            deserializer.deserialize_map(KeysVisitor)
        }
    }

    let mut ordered: Vec<String> = Vec::new();
    let objects = serde_json::Deserializer::from_slice(sample).into_iter::<ObjectKeys>();
    for object in objects.take(max_records) {
        let Ok(ObjectKeys(keys)) = object else { break };
        for key in keys {
            if !ordered.contains(&key) {
                ordered.push(key);
            }
        }
    }
    ordered
}

/// The schema's fields reordered to follow `order`; fields it does not
/// name keep their relative order at the end.
fn in_first_seen_order(schema: Schema, order: &[String]) -> Schema {
    let position = |name: &str| order.iter().position(|key| key == name).unwrap_or(usize::MAX);
    let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
    fields.sort_by_key(|field| position(field.name()));
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

fn invalid(format: InputFormat, error: ArrowError) -> TransformError {
    TransformError::InvalidInput { format: format.name(), reason: error.to_string() }
}

/// A CSV decoding error without the value it is about (values may be
/// sensitive, and Arrow's message quotes the value and the whole row):
/// Arrow's `... for column N at line L ...` becomes "data row L (line L+1),
/// column N+1 'name': the value is not a valid TYPE". Other errors keep
/// Arrow's wording.
fn csv_error(error: ArrowError, schema: &Schema) -> TransformError {
    let text = error.to_string();
    let number_after = |marker: &str| -> Option<usize> {
        let start = text.find(marker)? + marker.len();
        let digits: String = text[start..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let type_name = text
        .find("as type '")
        .map(|start| &text[start + "as type '".len()..])
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_string);
    match (number_after("for column "), number_after(" at line "), type_name) {
        (Some(column), Some(row), Some(type_name)) => {
            let name = schema.fields().get(column).map(|f| f.name().as_str()).unwrap_or("?");
            TransformError::InvalidInput {
                format: InputFormat::Csv.name(),
                reason: format!(
                    "data row {row} (line {}), column {} '{name}': the value is not a valid {type_name}",
                    row + 1,
                    column + 1
                ),
            }
        }
        _ => match text.find(". Row data:") {
            Some(cut) => {
                TransformError::InvalidInput { format: InputFormat::Csv.name(), reason: text[..cut].to_string() }
            }
            None => invalid(InputFormat::Csv, error),
        },
    }
}

enum Decoder {
    Csv(Box<arrow_csv::reader::Decoder>),
    JsonLines(arrow_json::reader::Decoder),
}

/// Turns CSV or JSON-lines bytes into record batches of a known schema.
/// Push the bytes in chunks of any size with [`RecordDecoder::decode`]
/// (records may span chunks), then call [`RecordDecoder::finish`]. At most
/// one batch of records is buffered.
pub struct RecordDecoder {
    decoder: Decoder,
    format: InputFormat,
    schema: SchemaRef,
    batch_size: usize,
}

impl std::fmt::Debug for RecordDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordDecoder").field("format", &self.format).field("batch_size", &self.batch_size).finish()
    }
}

impl RecordDecoder {
    /// A decoder producing batches of `batch_size` rows (the last may be
    /// shorter). CSV input must start with a header row matching the
    /// schema's field names in order; JSON fields not in the schema are
    /// ignored and missing ones are null.
    pub fn new(format: InputFormat, schema: SchemaRef, batch_size: usize) -> Result<Self, TransformError> {
        let batch_size = batch_size.max(1);
        let decoder = match format {
            InputFormat::Csv => Decoder::Csv(Box::new(
                arrow_csv::ReaderBuilder::new(schema.clone())
                    .with_header(true)
                    .with_header_validation(true)
                    .with_batch_size(batch_size)
                    .build_decoder(),
            )),
            InputFormat::JsonLines => Decoder::JsonLines(
                arrow_json::ReaderBuilder::new(schema.clone())
                    .with_batch_size(batch_size)
                    .with_coerce_primitive(true)
                    .build_decoder()
                    .map_err(|error| invalid(format, error))?,
            ),
        };
        Ok(RecordDecoder { decoder, format, schema, batch_size })
    }

    /// The schema of the batches produced.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn is_full(&self) -> bool {
        match &self.decoder {
            Decoder::Csv(decoder) => decoder.capacity() == 0,
            Decoder::JsonLines(decoder) => decoder.len() >= self.batch_size && !decoder.has_partial_record(),
        }
    }

    fn decode_some(&mut self, bytes: &[u8]) -> Result<usize, ArrowError> {
        match &mut self.decoder {
            Decoder::Csv(decoder) => decoder.decode(bytes),
            Decoder::JsonLines(decoder) => decoder.decode(bytes),
        }
    }

    fn flush(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        match &mut self.decoder {
            Decoder::Csv(decoder) => decoder.flush(),
            Decoder::JsonLines(decoder) => decoder.flush(),
        }
    }

    fn error(&self, error: ArrowError) -> TransformError {
        match self.format {
            InputFormat::Csv => csv_error(error, &self.schema),
            format => invalid(format, error),
        }
    }

    /// Decodes a chunk, returning the batches it completed.
    pub fn decode(&mut self, chunk: &[u8]) -> Result<Vec<RecordBatch>, TransformError> {
        let mut batches = Vec::new();
        let mut rest = chunk;
        loop {
            let consumed = self.decode_some(rest).map_err(|error| self.error(error))?;
            rest = &rest[consumed..];
            if self.is_full() {
                if let Some(batch) = self.flush().map_err(|error| self.error(error))? {
                    batches.push(batch);
                }
                continue;
            }
            if rest.is_empty() || consumed == 0 {
                return Ok(batches);
            }
        }
    }

    /// Ends the input, returning the last batches. Fails when the input
    /// ends inside a JSON record.
    pub fn finish(&mut self) -> Result<Vec<RecordBatch>, TransformError> {
        let format = self.format;
        let mut batches = Vec::new();
        if self.is_full() {
            batches.extend(self.flush().map_err(|error| self.error(error))?);
        }
        let schema = self.schema.clone();
        match &mut self.decoder {
            // An empty chunk tells the CSV parser the input ended, which
            // completes a last record without a line break.
            Decoder::Csv(decoder) => {
                decoder.decode(&[]).map_err(|error| csv_error(error, &schema))?;
            }
            Decoder::JsonLines(decoder) => {
                if decoder.has_partial_record() {
                    return Err(TransformError::InvalidInput {
                        format: format.name(),
                        reason: "the input ends inside a record".to_string(),
                    });
                }
            }
        }
        batches.extend(self.flush().map_err(|error| self.error(error))?);
        Ok(batches)
    }
}

/// Reads record batches from a [`BufRead`], one at a time.
pub struct RecordReader<R: BufRead> {
    reader: R,
    decoder: RecordDecoder,
    ready: std::collections::VecDeque<RecordBatch>,
    finished: bool,
}

impl<R: BufRead> RecordReader<R> {
    /// A reader of `format` records with `schema`, `batch_size` rows per
    /// batch.
    pub fn new(format: InputFormat, schema: SchemaRef, reader: R, batch_size: usize) -> Result<Self, TransformError> {
        let decoder = RecordDecoder::new(format, schema, batch_size)?;
        Ok(RecordReader { reader, decoder, ready: std::collections::VecDeque::new(), finished: false })
    }

    /// The schema of the batches produced.
    pub fn schema(&self) -> SchemaRef {
        self.decoder.schema()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, TransformError> {
        while self.ready.is_empty() && !self.finished {
            let buffer = self.reader.fill_buf()?;
            if buffer.is_empty() {
                self.ready.extend(self.decoder.finish()?);
                self.finished = true;
                break;
            }
            let length = buffer.len();
            let batches = self.decoder.decode(buffer)?;
            self.reader.consume(length);
            self.ready.extend(batches);
        }
        Ok(self.ready.pop_front())
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = Result<RecordBatch, TransformError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(batch) => batch.map(Ok),
            Err(error) => {
                self.finished = true;
                self.ready.clear();
                Some(Err(error))
            }
        }
    }
}

/// The record batches of a Parquet object, one row group slice at a time.
#[cfg(feature = "parquet")]
pub struct ParquetBatches {
    reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
}

#[cfg(feature = "parquet")]
impl ParquetBatches {
    /// The schema of the batches produced.
    pub fn schema(&self) -> SchemaRef {
        use arrow_array::RecordBatchReader;
        self.reader.schema()
    }
}

#[cfg(feature = "parquet")]
impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch, TransformError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.next().map(|batch| batch.map_err(TransformError::from))
    }
}

/// Reads a whole Parquet object (its footer is at the end, so the object
/// must be at hand) as batches of `batch_size` rows.
#[cfg(feature = "parquet")]
pub fn read_parquet(object: bytes::Bytes, batch_size: usize) -> Result<ParquetBatches, TransformError> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(object)?
        .with_batch_size(batch_size.max(1))
        .build()?;
    Ok(ParquetBatches { reader })
}
