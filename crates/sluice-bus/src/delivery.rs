//! The deliverer: takes stored deliveries (straight from this server's
//! PutEvents, or claimed from the store when due — retries, another
//! server's leftovers), invokes their targets, and then removes them,
//! schedules a retry (exponential backoff with jitter) or, past the
//! target's retry policy, sends the event to its dead-letter queue. A
//! delivery leaves the store only after its target took it or its
//! dead-letter queue did: at least once, across crashes and restarts.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use sluice_store::DeliveryRow;
use tokio::sync::{mpsc, Semaphore};

use crate::buses::{now_ms, EventBusService};
use crate::targets::{dead_letter_attributes, DeliveryTarget, Exhausted, FlowStarter, TargetError, Targets};

/// EventBridge's default retry policy: 185 retries within 24 hours.
pub const DEFAULT_MAX_RETRIES: i64 = 185;
/// EventBridge's default maximum event age (24 hours), in seconds.
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 86_400;

/// How the deliverer works.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Who holds leases (the server's id).
    pub owner: String,
    /// How long a delivery stays leased to this server (claimed, or handed
    /// over by its PutEvents); another server takes it over after that.
    pub lease: Duration,
    /// How often due deliveries are looked for in the store.
    pub poll_interval: Duration,
    /// Deliveries in flight at once.
    pub max_in_flight: usize,
    /// Backoff before the first retry (doubling each time).
    pub first_backoff: Duration,
    /// Longest backoff.
    pub max_backoff: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            owner: format!("deliverer-{}", uuid::Uuid::new_v4()),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(250),
            max_in_flight: 256,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl DeliveryConfig {
    /// The wait before retry number `attempt` (1-based): `first * 2^(n-1)`
    /// capped at `max`, with jitter taking it down to half.
    pub fn backoff(&self, attempt: i64) -> Duration {
        let exponent = (attempt.max(1) - 1).min(30) as u32;
        let full = self.first_backoff.saturating_mul(2u32.saturating_pow(exponent)).min(self.max_backoff);
        let jitter: f64 = rand::rng().random_range(0.5..=1.0);
        full.mul_f64(jitter)
    }
}

/// Delivers events to targets until stopped.
pub struct Deliverer {
    bus: EventBusService,
    targets: Targets,
    config: DeliveryConfig,
}

impl Deliverer {
    /// A deliverer for `bus`'s rules; flow targets need `flows`.
    pub fn new(bus: EventBusService, flows: Option<Arc<dyn FlowStarter>>, config: DeliveryConfig) -> Self {
        let targets = Targets::new(bus.clone(), flows);
        Self { bus, targets, config }
    }

