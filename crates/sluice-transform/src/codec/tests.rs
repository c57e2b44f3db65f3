use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use arrow_select::concat::concat_batches;

use super::{infer_schema, InputFormat, OutputFormat, RecordDecoder, RecordReader, RecordWriter, WriterOptions};
use crate::data_type::{datetime_type, UTC};
use crate::TransformError;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Id", DataType::Utf8, true),
        Field::new("Notes", DataType::Utf8, true),
        Field::new("Employees", DataType::Int64, true),
        Field::new("Revenue", DataType::Float64, true),
        Field::new("Active", DataType::Boolean, true),
        Field::new("Founded", DataType::Date32, true),
        Field::new("CreatedDate", datetime_type(), true),
    ]))
}

fn batch(ids: &[&str], offset: i64) -> RecordBatch {
    let rows = ids.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(ids.to_vec())),
        Arc::new(StringArray::from(
            (0..rows)
                .map(|row| match row % 3 {
                    0 => Some("plain"),
                    1 => Some("comma, \"quoted\"\nand a line break"),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Int64Array::from(
            (0..rows).map(|row| if row == 1 { None } else { Some(offset + row as i64 * 7) }).collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from((0..rows).map(|row| Some(row as f64 * 1.25 - 3.5)).collect::<Vec<_>>())),
        Arc::new(BooleanArray::from(
            (0..rows).map(|row| if row == 2 { None } else { Some(row % 2 == 0) }).collect::<Vec<_>>(),
        )),
        Arc::new(Date32Array::from((0..rows).map(|row| Some(19_000 + row as i32)).collect::<Vec<_>>())),
        Arc::new(
            TimestampMillisecondArray::from(
                (0..rows).map(|row| Some(1_704_067_200_123 + row as i64 * 86_400_000)).collect::<Vec<_>>(),
            )
            .with_timezone(UTC),
        ),
    ];
    RecordBatch::try_new(schema(), columns).expect("test batch")
}

fn batches() -> Vec<RecordBatch> {
    vec![batch(&["a", "b", "c"], 0), batch(&["d", "e", "f", "g"], 100)]
}

/// Writes the test batches; returns the file and its record count.
fn write_all(format: OutputFormat, options: WriterOptions) -> (Vec<u8>, u64) {
    let mut writer = RecordWriter::with_options(format, schema(), Vec::new(), options).expect("writer");
    for batch in batches() {
        writer.write(&batch).expect("write");
    }
    let finished = writer.finish().expect("finish");
    assert_eq!(finished.bytes_written, finished.sink.len() as u64, "{format:?}: counted bytes are the file's");
    (finished.sink, finished.rows_written)
}

fn expected() -> RecordBatch {
    concat_batches(&schema(), &batches()).expect("concat")
}

fn read_back(format: InputFormat, bytes: &[u8], batch_size: usize) -> RecordBatch {
    let reader = RecordReader::new(format, schema(), bytes, batch_size).expect("reader");
    let read: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("read");
    concat_batches(&schema(), &read).expect("concat")
}

#[test]
fn csv_round_trips_every_value() {
    let (bytes, rows) = write_all(OutputFormat::Csv, WriterOptions::default());
    assert_eq!(rows, 7);
    assert_eq!(read_back(InputFormat::Csv, &bytes, 3), expected());
}

#[test]
fn json_lines_round_trip_every_value() {
    let (bytes, rows) = write_all(OutputFormat::JsonLines, WriterOptions::default());
    assert_eq!(rows, 7);
    assert_eq!(read_back(InputFormat::JsonLines, &bytes, 3), expected());
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_round_trips_every_value_across_row_groups() {
    let options = WriterOptions { parquet_max_row_group_rows: 2, ..WriterOptions::default() };
    let (bytes, rows) = write_all(OutputFormat::Parquet, options);
    assert_eq!(rows, 7);
    assert_eq!(&bytes[..4], b"PAR1");
    let reader = super::read_parquet(bytes::Bytes::from(bytes.clone()), 3).expect("parquet reader");
    assert_eq!(reader.schema().fields(), schema().fields());
    let read: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("read");
    assert_eq!(concat_batches(&schema(), &read).expect("concat"), expected());
    let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes))
        .expect("footer");
    // 3 + 4 rows in row groups of at most 2 rows: 2, 1, 2, 2.
    let row_groups: Vec<i64> = metadata.row_groups().iter().map(|group| group.num_rows()).collect();
    assert_eq!(row_groups.iter().sum::<i64>(), 7);
    assert!(row_groups.iter().all(|rows| *rows <= 2), "{row_groups:?}");
}

#[test]
fn bytes_written_counts_what_reached_the_sink() {
    for format in [OutputFormat::Csv, OutputFormat::JsonLines] {
        let mut writer = RecordWriter::new(format, schema(), Vec::new()).expect("writer");
        for batch in batches() {
            writer.write(&batch).expect("write");
        }
        let before_finish = writer.bytes_written();
        let finished = writer.finish().expect("finish");
        assert_eq!(before_finish, finished.sink.len() as u64, "{format:?}: nothing is held back");
        assert_eq!((finished.bytes_written, finished.rows_written), (before_finish, 7), "{format:?}");
    }
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_bytes_reach_the_sink_per_row_group() {
    let options = WriterOptions { parquet_max_row_group_rows: 2, ..WriterOptions::default() };
    let mut writer = RecordWriter::with_options(OutputFormat::Parquet, schema(), Vec::new(), options).expect("writer");
    writer.write(&batches()[0]).expect("write");
    let after_one_row_group = writer.bytes_written();
    assert!(after_one_row_group > 4, "the magic and a closed row group are written");
    let finished = writer.finish().expect("finish");
    assert!(finished.bytes_written > after_one_row_group);
    assert_eq!(finished.bytes_written, finished.sink.len() as u64);
}

#[test]
fn csv_output_has_a_header_and_quotes_what_needs_it() {
    let (bytes, _) = write_all(OutputFormat::Csv, WriterOptions::default());
    let text = String::from_utf8(bytes).expect("utf-8");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("Id,Notes,Employees,Revenue,Active,Founded,CreatedDate"));
    assert_eq!(lines.next(), Some("a,plain,0,-3.5,true,2022-01-08,2024-01-01T00:00:00.123Z"));
    assert_eq!(lines.next(), Some("b,\"comma, \"\"quoted\"\""));
    assert_eq!(lines.next(), Some("and a line break\",,-2.25,false,2022-01-09,2024-01-02T00:00:00.123Z"));
    assert_eq!(lines.next(), Some("c,,14,-1.0,,2022-01-10,2024-01-03T00:00:00.123Z"));
}

#[test]
fn csv_output_of_no_records_is_the_header() {
    let writer = RecordWriter::new(OutputFormat::Csv, schema(), Vec::new()).expect("writer");
    let finished = writer.finish().expect("finish");
    assert_eq!(finished.rows_written, 0);
    assert_eq!(
        String::from_utf8(finished.sink).expect("utf-8"),
        "Id,Notes,Employees,Revenue,Active,Founded,CreatedDate\n"
    );
}

#[test]
fn json_lines_leave_out_nulls() {
    let mut writer = RecordWriter::new(OutputFormat::JsonLines, schema(), Vec::new()).expect("writer");
    writer.write(&batch(&["a", "b", "c"], 0).slice(1, 2)).expect("write");
    let text = String::from_utf8(writer.finish().expect("finish").sink).expect("utf-8");
    assert_eq!(
        text,
        "{\"Id\":\"b\",\"Notes\":\"comma, \\\"quoted\\\"\\nand a line break\",\"Revenue\":-2.25,\"Active\":false,\
         \"Founded\":\"2022-01-09\",\"CreatedDate\":\"2024-01-02T00:00:00.123Z\"}\n\
         {\"Id\":\"c\",\"Employees\":14,\"Revenue\":-1.0,\"Founded\":\"2022-01-10\",\
         \"CreatedDate\":\"2024-01-03T00:00:00.123Z\"}\n"
    );
}

#[test]
fn writers_refuse_batches_of_another_schema() {
    let mut writer = RecordWriter::new(OutputFormat::Csv, schema(), Vec::new()).expect("writer");
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("Id", DataType::Int64, true)])),
        vec![Arc::new(Int64Array::from(vec![1])) as ArrayRef],
    )
    .expect("batch");
    let error = writer.write(&other).expect_err("mismatch");
    assert!(matches!(error, TransformError::SchemaMismatch(_)));
    assert_eq!(
        error.to_string(),
        "record batch schema does not match the output schema: expected fields [Id: Utf8, Notes: Utf8, \
         Employees: Int64, Revenue: Float64, Active: Boolean, Founded: Date32, CreatedDate: Timestamp(ms, \"+00:00\")], \
         found [Id: Int64]"
    );
}

