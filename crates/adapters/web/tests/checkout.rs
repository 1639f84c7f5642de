//! Buying through the pages: the cart to checkout, the card tokenised with the processor
//! (as the page's script does), the order placed once per form, and its status page.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use common::{Shopper, hidden, spawn_app};
use reqwest::StatusCode;

/// The checkout form's fields for Ada, paying with `token`, under the page's `key`.
fn details(key: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("key", key.to_owned()),
        ("email", "ada@example.com".into()),
        ("name", "Ada Lovelace".into()),
        ("line1", "12 St James's Square".into()),
        ("city", "London".into()),
        ("postal_code", "SW1Y 4JH".into()),
        ("country", "gb".into()),
        ("payment_method", token.to_owned()),
    ]
}

#[tokio::test]
async fn buying_two_with_a_test_card_confirms_the_order_and_takes_the_stock() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    ada.post("/cart", &[("product_id", mug.to_string()), ("quantity", "2".into())]).await;

    let (status, page) = ada.get("/checkout").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("2 × Blue mug") && page.contains("25.00 USD"), "{page}");
    assert!(!page.contains("name=\"card"), "card inputs are never posted to the shop");
    let key = hidden(&page, "key");
    let token = ada.tokenize("4242 4242 4242 4242").await;
    let placed = ada.post("/checkout", &details(&key, &token)).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.body);
    let order_page = placed.location.unwrap();
    assert!(order_page.starts_with("/orders/") && order_page.contains("?token="), "{order_page}");
    assert!(ada.cookie.ends_with("cart="), "the cart is emptied: {}", ada.cookie);

    let (status, page) = ada.get(&order_page).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Order Confirmed") && page.contains("25.00 USD") && page.contains("SW1Y 4JH London"));
    app.sync().await;
    let (_, product) = ada.get(&format!("/products/{mug}")).await;
    assert!(product.contains("Only 3 left"), "the stock went down by two");

    // The link works only with its token.
    let (status, _) = ada.get(&order_page.replace("?token=", "?token=x")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_declined_card_says_so_keeps_the_cart_and_charges_nothing() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    ada.post("/cart", &[("product_id", mug.to_string()), ("quantity", "2".into())]).await;
    let (_, page) = ada.get("/checkout").await;
    let key = hidden(&page, "key");
    let token = ada.tokenize("4000 0000 0000 0002").await;

    let refused = ada.post("/checkout", &details(&key, &token)).await;
    assert_eq!(refused.status, StatusCode::PAYMENT_REQUIRED);
    assert!(refused.body.contains("Your card was declined."), "{}", refused.body);
    assert!(refused.body.contains("value=\"Ada Lovelace\""), "the details stay filled in");
    assert_ne!(hidden(&refused.body, "key"), key, "a new attempt gets a new key");
    assert!(!ada.cookie.ends_with("cart="), "the cart is kept");
    app.sync().await;
    let (_, product) = ada.get(&format!("/products/{mug}")).await;
    assert!(product.contains("Only 5 left"), "the stock was released");

    // The same cart then goes through with a good card, under the new key.
    let token = ada.tokenize("4242424242424242").await;
    let placed = ada.post("/checkout", &details(&hidden(&refused.body, "key"), &token)).await;
    assert_eq!(placed.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_double_click_places_one_order() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 10, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    ada.post("/cart", &[("product_id", mug.to_string()), ("quantity", "2".into())]).await;
    let (_, page) = ada.get("/checkout").await;
    let form = details(&hidden(&page, "key"), &ada.tokenize("4242424242424242").await);

    let (mut first, mut second) = (Shopper::new(&app), Shopper::new(&app));
    first.cookie.clone_from(&ada.cookie);
    second.cookie.clone_from(&ada.cookie);
    let (a, b) = tokio::join!(first.post("/checkout", &form), second.post("/checkout", &form));
    assert_eq!((a.status, b.status), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER), "{} / {}", a.body, b.body);
    assert_eq!(a.location, b.location, "both clicks land on the same order");
    app.sync().await;
    let (_, product) = ada.get(&format!("/products/{mug}")).await;
    assert!(product.contains("8 in stock"), "two units sold, not four");
}

#[tokio::test]
async fn missing_details_are_named_next_to_their_fields() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    let (status, _) = ada.get("/checkout").await;
    assert_eq!(status, StatusCode::OK, "an empty cart is sent back to the cart page");
    ada.post("/cart", &[("product_id", mug.to_string())]).await;
    let (_, page) = ada.get("/checkout").await;

    let mut form = details(&hidden(&page, "key"), "");
    form.retain(|(k, _)| *k != "email");
    form.push(("email", "not-an-address".into()));
    let refused = ada.post("/checkout", &form).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("aria-invalid=\"true\" aria-describedby=\"email-error\""), "{}", refused.body);
    assert!(refused.body.contains("id=\"email-error\""));
    assert!(refused.body.contains("id=\"card-status\" class=\"field-error\" role=\"status\" aria-live=\"polite\">"));
}
