//! Object storage -> object storage through the real worker, store and
//! connectors: every input format (CSV, JSON lines, Parquet) into every
//! output format, with filter, validate, mask and map tasks, read back row
//! by row; malformed input fails the run naming the object, the row and
//! the column, and publishes nothing.

#![cfg(feature = "s3")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use sluice_store::FlowRecord;
use sluice_transform::codec::{infer_schema, json_objects, InputFormat, OutputFormat, RecordDecoder, RecordWriter};

mod common;

const CUSTOMERS_CSV: &str = "\
id,email,first_name,last_name,phone,do_not_call,annual_revenue
1,ann@example.com,Ann,Lee,+1 555 0101,false,1500.5
2,,Bob,\"Marley, Jr\",+1 555 0102,false,
3,cee@example.com,Cé,\"Quote \"\"Q\"\"\",+1 555 0103,true,99
4,dee@example.com,Dee,Lin,,false,0
5,eve@example.com,Eve,\"Two
Lines\",+44 20 7946 0000,false,12
";

/// The input as JSON lines (the same records, with JSON types).
fn customers_jsonl() -> String {
    let rows = [
        json!({"id": 1, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee", "phone": "+1 555 0101", "do_not_call": false, "annual_revenue": 1500.5}),
        json!({"id": 2, "email": null, "first_name": "Bob", "last_name": "Marley, Jr", "phone": "+1 555 0102", "do_not_call": false}),
        json!({"id": 3, "email": "cee@example.com", "first_name": "Cé", "last_name": "Quote \"Q\"", "phone": "+1 555 0103", "do_not_call": true, "annual_revenue": 99.0}),
        json!({"id": 4, "email": "dee@example.com", "first_name": "Dee", "last_name": "Lin", "do_not_call": false, "annual_revenue": 0.0}),
        json!({"id": 5, "email": "eve@example.com", "first_name": "Eve", "last_name": "Two\nLines", "phone": "+44 20 7946 0000", "do_not_call": false, "annual_revenue": 12.0}),
    ];
    rows.iter().map(|r| format!("{r}\n")).collect()
}

/// The input as Parquet (written from the CSV with its inferred types).
fn customers_parquet() -> Vec<u8> {
    let schema = Arc::new(infer_schema(InputFormat::Csv, CUSTOMERS_CSV.as_bytes(), 100, true).unwrap());
    let mut decoder = RecordDecoder::new(InputFormat::Csv, schema.clone(), 100).unwrap();
    let mut batches = decoder.decode(CUSTOMERS_CSV.as_bytes()).unwrap();
    batches.extend(decoder.finish().unwrap());
    let mut writer = RecordWriter::new(OutputFormat::Parquet, schema, Vec::new()).unwrap();
    for batch in &batches {
        writer.write(batch).unwrap();
    }
    writer.finish().unwrap().sink
}

/// Keeps customers who may be called and have an email, masks the last
/// four characters of the phone number and renames the fields.
fn tasks() -> Value {
    let map = |from: &str, to: &str| json!({"taskType": "Map", "sourceFields": [from], "destinationField": to, "connectorOperator": {"S3": "NO_OP"}});
    json!([
        {"taskType": "Filter", "sourceFields": ["id", "email", "first_name", "last_name", "phone", "do_not_call", "annual_revenue"],
         "connectorOperator": {"S3": "PROJECTION"}},
        {"taskType": "Filter", "sourceFields": ["do_not_call"], "connectorOperator": {"S3": "EQUAL_TO"},
         "taskProperties": {"DATA_TYPE": "boolean", "VALUE": "false"}},
        {"taskType": "Validate", "sourceFields": ["email"], "connectorOperator": {"S3": "VALIDATE_NON_NULL"},
         "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
        {"taskType": "Mask", "sourceFields": ["phone"], "connectorOperator": {"S3": "MASK_LAST_N"},
         "taskProperties": {"MASK_LENGTH": "4", "MASK_VALUE": "#"}},
        map("id", "customer_id"),
        map("email", "email"),
        map("first_name", "first"),
        map("last_name", "last"),
        map("phone", "phone"),
        map("annual_revenue", "revenue"),
    ])
}

/// The output fields: the mapped ones and the field the row filter reads.
const OUTPUT_COLUMNS: [&str; 7] = ["customer_id", "do_not_call", "email", "first", "last", "phone", "revenue"];

/// What every combination must deliver, as text cells ("" for null).
fn expected_rows() -> Vec<BTreeMap<String, String>> {
    let row = |id: &str, email: &str, first: &str, last: &str, phone: &str, revenue: &str| {
        [
            ("customer_id", id),
            ("do_not_call", "false"),
            ("email", email),
            ("first", first),
            ("last", last),
            ("phone", phone),
            ("revenue", revenue),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>()
    };
    vec![
        row("1", "ann@example.com", "Ann", "Lee", "+1 555 ####", "1500.5"),
        row("4", "dee@example.com", "Dee", "Lin", "", "0.0"),
        row("5", "eve@example.com", "Eve", "Two\nLines", "+44 20 7946 ####", "12.0"),
    ]
}

fn flow(name: &str, input_type: &str, prefix: &str, output_type: &str, tasks: Value) -> FlowRecord {
    let definition = json!({
            "triggerConfig": {"triggerType": "OnDemand"},
            "sourceFlowConfig": {"connectorType": "S3", "sourceConnectorProperties": {"S3": {
                "bucketName": "landing", "bucketPrefix": prefix, "s3InputFormatConfig": {"s3InputFileType": input_type}}}},
            "destinationFlowConfigList": [{"connectorType": "S3", "destinationConnectorProperties": {"S3": {
                "bucketName": "lake", "bucketPrefix": "customers", "s3OutputFormatConfig": {"fileType": output_type}}}}],
            "tasks": tasks,
    });
    common::flow_record(name, definition, &[])
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The rows of an output file as text cells, whatever its format.
fn read_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let objects: Vec<serde_json::Map<String, Value>> = match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => {
            let mut reader = csv::Reader::from_reader(bytes.as_slice());
            let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
            let mut sorted = header.clone();
            sorted.sort();
            assert_eq!(sorted, OUTPUT_COLUMNS, "the CSV header");
            return reader
                .records()
                .map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_string)).collect())
                .collect();
        }
        Some("jsonl") => String::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
        _ => sluice_transform::codec::read_parquet(bytes.into(), 1000)
            .unwrap()
            .flat_map(|batch| json_objects(&batch.unwrap()).unwrap())
            .collect(),
    };
    objects
        .iter()
        .map(|o| {
            assert!(o.keys().all(|k| OUTPUT_COLUMNS.contains(&k.as_str())), "unexpected fields in {o:?}");
            OUTPUT_COLUMNS.iter().map(|c| (c.to_string(), o.get(*c).map(text).unwrap_or_default())).collect()
        })
        .collect()
}

