//! Mounting the shop's routers inside your own axum application, next to your own routes,
//! behind your own admin authentication, with your routes in the OpenAPI document.
//!
//! The example serves on a free port, then uses the API as a client would: the team's own
//! route, the admin API with and without the team's key, a listing, a checkout, and the
//! merged `/openapi.json`. Then it shuts down, draining in-flight requests.
//!
//! ```text
//! cargo run -p commerce-examples --example embed_routers
//! ```

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use async_trait::async_trait;
use axum::{Router, http::request::Parts, routing::get};
use commerce_core::prelude::*;
use commerce_http::{
    ApiError, HttpConfig,
    auth::AdminAuthorizer,
    openapi::ApiDoc,
    ops::{AlwaysReady, OpsState},
};
use commerce_memory::{MemoryAdapters, MemoryPaymentGateway};
use commerce_runtime::{RandomIds, SystemClock};
use reqwest::StatusCode;
use serde_json::{Value, json};
use utoipa::OpenApi;

/// The team's own route.
#[utoipa::path(get, path = "/team/v1/hello", tag = "team", responses((status = 200, body = String)))]
async fn hello() -> &'static str {
    "hello from the team's own route"
}

/// The team's routes, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(hello), tags((name = "team", description = "The embedding team's own routes")))]
struct TeamApi;

/// The team's admin authentication: operators send one of the team's API keys, which it
/// would look up in its own identity system.
struct TeamApiKeys {
    operators: Vec<String>,
}

#[async_trait]
impl AdminAuthorizer for TeamApiKeys {
    async fn authorize(&self, request: &Parts) -> Result<(), ApiError> {
        let key = request.headers.get("x-team-api-key").and_then(|v| v.to_str().ok());
        match key {
            None => Err(ApiError::Unauthorized),
            Some(key) if self.operators.iter().any(|k| k == key) => Ok(()),
            Some(_) => Err(ApiError::Forbidden("this key may not manage the catalog".into())),
        }
    }
}

fn ensure(condition: bool, what: &str) -> Result<(), Box<dyn std::error::Error>> {
    if condition { Ok(()) } else { Err(what.into()) }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let adapters = MemoryAdapters::new();
    let shop = adapters.shop(env).gateway(Arc::new(MemoryPaymentGateway::new())).build()?;

    // The team's app: its own routes next to the shop's store, checkout and admin routers,
    // the admin ones behind the team's authentication. (The routers also mount one by one:
    // `store::router`, `checkout::router`, `admin::router`.)
    let authorizer = Arc::new(TeamApiKeys { operators: vec!["team-key-1".into()] });
    let routes = Router::new().route("/team/v1/hello", get(hello)).merge(commerce_http::shop_router(&shop, authorizer));
    let doc = ApiDoc::openapi().merge_from(TeamApi::openapi());
    let app = commerce_http::app(routes, OpsState::new(Arc::new(AlwaysReady)).with_openapi(doc), HttpConfig::default());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (shutdown, on_shutdown) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(commerce_http::serve(listener, app, async move {
        let _ = on_shutdown.await;
    }));

    let client = reqwest::Client::new();
    let hello = client.get(format!("{base}/team/v1/hello")).send().await?.text().await?;
    println!("own route: {hello}");

    let product =
        json!({"sku": "MUG-1", "name": "Mug", "price": {"amount": 1200, "currency": "EUR"}, "status": "active"});
    let anonymous = client.post(format!("{base}/admin/v1/products")).json(&product).send().await?;
    let wrong_key = client
        .post(format!("{base}/admin/v1/products"))
        .header("x-team-api-key", "guess")
        .json(&product)
        .send()
        .await?;
    println!("admin without a key: {}, with an unknown key: {}", anonymous.status(), wrong_key.status());
    ensure(anonymous.status() == StatusCode::UNAUTHORIZED, "no key is 401")?;
    ensure(wrong_key.status() == StatusCode::FORBIDDEN, "an unknown key is 403")?;

    let operator = |r: reqwest::RequestBuilder| r.header("x-team-api-key", "team-key-1");
    let created: Value =
        operator(client.post(format!("{base}/admin/v1/products"))).json(&product).send().await?.json().await?;
    let id = created["id"].as_str().ok_or("no product id")?.to_owned();
    let stock = operator(client.put(format!("{base}/admin/v1/products/{id}/stock")))
        .json(&json!({"on_hand": 10}))
        .send()
        .await?;
    ensure(stock.status() == StatusCode::OK, "the operator sets stock")?;
    adapters.sync().await?; // the event pipeline a service runs in a loop

    let listed: Value = client.get(format!("{base}/store/v1/products?q=mug")).send().await?.json().await?;
    println!("listed: {} at {} in stock", listed["items"][0]["name"], listed["items"][0]["available_stock"]);

    let order = json!({"email": "ada@example.com", "items": [{"product_id": id, "quantity": 2}],
                       "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
    let paid = client
        .post(format!("{base}/store/v1/checkout"))
        .header("Idempotency-Key", "embed-example-1")
        .json(&order)
        .send()
        .await?;
    ensure(paid.status() == StatusCode::CREATED, "the checkout pays")?;
    let paid: Value = paid.json().await?;
    println!("order {}: {} for {}", paid["id"], paid["status"], paid["total"]);

    let doc: Value = client.get(format!("{base}/openapi.json")).send().await?.json().await?;
    let paths = doc["paths"].as_object().ok_or("no paths in the document")?;
    ensure(paths.contains_key("/team/v1/hello") && paths.contains_key("/store/v1/checkout"), "one document")?;
    println!("openapi.json documents {} paths, the team's among them", paths.len());

    let _ = shutdown.send(());
    server.await??;
    Ok(())
}
