//! The Kafka adapters against a real Kafka-protocol broker (`scripts/broker` starts
//! tansu on 127.0.0.1:9092; `KAFKA_BROKERS` points elsewhere). Each test uses its own
//! topic prefix and consumer group. A missing broker fails the test loudly.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use std::time::Duration;

use commerce_core::{
    EventId, ProductId, Timestamp,
    events::{DomainEvent, EventEnvelope, StockChanged},
    ports::{EventConsumer, EventPublisher},
    testkit::conformance,
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher, topic};
use common::{brokers, fresh_topics};
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

#[tokio::test]
async fn publisher_and_consumer_pass_the_events_conformance_suite() {
    let prefix = fresh_topics(2).await;
    let publisher = KafkaPublisher::new(&brokers(), &prefix).unwrap();
    let consumer = KafkaConsumer::new(&brokers(), &prefix, &format!("{prefix}-group")).unwrap();
    conformance::events::run(&publisher, &consumer).await;
}

#[tokio::test]
async fn an_undecodable_event_goes_to_the_dead_letter_topic_and_does_not_block() {
    let prefix = fresh_topics(2).await;
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    // A poison message first, then a good event, on the same key (same partition).
    let raw: FutureProducer = ClientConfig::new().set("bootstrap.servers", brokers()).create().unwrap();
    let stock_topic = topic(&prefix, commerce_core::events::AggregateType::Stock);
    raw.send(
        FutureRecord::to(&stock_topic).key(&product.to_string()).payload("{not json"),
        Timeout::After(Duration::from_secs(10)),
    )
    .await
    .unwrap();
    let good = EventEnvelope::stock_changed(
        EventId::from_uuid(uuid::Uuid::now_v7()),
        Timestamp::EPOCH,
        commerce_core::inventory::StockLevel { product_id: product, on_hand: 3, reserved: 0, version: 1 },
    );
    KafkaPublisher::new(&brokers(), &prefix).unwrap().publish(std::slice::from_ref(&good)).await.unwrap();

    let consumer = KafkaConsumer::new(&brokers(), &prefix, &format!("{prefix}-group")).unwrap();
    let mut got = vec![];
    for _ in 0..60 {
        got = consumer.poll(10).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(
        got.iter().map(|d| d.envelope.clone()).collect::<Vec<_>>(),
        vec![good.clone()],
        "the good event still arrives"
    );
    assert!(matches!(got[0].envelope.event, DomainEvent::StockChanged(StockChanged { on_hand: 3, .. })));
    consumer.ack(got[0].tag).await.unwrap();

    // The poison message sits in the dead-letter topic.
    let dlq: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{prefix}-dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&[&commerce_kafka::dead_letter_topic(&prefix)]).unwrap();
    let parked = tokio::time::timeout(Duration::from_secs(30), dlq.recv()).await.unwrap().unwrap();
    assert_eq!(parked.payload(), Some(&b"{not json"[..]));
}