fn put(objects: &Path, key: &str, bytes: &[u8]) {
    let path = objects.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn every_input_format_reaches_every_output_format_with_the_tasks_applied() {
    let harness = common::Harness::new().await;
    put(&harness.objects, "landing/csv/customers.csv", CUSTOMERS_CSV.as_bytes());
    put(&harness.objects, "landing/json/customers.jsonl", customers_jsonl().as_bytes());
    put(&harness.objects, "landing/parquet/customers.parquet", &customers_parquet());
    // The same records whatever the input and output: 5 read, 3 delivered
    // (one may not be called, one has no email).
    for (input, input_type) in [("csv", "CSV"), ("json", "JSON"), ("parquet", "CSV")] {
        for (output, extension) in [("CSV", "csv"), ("JSON", "jsonl"), ("PARQUET", "parquet")] {
            let name = format!("{input}-to-{extension}");
            let execution_id = format!("exec-{name}");
            let record = harness.run(flow(&name, input_type, input, output, tasks()), &execution_id).await;
            assert_eq!(record["executionStatus"], "Successful", "{name}: {record}");
            assert_eq!(record["executionResult"]["recordsProcessed"], 5, "{name}");
            let file = harness.objects.join(format!("lake/customers/{name}/{execution_id}/part-00000.{extension}"));
            assert_eq!(read_rows(&file), expected_rows(), "{name}");
            assert_eq!(
                record["executionResult"]["bytesWritten"].as_u64(),
                Some(std::fs::metadata(&file).unwrap().len()),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn a_malformed_row_fails_the_run_naming_the_object_row_and_column_and_publishes_nothing() {
    let harness = common::Harness::new().await;
    put(&harness.objects, "landing/bad/a.csv", CUSTOMERS_CSV.as_bytes());
    // A record with a field too few, in the second object.
    put(
        &harness.objects,
        "landing/bad/b.csv",
        b"id,email,first_name,last_name,phone,do_not_call,annual_revenue\n6,f@x.io,Fay,Ng,,false,3\n7,g@x.io,Gil\n",
    );
    let record = harness.run(flow("bad-shape", "CSV", "bad", "PARQUET", tasks()), "exec-bad-shape").await;
    assert_eq!(record["executionStatus"], "Error", "{record}");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(message.contains("bad/b.csv") && message.contains("line 3"), "{message}");
    assert_eq!(published_files(&harness.objects.join("lake")), Vec::<String>::new(), "nothing published");

    // A value of the wrong type (the first object made `annual_revenue` a number).
    put(&harness.objects, "landing/typed/a.csv", CUSTOMERS_CSV.as_bytes());
    put(&harness.objects, "landing/typed/b.csv", b"id,email,first_name,last_name,phone,do_not_call,annual_revenue\n6,f@x.io,Fay,Ng,,false,3\n7,g@x.io,Gil,Oh,,false,secret-value\n");
    let record = harness.run(flow("bad-value", "CSV", "typed", "CSV", tasks()), "exec-bad-value").await;
    assert_eq!(record["executionStatus"], "Error", "{record}");
    let message = record["executionResult"]["errorInfo"]["executionMessage"].as_str().unwrap();
    assert!(
        message.contains("typed/b.csv")
            && message.contains("data row 2 (line 3)")
            && message.contains("'annual_revenue'"),
        "{message}"
    );
    assert!(!message.contains("secret-value"), "values are not echoed: {message}");
    assert_eq!(published_files(&harness.objects.join("lake")), Vec::<String>::new(), "nothing published");
}

#[tokio::test]
async fn an_empty_prefix_is_a_successful_run_without_output() {
    let harness = common::Harness::new().await;
    std::fs::create_dir_all(harness.objects.join("landing")).unwrap();
    let record = harness.run(flow("empty", "CSV", "nothing-here", "CSV", tasks()), "exec-empty").await;
    assert_eq!(record["executionStatus"], "Successful", "{record}");
    assert_eq!(record["executionResult"]["recordsProcessed"], 0);
    assert_eq!(published_files(&harness.objects.join("lake")), Vec::<String>::new());
}

#[tokio::test]
async fn preview_reads_an_object_storage_source() {
    let harness = common::Harness::new().await;
    put(&harness.objects, "landing/csv/customers.csv", CUSTOMERS_CSV.as_bytes());
    let record = flow("preview", "CSV", "csv", "CSV", tasks());
    let records = harness.runner().preview("", &record, 2).await.unwrap();
    // Two source records read: one delivered, one dropped (no email).
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["customer_id"], json!(1));
    assert_eq!(records[0]["phone"], json!("+1 555 ####"));
    assert!(published_files(&harness.objects.join("lake")).is_empty(), "a preview writes nothing");
}

/// The files below `dir`, as text (for assertions).
fn published_files(dir: &Path) -> Vec<String> {
    common::files_under(dir).iter().map(|p| p.display().to_string()).collect()
}
