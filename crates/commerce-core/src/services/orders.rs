//! Reading and fulfilling orders (customers and operators).

use std::sync::Arc;

use super::{Env, checkout::CheckoutError};
use crate::{
    events::{DomainEvent, ShipmentCreated},
    ids::{OrderId, ShipmentId},
    order::{Order, Shipment, ShipmentInput},
    ports::{OrderQuery, OrderStore, StoreError},
};

/// How often `fulfil` and `ship` re-read an order another writer changed first.
const FULFIL_ATTEMPTS: usize = 3;

/// What a decision on an order does to the store.
pub(crate) enum Change<T> {
    /// Write the changed order with these events.
    Write(T, Vec<crate::events::EventEnvelope>),
    /// Nothing to write (the decision was taken before).
    Keep(T),
}

/// Reads order `id`, lets `decide` change it, and writes it under the version it read; when
/// another writer won the race, reads it again and decides again, up to `attempts` times.
/// The one read-decide-write loop of every operator's change to an order.
pub(crate) async fn change_order<T>(
    orders: &dyn OrderStore,
    id: OrderId,
    attempts: usize,
    mut decide: impl FnMut(&mut Order) -> Result<Change<T>, CheckoutError>,
) -> Result<(Order, T), CheckoutError> {
    let unavailable = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
    let mut last_conflict = None;
    for _ in 0..attempts {
        let mut order = orders.get(id).await.map_err(unavailable)?.ok_or(CheckoutError::NotFound)?;
        let expected = order.version;
        let (value, events) = match decide(&mut order)? {
            Change::Keep(value) => return Ok((order, value)),
            Change::Write(value, events) => (value, events),
        };
        match orders.update(&order, expected, &events).await {
            Ok(()) => return Ok((order, value)),
            Err(e @ StoreError::VersionConflict { .. }) => last_conflict = Some(e),
            Err(e) => return Err(unavailable(e)),
        }
    }
    // Only writers changing the order faster than this loop reads it get here.
    Err(unavailable(last_conflict.unwrap_or_else(|| StoreError::Unavailable("order kept changing".into()))))
}

/// A page of orders.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPage {
    /// Newest first.
    pub items: Vec<Order>,
    /// Pass as `OrderQuery::after` for the next page; `None` on the last page.
    pub next_after: Option<OrderId>,
}

/// Order reads and fulfilment, separate from checkout so a service that only
/// shows or ships orders needs no payment gateway or inventory.
#[derive(Clone)]
pub struct OrderService {
    orders: Arc<dyn OrderStore>,
    env: Env,
}

impl OrderService {
    /// A service over `orders`.
    pub fn new(orders: Arc<dyn OrderStore>, env: Env) -> Self {
        Self { orders, env }
    }

    /// The order, for a customer presenting its access token. Any mismatch is `NotFound`,
    /// so ids cannot be probed.
    pub async fn order_for_customer(&self, id: OrderId, access_token: &str) -> Result<Order, CheckoutError> {
        match self
            .orders
            .get(id)
            .await
            .map_err(|e| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() })?
        {
            Some(order) if order.grants_access(access_token) => Ok(order),
            _ => Err(CheckoutError::NotFound),
        }
    }

    /// Any order, for operators.
    pub async fn order(&self, id: OrderId) -> Result<Order, CheckoutError> {
        let unavailable = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
        self.orders.get(id).await.map_err(unavailable)?.ok_or(CheckoutError::NotFound)
    }

    /// A page of orders for operators, newest first: `query.limit` (clamped to 1..=100)
    /// orders, and where the next page starts when more follow.
    pub async fn list_orders(&self, query: &OrderQuery) -> Result<OrderPage, CheckoutError> {
        let limit = query.limit.clamp(1, OrderQuery::MAX_LIMIT);
        // One more than the page tells whether another page follows.
        let probe = OrderQuery { limit: limit + 1, ..query.clone() };
        let mut items = self
            .orders
            .list(&probe)
            .await
            .map_err(|e| CheckoutError::Interrupted { order: None, cause: e.to_string() })?;
        let next_after = (items.len() > limit).then(|| items[limit - 1].id);
        items.truncate(limit);
        Ok(OrderPage { items, next_after })
    }

    /// Marks a paid order fulfilled. When another change wins the race for the order's
    /// version, the order is read again and the rule decided again: of two concurrent
    /// fulfils one succeeds and the other is `InvalidState(Fulfilled)`, never an outage.
    pub async fn fulfil(&self, id: OrderId) -> Result<Order, CheckoutError> {
        let now = self.env.clock.now();
        let (order, ()) = change_order(&*self.orders, id, FULFIL_ATTEMPTS, |order| {
            if !order.fulfil(now) {
                return Err(CheckoutError::InvalidState(order.status));
            }
            Ok(Change::Write((), vec![self.env.envelope(DomainEvent::OrderStatusChanged(order.summary()))]))
        })
        .await?;
        Ok(order)
    }
}

