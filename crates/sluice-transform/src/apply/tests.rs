use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMillisecondType};
use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::json;

use crate::data_type::datetime_type;
use crate::test_support::{accounts, accounts_schema, tasks, FEB_15_NOON, JAN_1};
use crate::{TaskOutput, TaskPlan, TransformError, ValidationDrop};

fn run(task_list: serde_json::Value) -> TaskOutput {
    let plan = TaskPlan::compile(&tasks(task_list), &accounts_schema()).expect("tasks compile");
    plan.apply(accounts()).expect("tasks apply")
}

fn run_err(task_list: serde_json::Value) -> TransformError {
    let plan = TaskPlan::compile(&tasks(task_list), &accounts_schema()).expect("tasks compile");
    plan.apply(accounts()).expect_err("apply fails")
}

fn names(output: &TaskOutput) -> Vec<String> {
    output.batch.schema().fields().iter().map(|field| field.name().clone()).collect()
}

fn text(output: &TaskOutput, column: &str) -> Vec<Option<String>> {
    let array = output.batch.column_by_name(column).expect("column exists");
    array.as_string::<i32>().iter().map(|value| value.map(str::to_string)).collect()
}

fn ids(output: &TaskOutput) -> Vec<String> {
    text(output, "Id").into_iter().flatten().collect()
}

fn filtered_ids(operator: &str, field: &str, properties: serde_json::Value) -> Vec<String> {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Filter", "sourceFields": [field], "connectorOperator": {"Salesforce": operator},
         "taskProperties": properties}
    ]));
    ids(&output)
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|value| Some(value.to_string())).collect()
}

#[test]
fn projection_keeps_the_listed_fields_in_order() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Name", "Id"], "connectorOperator": {"Salesforce": "PROJECTION"}}
    ]));
    assert_eq!(names(&output), vec!["Name", "Id"]);
    assert_eq!(text(&output, "Name"), vec![Some("Acme".into()), Some("Globex".into()), None, Some("Initech".into())]);
    assert_eq!(ids(&output), vec!["001A", "001B", "001C", "001D"]);
    assert_eq!((output.rows_in, output.rows_filtered, output.rows_dropped), (4, 0, 0));
}

#[test]
fn fields_only_filtered_on_are_not_in_the_output() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Filter", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "GREATER_THAN"},
         "taskProperties": {"VALUE": "0"}}
    ]));
    assert_eq!(names(&output), vec!["Id"]);
    assert_eq!(ids(&output), vec!["001A"]);
    assert_eq!((output.rows_in, output.rows_filtered, output.rows_dropped), (4, 3, 0));
}

#[test]
fn every_comparison_operator_filters_rows() {
    // Employees: 001A 10, 001B 0, 001C -5, 001D null (a null never matches).
    let cases: [(&str, &[&str]); 6] = [
        ("LESS_THAN", &["001C"]),
        ("LESS_THAN_OR_EQUAL_TO", &["001B", "001C"]),
        ("GREATER_THAN", &["001A"]),
        ("GREATER_THAN_OR_EQUAL_TO", &["001A", "001B"]),
        ("EQUAL_TO", &["001B"]),
        ("NOT_EQUAL_TO", &["001A", "001C"]),
    ];
    for (operator, expected) in cases {
        assert_eq!(filtered_ids(operator, "Employees", json!({"VALUE": "0"})), expected.to_vec(), "{operator}");
    }
}

