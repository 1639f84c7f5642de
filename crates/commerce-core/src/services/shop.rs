//! [`Shop`]: every use case of a whole shop, wired once on the adapters you give it.
//!
//! ```
//! # use std::sync::Arc;
//! # use commerce_core::{
//! #     idempotency::IdempotencySecret, ports::*, services::{Env, inventory::InventoryService, shop::Shop},
//! #     testkit::fixed::{ManualClock, SequentialIds},
//! # };
//! # fn wire(
//! #     catalog: Arc<impl ProductStore + CollectionStore + RestockLog + 'static>,
//! #     read_model: Arc<dyn ProductReadModel>, inventory: InventoryService, orders: Arc<dyn OrderStore>,
//! #     keys: Arc<dyn IdempotencyStore>, gateway: Arc<dyn PaymentGateway>,
//! #     pricing: Arc<impl ShippingMethodStore + TaxRateStore + 'static>,
//! # ) -> Result<(), commerce_core::services::shop::ShopError> {
//! let env = Env::new(Arc::new(ManualClock::default()), Arc::new(SequentialIds::new()));
//! let shop = Shop::builder(env.clone())
//!     .catalog(catalog)
//!     .read_model(read_model)
//!     .inventory(inventory)
//!     .orders(orders)
//!     .idempotency(keys, IdempotencySecret::generate(&*env.ids))
//!     .gateway(gateway)
//!     .pricing(pricing)
//!     .build()?;
//! // shop.catalog, shop.storefront, shop.checkout, shop.orders, shop.refunds, shop.stock, shop.recovery,
// shop.payment_notices ...
//! # let _ = shop; Ok(()) }
//! ```

use std::sync::Arc;

use super::{
    Env,
    catalog::CatalogService,
    checkout::{CardData, CheckoutService, IdempotentCheckout, SagaRunner},
    idempotency::IdempotencyService,
    inventory::InventoryService,
    orders::OrderService,
    payment_notices::PaymentNoticeService,
    pricing::PricingService,
    recovery::RecoveryService,
    refunds::RefundService,
    restock::{RestockDelivery, RestockService},
    storefront::StorefrontService,
};
use crate::{
    idempotency::IdempotencySecret,
    ports::{
        CollectionStore, IdempotencyStore, InventoryStore, OrderStore, PaymentGateway, ProductReadModel, ProductStore,
        RestockLog, ShippingMethodStore, TaxRateStore,
    },
};

