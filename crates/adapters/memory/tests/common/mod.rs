//! The shop every use-case test starts from: every service wired on the memory adapters
//! with the shop builder, a clock the test moves, and a gateway it can switch off.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use async_trait::async_trait;
use commerce_core::{
    Money, ProductId,
    catalog::{MoneyInput, Product, ProductInput},
    idempotency::ClientKey,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, CardInput, IdempotencyKey,
        PaymentError, PaymentMethod, PaymentToken, RefundId,
    },
    ports::{InventoryStore, PaymentGateway},
    query::ProductView,
    services::{
        Env,
        checkout::{CheckoutError, CheckoutInput, CheckoutItemInput, PlacedOrder},
        events::Restocker,
        shop::{Shop, ShopBuilder},
        storefront::StorefrontError,
    },
    testkit::{
        fixed::{ManualClock, SequentialIds},
        units,
    },
};
use commerce_memory::{MemoryAdapters, MemoryConsumer, MemoryPaymentGateway};

pub const GOOD_CARD: &str = "4242 4242 4242 4242";
pub const DECLINED_CARD: &str = "4000 0000 0000 0002";
pub const NO_FUNDS_CARD: &str = "4000 0000 0000 9995";
pub const ACTION_CARD: &str = "4000 0025 0000 3155";

/// A gateway that can be switched off, to strand orders mid-checkout.
pub struct Flaky {
    pub inner: MemoryPaymentGateway,
    pub down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), PaymentError> {
        if self.down.load(Ordering::SeqCst) { Err(PaymentError::Unavailable("switched off".into())) } else { Ok(()) }
    }
}

#[async_trait]
impl PaymentGateway for Flaky {
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError> {
        self.inner.tokenize(card).await
    }
    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError> {
        self.inner.describe(token).await
    }
    async fn authorize(&self, r: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError> {
        self.check()?;
        self.inner.authorize(r).await
    }
    async fn authorization(&self, a: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError> {
        self.check()?;
        self.inner.authorization(a).await
    }
    async fn capture(&self, k: &IdempotencyKey, a: &AuthorizationId, m: Money) -> Result<CaptureId, PaymentError> {
        self.check()?;
        self.inner.capture(k, a, m).await
    }
    async fn void(&self, k: &IdempotencyKey, a: &AuthorizationId) -> Result<(), PaymentError> {
        self.check()?;
        self.inner.void(k, a).await
    }
    async fn refund(&self, k: &IdempotencyKey, c: &CaptureId, m: Money) -> Result<RefundId, PaymentError> {
        self.check()?;
        self.inner.refund(k, c, m).await
    }
}

/// Every service wired on memory adapters, as the embedded binary does it, with a
/// clock the test moves and a gateway it can switch off.
pub struct TestShop {
    pub shop: Shop,
    pub clock: Arc<ManualClock>,
    pub adapters: MemoryAdapters,
    pub restocker: Restocker,
    pub restocks: MemoryConsumer,
    pub gateway: Arc<Flaky>,
    pub keys: AtomicU64,
}

impl std::ops::Deref for TestShop {
    type Target = Shop;
    fn deref(&self) -> &Shop {
        &self.shop
    }
}

impl TestShop {
    pub fn new() -> Self {
        Self::with(|builder| builder)
    }

    /// A shop whose builder `adjust` may change (to swap an adapter for a faulty one).
    pub fn with(adjust: impl FnOnce(ShopBuilder) -> ShopBuilder) -> Self {
        let clock = Arc::new(ManualClock::default());
        let env = Env::new(clock.clone(), Arc::new(SequentialIds::new()));
        let adapters = MemoryAdapters::new();
        let gateway = Arc::new(Flaky { inner: MemoryPaymentGateway::new(), down: AtomicBool::new(false) });
        let shop = adjust(adapters.shop(env.clone()).gateway(gateway.clone())).build().unwrap();
        Self {
            restocker: Restocker::new(adapters.inventory.clone(), adapters.bus.clone(), env),
            restocks: adapters.bus.consumer("inventory"),
            shop,
            clock,
            adapters,
            gateway,
            keys: AtomicU64::new(0),
        }
    }

    /// Relays the outbox to the bus, applies restocks and projects everything pending.
    pub async fn sync(&self) {
        self.adapters.sync().await.unwrap();
        while self.restocker.step(&self.restocks, 100).await.unwrap().received > 0 {}
        self.adapters.sync().await.unwrap();
    }

    pub async fn given_product(&self, sku: &str, amount: i64, stock: u64) -> Product {
        let input = ProductInput {
            sku: sku.into(),
            name: format!("Product {sku}"),
            price: MoneyInput { amount, currency: "USD".into() },
            status: Some("active".into()),
            ..ProductInput::default()
        };
        let product = self.catalog.create_product(&input).await.unwrap();
        self.inventory.set_on_hand(product.id, units(stock)).await.unwrap();
        self.sync().await;
        product
    }

    /// A checkout as a client sends it, under a fresh idempotency key.
    pub async fn when_checkout(&self, items: &[(ProductId, i64)], card: &str) -> Result<PlacedOrder, CheckoutError> {
        let key = ClientKey::parse(&format!("key-{}", self.keys.fetch_add(1, Ordering::SeqCst))).unwrap();
        let reply = self.checkout.place_order(&key, &checkout_input(items, card)).await;
        assert!(!reply.replayed, "a fresh key executes");
        self.sync().await;
        reply.result
    }

    pub async fn listed(&self, id: ProductId) -> Result<ProductView, StorefrontError> {
        self.storefront.product(id).await
    }

    pub async fn on_hand(&self, id: ProductId) -> (u64, u64) {
        let l = self.adapters.inventory.stock(&[id]).await.unwrap()[0];
        (l.on_hand, l.reserved)
    }
}

pub fn checkout_input(items: &[(ProductId, i64)], card: &str) -> CheckoutInput {
    CheckoutInput {
        email: "ada@example.com".into(),
        items: items.iter().map(|(id, q)| CheckoutItemInput { product_id: id.to_string(), quantity: *q }).collect(),
        card: Some(CardInput { number: card.into(), exp_month: 12, exp_year: 2030, cvc: "123".into() }),
        payment_method: None,
        shipping_address: None,
        shipping_method_id: None,
    }
}
