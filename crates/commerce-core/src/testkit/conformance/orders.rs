//! Conformance suite for [`OrderStore`].

use std::future::Future;

use crate::{
    catalog::{ProductName, Sku, Version},
    events::DomainEvent,
    ids::OrderRefundId,
    ids::{OrderId, ProductId},
    inventory::Quantity,
    money::{Currency, Money},
    order::{Email, Order, OrderLine, OrderStatus, PaymentState, RefundRefused, RefundRequest, StepResult, StockState},
    payment::{AuthorizationId, AuthorizationOutcome, CaptureId, CardBrand, PaymentMethod, PaymentToken},
    ports::{OrderQuery, OrderStore, Outbox, StalledClaim, StoreError},
    timestamp::Timestamp,
};

use super::Fixture;

/// A pending order with one line, created at `at`.
pub fn pending_order(id: OrderId, at: Timestamp) -> Order {
    let price = Money::new(1250, Currency::EUR).unwrap_or_else(|_| unreachable!());
    let quantity = Quantity::new(2).unwrap_or_else(|_| unreachable!());
    let total = price.checked_mul(2).unwrap_or_else(|_| unreachable!());
    Order {
        id,
        email: Email::parse("buyer@example.com").unwrap_or_else(|_| unreachable!()),
        lines: vec![OrderLine {
            product_id: ProductId::from_uuid(uuid::Uuid::from_u128(42)),
            sku: Sku::parse("MUG-1").unwrap_or_else(|_| unreachable!()),
            name: ProductName::parse("Mug").unwrap_or_else(|_| unreachable!()),
            unit_price: price,
            quantity,
            line_total: total,
            tax: None,
        }],
        total,
        charges: None,
        shipping: None,
        shipments: vec![],
        refunds: vec![],
        cancellation: None,
        payment_method: PaymentMethod {
            token: PaymentToken("tok_1".into()),
            brand: CardBrand::Visa,
            last4: "4242".into(),
        },
        access_token_sha256: Order::hash_access_token("secret"),
        status: OrderStatus::Pending,
        stock: StockState::NotReserved,
        payment: PaymentState::NotAuthorized,
        failure: None,
        version: Version::INITIAL,
        created_at: at,
        updated_at: at,
    }
}

/// An order like [`pending_order`], paid: captured (25.00 EUR), its stock committed.
pub fn paid_order(id: OrderId, at: Timestamp) -> Order {
    let mut order = pending_order(id, at);
    let authorization_id = AuthorizationId("auth_1".into());
    for step in [
        StepResult::Reserved,
        StepResult::Authorization(AuthorizationOutcome::Authorized { authorization_id }),
        StepResult::Captured(CaptureId("cap_1".into())),
        StepResult::StockCommitted,
    ] {
        order.apply(step, at);
    }
    order
}

/// [`run`], plus the events' contract for a store that is also the outbox its writes
/// append to: exactly the events of committed writes, in order, several per write.
pub async fn run_with_outbox<S, F, Fut>(mut make: F)
where
    S: OrderStore + Outbox,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    events_are_written_with_the_change(&make().await).await;
    run(make).await;
}

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: OrderStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    insert_get_and_duplicate(&make().await).await;
    updates_are_optimistic(&make().await).await;
    list_newest_first_by_status(&make().await).await;
    stalled_finds_old_unfinished_orders(&make().await).await;
    claims_are_leased_to_one_claimer(&make().await).await;
    concurrent_refunds_never_exceed_the_capture(&make().await).await;
}

async fn events_are_written_with_the_change<S: OrderStore + Outbox>(s: &S) {
    let f = Fixture::new();
    let o = pending_order(OrderId::from_uuid(f.id()), f.now());
    let placed = f.envelope(DomainEvent::OrderStatusChanged(o.summary()));
    let mut reserved = o.clone();
    reserved.apply(StepResult::Reserved, f.now());
    let held = f.envelope(DomainEvent::OrderStatusChanged(reserved.summary()));
    s.insert(&reserved, &[placed.clone(), held.clone()]).await.unwrap_or_else(|e| panic!("insert: {e}"));

    // Refused writes append nothing: a duplicate insert, a stale update, an unknown order.
    let lost = f.envelope(DomainEvent::OrderStatusChanged(o.summary()));
    assert!(matches!(s.insert(&o, &[lost]).await, Err(StoreError::Duplicate(_))));
    let mut paid = reserved.clone();
    paid.apply(
        StepResult::Authorization(AuthorizationOutcome::Authorized {
            authorization_id: AuthorizationId("auth_1".into()),
        }),
        f.now(),
    );
    let authorized = f.envelope(DomainEvent::OrderStatusChanged(paid.summary()));
    paid.apply(StepResult::Captured(CaptureId("cap_1".into())), f.now());
    let captured = f.envelope(DomainEvent::OrderStatusChanged(paid.summary()));
    let stale = f.envelope(DomainEvent::OrderStatusChanged(paid.summary()));
    assert!(matches!(s.update(&paid, o.version, &[stale]).await, Err(StoreError::VersionConflict { .. })));
    let ghost = pending_order(OrderId::from_uuid(f.id()), f.now());
    let unknown = f.envelope(DomainEvent::OrderStatusChanged(ghost.summary()));
    assert_eq!(s.update(&ghost, Version::INITIAL, &[unknown]).await, Err(StoreError::NotFound));
    s.update(&paid, reserved.version, &[authorized.clone(), captured.clone()])
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));

    let batch = s.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}"));
    let events: Vec<_> = batch.iter().map(|r| r.envelope.clone()).collect();
    assert_eq!(
        events,
        vec![placed, held, authorized, captured],
        "orders: the outbox holds the committed events, in order"
    );
    assert!(batch.windows(2).all(|w| w[0].position < w[1].position), "orders: outbox positions increase");
}