/// A port the builder was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shop needs {0}: set it on the builder")]
pub struct ShopError(pub &'static str);

/// Every use case of a shop, sharing one set of adapters.
#[derive(Clone)]
pub struct Shop {
    /// Products and collections (operators).
    pub catalog: CatalogService,
    /// Listings, product pages, facets (customers).
    pub storefront: StorefrontService,
    /// Stock and reservations.
    pub inventory: InventoryService,
    /// Operators' restocks and stock reads.
    pub stock: RestockService,
    /// Retry-safe checkout under a client key.
    pub checkout: IdempotentCheckout,
    /// Order reads and fulfilment.
    pub orders: OrderService,
    /// Finishes or compensates orders a crash left unfinished, and expires reservations.
    pub recovery: RecoveryService,
    /// Wakes orders on the card processor's notifications (webhooks).
    pub payment_notices: PaymentNoticeService,
    /// Refunds and cancellations (operators).
    pub refunds: RefundService,
    /// Shipping methods and tax rates.
    pub pricing: PricingService,
    /// The clock and ids every service stamps its work with.
    pub env: Env,
}

impl Shop {
    /// Starts wiring a shop that stamps its work with `env`.
    pub fn builder(env: Env) -> ShopBuilder {
        ShopBuilder {
            env,
            products: None,
            collections: None,
            restocks: None,
            read_model: None,
            live_stock: None,
            facet_cache: None,
            checkout_observer: None,
            inventory: None,
            orders: None,
            idempotency: None,
            gateway: None,
            pricing: None,
            reservation_ttl_secs: 900,
            claim_stale_after_secs: IdempotencyService::DEFAULT_STALE_AFTER_SECS,
            restock_delivery: RestockDelivery::Direct,
            card_data: CardData::default(),
        }
    }
}

/// Collects a shop's adapters and settings; [`ShopBuilder::build`] wires the services.
#[must_use]
pub struct ShopBuilder {
    env: Env,
    products: Option<Arc<dyn ProductStore>>,
    collections: Option<Arc<dyn CollectionStore>>,
    restocks: Option<Arc<dyn RestockLog>>,
    read_model: Option<Arc<dyn ProductReadModel>>,
    facet_cache: Option<std::time::Duration>,
    live_stock: Option<Arc<dyn InventoryStore>>,
    inventory: Option<InventoryService>,
    orders: Option<Arc<dyn OrderStore>>,
    idempotency: Option<(Arc<dyn IdempotencyStore>, IdempotencySecret)>,
    gateway: Option<Arc<dyn PaymentGateway>>,
    pricing: Option<(Arc<dyn ShippingMethodStore>, Arc<dyn TaxRateStore>)>,
    reservation_ttl_secs: i64,
    claim_stale_after_secs: i64,
    restock_delivery: RestockDelivery,
    card_data: CardData,
    checkout_observer: Option<Arc<dyn super::checkout::CheckoutObserver>>,
}

impl ShopBuilder {
    /// One store for products, collections and the restock log.
    pub fn catalog<S>(self, store: Arc<S>) -> Self
    where
        S: ProductStore + CollectionStore + RestockLog + 'static,
    {
        self.catalog_ports(store.clone(), store.clone(), store)
    }

    /// One store for shipping methods and tax rates.
    pub fn pricing<S>(mut self, store: Arc<S>) -> Self
    where
        S: ShippingMethodStore + TaxRateStore + 'static,
    {
        self.pricing = Some((store.clone(), store));
        self
    }

    /// Separate catalog ports (products and collections must share a store for the
    /// collection-in-use rule).
    pub fn catalog_ports(
        mut self,
        products: Arc<dyn ProductStore>,
        collections: Arc<dyn CollectionStore>,
        restocks: Arc<dyn RestockLog>,
    ) -> Self {
        self.products = Some(products);
        self.collections = Some(collections);
        self.restocks = Some(restocks);
        self
    }

    /// The storefront's read model.
    pub fn read_model(mut self, read_model: Arc<dyn ProductReadModel>) -> Self {
        self.read_model = Some(read_model);
        self
    }

    /// Show live stock from `inventory` on storefront pages (see
    /// [`StorefrontService::with_live_stock`]).
    pub fn live_stock(mut self, inventory: Arc<dyn InventoryStore>) -> Self {
        self.live_stock = Some(inventory);
        self
    }

    /// Keep facet counts of each filter set for `ttl` (see
    /// [`StorefrontService::with_facet_cache`]; default: counted on every request).
    pub fn facet_cache(mut self, ttl: std::time::Duration) -> Self {
        self.facet_cache = Some(ttl);
        self
    }

    /// Told how each checkout reply ends (a metrics adapter).
    pub fn checkout_observer(mut self, observer: Arc<dyn super::checkout::CheckoutObserver>) -> Self {
        self.checkout_observer = Some(observer);
        self
    }

    /// Stock and reservations, with their event delivery.
    pub fn inventory(mut self, inventory: InventoryService) -> Self {
        self.inventory = Some(inventory);
        self
    }

    /// Orders with their saga state.
    pub fn orders(mut self, orders: Arc<dyn OrderStore>) -> Self {
        self.orders = Some(orders);
        self
    }

    /// Idempotency keys, and the secret that fingerprints commands and derives order tokens.
    pub fn idempotency(mut self, store: Arc<dyn IdempotencyStore>, secret: IdempotencySecret) -> Self {
        self.idempotency = Some((store, secret));
        self
    }

    /// The card processor.
    pub fn gateway(mut self, gateway: Arc<dyn PaymentGateway>) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// Whether checkouts may carry card details or only the processor's tokens (default
    /// [`CardData::Accepted`]: set [`CardData::Refused`] with a real processor).
    pub fn card_data(mut self, card_data: CardData) -> Self {
        self.card_data = card_data;
        self
    }

    /// Seconds a checkout's reservation lives unless committed (default 900).
    pub fn reservation_ttl_secs(mut self, secs: i64) -> Self {
        self.reservation_ttl_secs = secs;
        self
    }

    /// Seconds after which an unsettled idempotency claim may be taken over (default 60).
    pub fn claim_stale_after_secs(mut self, secs: i64) -> Self {
        self.claim_stale_after_secs = secs;
        self
    }

    /// How operators' restocks reach the inventory (default [`RestockDelivery::Direct`]).
    pub fn restock_delivery(mut self, delivery: RestockDelivery) -> Self {
        self.restock_delivery = delivery;
        self
    }

    /// Wires every service. Fails naming the first port that was not set.
    pub fn build(self) -> Result<Shop, ShopError> {
        let env = self.env;
        let products = self.products.ok_or(ShopError("a product store"))?;
        let collections = self.collections.ok_or(ShopError("a collection store"))?;
        let restocks = self.restocks.ok_or(ShopError("a restock log"))?;
        let read_model = self.read_model.ok_or(ShopError("a read model"))?;
        let inventory = self.inventory.ok_or(ShopError("an inventory"))?;
        let orders = self.orders.ok_or(ShopError("an order store"))?;
        let (keys, secret) = self.idempotency.ok_or(ShopError("an idempotency store and secret"))?;
        let gateway = self.gateway.ok_or(ShopError("a payment gateway"))?;
        let (methods, rates) = self.pricing.ok_or(ShopError("a shipping method and tax rate store"))?;

        let pricing = PricingService::new(methods, rates, collections.clone(), env.clone());
        let catalog = CatalogService::from_ports(products.clone(), collections, restocks, env.clone());
        let mut storefront = StorefrontService::new(read_model);
        if let Some(live) = self.live_stock {
            storefront = storefront.with_live_stock(live);
        }
        if let Some(ttl) = self.facet_cache.filter(|ttl| !ttl.is_zero()) {
            storefront = storefront.with_facet_cache(env.clock.clone(), ttl);
        }
        let runner =
            SagaRunner::new(orders.clone(), inventory.clone(), gateway.clone(), env.clone(), self.reservation_ttl_secs);
        let checkout = CheckoutService::new(products, orders.clone(), gateway, runner.clone(), env.clone())
            .with_card_data(self.card_data)
            .with_pricing(pricing.clone());
        let idempotency =
            IdempotencyService::new(keys, secret, env.clock.clone()).with_stale_after_secs(self.claim_stale_after_secs);
        Ok(Shop {
            stock: RestockService::new(catalog.clone(), inventory.clone(), self.restock_delivery),
            catalog,
            storefront,
            pricing,
            payment_notices: PaymentNoticeService::new(orders.clone(), runner.clone(), idempotency.clone()),
            checkout: match self.checkout_observer {
                Some(observer) => IdempotentCheckout::new(checkout, idempotency).with_observer(observer),
                None => IdempotentCheckout::new(checkout, idempotency),
            },
            orders: OrderService::new(orders.clone(), env.clone()),
            refunds: RefundService::new(orders.clone(), runner.clone(), env.clone()),
            recovery: RecoveryService::new(orders, runner, inventory.clone(), env.clone()),
            inventory,
            env,
        })
    }
}
