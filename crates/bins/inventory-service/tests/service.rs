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
    // The metrics count each call by method and status.
    let anonymous = GrpcInventoryClient::connect_lazy(&grpc, None).unwrap();
    assert!(anonymous.set_on_hand(product, units(1)).await.is_err());
    let metrics = probes.get(format!("{http}/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"commerce_grpc_server_calls_total{method="InventoryService/Reserve",code="OK"} 1"#,
        r#"commerce_grpc_server_calls_total{method="InventoryService/SetOnHand",code="UNAUTHENTICATED"} 1"#,
        r#"commerce_grpc_server_call_duration_seconds_count{method="InventoryService/Reserve"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), service).await.unwrap().unwrap().unwrap();
    RedisInventoryStore::connect(&redis_url(), &namespace).await.unwrap().clear().await.unwrap();
}

fn cli_for(redis: &str, namespace: &str) -> Cli {
    Cli::parse_from([
        "inventory-service",
        "--redis-url",
        redis,
        "--namespace",
        namespace,
        "--token",
        TOKEN,
        "--kafka-brokers",
        "",
        "--drain-grace-ms",
        "0",
    ])
}

async fn listeners() -> (Listeners, String, String) {
    let listeners = Listeners {
        grpc: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        http: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
    };
    let grpc = format!("http://{}", listeners.grpc.local_addr().unwrap());
    let http = format!("http://{}", listeners.http.local_addr().unwrap());
    (listeners, grpc, http)
}

async fn status(url: &str) -> Option<u16> {
    reqwest::get(url).await.ok().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn probes_answer_while_redis_is_awaited() {
    // Given no Redis at the configured address.
    let nowhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let (listeners, _, http) = listeners().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(inventory_service::run(
        cli_for(&format!("redis://{nowhere}"), "nowhere"),
        listeners,
        async move {
            let _ = stopped.await;
        },
    ));
    // Then it is live and not ready, and it stops when told to.
    let mut live = None;
    for _ in 0..100 {
        live = status(&format!("{http}/healthz")).await;
        if live.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live, Some(200), "live while Redis is awaited");
    assert_eq!(status(&format!("{http}/readyz")).await, Some(503), "not ready without Redis");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), service).await.unwrap().unwrap().unwrap();
}

/// A TCP proxy to Redis that can be cut and restored, on one port.
struct Proxy {
    addr: std::net::SocketAddr,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        Self { addr, task: Some(Self::serve(listener)) }
    }

    fn serve(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
        let upstream = redis_url().trim_start_matches("redis://").trim_end_matches('/').to_owned();
        tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                links.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        })
    }

    /// Closes the port and every connection through it (the `JoinSet` aborts them).
    async fn cut(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.task = Some(Self::serve(listener));
    }
}

async fn health(grpc: &str) -> Result<i32, String> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = tonic::transport::Channel::from_shared(grpc.to_owned()).map_err(|e| e.to_string())?;
    let mut client = HealthClient::new(channel.connect().await.map_err(|e| e.to_string())?);
    let reply = client.check(HealthCheckRequest { service: String::new() }).await.map_err(|e| e.to_string())?;
    Ok(reply.into_inner().status)
}

async fn health_becomes(grpc: &str, wanted: tonic_health::ServingStatus) {
    let mut last = Err(String::new());
    for _ in 0..100 {
        last = health(grpc).await;
        if last == Ok(wanted as i32) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gRPC health {last:?}, wanted {wanted:?}");
}

#[tokio::test]
async fn grpc_health_follows_redis() {
    let mut proxy = Proxy::start().await;
    let namespace = format!("health-{}", uuid::Uuid::new_v4().simple());
    let (listeners, grpc, http) = listeners().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(inventory_service::run(
        cli_for(&format!("redis://{}", proxy.addr), &namespace),
        listeners,
        async move {
            let _ = stopped.await;
        },
    ));
    health_becomes(&grpc, tonic_health::ServingStatus::Serving).await;

    // When Redis goes away, the service says so on gRPC health and on /readyz.
    proxy.cut().await;
    health_becomes(&grpc, tonic_health::ServingStatus::NotServing).await;
    assert_eq!(status(&format!("{http}/readyz")).await, Some(503));

    // And serves again once it is back.
    proxy.restore().await;
    health_becomes(&grpc, tonic_health::ServingStatus::Serving).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), service).await.unwrap().unwrap().unwrap();
}
