//! The scheduler: fires the due occurrences of active scheduled flows.
//! Every server runs one; an occurrence is claimed in the store (a
//! compare-and-set on the flow's next occurrence, in the transaction that
//! queues its run), so with several servers on one PostgreSQL store each
//! occurrence runs once. After downtime one run covers the whole gap: the
//! next occurrence is the first one after now, and an incremental run reads
//! from the watermark to now.

use std::sync::Arc;
use std::time::Duration;

use sluice_model::appflow::flow::FlowSpec;
use sluice_model::appflow::{FlowStatus, TriggerType};
use sluice_store::MetadataStore;

use crate::clock::Clock;
use crate::trigger::{occurrence_after, RunRequest};
use crate::EngineError;

/// What one tick did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tick {
    /// Runs queued: `(flow, execution id)`.
    pub queued: Vec<(String, String)>,
    /// Occurrences passed over because a run of the flow was still queued or running.
    pub skipped: Vec<String>,
}

/// Fires due occurrences.
pub struct Scheduler {
    store: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
}

/// Due occurrences handled per tick at most.
const DUE_PER_TICK: usize = 100;

impl Scheduler {
    /// A scheduler over `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn MetadataStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Fires what is due now.
    pub async fn tick(&self) -> Result<Tick, EngineError> {
        let now = self.clock.now_ms();
        let mut tick = Tick::default();
        for trigger in self.store.due_triggers(now, DUE_PER_TICK).await? {
            let Some(due) = trigger.next_fire_ms else { continue };
            let store = self.store.for_account(&trigger.account_id);
            let name = trigger.flow_name.clone();
            let flow = store.get_flow(&name).await?;
            let spec = flow.as_ref().and_then(|f| FlowSpec::from_document(&f.definition).ok());
            let active = flow.as_ref().is_some_and(|f| f.status == FlowStatus::Active.as_str())
                && spec.as_ref().is_some_and(|s| s.trigger_config.trigger_type == TriggerType::Scheduled);
            let (Some(_), Some(spec), true) = (flow, spec, active) else {
                // Not an active scheduled flow (any more): no further occurrence.
                store.fire_trigger(&name, due, None, None, now).await?;
                continue;
            };
            let next = occurrence_after(&spec, due, now);
            if store.run_in_flight(&name).await? {
                if store.fire_trigger(&name, due, next, None, now).await? {
                    tracing::info!(flow = %name, due, "occurrence passed over: a run of the flow is still going (the next run covers its window)");
                    tick.skipped.push(name);
                }
                continue;
            }
            let execution_id = uuid::Uuid::new_v4().to_string();
            let execution = crate::new_execution(&execution_id, &name, now);
            let request = RunRequest::Scheduled { fire_ms: due }.to_value();
            if store.fire_trigger(&name, due, next, Some((&execution, &request)), now).await? {
                tracing::info!(flow = %name, %execution_id, due, next = ?next, "scheduled run queued");
                tick.queued.push((name, execution_id));
            }
        }
        Ok(tick)
    }

    /// Ticks every `every` until `shutdown` resolves.
    pub async fn run_until(self, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.tick().await {
                tracing::error!(error = %e, "scheduler cannot read or claim occurrences");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
