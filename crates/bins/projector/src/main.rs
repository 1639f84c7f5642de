//! `projector`: consumes the event topics as a consumer group and applies each event
//! to the read model, acknowledging (committing offsets) only after the read model
//! stored it. Events are idempotent by aggregate version, so redelivery after a crash
//! changes nothing. `projector rebuild` empties the read model and replays the topics
//! from the beginning under a new consumer group, then exits.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{sync::Arc, time::Duration};

use clap::Parser;
use commerce_core::{
    ports::{Clock as _, Delivery, EventConsumer, EventError, ProductProjection},
    services::events::Projector,
};
use commerce_kafka::{KafkaConsumer, ensure_topics_patiently};
use commerce_postgres::PgReadModel;
use commerce_process::{KafkaArgs, postgres::DatabaseArgs};
use commerce_runtime::Pace;
use commerce_runtime::SystemClock;
use prometheus_client::metrics::{counter::Counter, histogram::Histogram};
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
    /// How the projector gets its partitions: `group` (join the consumer group: several
    /// projectors share the partitions and take over a crashed one's) or `static` (read
    /// every partition itself, committing to the group: no join, so no start-up pause; for
    /// a single projector).
    #[arg(long, env = "PROJECTOR_PARTITION_ASSIGNMENT", value_enum, default_value = "group")]
    partition_assignment: Assignment,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    log_json: bool,
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:9462")]
    listen: std::net::SocketAddr,
}

/// How the projector gets its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Assignment {
    /// Join the consumer group.
    Group,
    /// Read every partition, without joining.
    Static,
}

/// The consumer, observed: each delivered event counts, with its lag (from when it
/// happened to when the projector received it; applying follows at once).
struct Observed {
    inner: Arc<KafkaConsumer>,
    events: Counter,
    lag: Histogram,
}

impl Observed {
    fn new(inner: Arc<KafkaConsumer>, metrics: &commerce_http::metrics::Metrics) -> Self {
        // 5 ms .. ~80 s
        let lag = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.005, 2.0, 15));
        let events = Counter::default();
        metrics.register("projector_events", "Events received by the projector", events.clone());
        metrics.register("projection_lag_seconds", "Seconds from an event to its projection", lag.clone());
        Self { inner, events, lag }
    }
}

#[async_trait::async_trait]
impl EventConsumer for Observed {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError> {
        let batch = self.inner.poll(max).await?;
        let now = SystemClock.now().unix_micros();
        for delivery in &batch {
            let micros = now.saturating_sub(delivery.envelope.occurred_at.unix_micros()).max(0);
            #[allow(clippy::cast_precision_loss, reason = "a lag in seconds needs no more than f64's 52 bits")]
            self.lag.observe(micros as f64 / 1e6);
        }
        self.events.inc_by(u64::try_from(batch.len()).unwrap_or(0));
        Ok(batch)
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        self.inner.ack(tag).await
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        self.inner.dead_letter(delivery, reason).await
    }
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
    let (cli, old_names) = commerce_process::config::parse::<Cli>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(cli.log_json, "projector")?;
    commerce_process::config::warn_renamed(&old_names);
    let brokers = cli.kafka.required_connection()?;
    let prefix = cli.kafka.kafka_topic_prefix.clone();
    let session = Duration::from_millis(cli.kafka.kafka_session_timeout_ms);
    ensure_topics_patiently(&brokers, &prefix, cli.kafka.kafka_partitions).await;
    let write = cli.db.write_pool()?;
    let read = cli.db.read_pool(&write)?;
    let read_model = Arc::new(PgReadModel::new(read.clone()));
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

    let stop = CancellationToken::new();
    let ops = commerce_http::ops::OpsState::new(commerce_process::postgres::readiness(&[&read]));
    let pool_metrics = commerce_process::postgres::spawn_pool_metrics(&[("read", read)], &ops.metrics, stop.clone());
    let kafka = Arc::new(match cli.partition_assignment {
        Assignment::Group => KafkaConsumer::with_session_timeout(&brokers, &prefix, &cli.group, session)?,
        Assignment::Static => {
            KafkaConsumer::assigned(&brokers, &prefix, &cli.group, &commerce_kafka::READ_MODEL_AGGREGATES)?
        }
    });
    let consumer = Arc::new(Observed::new(kafka.clone(), &ops.metrics));
    let lag = commerce_process::spawn_consumer_lag(kafka, &cli.group, &ops.metrics, stop.clone());
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    let probes = commerce_process::spawn_ops(listener, ops, stop.clone());
    let job = tokio::spawn(commerce_runtime::jobs::run(
        "projector",
        Pace::every(Duration::from_millis(10)),
        stop.clone(),
        move || {
            let (projector, consumer) = (projector.clone(), consumer.clone());
            async move { projector.step(&*consumer, 500).await }
        },
    ));
    tracing::info!(%brokers, %prefix, group = %cli.group, probes = %cli.listen, "projector running");
    commerce_process::shutdown_signal().await;
    stop.cancel();
    let applied = job.await?;
    let _ = pool_metrics.await;
    let _ = lag.await;
    probes.await??;
    tracing::info!(applied, "projector stopped");
    Ok(())
}
