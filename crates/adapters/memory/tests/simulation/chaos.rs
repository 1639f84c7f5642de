//! The chaos layers of the checkout simulation: every port the saga and the
//! idempotent checkout touch, wrapped so one seeded generator decides when a call fails
//! before taking effect, fails after taking effect (a timeout), or runs twice, and so
//! concurrent attempts interleave at every port call.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use commerce_core::{
    Money, OrderId, ProductId, ReservationId, Timestamp,
    catalog::Version,
    events::EventEnvelope,
    idempotency::{CommandOutcome, Fingerprint, KeyDigest},
    inventory::{InventoryError, InventoryReceipt, OnHand, ReservationRequest, StockLevel, StockReturn},
    order::Order,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, IdempotencyKey, PaymentError,
        PaymentMethod, PaymentToken, RefundId,
    },
    ports::{IdempotencyClaim, IdempotencyStore, InventoryStore, OrderQuery, OrderStore, PaymentGateway, StoreError},
};
use commerce_memory::{MemoryIdempotencyStore, MemoryInventoryStore, MemoryOrderStore, MemoryPaymentGateway};

/// A seeded xorshift generator and a fault budget shared by every chaos layer.
pub struct Chaos {
    pub state: Mutex<(u64, u32)>,
    pub rate_percent: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    FailBefore,
    FailAfter,
    Duplicate,
}

impl Chaos {
    pub fn new(seed: u64, budget: u32, rate_percent: u64) -> Self {
        Self { state: Mutex::new((seed | 1, budget)), rate_percent }
    }

    fn next(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        let mut x = s.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.0 = x;
        x
    }

    fn roll(&self, choices: &[Fault]) -> Fault {
        let r = self.next();
        let mut s = self.state.lock().unwrap();
        if s.1 == 0 || r % 100 >= self.rate_percent {
            return Fault::None;
        }
        s.1 -= 1;
        choices[usize::try_from((r / 100) % choices.len() as u64).unwrap()]
    }

    /// Grants `budget` more faults; returns how many of the last budget were used.
    pub fn refill(&self, budget: u32) -> u32 {
        let mut s = self.state.lock().unwrap();
        let used = budget - s.1.min(budget);
        s.1 = budget;
        used
    }

