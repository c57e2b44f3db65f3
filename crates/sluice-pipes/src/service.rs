//! The Pipes operations: CreatePipe, DescribePipe, ListPipes, UpdatePipe,
//! StartPipe, StopPipe, DeletePipe and tags. A pipe starts reading its
//! stream where its StartingPosition says, at creation; the runner
//! (`runner.rs`) moves its records.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_bus::EventBusService;
use sluice_model::pipes as wire;
use sluice_model::wire::EpochSeconds;
use sluice_store::{MetadataStore, PipeRow, StoreError};
use sluice_tables::TableService;

use crate::definition::PipeDefinition;
use crate::error::{PipesError, PipesResult};

/// Most pipes per account (Pipes' default quota).
const MAX_PIPES: usize = 1000;

/// EventBridge Pipes of one server; cheap to clone.
#[derive(Clone)]
pub struct PipeService {
    pub(crate) store: Arc<dyn MetadataStore>,
    pub(crate) tables: TableService,
    pub(crate) bus: EventBusService,
    region: String,
}

fn not_found(name: &str) -> PipesError {
    PipesError::NotFound(format!("Pipe {name} does not exist."))
}

pub(crate) use sluice_store::now_ms;

/// A stored pipe with its definition.
pub(crate) struct LoadedPipe {
    pub row: PipeRow,
    pub definition: PipeDefinition,
}

pub(crate) fn decode(row: PipeRow) -> PipesResult<LoadedPipe> {
    let definition = serde_json::from_str(&row.document)
        .map_err(|e| PipesError::Internal(format!("a stored pipe does not decode: {e}")))?;
    Ok(LoadedPipe { row, definition })
}

fn encode(definition: &PipeDefinition) -> String {
    serde_json::to_string(definition).expect("pipe definitions serialize")
}

fn state(desired: Option<wire::RequestedPipeState>) -> &'static str {
    match desired {
        Some(wire::RequestedPipeState::Stopped) => "STOPPED",
        _ => "RUNNING",
    }
}

impl PipeService {
    /// The service over `store`, reading table streams through `tables`
    /// and delivering to `bus`'s queues and buses.
    pub fn new(store: Arc<dyn MetadataStore>, tables: TableService, bus: EventBusService, region: &str) -> Self {
        Self { store, tables, bus, region: region.to_string() }
    }

    pub(crate) async fn load(&self, account_id: &str, name: &str) -> PipesResult<LoadedPipe> {
        decode(self.store.get_pipe(account_id, name).await?.ok_or_else(|| not_found(name))?)
    }

    fn answer(&self, pipe: &LoadedPipe, current: wire::PipeState) -> wire::CreatePipeResponse {
        wire::CreatePipeResponse {
            arn: Some(pipe.definition.arn.clone()),
            name: Some(pipe.row.name.clone()),
            desired_state: wire::RequestedPipeState::from_wire(&pipe.row.desired_state),
            current_state: Some(current),
            creation_time: Some(EpochSeconds::from_millis(pipe.row.created_at_ms)),
            last_modified_time: Some(EpochSeconds::from_millis(pipe.row.updated_at_ms)),
        }
    }

    /// The stream position a pipe starts at (checked: the stream is the account's).
    async fn start_position(&self, account_id: &str, definition: &PipeDefinition) -> PipesResult<String> {
        let stream = self.tables.consumer_stream(account_id, &definition.source).await.map_err(|_| {
            PipesError::validation(format!(
                "Source {} does not exist or is not a stream of this account",
                definition.source
            ))
        })?;
        let latest = definition.stream_settings()?.starting_position == "LATEST";
        let position =
            self.tables.consumer_start(&stream, latest).await.map_err(|e| PipesError::Internal(e.to_string()))?;
        Ok(position.to_string())
    }

