//! The GraphQL storefront of the embedded shop: listings with stock, and the checkout
//! mutation answering the REST route's outcomes.

use serde_json::{Value, json};

use crate::spawn_app;

#[tokio::test]
async fn graphql_lists_products_with_stock() {
    let app = spawn_app().await;
    let id = app.product("MUG-1", 1200, 4, json!({"colour": "red"})).await;
    app.product("MUG-2", 800, 0, json!({"colour": "blue"})).await;
    let query = r"{ products(filter: {inStock: true}, sort: PRICE_ASC, first: 1) {
        edges { node { id name price { amount currency } availableStock attributes { name value } } }
        pageInfo { hasNextPage endCursor } }
        facets { attributes { name values { value count } } } }";
    let (_, r) = app.graphql(query).await;
    let edges = &r["data"]["products"]["edges"];
    assert_eq!(edges[0]["node"]["id"], id);
    assert_eq!(edges[0]["node"]["availableStock"], 4);
    assert_eq!(r["data"]["products"]["pageInfo"]["hasNextPage"], false);
    assert_eq!(r["data"]["facets"]["attributes"][0]["values"].as_array().unwrap().len(), 2);

    let (_, bad) = app.graphql("{ products(first: 0) { edges { node { id } } } }").await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(bad["errors"][0]["extensions"]["errors"][0]["field"], "first");
    let (_, ok) = app.graphql("{ products { edges { node { collection { id } } } } }").await;
    assert!(ok["errors"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn graphiql_is_served_whole_from_the_binary() {
    let app = spawn_app().await;
    let page = app.get("/store/graphql").await;
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self';") && csp.contains("connect-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("GraphiQL"));
    assert!(!html.contains("://"), "no other origin: {html}");
    assert!(!html.contains("<script>") && !html.contains("<style"), "no inline script or style");
    let assets: Vec<&str> = html.split(['"']).filter(|part| part.starts_with("/store/graphql/assets/")).collect();
    assert_eq!(assets.len(), 6, "{assets:?}");
    for asset in assets {
        let response = app.get(asset).await;
        assert_eq!(response.status(), 200, "{asset}");
        let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{asset}: {kind}");
        // The vendored files travel gzipped, as stored.
        let encoding = response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(encoding.as_deref(), asset.contains(".min.").then_some("gzip"), "{asset}");
        assert!(response.bytes().await.unwrap().len() > 50, "{asset}");
    }
    assert_eq!(app.get("/store/graphql/assets/nope.js").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn graphql_checkout_answers_the_rest_outcomes() {
    let app = spawn_app().await;
    let id = app.product("MUG-1", 1200, 4, json!({})).await;
    let checkout = |key: &str, quantity: u32, token: &str, email: &str| {
        format!(
            r#"mutation {{ checkout(idempotencyKey: "{key}", input: {{email: "{email}",
                items: [{{productId: "{id}", quantity: {quantity}}}], paymentMethod: "{token}"}}) {{
                outcome accessToken replayed declineCode nextAction {{ type url clientSecret }}
                order {{ id status total {{ amount currency }} cardBrand cardLast4 failure }} }} }}"#
        )
    };
    let (_, paid) = app.graphql(&checkout("gql-1", 2, "pm_card_visa", "ada@example.com")).await;
    let result = &paid["data"]["checkout"];
    assert_eq!(result["outcome"], "PAID", "{paid}");
    assert_eq!(result["order"]["total"], json!({"amount": 2400, "currency": "USD"}));
    assert_eq!(
        (result["order"]["cardBrand"].as_str(), result["order"]["cardLast4"].as_str()),
        (Some("visa"), Some("4242"))
    );
    let order = app
        .client
        .get(app.url(&format!("/store/v1/orders/{}", result["order"]["id"].as_str().unwrap())))
        .bearer_auth(result["accessToken"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(order.json::<Value>().await.unwrap()["status"], "paid", "the same order over REST");
    let (_, replay) = app.graphql(&checkout("gql-1", 2, "pm_card_visa", "ada@example.com")).await;
    assert_eq!(replay["data"]["checkout"]["replayed"], true);
    assert_eq!(replay["data"]["checkout"]["order"]["id"], result["order"]["id"]);

    let (_, declined) = app.graphql(&checkout("gql-2", 1, "pm_card_chargeDeclined", "ada@example.com")).await;
    let declined = &declined["data"]["checkout"];
    assert_eq!(
        (declined["outcome"].as_str(), declined["declineCode"].as_str()),
        (Some("PAYMENT_FAILED"), Some("card_declined"))
    );
    let (_, challenge) = app.graphql(&checkout("gql-3", 1, "pm_card_authenticationRequired", "ada@example.com")).await;
    let challenge = &challenge["data"]["checkout"];
    assert_eq!(challenge["outcome"], "ACTION_REQUIRED");
    assert_eq!(challenge["order"]["status"], "awaiting_customer_action");
    assert_eq!(challenge["nextAction"]["type"], "redirect_to_url");
    let (_, short) = app.graphql(&checkout("gql-4", 9, "pm_card_visa", "ada@example.com")).await;
    assert_eq!(short["data"]["checkout"]["outcome"], "OUT_OF_STOCK", "{short}");
    assert_eq!(short["data"]["checkout"]["order"]["failure"], "out_of_stock");

    let (_, invalid) = app.graphql(&checkout("gql-5", 1, "4242424242424242", "not-an-email")).await;
    assert_eq!(invalid["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let fields: Vec<&str> = invalid["errors"][0]["extensions"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["input.email", "input.paymentMethod"]);
    assert!(!invalid.to_string().contains("4242424242424242"), "a card number is never echoed: {invalid}");
    let twice = format!(
        "mutation {{ a: {} b: {} }}",
        checkout("gql-6", 1, "pm_card_visa", "ada@example.com").trim_start_matches("mutation {").trim_end_matches('}'),
        checkout("gql-7", 1, "pm_card_visa", "ada@example.com").trim_start_matches("mutation {").trim_end_matches('}'),
    );
    let (_, twice) = app.graphql(&twice).await;
    assert!(twice["data"].is_null(), "one checkout per request: {twice}");
    let (_, schema) = app.graphql("{ __schema { mutationType { fields { name } } } }").await;
    assert_eq!(schema["data"]["__schema"]["mutationType"]["fields"], json!([{"name": "checkout"}]));
    app.stop().await;
}
