//! `commerce-load`: drives a running shop at a fixed concurrency for a fixed time
//! and reports throughput and latency percentiles per scenario.
//!
//! ```text
//! commerce --memory --seed 100000 &      # or scripts/bench-embedded for SQLite against memory
//! commerce-load --concurrency 32 --duration-secs 10 --scenario all
//! ```
//!
//! Every loop is bounded by the duration; only the given base URL is contacted.

#![allow(clippy::print_stdout, reason = "the report is the program's output")]
#![allow(clippy::cast_precision_loss, reason = "report figures are rounded for display")]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

mod listings;
mod pipeline;
mod restock;

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// `GET /healthz`: the stack's own ceiling.
    Healthz,
    /// A sorted and filtered listing page.
    Listing,
    /// The web storefront's product list page for the same listing (HTML, with facets).
    ListingPage,
    /// `GET /store/v1/products/{id}`.
    Product,
    /// `POST /store/v1/checkout` with the success test card.
    Checkout,
    /// gRPC `Reserve` + `Commit` of one unit against `--inventory-grpc-url`.
    Inventory,
    /// Event pipeline: projection lag, relay throughput, plain producer reference
    /// (`--database-url`, `--kafka-brokers`).
    Pipeline,
    /// Restocks as events: lag from the catalog's commit to applied in the inventory
    /// (`--database-url`, `--kafka-brokers`, `--redis-url`).
    Restock,
    /// All of the above, one after the other.
    All,
    /// `/healthz`, four listing shapes and product by id on REST and GraphQL, at
    /// `--catalog-size` products, each with its ratio to `/healthz`; with `--compare-url`,
    /// two targets alternately.
    Listings,
}

#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Base URL of the shop (the storefront, in a split deployment).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Base URL of the checkout routes (`orders-service`); defaults to `--base-url`.
    #[arg(long)]
    checkout_url: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value = "32")]
    concurrency: usize,
    /// Seconds per scenario.
    #[arg(long, default_value = "10")]
    duration_secs: u64,
    /// What to measure.
    #[arg(long, value_enum, default_value = "all")]
    scenario: Scenario,
    /// The inventory service, for `--scenario inventory`.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    inventory_grpc_url: String,
    /// Write database, for `--scenario pipeline` (a scratch database: it writes products).
    #[arg(long, env = "DATABASE_URL", default_value = "")]
    database_url: String,
    /// Broker, for `--scenario pipeline`.
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    kafka_brokers: String,
    /// Redis of the inventory, for `--scenario restock` (it uses a key namespace of its own).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// Products (pipeline) or restocks (restock) written per second.
    #[arg(long, default_value = "200")]
    rate: u64,
    /// Its `SetOnHand` token.
    #[arg(long, env = "INVENTORY_TOKEN", default_value = "")]
    inventory_token: String,
    /// Active products the shop holds, for `--scenario listings` (checked before measuring).
    #[arg(long)]
    catalog_size: Option<u64>,
    /// Which API `--scenario listings` measures: `rest`, `graphql` or `both`.
    #[arg(long, default_value = "both", value_parser = ["rest", "graphql", "both"])]
    api: String,
    /// A second shop (say, the build before a change) measured alternately with
    /// `--base-url` by `--scenario listings`; the report ends with the ratios.
    #[arg(long)]
    compare_url: Option<String>,
    /// How `--scenario pipeline`'s consumer gets its partitions: `group` (joins) or
    /// `static` (assigns them itself, as `projector --partition-assignment static`).
    #[arg(long, default_value = "group", value_parser = ["group", "static"])]
    assignment: String,
    /// Seconds `--scenario pipeline`'s relay and consumer run before the first write (0:
    /// they start with it, and their start-up shows in the first second's lag).
    #[arg(long, default_value = "0")]
    warm_up_secs: u64,
    /// Rounds of `--scenario listings` per target.
    #[arg(long, default_value = "1")]
    rounds: u32,
}

/// Reserve + commit pairs of one unit each through the gRPC client, at fixed concurrency.
async fn measure_inventory(args: &Args) -> anyhow::Result<Report> {
    use commerce_core::{
        ProductId, ReservationId, Timestamp,
        inventory::{OnHand, Quantity, ReservationLine, ReservationRequest},
        ports::InventoryStore,
    };
    let client =
        commerce_grpc::GrpcInventoryClient::connect_lazy(&args.inventory_grpc_url, Some(args.inventory_token.clone()))?;
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    client.set_on_hand(product, OnHand::new(OnHand::MAX)?).await?;
    let line = ReservationLine { product_id: product, quantity: Quantity::new(1)? };
    drive("gRPC Reserve + Commit (1 unit)", args, move |_| {
        let client = client.clone();
        async move {
            let id = ReservationId::from_uuid(uuid::Uuid::now_v7());
            let request = ReservationRequest::new(id, vec![line], Timestamp::from_unix_micros(4_102_444_800_000_000))?;
            Ok(client.reserve(&request).await.is_ok() && client.commit(id).await.is_ok())
        }
    })
    .await
}