#[test]
fn operators_work_in_every_connector_member() {
    for member in ["S3", "Marketo", "Salesforce", "CustomConnector"] {
        let output = run(json!([
            {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {member: "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["Employees"], "connectorOperator": {member: "GREATER_THAN"},
             "taskProperties": {"VALUE": "0"}}
        ]));
        assert_eq!(ids(&output), vec!["001A"], "{member}");
    }
}

#[test]
fn between_includes_both_bounds() {
    // Revenue: 1000.5, 250, null, 75.25
    let between = filtered_ids("BETWEEN", "Revenue", json!({"LOWER_BOUND": "250", "UPPER_BOUND": "1000.5"}));
    assert_eq!(between, vec!["001A", "001B"]);
}

#[test]
fn datetime_filters_take_epoch_milliseconds_or_iso_text() {
    let millis = filtered_ids(
        "BETWEEN",
        "CreatedDate",
        json!({"DATA_TYPE": "datetime", "LOWER_BOUND": JAN_1.to_string(), "UPPER_BOUND": FEB_15_NOON.to_string()}),
    );
    assert_eq!(millis, vec!["001A", "001B"]);
    let iso = filtered_ids(
        "BETWEEN",
        "CreatedDate",
        json!({"LOWER_BOUND": "2024-02-01T00:00:00Z", "UPPER_BOUND": "2024-12-31T00:00:00.000+0000"}),
    );
    assert_eq!(iso, vec!["001B", "001C"]);
    let after = filtered_ids("GREATER_THAN", "CreatedDate", json!({"VALUE": "2024-02-15T12:00:00Z"}));
    assert_eq!(after, vec!["001C"]);
}

#[test]
fn contains_matches_text_case_sensitively() {
    assert_eq!(filtered_ids("CONTAINS", "Name", json!({"VALUE": "ob"})), vec!["001B"]);
    assert_eq!(filtered_ids("CONTAINS", "Name", json!({"VALUE": "e"})), vec!["001A", "001B", "001D"]);
    assert_eq!(filtered_ids("CONTAINS", "Name", json!({"VALUE": "ACME"})), Vec::<String>::new());
    // Numbers are matched on their text.
    assert_eq!(filtered_ids("CONTAINS", "Employees", json!({"VALUE": "1"})), vec!["001A"]);
}

#[test]
fn equal_to_with_values_matches_any_of_them() {
    let values = json!({"VALUES": "[\"Acme\", \"Initech\"]"});
    assert_eq!(filtered_ids("EQUAL_TO", "Name", values.clone()), vec!["001A", "001D"]);
    assert_eq!(filtered_ids("NOT_EQUAL_TO", "Name", values), vec!["001B"]);
    assert_eq!(filtered_ids("EQUAL_TO", "Employees", json!({"VALUES": "10, -5"})), vec!["001A", "001C"]);
}

#[test]
fn data_type_makes_text_compare_as_numbers() {
    // Score: "12", "abc", "-3.5", "0"; "abc" is not a number so it never matches.
    let numeric = filtered_ids("GREATER_THAN", "Score", json!({"DATA_TYPE": "double", "VALUE": "-4"}));
    assert_eq!(numeric, vec!["001A", "001C", "001D"]);
    // Without DATA_TYPE the comparison is on text: "abc" > "2" and "12" < "2".
    let textual = filtered_ids("GREATER_THAN", "Score", json!({"VALUE": "2"}));
    assert_eq!(textual, vec!["001B"]);
}

#[test]
fn fractional_values_compare_integer_fields_as_numbers() {
    assert_eq!(filtered_ids("GREATER_THAN", "Employees", json!({"VALUE": "5.5"})), vec!["001A"]);
    assert_eq!(filtered_ids("LESS_THAN", "Employees", json!({"VALUE": "-4.5"})), vec!["001C"]);
}

#[test]
fn boolean_filters_compare_booleans() {
    assert_eq!(filtered_ids("EQUAL_TO", "Active", json!({"VALUE": "true"})), vec!["001A", "001C"]);
}

#[test]
fn all_row_filters_must_match() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Filter", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "GREATER_THAN_OR_EQUAL_TO"},
         "taskProperties": {"VALUE": "0"}},
        {"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "LESS_THAN"},
         "taskProperties": {"VALUE": "500"}}
    ]));
    assert_eq!(ids(&output), vec!["001B"]);
    assert_eq!(output.rows_filtered, 3);
}

