//! The order-recovery job: finishes or compensates orders a crash left behind,
//! and expires lapsed reservations. One pass per call; the binary schedules it.

use std::sync::Arc;

use super::{Env, checkout::SagaRunner, inventory::InventoryService};
use crate::{
    order::{Order, OrderStatus},
    ports::{OrderStore, StalledClaim, StoreError},
    timestamp::Timestamp,
};

/// When the recovery job acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryPolicy {
    /// Orders unchanged for this long are resumed.
    pub resume_after_secs: i64,
    /// Orders created this long ago and still not paid are abandoned (compensated): also
    /// the time a customer has to complete a card's authentication challenge.
    pub abandon_after_secs: i64,
    /// Orders and reservations handled per pass.
    pub batch: usize,
    /// How long a job holds an order it claimed: longer than one saga run takes (each
    /// step's calls have deadlines of seconds), so no other job drives it meanwhile.
    pub lease_secs: i64,
}

impl Default for RecoveryPolicy {
    fn default() -> Self {
        Self { resume_after_secs: 30, abandon_after_secs: 600, batch: 100, lease_secs: 120 }
    }
}

/// What one pass did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// Stalled orders found.
    pub examined: usize,
    /// Orders that ended paid.
    pub completed: usize,
    /// Orders that ended cancelled or payment-failed.
    pub compensated: usize,
    /// Orders still not final (a dependency is still down).
    pub still_pending: usize,
    /// Reservations expired.
    pub expired_reservations: usize,
    /// Why expiring reservations failed this pass, if it did (retried next pass).
    pub expiry_error: Option<String>,
}

/// The recovery job.
#[derive(Clone)]
pub struct RecoveryService {
    orders: Arc<dyn OrderStore>,
    runner: SagaRunner,
    inventory: InventoryService,
    env: Env,
}

impl RecoveryService {
    /// A recovery job over the given ports.
    pub fn new(orders: Arc<dyn OrderStore>, runner: SagaRunner, inventory: InventoryService, env: Env) -> Self {
        Self { orders, runner, inventory, env }
    }

    /// One pass: resume (or abandon, when too old) every stalled order, then expire
    /// lapsed reservations. Errors on single orders are counted, not fatal.
    ///
    /// Orders are claimed one at a time, each under a lease of `policy.lease_secs`, so
    /// the lease covers one saga run however long the pass takes, and jobs of several
    /// replicas share the work without driving one order at once.
    pub async fn run_once(&self, policy: RecoveryPolicy) -> Result<RecoveryReport, StoreError> {
        let mut report = RecoveryReport::default();
        for _ in 0..policy.batch {
            let now = self.env.clock.now();
            let claim = StalledClaim {
                updated_before: now.plus_seconds(-policy.resume_after_secs),
                now,
                lease_until: now.plus_seconds(policy.lease_secs),
                limit: 1,
            };
            let Some(mut order) = self.orders.claim_stalled(&claim).await?.pop() else { break };
            report.examined += 1;
            let too_old = order.created_at <= now.plus_seconds(-policy.abandon_after_secs);
            // An order waiting for its customer is checked with the gateway first: the
            // challenge may have succeeded while the webhook was lost.
            let waiting = order.status == OrderStatus::AwaitingCustomerAction;
            if too_old && !waiting && self.abandon(&mut order, now).await.is_err() {
                report.still_pending += 1;
                continue;
            }
            let mut outcome = self.runner.run(order).await;
            if let Ok(order) = &mut outcome
                && too_old
                && order.status == OrderStatus::AwaitingCustomerAction
            {
                // A customer who has not authenticated by now never will.
                outcome = match self.abandon(order, now).await {
                    Ok(()) => self.runner.run(order.clone()).await,
                    Err(e) => Err(e.into()),
                };
            }
            match outcome {
                Ok(o) if matches!(o.status, OrderStatus::Cancelled | OrderStatus::PaymentFailed) => {
                    report.compensated += 1;
                }
                Ok(o) if o.is_settled() => report.completed += 1,
                _ => report.still_pending += 1,
            }
        }
        match self.inventory.expire_due(policy.batch).await {
            Ok(n) => report.expired_reservations = n,
            Err(e) => report.expiry_error = Some(e.to_string()),
        }
        Ok(report)
    }

    /// Marks `order` abandoned and persists it, when it can be abandoned (see
    /// [`Order::abandon`]). An error means another runner changed it first, or the store failed.
    async fn abandon(&self, order: &mut Order, now: Timestamp) -> Result<(), StoreError> {
        let expected = order.version;
        if order.abandon(now) {
            self.orders.update(order, expected, &[]).await?;
        }
        Ok(())
    }
}
