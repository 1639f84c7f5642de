//! `--scenario pipeline`: the event pipeline's figures against a PostgreSQL write
//! database and a Kafka-protocol broker, with the relay and projector in-process:
//! projection lag at a sustained write rate, relay throughput from a filled outbox,
//! and a plain rdkafka producer with no outbox or database as the reference.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use commerce_core::{
    EventId, ProductId, Timestamp,
    catalog::{MoneyInput, ProductInput},
    events::EventEnvelope,
    inventory::StockLevel,
    ports::{EventConsumer, EventPublisher},
    services::{
        Env,
        catalog::CatalogService,
        events::{OutboxRelay, Projector},
    },
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher, ensure_topics, topic};
use commerce_postgres::{PgCatalogStore, PgOutbox, PgReadModel};
use commerce_runtime::{RandomIds, SystemClock};
use hdrhistogram::Histogram;
use rdkafka::{
    ClientConfig,
    producer::{FutureProducer, FutureRecord},
    util::Timeout,
};

fn now() -> Timestamp {
    commerce_core::ports::Clock::now(&SystemClock)
}

/// Calls `write(n)` for n = 0, 1, ... at `rate` per second for `seconds` and returns how
/// many it made. The schedule is fixed: a slow write is followed by catch-up writes, so
/// the rate holds.
pub async fn paced<F, Fut>(rate: u64, seconds: u64, mut write: F) -> anyhow::Result<u64>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut n = 0_u64;
    while Instant::now() < until {
        tick.tick().await;
        write(n).await?;
        n += 1;
    }
    Ok(n)
}

/// Runs `relay` in batches of `batch` until the task is aborted.
pub fn spawn_relay(relay: OutboxRelay, batch: usize) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if relay.step(batch).await.unwrap_or(0) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    })
}

/// Events that occurred in the first second, while a consumer group is still joining, are
/// the start-up tail; the steady state is everything after.
const START_UP: Duration = Duration::from_secs(1);

/// Runs the three measurements and prints a table. With `assigned`, the consumer reads its
/// partitions without joining the group (`KafkaConsumer::assigned`).
/// `warm_up`: the relay's producer and the consumer start this long before the first
/// write, which tells their start-up (connections, metadata, offsets, a group join) from
/// the pipeline's steady work.
pub async fn run(
    database_url: &str,
    brokers: &str,
    (rate, seconds): (u64, u64),
    assigned: bool,
    warm_up: Duration,
) -> anyhow::Result<()> {
    let pool = commerce_postgres::lazy_pool(database_url, 8)?;
    commerce_postgres::migrate_write(&pool).await?;
    commerce_postgres::migrate_read(&pool).await?;
    let prefix = format!("bench-{}", uuid::Uuid::new_v4().simple());
    ensure_topics(brokers, &prefix, 3).await?;
    let outbox = Arc::new(PgOutbox::new(pool.clone(), 30));
    let publisher = Arc::new(KafkaPublisher::new(brokers, &prefix)?);
    let relay = OutboxRelay::new(outbox.clone(), publisher.clone());
    let projector = Projector::new(Arc::new(PgReadModel::new(pool.clone())));
    let group = format!("{prefix}-read-model");
    let consumer = if assigned {
        KafkaConsumer::assigned(brokers, &prefix, &group, &commerce_kafka::READ_MODEL_AGGREGATES)?
    } else {
        KafkaConsumer::new(brokers, &prefix, &group)?
    };
    let catalog = CatalogService::new(
        Arc::new(PgCatalogStore::new(pool.clone())),
        Env::new(Arc::new(SystemClock), Arc::new(RandomIds)),
    );

    // 1. Lag: products created at `rate`/s; relay and projector run beside; lag = applied - occurred.
    // SKUs unique to this run, so runs can share a database.
    let run = prefix[6..14].to_owned();
    if !warm_up.is_zero() {
        let relay_task = spawn_relay(relay.clone(), 200);
        let until = Instant::now() + warm_up;
        while Instant::now() < until {
            let _ = consumer.poll(1).await?;
        }
        relay_task.abort();
    }
    let writer = tokio::spawn(paced(rate, seconds, move |n| {
        let (catalog, run) = (catalog.clone(), run.clone());
        async move {
            let input = ProductInput {
                sku: format!("B-{run}-{n}"),
                name: format!("Bench {n}"),
                price: MoneyInput { amount: 100, currency: "USD".into() },
                status: Some("active".into()),
                ..ProductInput::default()
            };
            catalog.create_product(&input).await?;
            Ok(())
        }
    }));
    let relay_task = spawn_relay(relay.clone(), 200);
    let mut lag = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut start_up = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let started = Instant::now();
    let steady_from = now().unix_micros() + i64::try_from(START_UP.as_micros()).unwrap_or(0);
    let mut applied = 0_u64;
    while started.elapsed() < Duration::from_secs(seconds + 5) {
        let batch = consumer.poll(500).await?;
        projector.apply_all(batch.iter().map(|d| &d.envelope)).await?;
        for d in &batch {
            let micros = now().unix_micros() - d.envelope.occurred_at.unix_micros();
            let histogram = if d.envelope.occurred_at.unix_micros() < steady_from { &mut start_up } else { &mut lag };
            histogram.saturating_record(u64::try_from(micros.max(1)).unwrap_or(1));
            applied += 1;
        }
        if let Some(last) = batch.last() {
            consumer.ack(last.tag).await?;
        }
        if writer.is_finished() && batch.is_empty() && outbox.pending().await? == 0 {
            break;
        }
    }
    let written = writer.await??;
    relay_task.abort();
    let how = if assigned { "partitions assigned" } else { "group join" };
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "| projection lag at {rate} writes/s, steady state ({how}; {written} products, {applied} events) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
        ms(&lag, 0.5),
        ms(&lag, 0.99),
        lag.max() as f64 / 1000.0
    );
    println!(
        "| projection lag of the first second's events: start-up tail ({how}; {} events) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
        start_up.len(),
        ms(&start_up, 0.5),
        ms(&start_up, 0.99),
        start_up.max() as f64 / 1000.0
    );

    relay_and_reference(&outbox, &relay, brokers, &prefix).await
}

