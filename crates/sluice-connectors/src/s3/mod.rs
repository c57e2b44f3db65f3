//! The S3 connector: buckets as a flow's source (CSV, JSON lines or Parquet
//! objects under a prefix) and destination (CSV, JSON lines or Parquet files
//! in AppFlow's key layout, published when the run succeeds), and the error
//! files of destinations that keep refused records in a bucket.
//!
//! - [`buckets`]: where buckets live (local folders or an S3 endpoint),
//!   reading in chunks, uploads that stay invisible until finished.
//! - [`layout`]: AppFlow's output key layout.
//! - [`source`], [`sink`], [`error_file`]: the data plane.

pub mod buckets;
pub mod error_file;
pub mod layout;
pub mod sink;
pub mod source;

use arrow_schema::SchemaRef;
use sluice_model::appflow::catalog::{ConnectorSpec, BATCH_TRIGGERS};
use sluice_model::appflow::{
    ConnectorProfileCredentials, ConnectorProfileProperties, ConnectorType, DestinationFlowConfig, S3InputFileType,
    SourceFlowConfig, WriteOperationType,
};
use sluice_model::ValidationProblems;
use sluice_transform::codec::OutputFormat;

#[cfg(feature = "s3-remote")]
pub use self::buckets::S3Endpoint;
pub use self::buckets::{
    check_bucket_name, BucketOwners, Buckets, ObjectChunks, ObjectInfo, ObjectStore, PendingObject,
};
pub use self::layout::OutputLayout;
use crate::plane::{DataSink, DataSource, RunScope};
use crate::{Connector, ConnectorError, Entity, EntityField};

/// Output file size when aggregation is off and no `targetFileSize` is set.
pub const DEFAULT_TARGET_FILE_BYTES: u64 = 128 * 1024 * 1024;

/// A flow's S3 source settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3SourceConfig {
    /// The bucket.
    pub bucket: String,
    /// Objects whose keys start with it are read, in key order.
    pub prefix: Option<String>,
    /// `s3InputFileType`: how objects that are not `.parquet` are read
    /// (CSV when unset).
    pub file_type: Option<S3InputFileType>,
}

/// A flow's S3 destination settings.
#[derive(Debug, Clone)]
pub struct S3DestinationConfig {
    /// The bucket.
    pub bucket: String,
    /// `bucketPrefix` and `prefixConfig`, for the key layout.
    pub bucket_prefix: Option<String>,
    /// `prefixConfig`.
    pub prefix_config: Option<sluice_model::appflow::PrefixConfig>,
    /// The file format (`fileType`; JSON lines when unset, as AppFlow).
    pub format: OutputFormat,
    /// A new file starts at this size; `None`: one file (`SingleFile`).
    pub target_file_bytes: Option<u64>,
}

/// The S3 connector over the server's buckets.
#[derive(Debug, Clone)]
pub struct S3Connector {
    buckets: Option<Buckets>,
}

impl S3Connector {
    /// The connector over `buckets` (`None`: this server keeps no buckets,
    /// and flows using them fail saying so).
    pub fn new(buckets: Option<Buckets>) -> Self {
        Self { buckets }
    }

    fn buckets(&self) -> Result<&Buckets, ConnectorError> {
        self.buckets
            .as_ref()
            .ok_or_else(|| ConnectorError::Invalid("this server has no object storage configured".into()))
    }
}

/// The S3 connector's catalog entry.
pub const SPEC: ConnectorSpec = ConnectorSpec {
    connector_type: ConnectorType::S3,
    description: "Object storage (a local folder by default, or any S3-compatible endpoint)",
    can_use_as_source: true,
    can_use_as_destination: true,
    requires_profile: false,
    trigger_types: BATCH_TRIGGERS,
    write_operations: &[WriteOperationType::Insert],
    union_member: "S3",
    same_type_destination: true,
    only_from: &[],
};

#[async_trait::async_trait]
impl Connector for S3Connector {
    type Profile = ();
    type SourceConfig = S3SourceConfig;
    type DestinationConfig = S3DestinationConfig;

    fn spec(&self) -> ConnectorSpec {
        SPEC
    }

    fn parse_profile(
        &self,
        _properties: &ConnectorProfileProperties,
        _credentials: Option<&ConnectorProfileCredentials>,
    ) -> Result<(), ValidationProblems> {
        Err(ValidationProblems::single("the S3 connector takes no connector profile"))
    }

    async fn check_connection(&self, _profile: &()) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn list_entities(&self, _profile: &()) -> Result<Vec<Entity>, ConnectorError> {
        Err(ConnectorError::Invalid("the S3 connector has no profile to list entities with".into()))
    }

    async fn describe_entity(&self, _profile: &(), _entity: &str) -> Result<Vec<EntityField>, ConnectorError> {
        Err(ConnectorError::Invalid("the S3 connector has no profile to describe entities with".into()))
    }

    fn parse_source(&self, source: &SourceFlowConfig) -> Result<S3SourceConfig, ValidationProblems> {
        let s3 = source
            .source_connector_properties
            .s3
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("sourceConnectorProperties.S3 is missing"))?;
        check_bucket_name(&s3.bucket_name).map_err(ValidationProblems::single)?;
        Ok(S3SourceConfig {
            bucket: s3.bucket_name.clone(),
            prefix: s3.bucket_prefix.clone().filter(|p| !p.is_empty()),
            file_type: s3.s3_input_format_config.as_ref().and_then(|c| c.s3_input_file_type),
        })
    }

    async fn open_source(
        &self,
        _profile: Option<()>,
        config: S3SourceConfig,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSource>, ConnectorError> {
        let buckets = self.buckets()?;
        buckets.check_owner(&config.bucket, &scope.account_id).await?;
        Ok(Box::new(source::S3Source::open(buckets.clone(), config, scope).await?))
    }

    fn parse_destination(
        &self,
        destination: &DestinationFlowConfig,
    ) -> Result<S3DestinationConfig, ValidationProblems> {
        let s3 = destination
            .destination_connector_properties
            .s3
            .as_ref()
            .ok_or_else(|| ValidationProblems::single("destinationConnectorProperties.S3 is missing"))?;
        check_bucket_name(&s3.bucket_name).map_err(ValidationProblems::single)?;
        let output = s3.s3_output_format_config.as_ref();
        let aggregation = output.and_then(|c| c.aggregation_config.as_ref());
        let target_file_bytes = match aggregation.and_then(|a| a.aggregation_type) {
            Some(sluice_model::appflow::AggregationType::SingleFile) => None,
            _ => Some(
                aggregation
                    .and_then(|a| a.target_file_size)
                    .filter(|mb| *mb > 0)
                    .map(|mb| mb as u64 * 1024 * 1024)
                    .unwrap_or(DEFAULT_TARGET_FILE_BYTES),
            ),
        };
        Ok(S3DestinationConfig {
            bucket: s3.bucket_name.clone(),
            bucket_prefix: s3.bucket_prefix.clone(),
            prefix_config: output.and_then(|c| c.prefix_config.clone()),
            format: output.and_then(|c| c.file_type).map(OutputFormat::from).unwrap_or(OutputFormat::JsonLines),
            target_file_bytes,
        })
    }

    async fn open_sink(
        &self,
        _profile: Option<()>,
        config: S3DestinationConfig,
        schema: SchemaRef,
        scope: &RunScope,
    ) -> Result<Box<dyn DataSink>, ConnectorError> {
        let buckets = self.buckets()?;
        buckets.check_owner(&config.bucket, &scope.account_id).await?;
        Ok(Box::new(sink::S3Sink::open(buckets, config, schema, scope)?))
    }
}
