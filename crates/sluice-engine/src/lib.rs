//! The flow engine: workers that take queued flow runs from the metadata
//! store under a lease, run them with a [`FlowRunner`], keep the execution
//! record (status, counters, error) up to date, and honour cancellation.
//!
//! Any number of workers, in one process or in several sharing a PostgreSQL
//! store, can run side by side: a run is held by one live lease at a time,
//! and a run whose worker died is taken over when its lease expires.

pub mod clock;
pub mod listener;
pub mod pipeline;
mod prefetch;
pub mod profiles;
pub mod reports;
pub mod scheduler;
pub mod trigger;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sluice_connectors::plane::RunScope;
use sluice_connectors::{ConnectorError, DynError, ErrorDomain};
use sluice_model::appflow::{ErrorInfo, ExecutionRecord, ExecutionResult, ExecutionStatus};
use sluice_model::wire::EpochSeconds;
use sluice_store::{ClaimedRun, ExecutionRow, FlowRecord, MetadataStore, StoreError};
use tokio::sync::Mutex;

pub use sluice_store::now_ms;

/// Errors of the engine itself (not of a run).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The metadata store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored document does not parse.
    #[error("stored {0} is unreadable: {1}")]
    Corrupt(&'static str, String),
}

/// Why a run did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// Someone asked for the run to stop.
    #[error("the run was cancelled")]
    Cancelled,
    /// The run failed; the message goes to the execution record.
    #[error("{0}")]
    Failed(String),
    /// A connector failed after its retries (if the failure was one a retry
    /// may fix); the message goes to the execution record.
    #[error("{message}")]
    Connector {
        /// What failed, prefixed with the connector type.
        message: String,
        /// Whose problem it is.
        domain: ErrorDomain,
        /// Whether a later run may succeed as it is.
        retryable: bool,
    },
}

impl RunError {
    /// A connector's error, prefixed with the connector's name.
    pub fn from_connector(connector: &str, error: ConnectorError) -> Self {
        match error {
            ConnectorError::Cancelled => RunError::Cancelled,
            ConnectorError::Invalid(message) => {
                RunError::Connector { message, domain: ErrorDomain::User, retryable: false }
            }
            error => RunError::Connector {
                message: format!("{connector}: {error}"),
                domain: error.domain(),
                retryable: error.is_retryable(),
            },
        }
    }

    /// An erased connector's error (an invalid profile or flow setting, or
    /// the connector's own).
    pub fn from_dyn(connector: &str, error: DynError) -> Self {
        match error {
            DynError::InvalidProfile(problems) => {
                RunError::Failed(format!("the {connector} connector profile is not valid: {problems}"))
            }
            DynError::InvalidConfig(problems) => RunError::Failed(problems.to_string()),
            DynError::Connector(error) => Self::from_connector(connector, error),
        }
    }

    /// Whose problem it is, when known.
    pub fn domain(&self) -> Option<ErrorDomain> {
        match self {
            RunError::Connector { domain, .. } => Some(*domain),
            RunError::Failed(_) => Some(ErrorDomain::User),
            RunError::Cancelled => None,
        }
    }
}

/// Where Sluice records how many calls a run retried: a member of the
/// execution record's `executionResult` that AppFlow does not have (AWS SDKs
/// ignore members they do not know).
pub const RETRIED_CALLS_MEMBER: &str = "retriedCalls";

/// Counters of a run, reported as it goes and at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunProgress {
    /// Records read from the source.
    pub records_processed: i64,
    /// Bytes read from the source.
    pub bytes_processed: i64,
    /// Bytes written to the destination.
    pub bytes_written: i64,
}

/// What a runner gets: the flow, a cancellation flag and a progress sink.
pub struct RunContext {
    /// The execution id.
    pub execution_id: String,
    /// The flow as stored.
    pub flow: FlowRecord,
    /// How many times this run was claimed (more than 1 after a takeover).
    pub attempt: i64,
    /// When StartFlow queued the run (ms since the epoch): the same for
    /// every attempt, so output paths built from it do not move.
    pub started_at_ms: i64,
    scope: RunScope,
    /// What the run reads (an incremental window, the source's previous state).
    pub plan: trigger::RunPlan,
    checkpoint: std::sync::Mutex<Option<Value>>,
    progress: Mutex<RunProgress>,
    refused: std::sync::Mutex<Option<RefusedRecords>>,
    store: Arc<dyn MetadataStore>,
}

