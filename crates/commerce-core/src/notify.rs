//! Customer notifications: which order events tell the customer something, and the
//! message each becomes.
//!
//! [`trigger`] picks the events (an order paid, a parcel sent, a paid order cancelled, a
//! refund issued); [`NotificationService`](crate::services::notifications::NotificationService)
//! reads the order, has a [`MessageRenderer`](crate::ports::MessageRenderer) write the
//! message from templates and a [`Mailer`](crate::ports::Mailer) send it, once per event.

use serde::{Deserialize, Serialize};

use crate::{
    events::{DomainEvent, EventEnvelope},
    ids::{EventId, OrderId, OrderRefundId, ShipmentId},
    order::{Email, Order, OrderStatus, Refund, Shipment},
    timestamp::Timestamp,
    validation::InvalidValue,
};

/// What a message tells the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The order is paid.
    OrderConfirmed,
    /// A parcel is on its way.
    ShipmentSent,
    /// An operator cancelled the paid order; the money is on its way back.
    OrderCancelled,
    /// Part of the order was refunded.
    RefundIssued,
}

impl NoticeKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [Self::OrderConfirmed, Self::ShipmentSent, Self::OrderCancelled, Self::RefundIssued];

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| InvalidValue::Other(format!("unknown notification kind {raw:?}")))
    }

    /// The wire name (`order_confirmed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmed => "order_confirmed",
            Self::ShipmentSent => "shipment_sent",
            Self::OrderCancelled => "order_cancelled",
            Self::RefundIssued => "refund_issued",
        }
    }
}

/// An event that notifies a customer, before the order is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// The order.
    pub order_id: OrderId,
    /// What to tell.
    pub kind: NoticeKind,
    /// The parcel (for `ShipmentSent`).
    pub shipment: Option<ShipmentId>,
    /// The refund (for `RefundIssued`).
    pub refund: Option<OrderRefundId>,
}

/// The notification an event calls for, if any: `order.status_changed` to `paid` (order
/// confirmed) or to `cancelled` (told only when the order was paid, see [`notice`]),
/// `order.shipment_created`, and `order.refund_issued`.
pub fn trigger(envelope: &EventEnvelope) -> Option<Trigger> {
    let plain = |order_id, kind| Trigger { order_id, kind, shipment: None, refund: None };
    match &envelope.event {
        DomainEvent::OrderStatusChanged(s) if s.status == OrderStatus::Paid => {
            Some(plain(s.id, NoticeKind::OrderConfirmed))
        }
        DomainEvent::OrderStatusChanged(s) if s.status == OrderStatus::Cancelled => {
            Some(plain(s.id, NoticeKind::OrderCancelled))
        }
        DomainEvent::OrderShipmentCreated(s) => {
            Some(Trigger { shipment: Some(s.shipment.id), ..plain(s.order_id, NoticeKind::ShipmentSent) })
        }
        DomainEvent::OrderRefundIssued(r) => {
            Some(Trigger { refund: Some(r.refund.id), ..plain(r.order_id, NoticeKind::RefundIssued) })
        }
        _ => None,
    }
}

/// A customer notification, with everything its templates show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The event it answers (the message's identity).
    pub event_id: EventId,
    /// What it tells.
    pub kind: NoticeKind,
    /// The order as it stands.
    pub order: Order,
    /// The parcel, for `ShipmentSent`.
    pub shipment: Option<Shipment>,
    /// The refund, for `RefundIssued` (and the cancellation's refund for `OrderCancelled`).
    pub refund: Option<Refund>,
}