#[test]
fn map_renames_and_converts_types() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Id", "Employees", "Revenue", "Active", "CreatedDate"],
         "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Map", "sourceFields": ["Id"], "destinationField": "AccountId",
         "connectorOperator": {"Salesforce": "NO_OP"},
         "taskProperties": {"SOURCE_DATA_TYPE": "id", "DESTINATION_DATA_TYPE": "string"}},
        {"taskType": "Map", "sourceFields": ["Employees"], "destinationField": "EmployeesText",
         "connectorOperator": {"Salesforce": "NO_OP"}, "taskProperties": {"DESTINATION_DATA_TYPE": "string"}},
        {"taskType": "Map", "sourceFields": ["Revenue"], "destinationField": "RevenueWhole",
         "connectorOperator": {"Salesforce": "NO_OP"}, "taskProperties": {"DESTINATION_DATA_TYPE": "integer"}},
        {"taskType": "Map", "sourceFields": ["Active"], "destinationField": "ActiveText",
         "connectorOperator": {"Salesforce": "NO_OP"}, "taskProperties": {"DESTINATION_DATA_TYPE": "string"}},
        {"taskType": "Map", "sourceFields": ["CreatedDate"], "destinationField": "CreatedDay",
         "connectorOperator": {"Salesforce": "NO_OP"}, "taskProperties": {"DESTINATION_DATA_TYPE": "date"}}
    ]));
    assert_eq!(names(&output), vec!["AccountId", "EmployeesText", "RevenueWhole", "ActiveText", "CreatedDay"]);
    let schema = output.batch.schema();
    let types: Vec<&DataType> = schema.fields().iter().map(|field| field.data_type()).collect();
    assert_eq!(types, vec![&DataType::Utf8, &DataType::Utf8, &DataType::Int64, &DataType::Utf8, &DataType::Date32]);
    assert_eq!(text(&output, "AccountId"), some(&["001A", "001B", "001C", "001D"]));
    assert_eq!(text(&output, "EmployeesText"), vec![Some("10".into()), Some("0".into()), Some("-5".into()), None]);
    let whole: Vec<Option<i64>> =
        output.batch.column_by_name("RevenueWhole").expect("column").as_primitive::<Int64Type>().iter().collect();
    assert_eq!(whole, vec![Some(1000), Some(250), None, Some(75)]);
    assert_eq!(text(&output, "ActiveText"), vec![Some("true".into()), Some("false".into()), Some("true".into()), None]);
    let days: Vec<Option<i32>> =
        output.batch.column_by_name("CreatedDay").expect("column").as_primitive::<Date32Type>().iter().collect();
    // 2024-01-01, 2024-02-15 and 2024-03-31 as days since 1970-01-01.
    assert_eq!(days, vec![Some(19723), Some(19768), Some(19813), None]);
}

#[test]
fn map_parses_text_into_numbers_booleans_dates_and_datetimes() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("Amount", DataType::Utf8, true),
        Field::new("Flag", DataType::Utf8, true),
        Field::new("Day", DataType::Utf8, true),
        Field::new("Stamp", DataType::Utf8, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![Some("12.5"), None])),
        Arc::new(StringArray::from(vec![Some("true"), Some("false")])),
        Arc::new(StringArray::from(vec![Some("2024-03-01"), None])),
        Arc::new(StringArray::from(vec![Some("2024-03-01T10:00:00.000+0000"), Some("2024-03-01T12:30:00Z")])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).expect("batch");
    let plan = TaskPlan::compile(
        &tasks(json!([
            {"taskType": "Map", "sourceFields": ["Amount"], "destinationField": "Amount",
             "taskProperties": {"DESTINATION_DATA_TYPE": "currency"}},
            {"taskType": "Map", "sourceFields": ["Flag"], "destinationField": "Flag",
             "taskProperties": {"DESTINATION_DATA_TYPE": "boolean"}},
            {"taskType": "Map", "sourceFields": ["Day"], "destinationField": "Day",
             "taskProperties": {"DESTINATION_DATA_TYPE": "date"}},
            {"taskType": "Map", "sourceFields": ["Stamp"], "destinationField": "Stamp",
             "taskProperties": {"DESTINATION_DATA_TYPE": "datetime"}}
        ])),
        &schema,
    )
    .expect("compiles");
    let output = plan.apply(batch).expect("applies");
    let amounts: Vec<Option<f64>> = output.batch.column(0).as_primitive::<Float64Type>().iter().collect();
    assert_eq!(amounts, vec![Some(12.5), None]);
    let flags: Vec<Option<bool>> = output.batch.column(1).as_boolean().iter().collect();
    assert_eq!(flags, vec![Some(true), Some(false)]);
    let days: Vec<Option<i32>> = output.batch.column(2).as_primitive::<Date32Type>().iter().collect();
    assert_eq!(days, vec![Some(19783), None]);
    assert_eq!(output.batch.column(3).data_type(), &datetime_type());
    let stamps: Vec<Option<i64>> = output.batch.column(3).as_primitive::<TimestampMillisecondType>().iter().collect();
    assert_eq!(stamps, vec![Some(1_709_287_200_000), Some(1_709_296_200_000)]);
}

