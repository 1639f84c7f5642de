//! A copy of the read model kept current from its change feed: how each storefront
//! replica serves listings from memory while the projector writes one shared read model.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use crate::ports::{CollectionChange, FeedPosition, ReadModelFeed, StoreError, ViewReplica};

/// What one [`ReplicaSync::step`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaStep {
    /// Product views and collections read from the feed.
    pub received: usize,
    /// Of those, how many changed the copy (the rest were repeats or older).
    pub applied: usize,
    /// The step ended a pass: the copy is current as of the pass's start.
    pub caught_up: bool,
    /// The longest a change of this step waited in the source before it was read.
    pub longest_wait: Option<Duration>,
}

/// Feeds a [`ViewReplica`] from a [`ReadModelFeed`], one batch per step. The position
/// lives here, in memory: a restarted replica starts from an empty copy and the feed's
/// beginning (the snapshot).
pub struct ReplicaSync {
    feed: Arc<dyn ReadModelFeed>,
    copy: Arc<dyn ViewReplica>,
    position: Mutex<FeedPosition>,
    batch: usize,
}

impl ReplicaSync {
    /// Copies `feed` into `copy`, `batch` products per step (at least 1).
    pub fn new(feed: Arc<dyn ReadModelFeed>, copy: Arc<dyn ViewReplica>, batch: usize) -> Self {
        Self { feed, copy, position: Mutex::new(FeedPosition::default()), batch: batch.max(1) }
    }

    /// Reads one batch and applies it. On error the position is kept and the next step
    /// reads the same batch again.
    ///
    /// # Errors
    /// `Unavailable` when the feed or the copy fails.
    pub async fn step(&self) -> Result<ReplicaStep, StoreError> {
        let from = self.position.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let batch = self.feed.changes(&from, self.batch).await?;
        let mut applied = 0;
        // Collections first: a product's page names its collection.
        for change in &batch.collections {
            let changed = match change {
                CollectionChange::Stored(c) => self.copy.apply_collection(c).await?,
                CollectionChange::Removed(id) => self.copy.remove_collection(*id).await?,
            };
            applied += usize::from(changed);
        }
        for view in &batch.products {
            applied += usize::from(self.copy.apply_view(view).await?);
        }
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) = batch.next;
        Ok(ReplicaStep {
            received: batch.products.len() + batch.collections.len(),
            applied,
            caught_up: batch.caught_up,
            longest_wait: batch.longest_wait,
        })
    }

    /// Steps until a pass ends: at start-up, the whole snapshot. Returns the views and
    /// collections read.
    ///
    /// # Errors
    /// The first failing step's error.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let mut received = 0;
        loop {
            let step = self.step().await?;
            received += step.received;
            if step.caught_up {
                return Ok(received);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        catalog::{Collection, Product},
        ids::{CollectionId, ProductId},
        ports::{FeedBatch, MockReadModelFeed, ProductProjection},
        query::ProductView,
    };

    /// Records what it was given, so the test reads what the service applied.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl ProductProjection for Recorder {
        async fn apply_product(&self, _: &Product) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn apply_stock(&self, _: ProductId, _: u64, _: u64) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn apply_collection(&self, c: &Collection) -> Result<bool, StoreError> {
            self.seen.lock().unwrap().push(format!("collection {}", c.id));
            Ok(true)
        }
        async fn remove_collection(&self, id: CollectionId) -> Result<bool, StoreError> {
            self.seen.lock().unwrap().push(format!("removed {id}"));
            Ok(true)
        }
        async fn reset(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[async_trait::async_trait]
    impl ViewReplica for Recorder {
        async fn apply_view(&self, view: &ProductView) -> Result<bool, StoreError> {
            self.seen.lock().unwrap().push(format!("view {}", view.id));
            Ok(view.product_version > 1)
        }
    }

    fn views(n: u64) -> Vec<ProductView> {
        let price = crate::money::Money::new(500, crate::money::Currency::USD).unwrap();
        let at = crate::timestamp::Timestamp::from_unix_micros(0);
        let product = crate::testkit::strategies::product(ProductId::from_uuid(uuid::Uuid::from_u128(1)), 1, price, at);
        (1..=n).map(|v| ProductView { product_version: v, ..ProductView::from_product(&product, 0, 0) }).collect()
    }

    #[test]
    fn steps_follow_the_position_the_feed_returns_and_catch_up_stops_at_the_end_of_a_pass() {
        // Given a feed of two batches, the second ending the pass
        let mut feed = MockReadModelFeed::new();
        let removed = CollectionId::from_uuid(uuid::Uuid::from_u128(9));
        feed.expect_changes().withf(|from, limit| from.0.is_empty() && *limit == 2).times(1).returning(move |_, _| {
            Ok(FeedBatch {
                products: views(2),
                collections: vec![CollectionChange::Removed(removed)],
                next: FeedPosition("page-2".into()),
                caught_up: false,
                longest_wait: None,
            })
        });
        feed.expect_changes().withf(|from, _| from.0 == "page-2").times(1).returning(|_, _| {
            Ok(FeedBatch {
                products: views(1),
                next: FeedPosition("pass-2".into()),
                caught_up: true,
                longest_wait: Some(Duration::from_millis(30)),
                ..FeedBatch::default()
            })
        });
        let copy = Arc::new(Recorder::default());
        let sync = ReplicaSync::new(Arc::new(feed), copy.clone(), 2);

        // When it catches up
        let received = futures::executor::block_on(sync.catch_up()).unwrap();

        // Then it read both batches, collections before the products of a batch
        assert_eq!(received, 4);
        let seen = copy.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[0], format!("removed {removed}"));
        assert!(seen[1..].iter().all(|s| s.starts_with("view ")));
        assert_eq!(*sync.position.lock().unwrap(), FeedPosition("pass-2".into()));
    }

    #[test]
    fn a_failed_read_keeps_the_position() {
        let mut feed = MockReadModelFeed::new();
        feed.expect_changes().times(1).returning(|_, _| Err(StoreError::Unavailable("down".into())));
        let sync = ReplicaSync::new(Arc::new(feed), Arc::new(Recorder::default()), 10);
        assert!(futures::executor::block_on(sync.step()).is_err());
        assert_eq!(*sync.position.lock().unwrap(), FeedPosition::default());
    }
}
