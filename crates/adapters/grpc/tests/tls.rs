//! The inventory API over TLS, with certificates made at test time (rcgen): a client
//! trusting the server's CA is served, one trusting another CA or speaking plain HTTP/2
//! is refused; with mutual TLS, a client without a certificate signed by the client CA
//! is refused too.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use commerce_core::{ProductId, credential::BearerToken, ports::InventoryStore as _, testkit::units};
use commerce_grpc::{ClientTls, GrpcInventoryClient, InventoryGrpcServer, ServerTls, serve_tls, server_router};
use commerce_memory::MemoryInventoryStore;
use rcgen::{BasicConstraints, CertificateParams, CertifiedKey, IsCa, KeyPair};

const TOKEN: &str = "grpc-tls-service-token";

/// A certificate authority: its certificate and key.
fn authority() -> CertifiedKey {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedKey { cert: params.self_signed(&key).unwrap(), key_pair: key }
}

/// A leaf for `names`, signed by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &CertifiedKey, names: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key_pair).unwrap();
    (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
}

async fn server(tls: ServerTls) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = Arc::new(MemoryInventoryStore::new());
    let server =
        InventoryGrpcServer::new(store, BearerToken::parse(TOKEN).unwrap(), Arc::new(commerce_runtime::SystemClock));
    let routes = server_router(server).await.unwrap();
    tokio::spawn(async move { serve_tls(routes, listener, &tls, std::future::pending()).await });
    format!("https://localhost:{port}")
}

fn client(url: &str, tls: Option<&ClientTls>) -> GrpcInventoryClient {
    GrpcInventoryClient::connect_lazy_with(url, Some(TOKEN.into()), tls).unwrap().with_attempts(1)
}

#[tokio::test]
async fn clients_trust_only_the_servers_authority() {
    let (ca, other) = (authority(), authority());
    let (cert_pem, key_pem) = leaf(&ca, &["localhost"]);
    let url = server(ServerTls { cert_pem, key_pem, client_ca_pem: None }).await;
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());

    let trusting = ClientTls { ca_pem: ca.cert.pem().into_bytes(), identity: None };
    assert_eq!(client(&url, Some(&trusting)).set_on_hand(product, units(3)).await.unwrap().on_hand, 3);
    client(&url, Some(&trusting)).check_access().await.unwrap();

    let wrong_ca = ClientTls { ca_pem: other.cert.pem().into_bytes(), identity: None };
    assert!(client(&url, Some(&wrong_ca)).stock(&[product]).await.is_err(), "an untrusted certificate is refused");
    let plain = url.replace("https://", "http://");
    assert!(client(&plain, None).stock(&[product]).await.is_err(), "plain HTTP/2 is not served");
}

#[tokio::test]
async fn mutual_tls_requires_a_client_certificate_from_the_client_authority() {
    let (server_ca, client_ca, stranger_ca) = (authority(), authority(), authority());
    let (cert_pem, key_pem) = leaf(&server_ca, &["localhost"]);
    let url = server(ServerTls { cert_pem, key_pem, client_ca_pem: Some(client_ca.cert.pem().into_bytes()) }).await;
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    let with = |identity| ClientTls { ca_pem: server_ca.cert.pem().into_bytes(), identity };

    let member = with(Some(leaf(&client_ca, &["orders-service"])));
    assert_eq!(client(&url, Some(&member)).set_on_hand(product, units(2)).await.unwrap().on_hand, 2);
    assert!(client(&url, Some(&with(None))).stock(&[product]).await.is_err(), "no client certificate");
    let stranger = with(Some(leaf(&stranger_ca, &["intruder"])));
    assert!(client(&url, Some(&stranger)).stock(&[product]).await.is_err(), "a certificate of another authority");
}
