//! The event pipeline through a real broker: a change committed with its outbox row
//! is relayed to the broker, projected into the read model by a consumer group, and
//! a new consumer group replaying the topics rebuilds the same read model.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::testkit::units;
use std::sync::Arc;

use commerce_core::{
    ports::{ProductProjection, ProductReadModel},
    services::events::{OutboxRelay, Projector},
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher};
use commerce_postgres::{PgOutbox, testing::Databases};
use common::{Models, brokers, fresh_topics};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_to_broker_to_read_model_and_rebuild() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let prefix = fresh_topics(3).await;
    let Models { catalog, inventory, read, ids, .. } = Models::new(&pool, 20).await;
    for (n, id) in (0_u64..).zip(&ids) {
        inventory.set_on_hand(*id, units(n)).await.unwrap();
    }
    let patch = commerce_core::catalog::ProductPatchInput { name: Some("Renamed".into()), ..Default::default() };
    catalog.update_product(ids[0], &patch, None).await.unwrap();

    // Relay: outbox -> broker.
    let outbox = Arc::new(PgOutbox::new(pool.clone(), 30));
    let relay = OutboxRelay::new(outbox.clone(), Arc::new(KafkaPublisher::new(brokers(), &prefix).unwrap()));
    let mut relayed = 0;
    while let n @ 1.. = relay.step(7).await.unwrap() {
        relayed += n;
    }
    assert_eq!(relayed, 41, "20 products, 20 stock levels and one update");
    assert_eq!(outbox.pending().await.unwrap(), 0, "every row is marked published after the broker acknowledged it");

    // Projector: broker -> read model.
    let projector = Projector::new(read.clone());
    let consumer = KafkaConsumer::new(brokers(), &prefix, &format!("{prefix}-read-model")).unwrap();
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
    let rebuild_group = KafkaConsumer::new(brokers(), &prefix, &format!("{prefix}-rebuild")).unwrap();
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
