//! Card payments through Stripe (issue 14), end to end: `orders-service` on PostgreSQL
//! configured with the Stripe adapter (`STRIPE_SECRET_KEY`, `STRIPE_API_BASE` pointing at
//! the Stripe fake, `STRIPE_WEBHOOK_SECRET`), products from `catalog-api`.
//!
//! - a PaymentMethod token pays: authorised, captured once, and the charge refundable;
//! - a 3-D Secure card parks the order in `awaiting_customer_action` until the signed
//!   webhook of the customer's answer arrives, then it completes;
//! - forged, stale and replayed webhooks are refused or recognised;
//! - a lost webhook delays an order until the recovery job polls Stripe, never strands it.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use clap::Parser as _;
use commerce_core::{
    Money, OrderId,
    money::Currency,
    order::PaymentState,
    payment::IdempotencyKey,
    ports::{OrderStore, PaymentGateway},
};
use commerce_postgres::{
    PgOrderStore,
    testing::{Databases, url_for},
};
use commerce_stripe::{
    StripeConfig, StripeGateway, StripeSecretKey,
    fake::FakeStripe,
    webhook::{WebhookSecret, sign},
};
use commerce_system_tests::{ShopClient, eventually, problem, process::listener};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "stripe-system-admin-token";
const KEY: &str = "sk_test_system_stripe_0123";
const WEBHOOK_SECRET: &str = "whsec_system_test_0123456789";

struct Stack {
    fake: Arc<FakeStripe>,
    stripe: String,
    client: ShopClient,
    orders_url: String,
    orders: PgOrderStore,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    servers: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dbs: Databases,
}

impl Stack {
    /// The fake, catalog-api and orders-service on a fresh database; orders-service's
    /// recovery job resumes orders unchanged for a second, every second.
    async fn start() -> Self {
        let fake = FakeStripe::new(KEY);
        let (l, stripe) = listener().await;
        let router = commerce_stripe::fake::router(fake.clone());
        tokio::spawn(async move { axum::serve(l, router).await });

        let dbs = Databases::new();
        let db = url_for(&dbs.fresh_name().await);
        let catalog = catalog_api::Cli::parse_from(["catalog-api", "--database-url", &db, "--admin-token", ADMIN]);
        catalog.db.migrate().await.unwrap();
        let orders = orders_service::Cli::parse_from([
            "orders-service",
            "--database-url",
            &db,
            "--idempotency-secret",
            "stripe-system-test-idempotency-secret-0123456789",
            "--stripe-secret-key",
            KEY,
            "--stripe-api-base",
            &stripe,
            "--stripe-webhook-secret",
            WEBHOOK_SECRET,
            "--resume-after-secs",
            "1",
            "--recovery-interval-secs",
            "1",
        ]);
        let (mut stops, mut servers) = (vec![], vec![]);
        let (l, catalog_url) = listener().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        servers.push(tokio::spawn(catalog_api::run(catalog, l, async move {
            let _ = stopped.await;
        })));
        stops.push(stop);
        let (l, orders_url) = listener().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        servers.push(tokio::spawn(orders_service::run(orders, l, async move {
            let _ = stopped.await;
        })));
        stops.push(stop);
        fake.send_webhooks_to(&format!("{orders_url}/webhooks/stripe"), WebhookSecret::parse(WEBHOOK_SECRET).unwrap());
        let client = ShopClient::split(&catalog_url, &catalog_url, &orders_url, ADMIN);
        for base in [&catalog_url, &orders_url] {
            eventually(10, || async {
                let r = client.http.get(format!("{base}/readyz")).send().await.map_err(|e| e.to_string())?;
                if r.status() == StatusCode::OK { Ok(()) } else { Err(r.status().to_string()) }
            })
            .await
            .unwrap();
        }
        let pool = sqlx::PgPool::connect(&db).await.unwrap();
        Self { fake, stripe, client, orders_url, orders: PgOrderStore::new(pool), stops, servers, dbs }
    }

    async fn checkout(&self, key: &str, product: &str, payment_method: &str) -> reqwest::Response {
        let body = json!({"email": "ada@example.com", "items": [{"product_id": product, "quantity": 1}],
                          "payment_method": payment_method});
        self.client.checkout(Some(key), &body).await
    }

    async fn order(&self, id: &str) -> commerce_core::order::Order {
        self.orders.get(id.parse::<OrderId>().unwrap()).await.unwrap().unwrap()
    }

    /// The PaymentIntent of an order waiting for its customer.
    async fn intent(&self, id: &str) -> String {
        match self.order(id).await.payment {
            PaymentState::ActionRequired { authorization_id, .. } => authorization_id.0,
            other => panic!("order {id} waits for no challenge: {other:?}"),
        }
    }

    async fn status(&self, id: &str, token: &str) -> String {
        let r = self.client.http.get(format!("{}/store/v1/orders/{id}", self.orders_url)).bearer_auth(token);
        let body: Value = r.send().await.unwrap().json().await.unwrap();
        body["status"].as_str().unwrap_or_default().to_owned()
    }

    /// (on hand, reserved), from the admin API.
    async fn stock(&self, product: &str) -> (u64, u64) {
        let r = self.client.admin(reqwest::Method::GET, &format!("/admin/v1/products/{product}/stock"));
        let body: Value = r.send().await.unwrap().json().await.unwrap();
        (body["on_hand"].as_u64().unwrap(), body["reserved"].as_u64().unwrap())
    }

