//! Event triggers: listeners that subscribe to an active event flow's
//! source and queue runs of the events they collect.
//!
//! Every server runs one [`Listeners`] supervisor. A flow's listener is
//! held by one server at a time through a lease in the store (claimed,
//! renewed on every scan, taken over when it expires), and only the holder
//! can queue a run of collected events: the store checks the lease in the
//! transaction that queues it.
//!
//! No event is lost or delivered twice: a listener queues one run at a
//! time, and the position it subscribes from (the last event of the last
//! successful run) moves only when that run committed, in the worker. A
//! listener that starts (after a restart, a takeover or a failed run) first
//! waits until no run of the flow is queued or running, then subscribes
//! from the committed position; a run that was queued or running when its
//! server stopped is finished by a worker (with the same events) before
//! that.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_connectors::events::{EventStart, EventSubscription};
use sluice_model::appflow::ExecutionStatus;
use sluice_store::{FlowRecord, MetadataStore};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::trigger::RunRequest;
use crate::{EngineError, RunError};

/// Opens event subscriptions for flows (the pipeline, through the flow's
/// source connector).
#[async_trait::async_trait]
pub trait EventSubscriber: Send + Sync + 'static {
    /// Subscribes to the events of `flow`'s source (a flow of `account_id`)
    /// from `start`.
    async fn subscribe(
        &self,
        account_id: &str,
        flow: &FlowRecord,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, RunError>;
}

#[async_trait::async_trait]
impl EventSubscriber for crate::pipeline::PipelineRunner {
    async fn subscribe(
        &self,
        account_id: &str,
        flow: &FlowRecord,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, RunError> {
        crate::pipeline::PipelineRunner::subscribe(self, account_id, flow, start).await
    }
}

/// Settings of a server's listeners.
#[derive(Clone)]
pub struct ListenerConfig {
    /// Identifies this server in listener leases.
    pub owner: String,
    /// How long a listener lease lasts without renewal.
    pub lease: Duration,
    /// How often the supervisor looks for flows to listen to and renews
    /// its leases.
    pub scan_every: Duration,
    /// Most events in one run.
    pub batch_records: usize,
    /// How long a listener keeps collecting after the first event of a
    /// batch before it queues the run.
    pub batch_wait: Duration,
    /// How often a listener looks whether its run ended.
    pub poll: Duration,
    /// Longest wait between attempts after failures.
    pub max_backoff: Duration,
    /// What time it is (lease times).
    pub clock: Arc<dyn Clock>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            owner: format!("listener-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(30),
            scan_every: Duration::from_secs(2),
            batch_records: 1000,
            batch_wait: Duration::from_secs(1),
            poll: Duration::from_millis(200),
            max_backoff: Duration::from_secs(300),
            clock: Arc::new(crate::clock::SystemClock),
        }
    }
}

/// Where a flow's subscription starts, from its stored source state:
/// `{"checkpoint": ...}` after a committed run, `{"sinceMs": N}` (set at
/// activation) before the first.
pub fn event_start(source_state: Option<&Value>) -> EventStart {
    let Some(state) = source_state else { return EventStart::default() };
    if let Some(checkpoint) = state.get("checkpoint").filter(|c| !c.is_null()) {
        return EventStart { checkpoint: Some(checkpoint.clone()), since_ms: None };
    }
    EventStart { checkpoint: None, since_ms: state.get("sinceMs").and_then(Value::as_i64) }
}

/// The source state a flow starts listening from when activated at `now_ms`.
pub fn initial_event_state(now_ms: i64) -> Value {
    json!({ "sinceMs": now_ms })
}

/// The supervisor of a server's listeners.
pub struct Listeners {
    store: Arc<dyn MetadataStore>,
    subscriber: Arc<dyn EventSubscriber>,
    config: ListenerConfig,
    /// By (account, flow).
    running: HashMap<(String, String), JoinHandle<()>>,
}

impl Listeners {
    /// A supervisor over `store`, subscribing with `subscriber`.
    pub fn new(store: Arc<dyn MetadataStore>, subscriber: Arc<dyn EventSubscriber>, config: ListenerConfig) -> Self {
        Self { store, subscriber, config, running: HashMap::new() }
    }

    /// The flows this server listens to now (of every account).
    pub fn listening(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.running.iter().filter(|(_, task)| !task.is_finished()).map(|((_, name), _)| name.clone()).collect();
        names.sort();
        names
    }

    /// Claims or renews the leases of flows that want a listener, starts
    /// the listeners it won and stops those it lost or that are not wanted
    /// any more.
    pub async fn scan(&mut self) -> Result<(), EngineError> {
        let now = self.config.clock.now_ms();
        let lease_ms = self.config.lease.as_millis() as i64;
        let wanted = self.store.listening_flows().await?;
        let mut keep = Vec::new();
        for row in wanted {
            let free = row.owner.as_deref().is_none_or(|owner| owner == self.config.owner)
                || row.until_ms.is_none_or(|until| until < now);
            let store = self.store.for_account(&row.account_id);
            if free && store.claim_listener(&row.flow_name, &self.config.owner, now, lease_ms).await? {
                keep.push((row.account_id, row.flow_name));
            }
        }
        self.running.retain(|(account, name), task| {
            let kept = keep.iter().any(|(a, n)| a == account && n == name) && !task.is_finished();
            if !kept {
                task.abort();
                tracing::info!(flow = %name, account = %account, "listener stopped");
            }
            kept
        });
        for (account, name) in keep {
            if self.running.contains_key(&(account.clone(), name.clone())) {
                continue;
            }
            tracing::info!(flow = %name, account = %account, owner = %self.config.owner, "listener started");
            let listener = FlowListener {
                flow_name: name.clone(),
                store: self.store.for_account(&account),
                subscriber: self.subscriber.clone(),
                config: self.config.clone(),
            };
            self.running.insert((account, name), tokio::spawn(listener.run()));
        }
        Ok(())
    }

