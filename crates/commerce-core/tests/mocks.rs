//! The mockall mocks (feature `mocks`) let rules be tested against port failures
//! that real adapters rarely produce on demand.

#![allow(clippy::unwrap_used, reason = "test")]

use std::sync::Arc;

use commerce_core::{
    Timestamp,
    catalog::{MoneyInput, ProductInput},
    ports::{MockClock, MockCollectionStore, MockIdGenerator, MockProductStore, MockRestockLog, StoreError},
    services::{
        Env,
        catalog::{CatalogError, CatalogService},
    },
};
use futures::executor::block_on;

fn env() -> Env {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(Timestamp::EPOCH);
    let mut ids = MockIdGenerator::new();
    ids.expect_new_id().returning(uuid::Uuid::now_v7);
    Env::new(Arc::new(clock), Arc::new(ids))
}

fn catalog(products: MockProductStore) -> CatalogService {
    CatalogService::from_ports(
        Arc::new(products),
        Arc::new(MockCollectionStore::new()),
        Arc::new(MockRestockLog::new()),
        env(),
    )
}

fn input() -> ProductInput {
    ProductInput {
        sku: "TEE-1".into(),
        name: "Tee".into(),
        price: MoneyInput { amount: 100, currency: "EUR".into() },
        ..ProductInput::default()
    }
}

#[test]
fn store_outages_surface_as_unavailable_and_duplicates_as_duplicate() {
    for (failure, expected) in [
        (StoreError::Unavailable("connection reset".into()), CatalogError::Unavailable("connection reset".into())),
        (StoreError::Duplicate("sku TEE-1".into()), CatalogError::Duplicate("sku TEE-1".into())),
    ] {
        let mut store = MockProductStore::new();
        store.expect_insert_product().times(1).returning(move |_, _| Err(failure.clone()));
        let service = catalog(store);
        assert_eq!(block_on(service.create_product(&input())), Err(expected));
    }
}

#[test]
fn a_product_and_its_event_are_written_in_one_call() {
    let mut store = MockProductStore::new();
    store
        .expect_insert_product()
        .withf(|p, events| {
            events.len() == 1
                && events[0].aggregate_id == p.id.as_uuid()
                && events[0].event.type_name() == "product.created"
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let service = catalog(store);
    let p = block_on(service.create_product(&input())).unwrap();
    assert_eq!(p.sku.as_str(), "TEE-1");
}
