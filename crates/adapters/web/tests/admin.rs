//! The admin console: nothing without a session, sign-in and sign-out, CSRF tokens on every
//! form, products created, edited (with field errors and the edit conflict), stocked and
//! archived, and orders fulfilled, as an operator's browser does it.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::ProductId;
use common::{ADMIN_TOKEN, Shopper, hidden, spawn_app};
use reqwest::StatusCode;

/// Signs `operator` in; returns the CSRF token of the session.
async fn sign_in(operator: &mut Shopper<'_>) -> String {
    let answer = operator.post("/admin/sign-in", &[("token", ADMIN_TOKEN.into())]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(operator.cookie.starts_with("admin_session=v1."), "{}", operator.cookie);
    let (status, page) = operator.get("/admin/products").await;
    assert_eq!(status, StatusCode::OK);
    hidden(&page, "csrf")
}

/// `shopper` buys `quantity` of `product` with the success test card; returns the order's
/// status page (with its token) and the order id.
async fn buy(shopper: &mut Shopper<'_>, product: ProductId, quantity: u32) -> (String, String) {
    shopper.post("/cart", &[("product_id", product.to_string()), ("quantity", quantity.to_string())]).await;
    let (_, checkout) = shopper.get("/checkout").await;
    let token = shopper.tokenize("4242424242424242").await;
    let form = [("key", hidden(&checkout, "key")), ("email", "ada@example.com".into()), ("payment_method", token)];
    let status_page = shopper.post("/checkout", &form).await.location.unwrap();
    let order_id = status_page.trim_start_matches("/orders/").split('?').next().unwrap().to_owned();
    (status_page, order_id)
}

fn product_form(csrf: &str, sku: &str, name: &str, price: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.into()),
        ("sku", sku.into()),
        ("name", name.into()),
        ("description", "Hand-thrown.".into()),
        ("price", price.into()),
        ("currency", "USD".into()),
        ("attributes", "colour=teal\nsize=L".into()),
        ("status", "active".into()),
    ]
}