#[test]
fn a_value_that_does_not_convert_names_field_and_row() {
    let error = run_err(json!([
        {"taskType": "Map", "sourceFields": ["Score"], "destinationField": "ScoreNumber",
         "connectorOperator": {"Salesforce": "NO_OP"}, "taskProperties": {"DESTINATION_DATA_TYPE": "double"}}
    ]));
    assert!(
        matches!(&error, TransformError::Conversion { field, row: 1, target } if field == "Score" && target == "double")
    );
    assert_eq!(error.to_string(), "value of field 'Score' at row 1 of the batch cannot be converted to double");
}

#[test]
fn conversion_errors_name_the_row_of_the_input_batch() {
    let error = run_err(json!([
        {"taskType": "Filter", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "LESS_THAN_OR_EQUAL_TO"},
         "taskProperties": {"VALUE": "0"}},
        {"taskType": "Map", "sourceFields": ["Name"], "destinationField": "Name",
         "taskProperties": {"DESTINATION_DATA_TYPE": "integer"}}
    ]));
    // After the filter the rows are 001B (Globex) and 001C (null): Globex at input row 1.
    assert!(matches!(error, TransformError::Conversion { row: 1, .. }), "{error}");
}

#[test]
fn one_source_field_can_map_to_several_destinations() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Map", "sourceFields": ["Id"], "destinationField": "Id", "connectorOperator": {"Salesforce": "NO_OP"}},
        {"taskType": "Map", "sourceFields": ["Id"], "destinationField": "LegacyId", "connectorOperator": {"Salesforce": "NO_OP"}}
    ]));
    assert_eq!(names(&output), vec!["Id", "LegacyId"]);
    assert_eq!(text(&output, "LegacyId"), text(&output, "Id"));
}

#[test]
fn map_all_passes_every_field_but_the_excluded_ones() {
    let output = run(json!([
        {"taskType": "Map_all", "sourceFields": [], "connectorOperator": {"Salesforce": "NO_OP"},
         "taskProperties": {"EXCLUDE_SOURCE_FIELDS_LIST": "[\"Phone\",\"Score\"]"}}
    ]));
    assert_eq!(names(&output), vec!["Id", "Name", "Employees", "Revenue", "Active", "CreatedDate"]);
    assert_eq!(output.batch.num_rows(), 4);
    assert_eq!(output.batch.column_by_name("Revenue"), accounts().column_by_name("Revenue"));
}

#[test]
fn map_all_with_listed_fields_adds_new_ones_only_when_asked() {
    let listed =
        json!({"taskType": "Map_all", "sourceFields": ["Id", "Name"], "connectorOperator": {"Salesforce": "NO_OP"}});
    assert_eq!(names(&run(json!([listed.clone()]))), vec!["Id", "Name"]);
    let mut including = listed;
    including["taskProperties"] = json!({"INCLUDE_NEW_FIELDS": "true", "EXCLUDE_SOURCE_FIELDS_LIST": "Score"});
    assert_eq!(
        names(&run(json!([including]))),
        vec!["Id", "Name", "Phone", "Employees", "Revenue", "Active", "CreatedDate"]
    );
}

