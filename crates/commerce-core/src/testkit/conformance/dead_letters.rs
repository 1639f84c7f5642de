//! Conformance suite for a [`DeadLetterStore`] and the [`Outbox`] its replays go to.

use std::future::Future;

use crate::{
    deadletter::{DeadLetterId, OUTBOX_SOURCE, ParkedContent, ParkedEvent},
    events::{DomainEvent, StockSet},
    ids::ProductId,
    ports::{DeadLetterStore, EventPublisher, Outbox, StoreError},
};

use super::Fixture;

fn restock(f: &Fixture, source: &str) -> ParkedEvent {
    let mut event =
        f.envelope(DomainEvent::StockSet(StockSet { product_id: ProductId::from_uuid(f.id()), on_hand: 2 }));
    event.aggregate_version = 7;
    ParkedEvent {
        source: source.to_owned(),
        consumer: Some("inventory-restocks".into()),
        reason: "restock to 2 is below the 3 units reserved".into(),
        parked_at: f.now(),
        content: ParkedContent::Event(Box::new(event)),
    }
}

/// Runs every case against fresh stores from `make`: each a dead-letter store and the
/// outbox its replays go to (a view of the same database, or the same memory), which
/// also appends events as a publisher.
pub async fn run<D, O, F, Fut>(mut make: F)
where
    D: DeadLetterStore,
    O: Outbox + EventPublisher,
    F: FnMut() -> Fut,
    Fut: Future<Output = (D, O)>,
{
    let f = Fixture::new();
    let (s, _) = make().await;
    assert_eq!(s.count().await, Ok(0), "dead letters: none at first");
    assert_eq!(s.dead_letters(None, 10).await, Ok(vec![]), "dead letters: an empty list");
    assert_eq!(s.dead_letter(DeadLetterId::new(1)).await, Ok(None), "dead letters: no such letter");

    let from_outbox = restock(&f, OUTBOX_SOURCE);
    let from_broker = restock(&f, "shop.restock/2/41");
    let undecodable = ParkedEvent {
        source: "shop.order/0/9".into(),
        consumer: None,
        reason: "does not decode: expected value at line 1".into(),
        parked_at: f.now(),
        content: ParkedContent::Undecodable("{not json \u{e9}".into()),
    };
    for (event, what) in [(&from_outbox, "outbox"), (&from_outbox, "outbox again"), (&from_broker, "broker")] {
        assert_eq!(s.park(event).await, Ok(true), "dead letters: park from the {what}");
    }
    assert_eq!(s.park(&from_broker).await, Ok(false), "dead letters: a broker message is parked once");
    assert_eq!(s.park(&undecodable).await, Ok(true), "dead letters: an undecodable message is parked");
    assert_eq!(s.count().await, Ok(4), "dead letters: counted");

    let all = s.dead_letters(None, 10).await.unwrap_or_else(|e| panic!("list: {e}"));
    let parked: Vec<_> = all.iter().map(|l| l.parked.clone()).collect();
    assert_eq!(parked, [from_outbox.clone(), from_outbox.clone(), from_broker.clone(), undecodable], "in order, whole");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "dead letters: numbered in parking order");
    let page = s.dead_letters(Some(all[1].id), 1).await.unwrap_or_else(|e| panic!("page: {e}"));
    assert_eq!(page, all[2..3].to_vec(), "dead letters: a page after a number");
    assert_eq!(s.dead_letter(all[3].id).await, Ok(Some(all[3].clone())), "dead letters: one by number");

    // Replay: the same event goes back to the outbox, once.
    let (s, outbox) = make().await;
    assert_eq!(s.park(&from_broker).await, Ok(true), "replay: parked");
    let letter = s.dead_letters(None, 1).await.unwrap_or_else(|e| panic!("list: {e}")).remove(0);
    let event = from_broker.event().unwrap_or_else(|| unreachable!()).clone();
    s.requeue(letter.id, &event).await.unwrap_or_else(|e| panic!("requeue: {e}"));
    assert_eq!(s.dead_letter(letter.id).await, Ok(None), "replay: the letter is gone");
    assert_eq!(s.requeue(letter.id, &event).await, Err(StoreError::NotFound), "replay: only once");
    let records = outbox.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}"));
    let again: Vec<_> = records.iter().filter(|r| r.envelope.event_id == event.event_id).collect();
    assert_eq!(again.len(), 1, "replay: the event is in the outbox again, under its id");
    assert_eq!(again[0].envelope.event, event.event, "replay: the same event");

    // Replay of an event whose outbox record is still there, already published: it is
    // delivered again, once.
    let (s, outbox) = make().await;
    let parked = restock(&f, "shop.restock/0/3");
    let event = parked.event().unwrap_or_else(|| unreachable!()).clone();
    outbox.publish(std::slice::from_ref(&event)).await.unwrap_or_else(|e| panic!("append: {e}"));
    let first = outbox.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}"));
    let positions: Vec<u64> = first.iter().map(|r| r.position).collect();
    outbox.mark_published(&positions).await.unwrap_or_else(|e| panic!("mark: {e}"));
    assert_eq!(outbox.claim(10).await.map(|r| r.len()), Ok(0), "replay: published");
    assert_eq!(s.park(&parked).await, Ok(true), "replay: parked after publication");
    let letter = s.dead_letters(None, 1).await.unwrap_or_else(|e| panic!("list: {e}")).remove(0);
    s.requeue(letter.id, &event).await.unwrap_or_else(|e| panic!("requeue: {e}"));
    let again = outbox.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}"));
    assert_eq!(
        again.iter().map(|r| r.envelope.event_id).collect::<Vec<_>>(),
        [event.event_id],
        "replay: a published event is delivered again, once"
    );

    // Discard.
    assert_eq!(s.park(&from_outbox).await, Ok(true), "discard: parked");
    let letter = s.dead_letters(None, 1).await.unwrap_or_else(|e| panic!("list: {e}")).remove(0);
    assert_eq!(s.discard(letter.id).await, Ok(()), "discard");
    assert_eq!(s.discard(letter.id).await, Err(StoreError::NotFound), "discard: only once");
    assert_eq!(s.count().await, Ok(0), "discard: nothing left");
}
