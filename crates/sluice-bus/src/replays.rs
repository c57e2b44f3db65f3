//! Replays: an archive's events of a time window sent again to the
//! archive's bus (to all its rules, or those in FilterArns), each marked
//! with `replay-name`. A replay is worked by one server at a time (a lease
//! in the store) and remembers how far it got, so it resumes after a
//! restart; CancelReplay stops it between batches.

use std::time::Duration;

use serde_json::{json, Value};
use sluice_model::events::*;
use sluice_store::{ArchivePosition, ReplayRow};

use crate::arn::resource_arn;
use crate::buses::{epoch, now_ms, EventBusService};
use crate::error::{BusError, BusResult};
use crate::put_events::Routed;
use crate::token;

/// Most replays an account may run at once (EventBridge's quota).
pub const MAX_ACTIVE_REPLAYS: u64 = 10;
/// Events a replay sends per batch (each batch is one checkpoint).
const BATCH: usize = 100;
/// How long a server holds a replay without checkpointing.
const LEASE: Duration = Duration::from_secs(30);
/// How often a server looks for replays to work and expired archived events.
pub const REPLAY_TICK: Duration = Duration::from_secs(1);

fn ms_of(document: &Value, key: &str) -> Option<i64> {
    document.get(key).and_then(Value::as_i64)
}

fn state_of(replay: &ReplayRow) -> Option<ReplayState> {
    serde_json::from_value(json!(replay.state)).ok()
}

fn text_of(document: &Value, key: &str) -> Option<String> {
    document.get(key).and_then(Value::as_str).map(str::to_string)
}

fn position_of(document: &Value) -> Option<ArchivePosition> {
    let position = document.get("Position")?;
    Some(ArchivePosition {
        event_time_ms: position.get("EventTimeMs")?.as_i64()?,
        event_id: position.get("EventId")?.as_str()?.to_string(),
    })
}

fn destination_of(document: &Value) -> Option<ReplayDestination> {
    document.get("Destination").and_then(|d| serde_json::from_value(d.clone()).ok())
}

/// A stored replay as the wire's `Replay`.
fn replay_wire(replay: &ReplayRow) -> Replay {
    let d = &replay.document;
    Replay {
        replay_name: Some(replay.name.clone()),
        event_source_arn: text_of(d, "EventSourceArn"),
        state: state_of(replay),
        state_reason: text_of(d, "StateReason"),
        event_start_time: ms_of(d, "EventStartTimeMs").and_then(epoch),
        event_end_time: ms_of(d, "EventEndTimeMs").and_then(epoch),
        event_last_replayed_time: ms_of(d, "EventLastReplayedTimeMs").and_then(epoch),
        replay_start_time: ms_of(d, "ReplayStartTimeMs").and_then(epoch),
        replay_end_time: ms_of(d, "ReplayEndTimeMs").and_then(epoch),
    }
}

