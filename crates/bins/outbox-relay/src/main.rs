//! `outbox-relay`: reads the write database's outbox in batches (`FOR UPDATE SKIP
//! LOCKED` with a lease, so several relays may run), publishes each event with the
//! idempotent producer keyed by aggregate id, and marks rows published only after
//! the broker acknowledged them. A crash between publish and mark republishes the
//! batch; consumers ignore versions they already applied. It also prunes published
//! rows older than `OUTBOX_RETAIN_HOURS`, so the outbox stays a hand-off, not a log.

use std::{sync::Arc, time::Duration};

use clap::Parser;
use commerce_core::services::events::OutboxRelay;
use commerce_kafka::{KafkaPublisher, ensure_topics_patiently};
use commerce_postgres::PgOutbox;
use commerce_process::{KafkaArgs, postgres::DatabaseArgs};
use commerce_runtime::Pace;
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
    #[arg(long, env = "OUTBOX_RETAIN_HOURS", default_value = "24")]
    retain_hours: u32,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    log_json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    commerce_process::init_tracing(cli.log_json);
    let brokers = cli.kafka.required_connection()?;
    let prefix = cli.kafka.kafka_topic_prefix.clone();
    // Topics first: brokers with auto-creation off need them.
    ensure_topics_patiently(&brokers, &prefix, cli.kafka.kafka_partitions).await;
    let outbox = PgOutbox::new(cli.db.write_pool()?, 30);
    let relay = OutboxRelay::new(Arc::new(outbox.clone()), Arc::new(KafkaPublisher::new(&brokers, &prefix)?));
    let stop = CancellationToken::new();
    let pruner =
        commerce_process::postgres::spawn_outbox_retention(&cli.db.write_pool()?, cli.retain_hours, stop.clone());
    let job = tokio::spawn(commerce_runtime::jobs::run(
        "outbox-relay",
        Pace::every(Duration::from_millis(cli.idle_ms)),
        stop.clone(),
        {
            let batch = cli.batch;
            move || {
                let relay = relay.clone();
                async move { relay.step(batch).await }
            }
        },
    ));
    tracing::info!(%brokers, %prefix, "outbox-relay running");
    commerce_process::shutdown_signal().await;
    stop.cancel();
    let relayed = job.await?;
    if let Some(pruner) = pruner {
        pruner.await?;
    }
    tracing::info!(relayed, "outbox-relay stopped");
    Ok(())
}
