//! The inventory service in-process (`run` on port 0): gRPC calls and the probes answer,
//! and it stops cleanly when told to. Needs Redis at `REDIS_URL`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::time::Duration;

use clap::Parser as _;
use commerce_core::{
    ProductId, ReservationId, Timestamp,
    inventory::{Quantity, ReservationLine, ReservationRequest},
    ports::InventoryStore,
    testkit::units,
};
use commerce_grpc::GrpcInventoryClient;
use commerce_redis::RedisInventoryStore;
use inventory_service::{Cli, Listeners};

const TOKEN: &str = "in-process-inventory-token";

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[tokio::test]
async fn serves_grpc_and_probes_and_stops_on_shutdown() {
    let namespace = format!("svc-{}", uuid::Uuid::new_v4().simple());
    let cli = Cli::parse_from([
        "inventory-service",
        "--redis-url",
        &redis_url(),
        "--namespace",
        &namespace,
        "--token",
        TOKEN,
        // No broker for this test, whatever KAFKA_BROKERS says.
        "--kafka-brokers",
        "",
    ]);
    let listeners = Listeners {
        grpc: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        http: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let grpc = format!("http://{}", listeners.grpc.local_addr().unwrap());
    let http = format!("http://{}", listeners.http.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(inventory_service::run(cli, listeners, async move {
        let _ = stopped.await;
    }));

    let probes = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if probes.get(format!("{http}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "the service never became ready (is Redis running at {}?)", redis_url());

    let client = GrpcInventoryClient::connect_lazy(&grpc, Some(TOKEN.into())).unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    client.set_on_hand(product, units(3)).await.unwrap();
    let line = ReservationLine { product_id: product, quantity: Quantity::new(2).unwrap() };
    let expires = Timestamp::from_datetime(time::OffsetDateTime::now_utc()).plus_seconds(60);
    let request = ReservationRequest::new(ReservationId::from_uuid(uuid::Uuid::now_v7()), vec![line], expires).unwrap();
    client.reserve(&request).await.unwrap();
    assert_eq!(client.stock(&[product]).await.unwrap()[0].available(), 1);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), service).await.unwrap().unwrap().unwrap();
    RedisInventoryStore::connect(&redis_url(), &namespace).await.unwrap().clear().await.unwrap();
}
