//! Pools, readiness and migrations for the PostgreSQL services.

use std::sync::Arc;

use async_trait::async_trait;
use commerce_http::ops::Readiness;
use commerce_postgres::PgPool;

pub use crate::pool_metrics::spawn_pool_metrics;

/// Database settings shared by the PostgreSQL services. The URLs may carry passwords:
/// each may come from a file instead (`DATABASE_URL_FILE`, `READ_DATABASE_URL_FILE`).
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// The write model (schema `commerce`); required, here or in `DATABASE_URL_FILE`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<crate::secrets::Secret>,
    /// A file holding the write model's URL.
    #[arg(long, env = "DATABASE_URL_FILE")]
    pub database_url_file: Option<std::path::PathBuf>,
    /// The read model (schema `commerce_read`); defaults to `DATABASE_URL`.
    #[arg(long, env = "READ_DATABASE_URL", hide_env_values = true)]
    pub read_database_url: Option<crate::secrets::Secret>,
    /// A file holding the read model's URL.
    #[arg(long, env = "READ_DATABASE_URL_FILE")]
    pub read_database_url_file: Option<std::path::PathBuf>,
    /// Connections per pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "16")]
    pub max_connections: u32,
    /// Longest a customer's read query may run before the database cancels it (the
    /// request then answers 503): one query cannot hold a connection of the pool.
    #[arg(long, env = "READ_DATABASE_STATEMENT_TIMEOUT_MS", default_value = "5000")]
    pub read_statement_timeout_ms: u64,
}

impl DatabaseArgs {
    /// The write model's URL.
    pub fn url(&self) -> anyhow::Result<String> {
        crate::secrets::require("DATABASE_URL", self.database_url.as_ref(), self.database_url_file.as_deref(), "")
    }

    /// The read model's URL (`None`: the write model's).
    fn read_url(&self) -> anyhow::Result<Option<String>> {
        crate::secrets::resolve(
            "READ_DATABASE_URL",
            self.read_database_url.as_ref(),
            self.read_database_url_file.as_deref(),
        )
    }

    /// The write pool (connects lazily: a database that is down makes the service not
    /// ready, and requests answer 503, until it is back).
    pub fn write_pool(&self) -> anyhow::Result<PgPool> {
        Ok(commerce_postgres::lazy_pool(&self.url()?, self.max_connections)?)
    }

    /// The read pool (the write pool when no read URL is set).
    pub fn read_pool(&self, write: &PgPool) -> anyhow::Result<PgPool> {
        match self.read_url()? {
            Some(url) if url != self.url()? => Ok(commerce_postgres::lazy_pool(&url, self.max_connections)?),
            _ => Ok(write.clone()),
        }
    }

    /// The pool customers' queries run on: the read model's database, each statement
    /// bounded by `--read-statement-timeout-ms`. A pool of its own, so the projector and
    /// migrations (on [`DatabaseArgs::read_pool`]) are never cut short.
    pub fn query_pool(&self) -> anyhow::Result<PgPool> {
        let url = match self.read_url()? {
            Some(url) => url,
            None => self.url()?,
        };
        let timeout = std::time::Duration::from_millis(self.read_statement_timeout_ms);
        Ok(commerce_postgres::lazy_query_pool(&url, self.max_connections, timeout)?)
    }

    /// Applies both migration sets (each to its database). Idempotent.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let write = self.write_pool()?;
        commerce_postgres::migrate_write(&write).await?;
        commerce_postgres::migrate_read(&self.read_pool(&write)?).await?;
        tracing::info!("migrations applied");
        Ok(())
    }
}

/// How long outbox rows are kept. Every service on the write database runs the
/// retention job, so it runs whatever the deployment (with or without a relay or a
/// poller); concurrent runs delete disjoint rows.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct OutboxRetentionArgs {
    /// Outbox rows are deleted this many hours after they were written, once every kind
    /// of reader still around (relay, poller) has handled them (0: never).
    #[arg(long = "outbox-retain-hours", env = "COMMERCE_OUTBOX_RETAIN_HOURS", default_value = "24")]
    pub outbox_retain_hours: u32,
}

