//! The checkout saga as a pure state machine: [`next_action`] says what to do
//! next for an order, [`Order::apply`] records what happened. The runner in
//! [`services::checkout`](crate::services::checkout) executes the actions
//! through the ports and persists the order at the checkpoints
//! [`SagaAction::needs_checkpoint`] names.

use super::{FailureReason, Order, OrderStatus, PaymentState, RefundStatus, StockState};
use crate::{
    ids::{OrderRefundId, ProductId},
    payment::{CaptureId, DeclineReason, RefundId},
    timestamp::Timestamp,
};

/// The next thing the saga must do for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SagaAction {
    /// Reserve every line.
    Reserve,
    /// Authorise the total on the card.
    Authorize,
    /// The customer was asked to authenticate: ask the gateway whether the authorisation
    /// went through since (a webhook said so, or the recovery job polls).
    CheckAuthorization,
    /// Capture the authorised total.
    Capture,
    /// Commit the reservation (units leave stock).
    CommitStock,
    /// Compensation: cancel the hold on the card.
    Void,
    /// Compensation: return captured funds.
    Refund,
    /// Compensation: an authorisation may be in flight; ask the gateway (same key) what happened.
    ResolveAuthorization,
    /// Compensation: give the reserved units back (or fence the reservation id).
    Release,
    /// Compensation finished: set the final failed status.
    Finalize,
    /// After the sale: ask the processor for a pending refund.
    IssueRefund(OrderRefundId),
    /// After the sale: put an issued refund's units back in stock.
    ReturnStock(OrderRefundId),
    /// An operator's cancellation has refunded and restocked everything: the order is `cancelled`.
    CompleteCancellation,
    /// Nothing left to do.
    Done,
}

impl SagaAction {
    /// Whether the order must be persisted before this action runs: before every call to
    /// the card processor. Money only moves after the state that led to it is durable, so
    /// a rerun after a crash never starts from before a reservation it may have paid for,
    /// and a runner whose version check fails stops before it calls the processor.
    ///
    /// The other actions are idempotent by the reservation id (stock) or have no effect
    /// (`Finalize`, `CompleteCancellation`): a rerun from the last checkpoint executes
    /// them again to the same result, so their results are persisted with the next
    /// checkpoint, or when the run stops.
    pub fn needs_checkpoint(self) -> bool {
        match self {
            Self::Authorize
            | Self::ResolveAuthorization
            | Self::CheckAuthorization
            | Self::Capture
            | Self::Void
            | Self::Refund
            | Self::IssueRefund(_) => true,
            Self::Reserve
            | Self::CommitStock
            | Self::Release
            | Self::Finalize
            | Self::ReturnStock(_)
            | Self::CompleteCancellation
            | Self::Done => false,
        }
    }
}

/// What executing a [`SagaAction`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// Every line is held.
    Reserved,
    /// Not enough stock; nothing held.
    ReserveRejected {
        /// Product short.
        product_id: ProductId,
        /// Asked for.
        requested: u64,
        /// Available.
        available: u64,
    },
    /// The gateway answered an authorisation (from `Authorize` or `ResolveAuthorization`).
    Authorization(crate::payment::AuthorizationOutcome),
    /// Funds captured.
    Captured(CaptureId),
    /// The capture was refused; the hold must be voided.
    CaptureDeclined(DeclineReason),
    /// Units left stock.
    StockCommitted,
    /// The reservation is no longer active (expired or released).
    StockLost,
    /// Hold cancelled.
    Voided,
    /// Funds returned.
    Refunded(RefundId),
    /// Units given back.
    Released,
    /// Final status set.
    Finalized,
    /// The processor accepted a refund (no processor id for a refund of nothing).
    RefundIssued(OrderRefundId, Option<RefundId>),
    /// The processor refused a refund.
    RefundFailed(OrderRefundId, String),
    /// A refund's units are back in stock.
    StockReturned(OrderRefundId),
    /// The cancellation is complete.
    Cancelled,
}

