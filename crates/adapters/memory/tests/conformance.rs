//! The memory adapters against every conformance suite of commerce-core.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly on unexpected errors")]

use commerce_core::{
    payment::{CardDetails, CardExpiry, CardNumber, Cvc},
    testkit::conformance,
    timestamp::Timestamp,
};
use commerce_memory::{
    MemoryCatalogStore, MemoryEventBus, MemoryIdempotencyStore, MemoryInventoryStore, MemoryOrderStore,
    MemoryPaymentGateway, MemoryReadModel,
};
use futures::executor::block_on;

#[test]
fn product_store_and_its_outbox() {
    block_on(conformance::products::run_with_outbox(|| async { MemoryCatalogStore::new() }));
}

#[test]
fn collection_store() {
    block_on(conformance::collections::run(|| async { MemoryCatalogStore::new() }));
}

#[test]
fn restock_log() {
    block_on(conformance::restock_log::run_with_outbox(|| async { MemoryCatalogStore::new() }));
}

#[test]
fn read_model() {
    block_on(conformance::read_model::run(|| async { MemoryReadModel::new() }));
}

#[test]
fn view_replica() {
    block_on(conformance::replica::view_replica(|| async { MemoryReadModel::new() }));
}

#[test]
fn inventory_store() {
    block_on(conformance::inventory::run(|| async { MemoryInventoryStore::new() }));
}

#[test]
fn restock_store() {
    block_on(conformance::restock::run(|| async { MemoryInventoryStore::new() }));
}

#[test]
fn order_store() {
    block_on(conformance::orders::run(|| async { MemoryOrderStore::new() }));
}

#[test]
fn idempotency_store() {
    block_on(conformance::idempotency::run(|| async { MemoryIdempotencyStore::default() }));
}

#[test]
fn payment_gateway() {
    let now = Timestamp::from_unix_micros(1_767_225_600_000_000);
    let number = CardNumber::parse("4242 4242 4242 4242").unwrap();
    let card = CardDetails {
        cvc: Cvc::parse("123", number.brand()).unwrap(),
        expiry: CardExpiry::parse(12, 2030, now).unwrap(),
        number,
    };
    let gateway = MemoryPaymentGateway::new();
    block_on(conformance::payment::run(&gateway, &card, "first"));
    // The same gateway passes again under fresh keys: nothing leaks between keys.
    block_on(conformance::payment::run(&gateway, &card, "second"));

    // Retention: records younger than the retention stay, older ones go.
    assert_eq!(gateway.prune(std::time::Duration::from_secs(3600)), 0);
    assert!(gateway.stats(None).authorizations > 0);
    assert!(gateway.prune(std::time::Duration::ZERO) > 0);
    let stats = gateway.stats(None);
    assert_eq!((stats.authorizations, stats.captures, stats.open_authorizations), (0, 0, 0), "nothing is kept forever");
    // Pruned, the gateway still works (and passes again).
    block_on(conformance::payment::run(&gateway, &card, "third"));
}

#[test]
fn event_bus() {
    let bus = MemoryEventBus::new();
    let consumer = bus.consumer("conformance");
    block_on(conformance::events::run(&bus, &consumer));
}

#[test]
fn shipping_methods_and_tax_rates() {
    block_on(conformance::pricing::shipping_methods(|| async { commerce_memory::MemoryPricingStore::new() }));
    block_on(conformance::pricing::tax_rates(|| async { commerce_memory::MemoryPricingStore::new() }));
}

#[test]
fn delivery_log() {
    block_on(conformance::deliveries::run(|| async { commerce_memory::MemoryDeliveryLog::new() }));
}

#[test]
fn dead_letters_and_their_way_back_to_the_outbox() {
    block_on(conformance::dead_letters::run(|| async {
        let outbox = commerce_memory::MemoryOutbox::default();
        (commerce_memory::MemoryDeadLetters::new(outbox.clone()), outbox)
    }));
}
