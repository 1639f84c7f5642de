//! The database pools on `/metrics`: connections in use, idle and allowed, and how long
//! taking a connection waits, sampled once a second (sqlx reports no acquire times of its
//! own; a probe taking one as requests do sees the same queue).

use std::time::{Duration, Instant};

use commerce_http::metrics::Metrics;
use commerce_postgres::PgPool;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolState {
    pool: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolName {
    pool: &'static str,
}

fn wait_histogram() -> Histogram {
    // 0.1 ms .. ~3 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.000_1, 2.0, 15))
}

/// Registers the pool metrics on `metrics` and samples `pools` (each named: `write`,
/// `read`) once a second until `stop`.
pub fn spawn_pool_metrics(
    pools: &[(&'static str, PgPool)],
    metrics: &Metrics,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let connections = Family::<PoolState, Gauge>::default();
    let allowed = Family::<PoolName, Gauge>::default();
    let waits = Family::<PoolName, Histogram, fn() -> Histogram>::new_with_constructor(wait_histogram);
    let timeouts = Family::<PoolName, Counter>::default();
    metrics.register(
        "db_pool_connections",
        "Database connections by pool and state (in_use, idle)",
        connections.clone(),
    );
    metrics.register("db_pool_max_connections", "Database connections a pool may open", allowed.clone());
    metrics.register(
        "db_pool_acquire_wait_seconds",
        "How long taking a connection waited, sampled once a second per pool",
        waits.clone(),
    );
    metrics.register("db_pool_acquire_timeouts", "Sampled acquisitions that timed out, per pool", timeouts.clone());
    let pools = pools.to_vec();
    tokio::spawn(async move {
        loop {
            for (name, pool) in &pools {
                let size = i64::from(pool.size());
                let idle = i64::try_from(pool.num_idle()).unwrap_or(i64::MAX);
                connections.get_or_create(&PoolState { pool: name, state: "idle" }).set(idle);
                connections.get_or_create(&PoolState { pool: name, state: "in_use" }).set((size - idle).max(0));
                allowed.get_or_create(&PoolName { pool: name }).set(i64::from(pool.options().get_max_connections()));
                let started = Instant::now();
                match tokio::time::timeout(Duration::from_secs(5), pool.acquire()).await {
                    Ok(Ok(connection)) => {
                        waits.get_or_create(&PoolName { pool: name }).observe(started.elapsed().as_secs_f64());
                        drop(connection);
                    }
                    // A database that is down shows in readiness; this counts a pool
                    // that cannot hand out a connection in time.
                    Ok(Err(_)) | Err(_) => {
                        timeouts.get_or_create(&PoolName { pool: name }).inc();
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = stop.cancelled() => return,
            }
        }
    })
}
