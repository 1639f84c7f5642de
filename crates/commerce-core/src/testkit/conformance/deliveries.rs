//! Conformance suite for [`DeliveryLog`].

use std::future::Future;

use super::Fixture;
use crate::{
    ids::{EventId, OrderId},
    notify::{Delivered, DeliveryRecord, NoticeKind},
    ports::DeliveryLog,
};

/// Runs every case against fresh logs from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: DeliveryLog,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    the_first_record_of_an_event_wins(&make().await).await;
}

async fn the_first_record_of_an_event_wins(log: &impl DeliveryLog) {
    let f = Fixture::new();
    let event = EventId::from_uuid(f.id());
    let sent = DeliveryRecord {
        event_id: event,
        order_id: OrderId::from_uuid(f.id()),
        kind: NoticeKind::ShipmentSent,
        message_id: format!("<{event}@shop.example>"),
        outcome: Delivered::Sent,
        at: f.now(),
    };
    assert_eq!(log.delivery(event).await, Ok(None), "deliveries: nothing recorded yet");
    log.record(&sent).await.unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!(log.delivery(event).await, Ok(Some(sent.clone())), "deliveries: read back");
    let later =
        DeliveryRecord { outcome: Delivered::DeadLettered { reason: "550 no such user".into() }, ..sent.clone() };
    log.record(&later).await.unwrap_or_else(|e| panic!("record again: {e}"));
    assert_eq!(log.delivery(event).await, Ok(Some(sent)), "deliveries: the first record stays");
    let other = EventId::from_uuid(f.id());
    let dead = DeliveryRecord { event_id: other, message_id: format!("<{other}@shop.example>"), ..later };
    log.record(&dead).await.unwrap_or_else(|e| panic!("record: {e}"));
    assert_eq!(log.delivery(other).await, Ok(Some(dead)), "deliveries: a dead letter keeps its reason");
}
