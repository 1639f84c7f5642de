//! Writing your own adapter for a port, and proving it with the shipped conformance suite.
//!
//! `FileInventory` keeps stock and reservations in a plain JSON file. It implements the
//! `InventoryStore` port without re-implementing a single rule: each operation loads the
//! records, applies the core's reference rules (`Ledger`) and writes the file back
//! (atomically, by rename), all under one lock. The same suite every shipped adapter
//! passes (memory, PostgreSQL, Redis, gRPC) then proves it, plus the model-based check
//! against the reference ledger on random operation sequences.
//!
//! ```text
//! cargo run -p commerce-examples --example own_adapter
//! ```

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::{
    path::{Path, PathBuf},
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use commerce_core::{
    ProductId, ReservationId, Timestamp,
    inventory::{
        InventoryError, InventoryReceipt, Ledger, OnHand, Reservation, ReservationRequest, StockLevel, StockReturn,
    },
    ports::InventoryStore,
    testkit::conformance::inventory,
};
use proptest::test_runner::{Config, TestRunner};
use serde::{Deserialize, Serialize};

/// What the file holds.
#[derive(Default, Serialize, Deserialize)]
struct Records {
    levels: Vec<StockLevel>,
    reservations: Vec<Reservation>,
}

/// Stock in a JSON file. The lock makes each operation atomic within this process; a
/// store shared by several processes would lock the file too.
struct FileInventory {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileInventory {
    fn new(path: PathBuf) -> Self {
        Self { path, lock: Mutex::new(()) }
    }

    /// Loads the records into a ledger, lets `op` apply the core's rules, and writes the
    /// result back when the operation succeeded.
    fn with_ledger<T>(&self, op: impl FnOnce(&mut Ledger) -> Result<T, InventoryError>) -> Result<T, InventoryError> {
        let _guard = self.lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let records: Records = match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| unavailable(&self.path, &e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Records::default(),
            Err(e) => return Err(unavailable(&self.path, &e)),
        };
        let mut ledger = Ledger::from_parts(records.levels, records.reservations);
        let result = op(&mut ledger)?;
        let records = Records {
            levels: ledger.levels().copied().collect(),
            reservations: ledger.reservations().cloned().collect(),
        };
        let bytes = serde_json::to_vec(&records).map_err(|e| unavailable(&self.path, &e))?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &self.path))
            .map_err(|e| unavailable(&self.path, &e))?;
        Ok(result)
    }
}

fn unavailable(path: &Path, e: &dyn std::fmt::Display) -> InventoryError {
    InventoryError::Unavailable(format!("{}: {e}", path.display()))
}

#[async_trait]
impl InventoryStore for FileInventory {
    async fn stock(&self, products: &[ProductId]) -> Result<Vec<StockLevel>, InventoryError> {
        self.with_ledger(|l| Ok(products.iter().filter_map(|p| l.stock(*p)).collect()))
    }

    async fn set_on_hand(&self, product: ProductId, on_hand: OnHand) -> Result<StockLevel, InventoryError> {
        self.with_ledger(|l| l.set_on_hand(product, on_hand))
    }

    async fn reserve(&self, request: &ReservationRequest) -> Result<InventoryReceipt, InventoryError> {
        // A refusal is recorded too (a retry gets it again), so the file is written either way.
        let mut outcome = None;
        self.with_ledger(|l| {
            outcome = Some(l.reserve(request));
            Ok(())
        })?;
        outcome.unwrap_or_else(|| Err(InventoryError::Unavailable("no outcome".into())))
    }

    async fn commit(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.with_ledger(|l| l.commit(id))
    }

    async fn release(&self, id: ReservationId) -> Result<InventoryReceipt, InventoryError> {
        self.with_ledger(|l| l.release(id))
    }

    async fn expire(&self, now: Timestamp, limit: usize) -> Result<Vec<InventoryReceipt>, InventoryError> {
        self.with_ledger(|l| Ok(l.expire(now, limit)))
    }

    async fn restore(&self, request: &StockReturn) -> Result<InventoryReceipt, InventoryError> {
        self.with_ledger(|l| l.restore(request))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("commerce-own-adapter-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let files = AtomicU64::new(0);
    let fresh = || FileInventory::new(dir.join(format!("stock-{}.json", files.fetch_add(1, Ordering::SeqCst))));

    // Every case of the port's contract, each on a fresh, empty store.
    futures::executor::block_on(inventory::run(|| async { fresh() }));
    println!("FileInventory passes the InventoryStore conformance suite");

    // The store agrees with the reference ledger on random operation sequences.
    let mut runner = TestRunner::new(Config { cases: 64, failure_persistence: None, ..Config::default() });
    runner
        .run(&inventory::inventory_ops(), |ops| {
            futures::executor::block_on(inventory::check_model(&fresh(), 1, &ops));
            Ok(())
        })
        .map_err(|e| format!("the model check failed: {e}"))?;
    println!("FileInventory agrees with the reference ledger on 64 random operation sequences");

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