#[test]
fn map_all_fields_can_be_remapped_in_place() {
    let output = run(json!([
        {"taskType": "Map_all", "sourceFields": [], "taskProperties": {"EXCLUDE_SOURCE_FIELDS_LIST": "Phone, Score, CreatedDate"}},
        {"taskType": "Map", "sourceFields": ["Employees"], "destinationField": "Employees",
         "taskProperties": {"DESTINATION_DATA_TYPE": "string"}}
    ]));
    assert_eq!(names(&output), vec!["Id", "Name", "Employees", "Revenue", "Active"]);
    assert_eq!(output.batch.column_by_name("Employees").expect("column").data_type(), &DataType::Utf8);
}

fn validate(operator: &str, field: &str, action: &str) -> serde_json::Value {
    json!([
        {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Validate", "sourceFields": [field], "connectorOperator": {"Salesforce": operator},
         "taskProperties": {"VALIDATION_ACTION": action}}
    ])
}

#[test]
fn drop_record_validations_drop_and_count_failures() {
    let cases: [(&str, &str, &[&str]); 6] = [
        ("VALIDATE_NON_NULL", "Name", &["001A", "001B", "001D"]),
        ("VALIDATE_NON_ZERO", "Employees", &["001A", "001C", "001D"]),
        ("VALIDATE_NON_NEGATIVE", "Employees", &["001A", "001B", "001D"]),
        ("VALIDATE_NUMERIC", "Score", &["001A", "001C", "001D"]),
        // Text is read as a number: "0" is zero, "abc" is not a number.
        ("VALIDATE_NON_ZERO", "Score", &["001A", "001C"]),
        ("VALIDATE_NON_NEGATIVE", "Score", &["001A", "001D"]),
    ];
    for (operator, field, kept) in cases {
        let output = run(validate(operator, field, "DropRecord"));
        assert_eq!(ids(&output), kept.to_vec(), "{operator} on {field}");
        let dropped = 4 - kept.len();
        assert_eq!((output.rows_filtered, output.rows_dropped), (0, dropped), "{operator} on {field}");
        assert_eq!(
            output.validation_drops,
            vec![ValidationDrop { task: 2, field: field.to_string(), check: operator, rows: dropped }]
        );
    }
}

#[test]
fn numeric_validations_pass_on_numeric_columns() {
    let output = run(validate("VALIDATE_NUMERIC", "Revenue", "DropRecord"));
    assert_eq!(output.rows_dropped, 0);
    assert!(output.validation_drops.is_empty());
}

#[test]
fn terminate_flow_validations_fail_with_field_and_row() {
    let error = run_err(validate("VALIDATE_NON_NULL", "Name", "TerminateFlow"));
    assert!(matches!(
        &error,
        TransformError::ValidationFailed { task: 2, field, check: "VALIDATE_NON_NULL", row: 2 } if field == "Name"
    ));
    assert_eq!(
        error.to_string(),
        "validation VALIDATE_NON_NULL failed on field 'Name' at row 2 of the batch (task 2); the flow is terminated"
    );
}

#[test]
fn filtered_records_are_not_validated() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "GREATER_THAN"},
         "taskProperties": {"VALUE": "100"}},
        {"taskType": "Validate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "VALIDATE_NON_NULL"},
         "taskProperties": {"VALIDATION_ACTION": "TerminateFlow"}},
        {"taskType": "Validate", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "VALIDATE_NON_ZERO"},
         "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
        {"taskType": "Validate", "sourceFields": ["Score"], "connectorOperator": {"Salesforce": "VALIDATE_NUMERIC"},
         "taskProperties": {"VALIDATION_ACTION": "DropRecord"}}
    ]));
    // Revenue > 100 keeps 001A and 001B (001C, the null Name, is filtered
    // out); 001B has zero employees and "abc" as score, dropped once.
    assert_eq!(ids(&output), vec!["001A"]);
    assert_eq!((output.rows_in, output.rows_filtered, output.rows_dropped), (4, 2, 1));
    assert_eq!(
        output.validation_drops,
        vec![ValidationDrop { task: 4, field: "Employees".into(), check: "VALIDATE_NON_ZERO", rows: 1 }]
    );
}

