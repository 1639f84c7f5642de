//! `outbox-relay`: reads the write database's outbox in batches (`FOR UPDATE SKIP
//! LOCKED` with a lease, so several relays may run), publishes each event with the
//! idempotent producer keyed by aggregate id, and marks rows published only after
//! the broker acknowledged them. A crash between publish and mark republishes the
//! batch; consumers ignore versions they already applied. It also prunes published
//! rows older than `COMMERCE_OUTBOX_RETAIN_HOURS`, so the outbox stays a hand-off, not a log.
//! And it collects the broker's dead-letter topic into `commerce.dead_letters`, where
//! the admin API and `catalog-api dead-letters` list, replay and discard them.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{sync::Arc, time::Duration};

use std::sync::atomic::AtomicU64;

use clap::Parser;
use commerce_core::ports::DeadLetterStore as _;
use commerce_core::services::events::OutboxRelay;
use commerce_kafka::{DeadLetterCollector, KafkaPublisher, ensure_topics_patiently};
use commerce_postgres::{PgDeadLetters, PgOutbox};
use commerce_process::{KafkaArgs, postgres::DatabaseArgs};
use commerce_runtime::Pace;
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use tokio_util::sync::CancellationToken;

/// The outbox relay.
#[derive(Debug, Parser)]
#[command(name = "outbox-relay", version, about)]
struct Cli {
    /// Databases (the outbox is in the write database).
    #[command(flatten)]
    db: DatabaseArgs,
    /// The broker.
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Rows per batch.
    #[arg(long, env = "RELAY_BATCH", default_value = "500")]
    batch: usize,
    /// Poll interval when the outbox is empty, in milliseconds.
    #[arg(long, env = "RELAY_IDLE_MS", default_value = "50")]
    idle_ms: u64,
    /// Rows are deleted this many hours after they were written, once every kind of reader
    /// still around handled them (0: never).
    #[arg(long, env = "COMMERCE_OUTBOX_RETAIN_HOURS", default_value = "24")]
    retain_hours: u32,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    log_json: bool,
    /// The consumer group collecting the dead-letter topic (default `<prefix>-dead-letters`).
    #[arg(long, env = "RELAY_DEAD_LETTER_GROUP")]
    dead_letter_group: Option<String>,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:9461")]
    listen: std::net::SocketAddr,
}

/// What the relay reports on `/metrics`.
#[derive(Clone, Default)]
struct RelayMetrics {
    relayed: Counter,
    backlog: Gauge,
    oldest_age: Gauge<f64, AtomicU64>,
    collected: Counter,
    parked: Gauge,
}

impl RelayMetrics {
    fn register(&self, metrics: &commerce_http::metrics::Metrics) {
        metrics.register("outbox_relayed_events", "Events published to the broker and marked", self.relayed.clone());
        metrics.register("outbox_backlog_events", "Outbox rows not yet published", self.backlog.clone());
        metrics.register(
            "outbox_oldest_pending_age_seconds",
            "Seconds the oldest unpublished outbox row has waited (0 when none)",
            self.oldest_age.clone(),
        );
        metrics.register(
            "dead_letters_collected",
            "Messages moved from the dead-letter topic to the database",
            self.collected.clone(),
        );
        metrics.register(
            "dead_letters_parked",
            "Dead letters waiting for an operator (replay or discard)",
            self.parked.clone(),
        );
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<Cli>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(cli.log_json, "outbox-relay")?;
    commerce_process::config::warn_renamed(&old_names);
    let brokers = cli.kafka.required_connection()?;
    let prefix = cli.kafka.kafka_topic_prefix.clone();
    // Topics first: brokers with auto-creation off need them.
    ensure_topics_patiently(&brokers, &prefix, cli.kafka.kafka_partitions).await;
    let pool = cli.db.write_pool()?;
    let outbox = PgOutbox::new(pool.clone(), 30);
    let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(KafkaPublisher::new(&brokers, &prefix)?));
    let letters = PgDeadLetters::new(pool.clone());
    let group = cli.dead_letter_group.clone().unwrap_or_else(|| format!("{prefix}-dead-letters"));
    let collector = Arc::new(DeadLetterCollector::new(
        &brokers,
        &prefix,
        &group,
        Arc::new(letters.clone()),
        Arc::new(commerce_runtime::SystemClock),
    )?);
    let stop = CancellationToken::new();
    let metrics = RelayMetrics::default();
    let ops = commerce_http::ops::OpsState::new(commerce_process::postgres::readiness(&[&pool]));
    metrics.register(&ops.metrics);
    let pool_metrics =
        commerce_process::postgres::spawn_pool_metrics(&[("write", pool.clone())], &ops.metrics, stop.clone());
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    let probes = commerce_process::spawn_ops(listener, ops, stop.clone());
    // The backlog, measured every few seconds rather than per scrape: one indexed count.
    let gauges = tokio::spawn(commerce_runtime::jobs::run(
        "outbox-backlog",
        Pace::every(Duration::from_secs(5)),
        stop.clone(),
        {
            let (outbox, letters, metrics) = (outbox.clone(), letters.clone(), metrics.clone());
            move || {
                let (outbox, letters, metrics) = (outbox.clone(), letters.clone(), metrics.clone());
                async move {
                    let (rows, oldest) = outbox.backlog().await?;
                    metrics.backlog.set(rows);
                    metrics.oldest_age.set(oldest);
                    let parked = letters
                        .count()
                        .await
                        .map_err(|e| commerce_core::ports::EventError::Unavailable(e.to_string()))?;
                    metrics.parked.set(i64::try_from(parked).unwrap_or(i64::MAX));
                    Ok::<_, commerce_core::ports::EventError>(0)
                }
            }
        },
    ));
    let pruner =
        commerce_process::postgres::spawn_outbox_retention(&cli.db.write_pool()?, cli.retain_hours, stop.clone());
    let job = tokio::spawn(commerce_runtime::jobs::run(
        "outbox-relay",
        Pace::every(Duration::from_millis(cli.idle_ms)),
        stop.clone(),
        {
            let (batch, relayed) = (cli.batch, metrics.relayed.clone());
            move || {
                let (relay, relayed) = (relay.clone(), relayed.clone());
                async move {
                    let n = relay.step(batch).await?;
                    relayed.inc_by(u64::try_from(n).unwrap_or(0));
                    Ok::<_, commerce_core::ports::EventError>(n)
                }
            }
        },
    ));
    let collecting = tokio::spawn(commerce_runtime::jobs::run(
        "dead-letter-collector",
        Pace::every(Duration::from_secs(1)),
        stop.clone(),
        {
            let collected = metrics.collected.clone();
            move || {
                let (collector, collected) = (collector.clone(), collected.clone());
                async move {
                    let n = collector.step(100).await?;
                    collected.inc_by(u64::try_from(n).unwrap_or(0));
                    Ok::<_, commerce_core::ports::EventError>(n)
                }
            }
        },
    ));
    tracing::info!(%brokers, %prefix, dead_letter_group = %group, probes = %cli.listen, "outbox-relay running");
    commerce_process::shutdown_signal().await;
    stop.cancel();
    let relayed = job.await?;
    let _ = gauges.await;
    let _ = collecting.await;
    let _ = pool_metrics.await;
    probes.await??;
    if let Some(pruner) = pruner {
        pruner.await?;
    }
    tracing::info!(relayed, "outbox-relay stopped");
    Ok(())
}
