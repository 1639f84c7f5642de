//! kill -9 under checkout load, then a restart, of `orders-service` on PostgreSQL and of the
//! embedded `commerce` on its SQLite file (the built binaries): every order ends paid
//! (stock committed, captured once) or cancelled / payment-failed (stock released, nothing
//! captured), and stock adds up; on SQLite, the read model also equals the write model
//! after the restart. The card processor runs in this test process (`payments-simulator`'s
//! router), so its record of every authorisation and capture survives the crash, as a real
//! processor's would.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use clap::Parser as _;
use commerce_core::{
    Currency, Money, ProductId, Timestamp,
    order::{Order, OrderStatus, StockState},
    ports::{InventoryStore, OrderQuery, OrderStore, ProductStore},
    testkit::{strategies, units},
};
use commerce_payment_simulator::{ProcessorConfig, SimulatedCardProcessor};
use commerce_postgres::{
    PgCatalogStore, PgInventoryStore, PgOrderStore,
    testing::{Databases, url_for},
};
use commerce_system_tests::process::{bin, free_port};
use serde_json::json;

const PRODUCTS: u32 = 6;
const STOCK: u64 = 25;
/// The embedded shop's stock: enough that checkouts are still running (not only refused
/// for stock) when it is killed.
const EMBEDDED_STOCK: u64 = 1000;

fn spawn_service(db: &str, addr: &str, payments: &str) -> Child {
    Command::new(bin("orders-service"))
        .args(["--database-url", db, "--listen", addr, "--payments-url", payments])
        .args(["--resume-after-secs", "1", "--recovery-interval-secs", "1", "--max-connections", "8"])
        .env("RUST_LOG", "warn")
        .env("COMMERCE_IDEMPOTENCY_SECRET", "crash-test-idempotency-secret-0123456789")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("orders-service never became ready at {base}");
}

