//! `catalog-api`: the admin REST routes of the embedded binary (products,
//! collections, stock, orders) and the console's catalog pages (`/admin/sign-in`,
//! `/admin/products...`, `/admin/collections...`) on the PostgreSQL write model. Every change and
//! its events are written in one transaction to the outbox, which the
//! storefront's projector (or a relay to a broker) carries to the read model.

mod dead_letters;

use std::sync::Arc;

use axum::Router;
use commerce_core::services::{Env, catalog::CatalogService, orders::OrderService, restock::RestockService};
use commerce_http::{
    HttpConfig,
    admin::{self, AdminState, AdminToken, RestockDelivery},
    ops::OpsState,
};
use commerce_postgres::{PgCatalogStore, PgOrderStore};
use commerce_process::postgres::{Inventory, spawn_outbox_retention};
pub use commerce_process::{
    HttpArgs, InventoryArgs,
    postgres::{DatabaseArgs, OutboxRetentionArgs},
    secrets::AdminTokenArgs,
};
use commerce_runtime::{RandomIds, SystemClock};
pub use dead_letters::DeadLetterCommand;

/// Admin REST API on PostgreSQL.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "catalog-api", version, about)]
pub struct Cli {
    /// `serve` (default), `migrate`, `seed`, `import` or `dead-letters`.
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
    /// Restocks (`PUT .../stock`) travel to the inventory service as `stock.set` events
    /// through the outbox and the broker, answered `202`, instead of a gRPC call. Needs
    /// `INVENTORY_GRPC_URL` (for reads), an `outbox-relay` and the inventory service on
    /// the broker.
    #[arg(long, env = "CATALOG_RESTOCK_VIA_EVENTS")]
    pub restock_via_events: bool,
    /// The operators' token of the /admin routes (required).
    #[command(flatten)]
    pub admin: AdminTokenArgs,
    /// Outbox retention.
    #[command(flatten)]
    pub outbox: OutboxRetentionArgs,
    /// The console's pages (`--shop-name`, `--secure-cookies`).
    #[command(flatten)]
    pub web: commerce_process::WebArgs,
}

/// What to do.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Create a demo catalog (collections, products with attributes and stock) and exit.
    Seed {
        /// Products to create.
        #[arg(default_value = "1000")]
        count: usize,
        /// Products created at once.
        #[arg(long, default_value = "8")]
        concurrency: usize,
    },
    /// Import a catalog exported by `commerce export` (collections, products, stock) and
    /// exit. Keeps ids; re-running it changes only what differs.
    Import {
        /// The export folder.
        dir: std::path::PathBuf,
    },
    /// List, show, replay or discard the events consumers parked (the admin API's
    /// `/admin/v1/dead-letters` from a shell) and exit.
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
}

/// Runs a `dead-letters` subcommand on the write database.
pub async fn dead_letters(cli: &Cli, command: &DeadLetterCommand) -> anyhow::Result<()> {
    dead_letters::run(cli.db.write_pool()?, command).await
}

/// Imports a catalog export through the catalog and stock use cases, so its events reach
/// the read model and the inventory as any admin change does. Returns what it did to the
/// collections, products and stock.
pub async fn import(
    cli: &Cli,
    dir: &std::path::Path,
) -> anyhow::Result<[commerce_core::services::transfer::ImportReport; 3]> {
    let delivery = delivery(cli)?;
    let (catalog, inventory, _) = services(&cli.db.write_pool()?, &cli.inventory)?;
    let restock = RestockService::new(catalog.clone(), inventory.service, delivery);
    let reports = commerce_process::transfer::import_export(dir, &catalog, &restock).await?;
    let [collections, products, stock] = reports;
    tracing::info!(?collections, ?products, ?stock, dir = %dir.display(), "imported");
    Ok(reports)
}

/// How restocks reach the inventory (see `Cli::restock_via_events`).
fn delivery(cli: &Cli) -> anyhow::Result<RestockDelivery> {
    if cli.restock_via_events {
        anyhow::ensure!(
            cli.inventory.inventory_grpc_url.is_some(),
            "CATALOG_RESTOCK_VIA_EVENTS needs INVENTORY_GRPC_URL: the inventory service applies the restocks"
        );
        Ok(RestockDelivery::Events)
    } else {
        Ok(RestockDelivery::Direct)
    }
}

