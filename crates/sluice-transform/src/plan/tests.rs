use serde_json::json;

use crate::test_support::{accounts_schema, tasks};
use crate::{check_tasks, TaskPlan, TransformError};

/// Every problem `compile` reports for the tasks, in order.
fn problems(task_list: serde_json::Value) -> Vec<String> {
    match TaskPlan::compile(&tasks(task_list), &accounts_schema()) {
        Ok(_) => Vec::new(),
        Err(TransformError::InvalidTasks(problems)) => problems.problems().to_vec(),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

const PROJECT_ID: &str =
    r#"{"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}}"#;

/// The projection of `Id` followed by `task` (which is task 2).
fn second(task: serde_json::Value) -> Vec<String> {
    let projection: serde_json::Value = serde_json::from_str(PROJECT_ID).expect("json");
    problems(json!([projection, task]))
}

#[test]
fn a_valid_flow_compiles() {
    assert_eq!(
        problems(json!([
            {"taskType": "Filter", "sourceFields": ["Id", "Name"], "connectorOperator": {"Salesforce": "PROJECTION"},
             "taskProperties": {"DATA_TYPE": "string"}},
            {"taskType": "Map", "sourceFields": ["Id"], "destinationField": "Id", "connectorOperator": {"Salesforce": "NO_OP"},
             "taskProperties": {"SOURCE_DATA_TYPE": "id", "DESTINATION_DATA_TYPE": "id"}},
            {"taskType": "Validate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "VALIDATE_NON_NULL"},
             "taskProperties": {"VALIDATION_ACTION": "DropRecord"}}
        ])),
        Vec::<String>::new()
    );
}

#[test]
fn tasks_that_need_an_operator_say_so() {
    for task_type in ["Filter", "Validate", "Arithmetic", "Mask"] {
        assert_eq!(
            second(json!({"taskType": task_type, "sourceFields": ["Name"], "destinationField": "X"})),
            vec![format!("tasks.2.member: a {task_type} task needs a connectorOperator")],
            "{task_type}"
        );
    }
}

#[test]
fn operators_must_fit_the_task_type() {
    assert_eq!(
        second(json!({"taskType": "Filter", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "MASK_ALL"}})),
        vec!["tasks.2.member.connectorOperator: MASK_ALL is not an operator of a Filter task; use one of PROJECTION, \
              LESS_THAN, GREATER_THAN, CONTAINS, BETWEEN, LESS_THAN_OR_EQUAL_TO, GREATER_THAN_OR_EQUAL_TO, EQUAL_TO, NOT_EQUAL_TO"]
    );
    assert_eq!(
        second(json!({"taskType": "Map", "sourceFields": ["Name"], "destinationField": "N",
                      "connectorOperator": {"Salesforce": "ADDITION"}})),
        vec!["tasks.2.member.connectorOperator: ADDITION is not an operator of a Map task; use one of NO_OP"]
    );
    assert_eq!(
        second(
            json!({"taskType": "Validate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
                      "taskProperties": {"VALIDATION_ACTION": "DropRecord", "VALUE": "x"}})
        ),
        vec![
            "tasks.2.member.connectorOperator: EQUAL_TO is not an operator of a Validate task; use one of \
              VALIDATE_NON_NULL, VALIDATE_NON_ZERO, VALIDATE_NON_NEGATIVE, VALIDATE_NUMERIC",
            "tasks.2.member.taskProperties.VALUE does not apply to a Validate task"
        ]
    );
}

#[test]
fn different_operators_in_several_members_are_refused() {
    assert_eq!(
        second(json!({"taskType": "Filter", "sourceFields": ["Name"],
                      "connectorOperator": {"Salesforce": "PROJECTION", "S3": "LESS_THAN"}})),
        vec!["tasks.2.member.connectorOperator sets different operators in several members: LESS_THAN, PROJECTION"]
    );
}

#[test]
fn filter_operators_need_their_properties() {
    assert_eq!(
        second(json!({"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"S3": "BETWEEN"}})),
        vec![
            "tasks.2.member.taskProperties: a Filter task with operator BETWEEN needs LOWER_BOUND",
            "tasks.2.member.taskProperties: a Filter task with operator BETWEEN needs UPPER_BOUND",
        ]
    );
    for operator in ["LESS_THAN", "GREATER_THAN", "LESS_THAN_OR_EQUAL_TO", "GREATER_THAN_OR_EQUAL_TO", "CONTAINS"] {
        assert_eq!(
            second(
                json!({"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": operator}})
            ),
            vec![format!("tasks.2.member.taskProperties: a Filter task with operator {operator} needs VALUE")]
        );
    }
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "EQUAL_TO"}})
        ),
        vec!["tasks.2.member.taskProperties: a Filter task with operator EQUAL_TO needs VALUE or VALUES"]
    );
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "NOT_EQUAL_TO"},
                      "taskProperties": {"VALUE": "a", "VALUES": "a,b"}})
        ),
        vec!["tasks.2.member.taskProperties: a Filter task with operator NOT_EQUAL_TO takes VALUE or VALUES, not both"]
    );
    assert_eq!(
        second(json!({"taskType": "Filter", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
                      "taskProperties": {"VALUES": "[]"}})),
        vec!["tasks.2.member.taskProperties.VALUES is an empty list"]
    );
}

