//! A store of its own per test: a fresh key namespace on the test Redis.

use commerce_core::testkit::conformance::{inventory, restock};
use commerce_redis::RedisInventoryStore;

pub fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A store under a new namespace; `recording` turns its outbox stream on.
pub async fn fresh(recording: bool) -> RedisInventoryStore {
    let namespace = format!("test-{}", uuid::Uuid::new_v4().simple());
    let store = RedisInventoryStore::connect(&url(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("Redis must be running at {} for these tests: {e}", url()));
    if recording { store.recording_events() } else { store }
}

/// The core's inventory and restock conformance suites over fresh stores, cleared afterwards.
pub async fn conformance_suite(recording: bool) {
    let made = std::sync::Mutex::new(vec![]);
    let fresh_store = || async {
        let store = fresh(recording).await;
        made.lock().unwrap().push(store.clone());
        store
    };
    inventory::run(fresh_store).await;
    restock::run(fresh_store).await;
    for store in made.into_inner().unwrap() {
        store.clear().await.unwrap();
    }
}
