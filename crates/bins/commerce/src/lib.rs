//! The all-in-one shop: wiring of the storage (a SQLite file by default, memory with
//! `--memory`), the simulated card processor and every HTTP and GraphQL router onto one
//! listener, plus the background event pump (outbox -> read model), customer messages
//! (through `SMTP_URL`, or kept in a development mailbox), order recovery and retention
//! jobs.
//!
//! [`run`] takes the listener and a shutdown future, so tests start it on port 0
//! and stop it at will; the binary passes SIGINT/SIGTERM.

mod storage;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context as _;
use commerce_core::services::{Env, dead_letters::DeadLetterService};
use commerce_http::{
    HttpConfig,
    auth::AdminToken,
    ops::{AlwaysReady, OpsState},
};
use commerce_payment_simulator::SimulatedCardProcessor;
use commerce_process::IdempotencyArgs;
use commerce_runtime::{Pace, RandomIds, SystemClock};
pub use storage::Storage;
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

/// The whole shop in one process, its data in one SQLite file (or in memory).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "commerce", version, about)]
pub struct Config {
    /// Folder of the shop's database (`commerce.sqlite3`), created on first start.
    #[arg(long, env = "COMMERCE_DATA_DIR", default_value = "./commerce-data", global = true)]
    pub data_dir: PathBuf,
    /// Keep everything in memory instead: nothing survives a restart (demos, tests).
    #[arg(long, env = "COMMERCE_MEMORY")]
    pub memory: bool,
    /// Idempotency keys are deleted after this many hours (0: never). Keep them longer
    /// than clients retry a checkout.
    #[arg(long, env = "COMMERCE_IDEMPOTENCY_RETAIN_HOURS", default_value = "24")]
    pub idempotency_retain_hours: u32,
    /// Outbox rows are deleted this many hours after the read model applied them (0: never).
    #[arg(long, env = "COMMERCE_OUTBOX_RETAIN_HOURS", default_value = "24")]
    pub outbox_retain_hours: u32,
    /// Something else than running the shop.
    #[command(subcommand)]
    pub command: Option<Command>,
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
    /// The order-recovery job.
    #[command(flatten)]
    pub recovery: commerce_process::RecoveryArgs,
    /// The card processor: the in-process simulator, or a remote one.
    #[command(flatten)]
    pub payments: commerce_process::PaymentsArgs,
    /// Seconds a checkout's stock stays reserved if the order stalls.
    #[arg(long, env = "COMMERCE_RESERVATION_TTL_SECS", default_value = "900")]
    pub reservation_ttl_secs: i64,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    pub log_json: bool,
    /// TLS termination (`--tls-cert`, `--tls-key`).
    #[command(flatten)]
    pub tls: commerce_process::TlsArgs,
    /// How the shop stops (`--drain-grace-ms`, `--drain-timeout-secs`).
    #[command(flatten)]
    pub drain: commerce_process::DrainArgs,
    /// The idempotency secret; generated for this run when unset (keys live in memory).
    #[command(flatten)]
    pub idempotency: IdempotencyArgs,
    /// The SMTP relay of customer messages (`smtps://host:465`, or `smtp://host:587` with
    /// STARTTLS, `?tls=required` to insist on it with a loopback host; `user:password@` for
    /// SMTP AUTH). Unset: messages are kept in the development mailbox
    /// (`GET /admin/v1/dev/mailbox`, and a log line each), never sent.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<commerce_process::secrets::Secret>,
    /// A certificate authority (PEM) to trust for the relay's certificate, besides the web
    /// PKI's roots.
    #[arg(long, env = "SMTP_CA_FILE", requires = "smtp_url")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Seconds the facet counts of a filter set are kept (the product list page's counts
    /// lag changes by up to this); 0 counts on every request.
    #[arg(long, env = "COMMERCE_FACET_CACHE_SECS", default_value = "10")]
    pub facet_cache_secs: u64,
    /// The web pages (`--shop-name`, `--secure-cookies`).
    #[command(flatten)]
    pub web: commerce_process::WebArgs,
    /// The sender of customer messages; its domain names them (`Message-ID`).
    #[arg(long, env = "MAIL_FROM", default_value = "Shop <shop@commerce.localhost>")]
    pub mail_from: String,
}

/// The maintenance commands of the embedded shop.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Writes a consistent copy of the database to PATH while the shop may keep running.
    Backup {
        /// The copy to write; must not exist.
        path: PathBuf,
    },
    /// Writes the catalog (collections, products, stock levels) as JSON lines into DIR, for
    /// `catalog-api import` to load into the PostgreSQL deployment.
    Export {
        /// The folder to write (created if needed).
        dir: PathBuf,
    },
}

