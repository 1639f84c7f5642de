//! Cancellations and refunds (issue 15): the admin routes, over the embedded shop.

use commerce_system_tests::{cart, fields, problem};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::{App, spawn_app};

/// A paid order of `quantity` units of a new product with `stock` units; returns the
/// product id and the order.
async fn paid_order(app: &App, sku: &str, quantity: i64, stock: u64) -> (String, Value) {
    let product = app.product(sku, 1000, stock, json!({})).await;
    let paid = app.checkout(Some(&format!("buy-{sku}")), &cart(&product, quantity, "4242424242424242")).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    (product, paid.json().await.unwrap())
}

async fn on_hand(app: &App, product: &str) -> u64 {
    let stock: Value =
        app.admin(Method::GET, &format!("/admin/v1/products/{product}/stock"), None).await.json().await.unwrap();
    stock["on_hand"].as_u64().unwrap()
}

async fn refund(app: &App, order: &Value, key: Option<&str>, body: &Value) -> Response {
    let path = format!("/admin/v1/orders/{}/refunds", order["id"].as_str().unwrap());
    let mut request = app.shop.admin(Method::POST, &path).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn cancel(app: &App, order: &Value) -> Response {
    app.admin(Method::POST, &format!("/admin/v1/orders/{}/cancel", order["id"].as_str().unwrap()), None).await
}

#[tokio::test]
async fn a_cancelled_order_is_refunded_in_full_and_its_stock_returns() {
    let app = spawn_app().await;
    let (product, order) = paid_order(&app, "CANCEL-1", 2, 5).await;
    assert_eq!(on_hand(&app, &product).await, 3);

    let cancelled = cancel(&app, &order).await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["refunds"].as_array().unwrap().len(), 1);
    assert_eq!(cancelled["refunds"][0]["status"], "issued");
    assert_eq!(cancelled["refunds"][0]["amount"], order["total"]);
    assert_eq!(cancelled["refunds"][0]["stock_returned"], true);
    assert_eq!(cancelled["refunded_total"], order["total"]);
    assert_eq!(on_hand(&app, &product).await, 5, "the units are back");
    app.eventually_stock(&product, 5).await;

    let again: Value = cancel(&app, &order).await.json().await.unwrap();
    assert_eq!((again["status"].as_str(), again["refunds"].as_array().map(Vec::len)), (Some("cancelled"), Some(1)));
    assert_eq!(on_hand(&app, &product).await, 5, "asking again returns nothing twice");
    let late = refund(&app, &order, Some("late"), &json!({"amount": {"amount": 1, "currency": "USD"}})).await;
    problem(late, StatusCode::CONFLICT).await;

    let customer = app.customer_order(&order).await;
    assert_eq!(customer["refunds"][0]["status"], "issued", "the customer sees the refund");
    app.stop().await;
}

#[tokio::test]
async fn a_shipped_order_cannot_be_cancelled_but_is_refunded_by_line_and_amount() {
    let app = spawn_app().await;
    let (product, order) = paid_order(&app, "REFUND-1", 3, 10).await;
    let path = format!("/admin/v1/orders/{}/shipments", order["id"].as_str().unwrap());
    let shipment = json!({"lines": [{"product_id": product, "quantity": 1}], "carrier": "DHL", "tracking_number": "1"});
    assert_eq!(app.admin(Method::POST, &path, Some(shipment)).await.status(), StatusCode::CREATED);
    let refused = problem(cancel(&app, &order).await, StatusCode::CONFLICT).await;
    assert!(refused["detail"].as_str().unwrap().contains("shipments"), "{refused}");

    // One returned unit, back on the shelf.
    let by_line = json!({"lines": [{"product_id": product, "quantity": 1}], "restock": true});
    let first = refund(&app, &order, Some("return-1"), &by_line).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!((first["amount"]["amount"].as_i64(), first["status"].as_str()), (Some(1000), Some("issued")));
    assert_eq!(on_hand(&app, &product).await, 7 + 1);

    let retry = refund(&app, &order, Some("return-1"), &by_line).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(on_hand(&app, &product).await, 8, "a retry refunds and restocks nothing twice");
    let key_reused = refund(&app, &order, Some("return-1"), &json!({"amount": {"amount": 5, "currency": "USD"}})).await;
    assert_eq!(fields(&problem(key_reused, StatusCode::UNPROCESSABLE_ENTITY).await), ["Idempotency-Key"]);

    // More than is left, then exactly what is left.
    let too_much =
        refund(&app, &order, Some("goodwill-1"), &json!({"amount": {"amount": 2001, "currency": "USD"}})).await;
    let too_much = problem(too_much, StatusCode::CONFLICT).await;
    assert_eq!(too_much["refundable"]["amount"], 2000);
    let rest = refund(&app, &order, Some("goodwill-2"), &json!({"amount": {"amount": 2000, "currency": "USD"}})).await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    let nothing_left =
        refund(&app, &order, Some("goodwill-3"), &json!({"amount": {"amount": 1, "currency": "USD"}})).await;
    problem(nothing_left, StatusCode::CONFLICT).await;

    let after = app.admin_order(&order).await;
    assert_eq!(after["refunded_total"], order["total"]);
    assert_eq!(after["refunds"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_refunds_name_the_field() {
    let app = spawn_app().await;
    let (product, order) = paid_order(&app, "REFUND-2", 2, 10).await;
    let missing_key = refund(&app, &order, None, &json!({"amount": {"amount": 1, "currency": "USD"}})).await;
    assert_eq!(fields(&problem(missing_key, StatusCode::BAD_REQUEST).await), ["Idempotency-Key"]);
    for (body, field) in [
        (json!({}), "lines"),
        (json!({"lines": [{"product_id": product, "quantity": 0}]}), "lines[0].quantity"),
        (json!({"amount": {"amount": 0, "currency": "USD"}}), "amount.amount"),
        (json!({"amount": {"amount": 5, "currency": "EUR"}}), "amount.currency"),
        (json!({"amount": {"amount": 5, "currency": "USD"}, "restock": true}), "restock"),
    ] {
        let p = problem(refund(&app, &order, Some("bad"), &body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(fields(&p), [field], "{body}");
    }
    let too_many = refund(&app, &order, Some("k"), &json!({"lines": [{"product_id": product, "quantity": 3}]})).await;
    let too_many = problem(too_many, StatusCode::CONFLICT).await;
    assert_eq!((too_many["requested"].as_u64(), too_many["refundable"].as_u64()), (Some(3), Some(2)));
    let unknown = app.admin(Method::POST, "/admin/v1/orders/0190d0c0-0000-7000-8000-000000000000/cancel", None).await;
    problem(unknown, StatusCode::NOT_FOUND).await;
    let anonymous = app
        .client
        .post(app.url(&format!("/admin/v1/orders/{}/cancel", order["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

/// Operators refunding one order at once never refund more than was captured.
#[tokio::test]
async fn concurrent_refunds_stay_within_the_capture() {
    let app = spawn_app().await;
    let (_, order) = paid_order(&app, "REFUND-3", 2, 10).await;
    let each = json!({"amount": {"amount": 700, "currency": "USD"}});
    let answers = futures::future::join_all((0..8).map(|n| {
        let (app, order, each) = (&app, &order, &each);
        async move { refund(app, order, Some(&format!("race-{n}")), each).await.status() }
    }))
    .await;
    let created = answers.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = answers.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((created, refused), (2, 6), "20.00 fits two 7.00 refunds: {answers:?}");
    let after = app.admin_order(&order).await;
    assert_eq!(after["refunded_total"]["amount"], 1400);
    app.stop().await;
}
