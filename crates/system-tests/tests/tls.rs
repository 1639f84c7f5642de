//! The database and Redis clients over TLS (issue 12), through a TLS-terminating proxy in
//! front of the test servers with a certificate made now (rcgen): a client trusting the
//! proxy's certificate works end to end, one trusting another certificate is refused.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use commerce_core::{ProductId, ports::InventoryStore as _, testkit::units};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A self-signed certificate for `localhost`: (certificate PEM, key PEM).
fn certificate() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (cert.cert.pem(), cert.key_pair.serialize_pem())
}

/// Listens on 127.0.0.1 and, for each client, ends TLS and relays the plain stream to
/// `upstream`. With `postgres`, first answers PostgreSQL's SSLRequest with `S`, as a TLS
/// server does. Returns the port.
async fn tls_proxy(upstream: &str, (cert, key): &(String, String), postgres: bool) -> u16 {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};
    let chain = vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = upstream.to_owned();
    tokio::spawn(async move {
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                if postgres {
                    let mut ssl_request = [0_u8; 8];
                    client.read_exact(&mut ssl_request).await.unwrap();
                    client.write_all(b"S").await.unwrap();
                }
                // A client refusing our certificate ends here.
                let Ok(mut tls) = acceptor.accept(client).await else { return };
                let mut server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
            });
        }
    });
    port
}

fn write_pem(pem: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("commerce-tls-{}.pem", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, pem).unwrap();
    path
}

#[tokio::test]
async fn redis_over_tls_trusts_only_the_given_authority() {
    let (ours, theirs) = (certificate(), certificate());
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let port = tls_proxy(redis.trim_start_matches("redis://").trim_end_matches('/'), &ours, false).await;
    let url = format!("rediss://localhost:{port}");
    let namespace = format!("tls-{}", uuid::Uuid::new_v4().simple());

    let store =
        commerce_redis::RedisInventoryStore::connect_with_ca(&url, &namespace, Some(ours.0.as_bytes())).await.unwrap();
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    assert_eq!(store.set_on_hand(product, units(4)).await.unwrap().on_hand, 4, "works end to end over TLS");
    store.clear().await.unwrap();

    let refused =
        commerce_redis::RedisInventoryStore::connect_with_ca(&url, &namespace, Some(theirs.0.as_bytes())).await;
    assert!(refused.is_err(), "a server whose certificate chains to another CA is refused");
    let system_roots = commerce_redis::RedisInventoryStore::connect(&url, &namespace).await;
    assert!(system_roots.is_err(), "a self-signed server is not trusted by the system's roots");
}

#[tokio::test]
async fn postgres_over_tls_verifies_the_server() {
    let (ours, theirs) = (certificate(), certificate());
    let port = tls_proxy("127.0.0.1:5432", &ours, true).await;
    let (trusted, other) = (write_pem(&ours.0), write_pem(&theirs.0));
    let url = |ca: &std::path::Path| {
        format!("postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}", ca.display())
    };

    let pool = commerce_postgres::lazy_pool(&url(&trusted), 1).unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
    assert_eq!(one, 1, "works end to end over TLS");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_optional(&pool)
        .await
        .unwrap()
        .unwrap_or(false);
    assert!(!ssl, "the proxy, not the server, ends TLS here: the server sees plain text");

    let refused = commerce_postgres::lazy_pool(&url(&other), 1).unwrap();
    assert!(sqlx::query("SELECT 1").execute(&refused).await.is_err(), "a server of another CA is refused");
    for path in [trusted, other] {
        std::fs::remove_file(path).unwrap();
    }
}

/// A tansu broker of its own, advertising `advertised` (the TLS proxy in front of it);
/// killed when dropped.
struct Broker(std::process::Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_broker(listen: u16, advertised: &str) -> Broker {
    let tansu = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/tansu"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| "tansu".into());
    let child = std::process::Command::new(&tansu)
        .args(["broker", "--listener-url", &format!("tcp://127.0.0.1:{listen}")])
        .args(["--advertised-listener-url", &format!("tcp://{advertised}")])
        .args(["--storage-engine", &format!("memory://tls-{}/", uuid::Uuid::new_v4().simple())])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("tansu must be installed (scripts/broker installs it): {e}"));
    Broker(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_over_tls_trusts_only_the_given_authority() {
    use commerce_core::{
        EventId, Timestamp,
        events::EventEnvelope,
        inventory::StockLevel,
        ports::{EventConsumer as _, EventPublisher as _},
    };
    use commerce_kafka::{Brokers, KafkaConsumer, KafkaPublisher, KafkaTls, ensure_topics};
    let (ours, theirs) = (certificate(), certificate());
    let plain = commerce_system_tests::process::free_port();
    let tls_port = tls_proxy(&format!("127.0.0.1:{plain}"), &ours, false).await;
    let _broker = start_broker(plain, &format!("localhost:{tls_port}"));
    let (trusted, other) = (write_pem(&ours.0), write_pem(&theirs.0));
    let brokers = |ca: &std::path::Path| {
        Brokers::from(format!("localhost:{tls_port}")).with_tls(KafkaTls { ca_location: ca.to_owned(), client: None })
    };
    let prefix = format!("tls-{}", uuid::Uuid::new_v4().simple());

    // The broker needs a moment to listen; topic creation through TLS is the first call.
    let mut created = Err(commerce_core::ports::EventError::Unavailable("not tried".into()));
    for _ in 0..20 {
        created = ensure_topics(brokers(&trusted), &prefix, 1).await;
        if created.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    created.unwrap();
    let level =
        StockLevel { product_id: ProductId::from_uuid(uuid::Uuid::now_v7()), on_hand: 7, reserved: 0, version: 1 };
    let event = EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::now_v7()), Timestamp::EPOCH, level);
    KafkaPublisher::new(brokers(&trusted), &prefix).unwrap().publish(std::slice::from_ref(&event)).await.unwrap();
    let consumer = KafkaConsumer::new(brokers(&trusted), &prefix, &format!("{prefix}-group")).unwrap();
    let mut got = vec![];
    for _ in 0..60 {
        got = consumer.poll(10).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.first().map(|d| &d.envelope), Some(&event), "an event travels end to end over TLS");

    // Within the publisher's 10 s message timeout: the handshake never succeeds.
    let untrusting = KafkaPublisher::new(brokers(&other), &prefix).unwrap();
    let refused = untrusting.publish(std::slice::from_ref(&event)).await;
    assert!(refused.is_err(), "brokers whose certificate chains to another CA are refused");
    for path in [trusted, other] {
        std::fs::remove_file(path).unwrap();
    }
}
