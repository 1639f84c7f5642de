//! # commerce-process
//!
//! What every reference binary needs around its wiring: common flags and
//! environment variables, logging, the shutdown signal, secrets ([`secrets`]), the
//! retention job, and (feature `postgres`) database pools, readiness and migrations.

pub mod config;
pub mod secrets;
pub mod seed;
mod shop;
mod telemetry;
pub mod transfer;
mod web;

pub use shop::{BrowserTokenizer, Payments, PaymentsArgs, RecoveryArgs};
pub use telemetry::{Telemetry, init_tracing};
pub use web::WebArgs;

use std::{fmt::Display, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use async_trait::async_trait;
use commerce_core::{Timestamp, idempotency::IdempotencySecret, ports::Clock as _};
use commerce_http::ops::Readiness;
use commerce_runtime::{RandomIds, SystemClock};

/// The subcommands of the PostgreSQL services.
#[derive(Debug, Clone, Copy, clap::Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
}

/// Where stock lives: with `--inventory-grpc-url`, in the inventory service and nowhere else.
#[derive(Debug, Clone, clap::Args)]
pub struct InventoryArgs {
    /// The inventory service (e.g. `http://127.0.0.1:50051`); unset: stock in this service's database.
    #[arg(long, env = "INVENTORY_GRPC_URL")]
    pub inventory_grpc_url: Option<String>,
    /// The inventory service's token, which every call but the reads needs.
    #[arg(long, env = "INVENTORY_TOKEN", hide_env_values = true)]
    pub inventory_token: Option<secrets::Secret>,
    /// A file holding the inventory service's token.
    #[arg(long, env = "INVENTORY_TOKEN_FILE")]
    pub inventory_token_file: Option<std::path::PathBuf>,
    /// PEM CA certificate(s) the inventory service's certificate must chain to: with an
    /// `https://` URL, the calls travel over TLS.
    #[arg(long, env = "INVENTORY_CA_FILE")]
    pub inventory_ca_file: Option<std::path::PathBuf>,
    /// PEM certificate this service presents when the inventory service requires one
    /// (mutual TLS); with `--inventory-client-key`.
    #[arg(long, env = "INVENTORY_CLIENT_CERT", requires = "inventory_client_key")]
    pub inventory_client_cert: Option<std::path::PathBuf>,
    /// Its private key.
    #[arg(long, env = "INVENTORY_CLIENT_KEY", requires = "inventory_client_cert")]
    pub inventory_client_key: Option<std::path::PathBuf>,
    /// The inventory service publishes stock events itself (it runs with `KAFKA_BROKERS`):
    /// record none here. Unset, this service records a `stock.changed` in its own outbox
    /// after each inventory call, which also works without a broker.
    #[arg(long, env = "INVENTORY_PUBLISHES_EVENTS")]
    pub inventory_publishes_events: bool,
}

impl InventoryArgs {
    /// The token for the inventory service; required by a process that changes stock
    /// there (it refuses to start without one instead of failing each request).
    pub fn required_token(&self) -> anyhow::Result<String> {
        let why = " with INVENTORY_GRPC_URL: the inventory service's token";
        let token = secrets::require(
            "INVENTORY_TOKEN",
            self.inventory_token.as_ref(),
            self.inventory_token_file.as_deref(),
            why,
        )?;
        secrets::bearer("INVENTORY_TOKEN", &token)?;
        Ok(token)
    }
}

/// The secret of idempotent commands (see `commerce_core::idempotency`).
#[derive(Debug, Clone, clap::Args)]
pub struct IdempotencyArgs {
    /// Secret (at least 32 bytes) that fingerprints idempotent requests and derives order
    /// access tokens. Every replica of one shop must share it; changing it makes retries of
    /// earlier keys answer 422 (never a second order).
    #[arg(long, env = "COMMERCE_IDEMPOTENCY_SECRET", hide_env_values = true)]
    pub idempotency_secret: Option<secrets::Secret>,
    /// A file holding the idempotency secret.
    #[arg(long, env = "COMMERCE_IDEMPOTENCY_SECRET_FILE")]
    pub idempotency_secret_file: Option<std::path::PathBuf>,
}

impl IdempotencyArgs {
    /// The secret configured inline or in a file, if any.
    pub fn configured(&self) -> anyhow::Result<Option<IdempotencySecret>> {
        let name = "COMMERCE_IDEMPOTENCY_SECRET";
        secrets::resolve(name, self.idempotency_secret.as_ref(), self.idempotency_secret_file.as_deref())?
            .map(|raw| IdempotencySecret::new(raw.into_bytes()).map_err(|e| anyhow::anyhow!("{name} {e}")))
            .transpose()
    }

