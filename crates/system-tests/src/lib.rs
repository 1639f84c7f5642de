//! # commerce-system-tests
//!
//! Tests of the reference binaries together, as a team deploys them (`tests/`): the
//! three PostgreSQL services in-process, the six binaries as separate processes through
//! the broker, and `kill -9` of `orders-service` under checkout load. The library is what
//! every HTTP test harness of the workspace shares: [`ShopClient`] speaks the public API,
//! and [`process`] finds and starts the built binaries.

#![allow(clippy::missing_panics_doc, reason = "test support: every helper fails the test loudly")]

pub mod otlp;
pub mod pci;
pub mod process;
pub mod smtp;

use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// The test card that pays.
pub const GOOD_CARD: &str = "4242 4242 4242 4242";

/// A client of one shop's public HTTP API: the admin, store and checkout routes, on one
/// origin (the all-in-one binary) or on three (the split services).
#[derive(Debug, Clone)]
pub struct ShopClient {
    /// The HTTP client.
    pub http: Client,
    /// Origin of the admin routes.
    pub catalog: String,
    /// Origin of the store routes and GraphQL.
    pub store: String,
    /// Origin of the checkout and order routes.
    pub orders: String,
    admin_token: String,
}

impl ShopClient {
    /// Every route on one origin (`http://host:port`).
    pub fn new(origin: &str, admin_token: &str) -> Self {
        Self::split(origin, origin, origin, admin_token)
    }

    /// Admin, store and checkout routes on their own origins.
    pub fn split(catalog: &str, store: &str, orders: &str, admin_token: &str) -> Self {
        Self {
            http: Client::new(),
            catalog: catalog.to_owned(),
            store: store.to_owned(),
            orders: orders.to_owned(),
            admin_token: admin_token.to_owned(),
        }
    }

    /// An admin request, with the admin token.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.catalog)).bearer_auth(&self.admin_token)
    }

    /// A GET on the store's origin.
    pub fn store(&self, path: &str) -> RequestBuilder {
        self.http.get(format!("{}{path}", self.store))
    }

    /// A request to the checkout and order routes' origin.
    pub fn orders(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.orders))
    }

    /// `POST /store/v1/checkout` with `body`, under `key` when given.
    pub async fn checkout(&self, key: Option<&str>, body: &Value) -> Response {
        let mut r = self.orders(Method::POST, "/store/v1/checkout").json(body);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        send(r).await
    }

    /// Creates an active product; returns its id.
    pub async fn create_product(&self, sku: &str, amount: i64, attributes: Value) -> String {
        let body = json!({"sku": sku, "name": format!("Product {sku}"), "price": {"amount": amount, "currency": "USD"},
                          "attributes": attributes, "status": "active"});
        let product = ok_json(self.admin(Method::POST, "/admin/v1/products").json(&body)).await;
        product["id"].as_str().unwrap_or_else(|| panic!("no id in {product}")).to_owned()
    }

    /// `PUT /admin/v1/products/{id}/stock`.
    pub async fn set_stock(&self, id: &str, on_hand: u64) -> Response {
        send(self.admin(Method::PUT, &format!("/admin/v1/products/{id}/stock")).json(&json!({"on_hand": on_hand})))
            .await
    }

    /// Creates an active product with stock and waits until the store lists it so.
    pub async fn stocked_product(&self, sku: &str, amount: i64, stock: u64, attributes: Value) -> String {
        let id = self.create_product(sku, amount, attributes).await;
        let r = self.set_stock(&id, stock).await;
        assert!(r.status().is_success(), "set stock: {}", r.status());
        self.eventually_stock(&id, stock).await;
        id
    }

    /// Polls the store until it shows `stock` for the product (the read model follows the
    /// write side), for up to 10 s.
    pub async fn eventually_stock(&self, id: &str, stock: u64) {
        let shown = eventually(10, || async {
            let r = self.store(&format!("/store/v1/products/{id}")).send().await.map_err(|e| e.to_string())?;
            let body: Value =
                if r.status() == StatusCode::OK { r.json().await.map_err(|e| e.to_string())? } else { Value::Null };
            if body["available_stock"] == json!(stock) {
                Ok(())
            } else {
                Err(format!("shows {}", body["available_stock"]))
            }
        })
        .await;
        if let Err(e) = shown {
            panic!("product {id} never showed stock {stock}: {e}");
        }
    }
}

/// Sends a request; a transport failure fails the test.
pub async fn send(r: RequestBuilder) -> Response {
    r.send().await.unwrap_or_else(|e| panic!("request failed: {e}"))
}

/// Sends a request that must succeed and returns its JSON body.
pub async fn ok_json(r: RequestBuilder) -> Value {
    let r = send(r).await;
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// A checkout body: one line, the given card, a valid expiry and CVC.
pub fn cart(product: &str, quantity: i64, card: &str) -> Value {
    json!({"email": "ada@example.com", "items": [{"product_id": product, "quantity": quantity}],
           "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
}

/// Asserts an RFC 7807 problem with `status` and returns it.
pub async fn problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    r.json().await.unwrap_or_else(|e| panic!("problem body: {e}"))
}

/// The fields a problem names.
pub fn fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .map_or_else(Vec::new, |errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
}

/// Polls `check` until it returns `Ok`, for up to `secs` seconds; the last error otherwise.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check().await {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}
