//! EventBridge as a flow's destination: each record one event on the
//! partner event bus, a batch at a time (each batch durable on the bus
//! before the next is read). An event whose detail would take it over
//! EventBridge's 256 KB goes to the error-handling bucket as
//! `PREFIX/FLOW/EXECUTION/large-event-ATTEMPT-N.json`, and the bus gets a pointer event
//! (`detail`: `{"s3Bucket", "s3Key", "s3Url", "sizeBytes"}`); without a
//! bucket such a record is refused. Events are not transactional: what a
//! batch published stays published if the run fails later.

use std::sync::Arc;

use arrow_array::RecordBatch;
use serde_json::{json, Value};

use super::{EventBridgeDestinationConfig, PartnerEvent, PartnerEventBus};
use crate::plane::{json_rows, DataSink, RefusedRecord, RunScope};
use crate::ConnectorError;

/// EventBridge's largest event (source, detail-type and detail counted).
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// Events being published for one run.
pub struct EventBridgeSink {
    bus: Arc<dyn PartnerEventBus>,
    buckets: Option<crate::s3::Buckets>,
    config: EventBridgeDestinationConfig,
    detail_type: String,
    scope: RunScope,
    bytes_written: u64,
    offloaded: u64,
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl EventBridgeSink {
    /// A sink publishing on `bus` for the run of `scope`.
    pub fn new(
        bus: Arc<dyn PartnerEventBus>,
        buckets: Option<crate::s3::Buckets>,
        config: EventBridgeDestinationConfig,
        scope: &RunScope,
    ) -> Self {
        let detail_type = scope.source_object.clone().unwrap_or_else(|| "AppFlow Event".to_string());
        Self { bus, buckets, config, detail_type, scope: scope.clone(), bytes_written: 0, offloaded: 0 }
    }

    /// Writes a large event's detail to the bucket; the pointer detail.
    async fn offload(&mut self, bucket: &str, detail: &str) -> Result<Value, ConnectorError> {
        let buckets = self
            .buckets
            .as_ref()
            .ok_or_else(|| ConnectorError::Invalid("this server has no object storage for large events".into()))?;
        let prefix = self.config.error_handling.as_ref().and_then(|c| c.bucket_prefix.as_deref()).unwrap_or("");
        let key = [prefix.trim_matches('/'), &self.scope.flow_name, &self.scope.execution_id]
            .iter()
            .filter(|part| !part.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("/");
        self.offloaded += 1;
        let key = format!("{key}/large-event-{}-{}.json", self.scope.attempt, self.offloaded);
        buckets.put(bucket, &key, detail.as_bytes().to_vec()).await?;
        Ok(json!({
            "s3Bucket": bucket,
            "s3Key": key,
            "s3Url": format!("s3://{bucket}/{key}"),
            "sizeBytes": detail.len(),
        }))
    }
}

#[async_trait::async_trait]
impl DataSink for EventBridgeSink {
    async fn write(&mut self, batch: RecordBatch) -> Result<Vec<RefusedRecord>, ConnectorError> {
        self.scope.check_cancelled()?;
        let overhead = self.config.source.len() + self.detail_type.len();
        let bucket = self.config.error_handling.as_ref().and_then(|c| c.bucket_name.clone());
        let mut events = Vec::new();
        let mut refused = Vec::new();
        for row in json_rows(&batch)? {
            let detail = Value::Object(row);
            let detail_text = detail.to_string();
            let detail = if overhead + detail_text.len() <= MAX_EVENT_BYTES {
                detail
            } else if let Some(bucket) = &bucket {
                self.offload(bucket, &detail_text).await?
            } else {
                let cells = detail.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), text(v))).collect();
                refused.push(RefusedRecord {
                    cells,
                    error: format!(
                        "the event is {} bytes, over EventBridge's {MAX_EVENT_BYTES}; set errorHandlingConfig.bucketName \
                         to send large events through a bucket",
                        overhead + detail_text.len()
                    ),
                });
                continue;
            };
            self.bytes_written += (overhead + detail.to_string().len()) as u64;
            events.push(PartnerEvent { detail_type: self.detail_type.clone(), detail });
        }
        if !events.is_empty() {
            self.bus.publish(&self.config.source, events).await?;
        }
        Ok(refused)
    }

    async fn finish(&mut self) -> Result<Vec<RefusedRecord>, ConnectorError> {
        Ok(Vec::new())
    }

    async fn commit(self: Box<Self>) -> Result<(), ConnectorError> {
        Ok(())
    }

    async fn abort(self: Box<Self>) {}

    fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
}
