//! The fleet behind the gateway (`scripts/fleet`, `deploy/gateway/`), under load:
//!
//! 1. every service is restarted (SIGTERM, drained, started again) one replica at a time
//!    while shoppers read the store and place orders through the gateway: no store
//!    request fails, and every checkout is answered (a retry with the same
//!    Idempotency-Key counts as one);
//! 2. one replica of each service is SIGKILLed under the same load: store reads still do
//!    not fail (the gateway retries them on the other replica), and every checkout is
//!    answered after at most a few retries with its key.
//!
//! Then no order is lost or charged twice: each key names one order, each paid order was
//! captured exactly once at the processor, nothing else was captured, and each product's
//! stock went down by exactly what was sold.
//!
//! Bounded: each phase is a fixed list of restarts; the whole test has 6 minutes. Needs
//! the binaries built, nginx (`scripts/fleet` installs it), PostgreSQL, Redis and the
//! broker; fails loudly without them.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use commerce_postgres::testing::{Databases, url_for};
use commerce_system_tests::{ShopClient, eventually, ok_json, process::bin};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "fleet-test-admin-token-0123456789";

/// The fleet of one test: its folder, gateway port and settings.
struct Fleet {
    dir: PathBuf,
    port: u16,
    env: Vec<(&'static str, String)>,
}

impl Fleet {
    fn run(&self, args: &[&str]) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = std::process::Command::new(repo.join("scripts/fleet"))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .status()
            .unwrap();
        assert!(status.success(), "scripts/fleet {args:?} failed; logs in {}", self.dir.join("logs").display());
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let _ = std::process::Command::new(repo.join("scripts/fleet"))
            .arg("down")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .status();
    }
}

/// A gateway port whose service ports (+101..+162) are free too, below the ephemeral range
/// (32768 and up) that outgoing connections take ports from.
fn free_base() -> u16 {
    for _ in 0..100 {
        let base = 20_000 + u16::try_from(uuid::Uuid::new_v4().as_u128() % 12_000).unwrap();
        let free = [0, 101, 102, 111, 112, 121, 131, 132, 141, 151, 161, 162]
            .iter()
            .all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free port range for the fleet");
}

/// What the load saw.
#[derive(Default)]
struct Tally {
    reads: AtomicUsize,
    failed_reads: Mutex<Vec<String>>,
    /// Idempotency key → (order id, product, status) once answered.
    orders: Mutex<HashMap<String, (String, String, String)>>,
    retries: AtomicUsize,
    unanswered: Mutex<Vec<String>>,
}

/// Store reads through the gateway until `stop`: the list, a product, a page.
async fn read_load(client: Client, fleet_url: String, products: Vec<String>, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let path = match n % 3 {
            0 => format!("/store/v1/products?limit=10&sort=price_asc&min_price={}", n % 50),
            1 => format!("/store/v1/products/{}", products[n % products.len()]),
            _ => format!("/products/{}", products[n % products.len()]),
        };
        n += 1;
        match client.get(format!("{fleet_url}{path}")).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tally.failed_reads.lock().unwrap().push(format!("{path}: {}", r.status())),
            Err(e) => tally.failed_reads.lock().unwrap().push(format!("{path}: {e}")),
        }
        tally.reads.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Checkouts through the gateway until `stop`, each retried with its key until answered
/// (201 paid, 202 accepted and still settling, 402 declined), as a client should.
async fn checkout_load(
    client: Client,
    fleet_url: String,
    worker: usize,
    products: Vec<String>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let key = format!("fleet-{worker}-{n}");
        let product = products[(worker + n) % products.len()].clone();
        n += 1;
        let body = json!({
            "email": "load@example.com",
            "items": [{"product_id": product, "quantity": 1}],
            "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
        });
        // A client retries with its key for as long as the shop may need: a checkout in
        // flight on a replica that was killed answers 409 "in progress" until its claim is
        // stale (60 s), then the retry completes it.
        let (mut answered, give_up) = (false, std::time::Instant::now() + Duration::from_secs(90));
        let mut attempt = 0;
        while !answered && std::time::Instant::now() < give_up {
            if attempt > 0 {
                tally.retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250 * attempt.min(4))).await;
            }
            attempt += 1;
            let sent = client
                .post(format!("{fleet_url}/store/v1/checkout"))
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            let Ok(r) = sent else { continue };
            if [StatusCode::CREATED, StatusCode::ACCEPTED, StatusCode::PAYMENT_REQUIRED].contains(&r.status()) {
                let order: Value = r.json().await.unwrap_or_default();
                let (id, status) =
                    (order["id"].as_str().unwrap_or_default(), order["status"].as_str().unwrap_or("declined"));
                tally.orders.lock().unwrap().insert(key.clone(), (id.to_owned(), product.clone(), status.to_owned()));
                answered = true;
            }
        }
        if !answered {
            tally.unanswered.lock().unwrap().push(key);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_restarts_and_kills_behind_the_gateway_lose_nothing() {
    let dbs = Databases::new();
    let fleet = start(&url_for(&dbs.fresh_name().await));
    eprintln!("fleet logs: {}", fleet.dir.join("logs").display());
    let client = Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let products = stocked_products(&fleet).await;
    gateway_contract(&client, &fleet, &products[0]).await;
    let tally = Arc::new(Tally::default());
    let phases: [(&str, &str, &[&str]); 2] = [
        (
            "rolling restart",
            "restart",
            &[
                "catalog",
                "store-1",
                "store-2",
                "orders-1",
                "orders-2",
                "inventory",
                "relay",
                "projector",
                "notifications",
            ],
        ),
        ("kills", "kill", &["store-1", "orders-1", "catalog", "relay", "projector"]),
    ];
    let bounded = tokio::time::timeout(Duration::from_secs(330), async {
        for (n, (phase, action, names)) in phases.into_iter().enumerate() {
            under_load(&client, &fleet, &products, &tally, (n * 10, action, names)).await;
            let failed = tally.failed_reads.lock().unwrap().clone();
            eprintln!(
                "{phase}: {} store reads, {} failed; {} checkouts answered, {} retries",
                tally.reads.load(Ordering::Relaxed),
                failed.len(),
                tally.orders.lock().unwrap().len(),
                tally.retries.load(Ordering::Relaxed)
            );
            assert_eq!(failed, Vec::<String>::new(), "{phase}: store requests failed");
            assert_eq!(*tally.unanswered.lock().unwrap(), Vec::<String>::new(), "{phase}: checkouts never answered");
        }
        check_nothing_lost_or_charged_twice(&client, &fleet, &products, &tally).await;
    })
    .await;
    assert!(bounded.is_ok(), "the fleet test did not finish within 5.5 minutes");
    eprintln!("{} orders, each captured once; stock down by exactly what was sold", tally.orders.lock().unwrap().len());
    drop(fleet);
    dbs.cleanup().await;
}

/// `scripts/fleet up` on free ports, a folder and topics of its own, and `database`.
fn start(database: &str) -> Fleet {
    let port = free_base();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("commerce-fleet-{id}"));
    let bins = bin("catalog-api").parent().unwrap().to_str().unwrap().to_owned();
    let fleet = Fleet {
        dir: dir.clone(),
        port,
        env: vec![
            ("FLEET_PORT", port.to_string()),
            ("FLEET_DIR", dir.to_str().unwrap().to_owned()),
            ("FLEET_DATABASE_URL", database.to_owned()),
            ("FLEET_BIN_DIR", bins),
            ("FLEET_PREFIX", format!("fleet-{id}")),
            ("FLEET_SEED", "0".into()),
            ("COMMERCE_ADMIN_TOKEN", ADMIN.into()),
        ],
    };
    fleet.run(&["up"]);
    fleet
}