    /// CreatePipe.
    pub async fn create_pipe(
        &self,
        account_id: &str,
        input: wire::CreatePipeRequest,
    ) -> PipesResult<wire::CreatePipeResponse> {
        if input.enrichment.is_some() || input.enrichment_parameters.is_some() {
            return Err(PipesError::validation("Enrichment is not supported by this server"));
        }
        let definition = PipeDefinition {
            v: 1,
            arn: format!("arn:aws:pipes:{}:{account_id}:pipe/{}", self.region, input.name),
            description: input.description.map(|d| d.expose().to_string()),
            source: input.source,
            source_parameters: input.source_parameters.unwrap_or_default(),
            target: input.target,
            target_parameters: input.target_parameters,
            role_arn: input.role_arn,
            tags: input.tags.unwrap_or_default().into_iter().map(|(k, v)| (k, v.expose().to_string())).collect(),
            state_reason: None,
        };
        definition.check(account_id)?;
        if self.store.list_pipes(account_id).await?.len() >= MAX_PIPES {
            return Err(PipesError::QuotaExceeded(format!("A maximum of {MAX_PIPES} pipes per account is allowed")));
        }
        let now = now_ms();
        let row = PipeRow {
            account_id: account_id.to_string(),
            name: input.name.clone(),
            document: encode(&definition),
            desired_state: state(input.desired_state).to_string(),
            created_at_ms: now,
            updated_at_ms: now,
            position: Some(self.start_position(account_id, &definition).await?),
            lease_owner: None,
            lease_until_ms: 0,
        };
        match self.store.create_pipe(&row).await {
            Err(StoreError::AlreadyExists { .. }) => {
                return Err(PipesError::Conflict(format!("Pipe {} already exists.", input.name)))
            }
            other => other?,
        }
        tracing::info!(account_id, pipe = %row.name, source = %definition.source, target = %definition.target, "pipe created");
        Ok(self.answer(&LoadedPipe { row, definition }, wire::PipeState::Creating))
    }

    /// DescribePipe.
    pub async fn describe_pipe(&self, account_id: &str, name: &str) -> PipesResult<wire::DescribePipeResponse> {
        let pipe = self.load(account_id, name).await?;
        let row = &pipe.row;
        Ok(pipe.definition.describe(&row.name, &row.desired_state, row.created_at_ms, row.updated_at_ms))
    }

    /// ListPipes (filters by name, state, source and target prefixes; one page).
    pub async fn list_pipes(
        &self,
        account_id: &str,
        input: &wire::ListPipesRequest,
    ) -> PipesResult<wire::ListPipesResponse> {
        let limit = input.limit.unwrap_or(100).clamp(1, 100) as usize;
        let mut pipes = Vec::new();
        for row in self.store.list_pipes(account_id).await? {
            let pipe = decode(row)?;
            let (row, d) = (&pipe.row, &pipe.definition);
            let keep = input.name_prefix.as_deref().is_none_or(|p| row.name.starts_with(p))
                && input.desired_state.is_none_or(|s| s.as_str() == row.desired_state)
                && input.current_state.is_none_or(|s| s.as_str() == row.desired_state)
                && input.source_prefix.as_deref().is_none_or(|p| d.source.starts_with(p))
                && input.target_prefix.as_deref().is_none_or(|p| d.target.starts_with(p));
            if keep {
                pipes.push(d.summary(&row.name, &row.desired_state, row.created_at_ms, row.updated_at_ms));
            }
        }
        let after = input.next_token.as_ref().map(|t| t.expose().to_string());
        if let Some(after) = &after {
            pipes.retain(|p| p.name.as_deref().unwrap_or_default() > after.as_str());
        }
        let more = pipes.len() > limit;
        pipes.truncate(limit);
        let next_token = more.then(|| pipes.last().and_then(|p| p.name.clone())).flatten();
        Ok(wire::ListPipesResponse {
            pipes: Some(pipes),
            next_token: next_token.map(sluice_model::wire::SecretString::new),
        })
    }

    /// UpdatePipe: parameters replaced where given (the source stays).
    pub async fn update_pipe(
        &self,
        account_id: &str,
        input: wire::UpdatePipeRequest,
    ) -> PipesResult<wire::UpdatePipeResponse> {
        if input.enrichment.is_some() || input.enrichment_parameters.is_some() {
            return Err(PipesError::validation("Enrichment is not supported by this server"));
        }
        let mut pipe = self.load(account_id, &input.name).await?;
        let d = &mut pipe.definition;
        if let Some(description) = input.description {
            d.description = Some(description.expose().to_string());
        }
        if let Some(target) = input.target {
            d.target = target;
        }
        if let Some(parameters) = input.target_parameters {
            d.target_parameters = Some(parameters);
        }
        d.role_arn = input.role_arn;
        if let Some(source) = input.source_parameters {
            if let Some(filters) = source.filter_criteria {
                d.source_parameters.filter_criteria = Some(filters);
            }
            if let (Some(update), Some(current)) =
                (source.dynamo_db_stream_parameters, d.source_parameters.dynamo_db_stream_parameters.as_mut())
            {
                current.batch_size = update.batch_size.or(current.batch_size);
                current.dead_letter_config = update.dead_letter_config.or(current.dead_letter_config.take());
                current.on_partial_batch_item_failure =
                    update.on_partial_batch_item_failure.or(current.on_partial_batch_item_failure);
                current.maximum_batching_window_in_seconds =
                    update.maximum_batching_window_in_seconds.or(current.maximum_batching_window_in_seconds);
                current.maximum_record_age_in_seconds =
                    update.maximum_record_age_in_seconds.or(current.maximum_record_age_in_seconds);
                current.maximum_retry_attempts = update.maximum_retry_attempts.or(current.maximum_retry_attempts);
                current.parallelization_factor = update.parallelization_factor.or(current.parallelization_factor);
            }
        }
        d.check(account_id)?;
        d.state_reason = None;
        let desired = input.desired_state.map(|s| state(Some(s))).unwrap_or(&pipe.row.desired_state).to_string();
        let now = now_ms();
        self.store.update_pipe(account_id, &input.name, &encode(d), &desired, false, now).await?;
        pipe.row.desired_state = desired;
        pipe.row.updated_at_ms = now;
        let answer = self.answer(&pipe, wire::PipeState::Updating);
        Ok(wire::UpdatePipeResponse {
            arn: answer.arn,
            name: answer.name,
            desired_state: answer.desired_state,
            current_state: answer.current_state,
            creation_time: answer.creation_time,
            last_modified_time: answer.last_modified_time,
        })
    }

