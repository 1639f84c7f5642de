//! The three PostgreSQL services together, as a team deploys them: a product
//! created through `catalog-api` is listed by `storefront-api` with its stock,
//! and checkouts through `orders-service` lower the stock shown. Each test gets
//! a fresh database; the services run in-process on port 0.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::time::Duration;

use clap::Parser as _;
use commerce_postgres::testing::{Databases, url_for};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "distributed-admin";

struct Services {
    catalog: String,
    store: String,
    orders: String,
    client: Client,
    stop: Vec<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

async fn listener() -> (tokio::net::TcpListener, String) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
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
    Services { catalog, store, orders, client: Client::new(), stop, tasks }
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

    async fn eventually_stock(&self, id: &str, stock: u64) {
        for _ in 0..200 {
            let r = self.client.get(format!("{}/store/v1/products/{id}", self.store)).send().await.unwrap();
            if r.status() == StatusCode::OK && r.json::<Value>().await.unwrap()["available_stock"] == json!(stock) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the store never showed stock {stock} for {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_to_store_to_checkout() {
    let dbs = Databases::new();
    let s = start(&dbs).await;
    let c = &s.client;

    let product: Value = c
        .post(format!("{}/admin/v1/products", s.catalog))
        .bearer_auth(ADMIN)
        .json(&json!({"sku": "MUG-1", "name": "Red mug", "price": {"amount": 1200, "currency": "USD"},
                      "attributes": {"colour": "red"}, "status": "active"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = product["id"].as_str().unwrap().to_owned();
    let r = c
        .put(format!("{}/admin/v1/products/{id}/stock", s.catalog))
        .bearer_auth(ADMIN)
        .json(&json!({"on_hand": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.eventually_stock(&id, 5).await;
    let listed: Value = c
        .get(format!("{}/store/v1/products?q=mug&attr.colour=red", s.store))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["id"], id.as_str());

    let body = json!({"email": "ada@example.com", "items": [{"product_id": id, "quantity": 2}],
                      "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
    let checkout = || c.post(format!("{}/store/v1/checkout", s.orders)).header("Idempotency-Key", "k1").json(&body);
    let r = checkout().send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["status"], "paid");
    s.eventually_stock(&id, 3).await;

    let replay = checkout().send().await.unwrap();
    assert_eq!(
        (replay.status(), replay.headers()["idempotent-replayed"].to_str().unwrap()),
        (StatusCode::CREATED, "true")
    );
    let too_many = json!({"email": "ada@example.com", "items": [{"product_id": id, "quantity": 4}],
                          "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
    let r = c
        .post(format!("{}/store/v1/checkout", s.orders))
        .header("Idempotency-Key", "k2")
        .json(&too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let orders: Value =
        c.get(format!("{}/admin/v1/orders", s.catalog)).bearer_auth(ADMIN).send().await.unwrap().json().await.unwrap();
    let statuses: Vec<&str> =
        orders["items"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["cancelled", "paid"]);
    let token = order["access_token"].as_str().unwrap();
    let mine = c
        .get(format!("{}/store/v1/orders/{}", s.orders, order["id"].as_str().unwrap()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(mine.status(), StatusCode::OK);

    for base in [&s.catalog, &s.store, &s.orders] {
        assert_eq!(c.get(format!("{base}/readyz")).send().await.unwrap().status(), StatusCode::OK);
    }
    s.stop().await;
    dbs.cleanup().await;
}