    /// The configured secret; required where keys outlive the process or replicas share them.
    pub fn required_secret(&self) -> anyhow::Result<IdempotencySecret> {
        self.configured()?.ok_or_else(|| {
            anyhow::anyhow!(
                "COMMERCE_IDEMPOTENCY_SECRET (or COMMERCE_IDEMPOTENCY_SECRET_FILE) is required: the same secret of at least 32 bytes on every replica (e.g. `openssl rand -hex 32`)"
            )
        })
    }

    /// The configured secret, or a new random one for a process whose keys die with it.
    pub fn secret_or_generated(&self) -> anyhow::Result<IdempotencySecret> {
        Ok(self.configured()?.unwrap_or_else(|| IdempotencySecret::generate(&RandomIds)))
    }
}

/// Where events travel when a broker is used.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaArgs {
    /// Kafka-protocol brokers (`host:port,...`); unset: no broker.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic prefix: topics are `<prefix>.product`, `.collection`, `.stock`, `.order`, `.restock`, `.dlq`.
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "commerce")]
    pub kafka_topic_prefix: String,
    /// Partitions of topics this process creates.
    #[arg(long, env = "KAFKA_PARTITIONS", default_value = "3")]
    pub kafka_partitions: i32,
    /// Consumer session timeout in milliseconds: how long the broker waits before giving a
    /// silent (crashed) consumer's partitions to another, and how long a broker may stay
    /// silent before a consumer gives them up.
    #[arg(long, env = "KAFKA_SESSION_TIMEOUT_MS", default_value = "45000")]
    pub kafka_session_timeout_ms: u64,
    /// PEM CA certificate the brokers' certificates must chain to: set, the connection
    /// uses TLS (and checks the brokers' host names).
    #[arg(long, env = "KAFKA_CA_FILE")]
    pub kafka_ca_file: Option<std::path::PathBuf>,
    /// PEM certificate this client presents to brokers that require one (with `--kafka-client-key`).
    #[arg(long, env = "KAFKA_CLIENT_CERT", requires = "kafka_client_key")]
    pub kafka_client_cert: Option<std::path::PathBuf>,
    /// Its private key.
    #[arg(long, env = "KAFKA_CLIENT_KEY", requires = "kafka_client_cert")]
    pub kafka_client_key: Option<std::path::PathBuf>,
}

impl KafkaArgs {
    /// The brokers, when one is configured (an empty `KAFKA_BROKERS` means none).
    pub fn brokers(&self) -> Option<&str> {
        self.kafka_brokers.as_deref().filter(|b| !b.is_empty())
    }

    /// The brokers of a process that cannot run without them.
    pub fn required_brokers(&self) -> anyhow::Result<&str> {
        self.brokers().ok_or_else(|| anyhow::anyhow!("KAFKA_BROKERS is required"))
    }

    /// How to reach the brokers (TLS when `KAFKA_CA_FILE` is set), when configured.
    #[cfg(feature = "kafka")]
    pub fn connection(&self) -> anyhow::Result<Option<commerce_kafka::Brokers>> {
        let Some(list) = self.brokers() else { return Ok(None) };
        let brokers = commerce_kafka::Brokers::from(list);
        let Some(ca) = &self.kafka_ca_file else {
            anyhow::ensure!(self.kafka_client_cert.is_none(), "KAFKA_CLIENT_CERT needs KAFKA_CA_FILE");
            return Ok(Some(brokers));
        };
        anyhow::ensure!(ca.is_file(), "KAFKA_CA_FILE {} is not a file", ca.display());
        let client = self.kafka_client_cert.clone().zip(self.kafka_client_key.clone());
        Ok(Some(brokers.with_tls(commerce_kafka::KafkaTls { ca_location: ca.clone(), client })))
    }

    /// [`KafkaArgs::connection`] of a process that cannot run without a broker.
    #[cfg(feature = "kafka")]
    pub fn required_connection(&self) -> anyhow::Result<commerce_kafka::Brokers> {
        self.connection()?.ok_or_else(|| anyhow::anyhow!("KAFKA_BROKERS is required"))
    }
}