/// Relay throughput from a filled outbox, then a plain producer with the same events.
async fn relay_and_reference(
    outbox: &PgOutbox,
    relay: &OutboxRelay,
    brokers: &str,
    prefix: &str,
) -> anyhow::Result<()> {
    // 2. Relay throughput: fill the outbox, then drain it.
    let total = 20_000_u64;
    let events: Vec<EventEnvelope> = (0..total)
        .map(|n| {
            let level = StockLevel {
                product_id: ProductId::from_uuid(uuid::Uuid::from_u128(u128::from(n % 500))),
                on_hand: n,
                reserved: 0,
                version: n + 1,
            };
            EventEnvelope::stock_changed(EventId::from_uuid(uuid::Uuid::now_v7()), now(), level)
        })
        .collect();
    for chunk in events.chunks(1000) {
        outbox.publish(chunk).await?;
    }
    let t = Instant::now();
    let mut relayed = 0;
    while relayed < total {
        relayed += u64::try_from(relay.step(1000).await?).unwrap_or(0);
    }
    let relay_rate = relayed as f64 / t.elapsed().as_secs_f64();
    println!("| relay: outbox -> broker, batches of 1,000 | {relay_rate:.0} events/s | | |");

    // 3. Reference: a plain producer, same payloads, no outbox or database.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()?;
    let payloads: Vec<(String, Vec<u8>)> =
        events.iter().map(|e| (e.aggregate_id.to_string(), serde_json::to_vec(e).unwrap_or_default())).collect();
    let stock_topic = topic(prefix, commerce_core::events::AggregateType::Stock);
    let t = Instant::now();
    for chunk in payloads.chunks(1000) {
        let sends = chunk.iter().map(|(key, payload)| {
            producer
                .send(FutureRecord::to(&stock_topic).key(key).payload(payload), Timeout::After(Duration::from_secs(10)))
        });
        for r in futures::future::join_all(sends).await {
            r.map_err(|(e, _)| anyhow::anyhow!(e))?;
        }
    }
    let plain_rate = total as f64 / t.elapsed().as_secs_f64();
    println!(
        "| reference: plain rdkafka producer, same events, batches of 1,000 | {plain_rate:.0} events/s | ratio relay/plain {:.2} | |",
        relay_rate / plain_rate
    );
    Ok(())
}