/// The listing measured: sorted by price, filtered by attribute, stock and price.
const LISTING: &str = "/store/v1/products?sort=price_asc&attr.colour=red&in_stock=true&max_price=5000&limit=20";
/// The same listing as the web page shows it (`price_to` in major units).
const LISTING_PAGE: &str = "/products?sort=price_asc&attr.colour=red&in_stock=true&price_to=50&limit=20";

struct Report {
    scenario: String,
    requests: u64,
    failures: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Report {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
    }

    fn row(&self) -> String {
        let rate = self.rate();
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |",
            self.scenario,
            rate,
            ms(0.50),
            ms(0.99),
            self.latency.max() as f64 / 1000.0,
            self.requests,
            self.failures
        )
    }
}

/// The in-stock products a run picks from: their ids, the units available when sampled,
/// and the units the run's checkouts were told were paid (to prove nothing is oversold).
struct Sample {
    ids: Vec<String>,
    available: Vec<u64>,
    paid: Vec<AtomicU64>,
}

impl Sample {
    fn pick(&self, n: u64) -> usize {
        usize::try_from(n.wrapping_mul(2_654_435_761) % self.ids.len() as u64).unwrap_or(0)
    }

    /// Paid orders, and units sold beyond what was available when sampled (must be 0:
    /// restocks do not happen during a run).
    fn sales(&self) -> (u64, u64) {
        let paid = self.paid.iter().map(|p| p.load(Ordering::Relaxed)).sum();
        let oversold =
            self.paid.iter().zip(&self.available).map(|(p, a)| p.load(Ordering::Relaxed).saturating_sub(*a)).sum();
        (paid, oversold)
    }
}

