//! The read path at a known catalog size: `/healthz`, four listing shapes and product by
//! id, over REST and GraphQL, each figure with its ratio to the same run's `/healthz`.
//!
//! The shapes use the vocabulary of `catalog-api seed` / `commerce --seed`:
//! - `sorted`: every active product by price, 24 a page;
//! - `collection`: one collection by price;
//! - `text + attribute`: `q=hoodie` with `attr.material=cotton`, by price (about one
//!   product in 48 matches: the planner and the in-memory scan both skip most rows);
//! - `filtered`: `attr.colour=red`, in stock, at most 50.00, by price.
//!
//! Before measuring, the harness counts the shop's active products from the GraphQL
//! collection facets and refuses to run when they differ from `--catalog-size`, so a
//! figure is never attributed to the wrong size.

use std::{fmt::Write as _, sync::Arc};

use anyhow::{Context as _, bail};
use reqwest::Client;
use serde_json::{Value, json};

use crate::{Args, Report, Sample, drive, sample};

/// One request kind of the scenario.
#[derive(Debug, Clone)]
enum Request {
    Get(String),
    Graphql(Value),
}

/// A measured request: its label and what to send.
#[derive(Debug, Clone)]
pub struct Shape {
    label: String,
    request: Request,
    /// For product by id: the path or query is completed with a sampled id.
    by_id: bool,
}

const PRODUCT_FIELDS: &str = "id name price { amount currency } availableStock";

