//! Server + client end to end: the gRPC client (an `InventoryStore`) passes the
//! inventory conformance suite and the ledger model check against a server over
//! Redis, and 2,000 concurrent checkouts through it never oversell.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::testkit::units;
use std::sync::Arc;

use commerce_core::credential::BearerToken;
use commerce_core::{
    Currency, Money, ProductId,
    catalog::Version,
    order::OrderStatus,
    ports::{InventoryStore, ProductStore},
    services::{
        Env,
        checkout::{CheckoutInput, CheckoutItemInput, CheckoutService, SagaRunner},
        inventory::InventoryService,
    },
    testkit::{
        conformance::inventory,
        fixed::{ManualClock, SequentialIds},
        strategies,
    },
};
use commerce_grpc::{GrpcInventoryClient, InventoryGrpcServer, serve, server_router};
use commerce_memory::{MemoryCatalogStore, MemoryEventBus, MemoryOrderStore, MemoryPaymentGateway};
use commerce_redis::RedisInventoryStore;
use proptest::test_runner::{Config, TestRunner};

const TOKEN: &str = "grpc-test-service-token";

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A server over a fresh Redis namespace on port 0, and a client of it.
async fn fresh() -> (GrpcInventoryClient, RedisInventoryStore) {
    let (url, store) = fresh_server().await;
    (GrpcInventoryClient::connect_lazy(&url, Some(TOKEN.into())).unwrap(), store)
}

/// A server over a fresh Redis namespace on port 0: its URL and its store.
async fn fresh_server() -> (String, RedisInventoryStore) {
    let store = RedisInventoryStore::connect(&redis_url(), &format!("grpc-{}", uuid::Uuid::new_v4().simple()))
        .await
        .unwrap_or_else(|e| panic!("Redis must be running at {}: {e}", redis_url()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let routes = server_router(InventoryGrpcServer::new(
        Arc::new(store.clone()),
        BearerToken::parse(TOKEN).unwrap(),
        Arc::new(commerce_runtime::SystemClock),
    ))
    .await
    .unwrap();
    tokio::spawn(serve(routes, listener, std::future::pending()));
    (url, store)
}

#[tokio::test]
async fn the_client_passes_the_inventory_conformance_suite() {
    let made = std::sync::Mutex::new(vec![]);
    inventory::run(|| async {
        let (client, store) = fresh().await;
        made.lock().unwrap().push(store);
        client
    })
    .await;
    for store in made.into_inner().unwrap() {
        store.clear().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_agrees_with_the_reference_ledger() {
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() })
            .run(&inventory::inventory_ops(), |ops| {
                handle.block_on(async {
                    let (client, store) = fresh().await;
                    inventory::check_model(&client, 1, &ops).await;
                    store.clear().await.unwrap();
                });
                Ok(())
            })
            .map_err(|e| e.to_string())
    });
    result.unwrap();
}

#[tokio::test]
async fn set_on_hand_above_the_domain_ceiling_is_an_invalid_argument() {
    use commerce_core::inventory::OnHand;
    use commerce_grpc::pb::{SetOnHandRequest, inventory_service_client::InventoryServiceClient};
    let (url, store) = fresh_server().await;
    let mut raw = InventoryServiceClient::connect(url).await.unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7()).to_string();
    let set = |on_hand| {
        let mut r = tonic::Request::new(SetOnHandRequest { product_id: product.clone(), on_hand });
        r.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        r
    };
    let refused = raw.set_on_hand(set(OnHand::MAX + 1)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("on_hand"), "names the field: {}", refused.message());
    assert_eq!(raw.set_on_hand(set(OnHand::MAX)).await.unwrap().into_inner().on_hand, OnHand::MAX);
    store.clear().await.unwrap();
}

