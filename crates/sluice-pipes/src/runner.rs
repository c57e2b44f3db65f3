//! Moves records through running pipes: each server leases pipes through
//! the store (one server moves a pipe at a time), reads a batch of its
//! stream after the saved position, drops records past their maximum age,
//! keeps those its filters match, delivers them to the target and only
//! then saves the position (at least once). A failing batch is retried
//! with exponential backoff, halved first when the pipe bisects, and after
//! MaximumRetryAttempts goes to the dead-letter queue as a batch
//! description (Pipes' and Lambda's `DDBStreamBatchInfo`), and the pipe
//! goes on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_bus::queues::OutgoingMessage;
use sluice_bus::NewEvent;
use sluice_model::events::pattern::EventPattern;
use sluice_store::tables::StreamRow;
use sluice_store::PipeRow;
use sluice_tables::streams::ConsumerRecord;
use sluice_tables::TablesError;

use crate::definition::{PipeDefinition, StreamSettings, Target};
use crate::error::{PipesError, PipesResult};
use crate::service::{decode, now_ms, LoadedPipe, PipeService};

/// How long a server holds a pipe without renewing its lease.
const LEASE_MS: i64 = 30_000;
/// How often running pipes are looked at.
const POLL: Duration = Duration::from_millis(250);
/// Longest wait between two tries of a failing batch.
const MAX_BACKOFF_MS: i64 = 60_000;
/// Messages per queue send.
const QUEUE_CHUNK: usize = 10;

/// A failing batch's retry state (in memory: a server that takes a pipe
/// over starts counting again).
#[derive(Debug, Clone, Default)]
struct Retry {
    attempts: i64,
    next_at_ms: i64,
    /// The batch size after bisection.
    limit: Option<usize>,
}

/// The pipes runner of one server.
pub struct PipeRunner {
    service: PipeService,
    owner: String,
    retries: Mutex<HashMap<(String, String), Retry>>,
}

/// The ISO 8601 form of a time in ms.
fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

impl PipeRunner {
    /// A runner leasing pipes as `owner` (the server's id).
    pub fn new(service: PipeService, owner: impl Into<String>) -> Self {
        Self { service, owner: owner.into(), retries: Mutex::new(HashMap::new()) }
    }

