//! The event pipeline through a real broker: a change committed with its outbox row
//! is relayed to the broker, projected into the read model by a consumer group, and
//! a new consumer group replaying the topics rebuilds the same read model.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::sync::Arc;

use commerce_core::{
    catalog::{MoneyInput, ProductInput},
    ports::{ProductProjection, ProductReadModel},
    services::{
        Env,
        catalog::CatalogService,
        events::{OutboxRelay, Projector},
        inventory::InventoryService,
    },
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher, ensure_topics};
use commerce_memory::{RandomIds, SystemClock};
use commerce_postgres::{PgCatalogStore, PgInventoryStore, PgOutbox, PgReadModel, testing::Databases};

fn brokers() -> String {
    std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_to_broker_to_read_model_and_rebuild() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    ensure_topics(&brokers(), &prefix, 3)
        .await
        .unwrap_or_else(|e| panic!("broker at {} (scripts/broker): {e}", brokers()));

    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let catalog = CatalogService::new(Arc::new(PgCatalogStore::new(pool.clone())), env.clone());
    let inventory = InventoryService::with_transactional_events(Arc::new(PgInventoryStore::new(pool.clone())), env);
    let mut ids = vec![];
    for n in 0..20 {
        let input = ProductInput {
            sku: format!("SKU-{n}"),
            name: format!("Product {n}"),
            price: MoneyInput { amount: 100 + n, currency: "USD".into() },
            status: Some("active".into()),
            ..ProductInput::default()
        };
        let p = catalog.create_product(&input).await.unwrap();
        inventory.set_on_hand(p.id, u64::try_from(n).unwrap()).await.unwrap();
        ids.push(p.id);
    }
    let patch = commerce_core::catalog::ProductPatchInput { name: Some("Renamed".into()), ..Default::default() };
    catalog.update_product(ids[0], &patch, None).await.unwrap();

    // Relay: outbox -> broker.
    let outbox = Arc::new(PgOutbox::new(pool.clone(), 30));
    let relay = OutboxRelay::new(outbox.clone(), Arc::new(KafkaPublisher::new(&brokers(), &prefix).unwrap()));
    let mut relayed = 0;
    while let n @ 1.. = relay.step(7).await.unwrap() {
        relayed += n;
    }
    assert_eq!(relayed, 41, "20 products, 20 stock levels and one update");
    assert_eq!(outbox.pending().await.unwrap(), 0, "every row is marked published after the broker acknowledged it");

    // Projector: broker -> read model.
    let read = Arc::new(PgReadModel::new(pool.clone()));
    let projector = Projector::new(read.clone());
    let consumer = KafkaConsumer::new(&brokers(), &prefix, &format!("{prefix}-read-model")).unwrap();
    let mut projected = 0;
    for _ in 0..100 {
        projected += projector.step(&consumer, 50).await.unwrap();
        if projected >= 41 {
            break;
        }
    }
    assert_eq!(projected, 41);
    let views = read.get_many(&ids).await.unwrap();
    assert_eq!(views.len(), 20);
    let first = read.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (first.name.as_str(), first.product_version),
        ("Renamed", 2),
        "per-aggregate order kept the update last"
    );
    let last = read.get(ids[19]).await.unwrap().unwrap();
    assert_eq!(last.available_stock, 19);

    // Rebuild: empty the read model, replay the topics with a new group.
    let before: Vec<_> = read.get_many(&ids).await.unwrap();
    read.reset().await.unwrap();
    let rebuild_group = KafkaConsumer::new(&brokers(), &prefix, &format!("{prefix}-rebuild")).unwrap();
    let mut rebuilt = 0;
    for _ in 0..100 {
        rebuilt += projector.step(&rebuild_group, 50).await.unwrap();
        if rebuilt >= 41 {
            break;
        }
    }
    let mut after = read.get_many(&ids).await.unwrap();
    let mut before = before;
    before.sort_by_key(|v| v.id);
    after.sort_by_key(|v| v.id);
    assert_eq!(after, before, "replaying the topics rebuilds the same read model");
    dbs.cleanup().await;
}