/// Reads are open; every other call needs the service token, and a client whose token
/// is missing or wrong learns it as `Unauthorized` (a configuration error), not bad input.
#[tokio::test]
async fn every_mutating_call_needs_the_token() {
    use commerce_core::{ReservationId, Timestamp, inventory::InventoryError};
    let (url, store) = fresh_server().await;
    let client = GrpcInventoryClient::connect_lazy(&url, Some(TOKEN.into())).unwrap();
    let anonymous = GrpcInventoryClient::connect_lazy(&url, None).unwrap();
    let wrong = GrpcInventoryClient::connect_lazy(&url, Some(format!("{TOKEN}-not"))).unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    assert_eq!(client.set_on_hand(product, units(5)).await.unwrap().on_hand, 5);
    let reservation = ReservationId::from_uuid(uuid::Uuid::now_v7());
    let request = commerce_core::inventory::ReservationRequest::new(
        reservation,
        vec![commerce_core::inventory::ReservationLine {
            product_id: product,
            quantity: commerce_core::inventory::Quantity::new(1).unwrap(),
        }],
        Timestamp::from_unix_micros(i64::MAX / 2),
    )
    .unwrap();
    for caller in [&anonymous, &wrong] {
        let refused = |r: Result<_, InventoryError>| matches!(r, Err(InventoryError::Unauthorized(_)));
        assert!(refused(caller.set_on_hand(product, units(9)).await.map(|_| ())));
        assert!(refused(caller.reserve(&request).await.map(|_| ())));
        assert!(refused(caller.commit(reservation).await.map(|_| ())));
        assert!(refused(caller.release(reservation).await.map(|_| ())));
        assert!(refused(caller.expire(Timestamp::from_unix_micros(i64::MAX / 2), 10).await.map(|_| ())));
        assert!(refused(caller.check_access().await));
    }
    client.check_access().await.unwrap();
    let level = &anonymous.stock(&[product]).await.unwrap()[0];
    assert_eq!((level.on_hand, level.reserved), (5, 0), "reads need no token, and nothing was reserved");
    store.clear().await.unwrap();
}

/// A reservation asking to hold stock until the year 9999 holds it for the server's
/// maximum TTL; an expiry "now" from a client whose clock runs ahead expires nothing early.
#[tokio::test]
async fn reservation_deadlines_and_expiry_follow_the_servers_clock() {
    use commerce_core::{ReservationId, Timestamp, ports::Clock as _};
    let (url, store) = fresh_server().await;
    let client = GrpcInventoryClient::connect_lazy(&url, Some(TOKEN.into())).unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    client.set_on_hand(product, units(5)).await.unwrap();
    let year_9999 = Timestamp::from_unix_micros(253_402_300_799_000_000);
    let request = commerce_core::inventory::ReservationRequest::new(
        ReservationId::from_uuid(uuid::Uuid::now_v7()),
        vec![commerce_core::inventory::ReservationLine {
            product_id: product,
            quantity: commerce_core::inventory::Quantity::new(2).unwrap(),
        }],
        year_9999,
    )
    .unwrap();
    let receipt = client.reserve(&request).await.unwrap();
    let latest = commerce_runtime::SystemClock.now().plus_seconds(3600);
    assert!(receipt.reservation.expires_at <= latest, "cut to the maximum TTL: {:?}", receipt.reservation.expires_at);
    let expired = client.expire(year_9999, 10).await.unwrap();
    assert!(expired.is_empty(), "the server's clock decides what is overdue");
    assert_eq!(client.stock(&[product]).await.unwrap()[0].reserved, 2);
    store.clear().await.unwrap();
}

