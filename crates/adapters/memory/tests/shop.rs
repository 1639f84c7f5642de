//! The use cases end to end over the memory adapters, in given/when/then form.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly on unexpected errors")]

mod common;

use std::sync::{Arc, atomic::Ordering};

use commerce_core::{
    EventId, ProductId, Timestamp,
    catalog::{MoneyInput, ProductInput, ProductPatchInput, Version},
    events::{EventEnvelope, StockSet},
    idempotency::ClientKey,
    inventory::OnHand,
    order::{FailureReason, OrderStatus, PaymentState, StockState},
    payment::{CardInput, DeclineReason},
    ports::EventPublisher,
    query::{ProductQuery, ProductQueryParams},
    services::{
        catalog::CatalogError,
        checkout::{CheckoutError, CheckoutInput, CheckoutItemInput, CheckoutObserver, ReplyKind},
        events::Projector,
        recovery::RecoveryPolicy,
        storefront::{StorefrontError, StorefrontService},
    },
    testkit::units,
};
use commerce_memory::MemoryReadModel;
use common::{DECLINED_CARD, GOOD_CARD, NO_FUNDS_CARD, TestShop};
use futures::executor::block_on;

#[test]
fn a_created_product_is_listed_with_its_stock() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 7).await;
        let view = shop.listed(tee.id).await.unwrap();
        assert_eq!((view.available_stock, view.price.amount()), (7, 1999));
        let page = shop
            .storefront
            .list(&ProductQueryParams { q: Some("tee".into()), ..Default::default() }.validate().unwrap())
            .await
            .unwrap();
        assert_eq!(page.items.iter().map(|v| v.id).collect::<Vec<_>>(), [tee.id]);
    });
}

#[test]
fn drafts_are_not_listed_and_archived_products_disappear() {
    block_on(async {
        let shop = TestShop::new();
        let draft = shop
            .catalog
            .create_product(&ProductInput {
                sku: "DRAFT-1".into(),
                name: "Draft".into(),
                price: MoneyInput { amount: 1, currency: "USD".into() },
                ..ProductInput::default()
            })
            .await
            .unwrap();
        let live = shop.given_product("LIVE-1", 500, 1).await;
        shop.sync().await;
        assert_eq!(shop.listed(draft.id).await, Err(StorefrontError::NotFound));
        shop.catalog.archive_product(live.id, Some(live.version)).await.unwrap();
        shop.sync().await;
        assert_eq!(shop.listed(live.id).await, Err(StorefrontError::NotFound));
    });
}

#[test]
fn duplicate_skus_and_stale_versions_are_refused() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 1).await;
        let dup = ProductInput {
            sku: "TEE-1".into(),
            name: "Other".into(),
            price: MoneyInput { amount: 1, currency: "USD".into() },
            ..ProductInput::default()
        };
        assert!(matches!(shop.catalog.create_product(&dup).await, Err(CatalogError::Duplicate(_))));

        let rename = ProductPatchInput { name: Some("Better tee".into()), ..Default::default() };
        let renamed = shop.catalog.update_product(tee.id, &rename, Some(tee.version)).await.unwrap();
        assert_eq!(renamed.version, Version::new(2));
        let stale = shop.catalog.update_product(tee.id, &rename, Some(tee.version)).await;
        assert_eq!(stale, Err(CatalogError::VersionMismatch { expected: Version::INITIAL, actual: Version::new(2) }));

        let bad = ProductPatchInput { collection_id: Some(Some(uuid::Uuid::nil().to_string())), ..Default::default() };
        let Err(CatalogError::Validation(errors)) = shop.catalog.update_product(tee.id, &bad, None).await else {
            panic!("unknown collection must be a validation error");
        };
        assert_eq!(errors.errors()[0].field, "collection_id");
    });
}

