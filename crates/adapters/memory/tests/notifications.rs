//! Customer messages over the memory adapters, in given/when/then form: which steps of an
//! order are told, once each, and what a failing mail server does to them.

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly on unexpected errors")]

mod common;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use commerce_core::{
    idempotency::ClientKey,
    notify::{Delivered, DeliveryError, Message, Notice, NoticeKind, Rendered, Sender},
    order::{RefundInput, ShipmentInput, ShipmentLineInput},
    ports::{Mailer, MessageRenderer},
    services::notifications::{Handled, NotificationService, NotifyError},
};
use commerce_memory::{MemoryConsumer, MemoryDeliveryLog};
use common::{DECLINED_CARD, GOOD_CARD, TestShop};
use futures::executor::block_on;

/// A mail server answering from a script (then accepting everything), keeping what it took.
#[derive(Default)]
struct ScriptedMailer {
    answers: Mutex<VecDeque<Result<(), DeliveryError>>>,
    taken: Mutex<Vec<Message>>,
}

#[async_trait]
impl Mailer for ScriptedMailer {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let answer = self.answers.lock().unwrap().pop_front().unwrap_or(Ok(()));
        if answer.is_ok() {
            self.taken.lock().unwrap().push(message.clone());
        }
        answer
    }
}

/// Subject: the kind; body: the order's total.
struct Plain;

impl MessageRenderer for Plain {
    fn render(&self, notice: &Notice) -> Result<Rendered, String> {
        let text = format!("total {}", notice.order.total);
        Ok(Rendered { subject: notice.kind.as_str().to_owned(), text: text.clone(), html: text })
    }
}

struct Given {
    shop: TestShop,
    mailer: Arc<ScriptedMailer>,
    log: Arc<MemoryDeliveryLog>,
    notifications: NotificationService,
    consumer: MemoryConsumer,
}

fn given() -> Given {
    let shop = TestShop::new();
    let mailer = Arc::new(ScriptedMailer::default());
    let log = Arc::new(MemoryDeliveryLog::new());
    let notifications = NotificationService::new(
        shop.adapters.orders.clone(),
        log.clone(),
        Arc::new(Plain),
        mailer.clone(),
        Sender::parse("Shop <orders@shop.example>").unwrap(),
        shop.shop.env.clone(),
    );
    let consumer = shop.adapters.bus.consumer("notifications");
    Given { shop, mailer, log, notifications, consumer }
}

impl Given {
    /// Relays the outbox, then runs the notifier until it has nothing left (or fails).
    async fn notify(&self) -> Result<usize, NotifyError> {
        self.shop.sync().await;
        let mut total = 0;
        loop {
            match self.notifications.step(&self.consumer, 100).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    fn told(&self) -> Vec<(String, &'static str)> {
        self.mailer.taken.lock().unwrap().iter().map(|m| (m.to.as_str().to_owned(), m.kind.as_str())).collect()
    }
}

#[test]
fn each_step_of_an_order_is_told_once_and_failed_checkouts_not_at_all() {
    block_on(async {
        let g = given();
        let mug = g.shop.given_product("MUG-1", 1250, 10).await;

        // Given a paid order, shipped in part and refunded in part, another one cancelled,
        let first = g.shop.when_checkout(&[(mug.id, 3)], GOOD_CARD).await.unwrap().order;
        let shipment = ShipmentInput {
            lines: vec![ShipmentLineInput { product_id: mug.id.to_string(), quantity: 1 }],
            carrier: "DHL".into(),
            tracking_number: "0034".into(),
            tracking_url: None,
        };
        g.shop.shop.orders.ship(first.id, &shipment).await.unwrap();
        let refund = RefundInput {
            lines: Some(vec![ShipmentLineInput { product_id: mug.id.to_string(), quantity: 1 }]),
            ..RefundInput::default()
        };
        g.shop.shop.refunds.refund(first.id, &ClientKey::parse("r-1").unwrap(), &refund).await.unwrap();
        let second = g.shop.when_checkout(&[(mug.id, 1)], GOOD_CARD).await.unwrap().order;
        g.shop.shop.refunds.cancel(second.id).await.unwrap();
        // and a declined checkout,
        let _ = g.shop.when_checkout(&[(mug.id, 1)], DECLINED_CARD).await;

        // when the notifier runs, twice (the second time over redelivered events),
        g.notify().await.unwrap();
        let redelivered = g.shop.adapters.bus.consumer("notifications-replay");
        while g.notifications.step(&redelivered, 100).await.unwrap() > 0 {}

        // then each step was told once, and the declined checkout not at all.
        let mut kinds: Vec<&str> = g.told().iter().map(|(_, k)| *k).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["order_cancelled", "order_confirmed", "order_confirmed", "refund_issued", "shipment_sent"]);
        assert!(g.told().iter().all(|(to, _)| to == "ada@example.com"));
        let taken = g.mailer.taken.lock().unwrap().clone();
        let ids: std::collections::BTreeSet<_> = taken.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(ids.len(), 5, "one Message-ID per event");
        assert_eq!(g.log.records().len(), 5);
    });
}

#[test]
fn a_transient_failure_is_retried_and_a_permanent_one_dead_lettered() {
    block_on(async {
        let g = given();
        let mug = g.shop.given_product("MUG-1", 1250, 10).await;
        g.shop.when_checkout(&[(mug.id, 1)], GOOD_CARD).await.unwrap();
        g.shop.when_checkout(&[(mug.id, 2)], GOOD_CARD).await.unwrap();
        g.mailer.answers.lock().unwrap().extend([
            Err(DeliveryError::Transient("421 try again later".into())),
            Err(DeliveryError::Permanent("550 no such mailbox".into())),
        ]);

        // The server is busy: nothing is recorded or acknowledged, the event comes again.
        assert!(matches!(g.notify().await, Err(NotifyError::Delivery(DeliveryError::Transient(_)))));
        assert!(g.log.records().is_empty());

        // Then it refuses the first message for good and takes the second.
        g.notify().await.unwrap();
        let records = g.log.records();
        assert_eq!(records.len(), 2);
        assert!(records.iter().any(|r| r.outcome == Delivered::DeadLettered { reason: "550 no such mailbox".into() }));
        assert_eq!(g.told().len(), 1);
        let parked = g.shop.adapters.bus.dead_letters();
        assert_eq!(parked.len(), 1);
        assert_eq!(parked[0].1, "550 no such mailbox");

        // A redelivered event is a duplicate either way.
        let replay = g.shop.adapters.bus.consumer("replay");
        for delivery in commerce_core::ports::EventConsumer::poll(&replay, 100).await.unwrap() {
            let handled = g.notifications.handle(&delivery.envelope).await.unwrap();
            assert!(matches!(handled, Handled::Duplicate | Handled::Ignored), "{handled:?}");
        }
        assert_eq!(g.told().len(), 1);
        assert!(records.iter().all(|r| r.kind == NoticeKind::OrderConfirmed));
    });
}
