//! Scheduled rules: a rule with a `ScheduleExpression` (on the `default`
//! bus) sends EventBridge's "Scheduled Event" to its targets at each
//! occurrence. Each rule's next occurrence is a column of its row, claimed
//! by compare-and-set, so several servers sharing a store fire it once.

use std::time::Duration;

use serde_json::{json, Value};
use sluice_model::schedule::{parse_schedule_expression, Schedule};
use sluice_store::{DeliveryRow, RuleRow};

use crate::buses::{now_ms, EventBusService};
use crate::put_events::{envelope, new_delivery, NewEvent};

/// How often due schedules are looked for.
pub const SCHEDULE_TICK: Duration = Duration::from_secs(1);

fn datetime(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn millis(at: time::OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The first occurrence of `expression` strictly after `after_ms`; a
/// rate's occurrences are `anchor_ms + k * interval`.
pub fn next_fire(expression: &str, anchor_ms: i64, after_ms: i64) -> Option<i64> {
    let schedule: Schedule = parse_schedule_expression(expression).ok()?;
    let next = schedule.first_at_or_after(datetime(after_ms + 1), datetime(anchor_ms), 0)?;
    Some(millis(next))
}

/// When a stored rule should fire next: `None` unless it has a schedule
/// and is enabled.
pub fn rule_next_fire(document: &Value, anchor_ms: i64, after_ms: i64) -> Option<i64> {
    let enabled = document.get("State").and_then(Value::as_str) == Some("ENABLED");
    let expression = document.get("ScheduleExpression").and_then(Value::as_str)?;
    if !enabled {
        return None;
    }
    next_fire(expression, anchor_ms, after_ms)
}

impl EventBusService {
    /// Fires every scheduled rule whose occurrence is due; returns how many
    /// fired. Called every [`SCHEDULE_TICK`] by [`run_schedules`].
    pub async fn fire_due_schedules(&self) -> crate::BusResult<usize> {
        let now = now_ms();
        let mut fired = 0;
        for rule in self.store().due_rule_schedules(now, 100).await? {
            let Some(due) = rule.next_fire_ms else { continue };
            let next = rule_next_fire(&rule.document, rule.created_at_ms, now.max(due));
            if !self.store().claim_rule_schedule(&rule.account_id, &rule.bus_name, &rule.name, due, next).await? {
                continue;
            }
            let rows = self.scheduled_deliveries(&rule, due).await?;
            if !rows.is_empty() {
                self.commit(crate::put_events::Routed { deliveries: rows, archived: Vec::new() }).await?;
            }
            fired += 1;
        }
        Ok(fired)
    }

    /// The "Scheduled Event" of a rule's occurrence, one delivery per target.
    async fn scheduled_deliveries(&self, rule: &RuleRow, due_ms: i64) -> crate::BusResult<Vec<DeliveryRow>> {
        let targets = self.store().list_targets(&rule.account_id, &rule.bus_name, &rule.name).await?;
        let event = NewEvent {
            source: "aws.events".into(),
            detail_type: "Scheduled Event".into(),
            detail: json!({}),
            resources: vec![rule.arn.clone()],
            time_ms: Some(due_ms),
        };
        let id = uuid::Uuid::new_v4().to_string();
        let event = envelope(&id, &rule.account_id, self.region(), &event);
        let now = now_ms();
        Ok(targets.iter().map(|target| new_delivery(target, &rule.arn, event.clone(), now)).collect())
    }
}

/// Fires scheduled rules until `shutdown` completes.
pub async fn run_schedules(bus: EventBusService, shutdown: impl std::future::Future<Output = ()>) {
    run_every(SCHEDULE_TICK, shutdown, "firing scheduled rules", || bus.fire_due_schedules()).await
}

/// Calls `work` every `period` until `shutdown` completes, logging its
/// failures as `what` failed (the next tick tries again). The server's
/// other periodic sweeps use it too.
pub async fn run_every<F, Fut, T, E>(
    period: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
    what: &str,
    mut work: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {
                if let Err(error) = work().await {
                    tracing::warn!(%error, "{what} failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_of_rates_and_crons() {
        let anchor = 1_800_000_000_000;
        assert_eq!(next_fire("rate(5 minutes)", anchor, anchor), Some(anchor + 300_000));
        assert_eq!(next_fire("rate(5 minutes)", anchor, anchor + 300_000), Some(anchor + 600_000));
        assert_eq!(next_fire("rate(5 minutes)", anchor, anchor + 299_999), Some(anchor + 300_000));
        // 2027-01-15T08:00:00Z; the next 08:30 of any day.
        let half_past = next_fire("cron(30 8 * * ? *)", anchor, anchor).unwrap();
        assert_eq!(half_past - anchor, 30 * 60_000);
        let document = json!({"State": "DISABLED", "ScheduleExpression": "rate(1 minute)"});
        assert_eq!(rule_next_fire(&document, anchor, anchor), None);
        assert_eq!(rule_next_fire(&json!({"State": "ENABLED", "EventPattern": "{}"}), anchor, anchor), None);
    }
}
