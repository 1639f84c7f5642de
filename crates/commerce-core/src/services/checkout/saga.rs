//! [`SagaRunner`]: executes the checkout saga through the ports.
//!
//! [`SagaRunner::run`] loops `next_action -> execute -> apply` until the order is
//! final, and persists it at checkpoints: before every call to the card processor
//! ([`SagaAction::needs_checkpoint`]) and when it stops. Each write checks the
//! version it read, so two runners (a request and the recovery job) never both move
//! money for one order, and a crash at any point resumes from the last checkpoint.
//! The actions are idempotent, so the steps since then are simply executed again.
//! A paid checkout thus updates its order three times (reserved before authorising,
//! authorised before capturing, paid) instead of once per step.

use std::sync::Arc;

use crate::{
    catalog::Version,
    events::{DomainEvent, EventEnvelope, RefundSettled},
    ids::{OrderId, OrderRefundId, ReservationId},
    inventory::{InventoryError, ReservationLine, ReservationRequest, ReservationState, StockReturn},
    order::{Order, PaymentState, SagaAction, StepResult, next_action},
    payment::{AuthorizationOutcome, AuthorizeRequest, DeclineReason, PaymentError},
    ports::{OrderStore, PaymentGateway, StoreError},
    services::{Env, inventory::InventoryService},
};

/// Why a saga run stopped before the order was final.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SagaError {
    /// A port was unavailable; re-run later.
    #[error("saga suspended: {0}")]
    Transient(String),
    /// Another runner persisted a newer version first; it owns the order now.
    #[error("order was advanced concurrently")]
    Conflict,
    /// The order does not exist.
    #[error("order not found")]
    NotFound,
    /// A port answered in a way the saga's invariants rule out (a bug, or tampered data).
    #[error("saga invariant violated: {0}")]
    Invariant(String),
}

impl From<StoreError> for SagaError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VersionConflict { .. } => Self::Conflict,
            StoreError::NotFound => Self::NotFound,
            other => Self::Transient(other.to_string()),
        }
    }
}

/// An order as a run advances it, and what of it is not persisted yet.
struct Progress {
    order: Order,
    /// The stored version.
    stored: Version,
    /// Events of the steps applied since the last checkpoint.
    events: Vec<EventEnvelope>,
}

/// Executes the checkout saga through the ports.
#[derive(Clone)]
pub struct SagaRunner {
    orders: Arc<dyn OrderStore>,
    inventory: InventoryService,
    gateway: Arc<dyn PaymentGateway>,
    env: Env,
    reservation_ttl_secs: i64,
}

impl SagaRunner {
    /// Most steps one run takes, besides its refunds (a full happy path or compensation
    /// needs at most 6; each refund 2).
    const MAX_STEPS: usize = 16;

    /// A runner. Reservations it makes expire after `reservation_ttl_secs` unless committed.
    pub fn new(
        orders: Arc<dyn OrderStore>,
        inventory: InventoryService,
        gateway: Arc<dyn PaymentGateway>,
        env: Env,
        reservation_ttl_secs: i64,
    ) -> Self {
        Self { orders, inventory, gateway, env, reservation_ttl_secs }
    }

    /// Loads an order and runs its saga.
    pub async fn resume(&self, id: OrderId) -> Result<Order, SagaError> {
        let order = self.orders.get(id).await?.ok_or(SagaError::NotFound)?;
        self.run(order).await
    }

    /// Runs the saga from `order`'s persisted state until it is final, suspended, or
    /// waiting for its customer to authenticate. An order that waits is checked with the
    /// gateway once per run (a webhook arrived, or the recovery job polls): it stays as it
    /// is, unpersisted, while the customer has not finished.
    ///
    /// On an error the steps that did complete are persisted first, when the store
    /// allows, so the recovery job resumes after them.
    pub async fn run(&self, order: Order) -> Result<Order, SagaError> {
        let mut progress = Progress { stored: order.version, order, events: vec![] };
        let max_steps = Self::MAX_STEPS + 2 * progress.order.refunds.len();
        for _ in 0..max_steps {
            let action = next_action(&progress.order);
            if action == SagaAction::Done {
                self.checkpoint(&mut progress).await?;
                return Ok(progress.order);
            }
            if action.needs_checkpoint() {
                self.checkpoint(&mut progress).await?;
            }
            let result = match self.execute(action, &progress.order).await {
                Ok(result) => result,
                Err(e) => {
                    self.keep_progress(&mut progress).await;
                    return Err(e);
                }
            };
            let still_waiting = action == SagaAction::CheckAuthorization
                && matches!(result, StepResult::Authorization(AuthorizationOutcome::RequiresAction { .. }));
            if still_waiting {
                return Ok(progress.order);
            }
            self.record(&mut progress, result);
            // The customer has a challenge to answer: checking at once would be pointless.
            if next_action(&progress.order) == SagaAction::CheckAuthorization {
                self.checkpoint(&mut progress).await?;
                return Ok(progress.order);
            }
        }
        self.keep_progress(&mut progress).await;
        Err(SagaError::Invariant(format!("order {} did not settle in {max_steps} steps", progress.order.id)))
    }

