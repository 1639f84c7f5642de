//! `inventory-service`: the single authority for stock in a distributed deployment.
//!
//! Serves `commerce.inventory.v1.InventoryService` (plus `grpc.health.v1` and server
//! reflection) on `INVENTORY_GRPC_LISTEN` over Redis (`REDIS_URL`), runs the reservation
//! sweeper, and serves `/healthz`, `/readyz` (Redis answers) and `/metrics` over HTTP
//! on `COMMERCE_LISTEN`. The probes answer from the start, while the service still
//! waits for Redis (`/readyz` 503 until it answers); the gRPC health status follows Redis
//! too (NOT_SERVING while it does not answer). SIGINT/SIGTERM stop both listeners after
//! in-flight calls.
//!
//! With `KAFKA_BROKERS`, it is also the producer of `stock.changed` events: every
//! stock change (reservations, commits, releases, the sweeper's expiries, restocks) is
//! recorded in a Redis stream in the same atomic script as the change, and a relay
//! publishes the stream to `<prefix>.stock`, marking entries only once the broker
//! acknowledged them. Callers then record no stock events of their own
//! (`INVENTORY_PUBLISHES_EVENTS`). It also consumes seller restocks (`stock.set` on
//! `<prefix>.restock`, from catalog-api with `CATALOG_RESTOCK_VIA_EVENTS`) as the consumer
//! group `INVENTORY_RESTOCK_GROUP`: each restock number applies once, in order, and a
//! restock below the reserved units is parked in `<prefix>.dlq` with the reason.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::Parser;
use commerce_core::{
    events::AggregateType,
    ports::{Clock, InventoryStore},
    services::events::{OutboxRelay, Restocker},
};
use commerce_grpc::{
    Health, InventoryGrpcServer, ServerTls, metrics::GrpcMetrics, serve, serve_tls, server_router_with_health,
};
use commerce_http::{HttpConfig, ops::OpsState};
use commerce_kafka::{Brokers, KafkaConsumer, KafkaPublisher, ensure_topics_patiently};
use commerce_process::KafkaArgs;
use commerce_redis::{RedisInventoryStore, RedisStockOutbox};
use commerce_runtime::Pace;
use commerce_runtime::SystemClock;
use readiness::Ready;
use tokio_util::sync::CancellationToken;

/// The inventory service.
#[derive(Debug, Clone, Parser)]
#[command(name = "inventory-service", version, about)]
pub struct Cli {
    /// gRPC address.
    #[arg(long, env = "INVENTORY_GRPC_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// HTTP address of /healthz, /readyz and /metrics.
    #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:9051")]
    pub http_listen: SocketAddr,
    /// Redis holding the stock.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379", hide_env_values = true)]
    pub redis_url: commerce_process::secrets::Secret,
    /// PEM CA certificate a `rediss://` server's certificate must chain to (unset: the
    /// system's roots).
    #[arg(long, env = "REDIS_CA_FILE")]
    pub redis_ca_file: Option<std::path::PathBuf>,
    /// Key namespace in Redis (keys are `{namespace}:...`).
    #[arg(long, env = "INVENTORY_NAMESPACE", default_value = "commerce")]
    pub namespace: String,
    /// The service token every call but the reads requires (at least 16 characters);
    /// required, here or in `INVENTORY_TOKEN_FILE`.
    #[arg(long, env = "INVENTORY_TOKEN", hide_env_values = true)]
    pub token: Option<commerce_process::secrets::Secret>,
    /// A file holding the service token.
    #[arg(long, env = "INVENTORY_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// PEM certificate chain: serve gRPC over TLS (with `--tls-key`).
    #[arg(long, env = "INVENTORY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Its private key.
    #[arg(long, env = "INVENTORY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// PEM CA certificate: require every client to present a certificate it signed
    /// (mutual TLS; needs `--tls-cert`).
    #[arg(long, env = "INVENTORY_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// The longest a reservation may hold stock: later deadlines are cut to this.
    #[arg(long, env = "INVENTORY_MAX_RESERVATION_TTL_SECS", default_value = "3600")]
    pub max_reservation_ttl_secs: u64,
    /// Hours a settled reservation (committed, released, expired, refused) is kept to answer
    /// retries; Redis then drops it.
    #[arg(long, env = "INVENTORY_SETTLED_RETENTION_HOURS", default_value = "168")]
    pub settled_retention_hours: u64,
    /// Seconds between sweeps of lapsed reservations.
    #[arg(long, env = "INVENTORY_SWEEP_INTERVAL_SECS", default_value = "1")]
    pub sweep_interval_secs: u64,
    /// The broker the stock events go to and restocks come from; unset: no events.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// Consumer group reading restocks; default `<topic prefix>-inventory`, so deployments
    /// sharing a cluster under different prefixes never share a group.
    #[arg(long, env = "INVENTORY_RESTOCK_GROUP")]
    pub restock_group: Option<String>,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    pub log_json: bool,
    /// How the service stops (`--drain-grace-ms`, `--drain-timeout-secs`).
    #[command(flatten)]
    pub drain: commerce_process::DrainArgs,
}

