//! Conformance suite for an [`EventPublisher`] / [`EventConsumer`] pair (a broker, or
//! the in-process bus): at-least-once delivery, acknowledgements and per-aggregate order.

use crate::{
    events::{DomainEvent, StockChanged},
    ids::ProductId,
    ports::{EventConsumer, EventPublisher},
};

use super::Fixture;

/// Publishes through `publisher` and reads through `consumer`, which must start at
/// the end of what was published before (or on an empty topic).
pub async fn run<P: EventPublisher + ?Sized, C: EventConsumer + ?Sized>(publisher: &P, consumer: &C) {
    let f = Fixture::new();
    let product = ProductId::from_uuid(f.id());
    let events: Vec<_> = (1..=5_u64)
        .map(|n| {
            let mut e = f.envelope(DomainEvent::StockChanged(StockChanged {
                product_id: product,
                on_hand: n,
                reserved: 0,
                available: n,
            }));
            e.aggregate_version = n;
            e
        })
        .collect();
    publisher.publish(&events).await.unwrap_or_else(|e| panic!("publish: {e}"));

    // Without an ack every poll starts again from the first unacknowledged event, so each
    // poll replaces what the previous one returned; a broker may need a few to fill a batch.
    let mut got = vec![];
    for _ in 0..50 {
        got = consumer.poll(2).await.unwrap_or_else(|e| panic!("poll: {e}"));
        if got.len() >= 2 {
            break;
        }
    }
    assert_eq!(got.iter().map(|d| d.envelope.clone()).collect::<Vec<_>>(), events[..2].to_vec(), "first two, in order");
    // Without an ack the same deliveries come again.
    let again = consumer.poll(2).await.unwrap_or_else(|e| panic!("poll: {e}"));
    assert_eq!(
        again.first().map(|d| d.envelope.event_id),
        Some(events[0].event_id),
        "unacknowledged events are redelivered"
    );
    consumer.ack(got[1].tag).await.unwrap_or_else(|e| panic!("ack: {e}"));
    let mut rest = vec![];
    for _ in 0..50 {
        rest = consumer.poll(10).await.unwrap_or_else(|e| panic!("poll: {e}"));
        if rest.len() >= 3 {
            break;
        }
    }
    let versions: Vec<_> = rest.iter().map(|d| d.envelope.aggregate_version).collect();
    assert_eq!(versions, [3, 4, 5], "after the ack, the rest in order");
    if let Some(last) = rest.last() {
        consumer.ack(last.tag).await.unwrap_or_else(|e| panic!("ack: {e}"));
    }
    assert!(consumer.poll(10).await.unwrap_or_else(|e| panic!("poll: {e}")).is_empty(), "nothing left");
}