async fn sample(client: &Client, base: &str) -> anyhow::Result<Sample> {
    let mut ids = vec![];
    let mut available = vec![];
    let mut cursor: Option<String> = None;
    while ids.len() < 2_000 {
        let url = match &cursor {
            Some(c) => format!("{base}/store/v1/products?in_stock=true&limit=100&cursor={c}"),
            None => format!("{base}/store/v1/products?in_stock=true&limit=100"),
        };
        let page: Value = client.get(&url).send().await?.error_for_status()?.json().await?;
        for item in page["items"].as_array().into_iter().flatten() {
            if let (Some(id), Some(units)) = (item["id"].as_str(), item["available_stock"].as_u64()) {
                ids.push(id.to_owned());
                available.push(units);
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    if ids.is_empty() {
        bail!("the shop lists no product in stock: start it with --seed");
    }
    let paid = ids.iter().map(|_| AtomicU64::new(0)).collect();
    Ok(Sample { ids, available, paid })
}

async fn one(
    client: &Client,
    base: &str,
    checkout: &str,
    scenario: Scenario,
    sample: &Sample,
    n: u64,
) -> anyhow::Result<bool> {
    let index = sample.pick(n);
    let pick = || &sample.ids[index];
    let response = match scenario {
        Scenario::Healthz => client.get(format!("{base}/healthz")).send().await?,
        Scenario::Listing => client.get(format!("{base}{LISTING}")).send().await?,
        Scenario::ListingPage => client.get(format!("{base}{LISTING_PAGE}")).send().await?,
        Scenario::Product => client.get(format!("{base}/store/v1/products/{}", pick())).send().await?,
        Scenario::Checkout
        | Scenario::All
        | Scenario::Inventory
        | Scenario::Pipeline
        | Scenario::Restock
        | Scenario::Listings => {
            let body = json!({"email": "load@example.com", "items": [{"product_id": pick(), "quantity": 1}],
                              "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
            client
                .post(format!("{checkout}/store/v1/checkout"))
                .header("Idempotency-Key", format!("load-{}-{n}", std::process::id()))
                .json(&body)
                .send()
                .await?
        }
    };
    let status = response.status();
    let _ = response.bytes().await?;
    if scenario == Scenario::Checkout && status == StatusCode::CREATED {
        sample.paid[index].fetch_add(1, Ordering::Relaxed);
    }
    // A sold-out product (409) is a correct answer under checkout load, not a failure.
    Ok(status.is_success() || (scenario == Scenario::Checkout && status == StatusCode::CONFLICT))
}

async fn measure(
    args: &Args,
    client: &Client,
    scenario: Scenario,
    name: &'static str,
    ids: Arc<Sample>,
) -> anyhow::Result<Report> {
    let base = args.base_url.clone();
    let checkout = args.checkout_url.clone().unwrap_or_else(|| base.clone());
    let client = client.clone();
    drive(name, args, move |n| {
        let (client, base, checkout, ids) = (client.clone(), base.clone(), checkout.clone(), ids.clone());
        async move { one(&client, &base, &checkout, scenario, &ids, n).await }
    })
    .await
}

/// Runs `op` from `--concurrency` workers until `--duration-secs` pass, recording each
/// call's latency; an error or `false` counts as a failure. `op` gets a call number.
async fn drive<F, Fut>(name: &str, args: &Args, op: F) -> anyhow::Result<Report>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<bool>> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(args.duration_secs);
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = vec![];
    for _ in 0..args.concurrency {
        let (op, counter) = (op.clone(), counter.clone());
        workers.push(tokio::spawn(async move {
            let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let (mut requests, mut failures) = (0_u64, 0_u64);
            while Instant::now() < deadline {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = op(n).await.unwrap_or(false);
                latency.saturating_record(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                requests += 1;
                failures += u64::from(!ok);
            }
            Ok::<_, anyhow::Error>((latency, requests, failures))
        }));
    }
    let mut total = Report {
        scenario: name.to_owned(),
        requests: 0,
        failures: 0,
        elapsed: Duration::ZERO,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    for w in workers {
        let (latency, requests, failures) = w.await??;
        total.latency.add(latency)?;
        total.requests += requests;
        total.failures += failures;
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.scenario == Scenario::Pipeline {
        println!("| measurement | figure | | |\n|---|---:|---:|---:|");
        let assigned = args.assignment == "static";
        let warm_up = Duration::from_secs(args.warm_up_secs);
        let (rate, seconds) = (args.rate, args.duration_secs);
        return pipeline::run(&args.database_url, &args.kafka_brokers, (rate, seconds), assigned, warm_up).await;
    }
    if args.scenario == Scenario::Restock {
        println!("| measurement | figure | | |\n|---|---:|---:|---:|");
        return restock::run(&args.database_url, &args.kafka_brokers, &args.redis_url, args.rate, args.duration_secs)
            .await;
    }
    if args.scenario == Scenario::Inventory {
        println!("concurrency {}, {} s; one product, 1 unit per reservation\n", args.concurrency, args.duration_secs);
        println!("| scenario | pairs/s | p50 ms | p99 ms | max ms | pairs | failures |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        println!("{}", measure_inventory(&args).await?.row());
        return Ok(());
    }
    let client = Client::builder().pool_max_idle_per_host(args.concurrency).build()?;
    if args.scenario == Scenario::Listings {
        return listings::run(&args, &client).await;
    }
    if args.compare_url.is_some() {
        bail!("--compare-url works with --scenario listings");
    }
    let ids = Arc::new(sample(&client, &args.base_url).await.context("reading product ids from the shop")?);
    let scenarios: &[(Scenario, &'static str)] = match args.scenario {
        Scenario::All => &[
            (Scenario::Healthz, "GET /healthz"),
            (Scenario::Listing, "GET listing (sorted + filtered)"),
            (Scenario::ListingPage, "GET product list page (same listing, HTML)"),
            (Scenario::Product, "GET product by id"),
            (Scenario::Checkout, "POST checkout (test card)"),
        ],
        Scenario::Healthz => &[(Scenario::Healthz, "GET /healthz")],
        Scenario::Listing => &[(Scenario::Listing, "GET listing (sorted + filtered)")],
        Scenario::ListingPage => &[(Scenario::ListingPage, "GET product list page (same listing, HTML)")],
        Scenario::Product => &[(Scenario::Product, "GET product by id")],
        Scenario::Checkout => &[(Scenario::Checkout, "POST checkout (test card)")],
        Scenario::Inventory | Scenario::Pipeline | Scenario::Restock | Scenario::Listings => &[],
    };
    println!(
        "concurrency {}, {} s per scenario, {} in-stock products sampled",
        args.concurrency,
        args.duration_secs,
        ids.ids.len()
    );
    println!("listing: {LISTING}\n");
    println!("| scenario | req/s | p50 ms | p99 ms | max ms | requests | failures |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut checkout_elapsed = None;
    for (scenario, name) in scenarios {
        let report = measure(&args, &client, *scenario, name, ids.clone()).await?;
        println!("{}", report.row());
        if *scenario == Scenario::Checkout {
            checkout_elapsed = Some(report.elapsed);
        }
    }
    if let Some(elapsed) = checkout_elapsed {
        let (paid, oversold) = ids.sales();
        println!(
            "\ncheckout: {paid} paid orders ({:.0}/s), {oversold} units sold beyond the stock sampled",
            paid as f64 / elapsed.as_secs_f64()
        );
        if oversold > 0 {
            bail!("{oversold} units oversold");
        }
    }
    Ok(())
}