/// Decides the next step for `order`. Pure: the same order always gives the same action.
pub fn next_action(order: &Order) -> SagaAction {
    if matches!(order.status, OrderStatus::Cancelled | OrderStatus::PaymentFailed) {
        return SagaAction::Done;
    }
    if order.failure.is_none() {
        return match (order.status, order.stock) {
            (OrderStatus::Pending, _) => SagaAction::Reserve,
            (OrderStatus::StockReserved, _) => SagaAction::Authorize,
            (OrderStatus::AwaitingCustomerAction, _) => SagaAction::CheckAuthorization,
            (OrderStatus::PaymentAuthorized, _) => SagaAction::Capture,
            (OrderStatus::Paid | OrderStatus::PartiallyFulfilled | OrderStatus::Fulfilled, StockState::Committed) => {
                after_sale(order)
            }
            (OrderStatus::Paid, _) => SagaAction::CommitStock,
            _ => SagaAction::Done,
        };
    }
    match order.payment {
        PaymentState::Authorized { .. } | PaymentState::ActionRequired { .. } => return SagaAction::Void,
        PaymentState::Captured { .. } => return SagaAction::Refund,
        // An authorisation may have reached the gateway before the crash: find out before giving up.
        PaymentState::NotAuthorized if order.status == OrderStatus::StockReserved => {
            return SagaAction::ResolveAuthorization;
        }
        _ => {}
    }
    match order.stock {
        StockState::NotReserved | StockState::Reserved => SagaAction::Release,
        StockState::Committed | StockState::Released => SagaAction::Finalize,
    }
}

/// The work left on a paid order: refunds to issue, units to restock, a cancellation to
/// complete, in that order.
fn after_sale(order: &Order) -> SagaAction {
    if let Some(r) = order.refunds.iter().find(|r| r.status == RefundStatus::Pending) {
        return SagaAction::IssueRefund(r.id);
    }
    let to_restock = |r: &&super::Refund| {
        r.restock && !r.stock_returned && !r.lines.is_empty() && matches!(r.status, RefundStatus::Issued { .. })
    };
    if let Some(r) = order.refunds.iter().find(to_restock) {
        return SagaAction::ReturnStock(r.id);
    }
    if order.cancellation.is_some() {
        return SagaAction::CompleteCancellation;
    }
    SagaAction::Done
}

impl Order {
    /// True when the saga has nothing left to do: a final status, or paid with the stock
    /// committed. The recovery job only looks at unsettled orders.
    pub fn is_settled(&self) -> bool {
        next_action(self) == SagaAction::Done
    }

    fn fail(&mut self, reason: FailureReason) {
        if self.failure.is_none() {
            self.failure = Some(reason);
        }
    }

