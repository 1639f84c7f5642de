//! The three PostgreSQL services together, as a team deploys them: a product
//! created through `catalog-api` is listed by `storefront-api` with its stock,
//! and checkouts through `orders-service` lower the stock shown. Each test gets
//! a fresh database; the services run in-process on port 0.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use clap::Parser as _;
use commerce_postgres::testing::{Databases, url_for};
use commerce_system_tests::{GOOD_CARD, ShopClient, cart, ok_json, process::listener, send};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ADMIN: &str = "distributed-admin-token";

struct Services {
    shop: ShopClient,
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

async fn start(dbs: &Databases) -> Services {
    let name = dbs.fresh_name().await;
    let db = url_for(&name);
    let args =
        |bin: &str| vec![bin.to_owned(), "--database-url".into(), db.clone(), "--max-connections".into(), "4".into()];
    catalog_api::Cli::parse_from(args("catalog-api")).db.migrate().await.unwrap();

    let mut stop = vec![];
    let mut tasks = vec![];
    let mut stopper = || {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stop.push(tx);
        async move {
            let _ = rx.await;
        }
    };
    let (l, catalog) = listener().await;
    let mut a = args("catalog-api");
    a.extend(["--admin-token".into(), ADMIN.into()]);
    tasks.push(tokio::spawn(catalog_api::run(catalog_api::Cli::parse_from(a), l, stopper())));
    let (l, store) = listener().await;
    let mut a = args("storefront-api");
    // This deployment has no broker, whatever KAFKA_BROKERS says: the in-process poller projects.
    a.extend(["--projector-idle-ms".into(), "10".into(), "--kafka-brokers".into(), String::new()]);
    tasks.push(tokio::spawn(storefront_api::run(storefront_api::Cli::parse_from(a), l, stopper())));
    let (l, orders) = listener().await;
    let mut a = args("orders-service");
    a.extend(["--idempotency-secret".into(), "distributed-test-idempotency-secret-0123456789".into()]);
    tasks.push(tokio::spawn(orders_service::run(orders_service::Cli::parse_from(a), l, stopper())));
    Services { shop: ShopClient::split(&catalog, &store, &orders, ADMIN), stop, tasks }
}

impl Services {
    async fn stop(self) {
        for s in self.stop {
            let _ = s.send(());
        }
        for t in self.tasks {
            t.await.unwrap().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_to_store_to_checkout() {
    let dbs = Databases::new();
    let s = start(&dbs).await;
    let shop = &s.shop;

    let id = shop.stocked_product("MUG-1", 1200, 5, json!({"colour": "red"})).await;
    let listed = ok_json(shop.store("/store/v1/products?q=mug&attr.colour=red")).await;
    assert_eq!(listed["items"][0]["id"], id.as_str());

    let r = shop.checkout(Some("k1"), &cart(&id, 2, GOOD_CARD)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: serde_json::Value = r.json().await.unwrap();
    assert_eq!(order["status"], "paid");
    shop.eventually_stock(&id, 3).await;

    let replay = shop.checkout(Some("k1"), &cart(&id, 2, GOOD_CARD)).await;
    assert_eq!(
        (replay.status(), replay.headers()["idempotent-replayed"].to_str().unwrap()),
        (StatusCode::CREATED, "true")
    );
    let replayed: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(
        (replayed["id"].clone(), replayed["access_token"].clone()),
        (order["id"].clone(), order["access_token"].clone())
    );
    let r = shop.checkout(Some("k2"), &cart(&id, 4, GOOD_CARD)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let orders = ok_json(shop.admin(Method::GET, "/admin/v1/orders")).await;
    let statuses: Vec<&str> =
        orders["items"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["cancelled", "paid"]);
    let token = order["access_token"].as_str().unwrap();
    let path = format!("/store/v1/orders/{}", order["id"].as_str().unwrap());
    let mine = send(shop.orders(Method::GET, &path).bearer_auth(token)).await;
    assert_eq!(mine.status(), StatusCode::OK);

    for base in [&shop.catalog, &shop.store, &shop.orders] {
        assert_eq!(send(shop.http.get(format!("{base}/readyz"))).await.status(), StatusCode::OK);
    }
    s.stop().await;
    dbs.cleanup().await;
}
