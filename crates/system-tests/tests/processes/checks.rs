//! What the separate processes serve besides the APIs: the workers' probes and metrics,
//! and the web pages of each service.

use reqwest::{Client, StatusCode};
use serde_json::Value;

use super::{ADMIN, Deployment};
use commerce_system_tests::ShopClient;

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
            ][..],
        ),
        ("projector", &["commerce_projector_events_total", "commerce_projection_lag_seconds_bucket"][..]),
    ] {
        let base = &d.probes[label];
        assert_eq!(
            d.client.get(format!("{base}/readyz")).send().await.unwrap().status(),
            StatusCode::OK,
            "{label} ready"
        );
        let text = d.client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        for metric in wanted {
            assert!(text.contains(metric), "{label} reports {metric}: {text}");
        }
        let moved =
            text.lines().find(|l| l.starts_with(wanted[0])).and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
        assert!(moved.is_some_and(|n| n > 0.0), "{label} moved events: {text}");
    }
}

/// The pages of the split services, as a gateway puts them behind one origin: the
/// storefront's on storefront-api, checkout and order pages on orders-service, the console's
/// catalog half (sign-in) on catalog-api and its orders half on orders-service, which
/// accepts catalog-api's session (one credential).
pub(super) async fn web_pages(shop: &ShopClient, product: &str, order: &str) {
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
    assert!(checkout.contains("Desk lamp") && checkout.contains("data-tokenize-url=\"/simulator/v1/payment_methods\""));
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2030"),
        ("card[cvc]", "123"),
    ];
    let token = browser.post(format!("{}/simulator/v1/payment_methods", shop.orders)).form(&card).send().await.unwrap();
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