#[test]
fn a_good_card_pays_and_the_listed_stock_goes_down() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        let placed = shop.when_checkout(&[(tee.id, 2)], GOOD_CARD).await.unwrap();
        let order = &placed.order;
        assert_eq!((order.status, order.stock), (OrderStatus::Paid, StockState::Committed));
        assert_eq!(order.total.amount(), 3998);
        assert_eq!((order.payment_method.last4.as_str(), order.lines[0].name.as_str()), ("4242", "Product TEE-1"));
        assert!(matches!(order.payment, PaymentState::Captured { .. }));
        assert_eq!(shop.on_hand(tee.id).await, (3, 0));
        assert_eq!(shop.listed(tee.id).await.unwrap().available_stock, 3);
        assert_eq!(shop.gateway.inner.stats(Some(&order.id.to_string())).captures, 1);

        // The customer reads the order back with its token; nobody else can.
        assert_eq!(shop.orders.order_for_customer(order.id, &placed.access_token).await.unwrap().id, order.id);
        assert_eq!(shop.orders.order_for_customer(order.id, "guess").await, Err(CheckoutError::NotFound));
    });
}

#[test]
fn declined_cards_release_the_stock_and_capture_nothing() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        for (card, reason) in
            [(DECLINED_CARD, DeclineReason::CardDeclined), (NO_FUNDS_CARD, DeclineReason::InsufficientFunds)]
        {
            let order = shop.when_checkout(&[(tee.id, 2)], card).await.unwrap().order;
            assert_eq!(order.status, OrderStatus::PaymentFailed);
            assert_eq!(order.failure, Some(FailureReason::PaymentDeclined { reason }));
            assert_eq!(order.stock, StockState::Released);
        }
        assert_eq!(shop.on_hand(tee.id).await, (5, 0));
        assert_eq!(shop.listed(tee.id).await.unwrap().available_stock, 5);
        let stats = shop.gateway.inner.stats(None);
        assert_eq!((stats.captures, stats.open_authorizations), (0, 0));
    });
}

#[test]
fn insufficient_stock_cancels_without_charging() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 1).await;
        let mug = shop.given_product("MUG-1", 900, 10).await;
        let order = shop.when_checkout(&[(mug.id, 1), (tee.id, 2)], GOOD_CARD).await.unwrap().order;
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!(order.failure, Some(FailureReason::OutOfStock { product_id: tee.id, requested: 2, available: 1 }));
        assert_eq!(shop.on_hand(mug.id).await, (10, 0), "all or nothing: the mug is not held either");
        assert_eq!(shop.gateway.inner.stats(None).authorizations, 0, "nothing was charged");
    });
}

#[test]
fn invalid_checkouts_name_every_bad_field() {
    block_on(async {
        let shop = TestShop::new();
        let input = CheckoutInput {
            email: "not-an-email".into(),
            items: vec![CheckoutItemInput { product_id: "nope".into(), quantity: 0 }],
            card: Some(CardInput {
                number: "4242 4242 4242 4241".into(),
                exp_month: 13,
                exp_year: 2030,
                cvc: "1".into(),
            }),
            payment_method: None,
            shipping_address: None,
            shipping_method_id: None,
        };
        let key = ClientKey::parse("invalid").unwrap();
        let Err(CheckoutError::Validation(errors)) = shop.checkout.place_order(&key, &input).await.result else {
            panic!("expected validation errors");
        };
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["email", "card.number", "card.exp_month", "card.cvc", "items[0].product_id", "items[0].quantity"]
        );
    });
}

#[test]
fn an_order_stranded_by_an_outage_is_finished_by_the_recovery_job() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        shop.gateway.down.store(true, Ordering::SeqCst);
        let pending = shop.when_checkout(&[(tee.id, 1)], GOOD_CARD).await.unwrap().order;
        assert_eq!(pending.status, OrderStatus::StockReserved, "the outage suspends the saga after the order exists");
        let id = pending.id;
        assert_eq!(shop.on_hand(tee.id).await, (5, 1), "stock stays held while the order is pending");

        shop.gateway.down.store(false, Ordering::SeqCst);
        shop.clock.advance_secs(60);
        let report = shop.recovery.run_once(RecoveryPolicy::default()).await.unwrap();
        assert_eq!((report.examined, report.completed), (1, 1));
        let query = commerce_core::ports::OrderQuery { status: None, limit: 10, after: None };
        let orders = shop.orders.list_orders(&query).await.unwrap().items;
        assert_eq!((orders[0].id, orders[0].status), (id, OrderStatus::Paid));
        assert_eq!(shop.on_hand(tee.id).await, (4, 0));
    });
}