    async fn webhook(&self, signature: &str, payload: &[u8]) -> reqwest::Response {
        self.client
            .http
            .post(format!("{}/webhooks/stripe", self.orders_url))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(payload.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn stop(self) {
        for stop in self.stops {
            let _ = stop.send(());
        }
        for server in self.servers {
            server.await.unwrap().unwrap();
        }
        self.dbs.cleanup().await;
    }
}

fn now() -> i64 {
    i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_pay_through_stripe_with_3d_secure_and_signed_webhooks() {
    let stack = Stack::start().await;
    let tee = stack.client.create_product("TEE-1", 1999, json!({})).await;
    assert!(stack.client.set_stock(&tee, 10).await.status().is_success());

    // A token pays: one PaymentIntent, captured once; its charge can be refunded.
    let paid = stack.checkout("stripe-visa", &tee, "pm_card_visa").await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let paid: Value = paid.json().await.unwrap();
    let counts = stack.fake.counts();
    assert_eq!((counts.intents, counts.captured), (1, 1));
    let PaymentState::Captured { capture_id, .. } = stack.order(paid["id"].as_str().unwrap()).await.payment else {
        panic!("a paid order is captured");
    };
    let mut config = StripeConfig::new(StripeSecretKey::parse(KEY).unwrap());
    config.api_base.clone_from(&stack.stripe);
    let stripe = StripeGateway::new(config).unwrap();
    let half = Money::new(999, Currency::USD).unwrap();
    stripe.refund(&IdempotencyKey("refund-1".into()), &capture_id, half).await.unwrap();
    stripe
        .refund(&IdempotencyKey("refund-2".into()), &capture_id, Money::new(1000, Currency::USD).unwrap())
        .await
        .unwrap();
    assert_eq!(stack.fake.counts().refunds, 2, "refunded in two parts");

    // A 3-D Secure card: the order waits for its customer, stock held, nothing captured.
    let waiting = stack.checkout("stripe-3ds", &tee, "pm_card_authenticationRequired").await;
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    let waiting: Value = waiting.json().await.unwrap();
    assert_eq!(waiting["status"], "awaiting_customer_action");
    assert_eq!(waiting["next_action"]["type"], "redirect_to_url");
    assert!(waiting["next_action"]["url"].as_str().unwrap().starts_with("https://"), "{waiting}");
    let (id, token) = (waiting["id"].as_str().unwrap(), waiting["access_token"].as_str().unwrap());
    let intent = stack.intent(id).await;
    assert_eq!(stack.status(id, token).await, "awaiting_customer_action");
    assert_eq!(stack.stock(&tee).await, (10 - 1, 1), "one unit sold, one held for the challenge");
    assert_eq!(stack.fake.counts().captured, 1);

    // The customer passes; Stripe's signed webhook wakes the order, which completes.
    assert!(stack.fake.complete_action(&intent, true).await);
    assert_eq!(stack.status(id, token).await, "paid", "completed by the webhook, before any recovery pass");
    assert_eq!(stack.fake.counts().captured, 2);

    // Forged, stale and replayed deliveries.
    let event =
        stack.fake.events().into_iter().find(|e| e["type"] == "payment_intent.amount_capturable_updated").unwrap();
    let payload = serde_json::to_vec(&event).unwrap();
    let someone_else = WebhookSecret::parse("whsec_not_the_shops_secret").unwrap();
    let forged =
        problem(stack.webhook(&sign(&someone_else, now(), &payload), &payload).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(forged["errors"][0]["field"], "Stripe-Signature", "{forged}");
    let secret = WebhookSecret::parse(WEBHOOK_SECRET).unwrap();
    let stale = stack.webhook(&sign(&secret, now() - 3600, &payload), &payload).await;
    assert_eq!(stale.status(), StatusCode::BAD_REQUEST, "a delivery captured an hour ago");
    let replayed = stack.webhook(&sign(&secret, now(), &payload), &payload).await;
    assert_eq!(replayed.status(), StatusCode::OK);
    assert_eq!(replayed.json::<Value>().await.unwrap()["outcome"], "duplicate");
    assert_eq!(stack.fake.counts().captured, 2, "nothing charged twice");

    // A lost webhook: the recovery job polls the intent and completes the order anyway.
    let lost = stack.checkout("stripe-3ds-lost", &tee, "pm_card_authenticationRequired").await;
    let lost: Value = lost.json().await.unwrap();
    let (id, token) = (lost["id"].as_str().unwrap(), lost["access_token"].as_str().unwrap());
    let intent = stack.intent(id).await;
    stack.fake.lose_next_webhooks(1);
    assert!(stack.fake.complete_action(&intent, true).await);
    eventually(30, || async {
        let status = stack.status(id, token).await;
        if status == "paid" { Ok(()) } else { Err(status) }
    })
    .await
    .unwrap();

    // A failed challenge: the webhook fails the order and releases its stock.
    let failed = stack.checkout("stripe-3ds-fail", &tee, "pm_card_authenticationRequired").await;
    let failed: Value = failed.json().await.unwrap();
    let (id, token) = (failed["id"].as_str().unwrap(), failed["access_token"].as_str().unwrap());
    let intent = stack.intent(id).await;
    assert!(stack.fake.complete_action(&intent, false).await);
    assert_eq!(stack.status(id, token).await, "payment_failed");
    assert!(!matches!(stack.order(id).await.payment, PaymentState::Captured { .. }));
    let counts = stack.fake.counts();
    assert_eq!((counts.intents, counts.captured), (4, 3), "three paid orders, each captured once");
    assert_eq!(stack.stock(&tee).await, (10 - 3, 0), "three sold, the failed order's unit released");
    stack.stop().await;
}