/// Runs `prune(cutoff)` once a minute until `stop`, `cutoff` being `retain_hours` ago:
/// the retention of outbox rows, idempotency keys and the like. `None` (no job) when
/// `retain_hours` is 0.
pub fn spawn_retention<F, Fut, E>(
    name: &'static str,
    retain_hours: u32,
    stop: tokio_util::sync::CancellationToken,
    prune: F,
) -> Option<tokio::task::JoinHandle<u64>>
where
    F: Fn(Timestamp) -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let retain_secs = i64::from(retain_hours) * 3600;
    (retain_secs > 0).then(|| {
        tokio::spawn(commerce_runtime::jobs::run(
            name,
            commerce_runtime::Pace::every(Duration::from_secs(60)),
            stop,
            move || {
                let pruned = prune(SystemClock.now().plus_seconds(-retain_secs));
                async move { pruned.await.map(|n| usize::try_from(n).unwrap_or(usize::MAX)) }
            },
        ))
    })
}

/// Flags every HTTP service takes.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Address to listen on.
    #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    pub log_json: bool,
    /// TLS termination.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// How the service stops.
    #[command(flatten)]
    pub drain: DrainArgs,
}

/// How an HTTP service stops on SIGTERM: `/readyz` answers 503 at once, requests are still
/// served for the grace period (so a load balancer polling readiness stops routing here),
/// then the listener closes (a gateway's next attempt goes to another replica) and
/// in-flight requests get up to the timeout to finish.
#[derive(Debug, Clone, clap::Args)]
pub struct DrainArgs {
    /// Milliseconds between readiness turning 503 and the listener closing.
    #[arg(long, env = "COMMERCE_DRAIN_GRACE_MS", default_value = "1000")]
    pub drain_grace_ms: u64,
    /// Seconds in-flight requests get once the listener is closed; then the process exits.
    #[arg(long, env = "COMMERCE_DRAIN_TIMEOUT_SECS", default_value = "20")]
    pub drain_timeout_secs: u64,
}

/// TLS termination of an HTTP service: a certificate chain and its key, both or neither.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// PEM certificate chain (leaf first): serve HTTPS instead of HTTP.
    #[arg(long, env = "COMMERCE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "COMMERCE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl TlsArgs {
    /// The TLS configuration, when a certificate is given; a bad file stops the service.
    pub fn config(&self) -> anyhow::Result<Option<commerce_http::TlsConfig>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(commerce_http::TlsConfig::from_pem_files(cert, key)?)),
            (None, None) => Ok(None),
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        }
    }
}

/// Serves `app` on `listener` (over TLS when `tls` names a certificate) until `shutdown`;
/// then stops as [`DrainArgs`] says, marking `draining` (the app's `/readyz`) first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: &TlsArgs,
    (drain, draining): (&DrainArgs, commerce_http::ops::Draining),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let grace = Duration::from_millis(drain.drain_grace_ms);
    let timeout = Duration::from_secs(drain.drain_timeout_secs);
    let (closing, closed) = tokio::sync::oneshot::channel::<()>();
    let close = async move {
        shutdown.await;
        draining.begin();
        tracing::info!(grace_ms = drain_ms(grace), "not ready; closing the listener after the grace period");
        tokio::time::sleep(grace).await;
        let _ = closing.send(());
    };
    let server = async move {
        match tls.config()? {
            Some(config) => {
                tracing::info!("serving HTTPS");
                commerce_http::serve_tls(listener, app, config, close).await?;
            }
            None => commerce_http::serve(listener, app, close).await?,
        }
        anyhow::Ok(())
    };
    let overdue = async move {
        if closed.await.is_err() {
            return std::future::pending().await;
        }
        tokio::time::sleep(timeout).await;
    };
    tokio::select! {
        outcome = server => outcome,
        () = overdue => {
            tracing::warn!(timeout_secs = timeout.as_secs(), "requests still in flight after the drain timeout: stopping");
            Ok(())
        }
    }
}

fn drain_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Serves a worker's probes and metrics (`/healthz`, `/readyz`, `/metrics`; no API) on
/// `listener` until `stop`; `/readyz` answers 503 `draining` from the moment `stop` fires.
pub fn spawn_ops(
    listener: tokio::net::TcpListener,
    ops: commerce_http::ops::OpsState,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let draining = ops.draining.clone();
    let app = commerce_http::app(axum::Router::new(), ops, commerce_http::HttpConfig::default());
    tokio::spawn(commerce_http::serve(listener, app, async move {
        stop.cancelled().await;
        draining.begin();
    }))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}

/// Ready when every check passes.
pub struct AllReady(pub Vec<Arc<dyn Readiness>>);

#[async_trait]
impl Readiness for AllReady {
    async fn check(&self) -> Result<(), String> {
        for r in &self.0 {
            r.check().await?;
        }
        Ok(())
    }
}

#[cfg(feature = "kafka")]
mod consumer_lag;
#[cfg(feature = "kafka")]
pub use consumer_lag::spawn_consumer_lag;
#[cfg(feature = "postgres")]
mod pool_metrics;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
pub mod replica;
