//! The in-memory inventory: the reference [`Ledger`] behind a lock.

use std::sync::Mutex;

use async_trait::async_trait;
use commerce_core::{
    ProductId, ReservationId, Timestamp,
    inventory::{
        InventoryError, InventoryReceipt, Ledger, OnHand, ReservationRequest, RestockOutcome, StockLevel, StockReturn,
    },
    ports::{InventoryStore, RestockStore},
};

use crate::lock;

/// Stock and reservations in memory. Every operation runs under one lock, so it is
/// atomic and linearisable. Reservation records are kept for the life of the process.
#[derive(Debug, Default)]
pub struct MemoryInventoryStore {
    ledger: Mutex<Ledger>,
}

impl MemoryInventoryStore {
    /// An empty inventory.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl InventoryStore for MemoryInventoryStore {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        let l = lock(&self.ledger);
        Ok(products.iter().filter_map(|p| l.stock(*p)).collect())
    }

    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        lock(&self.ledger).set_on_hand(product, on_hand)
    }

    async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        lock(&self.ledger).reserve(request)
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        lock(&self.ledger).commit(id)
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        lock(&self.ledger).release(id)
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        Ok(lock(&self.ledger).expire(now, limit))
    }

    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        lock(&self.ledger).restore(request)
    }
}

#[async_trait]
impl RestockStore for MemoryInventoryStore {
    async fn restock(
        &self,
        product: ProductId,
        on_hand: OnHand,
        restock: u64,
    ) -> Result<RestockOutcome, InventoryError> {
        lock(&self.ledger).restock(product, on_hand, restock)
    }
}
