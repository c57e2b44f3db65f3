//! DynamoDB Streams (JSON 1.0 protocol, `DynamoDBStreams_20120810.*`): generated wire types for the operations Sluice serves
//! (`models/dynamodbstreams-operations.txt`) and the loaded botocore model (copied from
//! botocore 1.44.8, see `models/README.md`).

#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The DynamoDB Streams botocore model (`dynamodbstreams` 2012-08-10) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/dynamodbstreams-service-2.json");

/// The DynamoDB Streams service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled DynamoDB Streams model is valid"))
}
