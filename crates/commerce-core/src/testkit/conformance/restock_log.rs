//! Conformance suite for [`RestockLog`]. The store must also hold products (restocks of
//! unknown products are refused) and be its own outbox (each restock appends an event).

use std::future::Future;

use crate::{
    events::{EventEnvelope, StockSet},
    ids::{EventId, ProductId},
    inventory::OnHand,
    money::{Currency, Money},
    ports::{Outbox, ProductStore, RestockLog, StoreError},
    testkit::strategies::product,
};

use super::Fixture;

fn usd(a: i64) -> Money {
    Money::new(a, Currency::USD).unwrap_or_else(|_| unreachable!())
}

/// Runs every case against fresh stores from `make`.
pub async fn run_with_outbox<S, F, Fut>(mut make: F)
where
    S: RestockLog + ProductStore + Outbox,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    restocks_are_numbered_per_product_with_their_event(&make().await).await;
}

async fn restocks_are_numbered_per_product_with_their_event<S: RestockLog + ProductStore + Outbox>(s: &S) {
    let f = Fixture::new();
    let (a, b) = (
        product(ProductId::from_uuid(f.id()), 1, usd(100), f.now()),
        product(ProductId::from_uuid(f.id()), 2, usd(100), f.now()),
    );
    for p in [&a, &b] {
        s.insert_product(p, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    }
    let mut expected = vec![];
    for (p, on_hand, number) in [(&a, 5, 1), (&a, 8, 2), (&b, 3, 1), (&a, 0, 3)] {
        let event_id = EventId::from_uuid(f.id());
        let units = OnHand::new(on_hand).unwrap_or_else(|e| panic!("fixture on_hand: {e}"));
        let got = s.record_restock(p.id, units, event_id, f.now()).await;
        assert_eq!(got, Ok(number), "restock numbers count per product");
        expected.push(EventEnvelope::stock_set(event_id, f.now(), StockSet { product_id: p.id, on_hand }, number));
    }
    let one = OnHand::new(1).unwrap_or_else(|e| panic!("fixture on_hand: {e}"));
    let unknown = s.record_restock(ProductId::from_uuid(f.id()), one, EventId::from_uuid(f.id()), f.now()).await;
    assert_eq!(unknown, Err(StoreError::NotFound), "restock of an unknown product");

    let events: Vec<_> =
        s.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}")).into_iter().map(|r| r.envelope).collect();
    assert_eq!(events, expected, "each restock appends its stock.set event, numbered");
}