#[test]
fn an_abandoned_order_is_compensated() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        shop.gateway.down.store(true, Ordering::SeqCst);
        let pending = shop.when_checkout(&[(tee.id, 2)], GOOD_CARD).await.unwrap().order;
        assert!(!pending.status.is_final());
        shop.gateway.down.store(false, Ordering::SeqCst);
        shop.clock.advance_secs(700);
        let report = shop.recovery.run_once(RecoveryPolicy::default()).await.unwrap();
        assert_eq!((report.examined, report.compensated), (1, 1));
        assert_eq!(shop.on_hand(tee.id).await, (5, 0));
        let stats = shop.gateway.inner.stats(None);
        assert_eq!((stats.captures, stats.open_authorizations), (0, 0), "the resolved hold was voided");
    });
}

#[test]
fn replaying_the_event_log_rebuilds_the_same_read_model() {
    block_on(async {
        let shop = TestShop::new();
        // The bus keeps events until every group read them: a group made now keeps them all.
        let from_start = shop.adapters.bus.consumer("rebuild");
        let a = shop.given_product("A-1", 100, 3).await;
        let b = shop.given_product("B-1", 200, 0).await;
        shop.when_checkout(&[(a.id, 1)], GOOD_CARD).await.unwrap();
        let rebuilt = Arc::new(MemoryReadModel::new());
        let projector = Projector::new(rebuilt.clone());
        while projector.step(&from_start, 7).await.unwrap() > 0 {}
        let fresh = StorefrontService::new(rebuilt);
        for id in [a.id, b.id] {
            assert_eq!(fresh.product(id).await, shop.listed(id).await);
        }
        assert_eq!(fresh.product(a.id).await.unwrap().available_stock, 2);
    });
}

#[test]
fn the_sweeper_expires_lapsed_reservations_and_publishes_the_stock() {
    use commerce_core::{
        ReservationId,
        inventory::{Quantity, ReservationLine, ReservationRequest},
    };
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        let line = ReservationLine { product_id: tee.id, quantity: Quantity::new(4).unwrap() };
        let id = ReservationId::from_uuid(uuid::Uuid::from_u128(9));
        let expires_at = commerce_core::ports::Clock::now(&*shop.clock).plus_seconds(60);
        shop.inventory.reserve(&ReservationRequest::new(id, vec![line], expires_at).unwrap()).await.unwrap();
        shop.sync().await;
        assert_eq!(shop.listed(tee.id).await.unwrap().available_stock, 1);
        assert_eq!(shop.inventory.expire_due(10).await.unwrap(), 0, "not due yet");
        shop.clock.advance_secs(61);
        assert_eq!(shop.inventory.expire_due(10).await.unwrap(), 1);
        shop.sync().await;
        assert_eq!(shop.listed(tee.id).await.unwrap().available_stock, 5);
    });
}

#[test]
fn the_storefront_shows_live_stock_and_falls_back_to_the_projection() {
    use commerce_core::{inventory::InventoryError, ports::MockInventoryStore};
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        // Stock changes in the inventory but is not yet projected.
        shop.inventory.set_on_hand(tee.id, units(2)).await.unwrap();
        let read = shop.storefront.clone();
        assert_eq!(read.product(tee.id).await.unwrap().available_stock, 5, "projected");
        let live = read.clone().with_live_stock(shop.adapters.inventory.clone());
        assert_eq!(live.product(tee.id).await.unwrap().available_stock, 2, "live from the inventory");
        let page = live.list(&ProductQuery::default()).await.unwrap();
        assert_eq!(page.items[0].available_stock, 2);

        let mut down = MockInventoryStore::new();
        down.expect_stock().returning(|_| Err(InventoryError::Unavailable("timeout".into())));
        let degraded = read.with_live_stock(Arc::new(down));
        assert_eq!(
            degraded.product(tee.id).await.unwrap().available_stock,
            5,
            "an inventory outage shows the projection"
        );
    });
}