#[test]
fn decoders_accept_chunks_of_any_size() {
    for (output, input) in [(OutputFormat::Csv, InputFormat::Csv), (OutputFormat::JsonLines, InputFormat::JsonLines)] {
        let (bytes, _) = write_all(output, WriterOptions::default());
        let mut decoder = RecordDecoder::new(input, schema(), 2).expect("decoder");
        let mut decoded = Vec::new();
        for byte in bytes.chunks(1) {
            decoded.extend(decoder.decode(byte).expect("decode"));
        }
        decoded.extend(decoder.finish().expect("finish"));
        let sizes: Vec<usize> = decoded.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, vec![2, 2, 2, 1], "{input:?}");
        assert_eq!(concat_batches(&schema(), &decoded).expect("concat"), expected(), "{input:?}");
    }
}

#[test]
fn a_last_csv_record_without_a_line_break_is_read() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("Id", DataType::Utf8, true),
        Field::new("Employees", DataType::Int64, true),
    ]));
    let mut decoder = RecordDecoder::new(InputFormat::Csv, schema, 10).expect("decoder");
    assert!(decoder.decode(b"Id,Employees\na,1\nb,").expect("decode").is_empty());
    let decoded = decoder.decode(b"2").expect("decode");
    assert!(decoded.is_empty());
    let last = decoder.finish().expect("finish");
    assert_eq!(last.len(), 1);
    let employees: Vec<Option<i64>> = last[0].column(1).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(employees, vec![Some(1), Some(2)]);
}

