//! `projector`: consumes the event topics as a consumer group and applies each event
//! to the read model, acknowledging (committing offsets) only after the read model
//! stored it. Events are idempotent by aggregate version, so redelivery after a crash
//! changes nothing. `projector rebuild` empties the read model and replays the topics
//! from the beginning under a new consumer group, then exits.

use std::{sync::Arc, time::Duration};

use clap::Parser;
use commerce_core::{ports::ProductProjection, services::events::Projector};
use commerce_kafka::{KafkaConsumer, ensure_topics_patiently};
use commerce_postgres::PgReadModel;
use commerce_process::{KafkaArgs, postgres::DatabaseArgs};
use commerce_runtime::Pace;
use tokio_util::sync::CancellationToken;

/// The projector.
#[derive(Debug, Parser)]
#[command(name = "projector", version, about)]
struct Cli {
    /// `run` (default) or `rebuild`.
    #[command(subcommand)]
    command: Option<Command>,
    /// Databases (the read model is in `READ_DATABASE_URL`, default `DATABASE_URL`).
    #[command(flatten)]
    db: DatabaseArgs,
    /// The broker.
    #[command(flatten)]
    kafka: KafkaArgs,
    /// Consumer group of the read model.
    #[arg(long, env = "PROJECTOR_GROUP", default_value = "commerce-read-model")]
    group: String,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    log_json: bool,
}

#[derive(Debug, Clone, Copy, clap::Subcommand)]
enum Command {
    /// Project events as they arrive (the default).
    Run,
    /// Empty the read model and replay every topic from the beginning, then exit.
    Rebuild,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    commerce_process::init_tracing(cli.log_json);
    let brokers = cli.kafka.required_connection()?;
    let prefix = cli.kafka.kafka_topic_prefix.clone();
    let session = Duration::from_millis(cli.kafka.kafka_session_timeout_ms);
    ensure_topics_patiently(&brokers, &prefix, cli.kafka.kafka_partitions).await;
    let write = cli.db.write_pool()?;
    let read_model = Arc::new(PgReadModel::new(cli.db.read_pool(&write)?));
    let projector = Projector::new(read_model.clone());

    if let Some(Command::Rebuild) = cli.command {
        read_model.reset().await?;
        let group = format!("{}-rebuild-{}", cli.group, std::process::id());
        let consumer = KafkaConsumer::with_session_timeout(&brokers, &prefix, &group, session)?;
        let (mut applied, mut idle) = (0, 0);
        // Caught up once several consecutive polls find nothing.
        while idle < 6 {
            let n = projector.step(&consumer, 1000).await?;
            applied += n;
            idle = if n == 0 { idle + 1 } else { 0 };
        }
        tracing::info!(applied, "read model rebuilt from the topics");
        return Ok(());
    }

    let consumer = Arc::new(KafkaConsumer::with_session_timeout(&brokers, &prefix, &cli.group, session)?);
    let stop = CancellationToken::new();
    let job = tokio::spawn(commerce_runtime::jobs::run(
        "projector",
        Pace::every(Duration::from_millis(10)),
        stop.clone(),
        move || {
            let (projector, consumer) = (projector.clone(), consumer.clone());
            async move { projector.step(&*consumer, 500).await }
        },
    ));
    tracing::info!(%brokers, %prefix, group = %cli.group, "projector running");
    commerce_process::shutdown_signal().await;
    stop.cancel();
    let applied = job.await?;
    tracing::info!(applied, "projector stopped");
    Ok(())
}
