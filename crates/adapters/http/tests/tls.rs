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

/// The simulated processor over HTTPS with a certificate made now: (base URL, CA PEM).
async fn processor_over_tls() -> (String, String) {
    let (cert, key) = certificate();
    let tls = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let app = commerce_payment_simulator::remote::router(Arc::new(
        commerce_payment_simulator::SimulatedCardProcessor::default(),
    ));
    tokio::spawn(serve_tls(listener, app, tls, std::future::pending()));
    (base, cert)
}

fn card(number: &str) -> commerce_core::payment::CardDetails {
    use commerce_core::payment::{CardDetails, CardExpiry, CardNumber, Cvc};
    let number = CardNumber::parse(number).unwrap();
    CardDetails {
        cvc: Cvc::parse("123", number.brand()).unwrap(),
        expiry: CardExpiry::parse(12, 2030, commerce_core::Timestamp::from_unix_micros(1_767_225_600_000_000)).unwrap(),
        number,
    }
}

/// `orders-service`'s processor client sends card data only over TLS, to a processor whose
/// certificate it trusts, or in clear text to this host alone.
#[tokio::test]
async fn card_data_travels_only_over_tls_to_a_trusted_processor() {
    use commerce_core::{payment::PaymentError, ports::PaymentGateway as _, testkit::conformance};
    use commerce_payment_simulator::remote::HttpCardProcessor;
    use std::time::Duration;
    let (base, ca) = processor_over_tls().await;
    let trusted = HttpCardProcessor::with_root_certificate(&base, Duration::from_secs(5), ca.as_bytes()).unwrap();
    conformance::payment::run(&trusted, &card("4242424242424242"), "tls").await;

    // A processor whose certificate does not chain to a trusted root gets nothing.
    let untrusting = HttpCardProcessor::new(&base, Duration::from_secs(5)).unwrap();
    let refused = untrusting.tokenize(&card("4242424242424242")).await.unwrap_err();
    assert!(matches!(refused, PaymentError::Unavailable(_)), "{refused:?}");

    // Plain http only to this host.
    let remote = HttpCardProcessor::new("http://payments.example.com", Duration::from_secs(5)).unwrap_err();
    assert!(remote.to_string().contains("refusing to send card data over plain http"), "{remote}");
    for local in ["http://127.0.0.1:8090", "http://localhost:8090", "http://[::1]:8090", "https://payments.example.com"]
    {
        assert!(HttpCardProcessor::new(local, Duration::from_secs(5)).is_ok(), "{local}");
    }
    assert!(HttpCardProcessor::new("ftp://payments.example.com", Duration::from_secs(5)).is_err());
}