#[tokio::test]
async fn no_admin_page_or_action_is_reachable_without_a_session() {
    let app = spawn_app().await;
    let id = app.product("Blue mug", 1250, 5, None, "blue").await;
    let mut stranger = Shopper::new(&app);
    for path in ["/admin/", "/admin/products", "/admin/products/new", &format!("/admin/products/{id}"), "/admin/orders"]
    {
        let answer = stranger.post_get(path).await;
        assert_eq!(
            (answer.status, answer.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/admin/sign-in")),
            "{path}"
        );
    }
    for path in [
        "/admin/products".to_owned(),
        format!("/admin/products/{id}"),
        format!("/admin/products/{id}/stock"),
        format!("/admin/products/{id}/archive"),
        "/admin/sign-out".into(),
    ] {
        let answer = stranger.post(&path, &[("csrf", "x".into()), ("on_hand", "0".into())]).await;
        assert_eq!(answer.location.as_deref(), Some("/admin/sign-in"), "POST {path}");
    }
    // A forged session is no session.
    stranger.cookie = "admin_session=v1.9999999999.nonce.c2lnbmF0dXJl".into();
    assert_eq!(stranger.post_get("/admin/products").await.location.as_deref(), Some("/admin/sign-in"));
    // A wrong token signs nobody in.
    let refused = stranger.post("/admin/sign-in", &[("token", "not-the-admin-token".into())]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("That is not the admin token."));
    assert_eq!(app.shop.stock.stock(id).await.unwrap().on_hand, 5, "nothing changed");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_strict_and_ends_at_sign_out() {
    let app = spawn_app().await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/admin/sign-in", app.base))
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin", "Max-Age=28800"] {
        assert!(cookie.contains(flag), "{flag}: {cookie}");
    }
    let mut operator = Shopper::new(&app);
    let csrf = sign_in(&mut operator).await;
    let forged = operator.post("/admin/sign-out", &[("csrf", "forged".into())]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "sign-out needs the CSRF token too");
    let out = operator.post("/admin/sign-out", &[("csrf", csrf)]).await;
    assert_eq!(out.location.as_deref(), Some("/admin/sign-in"));
    assert_eq!(operator.cookie, "admin_session=", "the cookie is removed");
    assert_eq!(operator.post_get("/admin/products").await.location.as_deref(), Some("/admin/sign-in"));
}

#[tokio::test]
async fn an_operator_creates_stocks_edits_and_archives_a_product() {
    let app = spawn_app().await;
    let mut operator = Shopper::new(&app);
    let csrf = sign_in(&mut operator).await;

    // Without the CSRF token: refused, nothing created.
    let forged = operator.post("/admin/products", &product_form("forged", "TEAL-1", "Teal mug", "14.50")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Bad fields are named beside their fields, the input kept.
    let bad = operator.post("/admin/products", &product_form(&csrf, "bad sku", "", "14.505")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"price-error\""), "{}", bad.body);
    assert!(bad.body.contains("value=\"bad sku\" required aria-invalid=\"true\" aria-describedby=\"sku-error\""));
    assert_eq!(app.shop.catalog.products(None, 10).await.unwrap().len(), 0);

    let created = operator.post("/admin/products", &product_form(&csrf, "TEAL-1", "Teal mug", "14.50")).await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let page = created.location.unwrap();
    let id = page.trim_start_matches("/admin/products/").split('?').next().unwrap().to_owned();
    let stocked =
        operator.post(&format!("/admin/products/{id}/stock"), &[("csrf", csrf.clone()), ("on_hand", "7".into())]).await;
    assert_eq!(stocked.status, StatusCode::SEE_OTHER);
    app.sync().await;
    let (_, shown) = app.get(&format!("/products/{id}")).await;
    assert!(shown.contains("Teal mug") && shown.contains("14.50 USD") && shown.contains("7 in stock"), "{shown}");

    // Two operators edit from the same version: the second is told and sees the current values.
    let (_, form) = operator.get(&format!("/admin/products/{id}")).await;
    let version = hidden(&form, "version");
    let mut first = product_form(&csrf, "TEAL-1", "Teal mug, large", "15.00");
    first.push(("version", version.clone()));
    assert_eq!(operator.post(&format!("/admin/products/{id}"), &first).await.status, StatusCode::SEE_OTHER);
    let mut second = product_form(&csrf, "TEAL-1", "Teal cup", "9.00");
    second.push(("version", version));
    let conflict = operator.post(&format!("/admin/products/{id}"), &second).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict.body.contains("changed by someone else"), "{}", conflict.body);
    assert!(conflict.body.contains("value=\"Teal mug, large\"") && conflict.body.contains("value=\"15.00\""));

    let archived = operator
        .post(
            &format!("/admin/products/{id}/archive"),
            &[("csrf", csrf), ("version", hidden(&conflict.body, "version"))],
        )
        .await;
    assert_eq!(archived.status, StatusCode::SEE_OTHER);
    app.sync().await;
    assert_eq!(app.get(&format!("/products/{id}")).await.0, StatusCode::NOT_FOUND, "gone from the storefront");

    // The console still finds it, by part of its name or SKU in any case.
    let (status, found) = operator.get("/admin/products?q=MUG%2C+L").await;
    assert_eq!(status, StatusCode::OK);
    assert!(found.contains("Teal mug, large") && found.contains("archived"), "{found}");
    let (_, none) = operator.get("/admin/products?q=teapot").await;
    assert!(!none.contains("Teal mug") && none.contains("No product matches."), "{none}");
    let (status, refused) = operator.get(&format!("/admin/products?q={}", "x".repeat(101))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains("id=\"q-error\"") && refused.contains("at most 100 characters"), "{refused}");
}

#[tokio::test]
async fn an_operator_fulfils_an_order_and_the_customer_sees_it_shipped() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    let (status_page, order_id) = buy(&mut ada, mug, 1).await;

    let mut operator = Shopper::new(&app);
    let csrf = sign_in(&mut operator).await;
    let (_, list) = operator.get("/admin/orders?status=paid").await;
    assert!(list.contains(&order_id) && list.contains("ada@example.com"), "{list}");
    let (_, none) = operator.get("/admin/orders?status=fulfilled").await;
    assert!(!none.contains(&order_id));
    let fulfilled = operator.post(&format!("/admin/orders/{order_id}/fulfil"), &[("csrf", csrf.clone())]).await;
    assert_eq!(fulfilled.status, StatusCode::SEE_OTHER, "{}", fulfilled.body);
    let again = operator.post(&format!("/admin/orders/{order_id}/fulfil"), &[("csrf", csrf)]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "nothing is left to ship");
    assert!(again.body.contains("Not done: ") && again.body.contains("fulfilled"), "{}", again.body);
    let (_, shown) = ada.get(&status_page).await;
    assert!(shown.contains("Order Shipped"), "{shown}");
}

