//! `notifications`: sends customers their order e-mails. It consumes the order events
//! from the broker (`KAFKA_BROKERS`, consumer group `NOTIFICATIONS_GROUP`) or, where no
//! broker runs, straight from the write database's outbox; reads each order from the
//! write database; renders the message from the templates of `commerce-mail`; sends it
//! through `SMTP_URL` from `MAIL_FROM`; and records it in `commerce.notifications`, so a
//! redelivered event never sends a second message.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use commerce_core::{
    notify::Sender,
    ports::EventConsumer,
    services::{Env, notifications::NotificationService},
};
use commerce_mail::{SmtpMailer, Templates};
use commerce_postgres::{PgDeliveryLog, PgOrderStore, PgOutboxConsumer};
pub use commerce_process::{Command, KafkaArgs, postgres::DatabaseArgs};
use commerce_runtime::{Pace, RandomIds, SystemClock};
use tokio_util::sync::CancellationToken;

/// The notifications service.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "notifications", version, about)]
pub struct Cli {
    /// `serve` (default: send messages) or `migrate`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The write database: orders, the delivery log, and the outbox without a broker.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// The broker; unset: read the outbox.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Consumer group on the broker.
    #[arg(long, env = "NOTIFICATIONS_GROUP", default_value = "commerce-notifications")]
    pub group: String,
    /// The SMTP relay: `smtps://host:465` (TLS) or `smtp://host:587` (STARTTLS; a loopback
    /// host may stay unencrypted unless `?tls=required`), with `user:password@` for SMTP AUTH.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: commerce_process::secrets::Secret,
    /// A certificate authority (PEM) to trust for the relay's certificate, besides the web
    /// PKI's roots.
    #[arg(long, env = "SMTP_CA_FILE")]
    pub smtp_ca_file: Option<std::path::PathBuf>,
    /// The sender: `orders@shop.example` or `Shop <orders@shop.example>`; its domain
    /// names the messages (`Message-ID: <event id@domain>`).
    #[arg(long, env = "MAIL_FROM")]
    pub mail_from: String,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    pub log_json: bool,
}

/// Sends messages until `shutdown` resolves; the message in flight is finished first.
pub async fn run(cli: Cli, shutdown: impl std::future::Future<Output = ()> + Send) -> anyhow::Result<()> {
    let sender = Sender::parse(&cli.mail_from).map_err(|e| anyhow::anyhow!("MAIL_FROM: {e}"))?;
    let mailer = SmtpMailer::configured(cli.smtp_url.expose(), cli.smtp_ca_file.as_deref())?;
    let pool = cli.db.write_pool()?;
    let consumer: Arc<dyn EventConsumer> = match cli.kafka.connection()? {
        Some(brokers) => {
            let prefix = &cli.kafka.kafka_topic_prefix;
            commerce_kafka::ensure_topics_patiently(&brokers, prefix, cli.kafka.kafka_partitions).await;
            let session = Duration::from_millis(cli.kafka.kafka_session_timeout_ms);
            Arc::new(
                commerce_kafka::KafkaConsumer::with_session_timeout(&brokers, prefix, &cli.group, session)
                    .context("connecting to the broker")?,
            )
        }
        None => Arc::new(PgOutboxConsumer::notifications(pool.clone())),
    };
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let service = NotificationService::new(
        Arc::new(PgOrderStore::new(pool.clone())),
        Arc::new(PgDeliveryLog::new(pool)),
        Arc::new(Templates),
        Arc::new(mailer.clone()),
        sender,
        env,
    );
    let stop = CancellationToken::new();
    let job = tokio::spawn(commerce_runtime::jobs::run(
        "notifications",
        Pace::every(Duration::from_millis(200)),
        stop.clone(),
        move || {
            let (service, consumer) = (service.clone(), consumer.clone());
            async move { service.step(&*consumer, 50).await }
        },
    ));
    tracing::info!(smtp = mailer.server(), from = %cli.mail_from, broker = cli.kafka.brokers().is_some(), "notifications running");
    shutdown.await;
    stop.cancel();
    let handled = job.await?;
    tracing::info!(handled, "notifications stopped");
    Ok(())
}