impl EventBusService {
    /// StartReplay: checks the window and destination and queues the
    /// replay (state STARTING); a server's replayer sends the events.
    pub async fn start_replay(&self, account_id: &str, request: StartReplayRequest) -> BusResult<StartReplayResponse> {
        let archive = self.archive_by_arn(account_id, &request.event_source_arn).await?;
        let start_ms = request.event_start_time.as_millis();
        let end_ms = request.event_end_time.as_millis();
        if start_ms >= end_ms {
            return Err(BusError::InvalidParameter(
                "Parameter EventEndTime is not valid. Reason: EventStartTime must be before EventEndTime.".into(),
            ));
        }
        let source_bus = archive.document.get("EventSourceArn").and_then(Value::as_str).unwrap_or_default();
        if request.destination.arn != source_bus {
            return Err(BusError::InvalidParameter("Cross event bus replay is not permitted.".into()));
        }
        if self.store().active_replays(account_id).await? >= MAX_ACTIVE_REPLAYS {
            return Err(BusError::LimitExceeded(format!(
                "The requested resource exceeds the maximum number allowed ({MAX_ACTIVE_REPLAYS} concurrent replays)."
            )));
        }
        let now = now_ms();
        let arn = resource_arn(self.region(), account_id, "replay", &request.replay_name, None);
        let row = ReplayRow {
            account_id: account_id.to_string(),
            name: request.replay_name.clone(),
            arn: arn.clone(),
            archive_name: archive.name.clone(),
            state: "STARTING".into(),
            document: json!({
                "Description": request.description,
                "EventSourceArn": archive.arn,
                "Destination": request.destination,
                "EventStartTimeMs": start_ms,
                "EventEndTimeMs": end_ms,
                "ReplayStartTimeMs": now,
            }),
            lease_owner: None,
            lease_expires_at_ms: None,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.store().create_replay(&row).await.map_err(|e| match e {
            sluice_store::StoreError::AlreadyExists { .. } => {
                BusError::AlreadyExists(format!("Replay {} already exists.", request.replay_name))
            }
            other => other.into(),
        })?;
        Ok(StartReplayResponse {
            replay_arn: Some(arn),
            state: Some(ReplayState::Starting),
            state_reason: None,
            replay_start_time: epoch(now),
        })
    }

    async fn replay(&self, account_id: &str, name: &str) -> BusResult<ReplayRow> {
        self.store()
            .get_replay(account_id, name)
            .await?
            .ok_or_else(|| BusError::NotFound(format!("Replay {name} does not exist.")))
    }

    /// DescribeReplay.
    pub async fn describe_replay(&self, account_id: &str, name: &str) -> BusResult<DescribeReplayResponse> {
        let replay = self.replay(account_id, name).await?;
        let d = &replay.document;
        let wire = replay_wire(&replay);
        Ok(DescribeReplayResponse {
            replay_name: wire.replay_name,
            replay_arn: Some(replay.arn.clone()),
            description: text_of(d, "Description"),
            state: wire.state,
            state_reason: wire.state_reason,
            event_source_arn: wire.event_source_arn,
            destination: destination_of(d),
            event_start_time: wire.event_start_time,
            event_end_time: wire.event_end_time,
            event_last_replayed_time: wire.event_last_replayed_time,
            replay_start_time: wire.replay_start_time,
            replay_end_time: wire.replay_end_time,
        })
    }

    /// ListReplays (NamePrefix, State and EventSourceArn filter).
    pub async fn list_replays(&self, account_id: &str, request: ListReplaysRequest) -> BusResult<ListReplaysResponse> {
        let mut page = token::page("ListReplays", request.limit, request.next_token.as_deref(), 100)?;
        let limit = page.limit;
        let prefix = request.name_prefix.as_deref().unwrap_or("");
        let wanted_state = request.state.as_ref().and_then(|s| serde_json::to_value(s).ok());
        let mut replays = Vec::new();
        let mut next_token = None;
        'pages: loop {
            page.limit = 500;
            let found = self.store().list_replays(account_id, prefix, &page).await?;
            for replay in found.items {
                let keep = wanted_state.as_ref().is_none_or(|s| s.as_str() == Some(replay.state.as_str()))
                    && request
                        .event_source_arn
                        .as_deref()
                        .is_none_or(|arn| replay.document.get("EventSourceArn").and_then(Value::as_str) == Some(arn));
                if !keep {
                    continue;
                }
                if replays.len() == limit {
                    next_token = replays.last().map(|last: &ReplayRow| token::encode("ListReplays", &last.name));
                    break 'pages;
                }
                replays.push(replay);
            }
            match found.next_cursor {
                Some(cursor) => page.cursor = Some(cursor),
                None => break,
            }
        }
        Ok(ListReplaysResponse { replays: Some(replays.iter().map(replay_wire).collect()), next_token })
    }

    /// CancelReplay: a STARTING or RUNNING replay becomes CANCELLING, then
    /// CANCELLED once its server sees it (between batches).
    pub async fn cancel_replay(&self, account_id: &str, name: &str) -> BusResult<CancelReplayResponse> {
        loop {
            let mut replay = self.replay(account_id, name).await?;
            let expected = replay.state.clone();
            if expected != "STARTING" && expected != "RUNNING" {
                return Err(BusError::IllegalState(format!(
                    "Replay {name} is in state {expected} and cannot be cancelled."
                )));
            }
            replay.state = "CANCELLING".into();
            replay.updated_at_ms = now_ms();
            if self.store().update_replay(&replay, &expected, None).await? {
                return Ok(CancelReplayResponse {
                    replay_arn: Some(replay.arn),
                    state: Some(ReplayState::Cancelling),
                    state_reason: None,
                });
            }
            // Its server moved it on meanwhile: look again.
        }
    }

    /// Works the replays this server can claim, and removes archived events
    /// whose retention ended; returns how many replays it worked.
    pub async fn work_replays(&self, owner: &str) -> BusResult<usize> {
        self.store().expire_archived_events(now_ms(), 1000).await?;
        let claimed = self.store().claim_replays(owner, now_ms(), LEASE.as_millis() as i64, 4).await?;
        let worked = claimed.len();
        for replay in claimed {
            let name = replay.arn.clone();
            if let Err(error) = self.work_replay(owner, replay).await {
                tracing::warn!(replay = %name, %error, "replay step failed; it resumes from its last checkpoint");
            }
        }
        Ok(worked)
    }