#[tokio::test]
async fn an_operator_manages_collections() {
    let app = spawn_app().await;
    let mut operator = Shopper::new(&app);
    let csrf = sign_in(&mut operator).await;
    let form = |slug: &str, name: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("slug", slug.to_owned()),
            ("name", name.to_owned()),
            ("description", "Lit.".into()),
        ]
    };

    let bad = operator.post("/admin/collections", &form("Bad Slug!", "Lamps")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"slug-error\""), "{}", bad.body);
    let created = operator.post("/admin/collections", &form("lamps", "Lamps")).await;
    assert_eq!(created.location.as_deref(), Some("/admin/collections?saved=1"));
    let twice = operator.post("/admin/collections", &form("lamps", "Lamps again")).await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "one handle, one collection");

    let (_, list) = operator.get("/admin/collections").await;
    let id = list.split("/admin/collections/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let (_, edit) = operator.get(&format!("/admin/collections/{id}")).await;
    let version = hidden(&edit, "version");
    let mut first = form("lamps", "Lamps & lights");
    first.push(("version", version.clone()));
    assert_eq!(operator.post(&format!("/admin/collections/{id}"), &first).await.status, StatusCode::SEE_OTHER);
    let mut second = form("lamps", "Lanterns");
    second.push(("version", version));
    let conflict = operator.post(&format!("/admin/collections/{id}"), &second).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(conflict.body.contains("changed by someone else") && conflict.body.contains("Lamps &#38; lights"));

    // In use: refused; empty: deleted.
    app.product("Owl lamp", 6400, 3, Some(&id), "brass").await;
    let in_use = operator.post(&format!("/admin/collections/{id}/delete"), &[("csrf", csrf.clone())]).await;
    assert_eq!(in_use.status, StatusCode::CONFLICT);
    assert!(in_use.body.contains("Products are still in this collection"), "{}", in_use.body);
    let empty = app.collection("Empty").await;
    let deleted = operator.post(&format!("/admin/collections/{empty}/delete"), &[("csrf", csrf)]).await;
    assert_eq!(deleted.location.as_deref(), Some("/admin/collections?saved=1"));
    assert!(app.shop.catalog.collection(empty.parse().unwrap()).await.is_err());
}

#[tokio::test]
async fn an_operator_ships_a_parcel_with_its_tracking_number() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    let (status_page, order_id) = buy(&mut ada, mug, 2).await;

    let mut operator = Shopper::new(&app);
    let csrf = sign_in(&mut operator).await;
    let (_, page) = operator.get(&format!("/admin/orders/{order_id}")).await;
    assert!(page.contains(&format!("name=\"qty.{mug}\" inputmode=\"numeric\" value=\"2\"")), "{page}");
    let quantity_field = format!("qty.{mug}");
    let parcel = |carrier: &str| {
        vec![
            ("csrf", csrf.clone()),
            (quantity_field.as_str(), "1".to_owned()),
            ("carrier", carrier.to_owned()),
            ("tracking_number", "00340434161094042557".to_owned()),
            ("tracking_url", "https://www.dhl.de/track".to_owned()),
        ]
    };
    let refused = operator.post(&format!("/admin/orders/{order_id}/ship"), &parcel("")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"carrier-error\""), "{}", refused.body);
    let shipped = operator.post(&format!("/admin/orders/{order_id}/ship"), &parcel("DHL")).await;
    assert_eq!(shipped.status, StatusCode::SEE_OTHER, "{}", shipped.body);
    let (_, page) = operator.get(&format!("/admin/orders/{order_id}")).await;
    assert!(page.contains("partially_fulfilled") && page.contains("(1 to ship)"), "{page}");

    let (_, shown) = ada.get(&status_page).await;
    assert!(shown.contains("Order Partly shipped") && shown.contains("00340434161094042557"), "{shown}");
}

#[tokio::test]
async fn an_operator_refunds_part_of_an_order_once_per_form() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    app.sync().await;
    let mut ada = Shopper::new(&app);
    let (_, order_id) = buy(&mut ada, mug, 2).await;

    let mut operator = Shopper::new(&app);
    let csrf = sign_in(&mut operator).await;
    let (_, page) = operator.get(&format!("/admin/orders/{order_id}")).await;
    assert!(page.contains("Up to 25.00 USD can be refunded."), "{page}");
    let quantity_field = format!("refund.{mug}");
    let form = vec![
        ("csrf", csrf.clone()),
        ("key", hidden(&page, "key")),
        (quantity_field.as_str(), "1".to_owned()),
        ("restock", "true".to_owned()),
    ];
    for _ in 0..2 {
        let refunded = operator.post(&format!("/admin/orders/{order_id}/refunds"), &form).await;
        assert_eq!(refunded.status, StatusCode::SEE_OTHER, "{}", refunded.body);
    }
    let (_, page) = operator.get(&format!("/admin/orders/{order_id}")).await;
    assert!(page.contains("<dt>Refunded</dt><dd>12.50 USD</dd>"), "one refund for the form sent twice: {page}");
    assert_eq!(app.shop.stock.stock(mug).await.unwrap().available(), 4, "the unit is back in stock");

    let too_much = vec![("csrf", csrf), ("key", hidden(&page, "key")), ("amount", "20.00".to_owned())];
    let refused = operator.post(&format!("/admin/orders/{order_id}/refunds"), &too_much).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert!(refused.body.contains("No refund: "));
}
