//! Checkout: placing an order and running its saga; reading orders back.
//!
//! [`SagaRunner::run`] loops `next_action -> execute -> apply -> persist` until
//! the order is final. It persists after every step with an optimistic version
//! check, so two runners (a request and the recovery job) never both advance
//! one order, and a crash at any point resumes from the last persisted step.
//! The actions are idempotent, so the step in flight at the crash is simply
//! executed again.

use std::{collections::BTreeMap, sync::Arc};

use serde::Deserialize;

use super::{Env, inventory::InventoryService};
use crate::{
    catalog::Version,
    events::DomainEvent,
    ids::{OrderId, ProductId},
    inventory::{InventoryError, Quantity, ReservationLine, ReservationRequest, ReservationState},
    money::Money,
    order::{Email, Order, OrderLine, OrderStatus, PaymentState, SagaAction, StepResult, StockState, next_action},
    payment::{AuthorizationOutcome, AuthorizeRequest, CardInput, DeclineReason, PaymentError},
    ports::{CatalogStore, OrderStore, PaymentGateway, StoreError},
    validation::{InvalidValue, ValidationErrors},
};

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutItemInput {
    /// Product id.
    pub product_id: String,
    /// Units (1 to 10,000).
    pub quantity: i64,
}

/// A checkout request as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutInput {
    /// Customer e-mail.
    pub email: String,
    /// Items to buy.
    pub items: Vec<CheckoutItemInput>,
    /// Card.
    pub card: CardInput,
}

