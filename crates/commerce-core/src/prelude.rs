//! The names most embeddings use, in one import:
//!
//! ```
//! use commerce_core::prelude::*;
//!
//! let price = Money::new(1999, Currency::USD).unwrap();
//! assert_eq!(price.to_string(), "19.99 USD");
//! ```
//!
//! Ports are here as traits (so their methods are in scope); adapters live in their own
//! crates (`commerce-memory`, `commerce-postgres`, ...).

pub use crate::{
    Currency, Money, Timestamp,
    catalog::{
        Collection, CollectionInput, CollectionPatchInput, MoneyInput, Product, ProductInput, ProductPatchInput,
        ProductStatus, Version,
    },
    idempotency::{ClientKey, IdempotencySecret},
    ids::{CollectionId, EventId, OrderId, ProductId, ReservationId},
    inventory::{InventoryError, OnHand, Quantity, StockLevel},
    order::{Order, OrderStatus},
    payment::CardInput,
    ports::{
        Clock, CollectionStore, EventConsumer, EventPublisher, IdGenerator, IdempotencyStore, InventoryStore,
        OrderStore, Outbox, PaymentGateway, ProductProjection, ProductReadModel, ProductStore, RestockLog,
        RestockStore, StoreError,
    },
    query::{ProductPage, ProductQuery, ProductQueryInput, ProductQueryParams, ProductView, SortOrder},
    services::{
        Env,
        catalog::{CatalogError, CatalogService},
        checkout::{CheckoutError, CheckoutInput, CheckoutItemInput, CheckoutReply, IdempotentCheckout, PlacedOrder},
        inventory::InventoryService,
        orders::OrderService,
        restock::{RestockDelivery, RestockService},
        shop::{Shop, ShopBuilder},
        storefront::{StorefrontError, StorefrontService},
    },
    validation::ValidationErrors,
};