/// Four products with plenty of stock, created and stocked through the gateway, once the
/// storefront lists them so (the first events may wait for the projector's partitions).
async fn stocked_products(fleet: &Fleet) -> Vec<String> {
    let shop = ShopClient::new(&fleet.url(""), ADMIN);
    let mut products = vec![];
    for n in 0..4 {
        let id = shop.create_product(&format!("FLEET-{n}"), 1000 + n, json!({})).await;
        assert!(shop.set_stock(&id, 10_000).await.status().is_success());
        products.push(id);
    }
    for id in &products {
        let listed = eventually(30, || async {
            // 404 until the product is projected.
            let r = shop.store(&format!("/store/v1/products/{id}")).send().await.map_err(|e| e.to_string())?;
            let view: Value = r.json().await.map_err(|e| e.to_string())?;
            if view["available_stock"] == json!(10_000) { Ok(()) } else { Err(format!("shows {view}")) }
        })
        .await;
        listed.unwrap_or_else(|e| panic!("{id} never listed with its stock: {e}"));
    }
    products
}

/// Runs `scripts/fleet <action> <name>` for each name, one after the other, while two
/// readers and two buyers (workers numbered from `first_worker`) use the shop.
async fn under_load(
    client: &Client,
    fleet: &Fleet,
    products: &[String],
    tally: &Arc<Tally>,
    (first_worker, action, names): (usize, &str, &[&str]),
) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = vec![];
    for _ in 0..2 {
        let reader = read_load(client.clone(), fleet.url(""), products.to_vec(), tally.clone(), stop.clone());
        load.push(tokio::spawn(reader));
    }
    for worker in 0..2 {
        let buyer = checkout_load(
            client.clone(),
            fleet.url(""),
            first_worker + worker,
            products.to_vec(),
            tally.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(buyer));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for name in names {
        let (env, verb, process) = (fleet.env.clone(), action.to_owned(), (*name).to_owned());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fleet");
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new(script)
                .args([verb.as_str(), process.as_str()])
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
                .status()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(status.success(), "scripts/fleet {action} {name}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
}

/// What the gateway adds to the services' contract, checked through it: routing of each
/// family of routes, problems for its own refusals, request ids, gzip, and the store cache
/// revalidated with the services' ETag.
async fn gateway_contract(client: &Client, fleet: &Fleet, product: &str) {
    // Each family reaches its service: store, GraphQL, pages, admin API, console, webhooks.
    let graphql = client.post(fleet.url("/store/graphql")).json(&json!({"query": "{ collections { id } }"}));
    assert_eq!(graphql.send().await.unwrap().status(), StatusCode::OK);
    for (path, status) in [
        ("/", StatusCode::OK),
        (&format!("/products/{product}")[..], StatusCode::OK),
        ("/admin/sign-in", StatusCode::OK),
        ("/metrics", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(client.get(fleet.url(path)).send().await.unwrap().status(), status, "{path}");
    }
    let refund = client.post(fleet.url(&format!("/admin/v1/orders/{}/refunds", uuid::Uuid::nil()))).bearer_auth(ADMIN);
    let refund = refund.json(&json!({"amount": {"amount": 1, "currency": "USD"}})).send().await.unwrap();
    // orders-service knows the route (and asks for an Idempotency-Key); catalog-api,
    // which does not serve it, would answer 404.
    assert_eq!(refund.status(), StatusCode::BAD_REQUEST, "refunds reach orders-service");

    // A request id is kept end to end, or made.
    let r =
        client.get(fleet.url("/store/v1/collections")).header("x-request-id", "fleet-trace-1").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "fleet-trace-1");
    let r = client.get(fleet.url("/gateway/healthz")).send().await.unwrap();
    assert!(r.headers().contains_key("x-request-id"));

    // Store reads: gzip, a validator, 304, and a cache hit within the lifetime.
    let path = format!("/store/v1/products/{product}");
    let first = client.get(fleet.url(&path)).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = client.get(fleet.url(&path)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let hit = client.get(fleet.url(&path)).send().await.unwrap();
    assert_eq!(hit.headers()["x-cache"], "HIT");
    let big =
        client.get(fleet.url("/store/v1/products?limit=100")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(big.headers()["content-encoding"], "gzip");

    // Its own refusals: too large, too many sign-ins, as problems.
    let huge = client.post(fleet.url("/store/v1/checkout")).body(vec![b'x'; 300 * 1024]).send().await.unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(huge.headers()["content-type"], "application/problem+json");
    let mut statuses = vec![];
    for _ in 0..10 {
        let r = client.post(fleet.url("/admin/sign-in")).form(&[("token", "wrong")]).send().await.unwrap();
        statuses.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            let problem: Value = r.json().await.unwrap();
            assert_eq!(problem["status"], 429);
            return;
        }
    }
    panic!("sign-in is not rate-limited: {statuses:?}");
}

/// The order's status once it no longer changes (`paid`, `payment_failed`, `cancelled`), by the
/// admin API; an order still settling after 60 s fails the test.
async fn settled(client: &Client, fleet: &Fleet, id: &str) -> String {
    let mut last = Value::Null;
    for _ in 0..600 {
        let r = client.get(fleet.url(&format!("/admin/v1/orders/{id}"))).bearer_auth(ADMIN).send().await.unwrap();
        last = r.json().await.unwrap_or_default();
        if let Some(status @ ("paid" | "payment_failed" | "cancelled")) = last["status"].as_str() {
            return status.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {id} did not settle: {last}");
}

/// Each key one order; every order settles; each paid order captured once and no other
/// order captured; stock down by exactly what was sold, nothing left reserved.
async fn check_nothing_lost_or_charged_twice(client: &Client, fleet: &Fleet, products: &[String], tally: &Tally) {
    let orders = tally.orders.lock().unwrap().clone();
    assert!(orders.len() >= 20, "the load placed orders ({})", orders.len());
    let ids: std::collections::HashSet<_> = orders.values().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(ids.len(), orders.len(), "two keys never share an order, and no key made two");
    let payments = format!("http://127.0.0.1:{}", fleet.port + 141);
    let (mut sold, mut paid): (HashMap<String, u64>, u64) = (HashMap::new(), 0);
    for (key, (id, product, _)) in &orders {
        let status = settled(client, fleet, id).await;
        let processor: Value =
            client.get(format!("{payments}/v1/stats?reference={id}")).send().await.unwrap().json().await.unwrap();
        let captures = u64::from(status == "paid");
        assert_eq!(
            processor["captures"],
            json!(captures),
            "{key}: order {id} ({status}) captured {captures}: {processor}"
        );
        if status == "paid" {
            *sold.entry(product.clone()).or_default() += 1;
            paid += 1;
        }
    }
    assert!(paid * 10 >= orders.len() as u64 * 9, "most orders were paid ({paid} of {})", orders.len());
    let all: Value = client.get(format!("{payments}/v1/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(all["captures"], json!(paid), "nothing else was captured: {all}");
    let shop = ShopClient::new(&fleet.url(""), ADMIN);
    for id in products {
        let expected = 10_000 - sold.get(id).copied().unwrap_or(0);
        let stock = eventually(10, || async {
            let level = ok_json(shop.admin(reqwest::Method::GET, &format!("/admin/v1/products/{id}/stock"))).await;
            let exact = level["on_hand"] == json!(expected) && level["reserved"] == json!(0);
            if exact { Ok(()) } else { Err(format!("{level}")) }
        })
        .await;
        stock.unwrap_or_else(|e| panic!("{id}: on hand {expected} and none reserved expected, got {e}"));
    }
}
