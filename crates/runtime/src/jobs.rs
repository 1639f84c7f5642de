//! Background jobs: the core exposes background work as single steps (`OutboxRelay::step`,
//! `Projector::step`, `RecoveryService::run_once`, `InventoryService::expire_due`);
//! this crate runs such a step in a loop on tokio:
//!
//! - a step that did work (`Ok(n > 0)`) runs again at once, to drain a backlog;
//! - an idle step (`Ok(0)`) waits `idle` before the next try;
//! - a failing step is logged and retried with exponential back-off (capped);
//! - the loop ends when the shutdown token is cancelled, after the step in flight.

use std::{fmt::Display, future::Future, time::Duration};

use tokio_util::sync::CancellationToken;

/// How a job loop paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Wait after a step found nothing to do.
    pub idle: Duration,
    /// First wait after a failure; doubles per consecutive failure.
    pub backoff: Duration,
    /// Longest wait after failures.
    pub max_backoff: Duration,
}

impl Pace {
    /// Polls every `idle`, backing off from 100 ms to 10 s on errors.
    pub fn every(idle: Duration) -> Self {
        Self { idle, backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(10) }
    }
}

/// Runs `step` until `shutdown` is cancelled. Returns how many units of work the steps reported.
pub async fn run<F, Fut, E>(name: &'static str, pace: Pace, shutdown: CancellationToken, mut step: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, E>>,
    E: Display,
{
    let mut done = 0_u64;
    let mut failures = 0_u32;
    tracing::debug!(job = name, "started");
    while !shutdown.is_cancelled() {
        let wait = match step().await {
            Ok(0) => {
                failures = 0;
                pace.idle
            }
            Ok(n) => {
                failures = 0;
                done += n as u64;
                continue;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let wait =
                    pace.backoff.saturating_mul(2_u32.saturating_pow(failures.min(16) - 1)).min(pace.max_backoff);
                tracing::warn!(job = name, error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "step failed");
                wait
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
    }
    tracing::debug!(job = name, done, "stopped");
    done
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drains_backs_off_and_stops_on_shutdown() {
        let calls = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let c = calls.clone();
        // Three units of work, then two failures, then idle.
        let job = tokio::spawn(run("test", Pace::every(Duration::from_secs(1)), shutdown.clone(), move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0..=2 => Ok(1),
                    3 | 4 => Err("boom"),
                    _ => Ok(0),
                }
            }
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4, "drains at once, then waits after the first failure");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 6, "100 ms then 200 ms of back-off");
        shutdown.cancel();
        assert_eq!(job.await.unwrap(), 3);
    }
}
