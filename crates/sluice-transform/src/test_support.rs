//! Shared fixtures of the unit tests.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sluice_model::appflow::Task;

use crate::data_type::{datetime_type, UTC};

/// 2024-01-01T00:00:00Z
pub(crate) const JAN_1: i64 = 1_704_067_200_000;
/// 2024-02-15T12:00:00Z
pub(crate) const FEB_15_NOON: i64 = 1_707_998_400_000;
/// 2024-03-31T23:59:59Z
pub(crate) const MAR_31_LAST_SECOND: i64 = 1_711_929_599_000;

/// A list of tasks from wire JSON.
pub(crate) fn tasks(json: serde_json::Value) -> Vec<Task> {
    serde_json::from_value(json).expect("test tasks are valid wire JSON")
}

/// The schema of [`accounts`].
pub(crate) fn accounts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("Id", DataType::Utf8, false),
        Field::new("Name", DataType::Utf8, true),
        Field::new("Phone", DataType::Utf8, true),
        Field::new("Employees", DataType::Int64, true),
        Field::new("Revenue", DataType::Float64, true),
        Field::new("Active", DataType::Boolean, true),
        Field::new("CreatedDate", datetime_type(), true),
        Field::new("Score", DataType::Utf8, true),
    ]))
}

/// Four accounts with a null somewhere in most fields.
pub(crate) fn accounts() -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["001A", "001B", "001C", "001D"])),
        Arc::new(StringArray::from(vec![Some("Acme"), Some("Globex"), None, Some("Initech")])),
        Arc::new(StringArray::from(vec![Some("555-1234"), Some("555-9876"), Some("555-0000"), None])),
        Arc::new(Int64Array::from(vec![Some(10), Some(0), Some(-5), None])),
        Arc::new(Float64Array::from(vec![Some(1000.5), Some(250.0), None, Some(75.25)])),
        Arc::new(BooleanArray::from(vec![Some(true), Some(false), Some(true), None])),
        Arc::new(
            TimestampMillisecondArray::from(vec![Some(JAN_1), Some(FEB_15_NOON), Some(MAR_31_LAST_SECOND), None])
                .with_timezone(UTC),
        ),
        Arc::new(StringArray::from(vec![Some("12"), Some("abc"), Some("-3.5"), Some("0")])),
    ];
    RecordBatch::try_new(accounts_schema(), columns).expect("fixture batch matches its schema")
}
