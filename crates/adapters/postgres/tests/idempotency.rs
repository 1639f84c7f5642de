//! Idempotent checkout on PostgreSQL: what the idempotency keys table holds, and keys
//! recorded before outcomes were stored.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use commerce_core::{
    idempotency::ClientKey,
    order::OrderStatus,
    payment::CardInput,
    ports::{IdempotencyClaim, IdempotencyStore, InventoryStore, ProductStore},
    services::{
        Env,
        checkout::{CheckoutError, CheckoutInput, CheckoutItemInput, CheckoutService, IdempotentCheckout, SagaRunner},
        idempotency::IdempotencyService,
        inventory::InventoryService,
    },
    testkit::{
        fixed::{ManualClock, SequentialIds, idempotency_secret},
        strategies, units,
    },
};
use commerce_memory::MemoryPaymentGateway;
use commerce_postgres::{
    PgCatalogStore, PgIdempotencyStore, PgInventoryStore, PgOrderStore, PgPool, migrate_write, testing::Databases,
};
use sqlx::{Connection, Executor};

const CARD: &str = "4242424242424242";

fn checkout(pool: &PgPool, env: &Env) -> IdempotentCheckout {
    let orders = Arc::new(PgOrderStore::new(pool.clone()));
    let inventory =
        InventoryService::with_transactional_events(Arc::new(PgInventoryStore::new(pool.clone())), env.clone());
    let gateway = Arc::new(MemoryPaymentGateway::new());
    let runner = SagaRunner::new(orders.clone(), inventory, gateway.clone(), env.clone(), 900);
    let products = Arc::new(PgCatalogStore::new(pool.clone()));
    let service = CheckoutService::new(products, orders, gateway, runner, env.clone());
    let keys = IdempotencyService::new(
        Arc::new(PgIdempotencyStore::new(pool.clone())),
        idempotency_secret(),
        env.clock.clone(),
    );
    IdempotentCheckout::new(service, keys)
}

fn input(product: &str, card: &str) -> CheckoutInput {
    CheckoutInput {
        email: "ada@example.com".into(),
        items: vec![CheckoutItemInput { product_id: product.into(), quantity: 1 }],
        card: Some(CardInput { number: card.into(), exp_month: 12, exp_year: 2030, cvc: "987".into() }),
        payment_method: None,
        shipping_address: None,
        shipping_method_id: None,
    }
}

#[tokio::test]
async fn card_data_and_raw_keys_never_reach_the_database() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let clock = Arc::new(ManualClock::default());
    let env = Env::new(clock.clone(), Arc::new(SequentialIds::new()));
    let shop = checkout(&pool, &env);
    let catalog = PgCatalogStore::new(pool.clone());
    let price = commerce_core::Money::new(1999, commerce_core::Currency::USD).unwrap();
    let product =
        strategies::product(commerce_core::ProductId::from_uuid(uuid::Uuid::from_u128(7)), 1, price, clock_now(&clock));
    catalog.insert_product(&product, &[]).await.unwrap();
    PgInventoryStore::new(pool.clone()).set_on_hand(product.id, units(5)).await.unwrap();

    // Paid, declined, and refused by a rule that needs the catalog (an unknown product).
    let paid = shop.place_order(&key("secret-key-paid"), &input(&product.id.to_string(), CARD)).await;
    assert_eq!(paid.result.unwrap().order.status, OrderStatus::Paid);
    let declined =
        shop.place_order(&key("secret-key-declined"), &input(&product.id.to_string(), "4000000000000002")).await;
    assert_eq!(declined.result.unwrap().order.status, OrderStatus::PaymentFailed);
    let unknown = uuid::Uuid::from_u128(99).to_string();
    let refused = shop.place_order(&key("secret-key-refused"), &input(&unknown, CARD)).await;
    assert!(matches!(refused.result, Err(CheckoutError::Validation(_))));
    let replay = shop.place_order(&key("secret-key-refused"), &input(&unknown, CARD)).await;
    assert!(replay.replayed && matches!(replay.result, Err(CheckoutError::Validation(_))));

    let dump: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws(' ', key, request_hash, outcome::text) FROM commerce.idempotency_keys
         UNION ALL SELECT body::text FROM commerce.orders
         UNION ALL SELECT envelope::text FROM commerce.outbox",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(dump.len() >= 3, "{dump:?}");
    for row in &dump {
        assert!(!row.contains(CARD) && !row.contains("4000000000000002"), "a card number was stored: {row}");
        assert!(!row.contains("secret-key"), "a raw idempotency key was stored: {row}");
        assert!(!row.contains("\"exp_") && !row.contains("cvc"), "card fields were stored: {row}");
    }
    dbs.cleanup().await;
}

fn key(raw: &str) -> ClientKey {
    ClientKey::parse(raw).unwrap()
}

fn clock_now(clock: &ManualClock) -> commerce_core::Timestamp {
    commerce_core::ports::Clock::now(clock)
}

#[tokio::test]
async fn keys_recorded_before_outcomes_were_stored_never_run_again() {
    let dbs = Databases::new();
    let name = dbs.fresh_name().await;
    let url = commerce_postgres::testing::url_for(&name);
    // The schema as the previous release left it, with a completed and an abandoned key.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    conn.execute(include_str!("../migrations/write/1001_write_model.sql")).await.unwrap();
    conn.execute(include_str!("../migrations/write/1002_restocks_and_dead_letters.sql")).await.unwrap();
    conn.execute(
        "INSERT INTO commerce.idempotency_keys (key, request_hash, completed, response_status, response_body, locked_at, created_at)
         VALUES ('old-done', 'abc', true, 201, '\\x7b7d', now(), now()),
                ('old-crashed', 'def', false, NULL, NULL, now() - interval '1 hour', now() - interval '1 hour')",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();

    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    migrate_write(&pool).await.unwrap();
    let store = PgIdempotencyStore::new(pool.clone());
    let fingerprint = idempotency_secret().fingerprint("checkout", b"any request");
    let now = commerce_core::Timestamp::from_datetime(time::OffsetDateTime::now_utc());
    for old in ["old-done", "old-crashed"] {
        let claim = store.claim(&key(old).digest(), &fingerprint, now, now.plus_seconds(-60)).await.unwrap();
        assert_eq!(claim, IdempotencyClaim::Mismatch, "{old}: a key from before the upgrade never executes again");
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM commerce.idempotency_keys WHERE key LIKE 'old-%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 0, "legacy keys are stored by digest too");
    pool.close().await;
    dbs.cleanup().await;
}