fn masked(operator: &str, properties: serde_json::Value) -> Vec<Option<String>> {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": operator},
         "taskProperties": properties}
    ]));
    text(&output, "Phone")
}

#[test]
fn mask_replaces_all_first_or_last_characters() {
    assert_eq!(
        masked("MASK_ALL", json!({"MASK_VALUE": "*"})),
        vec![Some("********".into()), Some("********".into()), Some("********".into()), None]
    );
    assert_eq!(
        masked("MASK_FIRST_N", json!({"MASK_VALUE": "#", "MASK_LENGTH": "3"})),
        vec![Some("###-1234".into()), Some("###-9876".into()), Some("###-0000".into()), None]
    );
    assert_eq!(
        masked("MASK_LAST_N", json!({"MASK_VALUE": "X", "MASK_LENGTH": "4"})),
        vec![Some("555-XXXX".into()), Some("555-XXXX".into()), Some("555-XXXX".into()), None]
    );
    assert_eq!(
        masked("MASK_LAST_N", json!({"MASK_VALUE": "X", "MASK_LENGTH": "20"})),
        vec![Some("XXXXXXXX".into()), Some("XXXXXXXX".into()), Some("XXXXXXXX".into()), None]
    );
}

#[test]
fn mask_counts_characters_not_bytes() {
    let schema = Arc::new(Schema::new(vec![Field::new("Name", DataType::Utf8, true)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(StringArray::from(vec!["Zoë Ünal"])) as ArrayRef])
        .expect("batch");
    let plan = TaskPlan::compile(
        &tasks(json!([
            {"taskType": "Map", "sourceFields": ["Name"], "destinationField": "Name"},
            {"taskType": "Mask", "sourceFields": ["Name"], "connectorOperator": {"S3": "MASK_FIRST_N"},
             "taskProperties": {"MASK_VALUE": "•", "MASK_LENGTH": "3"}}
        ])),
        &schema,
    )
    .expect("compiles");
    let output = plan.apply(batch).expect("applies");
    assert_eq!(output.batch.column(0).as_string::<i32>().value(0), "••• Ünal");
}

#[test]
fn masked_values_feed_the_mapped_fields() {
    let output = run(json!([
        {"taskType": "Map", "sourceFields": ["Employees"], "destinationField": "Staff"},
        {"taskType": "Mask", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "MASK_ALL"},
         "taskProperties": {"MASK_VALUE": "0"}}
    ]));
    assert_eq!(names(&output), vec!["Staff"]);
    assert_eq!(output.batch.column(0).data_type(), &DataType::Utf8);
    assert_eq!(text(&output, "Staff"), vec![Some("00".into()), Some("0".into()), Some("00".into()), None]);
}

#[test]
fn truncate_cuts_text_to_the_length() {
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Name", "Revenue"], "connectorOperator": {"Salesforce": "PROJECTION"}},
        {"taskType": "Truncate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "NO_OP"},
         "taskProperties": {"TRUNCATE_LENGTH": "3"}},
        {"taskType": "Truncate", "sourceFields": ["Revenue"], "taskProperties": {"TRUNCATE_LENGTH": "0"}}
    ]));
    assert_eq!(text(&output, "Name"), vec![Some("Acm".into()), Some("Glo".into()), None, Some("Ini".into())]);
    assert_eq!(text(&output, "Revenue"), vec![Some("".into()), Some("".into()), None, Some("".into())]);
}

#[test]
fn merge_concatenates_with_the_concat_format() {
    let output = run(json!([
        {"taskType": "Merge", "sourceFields": ["Name", "Id"], "destinationField": "Label",
         "connectorOperator": {"Salesforce": "NO_OP"}, "taskProperties": {"CONCAT_FORMAT": "${Name} (${Id})"}},
        {"taskType": "Merge", "sourceFields": ["Id", "Employees"], "destinationField": "Plain"}
    ]));
    assert_eq!(names(&output), vec!["Label", "Plain"]);
    assert_eq!(text(&output, "Label"), some(&["Acme (001A)", "Globex (001B)", " (001C)", "Initech (001D)"]));
    assert_eq!(text(&output, "Plain"), some(&["001A10", "001B0", "001C-5", "001D"]));
}