/// The four listing shapes, as REST paths and GraphQL filters (`{collection}` is replaced).
const SHAPES: [(&str, &str, &str); 4] = [
    ("sorted", "sort=price_asc&limit=24", "{}"),
    ("collection", "collection={collection}&sort=price_asc&limit=24", r#"{collection: "{collection}"}"#),
    (
        "text + attribute",
        "q=hoodie&attr.material=cotton&sort=price_asc&limit=24",
        r#"{q: "hoodie", attributes: [{name: "material", value: "cotton"}]}"#,
    ),
    (
        "filtered",
        "attr.colour=red&in_stock=true&max_price=5000&sort=price_asc&limit=24",
        r#"{attributes: [{name: "colour", value: "red"}], inStock: true, maxPrice: 5000}"#,
    ),
];

/// The shapes measured on `api` (`rest`, `graphql` or `both`), for the shop's first collection.
pub fn shapes(api: &str, collection: &str) -> Vec<Shape> {
    let mut all = vec![Shape { label: "GET /healthz".into(), request: Request::Get("/healthz".into()), by_id: false }];
    if api != "graphql" {
        for (name, params, _) in SHAPES {
            let path = format!("/store/v1/products?{}", params.replace("{collection}", collection));
            all.push(Shape { label: format!("REST {name}"), request: Request::Get(path), by_id: false });
        }
        all.push(Shape {
            label: "REST product by id".into(),
            request: Request::Get("/store/v1/products/".into()),
            by_id: true,
        });
    }
    if api != "rest" {
        for (name, _, filter) in SHAPES {
            let filter = filter.replace("{collection}", collection);
            let query = format!(
                "{{ products(filter: {filter}, sort: PRICE_ASC, first: 24) {{ edges {{ node {{ {PRODUCT_FIELDS} }} }} pageInfo {{ endCursor }} }} }}"
            );
            all.push(Shape {
                label: format!("GraphQL {name}"),
                request: Request::Graphql(json!({ "query": query })),
                by_id: false,
            });
        }
        all.push(Shape {
            label: "GraphQL product by id".into(),
            request: Request::Graphql(json!({
                "query": format!("query($id: ID!) {{ product(id: $id) {{ {PRODUCT_FIELDS} }} }}"),
            })),
            by_id: true,
        });
    }
    all
}

/// The shop's active products (from the collection facets: the seed puts every product in
/// a collection) and its first collection's id.
pub async fn catalog(client: &Client, base: &str) -> anyhow::Result<(u64, String)> {
    let body = json!({ "query": "{ facets { collections { collection { id } count } } }" });
    let answer: Value = client
        .post(format!("{base}/store/graphql"))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .context("reading the collection facets")?;
    let facets = answer["data"]["facets"]["collections"].as_array().cloned().unwrap_or_default();
    let total = facets.iter().filter_map(|f| f["count"].as_u64()).sum();
    let Some(first) = facets.first().and_then(|f| f["collection"]["id"].as_str()) else {
        bail!("the shop has no collection with products: seed it first ({answer})");
    };
    Ok((total, first.to_owned()))
}

/// Runs one shape on `base` for the harness's duration and concurrency.
pub async fn measure(
    args: &Args,
    client: &Client,
    base: &str,
    shape: &Shape,
    ids: Arc<Sample>,
) -> anyhow::Result<Report> {
    let (client, base, shape) = (client.clone(), base.to_owned(), shape.clone());
    drive(&shape.label.clone(), args, move |n| {
        let (client, base, shape, ids) = (client.clone(), base.clone(), shape.clone(), ids.clone());
        async move {
            let id = &ids.ids[ids.pick(n)];
            let response = match &shape.request {
                Request::Get(path) if shape.by_id => client.get(format!("{base}{path}{id}")).send().await?,
                Request::Get(path) => client.get(format!("{base}{path}")).send().await?,
                Request::Graphql(body) => {
                    let mut body = body.clone();
                    if shape.by_id {
                        body["variables"] = json!({ "id": id });
                    }
                    client.post(format!("{base}/store/graphql")).json(&body).send().await?
                }
            };
            let ok = response.status().is_success();
            let body = response.bytes().await?;
            // A GraphQL error answers 200 with `errors`: count it as the failure it is.
            Ok(ok && !(matches!(shape.request, Request::Graphql(_)) && body.windows(9).any(|w| w == b"\"errors\":")))
        }
    })
    .await
}

/// One target of the run: its base URL, the shapes for its first collection, its sampled ids.
struct Target {
    base: String,
    shapes: Vec<Shape>,
    ids: Arc<Sample>,
    /// Requests per second per shape, one entry per round.
    rates: Vec<Vec<f64>>,
}

async fn target(args: &Args, client: &Client, base: &str) -> anyhow::Result<Target> {
    let (products, collection) = catalog(client, base).await?;
    if let Some(size) = args.catalog_size
        && size != products
    {
        bail!("{base} holds {products} active products, not the {size} of --catalog-size");
    }
    let ids = Arc::new(sample(client, base).await.context("reading product ids from the shop")?);
    let shapes = shapes(&args.api, &collection);
    let rates = vec![vec![]; shapes.len()];
    Ok(Target { base: base.to_owned(), shapes, ids, rates })
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// `--scenario listings`: every shape on each target, targets alternating round by round
/// (A B, then B A, ...) so a drift of the machine weighs on both alike.
pub async fn run(args: &Args, client: &Client) -> anyhow::Result<()> {
    let Some(size) = args.catalog_size else {
        bail!("--scenario listings needs --catalog-size (the active products the shop holds)");
    };
    let mut targets = vec![target(args, client, &args.base_url).await?];
    if let Some(other) = &args.compare_url {
        targets.push(target(args, client, other).await?);
    }
    println!(
        "{size} products, concurrency {}, {} s per shape, {} round(s), {} in-stock products sampled\n",
        args.concurrency,
        args.duration_secs,
        args.rounds,
        targets[0].ids.ids.len()
    );
    println!("| target | round | shape | req/s | / healthz | p50 ms | p99 ms | max ms | requests | failures |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let mut failures = 0;
    for round in 0..args.rounds {
        let order: Vec<usize> =
            if round % 2 == 0 { (0..targets.len()).collect() } else { (0..targets.len()).rev().collect() };
        for t in order {
            let target = &mut targets[t];
            let mut healthz = None;
            for (i, shape) in target.shapes.clone().iter().enumerate() {
                let report = measure(args, client, &target.base, shape, target.ids.clone()).await?;
                let rate = report.rate();
                let ratio = healthz.map_or(1.0, |h: f64| rate / h);
                healthz.get_or_insert(rate);
                failures += report.failures;
                let (p50, max) =
                    (report.latency.value_at_quantile(0.5) as f64 / 1000.0, report.latency.max() as f64 / 1000.0);
                println!(
                    "| {} | {} | {} | {rate:.0} | {ratio:.2} | {p50:.2} | {:.2} | {max:.2} | {} | {} |",
                    target.base,
                    round + 1,
                    report.scenario,
                    report.p99_ms(),
                    report.requests,
                    report.failures
                );
                target.rates[i].push(rate);
            }
        }
    }
    summary(&targets);
    if failures > 0 {
        bail!("{failures} requests failed");
    }
    Ok(())
}

/// Mean rates per shape, each target's ratio to its own `/healthz`, and with two targets
/// the ratio of the second to the first.
fn summary(targets: &[Target]) {
    let two = targets.len() == 2;
    println!(
        "\n| shape | {} req/s | / healthz |{}",
        targets[0].base,
        if two { " compare req/s | / healthz | compare / base |" } else { "" }
    );
    println!("|---|---:|---:|{}", if two { "---:|---:|---:|" } else { "" });
    let healthz: Vec<f64> = targets.iter().map(|t| mean(&t.rates[0])).collect();
    for (i, shape) in targets[0].shapes.iter().enumerate() {
        let base = mean(&targets[0].rates[i]);
        let mut row = format!("| {} | {base:.0} | {:.2} |", shape.label, base / healthz[0]);
        if two {
            let other = mean(&targets[1].rates[i]);
            let _ = write!(row, " {other:.0} | {:.2} | {:.2} |", other / healthz[1], other / base);
        }
        println!("{row}");
    }
}