#[test]
fn filters_take_the_right_number_of_fields() {
    assert_eq!(
        problems(
            json!([{"taskType": "Filter", "sourceFields": [], "connectorOperator": {"Salesforce": "PROJECTION"}}])
        ),
        vec!["tasks.1.member: a Filter task with operator PROJECTION takes at least one source field, found 0"]
    );
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Name", "Id"], "connectorOperator": {"Salesforce": "LESS_THAN"},
                      "taskProperties": {"VALUE": "x"}})
        ),
        vec!["tasks.2.member: a Filter task with operator LESS_THAN takes exactly one source field, found 2"]
    );
}

#[test]
fn filter_values_must_parse_as_the_field_type() {
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Employees"], "connectorOperator": {"Salesforce": "LESS_THAN"},
                      "taskProperties": {"VALUE": "ten"}})
        ),
        vec![
            "tasks.2.member.taskProperties.VALUE: 'ten' is not a valid Int64 value for field 'Employees' \
              (Cast error: Cannot cast string 'ten' to value of Int64 type)"
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Filter", "sourceFields": ["CreatedDate"], "connectorOperator": {"Salesforce": "BETWEEN"},
                      "taskProperties": {"LOWER_BOUND": "yesterday", "UPPER_BOUND": "1704067200000"}})),
        vec!["tasks.2.member.taskProperties.LOWER_BOUND: 'yesterday' is not a valid Timestamp(ms, \"+00:00\") value for \
              field 'CreatedDate' (Parser error: Error parsing timestamp from 'yesterday': timestamp must contain at least 10 characters)"]
    );
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Active"], "connectorOperator": {"Salesforce": "EQUAL_TO"},
                      "taskProperties": {"VALUES": "true, maybe"}})
        ),
        vec![
            "tasks.2.member.taskProperties.VALUES: 'maybe' is not a valid Boolean value for field 'Active' \
              (Cast error: Cannot cast value 'maybe' to value of Boolean type)"
        ]
    );
}

#[test]
fn fields_must_compare_as_the_data_type() {
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Active"], "connectorOperator": {"Salesforce": "LESS_THAN"},
                      "taskProperties": {"VALUE": "1", "DATA_TYPE": "date"}})
        ),
        vec!["tasks.2.member: field 'Active' of type Boolean cannot be compared as Date32"]
    );
}

#[test]
fn mask_needs_value_and_length() {
    assert_eq!(
        second(
            json!({"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "MASK_FIRST_N"}})
        ),
        vec![
            "tasks.2.member.taskProperties: a Mask task with operator MASK_FIRST_N needs MASK_VALUE",
            "tasks.2.member.taskProperties: a Mask task with operator MASK_FIRST_N needs MASK_LENGTH",
        ]
    );
    assert_eq!(
        second(
            json!({"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "MASK_LAST_N"},
                      "taskProperties": {"MASK_VALUE": "**", "MASK_LENGTH": "-1"}})
        ),
        vec![
            "tasks.2.member.taskProperties.MASK_VALUE must be exactly one character, found '**'",
            "tasks.2.member.taskProperties.MASK_LENGTH must be a whole number of 0 or more, found '-1'",
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "MASK_ALL"},
                      "taskProperties": {"MASK_VALUE": "*", "MASK_LENGTH": "2"}})),
        vec!["tasks.2.member.taskProperties.MASK_LENGTH does not apply to a Mask task with operator MASK_ALL"]
    );
}