async fn insert_get_and_duplicate(s: &impl OrderStore) {
    let f = Fixture::new();
    let o = pending_order(OrderId::from_uuid(f.id()), f.now());
    s.insert(&o, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    assert_eq!(s.get(o.id).await, Ok(Some(o.clone())), "orders: read back");
    assert!(matches!(s.insert(&o, &[]).await, Err(StoreError::Duplicate(_))), "orders: duplicate id");
    assert_eq!(s.get(OrderId::from_uuid(f.id())).await, Ok(None), "orders: unknown id");
}

async fn updates_are_optimistic(s: &impl OrderStore) {
    let f = Fixture::new();
    let o = pending_order(OrderId::from_uuid(f.id()), f.now());
    s.insert(&o, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    let mut next = o.clone();
    next.apply(StepResult::Reserved, f.now());
    s.update(&next, o.version, &[]).await.unwrap_or_else(|e| panic!("update: {e}"));
    assert_eq!(
        s.update(&next, o.version, &[]).await,
        Err(StoreError::VersionConflict { expected: o.version, actual: next.version }),
        "orders: a second runner with the old version loses"
    );
    assert_eq!(s.get(o.id).await, Ok(Some(next)), "orders: update persisted");
    let ghost = pending_order(OrderId::from_uuid(f.id()), f.now());
    assert_eq!(s.update(&ghost, Version::INITIAL, &[]).await, Err(StoreError::NotFound), "orders: update unknown");
}

async fn list_newest_first_by_status(s: &impl OrderStore) {
    let f = Fixture::new();
    let mut all = vec![];
    for i in 0..5 {
        let mut o = pending_order(OrderId::from_uuid(f.id()), f.now());
        if i % 2 == 0 {
            o.apply(StepResult::Reserved, f.now());
        }
        s.insert(&o, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
        all.push(o);
    }
    all.reverse();
    let page1 =
        s.list(&OrderQuery { status: None, limit: 3, after: None }).await.unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(page1, all[..3].to_vec(), "orders: newest first");
    let page2 = s
        .list(&OrderQuery { status: None, limit: 3, after: page1.last().map(|o| o.id) })
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(page2, all[3..].to_vec(), "orders: second page");
    let reserved = s
        .list(&OrderQuery { status: Some(OrderStatus::StockReserved), limit: 10, after: None })
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    let expected: Vec<_> = all.iter().filter(|o| o.status == OrderStatus::StockReserved).cloned().collect();
    assert_eq!(reserved, expected, "orders: status filter");
}

async fn stalled_finds_old_unfinished_orders(s: &impl OrderStore) {
    let f = Fixture::new();
    let old = pending_order(OrderId::from_uuid(f.id()), f.now());
    let mut old_final = pending_order(OrderId::from_uuid(f.id()), f.now());
    old_final.status = OrderStatus::Cancelled;
    // Paid but the stock not yet committed: the saga still has work.
    let mut paid_uncommitted = pending_order(OrderId::from_uuid(f.id()), f.now());
    paid_uncommitted.status = OrderStatus::Paid;
    paid_uncommitted.stock = StockState::Reserved;
    // Paid with the stock committed: settled, nothing for recovery to do.
    let mut paid_settled = paid_uncommitted.clone();
    paid_settled.id = OrderId::from_uuid(f.id());
    paid_settled.stock = StockState::Committed;
    f.clock.advance_secs(100);
    let recent = pending_order(OrderId::from_uuid(f.id()), f.now());
    for o in [&old, &old_final, &paid_uncommitted, &paid_settled, &recent] {
        s.insert(o, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    }
    let claim = StalledClaim {
        updated_before: f.now().plus_seconds(-50),
        now: f.now(),
        lease_until: f.now().plus_seconds(60),
        limit: 10,
    };
    let stalled = s.claim_stalled(&claim).await.unwrap_or_else(|e| panic!("claim: {e}"));
    let ids: Vec<_> = stalled.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![old.id, paid_uncommitted.id], "orders: only old, unsettled orders are stalled");
}

/// Recovery jobs of several replicas claim at once: each order goes to one of them, and
/// to none other until its lease lapses.
async fn claims_are_leased_to_one_claimer(s: &impl OrderStore) {
    let f = Fixture::new();
    let mut ids = vec![];
    for _ in 0..12 {
        let o = pending_order(OrderId::from_uuid(f.id()), f.now());
        s.insert(&o, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
        ids.push(o.id);
    }
    f.clock.advance_secs(100);
    let now = f.now();
    let claim = |limit| StalledClaim { updated_before: now, now, lease_until: now.plus_seconds(60), limit };
    let each = claim(5);
    let claims = futures::future::join3(s.claim_stalled(&each), s.claim_stalled(&each), s.claim_stalled(&each)).await;
    let mut claimed: Vec<OrderId> = [claims.0, claims.1, claims.2]
        .into_iter()
        .flat_map(|r| r.unwrap_or_else(|e| panic!("claim: {e}")))
        .map(|o| o.id)
        .collect();
    let total = claimed.len();
    claimed.sort();
    claimed.dedup();
    assert_eq!(claimed.len(), total, "orders: no order is claimed twice while leased");
    assert_eq!(total, 12, "orders: together the claimers get every stalled order");
    assert_eq!(s.claim_stalled(&claim(50)).await, Ok(vec![]), "orders: leased orders are not claimed again");
    let later = now.plus_seconds(61);
    let after_lapse =
        StalledClaim { updated_before: later, now: later, lease_until: later.plus_seconds(60), limit: 50 };
    let again = s.claim_stalled(&after_lapse).await.unwrap_or_else(|e| panic!("claim: {e}"));
    assert_eq!(again.len(), 12, "orders: a lapsed lease frees the order");
}

/// Operators refund one order at once, each reading it, adding a refund and writing it
/// back under its version (as `RefundService` does): the version check lets exactly the
/// refunds that fit through, whatever the interleaving. A pending refund leaves the order
/// unsettled, so the recovery job finds it.
async fn concurrent_refunds_never_exceed_the_capture(s: &impl OrderStore) {
    let f = Fixture::new();
    let order = paid_order(OrderId::from_uuid(f.id()), f.now());
    s.insert(&order, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    let amount = RefundRequest::Amount(Money::new(700, Currency::EUR).unwrap_or_else(|_| unreachable!()));
    let refund = |n: u32| {
        let amount = amount.clone();
        let id = OrderRefundId::from_uuid(f.id());
        let now = f.now();
        let order_id = order.id;
        async move {
            for _ in 0..100 {
                let mut current =
                    s.get(order_id).await.unwrap_or_else(|e| panic!("get: {e}")).unwrap_or_else(|| panic!("gone"));
                let expected = current.version;
                match current.request_refund(id, &amount, None, now) {
                    Ok(_) => {}
                    Err(RefundRefused::AmountExceeds { .. }) => return false,
                    Err(e) => panic!("refund {n}: {e}"),
                }
                match s.update(&current, expected, &[]).await {
                    Ok(()) => return true,
                    Err(StoreError::VersionConflict { .. }) => {}
                    Err(e) => panic!("update: {e}"),
                }
            }
            panic!("refund {n} never got through")
        }
    };
    let results = futures::future::join_all((0..8).map(refund)).await;
    let stored = s.get(order.id).await.unwrap_or_else(|e| panic!("get: {e}")).unwrap_or_else(|| panic!("gone"));
    assert_eq!(results.iter().filter(|ok| **ok).count(), 3, "orders: 3 x 7.00 of 25.00 fit, no more");
    assert_eq!(
        (stored.refunds.len(), stored.refunded_total().amount()),
        (3, 2100),
        "orders: every accepted refund is stored"
    );
    f.clock.advance_secs(100);
    let claim =
        StalledClaim { updated_before: f.now(), now: f.now(), lease_until: f.now().plus_seconds(60), limit: 10 };
    let stalled = s.claim_stalled(&claim).await.unwrap_or_else(|e| panic!("claim: {e}"));
    assert!(stalled.iter().any(|o| o.id == order.id), "orders: pending refunds leave the order to the recovery job");
}