/// Records the destination refused while the run went on (AppFlow's
/// `errorInfo.putFailuresCount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedRecords {
    /// How many.
    pub count: i64,
    /// What went wrong and where the refused records are.
    pub message: String,
}

impl RunContext {
    /// The account the run's flow belongs to.
    pub fn account_id(&self) -> &str {
        self.store.account_scope()
    }

    /// A context for running `flow` outside a worker (tests, tools):
    /// progress goes to `store`.
    pub fn new(
        store: Arc<dyn MetadataStore>,
        flow: FlowRecord,
        execution_id: &str,
        started_at_ms: i64,
        attempt: i64,
    ) -> Self {
        let started_at = time::OffsetDateTime::from_unix_timestamp_nanos(started_at_ms as i128 * 1_000_000)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        Self {
            execution_id: execution_id.to_string(),
            scope: RunScope::new(&flow.name, execution_id, started_at, attempt).in_account(store.account_scope()),
            flow,
            attempt,
            started_at_ms,
            plan: trigger::RunPlan::default(),
            checkpoint: std::sync::Mutex::new(None),
            progress: Mutex::new(RunProgress::default()),
            refused: std::sync::Mutex::new(None),
            store,
        }
    }

    /// The run with this plan.
    pub fn with_plan(mut self, plan: trigger::RunPlan) -> Self {
        self.plan = plan;
        self
    }

    /// Keeps the source state the run ended with; after a success it
    /// becomes the flow's incremental position.
    pub fn set_checkpoint(&self, checkpoint: Option<Value>) {
        *self.checkpoint.lock().unwrap_or_else(|p| p.into_inner()) = checkpoint;
    }

    /// What connectors get to know about the run (its cancellation and retries).
    pub fn scope(&self) -> &RunScope {
        &self.scope
    }

    /// Asks the run to stop.
    pub fn cancel(&self) {
        self.scope.cancel.cancel();
    }

    /// Whether the run should stop; runners check this between batches.
    pub fn is_cancelled(&self) -> bool {
        self.scope.cancel.is_cancelled()
    }

    /// Resolves once a cancel is asked for; for racing against a long wait,
    /// such as a Bulk API job.
    pub async fn cancelled(&self) {
        self.scope.cancel.cancelled().await
    }

    /// Calls retried so far.
    pub fn retried_calls(&self) -> u64 {
        self.scope.retries.counter.get()
    }

    /// Runs `work` unless the run is cancelled first: then `work` is
    /// dropped and `Err(RunError::Cancelled)` returned.
    pub async fn unless_cancelled<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, RunError>>,
    ) -> Result<T, RunError> {
        tokio::select! {
            result = work => result,
            _ = self.cancelled() => Err(RunError::Cancelled),
        }
    }

    /// `Err(RunError::Cancelled)` once a cancel was asked for.
    pub fn check_cancelled(&self) -> Result<(), RunError> {
        if self.is_cancelled() {
            Err(RunError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Records progress and writes it to the execution record.
    pub async fn report(&self, progress: RunProgress) {
        *self.progress.lock().await = progress;
        let retried = Some(self.retried_calls());
        if let Err(e) = update_execution_full(&*self.store, &self.flow.name, &self.execution_id, retried, |record| {
            set_counters(record, progress);
        })
        .await
        {
            tracing::warn!(execution_id = %self.execution_id, error = %e, "cannot record progress");
        }
    }

    /// The last reported progress.
    pub async fn progress(&self) -> RunProgress {
        *self.progress.lock().await
    }

    /// Notes records the destination refused; the execution record's
    /// `errorInfo` reports them, also when the run succeeds.
    pub fn note_refused(&self, refused: RefusedRecords) {
        *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(refused);
    }
}

/// Moves a flow's data. Implementations read the source, apply the tasks and
/// write the destination, reporting progress and checking cancellation.
#[async_trait::async_trait]
pub trait FlowRunner: Send + Sync + 'static {
    /// Runs one execution to the end.
    async fn run(&self, ctx: &RunContext) -> Result<RunProgress, RunError>;
}

/// Settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Identifies this worker in leases.
    pub owner: String,
    /// How long a claim lasts without renewal.
    pub lease: Duration,
    /// How long to wait when the queue is empty.
    pub idle_poll: Duration,
    /// How far before now an incremental window ends, so records whose
    /// timestamp is written a little late are read by the next window.
    pub settle_lag: Duration,
    /// What time it is (pull windows, trigger outcomes).
    pub clock: Arc<dyn clock::Clock>,
    /// Who hears of runs starting and ending (AppFlow's run report events).
    pub reports: reports::Reports,
}

