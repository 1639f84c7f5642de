//! The broker stops for 30 s under write load: every write still succeeds (its
//! events wait in the outbox), and once the broker is back the relay and projector
//! (the same ones, not restarted) catch up until the read model equals the write model.
//!
//! The consumer's session timeout (45 s, Kafka's default) outlasts the outage, so the
//! projector keeps its partitions; the relay's producer, fenced by tansu when the
//! broker returns, is replaced by the publisher.
//!
//! The broker is frozen with SIGSTOP, so it keeps its in-memory topics and answers
//! nothing, as a partitioned or hung broker does. It must be the script-started tansu
//! (`scripts/broker`); this test is alone in its test binary because it stops the
//! broker every other test uses.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::testkit::units;
use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use commerce_core::{
    catalog::{MoneyInput, ProductPatchInput},
    services::events::{OutboxRelay, Projector},
};
use commerce_kafka::{KafkaConsumer, KafkaPublisher};
use commerce_postgres::{PgOutbox, testing::Databases};
use common::{Models, brokers, fresh_topics};
use tokio_util::sync::CancellationToken;

/// The broker frozen until dropped (also when the test panics).
struct Frozen(String);

impl Frozen {
    fn broker() -> Self {
        let out = Command::new("pgrep").args(["-f", "tansu broker"]).output().unwrap();
        let pid = String::from_utf8(out.stdout).unwrap().lines().next().map(str::to_owned);
        let pid = pid.unwrap_or_else(|| panic!("no tansu broker process to stop: start it with scripts/broker"));
        signal("STOP", &pid);
        Self(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("CONT", &self.0);
    }
}

fn signal(name: &str, pid: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), pid]).status().unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_a_broker_outage_and_the_read_model_catches_up() {
    let dbs = Databases::new();
    let pool = dbs.fresh().await;
    let prefix = fresh_topics(3).await;
    let models = Arc::new(Models::new(&pool, 20).await);
    let stop = CancellationToken::new();

    // The relay and the projector run throughout, as deployed; failures are retried.
    let outbox = Arc::new(PgOutbox::new(pool.clone(), 5));
    let relay_failures = Arc::new(AtomicU64::new(0));
    let relay = {
        let relay = OutboxRelay::new(outbox.clone(), Arc::new(KafkaPublisher::new(brokers(), &prefix).unwrap()));
        let (stop, failures) = (stop.clone(), relay_failures.clone());
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                if relay.step(100).await.is_err() {
                    failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let projector = {
        let projector = Projector::new(models.read.clone());
        let consumer = KafkaConsumer::new(brokers(), &prefix, &format!("{prefix}-read-model")).unwrap();
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.is_cancelled() {
                if projector.step(&consumer, 100).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        })
    };

    // Write load for the whole run: every write must succeed, broker or not.
    let written = Arc::new(AtomicU64::new(0));
    let load = CancellationToken::new();
    let writer = {
        let (models, stop, writes) = (models.clone(), load.clone(), written.clone());
        tokio::spawn(async move {
            let mut n = 0_u64;
            while !stop.is_cancelled() {
                let id = models.ids[usize::try_from(n % models.ids.len() as u64).unwrap()];
                if n.is_multiple_of(2) {
                    let patch = ProductPatchInput {
                        name: Some(format!("Outage {n}")),
                        price: Some(MoneyInput { amount: i64::try_from(n % 5000).unwrap(), currency: "USD".into() }),
                        ..ProductPatchInput::default()
                    };
                    models.catalog.update_product(id, &patch, None).await.unwrap();
                } else {
                    models.inventory.set_on_hand(id, units(n % 40)).await.unwrap();
                }
                n += 1;
                writes.store(n, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = written.load(Ordering::Relaxed);
    {
        let _frozen = Frozen::broker();
        tokio::time::sleep(Duration::from_secs(30)).await;
        let during = written.load(Ordering::Relaxed) - before;
        let queued = outbox.pending().await.unwrap();
        eprintln!("broker stopped 30 s: {during} writes succeeded, {queued} events waiting in the outbox");
        assert!(during > 300, "writes kept succeeding without the broker ({during})");
        assert!(queued > 100, "their events waited in the outbox ({queued})");
    }
    let resumed = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    load.cancel();
    writer.await.unwrap();
    let total = written.load(Ordering::Relaxed);

    // Caught up: nothing left in the outbox and the read model equal to the write model.
    let deadline = resumed + Duration::from_secs(90);
    let caught_up = loop {
        let drained = outbox.pending().await.unwrap() == 0;
        match (drained, models.compare().await) {
            (true, Ok(())) => break Ok(()),
            (_, difference) if Instant::now() > deadline => break difference.and(Err("outbox not drained".into())),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    stop.cancel();
    relay.await.unwrap();
    projector.await.unwrap();
    eprintln!(
        "{total} writes; {} relay failures during the outage; caught up {:.1} s after the broker returned",
        relay_failures.load(Ordering::Relaxed),
        resumed.elapsed().as_secs_f64()
    );
    caught_up.unwrap();
    dbs.cleanup().await;
}
