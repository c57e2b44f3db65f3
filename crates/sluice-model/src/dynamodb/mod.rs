//! DynamoDB (JSON 1.0 protocol, `DynamoDB_20120810.*`): generated wire types for the operations Sluice serves
//! (`models/dynamodb-operations.txt`) and the loaded botocore model (copied from
//! botocore 1.44.8, see `models/README.md`).

pub mod item_size;
pub mod number;
#[rustfmt::skip]
pub mod types;

use std::sync::OnceLock;

pub use types::*;

use crate::shape_validator::ServiceModel;

/// The DynamoDB botocore model (`dynamodb` 2012-08-10) the types come from.
pub const MODEL_JSON: &str = include_str!("../../models/dynamodb-service-2.json");

/// The DynamoDB service model, loaded once.
pub fn service_model() -> &'static ServiceModel {
    static MODEL: OnceLock<ServiceModel> = OnceLock::new();
    MODEL.get_or_init(|| ServiceModel::from_json(MODEL_JSON).expect("bundled DynamoDB model is valid"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundled_models_load_and_check_requests() {
        let model = super::service_model();
        let problems = model.validate_input(
            "PutItem",
            &serde_json::json!({"TableName": "t", "Item": {"id": {"S": "1"}}}),
            crate::shape_validator::UnknownMembers::Reject,
        );
        assert!(problems.is_empty(), "{problems}");
        let problems = model.validate_input(
            "PutItem",
            &serde_json::json!({"TableName": "x"}),
            crate::shape_validator::UnknownMembers::Ignore,
        );
        // (DynamoDB itself names members in lower camel case here: 'item'.)
        assert!(problems.to_string().contains("Member must not be null"), "{problems}");
        assert!(crate::dynamodbstreams::service_model().input_shape("GetRecords").is_some());
    }
}
