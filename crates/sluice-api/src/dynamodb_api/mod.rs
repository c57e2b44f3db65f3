//! DynamoDB's JSON 1.0 API (botocore model `dynamodb` 2012-08-10) and
//! DynamoDB Streams' (`dynamodbstreams` 2012-08-10), see
//! `crates/sluice-model/models/README.md`: `X-Amz-Target:
//! DynamoDB_20120810.<Operation>` or `DynamoDBStreams_20120810.<Operation>`,
//! each a call to the [`TableService`](sluice_tables::TableService) in the
//! caller's account.

mod error;

use axum::body::Bytes;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sluice_iam::Caller;
use sluice_model::shape_validator::ServiceModel;
use sluice_model::{dynamodb, dynamodbstreams};
use sluice_tables::TablesError;

use crate::json_protocol::{answer, body_json, parse};
use crate::state::AppState;

const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

fn ok<T: Serialize>(value: &T) -> Result<Response, TablesError> {
    Ok(answer(CONTENT_TYPE, value))
}

fn request<T: DeserializeOwned>(model: &ServiceModel, operation: &str, value: Value) -> Result<T, TablesError> {
    parse(model, operation, value).map_err(|problems| TablesError::Validation(problems.to_string()))
}

/// Runs one DynamoDB operation and renders its answer or error.
pub async fn handle(state: &AppState, caller: &Caller, operation: &str, body: &Bytes) -> Response {
    match run(state, &caller.account_id, operation, body).await {
        Ok(response) => response,
        Err(e) => error::render(e),
    }
}

/// Runs one DynamoDB Streams operation and renders its answer or error.
pub async fn handle_streams(state: &AppState, caller: &Caller, operation: &str, body: &Bytes) -> Response {
    match run_streams(state, &caller.account_id, operation, body).await {
        Ok(response) => response,
        Err(e) => error::render(e),
    }
}

async fn run(state: &AppState, account: &str, operation: &str, body: &Bytes) -> Result<Response, TablesError> {
    let tables = state.tables();
    let value = body_json(body).map_err(|p| TablesError::Validation(p.to_string()))?;
    let model = dynamodb::service_model();
    if model.input_shape(operation).is_none() && !matches!(operation, "ListTables") {
        return Err(TablesError::validation(format!("Unsupported operation: {operation}")));
    }
    macro_rules! input {
        () => {
            request(model, operation, value)?
        };
    }
    match operation {
        "CreateTable" => {
            let input: dynamodb::CreateTableInput = input!();
            ok(&json!({"TableDescription": tables.create_table(account, &input).await?}))
        }
        "DescribeTable" => {
            let input: dynamodb::DescribeTableInput = input!();
            ok(&json!({"Table": tables.describe_table(account, &input.table_name).await?}))
        }
        "ListTables" => {
            let input: dynamodb::ListTablesInput = input!();
            let (names, last) =
                tables.list_tables(account, input.exclusive_start_table_name.as_deref(), input.limit).await?;
            let mut output = json!({"TableNames": names});
            if let Some(last) = last {
                output["LastEvaluatedTableName"] = json!(last);
            }
            ok(&output)
        }
        "UpdateTable" => {
            let input: dynamodb::UpdateTableInput = input!();
            ok(&json!({"TableDescription": tables.update_table(account, &input).await?}))
        }
        "DeleteTable" => {
            let input: dynamodb::DeleteTableInput = input!();
            ok(&json!({"TableDescription": tables.delete_table(account, &input.table_name).await?}))
        }
        "PutItem" => ok(&tables.put_item(account, &input!()).await?),
        "GetItem" => ok(&tables.get_item(account, &input!()).await?),
        "UpdateItem" => ok(&tables.update_item(account, &input!()).await?),
        "DeleteItem" => ok(&tables.delete_item(account, &input!()).await?),
        "Query" => ok(&tables.query(account, &input!()).await?),
        "Scan" => ok(&tables.scan(account, &input!()).await?),
        "BatchGetItem" => ok(&tables.batch_get_item(account, &input!()).await?),
        "BatchWriteItem" => ok(&tables.batch_write_item(account, &input!()).await?),
        "TransactGetItems" => ok(&tables.transact_get_items(account, &input!()).await?),
        "TransactWriteItems" => ok(&tables.transact_write_items(account, &input!()).await?),
        "UpdateTimeToLive" => {
            let input: dynamodb::UpdateTimeToLiveInput = input!();
            let spec =
                tables.update_time_to_live(account, &input.table_name, &input.time_to_live_specification).await?;
            ok(&json!({"TimeToLiveSpecification": spec}))
        }
        "DescribeTimeToLive" => {
            let input: dynamodb::DescribeTimeToLiveInput = input!();
            ok(&json!({"TimeToLiveDescription": tables.describe_time_to_live(account, &input.table_name).await?}))
        }
        "TagResource" => {
            let input: dynamodb::TagResourceInput = input!();
            tables.tag_resource(account, &input.resource_arn, &input.tags).await?;
            ok(&json!({}))
        }
        "UntagResource" => {
            let input: dynamodb::UntagResourceInput = input!();
            tables.untag_resource(account, &input.resource_arn, &input.tag_keys).await?;
            ok(&json!({}))
        }
        "ListTagsOfResource" => {
            let input: dynamodb::ListTagsOfResourceInput = input!();
            ok(&json!({"Tags": tables.list_tags(account, &input.resource_arn).await?}))
        }
        other => Err(TablesError::validation(format!("Unsupported operation: {other}"))),
    }
}

async fn run_streams(state: &AppState, account: &str, operation: &str, body: &Bytes) -> Result<Response, TablesError> {
    let tables = state.tables();
    let value = body_json(body).map_err(|p| TablesError::Validation(p.to_string()))?;
    let model = dynamodbstreams::service_model();
    macro_rules! input {
        () => {
            request(model, operation, value)?
        };
    }
    match operation {
        "ListStreams" => ok(&tables.list_streams(account, &input!()).await?),
        "DescribeStream" => ok(&tables.describe_stream(account, &input!()).await?),
        "GetShardIterator" => ok(&tables.get_shard_iterator(account, &input!()).await?),
        "GetRecords" => ok(&tables.get_records(account, &input!()).await?),
        other => Err(TablesError::validation(format!("Unsupported operation: {other}"))),
    }
}