    /// Applies a step result with the events it caused (a refund settled, the status
    /// changed); they are written with the next checkpoint.
    fn record(&self, progress: &mut Progress, result: StepResult) {
        let order = &mut progress.order;
        let status = order.status;
        let settled = match &result {
            StepResult::RefundIssued(id, _) => Some((*id, true)),
            StepResult::RefundFailed(id, _) => Some((*id, false)),
            _ => None,
        };
        order.apply(result, self.env.clock.now());
        if let Some((id, issued)) = settled
            && let Some(refund) = order.refund(id)
        {
            let payload = RefundSettled {
                order_id: order.id,
                status: order.status,
                refund: refund.clone(),
                version: order.version.get(),
            };
            let event =
                if issued { DomainEvent::OrderRefundIssued(payload) } else { DomainEvent::OrderRefundFailed(payload) };
            progress.events.push(self.env.envelope(event));
        }
        if order.status != status {
            progress.events.push(self.env.envelope(DomainEvent::OrderStatusChanged(order.summary())));
        }
    }

    /// Persists the order and its pending events, unless nothing changed since the last
    /// write, checking the stored version.
    async fn checkpoint(&self, progress: &mut Progress) -> Result<(), SagaError> {
        if progress.stored == progress.order.version {
            return Ok(());
        }
        self.orders.update(&progress.order, progress.stored, &progress.events).await?;
        progress.stored = progress.order.version;
        progress.events.clear();
        Ok(())
    }

    /// Persists what a run that is about to fail did complete, when the store allows: the
    /// run's own error is the one to report.
    async fn keep_progress(&self, progress: &mut Progress) {
        if let Err(store) = self.checkpoint(progress).await {
            tracing::warn!(order = %progress.order.id, error = %store, "saga progress not persisted");
        }
    }

    async fn execute(&self, action: SagaAction, order: &Order) -> Result<StepResult, SagaError> {
        match action {
            SagaAction::Reserve => self.reserve(order).await,
            SagaAction::Authorize | SagaAction::ResolveAuthorization => self.authorize(order).await,
            SagaAction::CheckAuthorization => self.check_authorization(order).await,
            SagaAction::Capture => self.capture(order).await,
            SagaAction::CommitStock => match self.inventory.commit(order.reservation_id()).await {
                Ok(_) => Ok(StepResult::StockCommitted),
                Err(InventoryError::InvalidTransition { .. } | InventoryError::UnknownReservation(_)) => {
                    Ok(StepResult::StockLost)
                }
                Err(e) => Err(inventory_error(e)),
            },
            SagaAction::Void => {
                let (PaymentState::Authorized { authorization_id }
                | PaymentState::ActionRequired { authorization_id, .. }) = &order.payment
                else {
                    return Err(SagaError::Invariant("void without an authorisation".into()));
                };
                match self.gateway.void(&order.payment_key("void"), authorization_id).await {
                    Ok(()) => Ok(StepResult::Voided),
                    // Never assume a refused void means no money moved: leave it to an operator.
                    Err(e @ (PaymentError::InvalidRequest(_) | PaymentError::CardRefused(_))) => {
                        Err(SagaError::Invariant(format!("void refused: {e}")))
                    }
                    Err(e) => Err(SagaError::Transient(e.to_string())),
                }
            }
            SagaAction::Refund => {
                let PaymentState::Captured { capture_id, .. } = &order.payment else {
                    return Err(SagaError::Invariant("refund without a capture".into()));
                };
                self.gateway
                    .refund(&order.payment_key("refund"), capture_id, order.total)
                    .await
                    .map(StepResult::Refunded)
                    .map_err(|e| SagaError::Transient(e.to_string()))
            }
            SagaAction::Release => match self.inventory.release(order.reservation_id()).await {
                Ok(_) => Ok(StepResult::Released),
                Err(e) => Err(inventory_error(e)),
            },
            SagaAction::Finalize => Ok(StepResult::Finalized),
            SagaAction::IssueRefund(id) => self.issue_refund(order, id).await,
            SagaAction::ReturnStock(id) => self.return_stock(order, id).await,
            SagaAction::CompleteCancellation => Ok(StepResult::Cancelled),
            SagaAction::Done => Err(SagaError::Invariant("nothing to execute".into())),
        }
    }

    async fn reserve(&self, order: &Order) -> Result<StepResult, SagaError> {
        let lines =
            order.lines.iter().map(|l| ReservationLine { product_id: l.product_id, quantity: l.quantity }).collect();
        let expires_at = self.env.clock.now().plus_seconds(self.reservation_ttl_secs);
        let request = ReservationRequest::new(order.reservation_id(), lines, expires_at).map_err(inventory_error)?;
        match self.inventory.reserve(&request).await {
            Ok(receipt) => match receipt.reservation.state {
                ReservationState::Active | ReservationState::Committed => Ok(StepResult::Reserved),
                // Fenced by an earlier compensation or already lapsed: nothing is held.
                _ => Ok(StepResult::StockLost),
            },
            Err(InventoryError::InsufficientStock { product_id, requested, available }) => {
                Ok(StepResult::ReserveRejected { product_id, requested, available })
            }
            Err(InventoryError::UnknownProduct(product_id)) => {
                let requested =
                    order.lines.iter().find(|l| l.product_id == product_id).map_or(0, |l| u64::from(l.quantity.get()));
                Ok(StepResult::ReserveRejected { product_id, requested, available: 0 })
            }
            Err(e) => Err(inventory_error(e)),
        }
    }

