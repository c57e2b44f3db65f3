//! The data path of a run, the same for every connector pair the registry
//! offers: open the source (the connector describes what it can give),
//! compile the flow's tasks against its schema, read the fields the tasks
//! need as Arrow batches (on a task of their own, a few batches ahead),
//! apply the tasks, and hand the results to the sink. Records the sink
//! refuses go to the destination's error file. The sink commits when the
//! source is exhausted and aborts otherwise, so a failed or cancelled run
//! leaves nothing half-written behind.
//!
//! No connector is named here: sources, sinks and error files come from
//! the [`Registry`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use sluice_connectors::events::{EventStart, EventSubscription};
use sluice_connectors::plane::{DataSource, ReadRequest, RefusedRecord, RefusedRecordSink, RunScope};
use sluice_connectors::{DynConnector, Registry};
use sluice_model::appflow::flow::FlowSpec;
use sluice_model::appflow::{ConnectorType, ErrorHandlingConfig};
use sluice_store::{FlowRecord, MetadataStore};
use sluice_transform::TaskPlan;
use sluice_vault::Vault;

use crate::prefetch::Prefetched;
use crate::profiles::{OpenedProfile, Profiles};
use crate::{FlowRunner, RefusedRecords, RunContext, RunError, RunProgress};

/// Batches read ahead of the tasks and the sink.
const READ_AHEAD_BATCHES: usize = 4;
/// Progress goes to the execution record at most this often.
const REPORT_EVERY: Duration = Duration::from_millis(500);

/// Runs flows through the registry's connectors and the flow's tasks.
pub struct PipelineRunner {
    profiles: Profiles,
    registry: Arc<Registry>,
}

fn task_error(error: sluice_transform::TransformError) -> RunError {
    RunError::Failed(error.to_string())
}

impl PipelineRunner {
    /// A runner reading profiles from `store` (credentials opened with
    /// `vault`, renewed ones saved back), with the connectors of `registry`.
    pub fn new(store: Arc<dyn MetadataStore>, vault: Arc<Vault>, registry: Arc<Registry>) -> Self {
        Self { profiles: Profiles::new(store, vault), registry }
    }

    /// The connectors this runner uses.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    fn connector(&self, connector_type: ConnectorType) -> Result<Arc<dyn DynConnector>, RunError> {
        self.registry.connector(connector_type).ok_or_else(|| {
            RunError::Failed(format!(
                "this server has no {connector_type} connector; it has: {}",
                self.registry.catalog().supported_names()
            ))
        })
    }

    /// Opens the profile a flow names (refused at once when it is marked
    /// as needing new credentials).
    async fn profile(&self, account_id: &str, name: Option<&str>) -> Result<Option<OpenedProfile>, RunError> {
        let Some(name) = name else { return Ok(None) };
        let opened = self.profiles.of_account(account_id).open(name).await.map_err(RunError::Failed)?;
        opened.ensure_authorized().map_err(RunError::Failed)?;
        Ok(Some(opened))
    }

    /// Opens the flow's source and compiles its tasks; `None` when the
    /// source has nothing to read (and so no schema).
    async fn open_read(
        &self,
        account_id: &str,
        flow: &FlowSpec,
        scope: &RunScope,
    ) -> Result<Option<OpenRead>, RunError> {
        let source_config = &flow.source_flow_config;
        let source_type = source_config.connector_type;
        let connector = self.connector(source_type)?;
        let profile = self.profile(account_id, source_config.connector_profile_name.as_deref()).await?;
        let source = connector
            .open_source(profile.as_ref().map(OpenedProfile::input), source_config, scope)
            .await
            .map_err(|e| RunError::from_dyn(source_type.as_str(), e))?;
        let Some(schema) = source.schema() else { return Ok(None) };
        let plan = TaskPlan::compile(&flow.tasks, &schema).map_err(task_error)?;
        let fields = match plan.source_fields() {
            [] => source.default_fields(),
            named => named.to_vec(),
        };
        Ok(Some(OpenRead { source, plan, fields, source_type }))
    }

    /// Subscribes to the events of an event flow's source (a flow of
    /// `account_id`), from `start`.
    pub async fn subscribe(
        &self,
        account_id: &str,
        flow: &FlowRecord,
        start: EventStart,
    ) -> Result<Box<dyn EventSubscription>, RunError> {
        let spec = FlowSpec::from_document(&flow.definition).map_err(RunError::Failed)?;
        let source = &spec.source_flow_config;
        let connector = self.connector(source.connector_type)?;
        let profile = self.profile(account_id, source.connector_profile_name.as_deref()).await?;
        connector
            .subscribe(profile.as_ref().map(OpenedProfile::input), source, start)
            .await
            .map_err(|e| RunError::from_dyn(source.connector_type.as_str(), e))
    }

    /// Runs the source and the tasks of a flow on at most `limit` source
    /// records and returns the records the destination would get, writing
    /// nothing (Sluice's `sluice flow preview`).
    pub async fn preview(
        &self,
        account_id: &str,
        flow: &FlowRecord,
        limit: usize,
    ) -> Result<Vec<Map<String, Value>>, RunError> {
        let spec = FlowSpec::from_document(&flow.definition).map_err(RunError::Failed)?;
        let scope = RunScope::new(&flow.name, "preview", time::OffsetDateTime::now_utc(), 1)
            .without_retries()
            .in_account(account_id);
        let Some(read) = self.open_read(account_id, &spec, &scope).await? else { return Ok(Vec::new()) };
        let request = ReadRequest { fields: read.fields.clone(), limit: Some(limit.max(1)), ..ReadRequest::default() };
        let source_name = read.source_type.as_str();
        let mut batches = read.source.read(request).await.map_err(|e| RunError::from_connector(source_name, e))?;
        let mut records = Vec::new();
        while let Some(batch) = batches.next_batch().await.map_err(|e| RunError::from_connector(source_name, e))? {
            let output = read.plan.apply(batch.batch).map_err(task_error)?;
            records.extend(sluice_transform::codec::json_objects(&output.batch).map_err(task_error)?);
        }
        Ok(records)
    }
}

