//! `storefront-api`: the store REST routes, GraphQL and the storefront's pages (`/`,
//! `/products`, `/products/{id}`, `/cart`) on the PostgreSQL read model, by default
//! through a copy of it in memory kept current from its changes (`--read-model`).
//! Without a broker (and unless told not to) it also runs the projector: the outbox
//! poller on the write database feeding the read model.

use std::{sync::Arc, time::Duration};

use axum::Router;
use commerce_core::{
    ports::ProductReadModel,
    services::{Env, events::Projector, pricing::PricingService, storefront::StorefrontService},
};
use commerce_grpc::GrpcInventoryClient;
use commerce_http::{
    HttpConfig,
    ops::OpsState,
    store::{self, StoreState},
};
use commerce_postgres::{PgOutboxConsumer, PgReadModel};
pub use commerce_process::{Command, HttpArgs, InventoryArgs, postgres::DatabaseArgs};
use commerce_runtime::{Pace, RandomIds, SystemClock};
use tokio_util::sync::CancellationToken;

/// Storefront REST and GraphQL on PostgreSQL.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "storefront-api", version, about)]
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
    /// With `--inventory-grpc-url`, each page shows live stock from one `BatchGetStock`.
    #[command(flatten)]
    pub inventory: InventoryArgs,
    /// Do not run the in-process projector (another process feeds the read model).
    #[arg(long, env = "COMMERCE_NO_PROJECTOR")]
    pub no_projector: bool,
    /// With a broker, the `projector` service feeds the read model: the in-process
    /// outbox poller is off. Empty means no broker.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Projector poll interval when idle, in milliseconds.
    #[arg(long, env = "COMMERCE_PROJECTOR_IDLE_MS", default_value = "50")]
    pub projector_idle_ms: u64,
    /// The storefront's pages (`--shop-name`, `--secure-cookies`).
    #[command(flatten)]
    pub web: commerce_process::WebArgs,
    /// Where customers' reads are answered from.
    #[arg(long, env = "STOREFRONT_READ_MODEL", value_enum, default_value = "memory")]
    pub read_model: ReadModel,
    /// How often the memory copy reads the read model's changes, in milliseconds.
    #[arg(long, env = "STOREFRONT_REPLICA_POLL_MS", default_value = "20")]
    pub replica_poll_ms: u64,
}

/// Where customers' reads are answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadModel {
    /// A copy of the PostgreSQL read model in this process: loaded at start-up (not ready
    /// until then), kept current from its changes every `--replica-poll-ms`.
    Memory,
    /// Every request queries the PostgreSQL read model.
    Postgres,
}

/// Serves until `shutdown` resolves; then drains requests and stops the projector.
pub async fn run(
    cli: Cli,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let write = cli.db.write_pool()?;
    // Customers' queries run on a pool whose statements time out; the projector writes
    // through the plain read pool.
    let read = cli.db.query_pool()?;
    let jobs = CancellationToken::new();
    let ops = OpsState::new(Arc::new(commerce_http::ops::AlwaysReady));
    let replica = (cli.read_model == ReadModel::Memory).then(|| {
        // The copy's reads are long (a snapshot page); they go through the plain read pool.
        let poll = Duration::from_millis(cli.replica_poll_ms.max(1));
        anyhow::Ok(commerce_process::replica::spawn(cli.db.read_pool(&write)?, poll, &ops.metrics, jobs.clone()))
    });
    let replica = replica.transpose()?;
    let reads: Arc<dyn ProductReadModel> = match &replica {
        Some(r) => r.copy.clone(),
        None => Arc::new(PgReadModel::new(read.clone())),
    };
    let mut storefront = StorefrontService::new(reads);
    if let Some(url) = &cli.inventory.inventory_grpc_url {
        // One quick attempt: a slow inventory shows the projected stock, never an error page.
        let tls = commerce_process::postgres::inventory_tls(&cli.inventory)?;
        let live = GrpcInventoryClient::connect_lazy_with(url, None, tls.as_ref())?
            .with_deadline(Duration::from_millis(300))
            .with_attempts(1);
        storefront = storefront.with_live_stock(Arc::new(live));
    }

    let in_process = !cli.no_projector && cli.kafka_brokers.as_deref().is_none_or(str::is_empty);
    let projector_job = in_process.then(|| -> anyhow::Result<_> {
        let projector = Projector::new(Arc::new(PgReadModel::new(cli.db.read_pool(&write)?)));
        let consumer = Arc::new(PgOutboxConsumer::new(write.clone()));
        let pace = Pace::every(Duration::from_millis(cli.projector_idle_ms));
        Ok(tokio::spawn(commerce_runtime::jobs::run("projector", pace, jobs.clone(), move || {
            let (projector, consumer) = (projector.clone(), consumer.clone());
            async move { projector.step(&*consumer, 500).await }
        })))
    });
    let projector_job = projector_job.transpose()?;

    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let pricing_store = Arc::new(commerce_postgres::PgPricingStore::new(read.clone()));
    let pricing = PricingService::new(
        pricing_store.clone(),
        pricing_store,
        Arc::new(commerce_postgres::PgCatalogStore::new(read.clone())),
        env,
    );
    let routes = Router::new()
        .merge(store::router(StoreState { storefront: storefront.clone() }))
        .merge(commerce_http::pricing::store_router(pricing))
        .merge(commerce_web::storefront_router(storefront.clone(), cli.web.config(&cli.http.tls)))
        .merge(commerce_graphql::router(commerce_graphql::schema(storefront)));
    let routes = match &replica {
        Some(r) => r.gate(routes),
        None => routes,
    };
    let pools: Vec<_> = if in_process { vec![&read, &write] } else { vec![&read] };
    let loaded = replica.as_ref().map(|r| r.readiness.clone());
    let ops = OpsState { readiness: commerce_process::postgres::readiness_with(&pools, loaded), ..ops };
    let named: Vec<_> =
        if in_process { vec![("read", read.clone()), ("write", write.clone())] } else { vec![("read", read.clone())] };
    let pool_metrics = commerce_process::postgres::spawn_pool_metrics(&named, &ops.metrics, jobs.clone());
    let draining = ops.draining.clone();
    let app = commerce_http::app(routes, ops, HttpConfig::default());
    tracing::info!(addr = %listener.local_addr()?, projector = in_process, "storefront-api listening");
    commerce_process::serve(listener, app, &cli.http.tls, (&cli.http.drain, draining), shutdown).await?;
    jobs.cancel();
    let _ = pool_metrics.await;
    if let Some(job) = projector_job {
        let _ = job.await;
    }
    if let Some(replica) = replica {
        let _ = replica.job.await;
    }
    Ok(())
}