/// Prunes the outbox on `pool` once a minute (see `PgOutbox::prune`) until `stop`.
pub fn spawn_outbox_retention(
    pool: &PgPool,
    retain_hours: u32,
    stop: tokio_util::sync::CancellationToken,
) -> Option<tokio::task::JoinHandle<u64>> {
    let outbox = commerce_postgres::PgOutbox::new(pool.clone(), 30);
    crate::spawn_retention("outbox-prune", retain_hours, stop, move |cutoff| {
        let outbox = outbox.clone();
        async move { outbox.prune(cutoff).await }
    })
}

/// Ready while the database answers `SELECT 1`.
pub struct PgReady(pub PgPool);

#[async_trait]
impl Readiness for PgReady {
    async fn check(&self) -> Result<(), String> {
        commerce_postgres::ping(&self.0).await.map_err(|e| format!("database unavailable: {e}"))
    }
}

/// Stock as a PostgreSQL binary reaches it, and how its readiness shows that.
pub struct Inventory {
    /// The inventory service.
    pub service: commerce_core::services::inventory::InventoryService,
    /// With `--inventory-grpc-url`: ready while the inventory service accepts this
    /// process's token, so a wrong or missing token shows in `/readyz` (and its cause in
    /// the log) before any request fails. `None` when stock is in this database.
    pub readiness: Option<Arc<dyn Readiness>>,
}

/// The inventory of a PostgreSQL binary. With `--inventory-grpc-url`, stock lives in the
/// inventory service, reached with `INVENTORY_TOKEN` and the TLS settings
/// ([`inventory_tls`]) over one client that the readiness check shares; its changes reach
/// the read model through the inventory service's own events
/// (`--inventory-publishes-events`) or else through this database's outbox (recorded
/// after each idempotent, retried operation). Without it, the PostgreSQL store writes
/// `stock.changed` to the outbox in each stock transaction.
pub fn inventory(
    pool: &PgPool,
    args: &crate::InventoryArgs,
    env: commerce_core::services::Env,
) -> anyhow::Result<Inventory> {
    use commerce_core::services::inventory::InventoryService;
    let Some(url) = &args.inventory_grpc_url else {
        let local = Arc::new(commerce_postgres::PgInventoryStore::new(pool.clone()));
        return Ok(Inventory { service: InventoryService::with_transactional_events(local, env), readiness: None });
    };
    let tls = inventory_tls(args)?;
    let client =
        commerce_grpc::GrpcInventoryClient::connect_lazy_with(url, Some(args.required_token()?), tls.as_ref())?;
    let remote = Arc::new(client.clone());
    let service = if args.inventory_publishes_events {
        InventoryService::with_transactional_events(remote, env)
    } else {
        InventoryService::new(remote, Arc::new(commerce_postgres::PgOutbox::new(pool.clone(), 30)), env)
    };
    Ok(Inventory { service, readiness: Some(Arc::new(InventoryAccess(client))) })
}

/// The TLS settings of calls to the inventory service (`None`: plain HTTP/2, for a
/// private network or loopback).
pub fn inventory_tls(args: &crate::InventoryArgs) -> anyhow::Result<Option<commerce_grpc::ClientTls>> {
    let read =
        |path: &std::path::Path| std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()));
    let Some(ca) = &args.inventory_ca_file else {
        anyhow::ensure!(
            args.inventory_client_cert.is_none(),
            "INVENTORY_CLIENT_CERT needs INVENTORY_CA_FILE (the inventory service's CA)"
        );
        return Ok(None);
    };
    let identity = match (&args.inventory_client_cert, &args.inventory_client_key) {
        (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
        _ => None,
    };
    Ok(Some(commerce_grpc::ClientTls { ca_pem: read(ca)?, identity }))
}

struct InventoryAccess(commerce_grpc::GrpcInventoryClient);

#[async_trait]
impl Readiness for InventoryAccess {
    async fn check(&self) -> Result<(), String> {
        self.0.check_access().await.map_err(|e| e.to_string())
    }
}

/// Readiness over the given pools.
pub fn readiness(pools: &[&PgPool]) -> Arc<dyn Readiness> {
    readiness_with(pools, None)
}

/// Readiness over the given pools and one more check (e.g. `Inventory::readiness`).
pub fn readiness_with(pools: &[&PgPool], extra: Option<Arc<dyn Readiness>>) -> Arc<dyn Readiness> {
    let pools = pools.iter().map(|p| Arc::new(PgReady((*p).clone())) as Arc<dyn Readiness>);
    Arc::new(super::AllReady(pools.chain(extra).collect()))
}