    /// Sends a replay's events batch by batch until it completes, is
    /// cancelled or another server takes it.
    async fn work_replay(&self, owner: &str, mut replay: ReplayRow) -> BusResult<()> {
        loop {
            let expected = replay.state.clone();
            let now = now_ms();
            let mut next = replay.clone();
            next.updated_at_ms = now;
            next.lease_expires_at_ms = Some(now + LEASE.as_millis() as i64);
            let document = next.document.as_object_mut().ok_or_else(|| BusError::Internal("corrupt replay".into()))?;
            let mut done = false;
            match expected.as_str() {
                "CANCELLING" => {
                    next.state = "CANCELLED".into();
                    document.insert("ReplayEndTimeMs".into(), json!(now));
                    done = true;
                }
                "STARTING" => next.state = "RUNNING".into(),
                "RUNNING" => match self.replay_batch(&replay).await {
                    Ok(Some(position)) => {
                        document.insert(
                            "Position".into(),
                            json!({"EventTimeMs": position.event_time_ms, "EventId": position.event_id}),
                        );
                        document.insert("EventLastReplayedTimeMs".into(), json!(position.event_time_ms));
                    }
                    Ok(None) => {
                        next.state = "COMPLETED".into();
                        document.insert("ReplayEndTimeMs".into(), json!(now));
                        done = true;
                    }
                    Err(BusError::NotFound(reason)) => {
                        next.state = "FAILED".into();
                        document.insert("StateReason".into(), json!(reason));
                        document.insert("ReplayEndTimeMs".into(), json!(now));
                        done = true;
                    }
                    Err(other) => return Err(other),
                },
                _ => return Ok(()),
            }
            if done {
                next.lease_owner = None;
                next.lease_expires_at_ms = None;
            }
            if self.store().update_replay(&next, &expected, Some(owner)).await? {
                if done {
                    tracing::info!(replay = %next.arn, state = %next.state, "replay finished");
                    return Ok(());
                }
                replay = next;
                continue;
            }
            // Cancelled meanwhile (or the lease was lost): read it again.
            match self.store().get_replay(&replay.account_id, &replay.name).await? {
                Some(fresh) if fresh.lease_owner.as_deref() == Some(owner) => replay = fresh,
                _ => return Ok(()),
            }
        }
    }

    /// Sends the next batch of a running replay; where it got to, or
    /// `None` when nothing is left in its window.
    async fn replay_batch(&self, replay: &ReplayRow) -> BusResult<Option<ArchivePosition>> {
        let d = &replay.document;
        let start = ms_of(d, "EventStartTimeMs").unwrap_or(0);
        // Events newer than the replay itself are not part of it.
        let started = ms_of(d, "ReplayStartTimeMs").unwrap_or_else(now_ms);
        let end = ms_of(d, "EventEndTimeMs").unwrap_or(started).min(started + 1000);
        let destination = destination_of(d).ok_or_else(|| BusError::Internal("replay without destination".into()))?;
        let (bus_account, bus) = self.resolve_bus(&replay.account_id, Some(&destination.arn))?;
        if self.store().get_bus(&bus_account, &bus).await?.is_none() {
            return Err(BusError::NotFound(format!("Event bus {bus} does not exist.")));
        }
        let position = position_of(d);
        let events = self
            .store()
            .archived_events(&replay.account_id, &replay.archive_name, start, end, position.as_ref(), BATCH)
            .await?;
        let Some(last) = events.last() else { return Ok(None) };
        let last = ArchivePosition { event_time_ms: last.event_time_ms, event_id: last.event_id.clone() };
        let only = destination.filter_arns.as_deref().filter(|arns| !arns.is_empty());
        let mut routed = Routed::default();
        for archived in events {
            let mut event = archived.event;
            event["replay-name"] = json!(replay.name);
            routed.extend(self.route_to(&bus_account, &bus, &event, only).await?);
        }
        self.commit(routed).await?;
        Ok(Some(last))
    }
}

/// Works replays (and archive retention) every [`REPLAY_TICK`] until
/// `shutdown` completes.
pub async fn run_replays(bus: EventBusService, owner: String, shutdown: impl std::future::Future<Output = ()>) {
    crate::schedules::run_every(REPLAY_TICK, shutdown, "working replays", || bus.work_replays(&owner)).await
}
