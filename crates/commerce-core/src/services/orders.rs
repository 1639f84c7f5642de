//! Reading and fulfilling orders (customers and operators).

use std::sync::Arc;

use super::{Env, checkout::CheckoutError};
use crate::{
    events::DomainEvent,
    ids::OrderId,
    order::Order,
    ports::{OrderQuery, OrderStore, StoreError},
};

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

    /// Orders for operators, newest first.
    pub async fn list_orders(&self, query: &OrderQuery) -> Result<Vec<Order>, CheckoutError> {
        let query = OrderQuery { limit: query.limit.clamp(1, 100), ..query.clone() };
        self.orders.list(&query).await.map_err(|e| CheckoutError::Interrupted { order: None, cause: e.to_string() })
    }

    /// Marks a paid order fulfilled.
    pub async fn fulfil(&self, id: OrderId) -> Result<Order, CheckoutError> {
        let unavailable = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
        let mut order = self.orders.get(id).await.map_err(unavailable)?.ok_or(CheckoutError::NotFound)?;
        let expected = order.version;
        if !order.fulfil(self.env.clock.now()) {
            return Err(CheckoutError::InvalidState(order.status));
        }
        let event = self.env.envelope(DomainEvent::OrderStatusChanged(order.summary()));
        self.orders.update(&order, expected, &[event]).await.map_err(unavailable)?;
        Ok(order)
    }
}