    /// Moves records until `shutdown` completes, then gives its leases back.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "moving records through pipes failed; trying again");
            }
        }
        if let Ok(pipes) = self.service.store.running_pipes().await {
            for pipe in pipes.iter().filter(|p| p.lease_owner.as_deref() == Some(self.owner.as_str())) {
                let _ = self.service.store.release_pipe(&pipe.account_id, &pipe.name, &self.owner).await;
            }
        }
    }

    /// One pass over the running pipes this server can lease; returns how
    /// many records reached their targets.
    pub async fn tick(&self) -> PipesResult<usize> {
        let mut moved = 0;
        for row in self.service.store.running_pipes().await? {
            let now = now_ms();
            let Some(row) =
                self.service.store.lease_pipe(&row.account_id, &row.name, &self.owner, now, now + LEASE_MS).await?
            else {
                continue;
            };
            let (account_id, name) = (row.account_id.clone(), row.name.clone());
            match self.step(row).await {
                Ok(n) => moved += n,
                Err(e) => tracing::warn!(%account_id, pipe = %name, error = %e, "pipe step failed"),
            }
        }
        Ok(moved)
    }

    fn retry_of(&self, row: &PipeRow) -> Retry {
        let retries = self.retries.lock().expect("retry map lock");
        retries.get(&(row.account_id.clone(), row.name.clone())).cloned().unwrap_or_default()
    }

    fn set_retry(&self, row: &PipeRow, retry: Option<Retry>) {
        let mut retries = self.retries.lock().expect("retry map lock");
        let key = (row.account_id.clone(), row.name.clone());
        match retry {
            Some(retry) => retries.insert(key, retry),
            None => retries.remove(&key),
        };
    }

    async fn step(&self, row: PipeRow) -> PipesResult<usize> {
        let retry = self.retry_of(&row);
        let now = now_ms();
        if retry.next_at_ms > now {
            return Ok(0);
        }
        let pipe = decode(row)?;
        let settings = pipe.definition.stream_settings()?;
        let account_id = &pipe.row.account_id;
        let stream = match self.service.tables.consumer_stream(account_id, &pipe.definition.source).await {
            Ok(stream) => stream,
            Err(TablesError::ResourceNotFound(_)) => {
                self.service.stop_with_reason(&pipe, "The source stream does not exist any more").await?;
                return Ok(0);
            }
            Err(e) => return Err(PipesError::Internal(e.to_string())),
        };
        let after = match pipe.row.position.as_deref().and_then(|p| p.parse::<i64>().ok()) {
            Some(after) => after,
            None => stream.first_seq,
        };
        let limit = retry.limit.unwrap_or(settings.batch_size);
        let records = self
            .service
            .tables
            .consumer_records(&stream, after, limit)
            .await
            .map_err(|e| PipesError::Internal(e.to_string()))?;
        let Some(last) = records.last() else { return Ok(0) };
        let last_seq = last.seq;
        if retry.attempts == 0
            && records.len() < settings.batch_size
            && settings.batching_window_s > 0
            && now - records[0].created_at_ms < settings.batching_window_s * 1000
        {
            return Ok(0);
        }
        let (expired, fresh): (Vec<&ConsumerRecord>, Vec<&ConsumerRecord>) = records.iter().partition(|r| {
            settings.maximum_record_age_s >= 0 && now - r.created_at_ms > settings.maximum_record_age_s * 1000
        });
        if !expired.is_empty() {
            self.dead_letter(&pipe, &settings, &stream, &expired, "RecordAgeExceeded", 0, "").await?;
        }
        let filters = pipe.definition.filters()?;
        let events: Vec<&Value> = fresh.iter().map(|r| &r.event).filter(|e| passes(&filters, e)).collect();
        match self.deliver(&pipe, &events).await {
            Ok(()) => {
                self.set_retry(&pipe.row, None);
                self.service
                    .store
                    .save_pipe_position(account_id, &pipe.row.name, &self.owner, &last_seq.to_string())
                    .await?;
                Ok(events.len())
            }
            Err(error) => {
                let attempts = retry.attempts + 1;
                let exhausted = settings.maximum_retry_attempts >= 0 && attempts > settings.maximum_retry_attempts;
                if exhausted {
                    let failed: Vec<&ConsumerRecord> = fresh.clone();
                    self.dead_letter(&pipe, &settings, &stream, &failed, "RetryAttemptsExhausted", attempts, &error)
                        .await?;
                    self.set_retry(&pipe.row, None);
                    self.service
                        .store
                        .save_pipe_position(account_id, &pipe.row.name, &self.owner, &last_seq.to_string())
                        .await?;
                    return Ok(0);
                }
                let halved = (settings.bisect && records.len() > 1).then(|| records.len().div_ceil(2));
                let backoff = if halved.is_some() { 0 } else { (1000i64 << (attempts - 1).min(6)).min(MAX_BACKOFF_MS) };
                tracing::info!(account_id = %account_id, pipe = %pipe.row.name, attempts, error = %error, "pipe batch failed; retrying");
                self.set_retry(
                    &pipe.row,
                    Some(Retry { attempts, next_at_ms: now + backoff, limit: halved.or(retry.limit) }),
                );
                Ok(0)
            }
        }
    }

    /// Sends events to the pipe's target; the error in words on failure.
    async fn deliver(&self, pipe: &LoadedPipe, events: &[&Value]) -> Result<(), String> {
        if events.is_empty() {
            return Ok(());
        }
        let account_id = &pipe.row.account_id;
        match pipe.definition.target_of(account_id).map_err(|e| e.to_string())? {
            Target::Queue { name } => {
                let queues = self.service.bus.queues();
                let queue = queues.queue(account_id, &name).await.map_err(|e| e.to_string())?;
                for chunk in events.chunks(QUEUE_CHUNK) {
                    let messages = chunk
                        .iter()
                        .map(|e| OutgoingMessage {
                            body: e.to_string(),
                            delay_seconds: None,
                            attributes: Default::default(),
                        })
                        .collect();
                    queues.send(&queue, messages).await.map_err(|e| e.to_string())?;
                }
                Ok(())
            }
            Target::Bus { arn } => {
                let parameters = pipe
                    .definition
                    .target_parameters
                    .as_ref()
                    .and_then(|p| p.event_bridge_event_bus_parameters.as_ref());
                let source = parameters
                    .and_then(|p| p.source.as_ref())
                    .map(|s| s.expose().to_string())
                    .unwrap_or_else(|| format!("Pipe {}", pipe.row.name));
                let detail_type = parameters
                    .and_then(|p| p.detail_type.as_ref())
                    .map(|s| s.expose().to_string())
                    .unwrap_or_else(|| "Event from aws:dynamodb".to_string());
                let resources = parameters.and_then(|p| p.resources.clone()).unwrap_or_default();
                let new_events = events
                    .iter()
                    .map(|e| NewEvent {
                        source: source.clone(),
                        detail_type: detail_type.clone(),
                        detail: (*e).clone(),
                        resources: resources.clone(),
                        time_ms: None,
                    })
                    .collect();
                self.service
                    .bus
                    .publish(account_id, Some(&arn), new_events)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Tells the dead-letter queue (if the pipe has one) which records were
    /// given up, in the shape of Pipes' and Lambda's stream failure records.
    #[allow(clippy::too_many_arguments)]
    async fn dead_letter(
        &self,
        pipe: &LoadedPipe,
        settings: &StreamSettings,
        stream: &StreamRow,
        records: &[&ConsumerRecord],
        condition: &str,
        attempts: i64,
        error: &str,
    ) -> PipesResult<()> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else { return Ok(()) };
        tracing::warn!(
            account_id = %pipe.row.account_id, pipe = %pipe.row.name, condition, records = records.len(),
            "pipe gave up on a batch"
        );
        let Some(dlq) = &settings.dead_letter_arn else { return Ok(()) };
        let body = failure_record(&pipe.definition, stream, records, condition, attempts, error, first, last);
        self.service
            .bus
            .queues()
            .send_to_arn(dlq, body.to_string(), Default::default())
            .await
            .map_err(|e| PipesError::Internal(format!("the dead-letter queue refused the batch: {e}")))?;
        Ok(())
    }
}

fn passes(filters: &[EventPattern], event: &Value) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(event))
}

#[allow(clippy::too_many_arguments)]
fn failure_record(
    definition: &PipeDefinition,
    stream: &StreamRow,
    records: &[&ConsumerRecord],
    condition: &str,
    attempts: i64,
    error: &str,
    first: &ConsumerRecord,
    last: &ConsumerRecord,
) -> Value {
    json!({
        "version": "1.0",
        "timestamp": iso(now_ms()),
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "pipeArn": definition.arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"errorMessage": error},
        "DDBStreamBatchInfo": {
            "shardId": sluice_tables::streams::shard_id(stream),
            "startSequenceNumber": first.event["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": last.event["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": iso(first.created_at_ms),
            "approximateArrivalOfLastRecord": iso(last.created_at_ms),
            "batchSize": records.len(),
            "streamArn": stream.stream_arn,
        },
    })
}