/// Why a checkout or order use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutError {
    /// The request is invalid; every bad field is listed.
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    /// The processor refused the card before any order was created.
    #[error("card refused: {0:?}")]
    CardRefused(DeclineReason),
    /// No such order (or the caller may not see it).
    #[error("order not found")]
    NotFound,
    /// The order exists but is not in a state that allows this.
    #[error("order is {0:?}")]
    InvalidState(OrderStatus),
    /// A dependency (store, inventory, gateway) is unavailable. When `order` is set, the
    /// order exists (but could not be read back) and the recovery job will finish or
    /// compensate it.
    #[error("checkout interrupted: {cause}")]
    Interrupted {
        /// The order, if one was created.
        order: Option<OrderId>,
        /// What failed.
        cause: String,
    },
}

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
    /// Most steps one run takes (a full happy path or compensation needs at most 6).
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

    /// Runs the saga from `order`'s persisted state until it is final (or suspended).
    pub async fn run(&self, mut order: Order) -> Result<Order, SagaError> {
        for _ in 0..Self::MAX_STEPS {
            let action = next_action(&order);
            if action == SagaAction::Done {
                return Ok(order);
            }
            let result = self.execute(action, &order).await?;
            order = self.persist(order, result).await?;
        }
        Err(SagaError::Invariant(format!("order {} did not settle in {} steps", order.id, Self::MAX_STEPS)))
    }

    /// Records a step result and persists it (with a status event when the status changed).
    async fn persist(&self, order: Order, result: StepResult) -> Result<Order, SagaError> {
        let mut next = order.clone();
        next.apply(result, self.env.clock.now());
        let events = if next.status == order.status {
            vec![]
        } else {
            vec![self.env.envelope(DomainEvent::OrderStatusChanged(next.summary()))]
        };
        self.orders.update(&next, order.version, &events).await?;
        Ok(next)
    }

    async fn execute(&self, action: SagaAction, order: &Order) -> Result<StepResult, SagaError> {
        match action {
            SagaAction::Reserve => self.reserve(order).await,
            SagaAction::Authorize | SagaAction::ResolveAuthorization => self.authorize(order).await,
            SagaAction::Capture => self.capture(order).await,
            SagaAction::CommitStock => match self.inventory.commit(order.reservation_id()).await {
                Ok(_) => Ok(StepResult::StockCommitted),
                Err(InventoryError::InvalidTransition { .. } | InventoryError::UnknownReservation(_)) => {
                    Ok(StepResult::StockLost)
                }
                Err(e) => Err(inventory_error(e)),
            },
            SagaAction::Void => {
                let PaymentState::Authorized { authorization_id } = &order.payment else {
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

fn inventory_error(e: InventoryError) -> SagaError {
    match e {
        InventoryError::Unavailable(m) => SagaError::Transient(m),
        other => SagaError::Invariant(other.to_string()),
    }
}

/// A placed order and the secret its customer reads it back with (shown once, stored hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    /// The order, in its state after the saga ran.
    pub order: Order,
    /// Bearer token for `GET /store/v1/orders/{id}`.
    pub access_token: String,
}

/// Checkout and order use cases.
#[derive(Clone)]
pub struct CheckoutService {
    catalog: Arc<dyn CatalogStore>,
    orders: Arc<dyn OrderStore>,
    gateway: Arc<dyn PaymentGateway>,
    runner: SagaRunner,
    env: Env,
}

/// Most lines one order may have.
pub const MAX_ORDER_LINES: usize = 100;

impl CheckoutService {
    /// A checkout over the given ports.
    pub fn new(
        catalog: Arc<dyn CatalogStore>,
        orders: Arc<dyn OrderStore>,
        gateway: Arc<dyn PaymentGateway>,
        runner: SagaRunner,
        env: Env,
    ) -> Self {
        Self { catalog, orders, gateway, runner, env }
    }

    /// The saga runner (for the recovery job).
    pub fn runner(&self) -> &SagaRunner {
        &self.runner
    }

    /// Validates the cart, prices it from the catalog, tokenises the card, creates the
    /// order and runs the saga. The returned order is normally `paid`, `cancelled` (out of
    /// stock) or `payment_failed` (declined). When a dependency failed mid-saga, it is the
    /// order as last persisted, in a non-final status: the recovery job will finish or
    /// compensate it, and the customer can follow it with the access token.
    pub async fn place_order(&self, input: &CheckoutInput) -> Result<PlacedOrder, CheckoutError> {
        self.place_order_as(input, OrderId::from_uuid(self.env.ids.new_id())).await
    }

    /// [`CheckoutService::place_order`] with a caller-chosen order id: the id an HTTP
    /// adapter derives from the request's idempotency key. When an order with this id
    /// exists, an earlier attempt of the same request got that far and then died (before
    /// its answer was stored): that order is resumed, never a second one placed, so a
    /// retried request is charged once. Its access token is re-issued, since the first
    /// one never reached the customer.
    pub async fn place_order_as(&self, input: &CheckoutInput, id: OrderId) -> Result<PlacedOrder, CheckoutError> {
        let unavailable = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
        if let Some(existing) = self.orders.get(id).await.map_err(unavailable)? {
            return self.resume_attempt(existing).await;
        }
        let now = self.env.clock.now();
        let mut errors = ValidationErrors::new();
        let email = errors.check("email", Email::parse(&input.email));
        let card = input.card.validate("card", now, &mut errors);
        let items = Self::validate_items(&input.items, &mut errors);
        let lines = self.price_lines(&items, &mut errors).await?;
        let total = match lines.first() {
            Some(first) => match Money::sum(first.unit_price.currency(), lines.iter().map(|l| &l.line_total)) {
                Ok(t) => Some(t),
                Err(e) => {
                    errors.add("items", format!("cannot total the cart: {e}"));
                    None
                }
            },
            None => None,
        };
        let (Some(email), Some(card), Some(total)) = (email, card, total) else {
            return Err(errors.into());
        };
        if !errors.is_empty() {
            return Err(errors.into());
        }

        let payment_method = match self.gateway.tokenize(&card).await {
            Ok(m) => m,
            Err(PaymentError::CardRefused(reason)) => {
                return Err(CheckoutError::CardRefused(reason));
            }
            Err(e) => {
                return Err(CheckoutError::Interrupted { order: None, cause: e.to_string() });
            }
        };
        let access_token = self.env.ids.new_secret();
        let order = Order {
            id,
            email,
            lines,
            total,
            payment_method,
            access_token_sha256: Order::hash_access_token(&access_token),
            status: OrderStatus::Pending,
            stock: StockState::NotReserved,
            payment: PaymentState::NotAuthorized,
            failure: None,
            version: Version::INITIAL,
            created_at: now,
            updated_at: now,
        };
        let placed = self.env.envelope(DomainEvent::OrderStatusChanged(order.summary()));
        self.orders
            .insert(&order, &[placed])
            .await
            .map_err(|e| CheckoutError::Interrupted { order: None, cause: e.to_string() })?;
        let order = self.run_saga(order).await?;
        Ok(PlacedOrder { order, access_token })
    }

    /// Picks up an order an earlier attempt of the same request left behind.
    async fn resume_attempt(&self, mut order: Order) -> Result<PlacedOrder, CheckoutError> {
        let access_token = self.env.ids.new_secret();
        let expected = order.version;
        order.access_token_sha256 = Order::hash_access_token(&access_token);
        order.version = order.version.next();
        order.updated_at = self.env.clock.now();
        self.orders
            .update(&order, expected, &[])
            .await
            .map_err(|e| CheckoutError::Interrupted { order: Some(order.id), cause: e.to_string() })?;
        let order = self.run_saga(order).await?;
        Ok(PlacedOrder { order, access_token })
    }

    /// Runs the saga; when it is suspended, answers with the order as last persisted.
    async fn run_saga(&self, order: Order) -> Result<Order, CheckoutError> {
        let id = order.id;
        match self.runner.run(order).await {
            Ok(order) => Ok(order),
            // Suspended mid-saga: report the order as persisted; the recovery job takes over.
            Err(e) => match self.orders.get(id).await {
                Ok(Some(order)) => Ok(order),
                _ => Err(CheckoutError::Interrupted { order: Some(id), cause: e.to_string() }),
            },
        }
    }

    /// Checks each line and merges lines naming the same product.
    fn validate_items(items: &[CheckoutItemInput], errors: &mut ValidationErrors) -> Vec<(ProductId, Quantity)> {
        if items.is_empty() || items.len() > MAX_ORDER_LINES {
            errors.add("items", format!("must contain 1 to {MAX_ORDER_LINES} items (got {})", items.len()));
            return vec![];
        }
        let mut merged: BTreeMap<ProductId, i64> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let id = errors.check(
                &format!("items[{i}].product_id"),
                item.product_id
                    .parse::<ProductId>()
                    .map_err(|_| InvalidValue::Other(format!("{:?} is not a product id", item.product_id))),
            );
            let quantity_ok = errors.check(
                &format!("items[{i}].quantity"),
                u32::try_from(item.quantity).map_err(|_| ()).and_then(|q| Quantity::new(q).map_err(|_| ())).map_err(
                    |()| InvalidValue::OutOfRange { min: 1, max: i64::from(Quantity::MAX), actual: item.quantity },
                ),
            );
            if let (Some(id), Some(_)) = (id, quantity_ok) {
                *merged.entry(id).or_default() += item.quantity;
            }
        }
        merged
            .into_iter()
            .filter_map(|(id, q)| {
                let quantity = u32::try_from(q).ok().and_then(|q| Quantity::new(q).ok());
                if quantity.is_none() {
                    errors.add("items", format!("total quantity of product {id} exceeds {}", Quantity::MAX));
                }
                quantity.map(|q| (id, q))
            })
            .collect()
    }

    /// Prices each line from the catalog (only active products are sold).
    async fn price_lines(
        &self,
        items: &[(ProductId, Quantity)],
        errors: &mut ValidationErrors,
    ) -> Result<Vec<OrderLine>, CheckoutError> {
        let mut lines = Vec::with_capacity(items.len());
        for (id, quantity) in items {
            let product = self
                .catalog
                .product(*id)
                .await
                .map_err(|e| CheckoutError::Interrupted { order: None, cause: e.to_string() })?;
            let Some(product) = product.filter(crate::catalog::Product::is_sellable) else {
                errors.add("items", format!("product {id} does not exist or is not for sale"));
                continue;
            };
            match product.price.checked_mul(quantity.get()) {
                Ok(line_total) => lines.push(OrderLine {
                    product_id: product.id,
                    sku: product.sku,
                    name: product.name,
                    unit_price: product.price,
                    quantity: *quantity,
                    line_total,
                }),
                Err(e) => errors.add("items", format!("product {id}: {e}")),
            }
        }
        Ok(lines)
    }
}