mod readiness {
    //! Readiness: connected to Redis, and Redis answers PING.
    use std::sync::{Arc, OnceLock};

    use commerce_redis::RedisInventoryStore;

    /// The store, once connected.
    pub struct Ready(pub Arc<OnceLock<RedisInventoryStore>>);

    #[async_trait::async_trait]
    impl commerce_http::ops::Readiness for Ready {
        async fn check(&self) -> Result<(), String> {
            match self.0.get() {
                Some(store) => store.ping().await.map_err(|e| e.to_string()),
                None => Err("waiting for Redis".into()),
            }
        }
    }
}

/// Keeps the gRPC health status in step with Redis until `stop`: NOT_SERVING while it
/// does not answer, so health-checking clients and balancers go elsewhere.
async fn follow_redis(store: RedisInventoryStore, health: Health, stop: CancellationToken) {
    let mut serving = true;
    loop {
        // A Redis that hangs counts as down as much as one that refuses.
        let up = matches!(tokio::time::timeout(Duration::from_secs(2), store.ping()).await, Ok(Ok(())));
        if up != serving {
            tracing::warn!(
                serving = up,
                "Redis {}: gRPC health follows",
                if up { "answers again" } else { "does not answer" }
            );
            health.set(up).await;
            serving = up;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// The gRPC TLS settings, when a certificate is given.
fn server_tls(cli: &Cli) -> anyhow::Result<Option<ServerTls>> {
    let read = |path: &std::path::Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) else { return Ok(None) };
    let client_ca_pem = cli.tls_client_ca.as_deref().map(read).transpose()?;
    Ok(Some(ServerTls { cert_pem: read(cert)?, key_pem: read(key)?, client_ca_pem }))
}

async fn connect(url: &str, namespace: &str, ca_pem: Option<&[u8]>) -> RedisInventoryStore {
    let mut wait = Duration::from_millis(200);
    loop {
        match RedisInventoryStore::connect_with_ca(url, namespace, ca_pem).await {
            Ok(store) => return store,
            Err(e) => {
                tracing::warn!(error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(0), "Redis not reachable yet");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The service's part of the event pipeline until `stop`: relays the store's stock
/// stream through `publisher` and applies the restocks on `<prefix>.restock` (the store
/// records the resulting stock changes in its stream). Creating the topics, once for
/// both, waits for the broker without holding up the gRPC service.
async fn pipeline(
    store: RedisInventoryStore,
    kafka: &KafkaArgs,
    brokers: &Brokers,
    group: &str,
    publisher: KafkaPublisher,
    metrics: commerce_http::metrics::Metrics,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    tokio::select! {
        () = ensure_topics_patiently(brokers, &kafka.kafka_topic_prefix, kafka.kafka_partitions) => {}
        () = stop.cancelled() => return Ok(()),
    }
    let session = Duration::from_millis(kafka.kafka_session_timeout_ms);
    let consumer = Arc::new(KafkaConsumer::subscribed(
        brokers,
        &kafka.kafka_topic_prefix,
        group,
        &[AggregateType::Restock],
        session,
    )?);
    let lag = commerce_process::spawn_consumer_lag(consumer.clone(), group, &metrics, stop.clone());
    let relay = OutboxRelay::new(Arc::new(RedisStockOutbox::new(&store, Duration::from_secs(30))), Arc::new(publisher));
    let restocker = Restocker::with_transactional_events(Arc::new(store));
    let relay_job = commerce_runtime::jobs::run(
        "stock-event-relay",
        Pace::every(Duration::from_millis(50)),
        stop.clone(),
        move || {
            let relay = relay.clone();
            async move { relay.step(500).await }
        },
    );
    let restock_job =
        commerce_runtime::jobs::run("restocker", Pace::every(Duration::from_millis(10)), stop, move || {
            let (restocker, consumer) = (restocker.clone(), consumer.clone());
            async move { restocker.step(&*consumer, 500).await.map(|step| step.received) }
        });
    let (relayed, restocks, _) = tokio::join!(relay_job, restock_job, lag);
    tracing::info!(relayed, restocks, "stock events and restocks stopped");
    Ok(())
}

/// The two listeners of the service.
#[derive(Debug)]
pub struct Listeners {
    /// gRPC (`INVENTORY_GRPC_LISTEN`).
    pub grpc: tokio::net::TcpListener,
    /// `/healthz`, `/readyz`, `/metrics` (`COMMERCE_LISTEN`).
    pub http: tokio::net::TcpListener,
}

impl Listeners {
    /// Binds the addresses `cli` names.
    pub async fn bind(cli: &Cli) -> anyhow::Result<Self> {
        Ok(Self {
            grpc: tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("binding {}", cli.listen))?,
            http: tokio::net::TcpListener::bind(cli.http_listen)
                .await
                .with_context(|| format!("binding {}", cli.http_listen))?,
        })
    }
}

/// Serves the probes and the metrics of `ops` (`grpc` among them) on `listener` until
/// `stop` fires; and on `shutdown`, turns not ready, waits the grace period and
/// fires `stop`. Returns both tasks.
fn probes(
    listener: tokio::net::TcpListener,
    ops: OpsState,
    grpc: &GrpcMetrics,
    drain: &commerce_process::DrainArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    stop: &CancellationToken,
) -> anyhow::Result<(tokio::task::JoinHandle<std::io::Result<()>>, tokio::task::JoinHandle<()>)> {
    ops.metrics.register("grpc_server_calls", "gRPC calls by method and status code", grpc.calls.clone());
    ops.metrics.register(
        "grpc_server_call_duration_seconds",
        "gRPC call latency by method (until the response headers)",
        grpc.latency.clone(),
    );
    let draining = ops.draining.clone();
    let app = commerce_http::app(axum::Router::new(), ops, HttpConfig::default());
    tracing::info!(http = %listener.local_addr()?, "inventory-service probes listening");
    let http = tokio::spawn(commerce_http::serve(listener, app, stop.clone().cancelled_owned()));
    // On shutdown: not ready at once, still serving for the grace period, then both
    // listeners close and in-flight calls get the drain timeout.
    let grace = Duration::from_millis(drain.drain_grace_ms);
    let signal = {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            draining.begin();
            tracing::info!("not ready; closing the listeners after the grace period");
            tokio::time::sleep(grace).await;
            stop.cancel();
        })
    };
    Ok((http, signal))
}

/// Serves until `shutdown` resolves (or the event pipeline fails); then stops both
/// listeners after in-flight calls, the sweeper and the event pipeline.
pub async fn run(
    cli: Cli,
    listeners: Listeners,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let why = ": the token of every call but the reads";
    let token =
        commerce_process::secrets::require("INVENTORY_TOKEN", cli.token.as_ref(), cli.token_file.as_deref(), why)?;
    let token = commerce_process::secrets::bearer("INVENTORY_TOKEN", &token)?;
    let Listeners { grpc: grpc_listener, http: http_listener } = listeners;
    let redis_ca = cli
        .redis_ca_file
        .as_deref()
        .map(|path| std::fs::read(path).with_context(|| format!("reading REDIS_CA_FILE {}", path.display())))
        .transpose()?;
    let tls = server_tls(&cli)?;
    let timeout = Duration::from_secs(cli.drain.drain_timeout_secs);
    let stop = CancellationToken::new();
    let shutdown_token = CancellationToken::new();

    // The probes first: an orchestrator sees the process live (and not ready) while it
    // waits for Redis.
    let connected = Arc::new(std::sync::OnceLock::new());
    let grpc_metrics = GrpcMetrics::default();
    let ops = OpsState::new(Arc::new(Ready(connected.clone())));
    let metrics = ops.metrics.clone();
    let (http, signal) = probes(http_listener, ops, &grpc_metrics, &cli.drain, shutdown, &shutdown_token)?;
    let store = tokio::select! {
        store = connect(cli.redis_url.expose(), &cli.namespace, redis_ca.as_deref()) => store,
        () = shutdown_token.cancelled() => {
            tracing::info!("stopped before Redis answered");
            http.await??;
            return Ok(());
        }
    };
    let mut store = store.with_settled_retention(Duration::from_secs(cli.settled_retention_hours.saturating_mul(3600)));
    let events = match cli.kafka.connection()? {
        Some(brokers) => {
            // A publisher that cannot be built stops the service here, rather than leave
            // the stream growing with no relay.
            let publisher = KafkaPublisher::new(&brokers, &cli.kafka.kafka_topic_prefix)?;
            store = store.recording_events();
            let group =
                cli.restock_group.clone().unwrap_or_else(|| format!("{}-inventory", cli.kafka.kafka_topic_prefix));
            tracing::info!(%brokers, %group, "publishing stock events, applying restocks");
            let (store, kafka) = (store.clone(), cli.kafka.clone());
            let (stop, shutdown) = (stop.clone(), shutdown_token.clone());
            Some(tokio::spawn(async move {
                let done = pipeline(store, &kafka, &brokers, &group, publisher, metrics, stop).await;
                if let Err(e) = &done {
                    // Restocks would pile up unapplied: stop the service rather than run without them.
                    tracing::error!(error = %e, "stock event pipeline failed; stopping");
                    shutdown.cancel();
                }
                done
            }))
        }
        None => None,
    };
    let sweeper = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(commerce_runtime::jobs::run(
            "reservation-sweeper",
            Pace::every(Duration::from_secs(cli.sweep_interval_secs)),
            stop,
            move || {
                let store = store.clone();
                async move { store.expire(SystemClock.now(), 500).await.map(|expired| expired.len()) }
            },
        ))
    };

    let _ = connected.set(store.clone());
    let (routes, health) = server_router_with_health(
        InventoryGrpcServer::new(Arc::new(store.clone()), token, Arc::new(SystemClock))
            .with_max_reservation_ttl(Duration::from_secs(cli.max_reservation_ttl_secs)),
    )
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let routes = grpc_metrics.instrument(routes);
    let health = tokio::spawn(follow_redis(store, health, stop.clone()));
    tracing::info!(grpc = %grpc_listener.local_addr()?, "inventory-service listening");
    let grpc = async {
        match &tls {
            Some(tls) => serve_tls(routes, grpc_listener, tls, shutdown_token.clone().cancelled_owned()).await,
            None => serve(routes, grpc_listener, shutdown_token.clone().cancelled_owned()).await,
        }
    };
    let http = async { http.await.map_err(std::io::Error::other)? };
    let overdue = async {
        shutdown_token.cancelled().await;
        tokio::time::sleep(timeout).await;
    };
    tokio::select! {
        (grpc, http) = async { tokio::join!(grpc, http) } => {
            grpc?;
            http?;
        }
        () = overdue => tracing::warn!(timeout_secs = timeout.as_secs(), "calls still in flight after the drain timeout: stopping"),
    }
    stop.cancel();
    let _ = sweeper.await;
    let _ = health.await;
    if let Some(events) = events {
        events.await??;
    }
    signal.abort();
    Ok(())
}