fn free_addr() -> String {
    format!("127.0.0.1:{}", free_port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_checkout_load_then_restart_settles_every_order() {
    let dbs = Databases::new();
    let db = url_for(&dbs.fresh_name().await);
    orders_service::Cli::parse_from(["orders-service", "--database-url", &db]).db.migrate().await.unwrap();
    let pool = commerce_postgres::lazy_pool(&db, 4).unwrap();

    // Products with stock, written straight to the write model.
    let catalog = PgCatalogStore::new(pool.clone());
    let inventory = PgInventoryStore::new(pool.clone());
    let mut products = vec![];
    for n in 0..PRODUCTS {
        let id = ProductId::from_uuid(uuid::Uuid::now_v7());
        let price = Money::new(1000 + i64::from(n), Currency::USD).unwrap();
        catalog
            .insert_product(&strategies::product(id, n, price, Timestamp::from_unix_micros(1_767_225_600_000_000)), &[])
            .await
            .unwrap();
        inventory.set_on_hand(id, units(STOCK)).await.unwrap();
        products.push(id.to_string());
    }

    // The card processor, outside the service that will crash.
    let (processor, payments) = processor().await;

    let addr = free_addr();
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut child = spawn_service(&db, &addr, &payments);
    wait_ready(&client, &base).await;

    let sent = load_then_kill(&client, &base, &products, &mut child).await;
    assert!(sent > 20, "the load must have been running when the service died");

    let orders = PgOrderStore::new(pool.clone());
    assert_some_stranded(&orders, sent).await;

    // Restart: the recovery job settles whatever the crash left behind, and says so on
    // /metrics.
    let mut child = spawn_service(&db, &addr, &payments);
    wait_ready(&client, &base).await;
    let all = settled(&orders).await;
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    let recovered: f64 = ["completed", "compensated"]
        .iter()
        .filter_map(|outcome| {
            let series = format!("commerce_recovery_orders_total{{outcome=\"{outcome}\"}} ");
            metrics.lines().find_map(|l| l.strip_prefix(&series)?.parse::<f64>().ok())
        })
        .sum();
    assert!(recovered >= 1.0, "the recovery job counted the orders it settled: {metrics}");
    assert!(metrics.contains("commerce_reservations_expired_total"), "{metrics}");
    child.kill().unwrap();
    child.wait().unwrap();

    check_outcomes(&all, &processor, &inventory, &products, STOCK).await;
    pool.close().await;
    dbs.cleanup().await;
}

const ADMIN: &str = "crash-test-admin-token-0123";

fn spawn_embedded(dir: &std::path::Path, addr: &str, payments: &str) -> Child {
    Command::new(bin("commerce"))
        .args(["--data-dir", dir.to_str().unwrap(), "--listen", addr, "--payments-url", payments])
        .args(["--seed", "none", "--admin-token", ADMIN, "--resume-after-secs", "1", "--recovery-interval-secs", "1"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_embedded_shop_then_restart_settles_every_order() {
    let dir = std::env::temp_dir().join(format!("commerce-crash-{}", uuid::Uuid::new_v4().simple()));
    let (processor, payments) = processor().await;
    let addr = free_addr();
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut child = spawn_embedded(&dir, &addr, &payments);
    wait_ready(&client, &base).await;

    // Products with stock, through the admin API.
    let mut products = vec![];
    for n in 0..PRODUCTS {
        let created: serde_json::Value = client
            .post(format!("{base}/admin/v1/products"))
            .bearer_auth(ADMIN)
            .json(&json!({"sku": format!("CRASH-{n}"), "name": format!("Crash {n}"), "status": "active",
                          "price": {"amount": 1000 + n, "currency": "USD"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();
        let stocked = client
            .put(format!("{base}/admin/v1/products/{id}/stock"))
            .bearer_auth(ADMIN)
            .json(&json!({"on_hand": EMBEDDED_STOCK}))
            .send()
            .await
            .unwrap();
        assert!(stocked.status().is_success());
        products.push(id);
    }

    let sent = load_then_kill(&client, &base, &products, &mut child).await;
    assert!(sent > 20, "the load must have been running when the shop died");
    let db = commerce_sqlite::SqliteDb::open_dir(&dir, 2).await.unwrap();
    let orders = db.orders();
    assert_some_stranded(&orders, sent).await;

    // Restart: the recovery job settles whatever the crash left behind; a SIGTERM then
    // lets the shop project its last events before it stops.
    let mut child = spawn_embedded(&dir, &addr, &payments);
    wait_ready(&client, &base).await;
    let all = settled(&orders).await;
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // Readiness turns 503 at once, while requests are still served for the grace period
    // (1 s by default), so a load balancer stops routing here before the listener closes.
    let mut readiness = String::new();
    for _ in 0..20 {
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        readiness = format!("{} {}", ready.status().as_u16(), ready.text().await.unwrap());
        if readiness.starts_with("503") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(readiness, r#"503 {"status":"draining"}"#, "not ready once SIGTERM arrived");
    let served = client.get(format!("{base}/store/v1/products")).send().await.unwrap();
    assert!(served.status().is_success(), "still serving during the grace period");
    assert!(child.wait().unwrap().success(), "the shop stops cleanly on SIGTERM");

    let inventory = db.inventory();
    check_outcomes(&all, &processor, &inventory, &products, EMBEDDED_STOCK).await;
    // The read model equals the write model: every product with its available stock.
    let read_model = db.read_model();
    let catalog = db.catalog();
    for id in &products {
        let id: ProductId = id.parse().unwrap();
        let product = catalog.product(id).await.unwrap().unwrap();
        let level = inventory.stock(&[id]).await.unwrap()[0];
        let view = commerce_core::ports::ProductReadModel::get(&read_model, id).await.unwrap().unwrap();
        assert_eq!(
            (view.product_version, view.name.clone(), view.available_stock),
            (product.version.get(), product.name.clone(), level.available()),
            "the read model of {id} equals the write model"
        );
    }
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// The card processor, served from this process so that its records outlive the shop.
/// Each call takes 20 ms, like a processor across a network: a checkout then spends most
/// of its time between its first and last saga steps, so the kill always cuts some there.
async fn processor() -> (Arc<SimulatedCardProcessor>, String) {
    let processor = Arc::new(SimulatedCardProcessor::new(ProcessorConfig {
        latency: Duration::from_millis(20),
        ..ProcessorConfig::default()
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let payments = format!("http://{}", listener.local_addr().unwrap());
    let app = commerce_payment_simulator::remote::router(processor.clone());
    tokio::spawn(async move { axum_serve(listener, app).await });
    (processor, payments)
}

/// Every order after the crash: eight workers are always mid-checkout, so the kill must
/// have stranded some mid-saga for the recovery job.
#[allow(clippy::print_stderr, reason = "reports what the crash left, as the tests do")]
async fn assert_some_stranded(orders: &dyn OrderStore, sent: usize) {
    let before = orders.list(&OrderQuery { status: None, limit: 100_000, after: None }).await.unwrap();
    let stranded = before.iter().filter(|o| !o.is_settled()).count();
    eprintln!("after the crash: {} orders, {stranded} unsettled, {sent} requests sent", before.len());
    assert!(stranded > 0, "the crash must leave unfinished orders for the recovery job");
}

/// Every order, once all are settled or 60 s passed.
async fn settled(orders: &dyn OrderStore) -> Vec<Order> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = orders.list(&OrderQuery { status: None, limit: 100_000, after: None }).await.unwrap();
        if all.iter().all(Order::is_settled) || Instant::now() > deadline {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Checkout load from eight tasks (a quarter of the cards decline) for 1.2 s, then SIGKILL
/// of `child` mid-load; returns how many requests were sent.
async fn load_then_kill(client: &reqwest::Client, base: &str, products: &[String], child: &mut Child) -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut load = vec![];
    for worker in 0..8_usize {
        let (client, base, products, stop, sent) =
            (client.clone(), base.to_owned(), products.to_vec(), stop.clone(), sent.clone());
        load.push(tokio::spawn(async move {
            let mut n = worker;
            while !stop.load(Ordering::SeqCst) {
                n += 8;
                let card = if n % 4 == 0 { "4000 0000 0000 0002" } else { "4242 4242 4242 4242" };
                let body = json!({"email": "load@example.com",
                    "items": [{"product_id": products[n % products.len()], "quantity": 1 + n % 2}],
                    "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
                let _ = client
                    .post(format!("{base}/store/v1/checkout"))
                    .header("Idempotency-Key", format!("crash-{n}"))
                    .json(&body)
                    .send()
                    .await;
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    child.kill().unwrap(); // SIGKILL: no drain, no cleanup, transactions cut mid-flight
    child.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }
    sent.load(Ordering::SeqCst)
}

/// Every order settled consistently with the processor's records and the stock.
async fn check_outcomes(
    all: &[Order],
    processor: &SimulatedCardProcessor,
    inventory: &dyn InventoryStore,
    products: &[String],
    stock: u64,
) {
    assert!(!all.is_empty());
    let mut sold = std::collections::HashMap::<ProductId, u64>::new();
    let (mut paid, mut failed) = (0, 0);
    for o in all {
        let stats = processor.stats(Some(&o.id.to_string()));
        assert_eq!(stats.open_authorizations, 0, "order {} left a hold open: {o:?}", o.id);
        match o.status {
            OrderStatus::Paid => {
                paid += 1;
                assert_eq!(o.stock, StockState::Committed, "paid order {} has its stock committed", o.id);
                assert_eq!((stats.captures, stats.refunds), (1, 0), "paid order {} is captured exactly once", o.id);
                for l in &o.lines {
                    *sold.entry(l.product_id).or_default() += u64::from(l.quantity.get());
                }
            }
            OrderStatus::Cancelled | OrderStatus::PaymentFailed => {
                failed += 1;
                assert_eq!(o.stock, StockState::Released, "failed order {} released its stock", o.id);
                assert_eq!(stats.captures, 0, "failed order {} captured nothing", o.id);
            }
            other => panic!("order {} did not settle: {other:?}", o.id),
        }
    }
    assert!(paid > 0 && failed > 0, "both outcomes occur ({paid} paid, {failed} failed)");
    assert_eq!(processor.stats(None).open_authorizations, 0, "no hold exists without an order");
    let ids: Vec<ProductId> = products.iter().map(|p| p.parse().unwrap()).collect();
    for level in inventory.stock(&ids).await.unwrap() {
        assert_eq!(level.reserved, 0, "nothing stays reserved for {}", level.product_id);
        assert_eq!(level.on_hand + sold.get(&level.product_id).copied().unwrap_or(0), stock, "no unit created or lost");
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = axum::serve(listener, app).await;
}
