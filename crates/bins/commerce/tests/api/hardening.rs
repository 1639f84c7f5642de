//! Regression tests of the security review's denial-of-service findings (issue 12):
//! each one failed before its fix.

use commerce_system_tests::{fields, problem};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::spawn_app;

#[tokio::test]
async fn graphql_bodies_obey_the_body_limit() {
    let app = spawn_app().await;
    // A valid query padded with a comment past the 64 KiB limit.
    let padded = format!("{{ collections {{ id }} }}\n#{}", "x".repeat(100 * 1024));
    let r = app.client.post(app.url("/store/graphql")).json(&json!({ "query": padded })).send().await.unwrap();
    let p = problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(p["status"], 413);

    // Streamed without a Content-Length, the limit still holds.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        std::iter::once(Ok(br#"{"query": "{ collections { id } }", "x": ""#.to_vec()))
            .chain((0..64).map(|_| Ok(vec![b'y'; 16 * 1024])))
            .chain(std::iter::once(Ok(br#""}"#.to_vec())))
            .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let r = app
        .client
        .post(app.url("/store/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;

    // Under the limit, queries still run.
    let (status, ok) = app.graphql("{ collections { id } }").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ok["errors"].is_null(), "{ok}");
    app.stop().await;
}

#[tokio::test]
async fn graphql_aliases_cannot_multiply_expensive_fields() {
    let app = spawn_app().await;
    let many = |field: &str, n: usize| {
        let aliases: Vec<String> = (0..n).map(|i| format!("a{i}: {field}")).collect();
        format!("{{ {} }}", aliases.join(" "))
    };
    for query in [
        many("facets { collections { count } }", 600),
        many("products(first: 1) { edges { cursor } }", 1_000),
        many("facets { collections { count } }", 5),
        // Fragments do not hide root fields from the count.
        format!("{{ ...F }} fragment F on QueryRoot {{ {} }}", many("collections { id }", 50).trim_matches(['{', '}'])),
    ] {
        let (_, r) = app.graphql(&query).await;
        assert!(
            r["data"].is_null(),
            "refused before any resolver runs: {}",
            &r.to_string()[..200.min(r.to_string().len())]
        );
        let message = r["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("complex") || message.contains("root fields"), "{message}");
    }
    // An ordinary page: a listing, its facets and the collections.
    let (_, ok) = app.graphql("{ products(first: 20) { edges { node { id name } } } facets { collections { count } } collections { id } }",
    )
    .await;
    assert!(ok["errors"].is_null(), "{ok}");
    app.stop().await;
}

#[tokio::test]
async fn attribute_filters_are_capped() {
    let app = spawn_app().await;
    let query: Vec<String> = (0..33).map(|i| format!("attr.a{i}=x")).collect();
    let p =
        problem(app.get(&format!("/store/v1/products?{}", query.join("&"))).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(fields(&p), ["attr"], "one error, not one per filter: {p}");
    let at_cap: Vec<String> = (0..32).map(|i| format!("attr.a{i}=x")).collect();
    assert_eq!(app.get(&format!("/store/v1/products?{}", at_cap.join("&"))).await.status(), StatusCode::OK);

    let filters: Vec<String> = (0..33).map(|i| format!("{{name: \"a{i}\", value: \"x\"}}")).collect();
    let (_, r) = app
        .graphql(&format!("{{ products(filter: {{attributes: [{}]}}) {{ edges {{ cursor }} }} }}", filters.join(",")))
        .await;
    assert_eq!(r["errors"][0]["extensions"]["errors"][0]["field"], "filter.attributes", "{r}");
    app.stop().await;
}

#[tokio::test]
async fn metric_labels_come_from_known_sets() {
    let app = spawn_app().await;
    for i in 0..5 {
        let method = reqwest::Method::from_bytes(format!("RANDOM{i}").as_bytes()).unwrap();
        app.client.request(method, app.url("/store/v1/products")).send().await.unwrap();
        app.client.get(app.url(&format!("/no/such/route/{i}"))).send().await.unwrap();
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("RANDOM"), "{metrics}");
    assert!(!metrics.contains("/no/such"), "{metrics}");
    assert!(
        metrics.contains(r#"commerce_http_requests_total{method="other",route="/store/v1/products",status="405"} 5"#),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn tampered_cursors_are_invalid_input() {
    use base64::Engine as _;
    let app = spawn_app().await;
    let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    let nil = "00000000-0000-0000-0000-000000000000";
    for cursor in [
        encode(&format!(r#"{{"s":"name","k":{{"Name":"a\u0000b"}},"i":"{nil}"}}"#)),
        encode(&format!(r#"{{"s":"name","k":{{"Name":"{}"}},"i":"{nil}"}}"#, "x".repeat(5_000))),
        encode(r#"{"s":"name"}"#),
        "%00".into(),
    ] {
        let p = problem(
            app.get(&format!("/store/v1/products?sort=name&cursor={cursor}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(fields(&p), ["cursor"]);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_full_page_of_orders_links_to_the_next() {
    let app = spawn_app().await;
    let id = app.product("MUG-1", 500, 200, json!({})).await;
    for i in 0..101 {
        let r = app
            .checkout(
                Some(&format!("page-{i}")),
                &commerce_system_tests::cart(&id, 1, commerce_system_tests::GOOD_CARD),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let page: Value = app.admin(reqwest::Method::GET, "/admin/v1/orders?limit=100", None).await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 100);
    let next = page["next_cursor"].as_str().expect("a cursor to the 101st order");
    let rest: Value = app
        .admin(reqwest::Method::GET, &format!("/admin/v1/orders?limit=100&cursor={next}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    app.stop().await;
}
