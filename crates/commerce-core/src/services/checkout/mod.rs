//! Checkout: placing an order and running its saga.
//!
//! - [`CheckoutInput::validate`] checks everything that needs no shop data (e-mail, card,
//!   items) into a [`CheckoutCommand`];
//! - [`CheckoutService`] prices the command from the catalog, tokenises the card, creates
//!   the order and runs the saga ([`SagaRunner`]);
//! - [`IdempotentCheckout`] wraps it in the idempotent-command protocol, so a client may
//!   retry a checkout under one key and is charged once.

mod charges;
mod idempotent;
mod input;
mod saga;
mod tally;

use std::sync::Arc;

pub use idempotent::{CheckoutReply, IdempotentCheckout};
pub use input::{
    CardData, CheckoutCommand, CheckoutInput, CheckoutItemInput, MAX_ORDER_LINES, PaymentSource, ShippingChoice,
};
pub use saga::{SagaError, SagaRunner};
pub use tally::{CheckoutObserver, ReplyKind};

use super::Env;
use crate::{
    catalog::{Product, Version},
    events::DomainEvent,
    ids::{CollectionId, OrderId, ProductId},
    inventory::Quantity,
    order::{Order, OrderLine, OrderStatus, PaymentState, StockState},
    payment::{DeclineReason, PaymentError},
    ports::{OrderStore, PaymentGateway, ProductStore, StoreError},
    validation::ValidationErrors,
};

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
    /// A shipment the order cannot take.
    #[error(transparent)]
    Shipment(#[from] crate::order::ShipmentRefused),
    /// A refund the order cannot take.
    #[error(transparent)]
    Refund(#[from] crate::order::RefundRefused),
    /// A cancellation the order cannot take.
    #[error(transparent)]
    Cancel(#[from] crate::order::CancelRefused),
    /// Another request with the same idempotency key is still running; retry shortly.
    #[error("a request with this idempotency key is still being processed")]
    InProgress,
    /// The idempotency key was already used for a different checkout.
    #[error("the idempotency key was already used with a different request")]
    KeyReused,
    /// A dependency (store, inventory, gateway) is unavailable. When `order` is set, the
    /// order exists or may exist (its outcome is unknown) and the recovery job or a retry
    /// under the same key will finish or compensate it.
    #[error("checkout interrupted: {cause}")]
    Interrupted {
        /// The order, if one was or may have been created.
        order: Option<OrderId>,
        /// What failed.
        cause: String,
    },
}

/// A placed order and the secret its customer reads it back with (stored only hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedOrder {
    /// The order, in its state after the saga ran.
    pub order: Order,
    /// Bearer token for `GET /store/v1/orders/{id}`.
    pub access_token: String,
}

/// Places orders and runs their saga.
#[derive(Clone)]
pub struct CheckoutService {
    products: Arc<dyn ProductStore>,
    orders: Arc<dyn OrderStore>,
    gateway: Arc<dyn PaymentGateway>,
    runner: SagaRunner,
    env: Env,
    card_data: CardData,
    pricing: Option<super::pricing::PricingService>,
}

impl CheckoutService {
    /// A checkout over the given ports.
    pub fn new(
        products: Arc<dyn ProductStore>,
        orders: Arc<dyn OrderStore>,
        gateway: Arc<dyn PaymentGateway>,
        runner: SagaRunner,
        env: Env,
    ) -> Self {
        Self { products, orders, gateway, runner, env, card_data: CardData::default(), pricing: None }
    }

    /// Orders are priced with the shop's shipping methods and tax rates: an address and a
    /// method are required while an active method exists, and tax is charged by the
    /// destination's rates. Without it, orders cost their subtotal.
    #[must_use]
    pub fn with_pricing(mut self, pricing: super::pricing::PricingService) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// Whether checkouts may carry card details or only processor tokens (by default
    /// [`CardData::Accepted`], for the simulated processors).
    #[must_use]
    pub fn with_card_data(mut self, card_data: CardData) -> Self {
        self.card_data = card_data;
        self
    }

    /// Whether checkouts may carry card details.
    pub fn card_data(&self) -> CardData {
        self.card_data
    }

    /// The saga runner (for the recovery job).
    pub fn runner(&self) -> &SagaRunner {
        &self.runner
    }

    /// Validates the input and places a new order with a fresh id and access token. The
    /// returned order is normally `paid`, `cancelled` (out of stock) or `payment_failed`
    /// (declined). When a dependency failed mid-saga, it is the order as last persisted,
    /// in a non-final status: the recovery job will finish or compensate it, and the
    /// customer can follow it with the access token.
    ///
    /// Not safe to retry: use [`IdempotentCheckout`] where a client may send a request again.
    pub async fn place_order(&self, input: &CheckoutInput) -> Result<PlacedOrder, CheckoutError> {
        let command = input.validate(self.env.clock.now(), self.card_data)?;
        let id = OrderId::from_uuid(self.env.ids.new_id());
        self.place(&command, id, self.env.ids.new_secret()).await
    }

    /// Places `command` as order `id`, readable with `access_token`. When order `id` exists,
    /// an earlier attempt of the same request got that far and then died: that order is
    /// resumed (and made readable with `access_token`), never a second one placed, so a
    /// retried request is charged once.
    ///
    /// An `Interrupted` error with `order: Some(id)` means the order exists or may exist
    /// (its insert's outcome is unknown); with `None`, nothing was created.
    pub async fn place(
        &self,
        command: &CheckoutCommand,
        id: OrderId,
        access_token: String,
    ) -> Result<PlacedOrder, CheckoutError> {
        let unknown = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
        if let Some(existing) = self.orders.get(id).await.map_err(unknown)? {
            return self.resume_attempt(existing, access_token).await;
        }
        self.place_first(command, id, access_token).await
    }

    /// [`place`](Self::place) for an `id` no earlier attempt used (the first claim of an
    /// idempotency key): it skips looking for that attempt's order. Were there one after
    /// all, the new order's insert would be refused as a duplicate and that order resumed,
    /// so a wrong call is slower, never wrong.
    pub async fn place_first(
        &self,
        command: &CheckoutCommand,
        id: OrderId,
        access_token: String,
    ) -> Result<PlacedOrder, CheckoutError> {
        let now = self.env.clock.now();
        let lines = self.price_lines(&command.items).await?;
        let charged = self.charges(command.shipping.as_ref(), lines).await?;

        let payment_method = match &command.payment {
            PaymentSource::Card(card) => self.gateway.tokenize(card).await,
            PaymentSource::Token(token) => self.gateway.describe(token).await,
        };
        let payment_method = match payment_method {
            Ok(m) => m,
            Err(PaymentError::CardRefused(reason)) => return Err(CheckoutError::CardRefused(reason)),
            Err(PaymentError::InvalidRequest(_)) if matches!(command.payment, PaymentSource::Token(_)) => {
                return Err(
                    ValidationErrors::single("payment_method", "is not a payment method the processor issued").into()
                );
            }
            Err(e) => return Err(CheckoutError::Interrupted { order: None, cause: e.to_string() }),
        };
        let order = Order {
            id,
            email: command.email.clone(),
            lines: charged.lines,
            total: charged.total,
            charges: Some(charged.charges),
            shipping: charged.shipping,
            shipments: vec![],
            refunds: vec![],
            cancellation: None,
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
        // Written before any stock is reserved, so a crash after that always leaves an
        // order for the recovery job to finish or compensate (its reservation with it).
        let placed = self.env.envelope(DomainEvent::OrderStatusChanged(order.summary()));
        match self.orders.insert(&order, &[placed]).await {
            Ok(()) => {}
            // An earlier attempt inserted it after all: carry on with that order.
            Err(StoreError::Duplicate(_)) => return self.resume(id, access_token).await,
            // The connection may have died around the commit: the order may exist.
            Err(e) => return Err(CheckoutError::Interrupted { order: Some(id), cause: e.to_string() }),
        }
        let order = self.run_saga(order).await?;
        Ok(PlacedOrder { order, access_token })
    }

    /// The order placed as `id`, with the token that reads it (a replay of a finished
    /// checkout).
    pub async fn placed(&self, id: OrderId, access_token: String) -> Result<PlacedOrder, CheckoutError> {
        let unavailable = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
        let order = self.orders.get(id).await.map_err(unavailable)?.ok_or(CheckoutError::NotFound)?;
        Ok(PlacedOrder { order, access_token })
    }

    async fn resume(&self, id: OrderId, access_token: String) -> Result<PlacedOrder, CheckoutError> {
        let unknown = |e: StoreError| CheckoutError::Interrupted { order: Some(id), cause: e.to_string() };
        match self.orders.get(id).await.map_err(unknown)? {
            Some(order) => self.resume_attempt(order, access_token).await,
            None => Err(CheckoutError::Interrupted { order: Some(id), cause: "order vanished".into() }),
        }
    }

    /// Picks up an order an earlier attempt of the same request left behind.
    async fn resume_attempt(&self, mut order: Order, access_token: String) -> Result<PlacedOrder, CheckoutError> {
        if !order.grants_access(&access_token) {
            let expected = order.version;
            order.access_token_sha256 = Order::hash_access_token(&access_token);
            order.version = order.version.next();
            order.updated_at = self.env.clock.now();
            self.orders
                .update(&order, expected, &[])
                .await
                .map_err(|e| CheckoutError::Interrupted { order: Some(order.id), cause: e.to_string() })?;
        }
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

    /// Prices each line from the catalog (only active products are sold), with the
    /// collection of its product (which may have its own tax rate).
    async fn price_lines(
        &self,
        items: &[(ProductId, Quantity)],
    ) -> Result<Vec<(OrderLine, Option<CollectionId>)>, CheckoutError> {
        let mut errors = ValidationErrors::new();
        let mut lines = Vec::with_capacity(items.len());
        for (id, quantity) in items {
            let product = self
                .products
                .product(*id)
                .await
                .map_err(|e| CheckoutError::Interrupted { order: None, cause: e.to_string() })?;
            let Some(product) = product.filter(Product::is_sellable) else {
                errors.add("items", format!("product {id} does not exist or is not for sale"));
                continue;
            };
            match product.price.checked_mul(quantity.get()) {
                Ok(line_total) => lines.push((
                    OrderLine {
                        product_id: product.id,
                        sku: product.sku,
                        name: product.name,
                        unit_price: product.price,
                        quantity: *quantity,
                        line_total,
                        tax: None,
                    },
                    product.collection_id,
                )),
                Err(e) => errors.add("items", format!("product {id}: {e}")),
            }
        }
        if errors.is_empty() && !lines.is_empty() { Ok(lines) } else { Err(errors.into()) }
    }
}