    /// Records the result of a step and bumps the version. Pure.
    pub fn apply(&mut self, result: StepResult, now: Timestamp) {
        use crate::payment::AuthorizationOutcome as A;
        match result {
            StepResult::Reserved => {
                self.stock = StockState::Reserved;
                if self.failure.is_none() {
                    self.status = OrderStatus::StockReserved;
                }
            }
            StepResult::ReserveRejected { product_id, requested, available } => {
                self.fail(FailureReason::OutOfStock { product_id, requested, available });
            }
            StepResult::Authorization(A::Authorized { authorization_id }) => {
                self.payment = PaymentState::Authorized { authorization_id };
                if self.failure.is_none() {
                    self.status = OrderStatus::PaymentAuthorized;
                }
            }
            StepResult::Authorization(A::Declined { reason }) => {
                self.payment = PaymentState::Declined { reason };
                self.fail(FailureReason::PaymentDeclined { reason });
            }
            StepResult::Authorization(A::RequiresAction { authorization_id, next_action_url }) => {
                // The customer completes the challenge in their browser; the order waits
                // (a failed order voids the pending authorisation instead).
                self.payment = PaymentState::ActionRequired { authorization_id, next_action_url };
                if self.failure.is_none() {
                    self.status = OrderStatus::AwaitingCustomerAction;
                }
            }
            StepResult::Captured(capture_id) => {
                if let PaymentState::Authorized { authorization_id } = &self.payment {
                    self.payment = PaymentState::Captured { authorization_id: authorization_id.clone(), capture_id };
                    self.status = OrderStatus::Paid;
                }
            }
            StepResult::CaptureDeclined(reason) => self.fail(FailureReason::PaymentDeclined { reason }),
            StepResult::StockCommitted => self.stock = StockState::Committed,
            StepResult::StockLost => {
                self.stock = StockState::Released;
                self.fail(FailureReason::ReservationLost);
            }
            StepResult::Voided => {
                if let PaymentState::Authorized { authorization_id }
                | PaymentState::ActionRequired { authorization_id, .. } = &self.payment
                {
                    self.payment = PaymentState::Voided { authorization_id: authorization_id.clone() };
                }
            }
            StepResult::Refunded(refund_id) => {
                if let PaymentState::Captured { capture_id, .. } = &self.payment {
                    self.payment = PaymentState::Refunded { capture_id: capture_id.clone(), refund_id };
                }
            }
            StepResult::Released => self.stock = StockState::Released,
            StepResult::Finalized => {
                if let Some(reason) = self.failure {
                    self.status = reason.final_status();
                }
            }
            StepResult::RefundIssued(id, processor_refund_id) => {
                if let Some(r) = self.refunds.iter_mut().find(|r| r.id == id) {
                    r.status = RefundStatus::Issued { processor_refund_id, issued_at: now };
                }
            }
            StepResult::RefundFailed(id, reason) => {
                if let Some(r) = self.refunds.iter_mut().find(|r| r.id == id) {
                    r.status = RefundStatus::Failed { reason };
                }
                // A cancellation whose refund the processor refused does not go through:
                // the order stays paid, and the operator sees the failed refund.
                if self.cancellation.as_ref().is_some_and(|c| c.refund_id == Some(id)) {
                    self.cancellation = None;
                }
            }
            StepResult::StockReturned(id) => {
                if let Some(r) = self.refunds.iter_mut().find(|r| r.id == id) {
                    r.stock_returned = true;
                }
            }
            StepResult::Cancelled => {
                self.status = OrderStatus::Cancelled;
                self.stock = StockState::Released;
            }
        }
        self.version = self.version.next();
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        catalog::Version,
        ids::OrderId,
        payment::{AuthorizationId, AuthorizationOutcome},
    };
    use SagaAction::*;
    use uuid::Uuid;

