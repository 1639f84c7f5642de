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

/// The value of the hidden input `name` in `page`.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no hidden {name} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The checkout page of a shop on Stripe sends the card to Stripe with the publishable
/// key, as Stripe.js does, and posts only the PaymentMethod: the page says where and
/// lets its script reach Stripe's origin, and nothing else; the card never reaches the shop.
#[tokio::test]
async fn the_checkout_page_tokenises_cards_at_stripe_with_the_publishable_key() {
    let fake = commerce_stripe::fake::FakeStripe::new(KEY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stripe = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, commerce_stripe::fake::router(fake.clone())).into_future());
    let dir = fresh_data_dir();
    let flags = [
        "--stripe-secret-key",
        KEY,
        "--stripe-api-base",
        &stripe,
        "--stripe-publishable-key",
        "pk_test_commerce_api_0123",
    ];
    let mut app = spawn_app_with(&dir, &flags).await;
    app.owns_data_dir = true;
    let id = app.product("LAMP-1", 6400, 5, json!({})).await;
    app.eventually_stock(&id, 5).await;

    // The shopper's browser: a cart cookie, then the checkout page.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let added =
        browser.post(app.url("/cart")).form(&[("product_id", id.as_str()), ("quantity", "2")]).send().await.unwrap();
    let cart_cookie = added.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = browser.get(app.url("/checkout")).header("cookie", &cart_cookie).send().await.unwrap();
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains(&format!("connect-src 'self' {stripe};")), "{policy}");
    let page = page.text().await.unwrap();
    let tokenize =
        format!("data-tokenize-url=\"{stripe}/v1/payment_methods\" data-tokenize-key=\"pk_test_commerce_api_0123\"");
    assert!(page.contains(&tokenize), "{page}");

    // The page's script: the card to Stripe with the publishable key, no secret.
    let card = [
        ("key", "pk_test_commerce_api_0123"),
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2030"),
        ("card[cvc]", "123"),
    ];
    let made = browser
        .post(format!("{stripe}/v1/payment_methods"))
        .header("origin", app.url(""))
        .form(&card)
        .send()
        .await
        .unwrap();
    assert_eq!(made.headers()["access-control-allow-origin"], "*");
    let method: serde_json::Value = made.json().await.unwrap();
    let token = method["id"].as_str().unwrap().to_owned();
    let wrong_key = [("key", "pk_test_someone_else"), ("type", "card"), ("card[number]", "4242424242424242")];
    let refused = browser.post(format!("{stripe}/v1/payment_methods")).form(&wrong_key).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let form = [("key", hidden(&page, "key")), ("email", "ada@example.com".into()), ("payment_method", token)];
    let placed = browser.post(app.url("/checkout")).header("cookie", &cart_cookie).form(&form).send().await.unwrap();
    assert_eq!(placed.status(), StatusCode::SEE_OTHER, "{}", placed.text().await.unwrap());
    let status_page = placed.headers()["location"].to_str().unwrap().to_owned();
    let shown = browser.get(app.url(&status_page)).send().await.unwrap().text().await.unwrap();
    assert!(shown.contains("Order Confirmed"), "{shown}");
    assert_eq!((fake.counts().intents, fake.counts().captured), (1, 1));
    app.eventually_stock(&id, 3).await;
    app.stop().await;
}

/// Without the publishable key a shop on Stripe serves no checkout page: it could not take
/// a card without the card passing through it.
#[tokio::test]
async fn without_a_publishable_key_there_is_no_checkout_page() {
    let dir = fresh_data_dir();
    let mut app = spawn_app_with(&dir, &["--stripe-secret-key", KEY, "--stripe-api-base", "http://127.0.0.1:9"]).await;
    app.owns_data_dir = true;
    let page = app.client.get(app.url("/checkout")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
