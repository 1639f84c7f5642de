//! Shipping methods and tax rates (issue 15): the admin routes and the store's offers.

use commerce_system_tests::{fields, problem};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::spawn_app;

#[tokio::test]
async fn operators_set_up_shipping_methods_that_customers_see_priced_for_their_cart() {
    let app = spawn_app().await;
    let created = app
        .admin(
            Method::POST,
            "/admin/v1/shipping-methods",
            Some(json!({"name": "DHL Paket", "countries": ["DE", "AT"], "price": {"amount": 499, "currency": "EUR"},
                        "free_above": {"amount": 5000, "currency": "EUR"}})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let dhl: Value = created.json().await.unwrap();
    assert_eq!((dhl["active"].as_bool(), dhl["countries"].clone()), (Some(true), json!(["AT", "DE"])));
    let express = app
        .admin(
            Method::POST,
            "/admin/v1/shipping-methods",
            Some(json!({"name": "Express", "countries": ["DE"], "price": {"amount": 1500, "currency": "EUR"}})),
        )
        .await;
    assert_eq!(express.status(), StatusCode::CREATED);

    let offers = |query: &'static str| {
        let app = &app;
        async move { app.get(&format!("/store/v1/shipping-methods?{query}")).await.json::<Value>().await.unwrap() }
    };
    let de = offers("country=DE&subtotal=4999").await;
    assert_eq!(de["items"][0]["name"], "DHL Paket");
    assert_eq!(de["items"][0]["price"], json!({"amount": 499, "currency": "EUR"}));
    assert_eq!(de["items"][1]["price"]["amount"], 1500);
    let free = offers("country=DE&subtotal=5000").await;
    assert_eq!(free["items"][0]["price"]["amount"], 0, "free from the threshold on");
    assert_eq!(offers("country=AT").await["items"].as_array().unwrap().len(), 1);
    assert_eq!(offers("country=FR").await["items"], json!([]));
    let bad =
        problem(app.get("/store/v1/shipping-methods?country=XX&subtotal=-1").await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(fields(&bad), ["country", "subtotal"]);

    // Retired: no longer offered, still listed for operators.
    let patched = app.admin(Method::PATCH, &location, Some(json!({"active": false, "free_above": null}))).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!((patched["active"].as_bool(), patched["free_above"].is_null()), (Some(false), true));
    assert_eq!(offers("country=AT").await["items"], json!([]));
    let all: Value = app.admin(Method::GET, "/admin/v1/shipping-methods", None).await.json().await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    let invalid = app
        .admin(
            Method::POST,
            "/admin/v1/shipping-methods",
            Some(json!({"name": "", "countries": ["DE", "de"], "price": {"amount": 1, "currency": "EUR"},
                        "free_above": {"amount": 1, "currency": "USD"}})),
        )
        .await;
    let invalid = problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&invalid), ["name", "countries[1]", "free_above.currency"]);

    assert_eq!(app.admin(Method::DELETE, &location, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.admin(Method::GET, &location, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.admin(Method::DELETE, &location, None).await.status(), StatusCode::NOT_FOUND);
    let anonymous = app.client.get(app.url("/admin/v1/shipping-methods")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn one_tax_rate_per_country_and_collection() {
    let app = spawn_app().await;
    let books: Value = app
        .admin(Method::POST, "/admin/v1/collections", Some(json!({"slug": "books", "name": "Books"})))
        .await
        .json()
        .await
        .unwrap();
    let rate = |body: Value| app.admin(Method::POST, "/admin/v1/tax-rates", Some(body));
    let general = rate(json!({"country": "DE", "rate_bps": 1900})).await;
    assert_eq!(general.status(), StatusCode::CREATED);
    let general: Value = general.json().await.unwrap();
    assert_eq!((general["rate_bps"].as_u64(), general["collection_id"].is_null()), (Some(1900), true));
    let reduced = rate(json!({"country": "DE", "collection_id": books["id"], "rate_bps": 700})).await;
    assert_eq!(reduced.status(), StatusCode::CREATED);
    let again = rate(json!({"country": "DE", "rate_bps": 1600})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "one general rate per country");
    let invalid = problem(
        rate(json!({"country": "Germany", "collection_id": "01936b2e-1111-7000-8000-000000000001", "rate_bps": 10001}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&invalid), ["country", "rate_bps"]);
    let missing = problem(
        rate(json!({"country": "AT", "collection_id": "01936b2e-1111-7000-8000-000000000001", "rate_bps": 1000})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&missing), ["collection_id"], "the collection must exist");

    let all: Value = app.admin(Method::GET, "/admin/v1/tax-rates", None).await.json().await.unwrap();
    let rates: Vec<u64> = all["items"].as_array().unwrap().iter().map(|r| r["rate_bps"].as_u64().unwrap()).collect();
    assert_eq!(rates, [1900, 700], "general rate first");
    let path = format!("/admin/v1/tax-rates/{}", general["id"].as_str().unwrap());
    assert_eq!(app.admin(Method::GET, &path, None).await.status(), StatusCode::OK);
    assert_eq!(app.admin(Method::DELETE, &path, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.admin(Method::GET, &path, None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(rate(json!({"country": "DE", "rate_bps": 1600})).await.status(), StatusCode::CREATED);
    app.stop().await;
}

/// The whole order, as a customer and an operator go through it: shipping and tax at
/// checkout, then a partial shipment and the rest.
#[tokio::test]
async fn an_order_ships_with_tax_in_two_parcels() {
    let app = spawn_app().await;
    let mug = app.product("MUG-1", 1200, 10, json!({})).await;
    let method: Value = app
        .admin(
            Method::POST,
            "/admin/v1/shipping-methods",
            Some(json!({"name": "DHL Paket", "countries": ["DE"], "price": {"amount": 499, "currency": "USD"}})),
        )
        .await
        .json()
        .await
        .unwrap();
    let rate = app.admin(Method::POST, "/admin/v1/tax-rates", Some(json!({"country": "DE", "rate_bps": 1900}))).await;
    assert_eq!(rate.status(), StatusCode::CREATED);

    let body = |address: Value| {
        json!({"email": "ada@example.com", "items": [{"product_id": mug, "quantity": 3}], "payment_method": "pm_card_visa",
               "shipping_address": address, "shipping_method_id": method["id"]})
    };
    let address = json!({"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin",
                         "postal_code": "10117", "country": "DE"});
    let missing = problem(
        app.checkout(
            Some("ship-0"),
            &json!({"email": "ada@example.com", "items": [{"product_id": mug, "quantity": 1}],
                                             "payment_method": "pm_card_visa"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&missing), ["shipping_address"], "this shop ships: an address is required");
    let bad = problem(
        app.checkout(
            Some("ship-1"),
            &body(json!({"name": "Ada", "line1": "x", "city": "Berlin", "postal_code": "10;17", "country": "DX"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&bad), ["shipping_address.postal_code", "shipping_address.country"]);

    let paid = app.checkout(Some("ship-2"), &body(address)).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let order: Value = paid.json().await.unwrap();
    assert_eq!(order["subtotal"]["amount"], 3600);
    assert_eq!(order["shipping_total"]["amount"], 499);
    assert_eq!(order["tax_total"]["amount"], 684 + 95, "36.00 and 4.99 at 19 %");
    assert_eq!(order["total"]["amount"], 3600 + 499 + 779);
    assert_eq!(order["lines"][0]["tax"]["amount"], 684);
    assert_eq!(order["shipping_address"]["country"], "DE");
    assert_eq!(order["shipping_method"]["name"], "DHL Paket");

    let operator = &app;
    let ship = |quantity: u32| {
        let path = format!("/admin/v1/orders/{}/shipments", order["id"].as_str().unwrap());
        let lines = json!([{"product_id": mug, "quantity": quantity}]);
        async move {
            operator
                .admin(
                    Method::POST,
                    &path,
                    Some(json!({"lines": lines, "carrier": "DHL", "tracking_number": format!("0034-{quantity}"),
                            "tracking_url": "https://www.dhl.de/track"})),
                )
                .await
        }
    };
    let first = ship(2).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let too_many = problem(ship(2).await, StatusCode::CONFLICT).await;
    assert_eq!((too_many["requested"].as_u64(), too_many["remaining"].as_u64()), (Some(2), Some(1)));
    assert_eq!(ship(1).await.status(), StatusCode::CREATED);
    let path = format!("/admin/v1/orders/{}", order["id"].as_str().unwrap());
    let shipped: Value = app.admin(Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!(shipped["status"], "fulfilled");
    let tracking: Vec<&str> =
        shipped["shipments"].as_array().unwrap().iter().map(|s| s["tracking_number"].as_str().unwrap()).collect();
    assert_eq!(tracking, ["0034-2", "0034-1"]);
    let customer = app.customer_order(&order).await;
    assert_eq!(customer["shipments"].as_array().unwrap().len(), 2, "the customer sees the parcels");
    app.stop().await;
}