#[test]
fn restocks_travel_as_events_and_a_refused_one_is_parked() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 2).await;
        // Given a checkout holding both units,
        shop.gateway.down.store(true, Ordering::SeqCst);
        let _ = shop.when_checkout(&[(tee.id, 2)], GOOD_CARD).await;
        assert_eq!(shop.on_hand(tee.id).await, (2, 2));

        // when the seller restocks through the catalog (twice, the second overtaking the first),
        let first = shop.catalog.request_restock(tee.id, units(10)).await.unwrap();
        let second = shop.catalog.request_restock(tee.id, units(12)).await.unwrap();
        assert_eq!((first.restock, second.restock), (1, 2));
        shop.sync().await;
        // then the inventory holds the last one and the storefront lists what is free of it.
        assert_eq!(shop.on_hand(tee.id).await, (12, 2));
        assert_eq!(shop.listed(tee.id).await.unwrap().available_stock, 10);

        // A restock below the units held is refused by the inventory and parked, with the reason.
        shop.catalog.request_restock(tee.id, units(1)).await.unwrap();
        shop.sync().await;
        assert_eq!(shop.on_hand(tee.id).await, (12, 2));
        let parked = shop.adapters.bus.dead_letters();
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].0.aggregate_version, 3);
        assert!(parked[0].1.contains("reserved"), "reason: {}", parked[0].1);

        // A restock above the domain's ceiling (another producer's) is parked too, untouched.
        let huge = StockSet { product_id: tee.id, on_hand: OnHand::MAX + 1 };
        let event = EventEnvelope::stock_set(EventId::from_uuid(uuid::Uuid::from_u128(77)), Timestamp::EPOCH, huge, 9);
        shop.adapters.bus.publish(&[event]).await.unwrap();
        shop.sync().await;
        assert_eq!(shop.on_hand(tee.id).await, (12, 2));
        let parked = shop.adapters.bus.dead_letters();
        assert_eq!(parked.len(), 2);
        assert!(parked[1].1.contains("on_hand"), "reason: {}", parked[1].1);

        // Restocking an unknown product is refused by the catalog.
        let unknown = ProductId::from_uuid(uuid::Uuid::from_u128(42));
        assert_eq!(shop.catalog.request_restock(unknown, units(1)).await, Err(CatalogError::ProductNotFound));
    });
}

/// Records the kinds it is told of.
#[derive(Default)]
struct Tally(std::sync::Mutex<Vec<ReplyKind>>);

impl CheckoutObserver for Tally {
    fn observe(&self, kind: ReplyKind) {
        self.0.lock().unwrap().push(kind);
    }
}

#[test]
fn every_checkout_reply_is_told_to_the_observer_by_kind() {
    block_on(async {
        let tally = Arc::new(Tally::default());
        let shop = TestShop::with(|b| b.checkout_observer(tally.clone()));
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        shop.when_checkout(&[(tee.id, 1)], GOOD_CARD).await.unwrap();
        shop.when_checkout(&[(tee.id, 1)], NO_FUNDS_CARD).await.unwrap();
        let _ = shop.when_checkout(&[(tee.id, 0)], GOOD_CARD).await;
        let key = ClientKey::parse("replayed-key").unwrap();
        let input = common::checkout_input(&[(tee.id, 1)], GOOD_CARD);
        shop.checkout.place_order(&key, &input).await;
        let replay = shop.checkout.place_order(&key, &input).await;
        assert!(replay.replayed);
        assert_eq!(
            *tally.0.lock().unwrap(),
            [
                ReplyKind::Paid,
                ReplyKind::Declined(Some(DeclineReason::InsufficientFunds)),
                ReplyKind::Invalid,
                ReplyKind::Paid,
                ReplyKind::Replayed,
            ]
        );
        assert_eq!(ReplyKind::Declined(None).as_str(), "declined");
    });
}