/// The default settle lag of incremental windows.
pub const DEFAULT_SETTLE_LAG: Duration = Duration::from_secs(60);

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            owner: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            lease: Duration::from_secs(30),
            idle_poll: Duration::from_millis(250),
            settle_lag: DEFAULT_SETTLE_LAG,
            clock: Arc::new(clock::SystemClock),
            reports: reports::Reports::default(),
        }
    }
}

/// A worker: claims runs one at a time and runs them.
pub struct Worker {
    store: Arc<dyn MetadataStore>,
    runner: Arc<dyn FlowRunner>,
    config: WorkerConfig,
    /// The run held now, so a stopping worker can give it back.
    current: std::sync::Mutex<Option<String>>,
}

impl Worker {
    /// A worker over `store` using `runner`.
    pub fn new(store: Arc<dyn MetadataStore>, runner: Arc<dyn FlowRunner>, config: WorkerConfig) -> Self {
        Self { store, runner, config, current: std::sync::Mutex::new(None) }
    }

    /// Claims and runs queued runs until `shutdown` resolves. A run still
    /// going then is stopped and given back to the queue, so a restarted
    /// or another server picks it up at once.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let worked = tokio::select! {
                _ = &mut shutdown => {
                    self.release_current().await;
                    return;
                }
                worked = self.run_one() => worked,
            };
            match worked {
                Ok(true) => {}
                Ok(false) => {
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(self.config.idle_poll) => {}
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "worker cannot use the run queue");
                    tokio::time::sleep(self.config.idle_poll * 4).await;
                }
            }
        }
    }

    /// Claims one run and runs it; `Ok(false)` when the queue is empty.
    pub async fn run_one(&self) -> Result<bool, EngineError> {
        let lease_ms = self.config.lease.as_millis() as i64;
        let Some(claimed) = self.store.claim_run(&self.config.owner, now_ms(), lease_ms).await? else {
            return Ok(false);
        };
        self.run_claimed(claimed).await?;
        Ok(true)
    }

    async fn release_current(&self) {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(execution_id) = current {
            match self.store.release_run(&execution_id, &self.config.owner).await {
                Ok(_) => tracing::info!(%execution_id, "run given back to the queue at shutdown"),
                Err(e) => tracing::warn!(%execution_id, error = %e, "cannot give the run back; its lease will expire"),
            }
        }
    }

    async fn run_claimed(&self, claimed: ClaimedRun) -> Result<(), EngineError> {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(claimed.execution_id.clone());
        let result = self.run_claimed_inner(claimed).await;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        result
    }

    async fn run_claimed_inner(&self, claimed: ClaimedRun) -> Result<(), EngineError> {
        let owner = self.config.owner.clone();
        // The run's flow, profiles and records are its account's.
        let store = self.store.for_account(&claimed.account_id);
        let Some(flow) = store.get_flow(&claimed.flow_name).await? else {
            tracing::warn!(execution_id = %claimed.execution_id, flow = %claimed.flow_name, "flow deleted before its run started");
            store.finish_run(&claimed.execution_id, &owner).await?;
            return Ok(());
        };
        tracing::info!(execution_id = %claimed.execution_id, flow = %flow.name, attempt = claimed.attempts, "run started");
        let started_at_ms = self
            .store
            .get_execution(&flow.name, &claimed.execution_id)
            .await?
            .map(|row| row.started_at_ms)
            .unwrap_or_else(now_ms);
        let clock = self.config.clock.clone();
        let lag_ms = self.config.settle_lag.as_millis() as i64;
        let planned = trigger::plan_run(&*store, &flow, claimed.request.as_ref(), clock.now_ms(), lag_ms).await;
        let (plan, unplanned) = match planned {
            Ok(plan) => (plan, None),
            Err(e) => (trigger::RunPlan::default(), Some(RunError::Failed(format!("cannot plan the run: {e}")))),
        };
        let window = plan.window.as_ref().map(|w| {
            let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
            (w.start.map(ms), ms(w.end))
        });
        let ctx = Arc::new(
            RunContext::new(store.clone(), flow, &claimed.execution_id, started_at_ms, claimed.attempts)
                .with_plan(plan),
        );
        if store.cancel_requested(&claimed.execution_id).await? {
            ctx.cancel();
        }
        let cancel = ctx.scope().cancel.clone();
        let pull_start = window.and_then(|(start, _)| start).unwrap_or_else(|| clock.now_ms());
        update_execution(&*store, &ctx.flow.name, &ctx.execution_id, |record| {
            record.execution_status = Some(ExecutionStatus::InProgress);
            record.data_pull_start_time = Some(EpochSeconds::from_millis(pull_start));
        })
        .await?;
        let report = |kind| reports::RunReport {
            kind,
            flow: ctx.flow.clone(),
            execution_id: ctx.execution_id.clone(),
            status: None,
            records_processed: 0,
            bytes_processed: 0,
            bytes_written: 0,
            records_refused: 0,
            error_message: None,
            started_at_ms,
            ended_at_ms: None,
            deactivation_reason: None,
        };
        if claimed.attempts == 1 {
            self.config.reports.send(report(reports::RunReportKind::Started)).await;
        }
        // Keeps the lease alive and watches for cancel requests while the run goes.
        let heartbeat = {
            let store = store.clone();
            let execution_id = ctx.execution_id.clone();
            let owner = owner.clone();
            let lease = self.config.lease;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    match store.renew_lease(&execution_id, &owner, now_ms(), lease.as_millis() as i64).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(%execution_id, "lease lost; stopping the run");
                            cancel.cancel();
                            return;
                        }
                        Err(e) => tracing::warn!(%execution_id, error = %e, "cannot renew the lease"),
                    }
                    if store.cancel_requested(&execution_id).await.unwrap_or(false) {
                        cancel.cancel();
                    }
                }
            })
        };
        let outcome = match unplanned {
            Some(error) => Err(error),
            None if ctx.is_cancelled() => Err(RunError::Cancelled),
            None => self.runner.run(&ctx).await,
        };
        heartbeat.abort();
        let progress = match &outcome {
            Ok(progress) => *progress,
            Err(_) => ctx.progress().await,
        };
        let refused = ctx.refused.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let retried = Some(ctx.retried_calls());
        let pull_end = window.map(|(_, end)| end).unwrap_or_else(|| clock.now_ms());
        update_execution_full(&*store, &ctx.flow.name, &ctx.execution_id, retried, |record| {
            set_counters(record, progress);
            record.data_pull_end_time = Some(EpochSeconds::from_millis(pull_end));
            let result = record.execution_result.get_or_insert_with(empty_result);
            let put_failures_count = Some(refused.as_ref().map(|r| r.count).unwrap_or(0));
            match &outcome {
                Ok(_) => {
                    record.execution_status = Some(ExecutionStatus::Successful);
                    result.error_info = refused
                        .as_ref()
                        .map(|r| ErrorInfo { put_failures_count, execution_message: Some(r.message.clone()) });
                }
                Err(RunError::Cancelled) => record.execution_status = Some(ExecutionStatus::Canceled),
                Err(error) => {
                    record.execution_status = Some(ExecutionStatus::Error);
                    result.error_info =
                        Some(ErrorInfo { put_failures_count, execution_message: Some(error.to_string()) });
                }
            }
        })
        .await?;
        let mut ended = report(reports::RunReportKind::Ended);
        ended.status = Some(match &outcome {
            Ok(_) => ExecutionStatus::Successful,
            Err(RunError::Cancelled) => ExecutionStatus::Canceled,
            Err(_) => ExecutionStatus::Error,
        });
        ended.records_processed = progress.records_processed;
        ended.bytes_processed = progress.bytes_processed;
        ended.bytes_written = progress.bytes_written;
        ended.records_refused = refused.as_ref().map(|r| r.count).unwrap_or(0);
        ended.error_message = outcome.as_ref().err().map(ToString::to_string);
        ended.ended_at_ms = Some(clock.now_ms());
        let mut deactivated = false;
        if !matches!(outcome, Err(RunError::Cancelled)) {
            let checkpoint = ctx.checkpoint.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let recorded = trigger::record_outcome(
                &*store,
                &ctx.flow,
                &ctx.plan,
                outcome.is_ok(),
                checkpoint.as_ref(),
                clock.now_ms(),
            )
            .await;
            match recorded {
                Ok(flag) => deactivated = flag,
                Err(e) => {
                    tracing::error!(execution_id = %ctx.execution_id, error = %e, "cannot record the run's outcome in the flow's trigger state")
                }
            }
        }
        if !store.finish_run(&ctx.execution_id, &owner).await? {
            tracing::warn!(execution_id = %ctx.execution_id, "the run's lease was taken over before it finished");
        }
        self.config.reports.send(ended.clone()).await;
        if deactivated {
            let mut report = report(reports::RunReportKind::ScheduledFlowDeactivated);
            report.deactivation_reason =
                Some("the flow's runs failed flowErrorDeactivationThreshold times in a row".into());
            report.error_message = ended.error_message;
            self.config.reports.send(report).await;
        }
        match &outcome {
            Ok(p) => tracing::info!(
                execution_id = %ctx.execution_id,
                records = p.records_processed,
                retried_calls = ctx.retried_calls(),
                "run succeeded"
            ),
            Err(e) => tracing::warn!(
                execution_id = %ctx.execution_id,
                error = %e,
                domain = ?e.domain(),
                retried_calls = ctx.retried_calls(),
                "run did not succeed"
            ),
        }
        Ok(())
    }
}

