//! Every parser a client reaches, fed arbitrary input over HTTP (issue 12): listing query
//! strings, cursors, checkout and admin JSON (random bytes and random JSON shaped like the
//! real bodies), GraphQL arguments. The answer is never a server error: a panic would
//! be a 500 (caught by the middleware), an unmapped error a 500 or 503.

use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::{ADMIN, App, spawn_app};

/// Any JSON value, nested a few levels, with strings that include control characters,
/// bidirectional overrides, digits that look like cards, and long runs.
fn json_value() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        any::<String>(),
        "[0-9 ]{0,24}",
        "\\PC{0,8}[\u{202e}\u{0}\u{7f}\u{feff}]\\PC{0,8}",
        Just("x".repeat(70_000)),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<u64>().prop_map(Value::from),
        text.prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A body shaped like `template` (its keys), each value replaced by an arbitrary one or kept.
fn shaped_like(template: Value) -> impl Strategy<Value = Value> {
    let keys: Vec<String> = template.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    prop::collection::vec((any::<bool>(), json_value()), keys.len()).prop_map(move |values| {
        let mut body = template.clone();
        for (key, (keep, value)) in keys.iter().zip(values) {
            if !keep {
                body[key] = value;
            }
        }
        body
    })
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner.run(&strategy, test).unwrap();
}

/// Sends a request from inside a proptest case (which is synchronous).
fn send(app: &App, method: Method, path: &str, body: Option<Vec<u8>>, admin: bool) -> StatusCode {
    let mut request = app.client.request(method, app.url(path)).header("Idempotency-Key", "parsers");
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body);
    }
    if admin {
        request = request.bearer_auth(ADMIN);
    }
    let response = tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(request.send()));
    response.map_or_else(|e| panic!("{path}: no answer ({e}): the server died?"), |r| r.status())
}

fn no_server_error(status: StatusCode, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{what}: {status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_input_never_gets_a_server_error() {
    let app = spawn_app().await;
    let product = app.product("PARSE-1", 500, 10, json!({"colour": "red"})).await;

    // Listing query strings and cursors: raw bytes, percent-encoded.
    let encode = |raw: &[u8]| {
        use std::fmt::Write as _;
        raw.iter().fold(String::new(), |mut out, b| {
            let _ = write!(out, "%{b:02X}");
            out
        })
    };
    run(128, prop::collection::vec(("[a-z_.]{1,12}", prop::collection::vec(any::<u8>(), 0..40)), 0..8), |pairs| {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        no_server_error(
            send(&app, Method::GET, &format!("/store/v1/products?{}", query.join("&")), None, false),
            "listing",
        )
    });
    run(128, prop::collection::vec(any::<u8>(), 0..200), |raw| {
        let path = format!("/store/v1/products?sort=name&cursor={}", encode(&raw));
        no_server_error(send(&app, Method::GET, &path, None, false), "cursor")
    });

    // Checkout: random bytes, then random JSON shaped like a checkout.
    run(64, prop::collection::vec(any::<u8>(), 0..300), |raw| {
        no_server_error(send(&app, Method::POST, "/store/v1/checkout", Some(raw), false), "checkout bytes")
    });
    let checkout = json!({"email": "a@example.com", "items": [{"product_id": product, "quantity": 1}],
                          "card": {"number": "4000 0000 0000 0002", "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
    run(128, shaped_like(checkout), |body| {
        let bytes = serde_json::to_vec(&body).unwrap();
        no_server_error(send(&app, Method::POST, "/store/v1/checkout", Some(bytes), false), "checkout JSON")
    });

    // Admin bodies: products, collections, stock.
    let create = json!({"sku": "P-1", "name": "P", "description": "", "price": {"amount": 100, "currency": "USD"},
                        "attributes": {"colour": "red"}, "status": "draft", "collection_id": null});
    run(128, shaped_like(create), |body| {
        let bytes = serde_json::to_vec(&body).unwrap();
        no_server_error(send(&app, Method::POST, "/admin/v1/products", Some(bytes), true), "create product")
    });
    run(64, shaped_like(json!({"name": "x", "price": {"amount": 1, "currency": "EUR"}, "status": "active"})), |body| {
        let bytes = serde_json::to_vec(&body).unwrap();
        no_server_error(send(&app, Method::PATCH, &format!("/admin/v1/products/{product}"), Some(bytes), true), "patch")
    });
    run(64, shaped_like(json!({"slug": "s", "name": "S", "description": ""})), |body| {
        let bytes = serde_json::to_vec(&body).unwrap();
        no_server_error(send(&app, Method::POST, "/admin/v1/collections", Some(bytes), true), "collection")
    });
    run(64, shaped_like(json!({"on_hand": 5})), |body| {
        let bytes = serde_json::to_vec(&body).unwrap();
        let path = format!("/admin/v1/products/{product}/stock");
        no_server_error(send(&app, Method::PUT, &path, Some(bytes), true), "stock")
    });

    // GraphQL arguments: arbitrary values for every argument, as variables.
    let query = "query($f: ProductFilter, $s: ProductSort, $n: Int, $a: String, $id: ID!) {
        products(filter: $f, sort: $s, first: $n, after: $a) { edges { cursor node { id } } }
        facets(filter: $f) { collections { count } }
        product(id: $id) { id } }";
    run(128, (json_value(), json_value(), json_value(), json_value(), json_value()), |(f, s, n, a, id)| {
        let body = json!({"query": query, "variables": {"f": f, "s": s, "n": n, "a": a, "id": id}});
        let bytes = serde_json::to_vec(&body).unwrap();
        no_server_error(send(&app, Method::POST, "/store/graphql", Some(bytes), false), "graphql")
    });
    app.stop().await;
}