    pub fn pick(&self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

pub const ALL: &[Fault] = &[Fault::FailBefore, Fault::FailAfter, Fault::Duplicate];

/// Returns `Pending` once, so concurrent attempts interleave at every port call.
pub struct YieldNow(bool);

impl std::future::Future for YieldNow {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            std::task::Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

/// Runs `call` under a fault: maybe not at all, maybe twice, maybe "losing" its answer.
macro_rules! chaotic {
    ($chaos:expr, $unavailable:expr, $call:expr) => {{
        YieldNow(false).await;
        match $chaos.roll(ALL) {
            Fault::FailBefore => Err($unavailable),
            Fault::FailAfter => {
                let _ = $call;
                Err($unavailable)
            }
            Fault::Duplicate => {
                let first = $call;
                let second = $call;
                assert_eq!(
                    format!("{first:?}"),
                    format!("{second:?}"),
                    "a duplicated step must return the first outcome"
                );
                second
            }
            Fault::None => $call,
        }
    }};
}

pub struct ChaosGateway {
    pub inner: MemoryPaymentGateway,
    pub chaos: Arc<Chaos>,
}

pub fn gateway_down() -> PaymentError {
    PaymentError::Unavailable("injected timeout".into())
}

#[async_trait]
impl PaymentGateway for ChaosGateway {
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError> {
        match self.chaos.roll(&[Fault::FailBefore]) {
            Fault::None => self.inner.tokenize(card).await,
            _ => Err(gateway_down()),
        }
    }
    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError> {
        match self.chaos.roll(&[Fault::FailBefore]) {
            Fault::None => self.inner.describe(token).await,
            _ => Err(gateway_down()),
        }
    }
    async fn authorize(&self, r: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError> {
        chaotic!(self.chaos, gateway_down(), self.inner.authorize(r).await)
    }
    async fn authorization(&self, a: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError> {
        match self.chaos.roll(&[Fault::FailBefore]) {
            Fault::None => self.inner.authorization(a).await,
            _ => Err(gateway_down()),
        }
    }
    async fn capture(&self, k: &IdempotencyKey, a: &AuthorizationId, m: Money) -> Result<CaptureId, PaymentError> {
        chaotic!(self.chaos, gateway_down(), self.inner.capture(k, a, m).await)
    }
    async fn void(&self, k: &IdempotencyKey, a: &AuthorizationId) -> Result<(), PaymentError> {
        chaotic!(self.chaos, gateway_down(), self.inner.void(k, a).await)
    }
    async fn refund(&self, k: &IdempotencyKey, c: &CaptureId, m: Money) -> Result<RefundId, PaymentError> {
        chaotic!(self.chaos, gateway_down(), self.inner.refund(k, c, m).await)
    }
}

pub struct ChaosInventory {
    pub inner: Arc<MemoryInventoryStore>,
    pub chaos: Arc<Chaos>,
}

pub fn inventory_down() -> InventoryError {
    InventoryError::Unavailable("injected outage".into())
}

#[async_trait]
impl InventoryStore for ChaosInventory {
    async fn stock(&self, p: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        self.inner.stock(p).await
    }
    async fn set_on_hand(&self, p: ProductId, n: OnHand) -> Result<StockLevel, InventoryError> {
        self.inner.set_on_hand(p, n).await
    }
    async fn reserve(&self, r: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        chaotic!(self.chaos, inventory_down(), self.inner.reserve(r).await)
    }
    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        chaotic!(self.chaos, inventory_down(), self.inner.commit(id).await)
    }
    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        chaotic!(self.chaos, inventory_down(), self.inner.release(id).await)
    }
    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        self.inner.expire(now, limit).await
    }
    async fn restore(&self, r: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        chaotic!(self.chaos, inventory_down(), self.inner.restore(r).await)
    }
}

/// Order writes that crash before or after persisting.
pub struct CrashingOrders {
    pub inner: Arc<MemoryOrderStore>,
    pub chaos: Arc<Chaos>,
}

pub fn crashed() -> StoreError {
    StoreError::Unavailable("injected crash".into())
}

#[async_trait]
impl OrderStore for CrashingOrders {
    async fn insert(&self, o: &Order, e: &[EventEnvelope]) -> Result<(), StoreError> {
        YieldNow(false).await;
        match self.chaos.roll(&[Fault::FailBefore, Fault::FailAfter]) {
            Fault::FailBefore => Err(crashed()),
            Fault::FailAfter => self.inner.insert(o, e).await.and(Err(crashed())),
            _ => self.inner.insert(o, e).await,
        }
    }
    async fn update(&self, o: &Order, v: Version, e: &[EventEnvelope]) -> Result<(), StoreError> {
        YieldNow(false).await;
        match self.chaos.roll(&[Fault::FailBefore, Fault::FailAfter]) {
            Fault::FailBefore => Err(crashed()),
            Fault::FailAfter => self.inner.update(o, v, e).await.and(Err(crashed())),
            _ => self.inner.update(o, v, e).await,
        }
    }
    async fn get(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.inner.get(id).await
    }
    async fn list(&self, q: &OrderQuery) -> Result<Vec<Order>, StoreError> {
        self.inner.list(q).await
    }
    async fn claim_stalled(&self, claim: &commerce_core::ports::StalledClaim) -> Result<Vec<Order>, StoreError> {
        self.inner.claim_stalled(claim).await
    }
}

/// Idempotency-store writes that crash before or after taking effect.
pub struct ChaosKeys {
    pub inner: MemoryIdempotencyStore,
    pub chaos: Arc<Chaos>,
}

macro_rules! crashing {
    ($chaos:expr, $call:expr) => {{
        YieldNow(false).await;
        match $chaos.roll(&[Fault::FailBefore, Fault::FailAfter]) {
            Fault::FailBefore => Err(crashed()),
            Fault::FailAfter => $call.and(Err(crashed())),
            _ => $call,
        }
    }};
}

#[async_trait]
impl IdempotencyStore for ChaosKeys {
    async fn claim(
        &self,
        k: &KeyDigest,
        f: &Fingerprint,
        now: Timestamp,
        stale: Timestamp,
    ) -> Result<IdempotencyClaim, StoreError> {
        crashing!(self.chaos, self.inner.claim(k, f, now, stale).await)
    }
    async fn complete(&self, k: &KeyDigest, o: &CommandOutcome) -> Result<(), StoreError> {
        crashing!(self.chaos, self.inner.complete(k, o).await)
    }
    async fn release(&self, k: &KeyDigest) -> Result<(), StoreError> {
        crashing!(self.chaos, self.inner.release(k).await)
    }
}
