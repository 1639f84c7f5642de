//! The HTTP contract of the all-in-one binary, exercised over real sockets:
//! each test starts its own shop on port 0 (`spawn_app`), on its default storage (a SQLite
//! file) in a folder of its own, and talks to it with reqwest.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod contract;
mod durability;
mod graphql;
mod hardening;
mod mail;
mod parsers;
mod pricing;
mod refunds;
mod stripe;

use commerce_system_tests::ShopClient;
use reqwest::{Client, Response};
use serde_json::Value;

pub(crate) const ADMIN: &str = "test-admin-token";

/// One shop on port 0, and the shared client of its API.
pub(crate) struct App {
    pub(crate) shop: ShopClient,
    pub(crate) client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    data_dir: std::path::PathBuf,
    /// Delete the data folder when dropped (not for a shop a test restarts).
    owns_data_dir: bool,
}

/// A data folder no other test uses.
pub(crate) fn fresh_data_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("commerce-api-test-{}-{n}", std::process::id()))
}

pub(crate) async fn spawn_app() -> App {
    let data_dir = fresh_data_dir();
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut app = spawn_app_in(&data_dir).await;
    app.owns_data_dir = true;
    app
}

/// A shop on the data in `data_dir` (kept when the shop stops).
pub(crate) async fn spawn_app_in(data_dir: &std::path::Path) -> App {
    spawn_app_with(data_dir, &[]).await
}

/// A shop on the data in `data_dir`, with more flags.
pub(crate) async fn spawn_app_with(data_dir: &std::path::Path, flags: &[&str]) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dir = data_dir.to_str().unwrap();
    let mut args =
        vec!["commerce", "--seed", "none", "--admin-token", ADMIN, "--data-dir", dir, "--drain-grace-ms", "0"];
    args.extend_from_slice(flags);
    let config = <commerce::Config as clap::Parser>::parse_from(args);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(commerce::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let client = ShopClient::new(&base, ADMIN);
    App {
        client: client.http.clone(),
        shop: client,
        stop: Some(stop),
        server: Some(server),
        data_dir: data_dir.to_owned(),
        owns_data_dir: false,
    }
}

impl App {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shop.store)
    }

    pub(crate) async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut r = self.shop.admin(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().await.unwrap()
    }

    /// `POST /store/graphql` with `query`: the status and the JSON body.
    pub(crate) async fn graphql(&self, query: &str) -> (reqwest::StatusCode, Value) {
        let r = self
            .client
            .post(self.url("/store/graphql"))
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.shop.store(path).send().await.unwrap()
    }

    /// Creates an active product with stock and waits until the store lists it.
    pub(crate) async fn product(&self, sku: &str, amount: i64, stock: u64, attributes: Value) -> String {
        self.shop.stocked_product(sku, amount, stock, attributes).await
    }

    pub(crate) async fn eventually_stock(&self, id: &str, stock: u64) {
        self.shop.eventually_stock(id, stock).await;
    }

    /// The order as its customer reads it, with the access token from the checkout's answer.
    pub(crate) async fn customer_order(&self, placed: &Value) -> Value {
        let path = format!("/store/v1/orders/{}", placed["id"].as_str().unwrap());
        let r = self.client.get(self.url(&path)).bearer_auth(placed["access_token"].as_str().unwrap());
        r.send().await.unwrap().json().await.unwrap()
    }

    /// The order as an operator reads it.
    pub(crate) async fn admin_order(&self, placed: &Value) -> Value {
        let path = format!("/admin/v1/orders/{}", placed["id"].as_str().unwrap());
        self.admin(reqwest::Method::GET, &path, None).await.json().await.unwrap()
    }

    pub(crate) async fn checkout(&self, key: Option<&str>, body: &Value) -> Response {
        self.shop.checkout(key, body).await
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if self.owns_data_dir {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
