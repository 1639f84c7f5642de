//! Services and their credentials (issue 12): a production service refuses to start
//! without its secrets, and a credential the inventory service refuses is the server's
//! configuration error (readiness fails, requests answer 500), never blamed on the client.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use clap::Parser as _;
use commerce_core::credential::BearerToken;
use commerce_grpc::{InventoryGrpcServer, serve, server_router};
use commerce_memory::MemoryInventoryStore;
use commerce_postgres::testing::{Databases, url_for};
use commerce_system_tests::{ShopClient, problem, process::listener};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ADMIN: &str = "credentials-admin-token";
const INVENTORY_TOKEN: &str = "credentials-inventory-token";

/// An inventory service (memory store) accepting `INVENTORY_TOKEN`, over TLS when `tls`
/// is given; returns its URL.
async fn inventory_service(tls: Option<commerce_grpc::ServerTls>) -> String {
    let (l, url) = listener().await;
    let server = InventoryGrpcServer::new(
        Arc::new(MemoryInventoryStore::new()),
        BearerToken::parse(INVENTORY_TOKEN).unwrap(),
        Arc::new(commerce_runtime::SystemClock),
    );
    let routes = server_router(server).await.unwrap();
    if let Some(tls) = tls {
        tokio::spawn(async move { commerce_grpc::serve_tls(routes, l, &tls, std::future::pending()).await });
        return url.replace("http://127.0.0.1", "https://localhost");
    }
    tokio::spawn(serve(routes, l, std::future::pending()));
    url
}

/// catalog-api reaches an inventory service that serves TLS, trusting `INVENTORY_CA_FILE`,
/// for its readiness check and its stock calls alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_api_reaches_a_tls_inventory_service_with_its_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (pem, key) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    let tls =
        commerce_grpc::ServerTls { cert_pem: pem.clone().into_bytes(), key_pem: key.into_bytes(), client_ca_pem: None };
    let inventory = inventory_service(Some(tls)).await;
    let ca = std::env::temp_dir().join(format!("commerce-inventory-ca-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&ca, pem).unwrap();
    let dbs = Databases::new();
    let db = url_for(&dbs.fresh_name().await);
    let cli = catalog_api::Cli::parse_from([
        "catalog-api",
        "--database-url",
        &db,
        "--admin-token",
        ADMIN,
        "--inventory-grpc-url",
        &inventory,
        "--inventory-token",
        INVENTORY_TOKEN,
        "--inventory-ca-file",
        ca.to_str().unwrap(),
    ]);
    cli.db.migrate().await.unwrap();
    let (l, base) = listener().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(catalog_api::run(cli, l, async move {
        let _ = stopped.await;
    }));
    let client = ShopClient::new(&base, ADMIN);
    assert_eq!(client.http.get(format!("{base}/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let id = client.create_product("TLS-1", 500, json!({})).await;
    assert_eq!(client.set_stock(&id, 3).await.status(), StatusCode::OK, "stock set over TLS");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    std::fs::remove_file(ca).unwrap();
    dbs.cleanup().await;
}

#[tokio::test]
async fn production_services_refuse_to_start_without_their_secrets() {
    let db = url_for("never_connected");
    let refusal = |result: anyhow::Result<()>| format!("{:#}", result.unwrap_err());

    let (l, _) = listener().await;
    let cli = catalog_api::Cli::parse_from(["catalog-api", "--database-url", &db]);
    let message = refusal(catalog_api::run(cli, l, std::future::pending()).await);
    assert!(message.contains("COMMERCE_ADMIN_TOKEN"), "{message}");

    let (l, _) = listener().await;
    let cli = catalog_api::Cli::parse_from(["catalog-api", "--database-url", &db, "--admin-token", "short"]);
    let message = refusal(catalog_api::run(cli, l, std::future::pending()).await);
    assert!(message.contains("at least 16") && !message.contains("short"), "{message}");

    let (l, _) = listener().await;
    let cli = orders_service::Cli::parse_from([
        "orders-service",
        "--database-url",
        &db,
        "--idempotency-secret",
        "credentials-test-idempotency-secret-0123456789",
        "--inventory-grpc-url",
        "http://127.0.0.1:9",
    ]);
    let message = refusal(orders_service::run(cli, l, std::future::pending()).await);
    assert!(message.contains("INVENTORY_TOKEN"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_inventory_token_is_a_server_error_and_not_ready() {
    let dbs = Databases::new();
    let db = url_for(&dbs.fresh_name().await);
    let inventory = inventory_service(None).await;
    let start = |token: &str| {
        catalog_api::Cli::parse_from([
            "catalog-api",
            "--database-url",
            &db,
            "--admin-token",
            ADMIN,
            "--inventory-grpc-url",
            &inventory,
            "--inventory-token",
            token,
        ])
    };
    start(INVENTORY_TOKEN).db.migrate().await.unwrap();

    for (token, ready, stock_status) in [
        ("credentials-wrong-inventory-token", StatusCode::SERVICE_UNAVAILABLE, StatusCode::INTERNAL_SERVER_ERROR),
        (INVENTORY_TOKEN, StatusCode::OK, StatusCode::OK),
    ] {
        let (l, base) = listener().await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(catalog_api::run(start(token), l, async move {
            let _ = stopped.await;
        }));
        let client = ShopClient::new(&base, ADMIN);
        assert_eq!(client.http.get(format!("{base}/readyz")).send().await.unwrap().status(), ready, "{token}");
        let id = client.create_product(&format!("SKU-{}", stock_status.as_u16()), 500, json!({})).await;
        let r = client.admin(Method::PUT, &format!("/admin/v1/products/{id}/stock")).json(&json!({"on_hand": 3}));
        let r = r.send().await.unwrap();
        if stock_status == StatusCode::OK {
            assert_eq!(r.status(), StatusCode::OK);
        } else {
            let p = problem(r, stock_status).await;
            assert!(p.get("detail").is_none() && p.get("errors").is_none(), "an opaque 500: {p}");
        }
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
    dbs.cleanup().await;
}
