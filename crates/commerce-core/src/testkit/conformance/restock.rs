//! Conformance suite for [`RestockStore`]: restock numbers apply once, in order, and
//! a refused restock changes nothing. Adapters implement it next to their
//! [`InventoryStore`], so the suite reserves through that.

use std::future::Future;

use crate::{
    inventory::{InventoryError, Quantity, ReservationLine, ReservationRequest, RestockOutcome, StockLevel},
    ports::{InventoryStore, RestockStore},
    testkit::units,
    timestamp::Timestamp,
};

use super::inventory::{product, reservation};

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: RestockStore + InventoryStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    restocks_apply_once_in_order(&make().await).await;
    refused_restock_changes_nothing(&make().await).await;
}

fn applied(outcome: Result<RestockOutcome, InventoryError>, case: &str) -> StockLevel {
    match outcome {
        Ok(RestockOutcome::Applied(level)) => level,
        other => panic!("{case}: expected an applied restock, got {other:?}"),
    }
}

async fn restocks_apply_once_in_order(s: &(impl RestockStore + InventoryStore)) {
    let (p, q) = (product(71, 1), product(71, 2));
    let first = applied(s.restock(p, units(5), 1).await, "first restock creates the record");
    assert_eq!((first.product_id, first.on_hand, first.reserved), (p, 5, 0));
    assert_eq!(
        s.restock(p, units(5), 1).await,
        Ok(RestockOutcome::Stale { applied: 1, level: first }),
        "a redelivery changes nothing"
    );
    let third = applied(s.restock(p, units(9), 3).await, "a later number applies, gaps allowed");
    assert_eq!(third.on_hand, 9);
    assert!(third.version > first.version, "the stock version moves with the change");
    assert_eq!(
        s.restock(p, units(7), 2).await,
        Ok(RestockOutcome::Stale { applied: 3, level: third }),
        "an overtaken restock is ignored"
    );
    applied(s.restock(q, units(4), 1).await, "numbers are per product");
    let levels = s.stock(&[p, q]).await.unwrap_or_else(|e| panic!("stock: {e}"));
    assert_eq!(levels.iter().map(|l| l.on_hand).collect::<Vec<_>>(), [9, 4], "restocks_apply_once_in_order");
}

async fn refused_restock_changes_nothing(s: &(impl RestockStore + InventoryStore)) {
    let p = product(72, 1);
    applied(s.restock(p, units(5), 1).await, "restock");
    let line = ReservationLine { product_id: p, quantity: Quantity::new(4).unwrap_or_else(|_| unreachable!()) };
    // Expires in 2100: the reservation holds for the whole case.
    let request =
        ReservationRequest::new(reservation(72, 1), vec![line], Timestamp::from_unix_micros(4_102_444_800_000_000))
            .unwrap_or_else(|e| panic!("request: {e}"));
    s.reserve(&request).await.unwrap_or_else(|e| panic!("reserve: {e}"));
    let before = s.stock(&[p]).await.unwrap_or_else(|e| panic!("stock: {e}"));
    assert!(
        matches!(s.restock(p, units(3), 2).await, Err(InventoryError::BelowReserved { on_hand: 3, reserved: 4, .. })),
        "below the reserved units"
    );
    assert_eq!(
        s.stock(&[p]).await.unwrap_or_else(|e| panic!("stock: {e}")),
        before,
        "a refused restock changes nothing"
    );
    // The refused number was not recorded: a corrected restock with it applies.
    assert_eq!(applied(s.restock(p, units(6), 2).await, "corrected restock").on_hand, 6);
}
