//! Orders beyond the checkout's happy path, over the memory adapters in given/when/then
//! form: 3-D Secure challenges and the processor's notices, shipping and tax, and the
//! saga's checkpoints.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly on unexpected errors")]

mod common;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use commerce_core::{
    catalog::Version,
    events::{DomainEvent, EventEnvelope},
    idempotency::ClientKey,
    ids::OrderId,
    order::{CheckoutOutcome, FailureReason, Order, OrderStatus, PaymentState},
    payment::{DeclineReason, NoticeKind, PaymentNotice},
    ports::{OrderQuery, OrderStore, StalledClaim, StoreError},
    services::{checkout::CheckoutError, payment_notices::NoticeOutcome, recovery::RecoveryPolicy},
};
use commerce_memory::MemoryOrderStore;
use common::{ACTION_CARD, DECLINED_CARD, GOOD_CARD, TestShop};
use futures::executor::block_on;

/// The customer's side of a 3-D Secure challenge, and the processor's notice of it.
fn notice(order: &Order, event_id: &str) -> PaymentNotice {
    let PaymentState::ActionRequired { authorization_id, .. } = &order.payment else {
        panic!("order {} waits for no challenge: {:?}", order.id, order.payment);
    };
    PaymentNotice {
        event_id: event_id.into(),
        kind: NoticeKind::AuthorizationChanged,
        authorization_id: authorization_id.clone(),
        order_id: Some(order.id),
    }
}

#[test]
fn a_card_asking_for_authentication_holds_the_stock_until_its_customer_answers() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;

        // Given an order waiting for its customer's challenge,
        let waiting = shop.when_checkout(&[(tee.id, 2)], ACTION_CARD).await.unwrap().order;
        assert_eq!((waiting.status, waiting.failure), (OrderStatus::AwaitingCustomerAction, None));
        assert!(waiting.next_action_url().is_some_and(|url| url.starts_with("https://")));
        assert!(matches!(waiting.checkout_outcome(), CheckoutOutcome::ActionRequired { .. }));
        assert_eq!(shop.on_hand(tee.id).await, (5, 2), "the stock is held meanwhile");
        let notice = notice(&waiting, "evt_1");
        assert_eq!(
            shop.payment_notices.accept(&notice).await,
            Ok(NoticeOutcome::Applied { order_id: waiting.id, status: OrderStatus::AwaitingCustomerAction }),
            "a notice before the customer answered changes nothing"
        );

        // when the customer passes and the processor says so,
        let PaymentState::ActionRequired { authorization_id, .. } = &waiting.payment else { unreachable!() };
        assert!(shop.gateway.inner.complete_action(authorization_id, true));
        let notice = PaymentNotice { event_id: "evt_2".into(), ..notice };
        let woken = shop.payment_notices.accept(&notice).await;

        // then the order completes, once.
        assert_eq!(woken, Ok(NoticeOutcome::Applied { order_id: waiting.id, status: OrderStatus::Paid }));
        assert_eq!(shop.payment_notices.accept(&notice).await, Ok(NoticeOutcome::Duplicate), "a redelivery");
        let paid = shop.orders.order_for_customer(waiting.id, "").await;
        assert!(paid.is_err(), "the customer still needs the token");
        shop.sync().await;
        assert_eq!(shop.on_hand(tee.id).await, (3, 0));
        assert_eq!(shop.gateway.inner.stats(Some(&waiting.id.to_string())).captures, 1);
        let foreign = PaymentNotice { event_id: "evt_3".into(), order_id: None, ..notice };
        assert_eq!(shop.payment_notices.accept(&foreign).await, Ok(NoticeOutcome::NotOurs));
    });
}

