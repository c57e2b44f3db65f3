//! Retries of transient failures: exponential backoff with full jitter,
//! a bounded number of attempts, every retry counted for the run's record.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tokio_util::sync::CancellationToken;

use crate::ConnectorError;

/// How often and how patiently a failed call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1: no retry).
    pub max_attempts: u32,
    /// The longest first wait; each retry may wait twice as long as the last.
    pub first_delay: Duration,
    /// No wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Six attempts, waiting up to 0.25, 0.5, 1, 2 and 4 s between them
    /// (about 8 s at most in all).
    fn default() -> Self {
        Self { max_attempts: 6, first_delay: Duration::from_millis(250), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    /// No retries: the first failure is final.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// The ceiling of the wait before retry number `retry` (0-based):
    /// `first_delay * 2^retry`, at most `max_delay`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX);
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// A random wait in `[0, ceiling(retry)]` ("full jitter"), so clients
    /// that failed together do not come back together.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry).as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(0..=ceiling))
    }
}

/// Counts the calls a run retried (shown in its execution record).
#[derive(Debug, Default)]
pub struct RetryCounter(AtomicU64);

impl RetryCounter {
    /// Retries so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Where a connector's calls retry: the policy, the run's counter and its
/// cancellation (a wait between attempts ends when the run is cancelled).
#[derive(Debug, Clone, Default)]
pub struct Retries {
    /// The policy.
    pub policy: RetryPolicy,
    /// Counts every retry.
    pub counter: Arc<RetryCounter>,
    /// Ends waits early.
    pub cancel: CancellationToken,
}

impl Retries {
    /// No retries (interactive calls: the caller sees the first failure).
    pub fn none() -> Self {
        Self { policy: RetryPolicy::none(), ..Self::default() }
    }

    /// Runs `call` until it succeeds, fails with an error that a retry
    /// cannot fix, or has used every attempt; `what` names the call in logs.
    pub async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let mut retry = 0;
        loop {
            match call().await {
                Err(error) if error.is_retryable() && retry + 1 < self.policy.max_attempts => {
                    let wait = self.policy.delay(retry);
                    tracing::warn!(call = what, attempt = retry + 1, wait_ms = wait.as_millis() as u64, %error, "transient failure; retrying");
                    self.counter.add();
                    retry += 1;
                    tokio::select! {
                        biased;
                        _ = self.cancel.cancelled() => return Err(ConnectorError::Cancelled),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
                outcome => return outcome,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    fn unavailable() -> ConnectorError {
        ConnectorError::Remote { system: "test", code: "UNKNOWN".into(), message: "down".into(), status: 503 }
    }

    fn quick(max_attempts: u32) -> Retries {
        Retries {
            policy: RetryPolicy {
                max_attempts,
                first_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(4),
            },
            ..Retries::default()
        }
    }

    #[test]
    fn waits_grow_to_the_ceiling_with_jitter_below_it() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(0), Duration::from_millis(250));
        assert_eq!(policy.ceiling(3), Duration::from_secs(2));
        assert_eq!(policy.ceiling(10), Duration::from_secs(8));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(8));
        for retry in 0..8 {
            assert!(policy.delay(retry) <= policy.ceiling(retry));
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_counted() {
        let retries = quick(5);
        let calls = AtomicU32::new(0);
        let result = retries
            .run("test", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(unavailable())
                } else {
                    Ok("done")
                }
            })
            .await;
        assert_eq!(result.unwrap(), "done");
        assert_eq!((calls.load(Ordering::SeqCst), retries.counter.get()), (4, 3));
    }

    #[tokio::test]
    async fn attempts_are_bounded_and_user_errors_are_not_retried() {
        let retries = quick(3);
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retries
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(unavailable())
            })
            .await;
        assert!(matches!(result, Err(ConnectorError::Remote { status: 503, .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retries
            .run("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ConnectorError::Remote { system: "test", code: "BAD".into(), message: "no".into(), status: 400 })
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a 400 fails at once");
    }

    #[tokio::test]
    async fn a_cancel_ends_the_wait() {
        let retries = Retries {
            policy: RetryPolicy {
                max_attempts: 3,
                first_delay: Duration::from_secs(60),
                max_delay: Duration::from_secs(60),
            },
            ..Retries::default()
        };
        retries.cancel.cancel();
        let started = std::time::Instant::now();
        let result: Result<(), _> = retries.run("test", || async { Err(unavailable()) }).await;
        assert!(matches!(result, Err(ConnectorError::Cancelled)));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
