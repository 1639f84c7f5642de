//! What the separate processes serve besides the APIs: the workers' probes and metrics,
//! one trace per checkout across them, and the web pages of each service.

use std::collections::BTreeSet;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::{ADMIN, Deployment};
use commerce_system_tests::{ShopClient, cart, ok_json};

/// The relay and the projector answer their probes and report what they moved: events
/// relayed, the outbox backlog, events projected and their lag.
pub(super) async fn worker_metrics(d: &Deployment) {
    for (label, wanted) in [
        (
            "relay",
            &[
                "commerce_outbox_relayed_events_total",
                "commerce_outbox_backlog_events",
                "commerce_outbox_oldest_pending_age_seconds",
                "commerce_dead_letters_parked",
                r#"commerce_db_pool_connections{pool="write",state="in_use"}"#,
                r#"commerce_db_pool_acquire_wait_seconds_count{pool="write"}"#,
            ][..],
        ),
        (
            "projector",
            &[
                "commerce_projector_events_total",
                "commerce_projection_lag_seconds_bucket",
                r"commerce_consumer_lag_messages{group=",
                r#"commerce_db_pool_connections{pool="read",state="idle"}"#,
            ][..],
        ),
    ] {
        let base = &d.probes[label];
        assert_eq!(
            d.client.get(format!("{base}/readyz")).send().await.unwrap().status(),
            StatusCode::OK,
            "{label} ready"
        );
        // Gauges refreshed every few seconds (the backlog, the consumer's lag) show soon.
        d.eventually(30, &format!("{label}'s metrics"), || {
            let (client, url) = (d.client.clone(), format!("{base}/metrics"));
            async move {
                let text =
                    client.get(url).send().await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
                if let Some(metric) = wanted.iter().find(|m| !text.contains(**m)) {
                    return Err(format!("no {metric} in {text}"));
                }
                let moved = text
                    .lines()
                    .find(|l| l.starts_with(wanted[0]))
                    .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
                if moved.is_some_and(|n| n > 0.0) { Ok(()) } else { Err(format!("moved no events: {text}")) }
            }
        })
        .await;
    }
}

/// A traced caller: the span a checkout's request names as its parent.
pub(super) struct Caller {
    trace_id: String,
    span_id: String,
}

impl Caller {
    pub(super) fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self { trace_id: id.clone(), span_id: id[..16].to_owned() }
    }

    pub(super) fn traceparent(&self) -> String {
        format!("00-{}-{}-01", self.trace_id, self.span_id)
    }
}

/// A checkout whose caller traces it (`Idempotency-Key: p-1`): the order, and the caller.
pub(super) async fn traced_checkout(shop: &ShopClient, body: &Value) -> (Value, Caller) {
    let caller = Caller::new();
    let order = shop
        .orders(Method::POST, "/store/v1/checkout")
        .header("Idempotency-Key", "p-1")
        .header("traceparent", caller.traceparent())
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(order.status(), StatusCode::CREATED);
    (order.json().await.unwrap(), caller)
}

/// One checkout is one trace: the spans with the caller's trace id come from the orders
/// service, the inventory service, the card processor, the relay and the projector, and
/// each hangs from the caller's span or from another span of the trace. The services'
/// log lines about it name the trace.
pub(super) async fn one_trace(d: &Deployment, caller: &Caller) {
    let wanted = ["orders-service", "inventory-service", "payments-simulator", "outbox-relay", "projector"];
    d.eventually(30, "the checkout's spans at the OTLP receiver", || {
        let spans: Vec<_> = d.otlp.spans().into_iter().filter(|s| s.trace_id == caller.trace_id).collect();
        let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        let orphans: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id != caller.span_id && !ids.contains(s.parent_span_id.as_str()))
            .map(|s| format!("{}/{}", s.service, s.name))
            .collect();
        let missing: Vec<_> = wanted.iter().filter(|w| !services.contains(*w)).collect();
        let outcome = if missing.is_empty() && orphans.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} spans from {services:?}; missing {missing:?}; no parent in the trace: {orphans:?}",
                spans.len()
            ))
        };
        async move { outcome }
    })
    .await;
    let log = std::fs::read_to_string(d.logs.join("orders.log")).unwrap();
    assert!(log.contains(&caller.trace_id), "orders-service's log lines name the trace");
    let log = std::fs::read_to_string(d.logs.join("payments.log")).unwrap();
    assert!(
        log.contains("PAYMENTS_LISTEN is an old name: set COMMERCE_LISTEN"),
        "the old name was read, with a warning"
    );
}