fn arithmetic(operator: &str, order: &str) -> TaskOutput {
    run(json!([
        {"taskType": "Arithmetic", "sourceFields": ["Employees", "Revenue"], "destinationField": "Result",
         "connectorOperator": {"Salesforce": operator}, "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": order}}
    ]))
}

fn doubles(output: &TaskOutput, column: &str) -> Vec<Option<f64>> {
    output.batch.column_by_name(column).expect("column").as_primitive::<Float64Type>().iter().collect()
}

#[test]
fn arithmetic_computes_in_the_fields_order() {
    // Employees: 10, 0, -5, null; Revenue: 1000.5, 250, null, 75.25
    assert_eq!(
        doubles(&arithmetic("ADDITION", "Employees,Revenue"), "Result"),
        vec![Some(1010.5), Some(250.0), None, None]
    );
    assert_eq!(
        doubles(&arithmetic("SUBTRACTION", "Revenue,Employees"), "Result"),
        vec![Some(990.5), Some(250.0), None, None]
    );
    assert_eq!(
        doubles(&arithmetic("SUBTRACTION", "[\"Employees\",\"Revenue\"]"), "Result"),
        vec![Some(-990.5), Some(-250.0), None, None]
    );
    assert_eq!(
        doubles(&arithmetic("MULTIPLICATION", "Employees,Revenue"), "Result"),
        vec![Some(10005.0), Some(0.0), None, None]
    );
    // Division by zero gives null.
    assert_eq!(doubles(&arithmetic("DIVISION", "Revenue,Employees"), "Result"), vec![Some(100.05), None, None, None]);
}

#[test]
fn arithmetic_on_integers_stays_integer_except_division() {
    let output = run(json!([
        {"taskType": "Arithmetic", "sourceFields": ["Employees", "Employees"], "destinationField": "Squared",
         "connectorOperator": {"Salesforce": "MULTIPLICATION"},
         "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Employees,Employees"}},
        {"taskType": "Arithmetic", "sourceFields": ["Employees", "Employees"], "destinationField": "Ratio",
         "connectorOperator": {"Salesforce": "DIVISION"},
         "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Employees,Employees"}},
        {"taskType": "Arithmetic", "sourceFields": ["Employees", "Revenue"], "destinationField": "Total",
         "connectorOperator": {"Salesforce": "ADDITION"},
         "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Revenue,Employees", "DESTINATION_DATA_TYPE": "string"}}
    ]));
    let squared: Vec<Option<i64>> =
        output.batch.column_by_name("Squared").expect("column").as_primitive::<Int64Type>().iter().collect();
    assert_eq!(squared, vec![Some(100), Some(0), Some(25), None]);
    assert_eq!(doubles(&output, "Ratio"), vec![Some(1.0), None, Some(1.0), None]);
    assert_eq!(text(&output, "Total"), vec![Some("1010.5".into()), Some("250.0".into()), None, None]);
}

#[test]
fn arithmetic_reads_numbers_from_text_and_fails_on_other_text() {
    let error = run_err(json!([
        {"taskType": "Arithmetic", "sourceFields": ["Score", "Employees"], "destinationField": "Sum",
         "connectorOperator": {"Salesforce": "ADDITION"}, "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Score,Employees"}}
    ]));
    assert_eq!(error.to_string(), "value of field 'Score' at row 1 of the batch cannot be converted to Float64");
    let output = run(json!([
        {"taskType": "Filter", "sourceFields": ["Score"], "connectorOperator": {"Salesforce": "NOT_EQUAL_TO"},
         "taskProperties": {"VALUE": "abc"}},
        {"taskType": "Arithmetic", "sourceFields": ["Score", "Employees"], "destinationField": "Sum",
         "connectorOperator": {"Salesforce": "ADDITION"}, "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Score,Employees"}}
    ]));
    assert_eq!(doubles(&output, "Sum"), vec![Some(22.0), Some(-8.5), None]);
}