    /// Scans every `scan_every` until `shutdown` resolves, then stops its
    /// listeners and gives their leases back so another server takes over
    /// at once.
    pub async fn run_until(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.scan().await {
                tracing::error!(error = %e, "listeners cannot read or claim their leases");
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(self.config.scan_every) => {}
            }
        }
        self.stop().await;
    }

    /// Stops every listener and gives the leases back.
    pub async fn stop(&mut self) {
        for ((account, name), task) in self.running.drain() {
            task.abort();
            let _ = task.await;
            if let Err(e) = self.store.for_account(&account).release_listener(&name, &self.config.owner).await {
                tracing::warn!(flow = %name, error = %e, "cannot give the listener lease back; it will expire");
            }
        }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        for task in self.running.values() {
            task.abort();
        }
    }
}

/// Why a listener starts over.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] sluice_store::StoreError),
    #[error("{0}")]
    Source(String),
    #[error("run {execution_id} of the collected events ended {status}; the events are read again from the last committed one")]
    RunFailed { execution_id: String, status: String },
}

/// The listener of one flow.
struct FlowListener {
    flow_name: String,
    store: Arc<dyn MetadataStore>,
    subscriber: Arc<dyn EventSubscriber>,
    config: ListenerConfig,
}

impl FlowListener {
    /// Listens until aborted (or the flow is gone), starting over with
    /// backoff after failures.
    async fn run(self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.listen().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(flow = %self.flow_name, error = %e, retry_in_s = backoff.as_secs(), "listener starts over");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }

    /// Waits until no run of the flow is queued or running.
    async fn until_idle(&self) -> Result<(), ListenError> {
        while self.store.run_in_flight(&self.flow_name).await? {
            tokio::time::sleep(self.config.poll).await;
        }
        Ok(())
    }

    async fn listen(&self) -> Result<(), ListenError> {
        self.until_idle().await?;
        let Some(flow) = self.store.get_flow(&self.flow_name).await? else { return Ok(()) };
        let trigger = self.store.get_trigger(&self.flow_name).await?;
        let start = event_start(trigger.as_ref().and_then(|t| t.source_state.as_ref()));
        tracing::info!(flow = %self.flow_name, checkpoint = ?start.checkpoint, since_ms = ?start.since_ms, "subscribing");
        let mut subscription = self
            .subscriber
            .subscribe(self.store.account_scope(), &flow, start)
            .await
            .map_err(|e| ListenError::Source(e.to_string()))?;
        loop {
            let (events, checkpoint) = self.collect(&mut *subscription).await?;
            let count = events.len();
            let request = RunRequest::Events { events, checkpoint: json!({ "checkpoint": checkpoint }) }.to_value();
            let execution_id = self.queue(&request).await?;
            tracing::info!(flow = %self.flow_name, %execution_id, events = count, "event run queued");
            self.until_idle().await?;
            let status = self
                .store
                .get_execution(&self.flow_name, &execution_id)
                .await?
                .map(|row| row.status)
                .unwrap_or_else(|| "deleted".to_string());
            if status != ExecutionStatus::Successful.as_str() {
                return Err(ListenError::RunFailed { execution_id, status });
            }
        }
    }

    /// The next batch: waits for a first event, then collects until the
    /// batch is full or `batch_wait` passed.
    async fn collect(&self, subscription: &mut dyn EventSubscription) -> Result<(Vec<Value>, Value), ListenError> {
        let source = |e: sluice_connectors::ConnectorError| ListenError::Source(e.to_string());
        let first = loop {
            if let Some(event) = subscription.next_event(Duration::from_secs(30)).await.map_err(source)? {
                break event;
            }
        };
        let mut checkpoint = first.checkpoint;
        let mut events = vec![first.record];
        let deadline = tokio::time::Instant::now() + self.config.batch_wait;
        while events.len() < self.config.batch_records {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match subscription.next_event(left).await.map_err(source)? {
                Some(event) => {
                    checkpoint = event.checkpoint;
                    events.push(event.record);
                }
                None => break,
            }
        }
        Ok((events, checkpoint))
    }

    /// Queues the run of `request`, waiting while another run of the flow
    /// is in flight.
    async fn queue(&self, request: &Value) -> Result<String, ListenError> {
        loop {
            let now = self.config.clock.now_ms();
            let execution_id = uuid::Uuid::new_v4().to_string();
            let execution = crate::new_execution(&execution_id, &self.flow_name, now);
            if self.store.queue_listener_run(&self.flow_name, &self.config.owner, now, &execution, request).await? {
                return Ok(execution_id);
            }
            // Another run is in flight, or the lease is gone (the
            // supervisor then stops this listener).
            tokio::time::sleep(self.config.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_checkpoint_wins_over_the_activation_time() {
        assert_eq!(event_start(None), EventStart::default());
        let initial = initial_event_state(1_000);
        assert_eq!(event_start(Some(&initial)), EventStart { checkpoint: None, since_ms: Some(1_000) });
        let committed = json!({ "checkpoint": { "replayId": 7 }, "sinceMs": 1_000 });
        assert_eq!(
            event_start(Some(&committed)),
            EventStart { checkpoint: Some(json!({ "replayId": 7 })), since_ms: None }
        );
    }
}
