//! `orders-service`: checkout and order routes on PostgreSQL. Runs the checkout
//! saga (orders, stock and idempotency keys in the write database, cards through
//! the simulated processor) and the order-recovery job, which resumes or
//! compensates orders left unfinished by a crash and expires lapsed reservations.

use std::{sync::Arc, time::Duration};

use axum::Router;
use commerce_core::{
    ports::PaymentGateway,
    services::{
        Env,
        checkout::{CheckoutService, IdempotentCheckout, SagaRunner},
        idempotency::IdempotencyService,
        orders::OrderService,
        recovery::{RecoveryPolicy, RecoveryService},
    },
};
use commerce_http::{
    HttpConfig,
    checkout::{self, CheckoutState},
    ops::OpsState,
};
use commerce_payment_simulator::{ProcessorConfig, SimulatedCardProcessor, remote::HttpCardProcessor};
use commerce_postgres::{PgCatalogStore, PgIdempotencyStore, PgOrderStore};
pub use commerce_process::{Command, HttpArgs, IdempotencyArgs, InventoryArgs, postgres::DatabaseArgs};
use commerce_runtime::Pace;
use commerce_runtime::{RandomIds, SystemClock};
use tokio_util::sync::CancellationToken;

/// Checkout and order APIs on PostgreSQL.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "orders-service", version, about)]
pub struct Cli {
    /// `serve` (default) or `migrate`.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Databases.
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Where stock lives.
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// A remote card processor (`payments-simulator`); without it, an in-process simulator.
    /// `https://`, or `http://` to a loopback address only: card data never crosses a
    /// network in clear text.
    #[arg(long, env = "COMMERCE_PAYMENTS_URL")]
    pub payments_url: Option<String>,
    /// A PEM file of CA certificates to trust for the processor, besides the public roots.
    #[arg(long, env = "COMMERCE_PAYMENTS_CA_FILE")]
    pub payments_ca_file: Option<std::path::PathBuf>,
    /// In-process simulated card processor round trip, in milliseconds.
    #[arg(long, env = "COMMERCE_PAYMENT_LATENCY_MS", default_value = "0")]
    pub payment_latency_ms: u64,
    /// Seconds a checkout's stock stays reserved if the order stalls.
    #[arg(long, env = "COMMERCE_RESERVATION_TTL_SECS", default_value = "900")]
    pub reservation_ttl_secs: i64,
    /// Orders unchanged this long are resumed by the recovery job.
    #[arg(long, env = "COMMERCE_RECOVERY_RESUME_AFTER_SECS", default_value = "30")]
    pub resume_after_secs: i64,
    /// Unpaid orders this old are compensated (cancelled) by the recovery job.
    #[arg(long, env = "COMMERCE_RECOVERY_ABANDON_AFTER_SECS", default_value = "600")]
    pub abandon_after_secs: i64,
    /// Seconds between recovery passes.
    #[arg(long, env = "COMMERCE_RECOVERY_INTERVAL_SECS", default_value = "5")]
    pub recovery_interval_secs: u64,
    /// Idempotency keys are deleted after this many hours, once a minute (0: never). Keep
    /// them longer than clients retry a checkout.
    #[arg(long, env = "IDEMPOTENCY_RETAIN_HOURS", default_value = "24")]
    pub idempotency_retain_hours: u32,
    /// The idempotency secret, shared by every replica (required).
    #[command(flatten)]
    pub idempotency: IdempotencyArgs,
    /// Outbox retention.
    #[command(flatten)]
    pub outbox: commerce_process::postgres::OutboxRetentionArgs,
}

/// Serves until `shutdown` resolves; then drains requests and stops the recovery job.
pub async fn run(
    cli: Cli,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let secret = cli.idempotency.required_secret()?;
    let pool = cli.db.write_pool()?;
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let orders = Arc::new(PgOrderStore::new(pool.clone()));
    let commerce_process::postgres::Inventory { service: inventory, readiness: inventory_readiness } =
        commerce_process::postgres::inventory(&pool, &cli.inventory, env.clone())?;
    let processor: Arc<dyn PaymentGateway> = match &cli.payments_url {
        Some(url) => Arc::new(match &cli.payments_ca_file {
            Some(path) => {
                let ca = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("reading COMMERCE_PAYMENTS_CA_FILE {}: {e}", path.display()))?;
                HttpCardProcessor::with_root_certificate(url.clone(), Duration::from_secs(10), &ca)?
            }
            None => HttpCardProcessor::new(url.clone(), Duration::from_secs(10))?,
        }),
        None => Arc::new(SimulatedCardProcessor::new(ProcessorConfig {
            latency: Duration::from_millis(cli.payment_latency_ms),
            ..ProcessorConfig::default()
        })),
    };
    let runner =
        SagaRunner::new(orders.clone(), inventory.clone(), processor.clone(), env.clone(), cli.reservation_ttl_secs);
    let catalog = Arc::new(PgCatalogStore::new(pool.clone()));
    let checkout_service = CheckoutService::new(catalog, orders.clone(), processor, runner.clone(), env.clone());
    let recovery = RecoveryService::new(orders.clone(), runner, inventory, env.clone());

    let jobs = CancellationToken::new();
    let policy = RecoveryPolicy {
        resume_after_secs: cli.resume_after_secs,
        abandon_after_secs: cli.abandon_after_secs,
        ..RecoveryPolicy::default()
    };
    let recovery_job = tokio::spawn(commerce_runtime::jobs::run(
        "order-recovery",
        Pace::every(Duration::from_secs(cli.recovery_interval_secs)),
        jobs.clone(),
        move || {
            let recovery = recovery.clone();
            async move {
                let report = recovery.run_once(policy).await?;
                if report.examined > 0 || report.expired_reservations > 0 || report.expiry_error.is_some() {
                    tracing::info!(?report, "order recovery pass");
                }
                // One pass per interval: report no work so the loop waits.
                Ok::<_, commerce_core::ports::StoreError>(0)
            }
        },
    ));

    let idempotency = PgIdempotencyStore::new(pool.clone());
    let prune_job = {
        let keys = idempotency.clone();
        commerce_process::spawn_retention(
            "idempotency-prune",
            cli.idempotency_retain_hours,
            jobs.clone(),
            move |cutoff| {
                let keys = keys.clone();
                async move { keys.prune(cutoff).await }
            },
        )
    };
    let outbox_pruner =
        commerce_process::postgres::spawn_outbox_retention(&pool, cli.outbox.outbox_retain_hours, jobs.clone());
    let keys = IdempotencyService::new(Arc::new(idempotency), secret, env.clock.clone());
    let state = CheckoutState {
        checkout: IdempotentCheckout::new(checkout_service, keys),
        orders: OrderService::new(orders, env.clone()),
    };
    let ops = OpsState::new(commerce_process::postgres::readiness_with(&[&pool], inventory_readiness));
    let app = commerce_http::app(Router::new().merge(checkout::router(state)), ops, HttpConfig::default());
    tracing::info!(addr = %listener.local_addr()?, "orders-service listening");
    commerce_process::serve(listener, app, &cli.http.tls, shutdown).await?;
    jobs.cancel();
    let _ = recovery_job.await;
    for job in [prune_job, outbox_pruner].into_iter().flatten() {
        let _ = job.await;
    }
    Ok(())
}