    /// Runs until `shutdown` completes; then waits briefly for deliveries
    /// in flight and gives the leases of the rest back.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        // A restarted server (same owner id) takes back at once what it held
        // when it stopped or died, instead of waiting for those leases to expire.
        match self.bus.store().release_deliveries(&self.config.owner).await {
            Ok(released) if released > 0 => {
                tracing::info!(released, "event deliveries held before a restart taken back")
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot release this server's earlier delivery leases"),
        }
        let (sender, mut fast) = mpsc::channel::<DeliveryRow>(100_000);
        self.bus.attach_deliverer(&self.config.owner, sender, self.config.lease);
        let slots = Arc::new(Semaphore::new(self.config.max_in_flight));
        let (acks, ack_receiver) = mpsc::unbounded_channel::<String>();
        let acker = tokio::spawn(ack_loop(self.bus.clone(), self.config.owner.clone(), ack_receiver));
        let me = Arc::new(self);
        let mut poll = tokio::time::interval(me.config.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(delivery) = fast.recv() => me.clone().dispatch(delivery, &slots, &acks).await,
                _ = poll.tick() => {
                    let free = slots.available_permits();
                    if free == 0 {
                        continue;
                    }
                    let lease = me.config.lease.as_millis() as i64;
                    match me.bus.store().claim_deliveries(&me.config.owner, now_ms(), lease, free.min(512)).await {
                        Ok(claimed) => {
                            for delivery in claimed {
                                me.clone().dispatch(delivery, &slots, &acks).await;
                            }
                        }
                        Err(error) => tracing::warn!(%error, "claiming event deliveries failed"),
                    }
                }
            }
        }
        me.bus.detach_deliverer();
        fast.close();
        let _ = tokio::time::timeout(Duration::from_secs(6), slots.acquire_many(me.config.max_in_flight as u32)).await;
        // Record what was delivered before giving the rest back.
        drop(acks);
        let _ = tokio::time::timeout(Duration::from_secs(5), acker).await;
        match me.bus.store().release_deliveries(&me.config.owner).await {
            Ok(released) if released > 0 => tracing::info!(released, "event deliveries given back"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "giving event deliveries back failed"),
        }
    }

    async fn dispatch(
        self: Arc<Self>,
        delivery: DeliveryRow,
        slots: &Arc<Semaphore>,
        acks: &mpsc::UnboundedSender<String>,
    ) {
        let Ok(permit) = slots.clone().acquire_owned().await else { return };
        let acks = acks.clone();
        tokio::spawn(async move {
            match self.targets.invoke(&delivery).await {
                // Removed from the store in batches by the ack loop; a crash
                // before that delivers the event again (at least once).
                Ok(()) => {
                    let _ = acks.send(delivery.delivery_id);
                }
                Err(error) => self.failed(delivery, error).await,
            }
            drop(permit);
        });
    }

    async fn failed(&self, delivery: DeliveryRow, error: TargetError) {
        let attempts = delivery.attempts + 1;
        let target = DeliveryTarget::of(&delivery).ok();
        let policy = target.as_ref().and_then(|t| t.target.retry_policy.clone());
        let max_retries =
            policy.as_ref().and_then(|p| p.maximum_retry_attempts).map(i64::from).unwrap_or(DEFAULT_MAX_RETRIES);
        let max_age_ms = policy
            .as_ref()
            .and_then(|p| p.maximum_event_age_in_seconds)
            .map(i64::from)
            .unwrap_or(DEFAULT_MAX_AGE_SECONDS)
            * 1000;
        let wait = self.config.backoff(attempts).max(error.retry_after.unwrap_or_default());
        let next = now_ms() + wait.as_millis() as i64;
        let exhausted = if !error.retryable {
            Some(Exhausted::NotRetryable)
        } else if attempts > max_retries {
            Some(Exhausted::MaximumRetryAttempts)
        } else if next - delivery.ingested_at_ms > max_age_ms {
            Some(Exhausted::MaximumEventAgeInSeconds)
        } else {
            None
        };
        let target_arn = target.as_ref().map(|t| t.target.arn.clone()).unwrap_or_default();
        let Some(exhausted) = exhausted else {
            tracing::info!(
                delivery = %delivery.delivery_id,
                target = %target_arn,
                attempts,
                code = error.code,
                error = %error.message,
                "delivery failed; will retry"
            );
            if let Err(e) = self
                .bus
                .store()
                .retry_delivery(
                    &delivery.delivery_id,
                    &self.config.owner,
                    attempts,
                    next,
                    &format!("{}: {}", error.code, error.message),
                )
                .await
            {
                tracing::warn!(error = %e, "could not schedule a retry; the lease will expire and it is retried then");
            }
            return;
        };
        let dlq = target.as_ref().and_then(|t| t.target.dead_letter_config.as_ref()).and_then(|d| d.arn.clone());
        let rule_arn = target.as_ref().map(|t| t.rule_arn.clone()).unwrap_or_default();
        match dlq {
            Some(dlq) => {
                let attributes = dead_letter_attributes(&rule_arn, &target_arn, &error, attempts - 1, exhausted);
                match self.bus.queues().send_to_arn(&dlq, delivery.event.to_string(), attributes).await {
                    Ok(_) => tracing::warn!(
                        delivery = %delivery.delivery_id, target = %target_arn, dlq = %dlq, attempts, code = error.code,
                        "delivery given up; event sent to the dead-letter queue"
                    ),
                    Err(e) => tracing::error!(
                        delivery = %delivery.delivery_id, target = %target_arn, dlq = %dlq, error = %e,
                        "delivery given up and the dead-letter queue refused the event; event dropped"
                    ),
                }
            }
            None => tracing::warn!(
                delivery = %delivery.delivery_id, target = %target_arn, attempts, code = error.code, error = %error.message,
                "delivery given up; the target has no dead-letter queue, event dropped"
            ),
        }
        if let Err(e) = self.bus.store().finish_deliveries(&self.config.owner, &[delivery.delivery_id.clone()]).await {
            tracing::warn!(error = %e, "could not remove a given-up delivery");
        }
    }
}

/// Removes delivered deliveries from the store, many per statement.
async fn ack_loop(bus: EventBusService, owner: String, mut acks: mpsc::UnboundedReceiver<String>) {
    while let Some(first) = acks.recv().await {
        let mut ids = vec![first];
        while ids.len() < 1000 {
            match acks.try_recv() {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
        }
        if let Err(error) = bus.store().finish_deliveries(&owner, &ids).await {
            tracing::warn!(%error, deliveries = ids.len(), "could not record deliveries; they will be delivered again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let config = DeliveryConfig::default();
        for (attempt, full) in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 300.0), (100, 300.0)] {
            let wait = config.backoff(attempt).as_secs_f64();
            assert!(wait >= full * 0.5 - 1e-9 && wait <= full + 1e-9, "attempt {attempt}: {wait}");
        }
    }
}