#[test]
fn a_failed_or_unanswered_challenge_releases_the_stock_and_charges_nothing() {
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        let failed = shop.when_checkout(&[(tee.id, 1)], ACTION_CARD).await.unwrap().order;
        let unanswered = shop.when_checkout(&[(tee.id, 1)], ACTION_CARD).await.unwrap().order;
        let PaymentState::ActionRequired { authorization_id, .. } = &failed.payment else { unreachable!() };
        assert!(shop.gateway.inner.complete_action(authorization_id, false));

        // The webhook of the failure was lost: the recovery job polls the processor.
        let policy = RecoveryPolicy { resume_after_secs: 30, abandon_after_secs: 600, batch: 10, lease_secs: 60 };
        shop.clock.advance_secs(31);
        shop.recovery.run_once(policy).await.unwrap();
        let failed = shop.orders.order(failed.id).await.unwrap();
        assert_eq!(
            (failed.status, failed.failure),
            (
                OrderStatus::PaymentFailed,
                Some(FailureReason::PaymentDeclined { reason: DeclineReason::AuthenticationRequired })
            )
        );
        assert_eq!(shop.orders.order(unanswered.id).await.unwrap().status, OrderStatus::AwaitingCustomerAction);

        // Past the abandon time, an unanswered challenge is given up: its authorisation cancelled.
        shop.clock.advance_secs(600);
        shop.recovery.run_once(policy).await.unwrap();
        let unanswered = shop.orders.order(unanswered.id).await.unwrap();
        assert_eq!(
            (unanswered.status, unanswered.failure),
            (OrderStatus::PaymentFailed, Some(FailureReason::PaymentActionRequired))
        );
        assert!(matches!(unanswered.payment, PaymentState::Voided { .. }));
        shop.sync().await;
        assert_eq!(shop.on_hand(tee.id).await, (5, 0));
        let stats = shop.gateway.inner.stats(None);
        assert_eq!((stats.captures, stats.open_authorizations), (0, 0));
    });
}

/// A shop that ships: an address and a method are required, and the total is the
/// subtotal plus shipping plus tax by the destination's rates.
#[test]
fn a_shipped_order_is_charged_its_subtotal_shipping_and_tax() {
    use commerce_core::{
        address::ShippingAddressInput, catalog::MoneyInput, pricing::ShippingMethodInput,
        services::pricing::TaxRateInput,
    };
    block_on(async {
        let shop = TestShop::new();
        let tee = shop.given_product("TEE-1", 1999, 5).await;
        // Before any shipping method exists, an order without an address costs its subtotal.
        let digital = shop.when_checkout(&[(tee.id, 1)], GOOD_CARD).await.unwrap().order;
        assert_eq!((digital.total.amount(), digital.shipping.is_none()), (1999, true));

        let method = shop
            .pricing
            .create_shipping_method(&ShippingMethodInput {
                name: "DHL Paket".into(),
                countries: vec!["DE".into()],
                price: MoneyInput { amount: 499, currency: "USD".into() },
                free_above: Some(MoneyInput { amount: 10_000, currency: "USD".into() }),
                active: None,
            })
            .await
            .unwrap();
        shop.pricing
            .create_tax_rate(&TaxRateInput { country: "DE".into(), collection_id: None, rate_bps: 1900 })
            .await
            .unwrap();
        let address = |country: &str| ShippingAddressInput {
            name: "Ada Lovelace".into(),
            line1: "Unter den Linden 1".into(),
            city: "Berlin".into(),
            postal_code: Some("10117".into()),
            country: country.into(),
            ..ShippingAddressInput::default()
        };
        let checkout = |address: Option<ShippingAddressInput>, method: Option<String>| {
            let mut input = common::checkout_input(&[(tee.id, 2)], GOOD_CARD);
            input.shipping_address = address;
            input.shipping_method_id = method;
            let key = ClientKey::parse(&format!("ship-{}", uuid::Uuid::new_v4())).unwrap();
            let shop = &shop;
            async move { shop.checkout.place_order(&key, &input).await.result }
        };

        let fields = |e: CheckoutError| match e {
            CheckoutError::Validation(v) => v.errors().iter().map(|f| f.field.clone()).collect::<Vec<_>>(),
            other => panic!("expected a validation error, got {other}"),
        };
        assert_eq!(fields(checkout(None, None).await.unwrap_err()), ["shipping_address"]);
        assert_eq!(fields(checkout(Some(address("DE")), None).await.unwrap_err()), ["shipping_method_id"]);
        let to_france = checkout(Some(address("FR")), Some(method.id.to_string())).await.unwrap_err();
        assert_eq!(fields(to_france), ["shipping_method_id"], "the method does not ship to France");

        let order = checkout(Some(address("DE")), Some(method.id.to_string())).await.unwrap().order;
        let charges = order.charges.clone().unwrap();
        assert_eq!(charges.subtotal.amount(), 3998);
        assert_eq!(charges.shipping_total.amount(), 499);
        assert_eq!(order.lines[0].tax.unwrap().amount(), 760, "39.98 * 19 % = 7.5962");
        assert_eq!(charges.shipping_tax.amount(), 95, "4.99 * 19 % = 0.9481");
        assert_eq!(charges.tax_total.amount(), 760 + 95);
        assert_eq!(order.total.amount(), 3998 + 499 + 855);
        assert_eq!(order.status, OrderStatus::Paid);
        let captured = shop.gateway.inner.stats(Some(&order.id.to_string()));
        assert_eq!(captured.captures, 1);
        assert_eq!(order.shipping.as_ref().unwrap().method.as_ref().unwrap().name, "DHL Paket");

        // A later rate change leaves the order as it was charged.
        let rates = shop.pricing.tax_rates().await.unwrap();
        shop.pricing.delete_tax_rate(rates[0].id).await.unwrap();
        let stored = shop.orders.order(order.id).await.unwrap();
        assert_eq!((stored.total, stored.charges), (order.total, order.charges));
    });
}

