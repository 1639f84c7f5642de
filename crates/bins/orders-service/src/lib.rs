//! `orders-service`: checkout and order routes on PostgreSQL. Runs the checkout
//! saga (orders, stock and idempotency keys in the write database, cards through
//! the simulated processor) and the order-recovery job, which resumes or
//! compensates orders left unfinished by a crash and expires lapsed reservations.
//! With an admin token it also serves the after-sale admin routes (cancellations and
//! refunds), which need the card processor and the inventory it holds, and the console's
//! order pages (`/admin/orders...`). The checkout pages (`/checkout`, `/orders/{id}`) are
//! served here too.

use std::sync::Arc;

use axum::Router;
use commerce_core::services::{
    Env,
    checkout::{CheckoutService, IdempotentCheckout, SagaRunner},
    idempotency::IdempotencyService,
    orders::OrderService,
    payment_notices::PaymentNoticeService,
    pricing::PricingService,
    recovery::RecoveryService,
    refunds::RefundService,
};
use commerce_http::{
    HttpConfig,
    admin::AdminToken,
    checkout::{self, CheckoutState},
    ops::OpsState,
    refunds::{self, RefundAdminState},
    webhooks::{self, WebhookState},
};
use commerce_postgres::{PgCatalogStore, PgIdempotencyStore, PgOrderStore};
pub use commerce_process::{Command, HttpArgs, IdempotencyArgs, InventoryArgs, postgres::DatabaseArgs};
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
    /// The card processor.
    #[command(flatten)]
    pub payments: commerce_process::PaymentsArgs,
    /// Seconds a checkout's stock stays reserved if the order stalls.
    #[arg(long, env = "COMMERCE_RESERVATION_TTL_SECS", default_value = "900")]
    pub reservation_ttl_secs: i64,
    /// The order-recovery job.
    #[command(flatten)]
    pub recovery: commerce_process::RecoveryArgs,
    /// Idempotency keys are deleted after this many hours, once a minute (0: never). Keep
    /// them longer than clients retry a checkout.
    #[arg(long, env = "COMMERCE_IDEMPOTENCY_RETAIN_HOURS", default_value = "24")]
    pub idempotency_retain_hours: u32,
    /// The idempotency secret, shared by every replica (required).
    #[command(flatten)]
    pub idempotency: IdempotencyArgs,
    /// Outbox retention.
    #[command(flatten)]
    pub outbox: commerce_process::postgres::OutboxRetentionArgs,
    /// The operators' token of the after-sale routes (`/admin/v1/orders/{id}/cancel` and
    /// `/refunds`); without it they are not served.
    #[command(flatten)]
    pub admin: commerce_process::secrets::AdminTokenArgs,
    /// The checkout and console pages (`--shop-name`, `--secure-cookies`).
    #[command(flatten)]
    pub web: commerce_process::WebArgs,
}

/// `/checkout` and `/orders/{id}`: the cart's products and stock come from the read model,
/// as on the storefront's pages; the card is tokenised at the processor by the browser.
fn checkout_pages(
    cli: &Cli,
    state: &CheckoutState,
    pricing: PricingService,
    tokenizer: &commerce_process::BrowserTokenizer,
) -> anyhow::Result<Router> {
    let Some(config) = cli.web.checkout_config(&cli.http.tls, tokenizer) else {
        return Ok(Router::new());
    };
    let read = cli.db.query_pool()?;
    let storefront = commerce_core::services::storefront::StorefrontService::new(Arc::new(
        commerce_postgres::PgReadModel::new(read),
    ));
    let pages =
        commerce_web::CheckoutPages::new(storefront, state.checkout.clone(), state.orders.clone(), pricing, config);
    Ok(commerce_web::checkout_router(pages)?)
}