    /// StartPipe / StopPipe: the desired state; the runner follows.
    pub async fn set_state(
        &self,
        account_id: &str,
        name: &str,
        running: bool,
    ) -> PipesResult<wire::CreatePipeResponse> {
        let mut pipe = self.load(account_id, name).await?;
        let desired = if running { "RUNNING" } else { "STOPPED" };
        pipe.definition.state_reason = None;
        let now = now_ms();
        self.store.update_pipe(account_id, name, &encode(&pipe.definition), desired, false, now).await?;
        pipe.row.desired_state = desired.to_string();
        pipe.row.updated_at_ms = now;
        tracing::info!(account_id, pipe = name, state = desired, "pipe state changed");
        Ok(self.answer(&pipe, if running { wire::PipeState::Starting } else { wire::PipeState::Stopping }))
    }

    /// DeletePipe.
    pub async fn delete_pipe(&self, account_id: &str, name: &str) -> PipesResult<wire::DeletePipeResponse> {
        let pipe = self.load(account_id, name).await?;
        match self.store.delete_pipe(account_id, name).await {
            Err(StoreError::NotFound { .. }) => return Err(not_found(name)),
            other => other?,
        }
        Ok(wire::DeletePipeResponse {
            arn: Some(pipe.definition.arn.clone()),
            name: Some(name.to_string()),
            desired_state: Some(wire::RequestedPipeStateDescribeResponse::Deleted),
            current_state: Some(wire::PipeState::Deleting),
            creation_time: Some(EpochSeconds::from_millis(pipe.row.created_at_ms)),
            last_modified_time: Some(EpochSeconds::from_millis(now_ms())),
        })
    }

    fn name_of_arn<'a>(&self, arn: &'a str) -> PipesResult<&'a str> {
        arn.rsplit_once(":pipe/")
            .map(|(_, name)| name)
            .filter(|_| arn.starts_with("arn:aws:pipes:"))
            .ok_or_else(|| PipesError::validation(format!("{arn} is not a pipe ARN")))
    }

    /// A pipe's tags (by ARN).
    pub async fn tags(&self, account_id: &str, arn: &str) -> PipesResult<BTreeMap<String, String>> {
        Ok(self.load(account_id, self.name_of_arn(arn)?).await?.definition.tags)
    }

    /// TagResource / UntagResource on a pipe.
    pub async fn change_tags(
        &self,
        account_id: &str,
        arn: &str,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> PipesResult<()> {
        let name = self.name_of_arn(arn)?;
        let mut pipe = self.load(account_id, name).await?;
        pipe.definition.tags.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
        for key in remove {
            pipe.definition.tags.remove(key);
        }
        if pipe.definition.tags.len() > 50 {
            return Err(PipesError::validation("A pipe can have at most 50 tags"));
        }
        let row = &pipe.row;
        self.store
            .update_pipe(account_id, name, &encode(&pipe.definition), &row.desired_state, false, row.updated_at_ms)
            .await?;
        Ok(())
    }

    /// Records why a pipe stopped on its own (its source is gone).
    pub(crate) async fn stop_with_reason(&self, pipe: &LoadedPipe, reason: &str) -> PipesResult<()> {
        let mut definition = pipe.definition.clone();
        definition.state_reason = Some(reason.to_string());
        let row = &pipe.row;
        self.store.update_pipe(&row.account_id, &row.name, &encode(&definition), "STOPPED", false, now_ms()).await?;
        tracing::warn!(account_id = %row.account_id, pipe = %row.name, reason, "pipe stopped");
        Ok(())
    }
}