#[test]
fn truncate_needs_a_length() {
    assert_eq!(
        second(json!({"taskType": "Truncate", "sourceFields": ["Name"]})),
        vec!["tasks.2.member.taskProperties: a Truncate task needs TRUNCATE_LENGTH"]
    );
    assert_eq!(
        second(json!({"taskType": "Truncate", "sourceFields": ["Name"], "taskProperties": {"TRUNCATE_LENGTH": "ten"}})),
        vec!["tasks.2.member.taskProperties.TRUNCATE_LENGTH must be a whole number of 0 or more, found 'ten'"]
    );
}

#[test]
fn validate_needs_a_known_action() {
    assert_eq!(
        second(
            json!({"taskType": "Validate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "VALIDATE_NON_NULL"}})
        ),
        vec!["tasks.2.member.taskProperties: a Validate task with operator VALIDATE_NON_NULL needs VALIDATION_ACTION"]
    );
    assert_eq!(
        second(
            json!({"taskType": "Validate", "sourceFields": ["Name"], "connectorOperator": {"Salesforce": "VALIDATE_NON_NULL"},
                      "taskProperties": {"VALIDATION_ACTION": "Ignore"}})
        ),
        vec!["tasks.2.member.taskProperties.VALIDATION_ACTION must be DropRecord or TerminateFlow, found 'Ignore'"]
    );
    assert_eq!(
        second(
            json!({"taskType": "Validate", "sourceFields": ["CreatedDate"], "connectorOperator": {"Salesforce": "VALIDATE_NON_ZERO"},
                      "taskProperties": {"VALIDATION_ACTION": "DropRecord"}})
        ),
        vec!["tasks.2.member: VALIDATE_NON_ZERO cannot check field 'CreatedDate' of type Timestamp(ms, \"+00:00\")"]
    );
}

#[test]
fn arithmetic_needs_the_fields_order_and_a_destination() {
    assert_eq!(
        second(json!({"taskType": "Arithmetic", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "ADDITION"}})),
        vec![
            "tasks.2.member: an Arithmetic task with operator ADDITION takes at least 2 source fields, found 1",
            "tasks.2.member: an Arithmetic task needs a destinationField",
            "tasks.2.member.taskProperties: an Arithmetic task with operator ADDITION needs MATH_OPERATION_FIELDS_ORDER",
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Arithmetic", "sourceFields": ["Revenue", "Employees"], "destinationField": "Sum",
                      "connectorOperator": {"Salesforce": "ADDITION"},
                      "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Revenue,Phone"}})),
        vec![
            "tasks.2.member.taskProperties.MATH_OPERATION_FIELDS_ORDER must list each of the sourceFields once, \
              found [Revenue, Phone] for sourceFields [Revenue, Employees]"
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Arithmetic", "sourceFields": ["Revenue", "Active"], "destinationField": "Sum",
                      "connectorOperator": {"Salesforce": "DIVISION"},
                      "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Revenue,Active"}})),
        Vec::<String>::new(),
        "booleans count as 0 and 1"
    );
    assert_eq!(
        second(json!({"taskType": "Arithmetic", "sourceFields": ["Revenue", "CreatedDate"], "destinationField": "Sum",
                      "connectorOperator": {"Salesforce": "ADDITION"},
                      "taskProperties": {"MATH_OPERATION_FIELDS_ORDER": "Revenue,CreatedDate"}})),
        vec!["tasks.2.member: field 'CreatedDate' of type Timestamp(ms, \"+00:00\") is not a number"]
    );
}