#[test]
fn passthrough_keeps_fields_as_they_are() {
    let output = run(json!([
        {"taskType": "Passthrough", "sourceFields": ["Revenue", "Active"], "connectorOperator": {"Salesforce": "NO_OP"}},
        {"taskType": "Passthrough", "sourceFields": ["Id"], "destinationField": "ExternalId"}
    ]));
    assert_eq!(names(&output), vec!["Revenue", "Active", "ExternalId"]);
    let source = accounts();
    assert_eq!(output.batch.column(0), source.column_by_name("Revenue").expect("column"));
    assert_eq!(output.batch.column(1), source.column_by_name("Active").expect("column"));
    assert_eq!(text(&output, "ExternalId"), some(&["001A", "001B", "001C", "001D"]));
}

#[test]
fn partition_keys_are_exposed_in_order() {
    let plan = TaskPlan::compile(
        &tasks(json!([
            {"taskType": "Filter", "sourceFields": ["Id", "Name", "Active"], "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Partition", "sourceFields": [], "taskProperties": {"ORDERED_PARTITION_KEYS_LIST": "[\"Active\",\"Name\"]"}}
        ])),
        &accounts_schema(),
    )
    .expect("compiles");
    assert_eq!(plan.partition_keys(), ["Active".to_string(), "Name".to_string()]);
    let output = plan.apply(accounts()).expect("applies");
    assert_eq!(names(&output), vec!["Id", "Name", "Active"]);
}

#[test]
fn source_fields_lists_every_field_read() {
    let plan = TaskPlan::compile(
        &tasks(json!([
            {"taskType": "Filter", "sourceFields": ["Id", "Name"], "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "GREATER_THAN"},
             "taskProperties": {"VALUE": "1"}},
            {"taskType": "Validate", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "VALIDATE_NON_NULL"},
             "taskProperties": {"VALIDATION_ACTION": "DropRecord"}},
            {"taskType": "Map", "sourceFields": ["Name"], "destinationField": "AccountName"}
        ])),
        &accounts_schema(),
    )
    .expect("compiles");
    assert_eq!(plan.source_fields(), ["Revenue", "Phone", "Id", "Name"].map(String::from));
    let schema = plan.output_schema();
    let output_fields: Vec<&str> = schema.fields().iter().map(|field| field.name().as_str()).collect();
    assert_eq!(output_fields, vec!["Id", "AccountName"]);
}

#[test]
fn a_field_missing_from_the_batch_is_an_error() {
    let plan = TaskPlan::compile(
        &tasks(json!([{"taskType": "Filter", "sourceFields": ["Id", "Name"], "connectorOperator": {"Salesforce": "PROJECTION"}}])),
        &accounts_schema(),
    )
    .expect("compiles");
    let partial = accounts().project(&[0]).expect("projection");
    let error = plan.apply(partial).expect_err("missing field");
    assert_eq!(error.to_string(), "field 'Name' is not in the record batch");
}

#[test]
fn batches_whose_types_drifted_get_the_compiled_types() {
    let plan = TaskPlan::compile(
        &tasks(json!([{"taskType": "Filter", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "PROJECTION"}}])),
        &accounts_schema(),
    )
    .expect("compiles");
    let schema = Arc::new(Schema::new(vec![Field::new("Employees", DataType::Int32, true)]));
    let batch =
        RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![Some(3), None])) as ArrayRef]).expect("batch");
    let output = plan.apply(batch).expect("applies");
    let values: Vec<Option<i64>> = output.batch.column(0).as_primitive::<Int64Type>().iter().collect();
    assert_eq!(values, vec![Some(3), None]);
}

#[test]
fn an_empty_batch_gives_an_empty_output() {
    let plan = TaskPlan::compile(
        &tasks(json!([
            {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Merge", "sourceFields": ["Name"], "destinationField": "Copy"}
        ])),
        &accounts_schema(),
    )
    .expect("compiles");
    let output = plan.apply(accounts().slice(0, 0)).expect("applies");
    assert_eq!((output.batch.num_rows(), output.batch.num_columns()), (0, 2));
    assert_eq!((output.rows_in, output.rows_filtered, output.rows_dropped), (0, 0, 0));
}
