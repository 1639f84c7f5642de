//! Crash the relay and the projector at random moments under write load, restart
//! them, and the read model still ends equal to the write model: no event lost,
//! none applied out of order. A crash is simulated by aborting the task at whatever
//! `.await` it is in (a database transaction rolls back, a published batch stays
//! unmarked, an applied batch stays unacknowledged), then starting it again with the
//! same consumer group, as a restarted process would.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::testkit::units;
use std::time::{Duration, Instant};

use commerce_core::{
    catalog::{MoneyInput, ProductPatchInput},
    services::events::{OutboxRelay, Projector},
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher};
use commerce_postgres::{PgOutbox, testing::Databases};
use common::{Models, brokers, fresh_topics};
use std::sync::Arc;

/// xorshift: a seed reproduces the crash schedule.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_relay_and_projector_lose_nothing() {
    // CHAOS_SEED replays a reported schedule (the write load's timing still varies).
    let seed =
        std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(u64::from(std::process::id()) | 1);
    eprintln!("crash schedule seed: {seed}");
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let prefix = fresh_topics(3).await;
    let models = Models::new(&pool, 30).await;
    let (catalog, inventory, ids, read) = (&models.catalog, &models.inventory, &models.ids, &models.read);

    // Write load: renames, price changes and restocks for four seconds.
    let writer = {
        let (catalog, inventory, ids) = (catalog.clone(), inventory.clone(), ids.clone());
        tokio::spawn(async move {
            let mut rng = Rng(seed ^ 0xABCD);
            let until = Instant::now() + Duration::from_secs(4);
            let mut writes = 0;
            while Instant::now() < until {
                let id = ids[usize::try_from(rng.below(ids.len() as u64)).unwrap()];
                if rng.below(2) == 0 {
                    let patch = ProductPatchInput {
                        name: Some(format!("Chaos {}", rng.below(1000))),
                        price: Some(MoneyInput {
                            amount: i64::try_from(rng.below(10_000)).unwrap(),
                            currency: "USD".into(),
                        }),
                        ..ProductPatchInput::default()
                    };
                    catalog.update_product(id, &patch, None).await.unwrap();
                } else {
                    inventory.set_on_hand(id, units(rng.below(50))).await.unwrap();
                }
                writes += 1;
            }
            writes
        })
    };

    // Relay and projector, each aborted and restarted at random moments.
    let outbox = Arc::new(PgOutbox::new(pool.clone(), 1));
    let publisher = Arc::new(KafkaPublisher::new(brokers(), &prefix).unwrap());
    let group = format!("{prefix}-read-model");
    let mut rng = Rng(seed);
    let mut crashes = 0_u32;
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let relay = OutboxRelay::new(outbox.clone(), publisher.clone());
        let relay_task = tokio::spawn(async move {
            loop {
                let _ = relay.step(10).await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let (read, prefix, group) = (read.clone(), prefix.clone(), group.clone());
        let projector_task = tokio::spawn(async move {
            let projector = Projector::new(read);
            let consumer = KafkaConsumer::new(brokers(), &prefix, &group).unwrap();
            loop {
                let _ = projector.step(&consumer, 10).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(200 + rng.below(800))).await;
        relay_task.abort();
        projector_task.abort();
        crashes += 2;
    }
    let write_count = writer.await.unwrap();
    assert!(write_count > 50, "the write load ran ({write_count} writes)");

    // Restart both for good and let them drain, each phase bounded: a stuck step fails the
    // test with its name instead of holding CI.
    let relay = OutboxRelay::new(outbox.clone(), publisher.clone());
    tokio::time::sleep(Duration::from_millis(1100)).await; // let the crashed relays' leases lapse
    let relayed = tokio::time::timeout(Duration::from_secs(120), async {
        while relay.step(100).await.unwrap() > 0 || outbox.pending().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(relayed.is_ok(), "the relay did not empty the outbox within 120 s");
    // A crashed consumer is not always a clean leaver: its partitions return to the group
    // when its session times out, so "idle for a few polls" can come before the last events
    // are delivered. Project until the models agree, within a deadline beyond a session
    // timeout; a lost event never lets them agree and fails the test.
    let projector = Projector::new(read.clone());
    let consumer = KafkaConsumer::new(brokers(), &prefix, &group).unwrap();
    let agreed = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let moved = projector.step(&consumer, 200).await.unwrap();
            if moved == 0 && models.compare().await.is_ok() {
                return;
            }
            if moved == 0 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    })
    .await;
    if agreed.is_err() {
        let difference = models.compare().await.err().unwrap_or_else(|| "none left".into());
        panic!("the read model differs 120 s after {crashes} crashes: {difference}");
    }
    eprintln!("{write_count} writes, {crashes} crashes: read model equals write model");
    dbs.cleanup().await;
}