#[test]
fn merge_placeholders_must_name_source_fields() {
    assert_eq!(
        second(json!({"taskType": "Merge", "sourceFields": ["Name"], "destinationField": "Label",
                      "taskProperties": {"CONCAT_FORMAT": "${Name} ${Phone}"}})),
        vec![
            "tasks.2.member.taskProperties.CONCAT_FORMAT: placeholder '${Phone}' is not one of the task's sourceFields"
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Merge", "sourceFields": ["Name"], "taskProperties": {"CONCAT_FORMAT": "${Name"}})),
        vec![
            "tasks.2.member: a Merge task needs a destinationField",
            "tasks.2.member.taskProperties.CONCAT_FORMAT has a '${' without a closing '}' at character 0",
        ]
    );
}

#[test]
fn map_needs_one_source_and_a_destination() {
    assert_eq!(
        second(
            json!({"taskType": "Map", "sourceFields": ["Name", "Phone"], "connectorOperator": {"Salesforce": "NO_OP"}})
        ),
        vec![
            "tasks.2.member: a Map task takes exactly one source field, found 2",
            "tasks.2.member: a Map task needs a destinationField",
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Map", "sourceFields": [""], "destinationField": "X"})),
        vec!["tasks.2.member.sourceFields.1: a field name cannot be empty"]
    );
}

#[test]
fn data_types_must_be_known_and_convertible() {
    assert_eq!(
        second(json!({"taskType": "Map", "sourceFields": ["Name"], "destinationField": "Name",
                      "taskProperties": {"SOURCE_DATA_TYPE": "blob", "DESTINATION_DATA_TYPE": "hologram"}})),
        vec![
            "tasks.2.member.taskProperties.SOURCE_DATA_TYPE: 'blob' is not a data type Sluice knows",
            "tasks.2.member.taskProperties.DESTINATION_DATA_TYPE: 'hologram' is not a data type Sluice knows",
        ]
    );
    assert_eq!(
        second(json!({"taskType": "Map", "sourceFields": ["CreatedDate"], "destinationField": "Created",
                      "taskProperties": {"DESTINATION_DATA_TYPE": "boolean"}})),
        vec!["tasks.2.member.taskProperties.DESTINATION_DATA_TYPE: field 'CreatedDate' of type Timestamp(ms, \"+00:00\") \
              cannot be converted to 'boolean'"]
    );
}

#[test]
fn map_all_properties_are_checked() {
    assert_eq!(
        problems(json!([{"taskType": "Map_all", "sourceFields": [],
                         "taskProperties": {"INCLUDE_NEW_FIELDS": "maybe", "EXCLUDE_SOURCE_FIELDS_LIST": "Name"}}])),
        vec!["tasks.1.member.taskProperties.INCLUDE_NEW_FIELDS must be true or false, found 'maybe'"]
    );
    assert_eq!(
        problems(json!([{"taskType": "Map_all", "sourceFields": ["Nope"],
                         "taskProperties": {"EXCLUDE_SOURCE_FIELDS_LIST": "[\"Gone\"]"}}])),
        vec![
            "tasks.1.member.taskProperties.EXCLUDE_SOURCE_FIELDS_LIST: field 'Gone' does not exist in the source",
            "tasks.1.member.sourceFields: field 'Nope' does not exist in the source",
        ]
    );
}

#[test]
fn partition_keys_must_be_output_fields() {
    assert_eq!(
        second(json!({"taskType": "Partition", "sourceFields": []})),
        vec!["tasks.2.member.taskProperties: a Partition task needs ORDERED_PARTITION_KEYS_LIST"]
    );
    assert_eq!(
        problems(json!([
            serde_json::from_str::<serde_json::Value>(PROJECT_ID).expect("json"),
            {"taskType": "Partition", "sourceFields": [], "taskProperties": {"ORDERED_PARTITION_KEYS_LIST": "Id,Name"}},
            {"taskType": "Partition", "sourceFields": [], "taskProperties": {"ORDERED_PARTITION_KEYS_LIST": "Id"}}
        ])),
        vec![
            "tasks.2.member.taskProperties.ORDERED_PARTITION_KEYS_LIST: 'Name' is not an output field",
            "tasks.3.member: a flow takes one Partition task, tasks.2.member is one already",
        ]
    );
}

#[test]
fn properties_that_do_not_apply_are_refused() {
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "BETWEEN"},
                      "taskProperties": {"LOWER_BOUND": "1", "UPPER_BOUND": "2", "MASK_LENGTH": "3", "SUBFIELD_CATEGORY_MAP": "x"}})
        ),
        vec![
            "tasks.2.member.taskProperties.MASK_LENGTH does not apply to a Filter task with operator BETWEEN",
            "tasks.2.member.taskProperties.SUBFIELD_CATEGORY_MAP: Sluice does not support this property",
        ]
    );
    assert_eq!(
        second(
            json!({"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "LESS_THAN"},
                      "taskProperties": {"VALUE": "1", "VALUES": "1,2"}})
        ),
        vec!["tasks.2.member.taskProperties.VALUES does not apply to a Filter task with operator LESS_THAN"]
    );
}

