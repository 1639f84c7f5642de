//! Refunding and cancelling orders (operators).
//!
//! Each use case records its decision on the order (a pending refund, a cancellation)
//! with the order's version check, then runs the saga, which asks the processor and the
//! inventory. A crash after the decision leaves an unsettled order that the recovery job
//! finishes; a retry under the same idempotency key answers with the refund recorded first.

use std::sync::Arc;

use super::{
    Env,
    checkout::{CheckoutError, SagaError, SagaRunner},
    orders::{Change, change_order},
};
use crate::{
    hashing::sha256_hex,
    idempotency::ClientKey,
    ids::{OrderId, OrderRefundId},
    order::{CancelStarted, Order, Refund, RefundInput, RefundRequest},
    ports::{OrderStore, StoreError},
};

/// How often a use case reads the order again after another writer changed it first. Two
/// operators refunding at once, or the saga of an earlier refund, each bump the version.
const ATTEMPTS: usize = 16;

/// A refund, and whether it answers a retry of an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReply {
    /// The order after it (the refund issued, unless the processor was unreachable: then
    /// it is pending and the recovery job issues it).
    pub order: Order,
    /// The refund.
    pub refund: Refund,
    /// True when the key was used before: nothing new happened.
    pub replayed: bool,
}

/// Refunds and cancellations, run through the checkout saga.
#[derive(Clone)]
pub struct RefundService {
    orders: Arc<dyn OrderStore>,
    runner: SagaRunner,
    env: Env,
}

impl RefundService {
    /// A service over `orders`, issuing refunds through `runner`'s gateway and inventory.
    pub fn new(orders: Arc<dyn OrderStore>, runner: SagaRunner, env: Env) -> Self {
        Self { orders, runner, env }
    }

    fn unavailable(id: OrderId) -> impl Fn(StoreError) -> CheckoutError {
        move |e| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() }
    }

    async fn load(&self, id: OrderId) -> Result<Order, CheckoutError> {
        self.orders.get(id).await.map_err(Self::unavailable(id))?.ok_or(CheckoutError::NotFound)
    }

    /// Refunds lines or an amount of a paid order (see [`Order::request_refund`]) under the
    /// client's idempotency key: a retry with the same key and request answers with the
    /// first refund; the key with another request is `KeyReused`.
    pub async fn refund(
        &self,
        id: OrderId,
        key: &ClientKey,
        input: &RefundInput,
    ) -> Result<RefundReply, CheckoutError> {
        let request = input.validate()?;
        let key_sha256 = key.digest().as_str().to_owned();
        let request_sha256 = fingerprint(&request);
        let refund_id = OrderRefundId::from_uuid(self.env.ids.new_id());
        let now = self.env.clock.now();
        let (order, (refund, replayed)) = change_order(&*self.orders, id, ATTEMPTS, |order| {
            if let Some(earlier) = order.refund_by_key(&key_sha256) {
                if earlier.request_sha256.as_deref() != Some(request_sha256.as_str()) {
                    return Err(CheckoutError::KeyReused);
                }
                return Ok(Change::Keep((earlier.id, true)));
            }
            order.request_refund(refund_id, &request, Some((key_sha256.clone(), request_sha256.clone())), now)?;
            Ok(Change::Write((refund_id, false), vec![]))
        })
        .await?;
        reply(self.settle(order).await?, refund, replayed)
    }

    /// Cancels an order (see [`Order::cancel`]): a paid one with nothing shipped is refunded
    /// in full and restocked, one still in checkout has its hold voided and its stock
    /// released. Answers with the order once that is done; asking again is harmless.
    pub async fn cancel(&self, id: OrderId) -> Result<Order, CheckoutError> {
        let refund_id = OrderRefundId::from_uuid(self.env.ids.new_id());
        let now = self.env.clock.now();
        let (order, ()) = change_order(&*self.orders, id, ATTEMPTS, |order| {
            Ok(match order.cancel(refund_id, now)? {
                CancelStarted::AlreadyRequested => Change::Keep(()),
                CancelStarted::Started => Change::Write((), vec![]),
            })
        })
        .await?;
        self.settle(order).await
    }

    /// Runs the saga until the order has nothing left to do. When another runner holds the
    /// order (a conflict), its latest state is read and run again; when a port is down,
    /// the order as persisted is the answer and the recovery job finishes it.
    async fn settle(&self, mut order: Order) -> Result<Order, CheckoutError> {
        for _ in 0..ATTEMPTS {
            match self.runner.run(order.clone()).await {
                Ok(done) => return Ok(done),
                Err(SagaError::Conflict) => order = self.load(order.id).await?,
                Err(SagaError::Transient(cause)) => {
                    tracing::warn!(order = %order.id, %cause, "refund suspended; the recovery job finishes it");
                    return self.load(order.id).await;
                }
                Err(e) => return Err(CheckoutError::Interrupted { order: Some(order.id), cause: e.to_string() }),
            }
        }
        self.load(order.id).await
    }
}

fn reply(order: Order, refund: OrderRefundId, replayed: bool) -> Result<RefundReply, CheckoutError> {
    match order.refund(refund).cloned() {
        Some(refund) => Ok(RefundReply { order, refund, replayed }),
        // Only a store that lost a committed write gets here.
        None => Err(CheckoutError::Interrupted { order: Some(order.id), cause: format!("refund {refund} vanished") }),
    }
}

/// SHA-256 of a request's canonical JSON: what a key's retry must repeat.
fn fingerprint(request: &RefundRequest) -> String {
    sha256_hex(serde_json::to_string(request).unwrap_or_default().as_bytes())
}