/// The notice `trigger` calls for on `order`, or `None` when nothing is to be told after
/// all: a cancellation of an order that was never paid (the customer was told at checkout),
/// or the refund of a cancellation (the cancellation's message tells it).
pub fn notice(event_id: EventId, trigger: &Trigger, order: Order) -> Option<Notice> {
    let cancellation_refund = order.cancellation.as_ref().and_then(|c| c.refund_id);
    let (shipment, refund) = match trigger.kind {
        NoticeKind::OrderConfirmed => (None, None),
        NoticeKind::OrderCancelled => {
            order.cancellation.as_ref()?;
            (None, cancellation_refund.and_then(|id| order.refund(id).cloned()))
        }
        NoticeKind::ShipmentSent => {
            let id = trigger.shipment?;
            (Some(order.shipments.iter().find(|s| s.id == id)?.clone()), None)
        }
        NoticeKind::RefundIssued => {
            let id = trigger.refund?;
            if cancellation_refund == Some(id) {
                return None;
            }
            (None, Some(order.refund(id)?.clone()))
        }
    };
    Some(Notice { event_id, kind: trigger.kind, order, shipment, refund })
}

/// A message as rendered from a notice's templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Who sends the shop's messages: an address whose domain also names the messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    address: Email,
    name: Option<String>,
}

impl Sender {
    /// `MAIL_FROM`: `shop@example.com` or `Shop <shop@example.com>`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        match raw.rsplit_once('<') {
            Some((name, rest)) => {
                let address = rest.strip_suffix('>').ok_or_else(|| InvalidValue::Other("must end with '>'".into()))?;
                let name = name.trim().trim_matches('"').trim();
                if name.chars().any(char::is_control) {
                    return Err(InvalidValue::Other("the name must not contain control characters".into()));
                }
                Ok(Self { address: Email::parse(address)?, name: (!name.is_empty()).then(|| name.to_owned()) })
            }
            None => Ok(Self { address: Email::parse(raw)?, name: None }),
        }
    }

    /// The address.
    pub fn address(&self) -> &Email {
        &self.address
    }

    /// The display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The `Message-ID` of the message answering `event`: the same for every attempt, so
    /// a message sent again after a crash is the same message to the receiving side.
    pub fn message_id(&self, event: EventId) -> String {
        let domain = self.address.as_str().rsplit_once('@').map_or("commerce.invalid", |(_, d)| d);
        format!("<{event}@{domain}>")
    }
}

/// A message ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `<event id@sender domain>`.
    pub message_id: String,
    /// The sender.
    pub from: Sender,
    /// The customer.
    pub to: Email,
    /// What it is about (for logs and the delivery record).
    pub kind: NoticeKind,
    /// Subject and bodies.
    pub content: Rendered,
}

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// It may go through later (the server is unreachable, busy, or answered 4xx): retry.
    #[error("delivery failed for now: {0}")]
    Transient(String),
    /// It never will (a 5xx answer: no such mailbox, refused content): dead-letter it.
    #[error("delivery refused: {0}")]
    Permanent(String),
}

/// What became of a notification, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Delivered {
    /// The mail server took it.
    Sent,
    /// It failed for good.
    DeadLettered {
        /// The server's answer.
        reason: String,
    },
}

impl Delivered {
    /// As a store keeps it: `sent`, or `dead_lettered` and the reason.
    pub fn to_parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Sent => ("sent", None),
            Self::DeadLettered { reason } => ("dead_lettered", Some(reason)),
        }
    }

    /// Back from [`Delivered::to_parts`].
    pub fn from_parts(outcome: &str, reason: Option<String>) -> Self {
        if outcome == "sent" { Self::Sent } else { Self::DeadLettered { reason: reason.unwrap_or_default() } }
    }
}

/// One entry of the delivery log: an event's message, sent or given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The event (one message per event).
    pub event_id: EventId,
    /// The order.
    pub order_id: OrderId,
    /// What it told.
    pub kind: NoticeKind,
    /// Its `Message-ID`.
    pub message_id: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: Delivered,
    /// When.
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_name_their_messages() {
        let sender = Sender::parse("Mug Shop <orders@shop.example>").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((sender.address().as_str(), sender.name()), ("orders@shop.example", Some("Mug Shop")));
        let event = EventId::from_uuid(uuid::Uuid::from_u128(7));
        assert_eq!(sender.message_id(event), format!("<{event}@shop.example>"));
        assert!(Sender::parse("orders@shop.example").is_ok_and(|s| s.name().is_none()));
        assert!(Sender::parse("Shop <nope>").is_err());
        assert!(Sender::parse("Sh\nop <a@b.c>").is_err());
    }
}
