//! TLS termination: a client trusting the certificate gets answers over HTTPS, a client that does not trust it is refused, and shutdown still drains.
//! Certificates are made at test time (rcgen).

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use commerce_http::{
    HttpConfig, TlsConfig,
    ops::{AlwaysReady, OpsState},
    serve_tls,
};

/// A self-signed certificate for `localhost` and 127.0.0.1: (certificate PEM, key PEM).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    (cert.cert.pem(), cert.key_pair.serialize_pem())
}

#[tokio::test]
async fn https_is_served_to_clients_that_trust_the_certificate_only() {
    let (cert, key) = certificate();
    let tls = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = commerce_http::app(axum::Router::new(), OpsState::new(Arc::new(AlwaysReady)), HttpConfig::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_tls(listener, app, tls, async move {
        let _ = stopped.await;
    }));
    let url = format!("https://localhost:{port}/healthz");

    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.as_bytes()).unwrap())
        .build()
        .unwrap();
    let r = trusting.get(&url).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);

    let default_roots = reqwest::Client::new();
    let refused = default_roots.get(&url).send().await.unwrap_err();
    assert!(refused.is_connect(), "an untrusted certificate fails the connection: {refused:?}");

    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err(), "plain HTTP is not answered on the TLS port");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[test]
fn unusable_certificates_are_clear_errors() {
    let (cert, key) = certificate();
    let no_cert = TlsConfig::from_pem(b"", key.as_bytes()).unwrap_err();
    assert!(no_cert.to_string().contains("no certificate"), "{no_cert}");
    assert!(TlsConfig::from_pem(cert.as_bytes(), b"not a key").is_err());
    let (_, other_key) = certificate();
    assert!(TlsConfig::from_pem(cert.as_bytes(), other_key.as_bytes()).is_err(), "a key of another certificate");
}