/// A source opened for a run, with the tasks compiled against it.
struct OpenRead {
    source: Box<dyn DataSource>,
    plan: TaskPlan,
    fields: Vec<String>,
    source_type: ConnectorType,
}

/// The records a run's destination refused: counted, kept in the error
/// file, and with `failOnFirstDestinationError` the end of the run.
struct Refusals {
    file: Option<Box<dyn RefusedRecordSink>>,
    fail_fast: bool,
    count: u64,
    first_error: Option<String>,
}

impl Refusals {
    async fn add(&mut self, refused: Vec<RefusedRecord>) -> Result<(), RunError> {
        if refused.is_empty() {
            return Ok(());
        }
        self.count += refused.len() as u64;
        if self.first_error.is_none() {
            self.first_error = refused.first().map(|r| r.error.clone());
        }
        if let Some(file) = self.file.as_mut() {
            file.add(&refused).await.map_err(|e| RunError::from_connector("error file", e))?;
        }
        if self.fail_fast {
            return Err(RunError::Failed(format!(
                "{} record(s) failed; first error: {}",
                self.count,
                self.first_error.as_deref().unwrap_or("")
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl FlowRunner for PipelineRunner {
    async fn run(&self, ctx: &RunContext) -> Result<RunProgress, RunError> {
        let flow = FlowSpec::from_document(&ctx.flow.definition).map_err(RunError::Failed)?;
        let destination = flow.destination().ok_or_else(|| RunError::Failed("the flow has no destination".into()))?;
        let (source_type, destination_type) = (flow.source_flow_config.connector_type, destination.connector_type);
        if !self.registry.catalog().can_run(source_type, destination_type) {
            return Err(RunError::Failed(format!(
                "moving data from {source_type} to {destination_type} is not supported; the pairs that can run are: {}",
                self.registry.catalog().pairs_text()
            )));
        }
        let scope = ctx.scope();
        let Some(read) = self.open_read(ctx.account_id(), &flow, scope).await? else {
            tracing::info!(execution_id = %ctx.execution_id, "the source has nothing to read");
            return Ok(RunProgress::default());
        };
        let source_name = source_type.as_str();
        let destination_name = destination_type.as_str();
        let sink_connector = self.connector(destination_type)?;
        let sink_profile = self.profile(ctx.account_id(), destination.connector_profile_name.as_deref()).await?;
        let output_schema = read.plan.output_schema();
        let capabilities = read.source.capabilities();
        let plan = &ctx.plan;
        if plan.events.is_some() && !capabilities.events {
            return Err(RunError::Failed(format!("the {source_name} source does not read events")));
        }
        if plan.moves_position
            && plan.events.is_none()
            && !capabilities.datetime_window
            && !capabilities.incremental_state
        {
            return Err(RunError::Failed(format!(
                "the {source_name} source cannot pull incrementally; use dataPullMode Complete"
            )));
        }
        let request = ReadRequest {
            fields: read.fields.clone(),
            limit: None,
            window: plan.window.clone().filter(|_| capabilities.datetime_window),
            previous_state: plan.previous_state.clone().filter(|_| capabilities.incremental_state),
            events: plan.events.clone(),
        };
        let batches = read.source.read(request).await.map_err(|e| RunError::from_connector(source_name, e))?;
        let sink_scope = scope.clone().reading(flow.source_object());
        let mut sink = sink_connector
            .open_sink(sink_profile.as_ref().map(OpenedProfile::input), destination, output_schema.clone(), &sink_scope)
            .await
            .map_err(|e| RunError::from_dyn(destination_name, e))?;
        let error_handling: Option<ErrorHandlingConfig> = sink_connector.error_handling(destination);
        let columns = output_schema.fields().iter().map(|f| f.name().clone()).collect();
        let file = match &error_handling {
            Some(config) => self
                .registry
                .open_error_file(config, columns, scope)
                .await
                .map_err(|e| RunError::from_connector("error file", e))?,
            None => None,
        };
        let mut refusals = Refusals {
            file,
            fail_fast: error_handling.as_ref().and_then(|c| c.fail_on_first_destination_error).unwrap_or(false),
            count: 0,
            first_error: None,
        };
        let mut progress = RunProgress::default();
        let moved = async {
            let mut batches = Prefetched::spawn(batches, READ_AHEAD_BATCHES);
            let mut reported = Instant::now();
            while let Some(batch) = batches.next().await.map_err(|e| RunError::from_connector(source_name, e))? {
                ctx.check_cancelled()?;
                progress.records_processed += batch.batch.num_rows() as i64;
                progress.bytes_processed += batch.bytes_read as i64;
                let output = read.plan.apply(batch.batch).map_err(task_error)?;
                let refused =
                    sink.write(output.batch).await.map_err(|e| RunError::from_connector(destination_name, e))?;
                refusals.add(refused).await?;
                progress.bytes_written = sink.bytes_written() as i64;
                if reported.elapsed() >= REPORT_EVERY {
                    ctx.report(progress).await;
                    reported = Instant::now();
                }
            }
            ctx.set_checkpoint(batches.checkpoint());
            if plan.partial && progress.records_processed == 0 {
                // An empty window writes nothing (no empty file).
                return Ok(false);
            }
            let refused = sink.finish().await.map_err(|e| RunError::from_connector(destination_name, e))?;
            refusals.add(refused).await?;
            progress.bytes_written = sink.bytes_written() as i64;
            ctx.check_cancelled().map(|()| true)
        }
        .await;
        // The error file holds every refused record, whatever ended the run.
        let errors_saved = match refusals.file.as_mut() {
            Some(file) => file.finish().await.map_err(|e| RunError::from_connector("error file", e)),
            None => Ok(()),
        };
        if let Some(first) = &refusals.first_error {
            tracing::warn!(execution_id = %ctx.execution_id, refused = refusals.count, first_error = %first, "records refused");
            let kept = match (&refusals.file, &errors_saved) {
                (Some(file), Ok(())) => format!("they are in {}", file.location()),
                (Some(_), Err(_)) => "the error file could not be written".to_string(),
                (None, _) => "set errorHandlingConfig.bucketName to keep them".to_string(),
            };
            ctx.note_refused(RefusedRecords {
                count: refusals.count as i64,
                message: format!(
                    "{} record(s) refused by {destination_name}; first error: {first}; {kept}",
                    refusals.count
                ),
            });
        }
        match moved.and_then(|written| errors_saved.map(|()| written)) {
            Ok(true) => {
                sink.commit().await.map_err(|e| RunError::from_connector(destination_name, e))?;
                ctx.report(progress).await;
                Ok(progress)
            }
            Ok(false) => {
                sink.abort().await;
                ctx.report(progress).await;
                Ok(progress)
            }
            Err(error) => {
                // Nothing of a failed or cancelled run becomes visible.
                sink.abort().await;
                ctx.report(progress).await;
                Err(error)
            }
        }
    }
}
