//! `--scenario restock`: how long a seller restock takes from the catalog's commit to
//! applied in the inventory (Redis) at a sustained rate, through the outbox, the relay,
//! the broker and the inventory service's restock consumer, all in-process.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use commerce_core::{
    ProductId, Timestamp,
    catalog::{MoneyInput, ProductInput},
    events::AggregateType,
    inventory::OnHand,
    ports::{Clock as _, Delivery, EventConsumer, EventError},
    services::{
        Env,
        catalog::CatalogService,
        events::{OutboxRelay, Restocker},
    },
};
use commerce_kafka::{DEFAULT_SESSION_TIMEOUT, KafkaConsumer, KafkaPublisher, ensure_topics};
use commerce_postgres::{PgCatalogStore, PgOutbox};
use commerce_redis::RedisInventoryStore;
use commerce_runtime::{RandomIds, SystemClock};
use hdrhistogram::Histogram;

use crate::pipeline::{paced, spawn_relay};

/// A consumer that records, at each acknowledgement, how long ago the acknowledged
/// events occurred: the restock was applied by then.
struct Timed {
    inner: KafkaConsumer,
    delivered: Mutex<Vec<(u64, Timestamp)>>,
    lag: Mutex<Histogram<u64>>,
}

impl Timed {
    fn applied(&self) -> u64 {
        self.lag.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[async_trait]
impl EventConsumer for Timed {
    async fn poll(&self, max: usize) -> Result<Vec<Delivery>, EventError> {
        let batch = self.inner.poll(max).await?;
        let mut delivered = self.delivered.lock().unwrap_or_else(PoisonError::into_inner);
        delivered.extend(batch.iter().map(|d| (d.tag, d.envelope.occurred_at)));
        Ok(batch)
    }

    async fn ack(&self, tag: u64) -> Result<(), EventError> {
        self.inner.ack(tag).await?;
        let now = SystemClock.now().unix_micros();
        let mut delivered = self.delivered.lock().unwrap_or_else(PoisonError::into_inner);
        let mut lag = self.lag.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, occurred) in delivered.iter().filter(|(t, _)| *t <= tag) {
            lag.saturating_record(u64::try_from(now - occurred.unix_micros()).unwrap_or(1).max(1));
        }
        delivered.retain(|(t, _)| *t > tag);
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<(), EventError> {
        self.inner.dead_letter(delivery, reason).await
    }
}

async fn products(catalog: &CatalogService, run: &str, count: usize) -> anyhow::Result<Vec<ProductId>> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let input = ProductInput {
            sku: format!("R-{run}-{n}"),
            name: format!("Restocked {n}"),
            price: MoneyInput { amount: 100, currency: "USD".into() },
            ..ProductInput::default()
        };
        ids.push(catalog.create_product(&input).await?.id);
    }
    Ok(ids)
}

/// Restocks `rate` per second for `seconds` over 100 products and prints the lag row.
pub async fn run(database_url: &str, brokers: &str, redis_url: &str, rate: u64, seconds: u64) -> anyhow::Result<()> {
    let pool = commerce_postgres::lazy_pool(database_url, 8)?;
    commerce_postgres::migrate_write(&pool).await?;
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    ensure_topics(brokers, &prefix, 3).await?;
    let catalog = CatalogService::new(
        Arc::new(PgCatalogStore::new(pool.clone())),
        Env::new(Arc::new(SystemClock), Arc::new(RandomIds)),
    );
    let ids = products(&catalog, &prefix[6..14], 100).await?;
    // The inventory service's store records each change for its own relay, as in production.
    let store = RedisInventoryStore::connect(redis_url, &prefix).await?.recording_events();
    let relay =
        OutboxRelay::new(Arc::new(PgOutbox::new(pool.clone(), 30)), Arc::new(KafkaPublisher::new(brokers, &prefix)?));
    let relay_task = spawn_relay(relay, 500);
    let consumer = Timed {
        inner: KafkaConsumer::subscribed(
            brokers,
            &prefix,
            &format!("{prefix}-inventory"),
            &[AggregateType::Restock],
            DEFAULT_SESSION_TIMEOUT,
        )?,
        delivered: Mutex::new(vec![]),
        lag: Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
    };
    let restocker = Restocker::with_transactional_events(Arc::new(store.clone()));

    // Warm-up: joining the consumer group takes seconds; measure from the first applied restock on.
    catalog.request_restock(ids[0], OnHand::new(1)?).await?;
    while consumer.applied() == 0 {
        restocker.step(&consumer, 500).await?;
    }
    consumer.lag.lock().unwrap_or_else(PoisonError::into_inner).reset();

    let ids = Arc::new(ids);
    let writer = tokio::spawn(paced(rate, seconds, move |n| {
        let (catalog, ids) = (catalog.clone(), ids.clone());
        async move {
            let product = ids[usize::try_from(n).unwrap_or(0) % ids.len()];
            catalog.request_restock(product, OnHand::new(1 + n % 100)?).await?;
            Ok(())
        }
    }));
    while !writer.is_finished() {
        restocker.step(&consumer, 500).await?;
    }
    let written = writer.await??;
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer.applied() < written && Instant::now() < deadline {
        restocker.step(&consumer, 500).await?;
    }
    relay_task.abort();
    let lag = consumer.lag.lock().unwrap_or_else(PoisonError::into_inner).clone();
    println!(
        "| restock lag at {rate} restocks/s ({written} restocks, {} applied) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
        lag.len(),
        lag.value_at_quantile(0.5) as f64 / 1000.0,
        lag.value_at_quantile(0.99) as f64 / 1000.0,
        lag.max() as f64 / 1000.0
    );
    store.clear().await?;
    Ok(())
}