    async fn authorize(&self, order: &Order) -> Result<StepResult, SagaError> {
        let request = AuthorizeRequest {
            idempotency_key: order.payment_key("authorize"),
            token: order.payment_method.token.clone(),
            amount: order.total,
            reference: order.id.to_string(),
        };
        match self.gateway.authorize(&request).await {
            Ok(outcome) => Ok(StepResult::Authorization(outcome)),
            Err(PaymentError::CardRefused(reason)) => {
                Ok(StepResult::Authorization(AuthorizationOutcome::Declined { reason }))
            }
            Err(PaymentError::InvalidRequest(_)) => {
                Ok(StepResult::Authorization(AuthorizationOutcome::Declined { reason: DeclineReason::ProcessingError }))
            }
            Err(e @ PaymentError::Unavailable(_)) => Err(SagaError::Transient(e.to_string())),
        }
    }

    async fn check_authorization(&self, order: &Order) -> Result<StepResult, SagaError> {
        let PaymentState::ActionRequired { authorization_id, .. } = &order.payment else {
            return Err(SagaError::Invariant("awaiting customer action without a pending authorisation".into()));
        };
        match self.gateway.authorization(authorization_id).await {
            Ok(outcome) => Ok(StepResult::Authorization(outcome)),
            Err(e @ PaymentError::Unavailable(_)) => Err(SagaError::Transient(e.to_string())),
            // The processor no longer knows it: nothing is held.
            Err(PaymentError::InvalidRequest(_)) => {
                Ok(StepResult::Authorization(AuthorizationOutcome::Declined { reason: DeclineReason::ProcessingError }))
            }
            Err(PaymentError::CardRefused(reason)) => {
                Ok(StepResult::Authorization(AuthorizationOutcome::Declined { reason }))
            }
        }
    }

    async fn capture(&self, order: &Order) -> Result<StepResult, SagaError> {
        let PaymentState::Authorized { authorization_id } = &order.payment else {
            return Err(SagaError::Invariant("capture without an authorisation".into()));
        };
        match self.gateway.capture(&order.payment_key("capture"), authorization_id, order.total).await {
            Ok(capture_id) => Ok(StepResult::Captured(capture_id)),
            Err(PaymentError::CardRefused(reason)) => Ok(StepResult::CaptureDeclined(reason)),
            Err(PaymentError::InvalidRequest(_)) => Ok(StepResult::CaptureDeclined(DeclineReason::ProcessingError)),
            Err(e @ PaymentError::Unavailable(_)) => Err(SagaError::Transient(e.to_string())),
        }
    }
}

impl SagaRunner {
    async fn issue_refund(&self, order: &Order, id: OrderRefundId) -> Result<StepResult, SagaError> {
        let (Some(refund), PaymentState::Captured { capture_id, .. }) = (order.refund(id), &order.payment) else {
            return Err(SagaError::Invariant(format!("refund {id} without a capture")));
        };
        if refund.amount.amount() == 0 {
            return Ok(StepResult::RefundIssued(id, None));
        }
        let key = order.payment_key(&format!("refund:{id}"));
        match self.gateway.refund(&key, capture_id, refund.amount).await {
            Ok(processor_refund_id) => Ok(StepResult::RefundIssued(id, Some(processor_refund_id))),
            Err(e @ PaymentError::Unavailable(_)) => Err(SagaError::Transient(e.to_string())),
            Err(PaymentError::InvalidRequest(reason)) => Ok(StepResult::RefundFailed(id, reason)),
            Err(PaymentError::CardRefused(reason)) => Ok(StepResult::RefundFailed(id, reason.as_str().to_owned())),
        }
    }

    async fn return_stock(&self, order: &Order, id: OrderRefundId) -> Result<StepResult, SagaError> {
        let Some(refund) = order.refund(id) else {
            return Err(SagaError::Invariant(format!("no refund {id} to restock")));
        };
        let lines =
            refund.lines.iter().map(|l| ReservationLine { product_id: l.product_id, quantity: l.quantity }).collect();
        let request = StockReturn::new(ReservationId::for_refund(id), lines).map_err(inventory_error)?;
        self.inventory.restore(&request).await.map_err(inventory_error)?;
        Ok(StepResult::StockReturned(id))
    }
}

fn inventory_error(e: InventoryError) -> SagaError {
    match e {
        e if e.is_retryable() => SagaError::Transient(e.to_string()),
        other => SagaError::Invariant(other.to_string()),
    }
}
