//! The all-in-one shop: wiring of the in-memory adapters, the simulated card
//! processor and every HTTP and GraphQL router onto one listener, plus the
//! background event pump (outbox -> read model) and order-recovery job.
//!
//! [`run`] takes the listener and a shutdown future, so tests start it on port 0
//! and stop it at will; the binary passes SIGINT/SIGTERM.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use commerce_core::services::{Env, recovery::RecoveryPolicy};
use commerce_http::{
    HttpConfig,
    auth::AdminToken,
    ops::{AlwaysReady, OpsState},
};
use commerce_memory::MemoryAdapters;
use commerce_payment_simulator::{ProcessorConfig, SimulatedCardProcessor};
use commerce_process::IdempotencyArgs;
use commerce_runtime::{Pace, RandomIds, SystemClock};
use tokio_util::sync::CancellationToken;

/// How many demo products to seed: a number, or `none`.
#[derive(Debug, Clone, Copy)]
pub struct Seed(pub usize);

impl std::str::FromStr for Seed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" | "0" => Ok(Self(0)),
            n => n.parse().map(Self).map_err(|_| format!("expected a number of products or `none`, got {n:?}")),
        }
    }
}

/// The whole shop in one process, on in-memory storage.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "commerce", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Demo products to seed at start-up (`none` for an empty shop).
    #[arg(long, env = "COMMERCE_SEED", default_value = "1000")]
    pub seed: Seed,
    /// The operators' token of the /admin routes; when unset, one is generated for this
    /// run and shown once on the terminal (never in the log).
    #[command(flatten)]
    pub admin: commerce_process::secrets::AdminTokenArgs,
    /// Simulated card processor round trip, in milliseconds.
    #[arg(long, env = "COMMERCE_PAYMENT_LATENCY_MS", default_value = "0")]
    pub payment_latency_ms: u64,
    /// Seconds a checkout's stock stays reserved if the order stalls.
    #[arg(long, env = "COMMERCE_RESERVATION_TTL_SECS", default_value = "900")]
    pub reservation_ttl_secs: i64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    pub log_json: bool,
    /// TLS termination (`--tls-cert`, `--tls-key`).
    #[command(flatten)]
    pub tls: commerce_process::TlsArgs,
    /// The idempotency secret; generated for this run when unset (keys live in memory).
    #[command(flatten)]
    pub idempotency: IdempotencyArgs,
}

/// Runs the shop on `listener` until `shutdown` resolves; then drains in-flight
/// requests, stops the background jobs and publishes the last events.
pub async fn run(
    args: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Ports -> adapters -> services.
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let adapters = MemoryAdapters::new();
    let processor = Arc::new(SimulatedCardProcessor::new(ProcessorConfig {
        latency: Duration::from_millis(args.payment_latency_ms),
        ..ProcessorConfig::default()
    }));
    let shop = adapters
        .shop(env)
        .idempotency(adapters.idempotency.clone(), args.idempotency.secret_or_generated()?)
        .gateway(processor.clone())
        .reservation_ttl_secs(args.reservation_ttl_secs)
        .build()?;
    let recovery = shop.recovery.clone();

    let token = args.admin.or_generated()?;

    // Background jobs.
    let jobs = CancellationToken::new();
    let pump = {
        let (adapters, cancel) = (adapters.clone(), jobs.clone());
        tokio::spawn(commerce_runtime::jobs::run(
            "event-pump",
            Pace::every(Duration::from_millis(20)),
            cancel,
            move || {
                let adapters = adapters.clone();
                async move { adapters.step(500).await }
            },
        ))
    };
    let recovery_job = {
        let cancel = jobs.clone();
        tokio::spawn(commerce_runtime::jobs::run(
            "order-recovery",
            Pace::every(Duration::from_secs(5)),
            cancel,
            move || {
                let recovery = recovery.clone();
                async move {
                    let report = recovery.run_once(RecoveryPolicy::default()).await.map_err(|e| e.to_string())?;
                    if report.examined > 0 || report.expired_reservations > 0 || report.expiry_error.is_some() {
                        tracing::info!(?report, "order recovery pass");
                    }
                    // One pass per period: never report work, so the loop waits between passes.
                    Ok::<_, String>(0)
                }
            },
        ))
    };

    // The simulated processor forgets records past its retention, as a real one does.
    let payments_retention = tokio::spawn(commerce_runtime::jobs::run(
        "payments-retention",
        Pace::every(Duration::from_secs(60)),
        jobs.clone(),
        move || {
            let pruned = processor.prune(SimulatedCardProcessor::RETENTION);
            async move { Ok::<_, std::convert::Infallible>(pruned) }
        },
    ));

    if args.seed.0 > 0 {
        let started = std::time::Instant::now();
        commerce_process::seed::seed(&shop.catalog, &shop.inventory, args.seed.0, 1)
            .await
            .context("seeding the demo catalog")?;
        adapters.sync().await?;
        tracing::info!(
            products = args.seed.0,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "seeded the demo catalog"
        );
    }

    let routes = commerce_http::shop_router(&shop, Arc::new(AdminToken::new(token)))
        .merge(commerce_graphql::router(commerce_graphql::schema(shop.storefront.clone())));
    let ops = OpsState::new(Arc::new(AlwaysReady));
    let app = commerce_http::app(routes, ops, HttpConfig::default());

    tracing::info!(addr = %listener.local_addr()?, "commerce listening");
    commerce_process::serve(listener, app, &args.tls, shutdown).await?;

    jobs.cancel();
    let _ = tokio::join!(pump, recovery_job, payments_retention);
    // Publish whatever the last requests wrote.
    adapters.sync().await?;
    tracing::info!("stopped");
    Ok(())
}