/// Orders that record each write, `(insert?, the statuses its events announce)`, and
/// count reads.
struct Recorded {
    inner: Arc<MemoryOrderStore>,
    writes: Mutex<Vec<(bool, Vec<OrderStatus>)>>,
    reads: AtomicUsize,
}

impl Recorded {
    fn note(&self, insert: bool, events: &[EventEnvelope]) {
        let statuses = events
            .iter()
            .filter_map(|e| match &e.event {
                DomainEvent::OrderStatusChanged(summary) => Some(summary.status),
                _ => None,
            })
            .collect();
        self.writes.lock().unwrap().push((insert, statuses));
    }

    fn take(&self) -> Vec<(bool, Vec<OrderStatus>)> {
        std::mem::take(&mut self.writes.lock().unwrap())
    }
}

#[async_trait::async_trait]
impl OrderStore for Recorded {
    async fn insert(&self, o: &Order, e: &[EventEnvelope]) -> Result<(), StoreError> {
        self.inner.insert(o, e).await?;
        self.note(true, e);
        Ok(())
    }
    async fn update(&self, o: &Order, v: Version, e: &[EventEnvelope]) -> Result<(), StoreError> {
        self.inner.update(o, v, e).await?;
        self.note(false, e);
        Ok(())
    }
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(&self, q: &OrderQuery) -> Result<Vec<Order>, StoreError> {
        self.inner.list(q).await
    }
    async fn claim_stalled(&self, claim: &StalledClaim) -> Result<Vec<Order>, StoreError> {
        self.inner.claim_stalled(claim).await
    }
}

#[test]
fn the_saga_writes_its_order_before_each_card_call_and_once_at_the_end_with_every_status_event() {
    use OrderStatus::{Cancelled, Paid, PaymentAuthorized, PaymentFailed, Pending, StockReserved};
    block_on(async {
        let orders = Arc::new(Recorded {
            inner: Arc::new(MemoryOrderStore::new()),
            writes: Mutex::default(),
            reads: AtomicUsize::new(0),
        });
        let shop = TestShop::with(|b| b.orders(orders.clone()));
        let tee = shop.given_product("TEE-1", 1999, 5).await;

        // A paid order: inserted before any stock is held, written before the authorisation
        // and before the capture, and once paid with its stock committed; no status change
        // goes unannounced.
        let paid = shop.when_checkout(&[(tee.id, 1)], GOOD_CARD).await.unwrap().order;
        assert_eq!(paid.status, Paid);
        assert_eq!(
            orders.take(),
            [
                (true, vec![Pending]),
                (false, vec![StockReserved]),
                (false, vec![PaymentAuthorized]),
                (false, vec![Paid])
            ]
        );
        assert_eq!(shop.on_hand(tee.id).await, (4, 0));
        assert_eq!(orders.reads.load(Ordering::SeqCst), 0, "a key's first claim looks for no earlier order");

        // A declined card: written before the authorisation, then once compensated.
        let declined = shop.when_checkout(&[(tee.id, 1)], DECLINED_CARD).await.unwrap().order;
        assert_eq!(declined.status, PaymentFailed);
        assert_eq!(orders.take(), [(true, vec![Pending]), (false, vec![StockReserved]), (false, vec![PaymentFailed])]);

        // Out of stock: no card call, so one write after the insert, cancelled.
        let short = shop.when_checkout(&[(tee.id, 9)], GOOD_CARD).await.unwrap().order;
        assert_eq!(short.status, Cancelled);
        assert_eq!(orders.take(), [(true, vec![Pending]), (false, vec![Cancelled])]);
        assert_eq!(shop.on_hand(tee.id).await, (4, 0), "nothing stays held");
    });
}