/// 2,000 concurrent checkouts from 16 tasks for one product with 100 units, with stock
/// held by the inventory service over Redis: exactly 100 are paid, and on_hand + sold
/// stays 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_concurrent_checkouts_sell_exactly_the_stock() {
    let (client, store) = fresh().await;
    let env = Env::new(Arc::new(ManualClock::default()), Arc::new(SequentialIds::new()));
    let catalog = Arc::new(MemoryCatalogStore::new());
    let product_id = ProductId::from_uuid(uuid::Uuid::now_v7());
    let mut product = strategies::product(product_id, 1, Money::new(500, Currency::USD).unwrap(), env.clock.now());
    product.version = Version::INITIAL;
    catalog.insert_product(&product, &[]).await.unwrap();
    client.set_on_hand(product_id, units(100)).await.unwrap();

    let inventory = InventoryService::new(Arc::new(client.clone()), Arc::new(MemoryEventBus::new()), env.clone());
    let orders = Arc::new(MemoryOrderStore::new());
    let gateway = Arc::new(MemoryPaymentGateway::new());
    let runner = SagaRunner::new(orders.clone(), inventory, gateway.clone(), env.clone(), 900);
    let checkout = CheckoutService::new(catalog, orders, gateway.clone(), runner, env);

    let mut tasks = vec![];
    for _ in 0..16 {
        let checkout = checkout.clone();
        tasks.push(tokio::spawn(async move {
            let mut paid = 0_u64;
            for _ in 0..125 {
                let input = CheckoutInput {
                    email: "rush@example.com".into(),
                    items: vec![CheckoutItemInput { product_id: product_id.to_string(), quantity: 1 }],
                    card: None,
                    payment_method: Some("pm_card_visa".into()),
                    shipping_address: None,
                    shipping_method_id: None,
                };
                let placed = checkout.place_order(&input).await.unwrap();
                if placed.order.status == OrderStatus::Paid {
                    paid += 1;
                } else {
                    assert_eq!(placed.order.status, OrderStatus::Cancelled);
                }
            }
            paid
        }));
    }
    let mut sold = 0;
    for t in tasks {
        sold += t.await.unwrap();
    }
    assert_eq!(sold, 100, "exactly the 100 units were sold");
    let level = client.stock(&[product_id]).await.unwrap()[0];
    assert_eq!((level.on_hand, level.reserved), (0, 0));
    assert_eq!(level.on_hand + sold, 100, "on_hand + sold is constant");
    assert_eq!(gateway.stats(None).captures, 100, "one capture per unit sold");
    store.clear().await.unwrap();
}

/// `message` with the service token.
fn authorized<T>(message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    r
}

/// Arbitrary field values in every request (issue 12): the service answers with a domain
/// code, never INTERNAL or UNKNOWN (which a panic or an unmapped error would give).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_messages_get_domain_codes() {
    use commerce_grpc::pb::{
        BatchGetStockRequest, ExpireRequest, GetStockRequest, ReservationLine, ReservationRef, ReserveRequest,
        SetOnHandRequest, inventory_service_client::InventoryServiceClient,
    };
    use proptest::prelude::*;
    let (url, store) = fresh_server().await;
    let raw = InventoryServiceClient::connect(url).await.unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7()).to_string();
    let handle = tokio::runtime::Handle::current();
    let id = prop_oneof![any::<String>(), Just(product.clone()), Just(uuid::Uuid::now_v7().to_string())];
    let lines = prop::collection::vec((id.clone(), any::<u32>()), 0..4);
    let cases = (id.clone(), lines, any::<i64>(), any::<u64>(), any::<u32>(), prop::collection::vec(id, 0..4));
    let result = tokio::task::block_in_place(|| {
        TestRunner::new(Config { cases: 96, failure_persistence: None, ..Config::default() }).run(
            &cases,
            |(reservation, lines, at, on_hand, limit, ids)| {
                handle.block_on(async {
                    let mut c = raw.clone();
                    let lines =
                        lines.into_iter().map(|(product_id, quantity)| ReservationLine { product_id, quantity });
                    let reserve = ReserveRequest {
                        reservation_id: reservation.clone(),
                        lines: lines.collect(),
                        expires_at_unix_micros: at,
                    };
                    let reference = ReservationRef { reservation_id: reservation.clone() };
                    let answers = [
                        c.reserve(authorized(reserve)).await.err(),
                        c.commit(authorized(reference.clone())).await.err(),
                        c.release(authorized(reference)).await.err(),
                        c.set_on_hand(authorized(SetOnHandRequest { product_id: reservation.clone(), on_hand }))
                            .await
                            .err(),
                        c.expire(authorized(ExpireRequest { now_unix_micros: at, limit })).await.err(),
                        c.get_stock(GetStockRequest { product_id: reservation }).await.err(),
                        c.batch_get_stock(BatchGetStockRequest { product_ids: ids }).await.err(),
                    ];
                    for status in answers.into_iter().flatten() {
                        prop_assert!(
                            !matches!(status.code(), tonic::Code::Internal | tonic::Code::Unknown),
                            "{status:?}"
                        );
                    }
                    Ok(())
                })
            },
        )
    });
    result.unwrap();
    store.clear().await.unwrap();
}