fn empty_result() -> ExecutionResult {
    ExecutionResult {
        error_info: None,
        bytes_processed: Some(0),
        bytes_written: Some(0),
        records_processed: Some(0),
        num_parallel_processes: None,
        max_page_size: None,
    }
}

fn set_counters(record: &mut ExecutionRecord, progress: RunProgress) {
    let result = record.execution_result.get_or_insert_with(empty_result);
    result.records_processed = Some(progress.records_processed);
    result.bytes_processed = Some(progress.bytes_processed);
    result.bytes_written = Some(progress.bytes_written);
}

/// The record of a new run, as StartFlow stores it before queueing.
pub fn new_execution(execution_id: &str, flow_name: &str, now: i64) -> ExecutionRow {
    let record = ExecutionRecord {
        execution_id: Some(execution_id.to_string()),
        execution_status: Some(ExecutionStatus::InProgress),
        execution_result: Some(empty_result()),
        started_at: Some(EpochSeconds::from_millis(now)),
        last_updated_at: Some(EpochSeconds::from_millis(now)),
        data_pull_start_time: None,
        data_pull_end_time: None,
        metadata_catalog_details: None,
    };
    ExecutionRow {
        execution_id: execution_id.to_string(),
        flow_name: flow_name.to_string(),
        status: ExecutionStatus::InProgress.as_str().to_string(),
        record: serde_json::to_value(&record).unwrap_or(Value::Null),
        started_at_ms: now,
        updated_at_ms: now,
    }
}