#[test]
fn csv_headers_must_match_the_schema() {
    let mut decoder = RecordDecoder::new(InputFormat::Csv, schema(), 10).expect("decoder");
    let error = decoder
        .decode(b"Name,Notes,Employees,Revenue,Active,Founded,CreatedDate\nx,,,,,,\n")
        .expect_err("header mismatch");
    assert_eq!(
        error.to_string(),
        "invalid csv input: Csv error: CSV header does not match schema at column 0: expected \"Id\" but found \"Name\""
    );
}

#[test]
fn json_input_ending_inside_a_record_is_refused() {
    let mut decoder = RecordDecoder::new(InputFormat::JsonLines, schema(), 10).expect("decoder");
    decoder.decode(b"{\"Id\": \"a\"}\n{\"Id\": \"b").expect("decode");
    let error = decoder.finish().expect_err("partial record");
    assert_eq!(error.to_string(), "invalid json lines input: the input ends inside a record");
}

#[test]
fn bad_values_are_invalid_input() {
    let mut decoder = RecordDecoder::new(InputFormat::JsonLines, schema(), 10).expect("decoder");
    let error = decoder.decode(b"{\"Id\": \"a\", \"Employees\": \"many\"}\n").and_then(|_| decoder.finish());
    assert!(matches!(error, Err(TransformError::InvalidInput { format: "json lines", .. })), "{error:?}");
}

