//! The event wire format is a public contract (docs/events.md): pin it.

#![allow(clippy::unwrap_used, reason = "test")]

use commerce_core::{
    Currency, EventId, Money, ProductId, Timestamp,
    catalog::{Attributes, Description, Product, ProductName, ProductStatus, Sku, Version},
    events::{AggregateType, DomainEvent, EventEnvelope, SCHEMA_VERSION, StockSet},
    inventory::StockLevel,
};
use serde_json::json;
use uuid::Uuid;

fn product() -> Product {
    let at = Timestamp::from_unix_micros(1_767_225_600_000_000);
    Product {
        id: ProductId::from_uuid(Uuid::from_u128(1)),
        sku: Sku::parse("TEE-1").unwrap(),
        name: ProductName::parse("Tee").unwrap(),
        description: Description::empty(),
        price: Money::new(1999, Currency::USD).unwrap(),
        collection_id: None,
        attributes: Attributes::default(),
        status: ProductStatus::Active,
        version: Version::new(3),
        created_at: at,
        updated_at: at,
    }
}

#[test]
fn product_event_envelope_shape() {
    let at = Timestamp::from_unix_micros(1_767_225_600_000_000);
    let e = EventEnvelope::new(EventId::from_uuid(Uuid::from_u128(2)), at, DomainEvent::ProductUpdated(product()));
    assert_eq!((e.aggregate_type, e.aggregate_version, e.schema_version), (AggregateType::Product, 3, SCHEMA_VERSION));
    let value = serde_json::to_value(&e).unwrap();
    assert_eq!(
        value,
        json!({
            "event_id": "00000000-0000-0000-0000-000000000002",
            "aggregate_type": "product",
            "aggregate_id": "00000000-0000-0000-0000-000000000001",
            "aggregate_version": 3,
            "occurred_at": "2026-01-01T00:00:00Z",
            "schema_version": 1,
            "type": "product.updated",
            "payload": {
                "id": "00000000-0000-0000-0000-000000000001",
                "sku": "TEE-1",
                "name": "Tee",
                "description": "",
                "price": {"amount": 1999, "currency": "USD"},
                "collection_id": null,
                "attributes": {},
                "status": "active",
                "version": 3,
                "created_at": "2026-01-01T00:00:00Z",
                "updated_at": "2026-01-01T00:00:00Z"
            }
        })
    );
    let back: EventEnvelope = serde_json::from_value(value).unwrap();
    assert_eq!(back, e);
}

#[test]
fn stock_events_carry_the_stock_version() {
    let level =
        StockLevel { product_id: ProductId::from_uuid(Uuid::from_u128(1)), on_hand: 9, reserved: 2, version: 12 };
    let e = EventEnvelope::stock_changed(EventId::from_uuid(Uuid::from_u128(3)), Timestamp::EPOCH, level);
    let value = serde_json::to_value(&e).unwrap();
    assert_eq!(value["type"], "stock.changed");
    assert_eq!(value["aggregate_type"], "stock");
    assert_eq!(value["aggregate_version"], 12);
    assert_eq!(
        value["payload"],
        json!({"product_id": "00000000-0000-0000-0000-000000000001", "on_hand": 9, "reserved": 2, "available": 7})
    );
    assert_eq!(e.event.type_name(), "stock.changed");
}

#[test]
fn restock_events_carry_the_restock_number() {
    let restock = StockSet { product_id: ProductId::from_uuid(Uuid::from_u128(1)), on_hand: 40 };
    let e = EventEnvelope::stock_set(EventId::from_uuid(Uuid::from_u128(4)), Timestamp::EPOCH, restock, 3);
    let value = serde_json::to_value(&e).unwrap();
    assert_eq!(
        value,
        json!({
            "event_id": "00000000-0000-0000-0000-000000000004",
            "aggregate_type": "restock",
            "aggregate_id": "00000000-0000-0000-0000-000000000001",
            "aggregate_version": 3,
            "occurred_at": "1970-01-01T00:00:00Z",
            "schema_version": 1,
            "type": "stock.set",
            "payload": {"product_id": "00000000-0000-0000-0000-000000000001", "on_hand": 40}
        })
    );
    assert_eq!(serde_json::from_value::<EventEnvelope>(value).unwrap(), e);
}

#[test]
fn unknown_event_types_are_rejected_not_misread() {
    let mut value = serde_json::to_value(EventEnvelope::new(
        EventId::from_uuid(Uuid::nil()),
        Timestamp::EPOCH,
        DomainEvent::ProductCreated(product()),
    ))
    .unwrap();
    value["type"] = json!("product.exploded");
    assert!(serde_json::from_value::<EventEnvelope>(value).is_err());
}