/// Reads, changes and writes back one execution record.
pub async fn update_execution(
    store: &dyn MetadataStore,
    flow_name: &str,
    execution_id: &str,
    change: impl FnOnce(&mut ExecutionRecord),
) -> Result<(), EngineError> {
    update_execution_full(store, flow_name, execution_id, None, change).await
}

/// [`update_execution`] that also sets how many calls the run retried
/// ([`RETRIED_CALLS_MEMBER`]; `None` keeps the stored count).
pub async fn update_execution_full(
    store: &dyn MetadataStore,
    flow_name: &str,
    execution_id: &str,
    retried_calls: Option<u64>,
    change: impl FnOnce(&mut ExecutionRecord),
) -> Result<(), EngineError> {
    let Some(mut row) = store.get_execution(flow_name, execution_id).await? else {
        return Ok(());
    };
    let mut record: ExecutionRecord = serde_json::from_value(row.record.clone())
        .map_err(|e| EngineError::Corrupt("execution record", e.to_string()))?;
    let retried = retried_calls.or_else(|| stored_retried_calls(&row.record));
    change(&mut record);
    let now = now_ms().max(row.updated_at_ms);
    record.last_updated_at = Some(EpochSeconds::from_millis(now));
    row.status = record.execution_status.map(|s| s.as_str().to_string()).unwrap_or(row.status);
    row.record = serde_json::to_value(&record).map_err(|e| EngineError::Corrupt("execution record", e.to_string()))?;
    if let (Some(retried), Some(result)) =
        (retried, row.record.get_mut("executionResult").and_then(Value::as_object_mut))
    {
        result.insert(RETRIED_CALLS_MEMBER.to_string(), Value::from(retried));
    }
    row.updated_at_ms = now;
    store.update_execution(&row).await?;
    Ok(())
}

/// The retried-calls count kept in a stored execution record.
pub fn stored_retried_calls(record: &Value) -> Option<u64> {
    record.get("executionResult")?.get(RETRIED_CALLS_MEMBER)?.as_u64()
}
