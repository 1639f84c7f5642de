//! Domain events and their envelope.
//!
//! Every change to an aggregate emits one event. Events carry the aggregate's
//! full state after the change ("state-carrying"), so a consumer can apply
//! any event on its own and ignore one whose `aggregate_version` is not newer
//! than what it already has: that is what makes projections idempotent and
//! order-tolerant. The wire format is documented in `docs/events.md`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    catalog::{Collection, Product},
    ids::{CollectionId, EventId, ProductId},
    inventory::StockLevel,
    order::OrderSummary,
    timestamp::Timestamp,
};

/// Version of the envelope and payload schemas; bumped on an incompatible change.
pub const SCHEMA_VERSION: u16 = 1;

/// A domain event: `type` names it, `payload` carries the state after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum DomainEvent {
    /// A product was created.
    #[serde(rename = "product.created")]
    ProductCreated(Product),
    /// A product's fields or status changed.
    #[serde(rename = "product.updated")]
    ProductUpdated(Product),
    /// A product was archived (withdrawn from sale).
    #[serde(rename = "product.archived")]
    ProductArchived(Product),
    /// A collection was created.
    #[serde(rename = "collection.created")]
    CollectionCreated(Collection),
    /// A collection changed.
    #[serde(rename = "collection.updated")]
    CollectionUpdated(Collection),
    /// A collection was deleted.
    #[serde(rename = "collection.deleted")]
    CollectionDeleted {
        /// The deleted collection.
        id: CollectionId,
    },
    /// A product's on-hand or reserved units changed.
    #[serde(rename = "stock.changed")]
    StockChanged(StockChanged),
    /// A seller restocked a product: the catalog asks the inventory to set its on-hand units.
    #[serde(rename = "stock.set")]
    StockSet(StockSet),
    /// An order changed status (placed, paid, cancelled, ...).
    #[serde(rename = "order.status_changed")]
    OrderStatusChanged(OrderSummary),
    /// A parcel of an order was sent.
    #[serde(rename = "order.shipment_created")]
    OrderShipmentCreated(ShipmentCreated),
    /// The processor accepted a refund of an order.
    #[serde(rename = "order.refund_issued")]
    OrderRefundIssued(RefundSettled),
    /// The processor refused a refund of an order.
    #[serde(rename = "order.refund_failed")]
    OrderRefundFailed(RefundSettled),
}

/// Payload of `order.refund_issued` and `order.refund_failed`: the refund, and the order's
/// status after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundSettled {
    /// The order.
    pub order_id: crate::ids::OrderId,
    /// The order's status.
    pub status: crate::order::OrderStatus,
    /// The refund (amount, lines, restock, status).
    pub refund: crate::order::Refund,
    /// The order's version after it.
    pub version: u64,
}

/// Payload of `order.shipment_created`: the shipment, and the order's status after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentCreated {
    /// The order.
    pub order_id: crate::ids::OrderId,
    /// `partially_fulfilled` or `fulfilled`.
    pub status: crate::order::OrderStatus,
    /// The shipment (lines, carrier, tracking).
    pub shipment: crate::order::Shipment,
    /// The order's version after it.
    pub version: u64,
}

/// Payload of `stock.changed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChanged {
    /// The product.
    pub product_id: ProductId,
    /// Units in stock.
    pub on_hand: u64,
    /// Units reserved.
    pub reserved: u64,
    /// `on_hand - reserved`.
    pub available: u64,
}

impl From<StockLevel> for StockChanged {
    fn from(l: StockLevel) -> Self {
        Self { product_id: l.product_id, on_hand: l.on_hand, reserved: l.reserved, available: l.available() }
    }
}

/// Payload of `stock.set`: the on-hand units a seller counted. The envelope's
/// `aggregate_version` is the product's restock number in the catalog, so the
/// inventory applies each restock once and never an older one after a newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockSet {
    /// The product.
    pub product_id: ProductId,
    /// Units in stock.
    pub on_hand: u64,
}

/// The kind of aggregate an event belongs to; also the topic family on a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateType {
    /// Products.
    Product,
    /// Collections.
    Collection,
    /// Stock of one product.
    Stock,
    /// Orders.
    Order,
    /// Seller restocks of one product, on their way from the catalog to the inventory.
    Restock,
}

impl AggregateType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Collection => "collection",
            Self::Stock => "stock",
            Self::Order => "order",
            Self::Restock => "restock",
        }
    }
}