#[test]
fn unknown_source_fields_are_named() {
    assert_eq!(
        problems(json!([
            {"taskType": "Filter", "sourceFields": ["Id", "Nmae"], "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["Amount"], "connectorOperator": {"Salesforce": "GREATER_THAN"},
             "taskProperties": {"VALUE": "1"}},
            {"taskType": "Map", "sourceFields": ["Emial"], "destinationField": "Email"}
        ])),
        vec![
            "tasks.1.member.sourceFields: field 'Nmae' does not exist in the source",
            "tasks.2.member.sourceFields: field 'Amount' does not exist in the source",
            "tasks.3.member.sourceFields: field 'Emial' does not exist in the source",
        ]
    );
}

#[test]
fn two_tasks_cannot_write_one_destination() {
    assert_eq!(
        second(json!({"taskType": "Merge", "sourceFields": ["Name"], "destinationField": "Id"})),
        Vec::<String>::new(),
        "an explicit task replaces a projected field"
    );
    assert_eq!(
        problems(json!([
            {"taskType": "Map", "sourceFields": ["Name"], "destinationField": "Label"},
            {"taskType": "Merge", "sourceFields": ["Phone"], "destinationField": "Label"}
        ])),
        vec!["tasks.2.member.destinationField: 'Label' is already written by tasks.1.member"]
    );
}

#[test]
fn a_flow_must_select_some_field() {
    assert_eq!(
        problems(
            json!([{"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "GREATER_THAN"},
                         "taskProperties": {"VALUE": "1"}}])
        ),
        vec!["tasks: no task selects an output field; add a Filter task with PROJECTION, a Map task or a Map_all task"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let error = TaskPlan::compile(
        &tasks(json!([
            {"taskType": "Filter", "sourceFields": ["Id"], "connectorOperator": {"Salesforce": "PROJECTION"}},
            {"taskType": "Filter", "sourceFields": ["Revenue"], "connectorOperator": {"Salesforce": "BETWEEN"}},
            {"taskType": "Truncate", "sourceFields": ["Name"]},
            {"taskType": "Map", "sourceFields": ["Nope"], "destinationField": "X"}
        ])),
        &accounts_schema(),
    )
    .expect_err("invalid");
    assert_eq!(
        error.to_string(),
        "4 validation errors detected: \
         tasks.2.member.taskProperties: a Filter task with operator BETWEEN needs LOWER_BOUND; \
         tasks.2.member.taskProperties: a Filter task with operator BETWEEN needs UPPER_BOUND; \
         tasks.3.member.taskProperties: a Truncate task needs TRUNCATE_LENGTH; \
         tasks.4.member.sourceFields: field 'Nope' does not exist in the source"
    );
    assert_eq!(error.validation_problems().map(|problems| problems.len()), Some(4));
}

#[test]
fn check_tasks_needs_no_schema() {
    let checked = check_tasks(&tasks(json!([
        {"taskType": "Map", "sourceFields": ["Unknown"], "destinationField": "X"},
        {"taskType": "Mask", "sourceFields": ["Phone"], "connectorOperator": {"Salesforce": "MASK_ALL"}}
    ])));
    assert_eq!(
        checked.problems(),
        ["tasks.2.member.taskProperties: a Mask task with operator MASK_ALL needs MASK_VALUE"]
    );
}
