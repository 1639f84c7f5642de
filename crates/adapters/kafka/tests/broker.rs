//! The Kafka adapters against a real Kafka-protocol broker (`scripts/broker` starts
//! tansu on 127.0.0.1:9092; `KAFKA_BROKERS` points elsewhere). Each test uses its own
//! topic prefix and consumer group. A missing broker fails the test loudly.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use std::{collections::HashSet, sync::Arc, time::Duration};

use commerce_core::{
    EventId, ProductId, ReservationId, Timestamp,
    events::{AggregateType, DomainEvent, EventEnvelope, StockChanged, StockSet},
    inventory::{Quantity, ReservationLine, ReservationRequest},
    ports::{EventConsumer, EventPublisher, InventoryStore},
    services::events::{RestockStep, Restocker},
    testkit::conformance,
};
use commerce_kafka::{DEFAULT_SESSION_TIMEOUT, KafkaConsumer, KafkaPublisher, topic};
use commerce_memory::MemoryInventoryStore;
use common::{brokers, fresh_topics};
use rdkafka::{
    ClientConfig, Message as _,
    consumer::{Consumer, StreamConsumer},
    message::{Headers as _, OwnedMessage},
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

/// The first message in the dead-letter topic under `prefix`.
async fn first_dead_letter(prefix: &str) -> OwnedMessage {
    let dlq: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("{prefix}-dlq-reader"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    dlq.subscribe(&[&commerce_kafka::dead_letter_topic(prefix)]).unwrap();
    tokio::time::timeout(Duration::from_secs(30), dlq.recv()).await.unwrap().unwrap().detach()
}

#[tokio::test]
async fn publisher_and_consumer_pass_the_events_conformance_suite() {
    let prefix = fresh_topics(2).await;
    let publisher = KafkaPublisher::new(brokers(), &prefix).unwrap();
    let consumer = KafkaConsumer::new(brokers(), &prefix, &format!("{prefix}-group")).unwrap();
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
    KafkaPublisher::new(brokers(), &prefix).unwrap().publish(std::slice::from_ref(&good)).await.unwrap();

    let consumer = KafkaConsumer::new(brokers(), &prefix, &format!("{prefix}-group")).unwrap();
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
    let parked = first_dead_letter(&prefix).await;
    assert_eq!(parked.payload(), Some(&b"{not json"[..]));
}

/// Steps `restocker` until it has received `n` events, summing what it did.
async fn restock_until(restocker: &Restocker, consumer: &KafkaConsumer, n: usize) -> RestockStep {
    let mut total = RestockStep::default();
    for _ in 0..60 {
        let step = restocker.step(consumer, 100).await.unwrap();
        total.received += step.received;
        total.applied += step.applied;
        total.refused += step.refused;
        if total.received >= n {
            break;
        }
    }
    total
}

#[tokio::test]
async fn restocks_reach_the_inventory_once_and_a_refused_one_is_parked_with_its_reason() {
    let prefix = fresh_topics(2).await;
    let product = ProductId::from_uuid(uuid::Uuid::now_v7());
    let set = |on_hand: u64, number: u64| {
        let restock = StockSet { product_id: product, on_hand };
        EventEnvelope::stock_set(EventId::from_uuid(uuid::Uuid::now_v7()), Timestamp::EPOCH, restock, number)
    };
    let publisher = KafkaPublisher::new(brokers(), &prefix).unwrap();
    // Restock 1 arrives twice (a relay retried it); a stock event on its own topic is not read.
    let level = commerce_core::inventory::StockLevel { product_id: product, on_hand: 99, reserved: 0, version: 9 };
    let other = EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::now_v7()), Timestamp::EPOCH, level);
    publisher.publish(&[set(5, 1), set(5, 1), other, set(9, 2)]).await.unwrap();

    let store = Arc::new(MemoryInventoryStore::new());
    let restocker = Restocker::with_transactional_events(store.clone());
    let group = format!("{prefix}-inventory");
    let consumer =
        KafkaConsumer::subscribed(brokers(), &prefix, &group, &[AggregateType::Restock], DEFAULT_SESSION_TIMEOUT)
            .unwrap();
    let done = restock_until(&restocker, &consumer, 3).await;
    assert_eq!((done.received, done.applied, done.refused), (3, 2, 0), "only the restock topic, each number once");
    assert_eq!(store.stock(&[product]).await.unwrap()[0].on_hand, 9);

    // Checkouts hold 4 units; a restock to 2 can never apply.
    let line = ReservationLine { product_id: product, quantity: Quantity::new(4).unwrap() };
    let hold = ReservationRequest::new(
        ReservationId::from_uuid(uuid::Uuid::now_v7()),
        vec![line],
        Timestamp::from_unix_micros(i64::MAX / 2),
    )
    .unwrap();
    store.reserve(&hold).await.unwrap();
    let refused = set(2, 3);
    publisher.publish(&[refused.clone(), set(12, 4)]).await.unwrap();
    let done = restock_until(&restocker, &consumer, 2).await;
    assert_eq!((done.received, done.applied, done.refused), (2, 1, 1), "the refusal does not block the next");
    assert_eq!(store.stock(&[product]).await.unwrap()[0].on_hand, 12);

    let parked = first_dead_letter(&prefix).await;
    let envelope: EventEnvelope = serde_json::from_slice(parked.payload().unwrap()).unwrap();
    assert_eq!(envelope, refused);
    let reason = parked.headers().and_then(|h| h.iter().find(|h| h.key == "reason")).and_then(|h| h.value).unwrap();
    assert!(String::from_utf8_lossy(reason).contains("below the 4 units reserved"), "reason header");
}