impl DomainEvent {
    /// The aggregate this event belongs to: its type, id and version after the change.
    pub fn aggregate(&self) -> (AggregateType, Uuid, u64) {
        match self {
            Self::ProductCreated(p) | Self::ProductUpdated(p) | Self::ProductArchived(p) => {
                (AggregateType::Product, p.id.as_uuid(), p.version.get())
            }
            Self::CollectionCreated(c) | Self::CollectionUpdated(c) => {
                (AggregateType::Collection, c.id.as_uuid(), c.version.get())
            }
            // A deleted collection has no further versions; u64::MAX makes the delete win.
            Self::CollectionDeleted { id } => (AggregateType::Collection, id.as_uuid(), u64::MAX),
            Self::StockChanged(s) => (AggregateType::Stock, s.product_id.as_uuid(), 0),
            Self::StockSet(s) => (AggregateType::Restock, s.product_id.as_uuid(), 0),
            Self::OrderStatusChanged(o) => (AggregateType::Order, o.id.as_uuid(), o.version),
            Self::OrderShipmentCreated(s) => (AggregateType::Order, s.order_id.as_uuid(), s.version),
            Self::OrderRefundIssued(r) | Self::OrderRefundFailed(r) => {
                (AggregateType::Order, r.order_id.as_uuid(), r.version)
            }
        }
    }

    /// The wire name of the event type, e.g. `product.created`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ProductCreated(_) => "product.created",
            Self::ProductUpdated(_) => "product.updated",
            Self::ProductArchived(_) => "product.archived",
            Self::CollectionCreated(_) => "collection.created",
            Self::CollectionUpdated(_) => "collection.updated",
            Self::CollectionDeleted { .. } => "collection.deleted",
            Self::StockChanged(_) => "stock.changed",
            Self::StockSet(_) => "stock.set",
            Self::OrderStatusChanged(_) => "order.status_changed",
            Self::OrderShipmentCreated(_) => "order.shipment_created",
            Self::OrderRefundIssued(_) => "order.refund_issued",
            Self::OrderRefundFailed(_) => "order.refund_failed",
        }
    }
}

/// An event with its metadata, as stored in an outbox and sent on a broker.
///
/// ```json
/// {"event_id":"…","aggregate_type":"product","aggregate_id":"…","aggregate_version":3,
///  "occurred_at":"2026-11-27T10:00:00Z","schema_version":1,"type":"product.updated","payload":{…}}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Unique id; consumers may deduplicate on it.
    pub event_id: EventId,
    /// Aggregate family.
    pub aggregate_type: AggregateType,
    /// Aggregate id (the broker partition key).
    pub aggregate_id: Uuid,
    /// Aggregate version after the change; consumers ignore events not newer than what they hold.
    pub aggregate_version: u64,
    /// When the change happened.
    pub occurred_at: Timestamp,
    /// [`SCHEMA_VERSION`] at the time of writing.
    pub schema_version: u16,
    /// The event.
    #[serde(flatten)]
    pub event: DomainEvent,
    /// The W3C `traceparent` of the work that made the change, when it was traced, so
    /// whoever handles the event later continues that trace (the CloudEvents tracing
    /// extension's attribute). Opaque here; absent from the JSON when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl EventEnvelope {
    /// Wraps an event. `stock_version` is used for stock events, whose version
    /// lives in the stock record rather than the payload.
    pub fn new(event_id: EventId, occurred_at: Timestamp, event: DomainEvent) -> Self {
        let (aggregate_type, aggregate_id, aggregate_version) = event.aggregate();
        Self {
            event_id,
            aggregate_type,
            aggregate_id,
            aggregate_version,
            occurred_at,
            schema_version: SCHEMA_VERSION,
            event,
            traceparent: None,
        }
    }

    /// A `stock.changed` envelope for a stock level, versioned by the level's version.
    pub fn stock_changed(event_id: EventId, occurred_at: Timestamp, level: StockLevel) -> Self {
        let mut e = Self::new(event_id, occurred_at, DomainEvent::StockChanged(level.into()));
        e.aggregate_version = level.version;
        e
    }

    /// A `stock.set` envelope for a seller restock, versioned by the product's restock number.
    pub fn stock_set(event_id: EventId, occurred_at: Timestamp, restock: StockSet, restock_version: u64) -> Self {
        let mut e = Self::new(event_id, occurred_at, DomainEvent::StockSet(restock));
        e.aggregate_version = restock_version;
        e
    }
}