/// Serves until `shutdown` resolves; then drains requests and stops the recovery job.
pub async fn run(
    cli: Cli,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let secret = cli.idempotency.required_secret()?;
    let admin_token = cli.admin.optional()?;
    let pool = cli.db.write_pool()?;
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let orders = Arc::new(PgOrderStore::new(pool.clone()));
    let commerce_process::postgres::Inventory { service: inventory, readiness: inventory_readiness } =
        commerce_process::postgres::inventory(&pool, &cli.inventory, env.clone())?;
    // An in-process simulator's 3-D Secure page is served here, under /simulator.
    let payments = cli.payments.connect_with_challenge_page(Some("/simulator/3ds/"))?;
    let processor = payments.gateway;
    let runner =
        SagaRunner::new(orders.clone(), inventory.clone(), processor.clone(), env.clone(), cli.reservation_ttl_secs);
    let catalog = Arc::new(PgCatalogStore::new(pool.clone()));
    let pricing_store = Arc::new(commerce_postgres::PgPricingStore::new(pool.clone()));
    let pricing = PricingService::new(pricing_store.clone(), pricing_store, catalog.clone(), env.clone());
    let pricing_pages = pricing.clone();
    let checkout_service = CheckoutService::new(catalog, orders.clone(), processor, runner.clone(), env.clone())
        .with_card_data(payments.card_data)
        .with_pricing(pricing);
    let refund_service = RefundService::new(orders.clone(), runner.clone(), env.clone());
    let recovery = RecoveryService::new(orders.clone(), runner, inventory, env.clone());

    let jobs = CancellationToken::new();
    let ops = OpsState::new(commerce_process::postgres::readiness_with(&[&pool], inventory_readiness));
    let recovery_job = cli.recovery.spawn(recovery, &ops.metrics, jobs.clone());
    let pool_metrics =
        commerce_process::postgres::spawn_pool_metrics(&[("write", pool.clone())], &ops.metrics, jobs.clone());

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
    let mut routes = Router::new();
    let notices = PaymentNoticeService::new(orders.clone(), checkout_service.runner().clone(), keys.clone());
    if let Some(decoder) = payments.notices {
        routes = routes.merge(webhooks::router(WebhookState {
            decoder,
            notices: notices.clone(),
            clock: env.clock.clone(),
        }));
    }
    if let Some(simulator) = &payments.simulator {
        // The checkout page's card step and the bank's 3-D Secure page of the in-process
        // simulator, as `commerce` serves them.
        let browser = commerce_payment_simulator::remote::browser_router(simulator.clone(), Some(notices));
        routes = routes.nest("/simulator", browser);
    }
    if let Some(token) = admin_token {
        // The console's orders half; sign-in is catalog-api's, with the same token.
        let sessions = commerce_web::AdminSessions::new(
            token.clone(),
            env.clock.clone(),
            env.ids.clone(),
            cli.web.config(&cli.http.tls),
        );
        let orders = OrderService::new(orders.clone(), env.clone());
        routes = routes.merge(commerce_web::admin_orders_router(sessions, orders, refund_service.clone()));
        let authorizer = Arc::new(AdminToken::new(token));
        routes = routes.merge(refunds::router(RefundAdminState { refunds: refund_service, authorizer }));
    } else {
        tracing::info!("COMMERCE_ADMIN_TOKEN is not set: cancellations and refunds are not served");
    }
    let state = CheckoutState {
        checkout: IdempotentCheckout::new(checkout_service, keys)
            .with_observer(Arc::new(commerce_http::metrics::CheckoutMetrics::registered(&ops.metrics))),
        orders: OrderService::new(orders, env.clone()),
    };
    routes = routes.merge(checkout_pages(&cli, &state, pricing_pages, &payments.browser_tokenizer)?);
    let draining = ops.draining.clone();
    let app = commerce_http::app(routes.merge(checkout::router(state)), ops, HttpConfig::default());
    tracing::info!(addr = %listener.local_addr()?, "orders-service listening");
    commerce_process::serve(listener, app, &cli.http.tls, (&cli.http.drain, draining), shutdown).await?;
    jobs.cancel();
    let _ = recovery_job.await;
    let _ = pool_metrics.await;
    for job in [prune_job, outbox_pruner].into_iter().flatten() {
        let _ = job.await;
    }
    Ok(())
}
