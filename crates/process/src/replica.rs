//! A storefront replica's read model: a memory copy of the PostgreSQL read model, loaded
//! from its snapshot at start-up and kept current from its change feed.
//!
//! The process is not ready until the snapshot is loaded; after that a failing feed leaves
//! the copy serving what it has (stale, never empty) while the job retries.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use commerce_core::services::replica::ReplicaSync;
use commerce_http::{metrics::Metrics, ops::Readiness};
use commerce_memory::MemoryReadModel;
use commerce_postgres::{PgPool, PgReadModelFeed};
use prometheus_client::metrics::{counter::Counter, gauge::Gauge, histogram::Histogram};
use tokio_util::sync::CancellationToken;

/// Products per feed batch: large enough that a 1M snapshot is a few hundred queries.
const BATCH: usize = 5_000;

/// Ready once the snapshot is loaded.
struct SnapshotLoaded(Arc<AtomicBool>);

#[async_trait]
impl Readiness for SnapshotLoaded {
    async fn check(&self) -> Result<(), String> {
        if self.0.load(Ordering::Acquire) { Ok(()) } else { Err("loading the read model snapshot".into()) }
    }
}

/// The replica's metrics.
#[derive(Clone)]
struct ReplicaMetrics {
    lag: Histogram,
    changes: Counter,
    products: Gauge,
    snapshot_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl ReplicaMetrics {
    fn registered(metrics: &Metrics) -> Self {
        let this = Self {
            // 1 ms .. ~16 s
            lag: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 15)),
            changes: Counter::default(),
            products: Gauge::default(),
            snapshot_seconds: Gauge::default(),
        };
        metrics.register(
            "read_replica_lag_seconds",
            "How long changes of the PostgreSQL read model waited before this replica read them",
            this.lag.clone(),
        );
        metrics.register(
            "read_replica_changes",
            "Changes this replica applied after its snapshot",
            this.changes.clone(),
        );
        metrics.register("read_replica_products", "Product views this replica holds", this.products.clone());
        metrics.register(
            "read_replica_snapshot_seconds",
            "How long loading the snapshot took at start-up",
            this.snapshot_seconds.clone(),
        );
        this
    }
}

/// The memory copy, its readiness, and the job that loads and follows it (stops on `stop`).
pub struct Replica {
    /// What the storefront reads.
    pub copy: Arc<MemoryReadModel>,
    /// Fails until the snapshot is loaded.
    pub readiness: Arc<dyn Readiness>,
    /// The feed job.
    pub job: tokio::task::JoinHandle<()>,
    loaded: Arc<AtomicBool>,
}

impl Replica {
    /// `routes` answering 503 (`Retry-After: 1`) until the snapshot is loaded: a gateway
    /// that sends requests to a restarted replica before its readiness probe fails does
    /// not get an empty catalog's 404s (it retries another replica on a 503).
    pub fn gate(&self, routes: axum::Router) -> axum::Router {
        let loaded = self.loaded.clone();
        routes.layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let loaded = loaded.clone();
            async move {
                use axum::response::IntoResponse as _;
                if loaded.load(Ordering::Acquire) {
                    return next.run(request).await;
                }
                // 503 with `Retry-After: 1`, as every unavailable dependency answers.
                commerce_http::error::ApiError::Unavailable("loading the read model snapshot".into()).into_response()
            }
        }))
    }
}

/// Starts copying the read model on `read` into memory, polling for changes every `poll`.
pub fn spawn(read: PgPool, poll: Duration, metrics: &Metrics, stop: CancellationToken) -> Replica {
    let copy = Arc::new(MemoryReadModel::new());
    let loaded = Arc::new(AtomicBool::new(false));
    let sync = Arc::new(ReplicaSync::new(Arc::new(PgReadModelFeed::new(read)), copy.clone(), BATCH));
    let m = ReplicaMetrics::registered(metrics);
    let job = tokio::spawn({
        let (copy, loaded) = (copy.clone(), loaded.clone());
        async move {
            let started = Instant::now();
            // The snapshot, retried with a back-off until the database answers; a retry
            // resumes where the failed batch left off.
            let mut backoff = Duration::from_millis(100);
            while let Err(e) = sync.catch_up().await {
                tracing::warn!(error = %e, retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX), "loading the read model snapshot failed");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
            loaded.store(true, Ordering::Release);
            m.snapshot_seconds.set(started.elapsed().as_secs_f64());
            m.products.set(i64::try_from(copy.len()).unwrap_or(i64::MAX));
            tracing::info!(
                products = copy.len(),
                seconds = started.elapsed().as_secs_f64(),
                "read model snapshot loaded"
            );
            commerce_runtime::jobs::run("read-replica", commerce_runtime::Pace::every(poll), stop, move || {
                let (sync, copy, m) = (sync.clone(), copy.clone(), m.clone());
                async move {
                    let batch = sync.step().await?;
                    if let Some(wait) = batch.longest_wait {
                        m.lag.observe(wait.as_secs_f64());
                    }
                    m.changes.inc_by(batch.applied as u64);
                    m.products.set(i64::try_from(copy.len()).unwrap_or(i64::MAX));
                    // Poll at once while a pass has more; idle otherwise.
                    Ok::<_, commerce_core::ports::StoreError>(usize::from(!batch.caught_up))
                }
            })
            .await;
        }
    });
    Replica { copy, readiness: Arc::new(SnapshotLoaded(loaded.clone())), job, loaded }
}
