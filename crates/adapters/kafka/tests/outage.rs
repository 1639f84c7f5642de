//! The broker stops answering for 30 seconds under write load (the test freezes the
//! development broker with SIGSTOP): writes keep succeeding, their events wait in the
//! outbox, and once the broker is back the read model catches up with every one.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::{
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use commerce_core::{
    catalog::{MoneyInput, ProductInput},
    ports::ProductReadModel,
    services::{
        Env,
        catalog::CatalogService,
        events::{OutboxRelay, Projector},
    },
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher, ensure_topics};
use commerce_memory::{RandomIds, SystemClock};
use commerce_postgres::{PgCatalogStore, PgOutbox, PgReadModel, testing::Databases};

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

fn signal_broker(signal: &str) {
    let status = Command::new("pkill").args([signal, "-f", "tansu broker"]).status().unwrap();
    assert!(status.success(), "this test freezes the development broker (scripts/broker); no tansu process found");
}

/// Thaws the broker even when the test fails, so later tests are not stuck.
struct Thaw;
impl Drop for Thaw {
    fn drop(&mut self) {
        let _ = Command::new("pkill").args(["-CONT", "-f", "tansu broker"]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_a_30_second_broker_outage_and_the_read_model_catches_up() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    ensure_topics(&brokers(), &prefix, 3)
        .await
        .unwrap_or_else(|e| panic!("broker at {} (scripts/broker): {e}", brokers()));
    let catalog = CatalogService::new(
        Arc::new(PgCatalogStore::new(pool.clone())),
        Env::new(Arc::new(SystemClock), Arc::new(RandomIds)),
    );
    let outbox = Arc::new(PgOutbox::new(pool.clone(), 5));
    let read = Arc::new(PgReadModel::new(pool.clone()));

    let relay = OutboxRelay::new(outbox.clone(), Arc::new(KafkaPublisher::new(&brokers(), &prefix).unwrap()));
    let relay_task = tokio::spawn(async move {
        loop {
            if relay.step(50).await.unwrap_or(0) == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let projector_task = {
        let (read, prefix) = (read.clone(), prefix.clone());
        tokio::spawn(async move {
            let projector = Projector::new(read);
            let consumer = KafkaConsumer::new(&brokers(), &prefix, &format!("{prefix}-read-model")).unwrap();
            loop {
                let _ = projector.step(&consumer, 100).await;
            }
        })
    };

    let mut ids = vec![];
    let create = async |n: usize| {
        let input = ProductInput {
            sku: format!("O-{n}"),
            name: format!("Outage {n}"),
            price: MoneyInput { amount: 100, currency: "USD".into() },
            status: Some("active".into()),
            ..ProductInput::default()
        };
        catalog.create_product(&input).await.map(|p| p.id)
    };
    for n in 0..10 {
        ids.push(create(n).await.unwrap());
    }
    // The pipeline is flowing (the consumer group has joined) before the broker stops.
    wait_until_projected(&read, &ids).await;

    let _thaw = Thaw;
    signal_broker("-STOP");
    let outage_until = Instant::now() + Duration::from_secs(30);
    let mut n = 10;
    while Instant::now() < outage_until {
        ids.push(create(n).await.expect("writes keep succeeding while the broker is down"));
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(outbox.pending().await.unwrap() > 0, "events wait in the outbox during the outage");
    signal_broker("-CONT");

    wait_until_projected(&read, &ids).await;
    assert_eq!(outbox.pending().await.unwrap(), 0, "every event was relayed");
    eprintln!("{} products written across a 30 s broker outage, all projected", ids.len());
    relay_task.abort();
    projector_task.abort();
    dbs.cleanup().await;
}

/// Waits (at most 90 s) until every product is in the read model.
async fn wait_until_projected(read: &PgReadModel, ids: &[commerce_core::ProductId]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let seen = read.get_many(ids).await.unwrap().len();
        if seen == ids.len() {
            return;
        }
        assert!(Instant::now() < deadline, "the read model caught up with only {seen} of {} products", ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