    fn order() -> Order {
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(1)), Timestamp::EPOCH)
    }

    fn auth() -> StepResult {
        StepResult::Authorization(AuthorizationOutcome::Authorized { authorization_id: AuthorizationId("a".into()) })
    }

    /// Runs the saga with scripted results, returning the actions taken.
    fn drive(o: &mut Order, results: impl IntoIterator<Item = StepResult>) -> Vec<SagaAction> {
        let mut actions = vec![];
        for r in results {
            actions.push(next_action(o));
            o.apply(r, Timestamp::EPOCH);
        }
        actions.push(next_action(o));
        actions
    }

    #[test]
    fn happy_path() {
        let mut o = order();
        let actions = drive(
            &mut o,
            [StepResult::Reserved, auth(), StepResult::Captured(CaptureId("c".into())), StepResult::StockCommitted],
        );
        assert_eq!(actions, [Reserve, Authorize, Capture, CommitStock, Done]);
        assert_eq!((o.status, o.stock, o.version), (OrderStatus::Paid, StockState::Committed, Version::new(5)));
        assert!(o.fulfil(Timestamp::EPOCH));
        assert_eq!(o.status, OrderStatus::Fulfilled);
    }

    #[test]
    fn decline_releases_stock_and_fails_payment() {
        let mut o = order();
        let declined =
            StepResult::Authorization(AuthorizationOutcome::Declined { reason: DeclineReason::InsufficientFunds });
        let actions = drive(&mut o, [StepResult::Reserved, declined, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [Reserve, Authorize, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::PaymentFailed);
        assert_eq!(o.failure, Some(FailureReason::PaymentDeclined { reason: DeclineReason::InsufficientFunds }));
    }

    #[test]
    fn out_of_stock_fences_the_reservation_and_cancels() {
        let mut o = order();
        let pid = o.lines[0].product_id;
        let rejected = StepResult::ReserveRejected { product_id: pid, requested: 2, available: 1 };
        let actions = drive(&mut o, [rejected, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [Reserve, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::Cancelled);
    }

    #[test]
    fn abandoned_order_resolves_an_in_flight_authorisation_then_voids_it() {
        let mut o = order();
        o.apply(StepResult::Reserved, Timestamp::EPOCH);
        assert!(o.abandon(Timestamp::EPOCH));
        let actions = drive(&mut o, [auth(), StepResult::Voided, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [ResolveAuthorization, Void, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert!(matches!(o.payment, PaymentState::Voided { .. }));
    }

    #[test]
    fn lost_reservation_after_capture_refunds() {
        let mut o = order();
        let actions = drive(
            &mut o,
            [
                StepResult::Reserved,
                auth(),
                StepResult::Captured(CaptureId("c".into())),
                StepResult::StockLost,
                StepResult::Refunded(RefundId("r".into())),
                StepResult::Finalized,
            ],
        );
        assert_eq!(actions, [Reserve, Authorize, Capture, CommitStock, Refund, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::Cancelled);
        assert!(matches!(o.payment, PaymentState::Refunded { .. }));
    }

    fn challenge() -> StepResult {
        StepResult::Authorization(AuthorizationOutcome::RequiresAction {
            authorization_id: AuthorizationId("a".into()),
            next_action_url: "https://pay.example/3ds/a".into(),
        })
    }

    #[test]
    fn a_challenge_parks_the_order_until_the_authorisation_goes_through() {
        let mut o = order();
        let actions =
            drive(&mut o, [StepResult::Reserved, challenge(), auth(), StepResult::Captured(CaptureId("c".into()))]);
        assert_eq!(actions, [Reserve, Authorize, CheckAuthorization, Capture, CommitStock]);
        assert_eq!(o.status, OrderStatus::Paid);
        assert_eq!(o.next_action_url(), None);
    }

    #[test]
    fn a_challenge_that_fails_releases_the_stock() {
        let mut o = order();
        drive(&mut o, [StepResult::Reserved, challenge()]);
        assert_eq!(o.status, OrderStatus::AwaitingCustomerAction);
        assert_eq!(o.next_action_url(), Some("https://pay.example/3ds/a"));
        assert!(!o.is_settled(), "the recovery job polls it");
        let failed =
            StepResult::Authorization(AuthorizationOutcome::Declined { reason: DeclineReason::AuthenticationRequired });
        let actions = drive(&mut o, [failed, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [CheckAuthorization, Release, Finalize, Done]);
        assert_eq!(o.status, OrderStatus::PaymentFailed);
    }

    #[test]
    fn an_unanswered_challenge_is_abandoned_and_its_authorisation_cancelled() {
        let mut o = order();
        drive(&mut o, [StepResult::Reserved, challenge()]);
        assert!(o.abandon(Timestamp::EPOCH));
        let actions = drive(&mut o, [StepResult::Voided, StepResult::Released, StepResult::Finalized]);
        assert_eq!(actions, [Void, Release, Finalize, Done]);
        assert_eq!((o.status, o.failure), (OrderStatus::PaymentFailed, Some(FailureReason::PaymentActionRequired)));
        assert!(matches!(o.payment, PaymentState::Voided { .. }));
    }

    #[test]
    fn authorised_orders_are_never_abandoned() {
        let mut o = order();
        drive(&mut o, [StepResult::Reserved, auth()]);
        assert!(!o.abandon(Timestamp::EPOCH), "a capture may be in flight");
        assert_eq!(next_action(&o), SagaAction::Capture);
        o.apply(StepResult::Captured(CaptureId("c".into())), Timestamp::EPOCH);
        assert!(!o.abandon(Timestamp::EPOCH));
        assert_eq!(next_action(&o), SagaAction::CommitStock);
    }
}
