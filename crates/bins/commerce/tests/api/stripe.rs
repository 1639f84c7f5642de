//! The shop on Stripe (`STRIPE_SECRET_KEY`, `STRIPE_API_BASE`), against the Stripe fake:
//! checkouts pay with a PaymentMethod token, and card details are refused.

use commerce_system_tests::{fields, problem};
use reqwest::StatusCode;
use serde_json::json;

use crate::{fresh_data_dir, spawn_app_with};

const KEY: &str = "sk_test_commerce_api_0123";

#[tokio::test]
async fn a_shop_on_stripe_takes_tokens_and_refuses_card_numbers() {
    let fake = commerce_stripe::fake::FakeStripe::new(KEY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stripe = format!("http://{}", listener.local_addr().unwrap());
    let router = commerce_stripe::fake::router(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let dir = fresh_data_dir();
    let mut app = spawn_app_with(&dir, &["--stripe-secret-key", KEY, "--stripe-api-base", &stripe]).await;
    app.owns_data_dir = true;
    let id = app.product("TEE-1", 1999, 5, json!({})).await;
    let body = |payment: serde_json::Value| {
        let mut body = json!({"email": "ada@example.com", "items": [{"product_id": id, "quantity": 2}]});
        body.as_object_mut().unwrap().extend(payment.as_object().unwrap().clone());
        body
    };

    let paid = app.checkout(Some("stripe-1"), &body(json!({"payment_method": "pm_card_visa"}))).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let order: serde_json::Value = paid.json().await.unwrap();
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"], json!({"brand": "visa", "last4": "4242"}));
    let counts = fake.counts();
    assert_eq!((counts.intents, counts.captured), (1, 1), "one PaymentIntent, captured once");

    // A retry of the same checkout replays it: Stripe is not called again.
    let replay = app.checkout(Some("stripe-1"), &body(json!({"payment_method": "pm_card_visa"}))).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(fake.counts().intents, 1);

    let declined = problem(
        app.checkout(Some("stripe-2"), &body(json!({"payment_method": "pm_card_chargeDeclined"}))).await,
        StatusCode::PAYMENT_REQUIRED,
    )
    .await;
    assert_eq!(declined["decline_code"], "card_declined");

    let card = json!({"card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}});
    let refused = problem(app.checkout(Some("stripe-3"), &body(card)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&refused), ["card"]);
    assert!(!refused.to_string().contains("4242"), "{refused}");
    assert_eq!(fake.counts().intents, 2, "card details never reach Stripe");
    app.eventually_stock(&id, 3).await;
    app.stop().await;
}