/// Seeds the demo catalog through the same services as admin requests (events included).
pub async fn seed(cli: &Cli, count: usize, concurrency: usize) -> anyhow::Result<()> {
    let (catalog, inventory, _) = services(&cli.db.write_pool()?, &cli.inventory)?;
    let inventory = inventory.service;
    let started = std::time::Instant::now();
    commerce_process::seed::seed(&catalog, &inventory, count, concurrency).await?;
    tracing::info!(
        products = count,
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "seeded"
    );
    Ok(())
}

fn services(
    pool: &commerce_postgres::PgPool,
    inventory: &InventoryArgs,
) -> anyhow::Result<(CatalogService, Inventory, OrderService)> {
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let inventory = commerce_process::postgres::inventory(pool, inventory, env.clone())?;
    Ok((
        CatalogService::new(Arc::new(PgCatalogStore::new(pool.clone())), env.clone()),
        inventory,
        OrderService::new(Arc::new(PgOrderStore::new(pool.clone())), env),
    ))
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn run(
    cli: Cli,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Secrets first: a service missing one refuses to start, naming it.
    let admin_token = cli.admin.required()?;
    let delivery = delivery(&cli)?;
    let pool = cli.db.write_pool()?;
    let (catalog, inventory, orders) = services(&pool, &cli.inventory)?;
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let store = Arc::new(commerce_postgres::PgPricingStore::new(pool.clone()));
    let pricing = commerce_core::services::pricing::PricingService::new(
        store.clone(),
        store,
        Arc::new(PgCatalogStore::new(pool.clone())),
        env,
    );
    // The console's catalog half: sign-in, products and collections (its orders half is
    // orders-service's, signed with the same token).
    let sessions = commerce_web::AdminSessions::new(
        admin_token.clone(),
        Arc::new(SystemClock),
        Arc::new(RandomIds),
        cli.web.config(&cli.http.tls),
    );
    let authorizer: Arc<AdminToken> = Arc::new(AdminToken::new(admin_token));
    let pricing_routes = commerce_http::pricing::admin_router(commerce_http::pricing::PricingAdminState {
        pricing,
        authorizer: authorizer.clone(),
    });
    let state = AdminState {
        stock: RestockService::new(catalog.clone(), inventory.service, delivery),
        catalog,
        orders,
        authorizer,
    };
    let console = commerce_web::admin_catalog_router(sessions, state.catalog.clone(), state.stock.clone());
    let ops = OpsState::new(commerce_process::postgres::readiness_with(&[&pool], inventory.readiness));
    let (draining, metrics) = (ops.draining.clone(), ops.metrics.clone());
    let parked = commerce_http::dead_letters::router(commerce_http::dead_letters::DeadLetterAdminState {
        dead_letters: commerce_core::services::dead_letters::DeadLetterService::new(
            Arc::new(commerce_postgres::PgDeadLetters::new(pool.clone())),
            Arc::new(SystemClock),
        ),
        authorizer: state.authorizer.clone(),
    });
    let routes = Router::new().merge(admin::router(state)).merge(pricing_routes).merge(parked).merge(console);
    let app = commerce_http::app(routes, ops, HttpConfig::default());
    let jobs = tokio_util::sync::CancellationToken::new();
    let pools = commerce_process::postgres::spawn_pool_metrics(&[("write", pool.clone())], &metrics, jobs.clone());
    let pruner = spawn_outbox_retention(&pool, cli.outbox.outbox_retain_hours, jobs.clone());
    tracing::info!(addr = %listener.local_addr()?, "catalog-api listening");
    commerce_process::serve(listener, app, &cli.http.tls, (&cli.http.drain, draining), shutdown).await?;
    jobs.cancel();
    let _ = pools.await;
    if let Some(pruner) = pruner {
        let _ = pruner.await;
    }
    Ok(())
}
