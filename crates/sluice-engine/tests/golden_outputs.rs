//! Salesforce -> object storage outputs compared with golden files.
//!
//! `tests/golden/org.json` is a fixed simulator org (the demo org, trimmed,
//! with awkward values: quotes, commas, line breaks, Unicode, nulls and
//! deleted records); `tests/golden/flows.json` holds the flows, and each
//! `<flow>.<ext>` file is what the first pipeline (before the data plane of
//! Engine v2) wrote for that flow. A run today must write the same CSV and
//! JSON lines bytes, and Parquet files with the same schema and values
//! (Parquet bytes carry the writer's version, so they are compared decoded).

#![cfg(all(feature = "salesforce", feature = "s3"))]

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use serde_json::{json, Value};
use sluice_sim::salesforce::org::Org;
use sluice_sim::salesforce::state::{SimConfig, DEMO_USERNAME};
use sluice_sim::salesforce::SalesforceSim;

mod common;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn parquet_batches(bytes: Vec<u8>) -> Vec<RecordBatch> {
    sluice_transform::codec::read_parquet(bytes.into(), 100_000).unwrap().collect::<Result<_, _>>().unwrap()
}

/// One batch of every row, so files whose row groups differ compare equal.
fn concatenated(batches: &[RecordBatch]) -> RecordBatch {
    let schema = batches[0].schema();
    arrow_select::concat::concat_batches(&schema, batches).unwrap()
}

fn assert_same_file(flow: &str, produced: &Path, golden: &Path) {
    let produced_bytes = std::fs::read(produced).unwrap_or_else(|e| panic!("{flow}: {}: {e}", produced.display()));
    let golden_bytes = std::fs::read(golden).unwrap();
    if golden.extension().is_some_and(|e| e == "parquet") {
        let (produced, golden) = (parquet_batches(produced_bytes), parquet_batches(golden_bytes));
        let (produced, golden) = (concatenated(&produced), concatenated(&golden));
        assert_eq!(produced.schema(), golden.schema(), "{flow}: Parquet schema");
        assert_eq!(produced.num_rows(), golden.num_rows(), "{flow}: Parquet rows");
        for (i, (p, g)) in produced.columns().iter().zip(golden.columns()).enumerate() {
            assert_eq!(p.to_data(), g.to_data(), "{flow}: Parquet column {}", produced.schema().field(i).name());
        }
    } else if produced_bytes != golden_bytes {
        let produced_text = String::from_utf8_lossy(&produced_bytes);
        let golden_text = String::from_utf8_lossy(&golden_bytes);
        let first_difference = produced_text.lines().zip(golden_text.lines()).position(|(p, g)| p != g);
        panic!(
            "{flow}: output differs from {} (first differing line index: {first_difference:?}; {} vs {} lines)",
            golden.display(),
            produced_text.lines().count(),
            golden_text.lines().count()
        );
    }
}

#[tokio::test]
async fn salesforce_to_object_storage_outputs_match_the_golden_files() {
    let dir = golden_dir();
    let mut org: Org = sluice_sim::state_file::load(&dir.join("org.json")).unwrap().unwrap();
    org.reindex();
    let sim = SalesforceSim::new(org, SimConfig::default(), None);
    let base = common::serve_sim(&sim);
    let token = {
        let mut state = sim.lock();
        let user = state.users[DEMO_USERNAME].clone();
        state.new_session(&user)
    };
    let setup = common::Harness::new().await;
    common::create_salesforce_profile(&*setup.store, &setup.vault, &base, json!({"accessToken": token})).await;
    let flows: Vec<Value> = serde_json::from_slice(&std::fs::read(dir.join("flows.json")).unwrap()).unwrap();
    assert!(flows.len() >= 10);
    for flow in flows {
        let name = flow["name"].as_str().unwrap().to_string();
        let extension = match flow["definition"]
            .pointer("/destinationFlowConfigList/0/destinationConnectorProperties/S3/s3OutputFormatConfig/fileType")
            .and_then(Value::as_str)
        {
            Some("CSV") => "csv",
            Some("PARQUET") => "parquet",
            _ => "jsonl",
        };
        let record = common::flow_record(&name, flow["definition"].clone(), &["sf"]);
        let execution_id = format!("exec-{name}");
        let result = setup.run(record, &execution_id).await;
        assert_eq!(result["executionStatus"], "Successful", "{name}: {result}");
        assert_eq!(result["executionResult"]["recordsProcessed"], flow["recordsProcessed"], "{name}");
        let produced = setup.objects.join(format!("golden/out/{name}/{execution_id}/part-00000.{extension}"));
        assert_same_file(&name, &produced, &dir.join(format!("{name}.{extension}")));
    }
}
