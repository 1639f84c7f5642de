//! The documented routes behave as `docs/http.md` says.

use std::time::Duration;

use commerce_system_tests::{GOOD_CARD, cart, fields, problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{ADMIN, spawn_app};

#[tokio::test]
async fn admin_routes_require_the_token() {
    let app = spawn_app().await;
    let p = problem(app.get("/admin/v1/products").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(p["status"], 401);
    let wrong = app.client.get(app.url("/admin/v1/products")).bearer_auth("nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
    app.stop().await;
}

#[tokio::test]
async fn products_are_created_versioned_and_archived() {
    let app = spawn_app().await;
    let body = json!({"sku": "TEE-1", "name": "Tee", "price": {"amount": 1999, "currency": "USD"}, "status": "active"});
    let r = app.admin(reqwest::Method::POST, "/admin/v1/products", Some(body.clone())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let product: Value = r.json().await.unwrap();
    let id = product["id"].as_str().unwrap();
    assert_eq!(product["version"], 1);

    let dup = app.admin(reqwest::Method::POST, "/admin/v1/products", Some(body)).await;
    assert!(problem(dup, StatusCode::CONFLICT).await["detail"].as_str().unwrap().contains("TEE-1"));

    let bad = json!({"sku": "bad sku", "name": "", "price": {"amount": -1, "currency": "XXX"}});
    let p = problem(
        app.admin(reqwest::Method::POST, "/admin/v1/products", Some(bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["sku", "name", "price.currency"]);

    let patch = |if_match: &'static str, name: &'static str| {
        app.client
            .patch(app.url(&format!("/admin/v1/products/{id}")))
            .bearer_auth(ADMIN)
            .header("If-Match", if_match)
            .json(&json!({"name": name}))
    };
    let r = patch("\"1\"", "Better tee").send().await.unwrap();
    assert_eq!((r.status(), r.headers()["etag"].to_str().unwrap()), (StatusCode::OK, "\"2\""));
    let stale = patch("1", "Stale tee").send().await.unwrap();
    assert_eq!(problem(stale, StatusCode::PRECONDITION_FAILED).await["current_version"], 2);

    app.eventually_stock(id, 0).await;
    let r = app.admin(reqwest::Method::DELETE, &format!("/admin/v1/products/{id}"), None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "archived");
    for _ in 0..100 {
        if app.get(&format!("/store/v1/products/{id}")).await.status() == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    problem(app.get(&format!("/store/v1/products/{id}")).await, StatusCode::NOT_FOUND).await;
    problem(app.get("/store/v1/products/not-a-uuid").await, StatusCode::NOT_FOUND).await;

    // Operators still find it, by part of its name or SKU in any case.
    for (q, found) in [("BETTER", 1), ("ee-1", 1), ("mug", 0)] {
        let page: Value =
            app.admin(reqwest::Method::GET, &format!("/admin/v1/products?q={q}"), None).await.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().len(), found, "q={q}");
    }
    let p = problem(
        app.admin(reqwest::Method::GET, "/admin/v1/products?q=%20%20", None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["q"]);
    app.stop().await;
}

#[tokio::test]
async fn listings_filter_sort_and_page() {
    let app = spawn_app().await;
    let red_cheap = app.product("R-1", 500, 3, json!({"colour": "red"})).await;
    let red_dear = app.product("R-2", 900, 0, json!({"colour": "red"})).await;
    let blue = app.product("B-1", 700, 5, json!({"colour": "blue"})).await;
    let ids = |v: &Value| {
        v["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };

    let all: Value = app.get("/store/v1/products?sort=price_desc").await.json().await.unwrap();
    assert_eq!(ids(&all), [red_dear.clone(), blue.clone(), red_cheap.clone()]);
    let red: Value = app.get("/store/v1/products?attr.colour=red&sort=price_asc").await.json().await.unwrap();
    assert_eq!(ids(&red), [red_cheap.clone(), red_dear]);
    let in_stock: Value =
        app.get("/store/v1/products?in_stock=true&max_price=800&sort=stock_desc").await.json().await.unwrap();
    assert_eq!(ids(&in_stock), [blue.clone(), red_cheap.clone()]);
    assert_eq!(in_stock["items"][0]["available_stock"], 5);

    let page1: Value = app.get("/store/v1/products?sort=price_asc&limit=2").await.json().await.unwrap();
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value =
        app.get(&format!("/store/v1/products?sort=price_asc&limit=2&cursor={cursor}")).await.json().await.unwrap();
    assert_eq!([ids(&page1), ids(&page2)].concat().len(), 3);
    assert!(page2["next_cursor"].is_null());

    let p = problem(
        app.get(&format!("/store/v1/products?sort=name&cursor={cursor}")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&p), ["cursor"]);
    let p =
        problem(app.get("/store/v1/products?min_price=9&max_price=1&limit=0").await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(fields(&p), ["min_price", "limit"]);
    app.stop().await;
}

/// Store answers carry a validator and a short shared lifetime; a client (or a gateway's
/// cache) holding the current answer gets 304 without the body, and a change is a new tag.
/// Refusals are never marked cacheable.
#[tokio::test]
async fn store_answers_are_validated_and_revalidated_with_304() {
    let app = spawn_app().await;
    let id = app.product("LAMP-1", 4500, 2, json!({})).await;
    let path = format!("/store/v1/products/{id}");
    let first = app.get(&path).await;
    assert_eq!(first.headers()["cache-control"], "public, max-age=5");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");

    let again = app.client.get(app.url(&path)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert_eq!(again.bytes().await.unwrap().len(), 0);

    app.admin(reqwest::Method::PUT, &format!("/admin/v1/products/{id}/stock"), Some(json!({"on_hand": 7}))).await;
    app.eventually_stock(&id, 7).await;
    let changed = app.client.get(app.url(&path)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK, "a changed product is sent again");
    assert_ne!(changed.headers()["etag"], etag.as_str());

    let refused = app.get("/store/v1/products?limit=0").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.headers().get("cache-control").is_none() && refused.headers().get("etag").is_none());
    let listing = app.get("/store/v1/products").await;
    assert!(listing.headers().contains_key("etag"), "listings are validated too");
    app.stop().await;
}

#[tokio::test]
async fn checkout_pays_once_and_the_stock_goes_down() {
    let app = spawn_app().await;
    let id = app.product("TEE-1", 1999, 5, json!({})).await;
    let body = cart(&id, 2, GOOD_CARD);

    let r = app.checkout(Some("key-1"), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let order: Value = r.json().await.unwrap();
    assert_eq!((order["status"].as_str(), order["total"]["amount"].as_i64()), (Some("paid"), Some(3998)));
    assert_eq!(order["payment"], json!({"brand": "visa", "last4": "4242"}));
    assert!(!order.to_string().contains("4242 4242"), "the card number never comes back");
    app.eventually_stock(&id, 3).await;

    // The same key and body replays the response and charges nothing more.
    let replay = app.checkout(Some("key-1"), &body).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], order["id"]);
    let orders: Value = app.admin(reqwest::Method::GET, "/admin/v1/orders", None).await.json().await.unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 1);
    app.eventually_stock(&id, 3).await;

    // The same key with another body is refused.
    let other =
        problem(app.checkout(Some("key-1"), &cart(&id, 1, GOOD_CARD)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&other), ["Idempotency-Key"]);
    let missing = problem(app.checkout(None, &body).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(fields(&missing), ["Idempotency-Key"]);

    // The customer reads the order with its token; nobody else can.
    let token = order["access_token"].as_str().unwrap();
    let mine = app.client.get(app.url(&location)).bearer_auth(token).send().await.unwrap();
    assert_eq!(mine.status(), StatusCode::OK);
    assert!(mine.json::<Value>().await.unwrap().get("access_token").is_none());
    problem(app.get(&location).await, StatusCode::NOT_FOUND).await;
    problem(app.client.get(app.url(&location)).bearer_auth("guess").send().await.unwrap(), StatusCode::NOT_FOUND).await;

    // Operators count the replies: one paid, one replayed, one key reused.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for series in [
        r#"commerce_checkouts_total{outcome="paid"} 1"#,
        r#"commerce_checkouts_total{outcome="replayed"} 1"#,
        r#"commerce_checkouts_total{outcome="key_reused"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    app.stop().await;
}

#[tokio::test]
async fn declines_shortages_and_bad_input_charge_nothing() {
    let app = spawn_app().await;
    let id = app.product("TEE-1", 1999, 2, json!({})).await;

    let declined =
        problem(app.checkout(Some("d"), &cart(&id, 1, "4000 0000 0000 0002")).await, StatusCode::PAYMENT_REQUIRED)
            .await;
    assert_eq!(
        (declined["decline_code"].as_str(), declined["status"].as_str()),
        (Some("card_declined"), Some("payment_failed"))
    );
    let funds =
        problem(app.checkout(Some("f"), &cart(&id, 1, "4000 0000 0000 9995")).await, StatusCode::PAYMENT_REQUIRED)
            .await;
    assert_eq!(funds["decline_code"], "insufficient_funds");
    let processing =
        problem(app.checkout(Some("p"), &cart(&id, 1, "4000 0000 0000 0119")).await, StatusCode::PAYMENT_REQUIRED)
            .await;
    assert_eq!(processing["decline_code"], "processing_error");

    let short = problem(app.checkout(Some("s"), &cart(&id, 3, GOOD_CARD)).await, StatusCode::CONFLICT).await;
    assert_eq!((short["requested"].as_u64(), short["available"].as_u64()), (Some(3), Some(2)));

    let invalid = json!({"email": "x", "items": [{"product_id": id, "quantity": 0}],
                         "card": {"number": "4242 4242 4242 4241", "exp_month": 1, "exp_year": 2020, "cvc": "12"}});
    let p = problem(app.checkout(Some("i"), &invalid).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(fields(&p), ["email", "card.number", "card.exp_year", "card.cvc", "items[0].quantity"]);

    let not_json = app
        .client
        .post(app.url("/store/v1/checkout"))
        .header("Idempotency-Key", "n")
        .body("hello")
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let broken = app
        .client
        .post(app.url("/store/v1/checkout"))
        .header("Idempotency-Key", "b")
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    problem(broken, StatusCode::BAD_REQUEST).await;

    app.eventually_stock(&id, 2).await;
    let stock: Value =
        app.admin(reqwest::Method::GET, &format!("/admin/v1/products/{id}/stock"), None).await.json().await.unwrap();
    assert_eq!(stock, json!({"product_id": id, "on_hand": 2, "reserved": 0, "available": 2}));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for code in ["card_declined", "insufficient_funds", "processing_error"] {
        let series = format!("commerce_card_declines_total{{code=\"{code}\"}} 1");
        assert!(metrics.contains(&series), "{series} in {metrics}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_processor_token_pays_and_card_data_is_never_needed() {
    let app = spawn_app().await;
    let id = app.product("TEE-1", 1999, 5, json!({})).await;
    let paying = |payment: Value| {
        let mut body = json!({"email": "ada@example.com", "items": [{"product_id": id, "quantity": 1}]});
        body.as_object_mut().unwrap().extend(payment.as_object().unwrap().clone());
        body
    };

    let r = app.checkout(Some("token-1"), &paying(json!({"payment_method": "pm_card_visa"}))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(
        (order["status"].as_str(), &order["payment"]),
        (Some("paid"), &json!({"brand": "visa", "last4": "4242"}))
    );
    let declined = problem(
        app.checkout(Some("token-2"), &paying(json!({"payment_method": "pm_card_chargeDeclinedInsufficientFunds"})))
            .await,
        StatusCode::PAYMENT_REQUIRED,
    )
    .await;
    assert_eq!(declined["decline_code"], "insufficient_funds");

    let card = json!({"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123"});
    for (key, payment, field) in [
        ("both", json!({"payment_method": "pm_card_visa", "card": card}), "payment_method"),
        ("neither", json!({}), "payment_method"),
        ("number", json!({"payment_method": "4242424242424242"}), "payment_method"),
        ("unknown", json!({"payment_method": "pm_never_issued"}), "payment_method"),
    ] {
        let p = problem(app.checkout(Some(key), &paying(payment)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(fields(&p), [field], "{key}: {p}");
        assert!(!p.to_string().contains("4242"), "{key} echoed card data: {p}");
    }
    app.eventually_stock(&id, 4).await;
    app.stop().await;
}

#[tokio::test]
async fn card_values_are_never_echoed_in_errors_or_replays() {
    let app = spawn_app().await;
    let id = app.product("TEE-1", 1999, 2, json!({})).await;
    let card_fields =
        |card: Value| json!({"email": "ada@example.com", "items": [{"product_id": id, "quantity": 1}], "card": card});
    let bodies = [
        card_fields(json!({"number": 4_242_424_242_424_242_u64, "exp_month": 12, "exp_year": 2030, "cvc": "123"})),
        card_fields(json!({"number": "4242 4242 4242 4242", "exp_month": 4242, "exp_year": 2030, "cvc": "123"})),
        card_fields(json!({"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": 98_765})),
        card_fields(json!("4242424242424242")),
        json!("4242424242424242 12/30 123"),
    ];
    for (n, body) in bodies.iter().enumerate() {
        let r = app.checkout(Some(&format!("echo-{n}")), body).await;
        let text = r.text().await.unwrap();
        for secret in ["4242424242424242", "4242", "98765"] {
            assert!(!text.contains(secret), "body {n} echoed {secret}: {text}");
        }
        assert!(text.contains("\"status\":422"), "body {n}: {text}");
    }
    let luhn = problem(
        app.checkout(Some("luhn"), &cart(&id, 1, "4242 4242 4242 4241")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&luhn), ["card.number"]);
    assert!(!luhn.to_string().contains("4241"), "{luhn}");

    // Refused after the key was claimed (no such product): recorded without the card, replayed alike.
    let unknown = cart("00000000-0000-0000-0000-000000000000", 1, GOOD_CARD);
    let first = problem(app.checkout(Some("no-such-product"), &unknown).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let replay = app.checkout(Some("no-such-product"), &unknown).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay = problem(replay, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(first, replay);
    assert!(!replay.to_string().contains("4242 4242"), "{replay}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    problem(app.get("/nope").await, StatusCode::NOT_FOUND).await;
    problem(app.client.delete(app.url("/store/v1/products")).send().await.unwrap(), StatusCode::METHOD_NOT_ALLOWED)
        .await;
    let big = "x".repeat(100 * 1024);
    let r = app
        .client
        .post(app.url("/admin/v1/products"))
        .bearer_auth(ADMIN)
        .json(&json!({"sku": big}))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    let r = app
        .admin(reqwest::Method::POST, "/admin/v1/collections", Some(json!({"slug": "x", "name": "X", "extra": 1})))
        .await;
    assert!(problem(r, StatusCode::UNPROCESSABLE_ENTITY).await["detail"].as_str().unwrap().contains("extra"));
    app.stop().await;
}

#[tokio::test]
async fn collections_can_be_managed_and_are_listed_in_the_store() {
    let app = spawn_app().await;
    let r =
        app.admin(reqwest::Method::POST, "/admin/v1/collections", Some(json!({"slug": "tees", "name": "Tees"}))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let c: Value = r.json().await.unwrap();
    let cid = c["id"].as_str().unwrap();
    let body = json!({"sku": "T-1", "name": "Tee", "price": {"amount": 100, "currency": "USD"}, "collection_id": cid, "status": "active"});
    let p: Value = app.admin(reqwest::Method::POST, "/admin/v1/products", Some(body)).await.json().await.unwrap();
    app.eventually_stock(p["id"].as_str().unwrap(), 0).await;
    let store: Value =
        app.get(&format!("/store/v1/products/{}", p["id"].as_str().unwrap())).await.json().await.unwrap();
    assert_eq!(store["collection"], json!({"id": cid, "name": "Tees"}));
    let in_use = app.admin(reqwest::Method::DELETE, &format!("/admin/v1/collections/{cid}"), None).await;
    problem(in_use, StatusCode::CONFLICT).await;
    let r = app
        .admin(reqwest::Method::PATCH, &format!("/admin/v1/collections/{cid}"), Some(json!({"name": "T-shirts"})))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["version"], 2);
    let mut listed = Value::Null;
    for _ in 0..100 {
        listed = app.get("/store/v1/collections").await.json().await.unwrap();
        if listed["items"][0]["name"] == "T-shirts" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["name"], "T-shirts", "the rename reaches the store");
    app.stop().await;
}

#[tokio::test]
async fn ops_endpoints_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.json::<Value>().await.unwrap()["status"], "ok");
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    let r = app.get("/store/v1/products").await;
    assert!(r.headers().contains_key("x-request-id"));
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"commerce_http_requests_total{method="GET",route="/store/v1/products",status="200"} 1"#),
        "{metrics}"
    );
    app.stop().await;
}

/// The OpenAPI document validates with an independent validator (openapi-spec-validator from PyPI).
#[tokio::test]
async fn the_openapi_document_is_valid() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json").await.text().await.unwrap();
    let spec: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/store/v1/products",
        "/store/v1/checkout",
        "/store/v1/orders/{id}",
        "/admin/v1/products/{id}",
        "/admin/v1/products/{id}/stock",
        "/admin/v1/orders",
    ] {
        assert!(spec["paths"].get(path).is_some(), "{path} is documented");
    }
    // Links lead from what creates a resource to what uses it, and name real operations.
    let links = &spec["paths"]["/store/v1/checkout"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["GetOrder"]["operationId"], "store_get_order");
    assert_eq!(links["GetOrder"]["parameters"]["id"], "$response.body#/id");
    let operation_ids: Vec<&Value> = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values().map(|op| &op["operationId"]))
        .collect();
    let mut linked = 0;
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for response in op["responses"].as_object().into_iter().flat_map(|r| r.values()) {
                for link in response["links"].as_object().into_iter().flat_map(|l| l.values()) {
                    assert!(operation_ids.contains(&&link["operationId"]), "a link names a real operation: {link}");
                    linked += 1;
                }
            }
        }
    }
    assert!(linked >= 10, "{linked} links");
    let file = std::env::temp_dir().join(format!("commerce-openapi-{}.json", std::process::id()));
    std::fs::write(&file, doc).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 must be installed (scripts/test installs openapi-spec-validator)");
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    app.stop().await;
}