#[test]
fn schemas_are_inferred_from_a_sample() {
    let csv = b"Id,Employees,Revenue,Active,Founded,Stamp\na,1,2.5,true,2024-01-01,2024-01-01T10:00:00Z\nb,2,3,false,2024-01-02,2024-01-02T10:00:00Z\nc,cut";
    let inferred = infer_schema(InputFormat::Csv, csv, 100, false).expect("inferred");
    let types: Vec<(String, DataType)> =
        inferred.fields().iter().map(|field| (field.name().clone(), field.data_type().clone())).collect();
    assert_eq!(
        types,
        vec![
            ("Id".to_string(), DataType::Utf8),
            ("Employees".to_string(), DataType::Int64),
            ("Revenue".to_string(), DataType::Float64),
            ("Active".to_string(), DataType::Boolean),
            ("Founded".to_string(), DataType::Date32),
            ("Stamp".to_string(), DataType::Timestamp(arrow_schema::TimeUnit::Second, None)),
        ]
    );
    // Read as complete, the cut record is a record with too few fields.
    let whole = infer_schema(InputFormat::Csv, csv, 100, true).expect_err("cut record");
    assert_eq!(
        whole.to_string(),
        "invalid csv input: Csv error: Encountered unequal lengths between records on CSV file. \
         Expected 6 records, found 2 records at line 4"
    );

    let json = b"{\"Id\": \"a\", \"Employees\": 1, \"Revenue\": 2.5, \"Active\": true}\n{\"Id\": \"b\", \"Revenue\": 3}\n{\"Id\": ";
    let inferred = infer_schema(InputFormat::JsonLines, json, 100, false).expect("inferred");
    let types: Vec<(String, DataType)> =
        inferred.fields().iter().map(|field| (field.name().clone(), field.data_type().clone())).collect();
    assert_eq!(
        types,
        vec![
            ("Id".to_string(), DataType::Utf8),
            ("Employees".to_string(), DataType::Int64),
            ("Revenue".to_string(), DataType::Float64),
            ("Active".to_string(), DataType::Boolean),
        ]
    );
}

#[test]
fn inferred_csv_schemas_read_their_data() {
    let csv = b"Id,Employees\na,1\nb,\n";
    let inferred = Arc::new(infer_schema(InputFormat::Csv, csv, 10, true).expect("inferred"));
    let reader = RecordReader::new(InputFormat::Csv, inferred, &csv[..], 10).expect("reader");
    let read: Vec<RecordBatch> = reader.collect::<Result<_, _>>().expect("read");
    assert_eq!(read.len(), 1);
    let ids: Vec<Option<&str>> = read[0].column(0).as_string::<i32>().iter().collect();
    assert_eq!(ids, vec![Some("a"), Some("b")]);
    let employees: Vec<Option<i64>> = read[0].column(1).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(employees, vec![Some(1), None]);
}

#[test]
fn appflow_file_types_map_to_formats() {
    use sluice_model::appflow::{FileType, S3InputFileType};
    assert_eq!(OutputFormat::from(FileType::Csv), OutputFormat::Csv);
    assert_eq!(OutputFormat::from(FileType::Json), OutputFormat::JsonLines);
    assert_eq!(OutputFormat::from(FileType::Parquet), OutputFormat::Parquet);
    assert_eq!(InputFormat::from(S3InputFileType::Csv), InputFormat::Csv);
    assert_eq!(InputFormat::from(S3InputFileType::Json), InputFormat::JsonLines);
    assert_eq!(
        [OutputFormat::Csv, OutputFormat::JsonLines, OutputFormat::Parquet].map(|format| format.extension()),
        ["csv", "jsonl", "parquet"]
    );
}

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_needs_its_feature() {
    let error = RecordWriter::new(OutputFormat::Parquet, schema(), Vec::new()).expect_err("no parquet");
    assert_eq!(error.to_string(), "this build of sluice-transform has no parquet support (cargo feature `parquet`)");
}

#[test]
fn csv_value_errors_name_the_row_and_column_but_not_the_value() {
    let schema =
        Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true), Field::new("n", DataType::Int64, true)]));
    let text = "a,n\nx,1\ny,2\n\"multi\nline\",3\nz,secret-oops\nw,5\n";
    let mut decoder = RecordDecoder::new(InputFormat::Csv, schema, 2).unwrap();
    let mut error = None;
    for chunk in text.as_bytes().chunks(3) {
        if let Err(e) = decoder.decode(chunk) {
            error = Some(e);
            break;
        }
    }
    let message = error.expect("the bad value fails the decoder").to_string();
    assert_eq!(message, "invalid csv input: data row 4 (line 5), column 2 'n': the value is not a valid Int64");
    assert!(!message.contains("secret"), "values are never echoed: {message}");
}