/// The pages of the split services, as a gateway puts them behind one origin: the
/// storefront's on storefront-api, checkout and order pages on orders-service, the console's
/// catalog half (sign-in) on catalog-api and its orders half on orders-service, which
/// accepts catalog-api's session (one credential).
pub(super) async fn web_pages(d: &Deployment, shop: &ShopClient, product: &str, order: &str) {
    let browser = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let listed = browser.get(format!("{}/products?q=lamp", shop.store)).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert!(listed.text().await.unwrap().contains("Desk lamp"), "the storefront's list page");

    let added = browser.post(format!("{}/cart", shop.store)).form(&[("product_id", product), ("quantity", "1")]);
    let added = added.send().await.unwrap();
    let cart_cookie = added.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let checkout =
        browser.get(format!("{}/checkout", shop.orders)).header("cookie", &cart_cookie).send().await.unwrap();
    assert_eq!(checkout.status(), StatusCode::OK);
    let checkout = checkout.text().await.unwrap();
    // The page's script sends the card to the processor, never to the shop.
    let tokenize = format!("{}/v1/payment_methods", d.payments);
    assert!(checkout.contains("Desk lamp") && checkout.contains(&format!("data-tokenize-url=\"{tokenize}\"")));
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2030"),
        ("card[cvc]", "123"),
    ];
    let token = browser.post(&tokenize).form(&card).send().await.unwrap();
    let token: Value = token.json().await.unwrap();
    assert!(token["id"].as_str().is_some_and(|t| t.starts_with("tok_")), "tokenised: {token}");

    let signed_out = browser.get(format!("{}/admin/orders", shop.orders)).send().await.unwrap();
    assert_eq!(signed_out.headers()["location"], "/admin/sign-in", "no console page without a session");
    let signed_in =
        browser.post(format!("{}/admin/sign-in", shop.catalog)).form(&[("token", ADMIN)]).send().await.unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = signed_in.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let products = browser.get(format!("{}/admin/products?q=LAMP-1", shop.catalog)).header("cookie", &session);
    assert!(products.send().await.unwrap().text().await.unwrap().contains("Desk lamp"), "the console's products");
    let orders = browser.get(format!("{}/admin/orders/{order}", shop.orders)).header("cookie", &session);
    let orders = orders.send().await.unwrap();
    assert_eq!(orders.status(), StatusCode::OK, "catalog-api's session is good at orders-service");
    assert!(orders.text().await.unwrap().contains(order));
}

type Check = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A check that `id`'s stock at the inventory is `on_hand` with `reserved` units held.
fn stock_is(shop: &ShopClient, id: &str, on_hand: u64, reserved: u64) -> impl FnMut() -> Check {
    let (shop, id) = (shop.clone(), id.to_owned());
    move || {
        let (shop, id) = (shop.clone(), id.clone());
        Box::pin(async move {
            let s = ok_json(shop.admin(Method::GET, &format!("/admin/v1/products/{id}/stock"))).await;
            if s["on_hand"] == json!(on_hand) && s["reserved"] == json!(reserved) {
                Ok(())
            } else {
                Err(format!("stock {s}"))
            }
        })
    }
}

/// A restock the inventory refuses (fewer units than a waiting checkout holds) is parked
/// by the inventory service on the broker's dead-letter topic, collected by the relay into
/// the database, found through catalog-api's admin API, and replayed once it can apply:
/// no one reads the broker by hand.
pub(super) async fn parked_restock_is_replayed(d: &Deployment, shop: &ShopClient) {
    let id = shop.create_product("PARK-1", 700, json!({})).await;
    assert_eq!(shop.set_stock(&id, 2).await.status(), StatusCode::ACCEPTED);
    d.eventually(30, "the first restock at the inventory", stock_is(shop, &id, 2, 0)).await;

    // A checkout waiting for its customer's 3-D Secure answer holds both units.
    let waiting = shop.checkout(Some("park-1"), &cart(&id, 2, "4000 0025 0000 3155")).await;
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    let waiting: Value = waiting.json().await.unwrap();
    let url = waiting["next_action"]["url"].as_str().unwrap();
    let authorization = url.rsplit('/').next().unwrap().to_owned();
    d.eventually(30, "the units held", stock_is(shop, &id, 2, 2)).await;

    // A restock to 1 is below the 2 units held: refused, parked, collected, listed.
    assert_eq!(shop.set_stock(&id, 1).await.status(), StatusCode::ACCEPTED);
    let letter = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
    d.eventually(60, "the refused restock among the dead letters", || {
        let (shop, id, letter) = (shop.clone(), id.clone(), letter.clone());
        async move {
            let list = ok_json(shop.admin(Method::GET, "/admin/v1/dead-letters")).await;
            let found = list["items"].as_array().and_then(|items| {
                items.iter().find(|l| l["aggregate_id"] == id.as_str() && l["event_type"] == "stock.set").cloned()
            });
            let found = found.ok_or(format!("not among {list}"))?;
            *letter.lock().unwrap() = found;
            Ok(())
        }
    })
    .await;
    let letter = letter.lock().unwrap().clone();
    assert!(letter["reason"].as_str().unwrap().contains("reserved"), "{letter}");
    let prefix = d.setting("KAFKA_TOPIC_PREFIX");
    assert!(letter["source"].as_str().unwrap().starts_with(&format!("{prefix}.restock/")), "{letter}");
    assert!(letter["consumer"].as_str().is_some_and(|c| !c.is_empty()), "{letter}");

    // The customer fails the challenge: the order gives the units back.
    let answered = d
        .client
        .post(format!("{}/v1/authorizations/{authorization}/challenge", d.payments))
        .json(&json!({"authenticated": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::NO_CONTENT);
    d.eventually(90, "the failed checkout's units released", stock_is(shop, &id, 2, 0)).await;

    // Replayed now, the restock applies; the letter is gone.
    let path = format!("/admin/v1/dead-letters/{}", letter["id"]);
    let replayed = shop.admin(Method::POST, &format!("{path}/replay")).send().await.unwrap();
    assert_eq!(replayed.status(), StatusCode::ACCEPTED);
    d.eventually(60, "the replayed restock at the inventory", stock_is(shop, &id, 1, 0)).await;
    assert_eq!(shop.admin(Method::GET, &path).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