/// Runs `command` against the database in `data_dir`, which must exist: a mistyped
/// folder is an error, not a new empty shop.
pub async fn run_command(command: &Command, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let file = data_dir.join(commerce_sqlite::DATABASE_FILE);
    anyhow::ensure!(file.exists(), "no database at {} (see --data-dir)", file.display());
    match command {
        Command::Backup { path } => {
            anyhow::ensure!(!path.exists(), "{} exists already; a backup never overwrites", path.display());
            let db = commerce_sqlite::SqliteDb::open_dir(data_dir, 1)
                .await
                .with_context(|| format!("opening the database in {}", data_dir.display()))?;
            db.backup(path).await.with_context(|| format!("writing the backup to {}", path.display()))?;
            db.close().await;
            tracing::info!(path = %path.display(), "backup written");
            Ok(())
        }
        Command::Export { dir } => {
            let db = commerce_sqlite::SqliteDb::open_dir(data_dir, 2)
                .await
                .with_context(|| format!("opening the database in {}", data_dir.display()))?;
            let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
            let catalog = commerce_core::services::catalog::CatalogService::new(Arc::new(db.catalog()), env.clone());
            let inventory = commerce_core::services::inventory::InventoryService::with_transactional_events(
                Arc::new(db.inventory()),
                env,
            );
            let exporter = commerce_core::services::transfer::CatalogExporter::new(catalog, inventory);
            let counts = commerce_process::transfer::write_export(dir, exporter).await?;
            db.close().await;
            tracing::info!(?counts, dir = %dir.display(), "catalog exported");
            Ok(())
        }
    }
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
    let storage = Arc::new(if args.memory { Storage::memory() } else { Storage::sqlite(&args.data_dir).await? });
    // The in-process simulator's challenge page is served below, with the web pages.
    let payments = args.payments.connect_with_challenge_page(Some("/simulator/3ds/"))?;
    let ops = OpsState::new(Arc::new(AlwaysReady));
    let checkout_metrics = commerce_http::metrics::CheckoutMetrics::registered(&ops.metrics);
    let shop = storage
        .shop(env, &args.idempotency)
        .await?
        .gateway(payments.gateway.clone())
        .card_data(payments.card_data)
        .reservation_ttl_secs(args.reservation_ttl_secs)
        .facet_cache(Duration::from_secs(args.facet_cache_secs))
        .checkout_observer(Arc::new(checkout_metrics))
        .build()?;
    let recovery = shop.recovery.clone();

    let token = args.admin.or_generated()?;

    // Background jobs.
    let jobs = CancellationToken::new();
    let pump = {
        let (storage, cancel) = (storage.clone(), jobs.clone());
        tokio::spawn(commerce_runtime::jobs::run(
            "event-pump",
            Pace::every(Duration::from_millis(20)),
            cancel,
            move || {
                let storage = storage.clone();
                async move { storage.step(500).await }
            },
        ))
    };
    let (notifier, dev_mailbox) = notifier(&storage, &args, &shop.env, &jobs)?;
    let retention = retention_jobs(&storage, &args, &jobs);
    let recovery_job = args.recovery.spawn(recovery, &ops.metrics, jobs.clone());

    // The simulated processor forgets records past its retention, as a real one does.
    let payments_retention = payments.simulator.clone().map(|simulator| {
        tokio::spawn(commerce_runtime::jobs::run(
            "payments-retention",
            Pace::every(Duration::from_secs(60)),
            jobs.clone(),
            move || {
                let pruned = simulator.prune(SimulatedCardProcessor::RETENTION);
                async move { Ok::<_, std::convert::Infallible>(pruned) }
            },
        ))
    });

    if args.seed.0 > 0 && storage.is_new().await? {
        let started = std::time::Instant::now();
        commerce_process::seed::seed(&shop.catalog, &shop.inventory, args.seed.0, 1)
            .await
            .context("seeding the demo catalog")?;
        storage.sync().await?;
        tracing::info!(
            products = args.seed.0,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "seeded the demo catalog"
        );
    }

    let authorizer = Arc::new(AdminToken::new(token.clone()));
    let mut routes = commerce_http::shop_router(&shop, authorizer.clone())
        .merge(commerce_graphql::router(commerce_graphql::shop_schema(shop.storefront.clone(), shop.checkout.clone())))
        .merge(web_pages(&shop, &args, token, &payments)?);
    if let Some(decoder) = payments.notices {
        routes = routes.merge(commerce_http::webhooks::router(commerce_http::webhooks::WebhookState {
            decoder,
            notices: shop.payment_notices.clone(),
            clock: shop.env.clock.clone(),
        }));
    }
    // Events the in-process consumers parked (the SQLite default; `--memory` keeps none).
    if let Some(db) = storage.sqlite_db() {
        routes = routes.merge(commerce_http::dead_letters::router(commerce_http::dead_letters::DeadLetterAdminState {
            dead_letters: DeadLetterService::new(Arc::new(db.dead_letters()), shop.env.clock.clone()),
            authorizer: authorizer.clone(),
        }));
    }
    if let Some(mailbox) = dev_mailbox {
        routes = routes.merge(commerce_http::mailbox::router(Arc::new(move || mailbox.messages()), authorizer));
    }
    let draining = ops.draining.clone();
    let app = commerce_http::app(routes, ops, HttpConfig::default());

    tracing::info!(addr = %listener.local_addr()?, "commerce listening");
    commerce_process::serve(listener, app, &args.tls, (&args.drain, draining), shutdown).await?;

    jobs.cancel();
    let _ = tokio::join!(pump, recovery_job, notifier);
    for job in retention.into_iter().chain(payments_retention) {
        let _ = job.await;
    }
    // Project whatever the last requests wrote.
    storage.sync().await?;
    if let Some(db) = storage.sqlite_db() {
        db.close().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The web storefront, the admin console and the checkout pages. With the in-process card
/// processor, also its browser-facing tokenisation endpoint and 3-D Secure page; with
/// another, the checkout page's script tokenises there (the card goes from the browser to
/// the processor, never to the shop).
fn web_pages(
    shop: &commerce_core::services::shop::Shop,
    args: &Config,
    token: commerce_core::credential::BearerToken,
    payments: &commerce_process::Payments,
) -> anyhow::Result<axum::Router> {
    let config = args.web.config(&args.tls);
    let admin = commerce_web::AdminPages {
        catalog: shop.catalog.clone(),
        stock: shop.stock.clone(),
        orders: shop.orders.clone(),
        refunds: shop.refunds.clone(),
        sessions: commerce_web::AdminSessions::new(token, shop.env.clock.clone(), shop.env.ids.clone(), config.clone()),
    };
    let mut pages =
        commerce_web::storefront_router(shop.storefront.clone(), config).merge(commerce_web::admin_router(admin));
    if let Some(simulator) = &payments.simulator {
        let browser =
            commerce_payment_simulator::remote::browser_router(simulator.clone(), Some(shop.payment_notices.clone()));
        pages = pages.nest("/simulator", browser);
    }
    let Some(config) = args.web.checkout_config(&args.tls, &payments.browser_tokenizer) else {
        return Ok(pages);
    };
    let checkout = commerce_web::CheckoutPages::new(
        shop.storefront.clone(),
        shop.checkout.clone(),
        shop.orders.clone(),
        shop.pricing.clone(),
        config,
    );
    Ok(pages.merge(commerce_web::checkout_router(checkout)?))
}

/// The job that sends customers their order messages: through `SMTP_URL`, or into the
/// development mailbox it returns.
fn notifier(
    storage: &Storage,
    args: &Config,
    env: &Env,
    stop: &CancellationToken,
) -> anyhow::Result<(tokio::task::JoinHandle<u64>, Option<Arc<commerce_mail::DevMailbox>>)> {
    let sender =
        commerce_core::notify::Sender::parse(&args.mail_from).map_err(|e| anyhow::anyhow!("MAIL_FROM: {e}"))?;
    let (mailer, dev): (Arc<dyn commerce_core::ports::Mailer>, _) = if let Some(url) = &args.smtp_url {
        let smtp = commerce_mail::SmtpMailer::configured(url.expose(), args.smtp_ca_file.as_deref())?;
        tracing::info!(smtp = smtp.server(), "customer messages go out through SMTP");
        (Arc::new(smtp), None)
    } else {
        let dev = Arc::new(commerce_mail::DevMailbox::new());
        (dev.clone(), Some(dev))
    };
    let (consumer, orders, log) = storage.notifications();
    let service = commerce_core::services::notifications::NotificationService::new(
        orders,
        log,
        Arc::new(commerce_mail::Templates),
        mailer,
        sender,
        env.clone(),
    );
    let job = tokio::spawn(commerce_runtime::jobs::run(
        "notifications",
        Pace::every(Duration::from_millis(100)),
        stop.clone(),
        move || {
            let (service, consumer) = (service.clone(), consumer.clone());
            async move { service.step(&*consumer, 100).await }
        },
    ));
    Ok((job, dev))
}

/// On SQLite, the retention of idempotency keys and projected outbox rows (memory stores
/// prune themselves in the pipeline's step).
fn retention_jobs(storage: &Storage, args: &Config, stop: &CancellationToken) -> Vec<tokio::task::JoinHandle<u64>> {
    let Some(db) = storage.sqlite_db() else { return vec![] };
    let keys = db.idempotency();
    let outbox = db.outbox();
    [
        commerce_process::spawn_retention(
            "idempotency-prune",
            args.idempotency_retain_hours,
            stop.clone(),
            move |cutoff| {
                let keys = keys.clone();
                async move { keys.prune(cutoff).await }
            },
        ),
        commerce_process::spawn_retention("outbox-prune", args.outbox_retain_hours, stop.clone(), move |cutoff| {
            let outbox = outbox.clone();
            async move { outbox.prune(cutoff).await }
        }),
    ]
    .into_iter()
    .flatten()
    .collect()
}