impl OrderService {
    /// Records a shipment of a paid order's remaining units (see [`Order::ship`]) and
    /// publishes `order.shipment_created` (and the status change) with it. Concurrent
    /// shipments of one order are decided one after the other: together they never
    /// exceed what was ordered.
    pub async fn ship(&self, id: OrderId, input: &ShipmentInput) -> Result<(Order, Shipment), CheckoutError> {
        let new = input.validate()?;
        let shipment_id = ShipmentId::from_uuid(self.env.ids.new_id());
        let now = self.env.clock.now();
        change_order(&*self.orders, id, FULFIL_ATTEMPTS, |order| {
            let before = order.status;
            let shipment = order.ship(shipment_id, new.clone(), now)?.clone();
            let mut events = vec![self.env.envelope(DomainEvent::OrderShipmentCreated(ShipmentCreated {
                order_id: id,
                status: order.status,
                shipment: shipment.clone(),
                version: order.version.get(),
            }))];
            if order.status != before {
                events.push(self.env.envelope(DomainEvent::OrderStatusChanged(order.summary())));
            }
            Ok(Change::Write(shipment, events))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::{
        Timestamp,
        catalog::Version,
        order::{OrderStatus, StockState},
        ports::MockOrderStore,
        testkit::{
            conformance::orders::pending_order,
            fixed::{ManualClock, SequentialIds},
        },
    };

    fn paid(id: OrderId) -> Order {
        let mut order = pending_order(id, Timestamp::EPOCH);
        (order.status, order.stock, order.version) = (OrderStatus::Paid, StockState::Committed, Version::new(5));
        order
    }

    fn service(store: MockOrderStore) -> OrderService {
        OrderService::new(
            Arc::new(store),
            Env::new(Arc::new(ManualClock::new(Timestamp::EPOCH)), Arc::new(SequentialIds::new())),
        )
    }

    /// Two operators press "fulfil" at once: the second one's write loses the version race.
    #[test]
    fn the_loser_of_a_fulfil_race_is_told_the_order_is_fulfilled() {
        let id = OrderId::from_uuid(uuid::Uuid::from_u128(7));
        let stored = Arc::new(Mutex::new(paid(id)));
        let mut store = MockOrderStore::new();
        let read = stored.clone();
        store.expect_get().returning(move |_| Ok(Some(read.lock().unwrap().clone())));
        let winner = stored.clone();
        store.expect_update().times(1).returning(move |_, expected, _| {
            // The other operator's fulfil committed between our read and our write.
            let mut current = winner.lock().unwrap();
            assert!(current.fulfil(Timestamp::EPOCH));
            Err(StoreError::VersionConflict { expected, actual: current.version })
        });
        let result = futures::executor::block_on(service(store).fulfil(id));
        assert_eq!(result.unwrap_err(), CheckoutError::InvalidState(OrderStatus::Fulfilled));
    }
}