/// Polls until `consumer` hands out something (a rebalance may take a few seconds).
async fn poll_some(consumer: &KafkaConsumer) -> Vec<commerce_core::ports::Delivery> {
    for _ in 0..60 {
        let got = consumer.poll(100).await.unwrap_or_else(|e| panic!("poll: {e}"));
        if !got.is_empty() {
            return got;
        }
    }
    panic!("nothing delivered within the time a rebalance takes");
}

/// A member holding unacknowledged deliveries loses some partitions to a new member: it
/// keeps polling (it used to seek the revoked partitions on every poll, and fail), and
/// between them the two members deliver every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_partition_never_blocks_later_polls() {
    let prefix = fresh_topics(4).await;
    let events: Vec<EventEnvelope> = (0..40)
        .map(|n| {
            let product = ProductId::from_uuid(uuid::Uuid::now_v7());
            let level =
                commerce_core::inventory::StockLevel { product_id: product, on_hand: n, reserved: 0, version: 1 };
            EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::now_v7()), Timestamp::EPOCH, level)
        })
        .collect();
    KafkaPublisher::new(brokers(), &prefix).unwrap().publish(&events).await.unwrap();
    let group = format!("{prefix}-group");
    let session = Duration::from_secs(6);
    let first = KafkaConsumer::with_session_timeout(brokers(), &prefix, &group, session).unwrap();
    let held = poll_some(&first).await;
    assert!(!held.is_empty());

    // A second member joins; the group rebalances while the first holds deliveries unacked
    // (each of its polls rewinds them, to deliver them again).
    let seen = std::sync::Mutex::new(held.iter().map(|d| d.envelope.event_id).collect::<HashSet<_>>());
    let second_received = std::sync::atomic::AtomicBool::new(false);
    let second = KafkaConsumer::with_session_timeout(brokers(), &prefix, &group, session).unwrap();
    let first_member = async {
        let mut polls_after = 0;
        for _ in 0..120 {
            // Every poll succeeds, revoked partitions or not.
            let batch = first.poll(100).await.unwrap_or_else(|e| panic!("first member after the rebalance: {e}"));
            seen.lock().unwrap().extend(batch.iter().map(|d| d.envelope.event_id));
            if second_received.load(std::sync::atomic::Ordering::SeqCst) {
                polls_after += 1;
                if polls_after >= 3 {
                    break;
                }
            }
        }
        assert!(polls_after >= 3, "the first member polls on after the rebalance");
        let last = first.poll(100).await.unwrap().last().map(|d| d.tag);
        if let Some(tag) = last {
            first.ack(tag).await.unwrap();
        }
    };
    let second_member = async {
        for _ in 0..120 {
            let batch = second.poll(100).await.unwrap_or_else(|e| panic!("second member: {e}"));
            if let Some(last) = batch.last() {
                second.ack(last.tag).await.unwrap();
                second_received.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            seen.lock().unwrap().extend(batch.iter().map(|d| d.envelope.event_id));
            if second_received.load(std::sync::atomic::Ordering::SeqCst) && seen.lock().unwrap().len() >= events.len() {
                break;
            }
        }
    };
    tokio::join!(first_member, second_member);
    assert!(second_received.into_inner(), "the rebalance gave the second member partitions");
    let seen = seen.into_inner().unwrap();
    assert!(events.iter().all(|e| seen.contains(&e.event_id)), "between them the members deliver every event");
}

/// A consumer that assigns itself every partition passes the same suite, and one started
/// after it in the same group resumes from what it acknowledged: the offsets are the
/// group's even though neither joined it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_assigned_consumer_commits_to_its_group_and_the_next_resumes_there() {
    let prefix = fresh_topics(3).await;
    let publisher = KafkaPublisher::new(brokers(), &prefix).unwrap();
    let group = format!("{prefix}-group");
    let aggregates = commerce_kafka::READ_MODEL_AGGREGATES;
    conformance::events::run(&publisher, &KafkaConsumer::assigned(brokers(), &prefix, &group, &aggregates).unwrap())
        .await;

    let stock = |n: u64| {
        let level = commerce_core::inventory::StockLevel {
            product_id: ProductId::from_uuid(uuid::Uuid::now_v7()),
            on_hand: n,
            reserved: 0,
            version: 1,
        };
        EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::now_v7()), Timestamp::EPOCH, level)
    };
    let first_batch: Vec<EventEnvelope> = (0..10).map(stock).collect();
    publisher.publish(&first_batch).await.unwrap();
    let first = KafkaConsumer::assigned(brokers(), &prefix, &format!("{group}-2"), &aggregates).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..60 {
        let batch = first.poll(100).await.unwrap();
        seen.extend(batch.iter().map(|d| d.envelope.event_id));
        if let Some(last) = batch.last() {
            first.ack(last.tag).await.unwrap();
        }
        if first_batch.iter().all(|e| seen.contains(&e.event_id)) {
            break;
        }
    }
    assert!(first_batch.iter().all(|e| seen.contains(&e.event_id)), "the first consumer reads every event");
    // The asynchronous commit reaches the broker before the consumer goes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(first);

    let second_batch: Vec<EventEnvelope> = (10..15).map(stock).collect();
    publisher.publish(&second_batch).await.unwrap();
    let second = KafkaConsumer::assigned(brokers(), &prefix, &format!("{group}-2"), &aggregates).unwrap();
    let mut after = HashSet::new();
    for _ in 0..60 {
        let batch = second.poll(100).await.unwrap();
        after.extend(batch.iter().map(|d| d.envelope.event_id));
        if second_batch.iter().all(|e| after.contains(&e.event_id)) {
            break;
        }
    }
    assert!(second_batch.iter().all(|e| after.contains(&e.event_id)), "the second reads what came after");
    assert!(first_batch.iter().all(|e| !after.contains(&e.event_id)), "and nothing the first acknowledged");
}
