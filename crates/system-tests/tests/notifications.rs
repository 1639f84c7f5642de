//! Customer e-mail end to end (issue 15): `catalog-api` and `orders-service` on PostgreSQL,
//! the `notifications` binary reading their outbox and sending through a real SMTP server
//! (Python's `aiosmtpd`, writing every message it receives into a Maildir the test reads),
//! over STARTTLS to a certificate the test made, trusted through `SMTP_CA_FILE`.
//!
//! An order is confirmed, shipped in part, refunded in part; another is cancelled; each
//! step's message arrives once, to the customer, with its amounts and tracking number.
//! Then `notifications` is killed (SIGKILL) while a burst of orders is being announced and
//! started again: every order still gets its message, and a message sent twice carries the
//! same `Message-ID`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use clap::Parser as _;
use commerce_postgres::testing::{Databases, url_for};
use commerce_system_tests::{
    ShopClient, cart, eventually,
    process::bin,
    process::listener,
    smtp::{Mail, Smtp, TestCertificates, mails},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ADMIN: &str = "notifications-system-admin-token";

/// The notifier, sending over STARTTLS (required) and trusting the test authority `ca`.
fn notifications(db: &str, smtp_port: u16, ca: &Path) -> Child {
    Command::new(bin("notifications"))
        .env("DATABASE_URL", db)
        .env("SMTP_URL", format!("smtp://localhost:{smtp_port}?tls=required"))
        .env("SMTP_CA_FILE", ca)
        .env("MAIL_FROM", "Mug Shop <orders@shop.example>")
        .env_remove("KAFKA_BROKERS")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the Maildir holds messages with `count` distinct `Message-ID`s.
async fn distinct_messages(maildir: &Path, count: usize) -> Vec<Mail> {
    let reached = eventually(60, || async {
        let n = mails(maildir).iter().map(|m| m.message_id.clone()).collect::<BTreeSet<_>>().len();
        if n >= count { Ok(()) } else { Err(format!("{n} of {count} messages")) }
    })
    .await;
    if let Err(e) = reached {
        panic!("{e}");
    }
    mails(maildir)
}

/// catalog-api and orders-service (with after-sale routes) on a fresh database, and a
/// product with stock; returns the database URL, the client, the product and the databases.
async fn shop() -> (String, ShopClient, String, Databases) {
    let dbs = Databases::new();
    let db = url_for(&dbs.fresh_name().await);
    let catalog = catalog_api::Cli::parse_from(["catalog-api", "--database-url", &db, "--admin-token", ADMIN]);
    catalog.db.migrate().await.unwrap();
    let orders = orders_service::Cli::parse_from([
        "orders-service",
        "--database-url",
        &db,
        "--admin-token",
        ADMIN,
        "--idempotency-secret",
        "notifications-system-test-secret-0123456789",
    ]);
    let (l, catalog_url) = listener().await;
    tokio::spawn(catalog_api::run(catalog, l, std::future::pending()));
    let (l, orders_url) = listener().await;
    tokio::spawn(orders_service::run(orders, l, std::future::pending()));
    let shop = ShopClient::split(&catalog_url, &catalog_url, &orders_url, ADMIN);
    let product = shop.create_product("MUG-1", 1250, json!({})).await;
    assert!(shop.set_stock(&product, 100).await.status().is_success());
    (db, shop, product, dbs)
}

/// A paid order of `quantity` mugs for customer `n`.
async fn buy(shop: &ShopClient, product: &str, n: usize, quantity: i64) -> Value {
    let mut body = cart(product, quantity, "4242424242424242");
    body["email"] = json!(format!("customer{n}@example.com"));
    let r = shop.checkout(Some(&format!("order-{n}")), &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    r.json::<Value>().await.unwrap()
}

/// An after-sale request to orders-service.
async fn after_sale(shop: &ShopClient, path: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut r = shop.orders(Method::POST, path).bearer_auth(ADMIN).json(body);
    if let Some(key) = key {
        r = r.header("Idempotency-Key", key);
    }
    r.send().await.unwrap()
}

/// Order 1 is confirmed, one of three mugs shipped, one refunded; order 2 confirmed, then
/// cancelled. Five messages.
async fn five_steps(shop: &ShopClient, product: &str) {
    let first = buy(shop, product, 1, 3).await;
    let id = first["id"].as_str().unwrap().to_owned();
    let shipment = json!({"lines": [{"product_id": product, "quantity": 1}], "carrier": "DHL",
                          "tracking_number": "00340434161094042557", "tracking_url": "https://www.dhl.de/track"});
    let shipped = shop.admin(Method::POST, &format!("/admin/v1/orders/{id}/shipments")).json(&shipment).send().await;
    assert_eq!(shipped.unwrap().status(), StatusCode::CREATED);
    let refund = json!({"lines": [{"product_id": product, "quantity": 1}], "restock": true});
    let refunded = after_sale(shop, &format!("/admin/v1/orders/{id}/refunds"), Some("refund-1"), &refund).await;
    assert_eq!(refunded.status(), StatusCode::CREATED);
    let second = buy(shop, product, 2, 1).await;
    let path = format!("/admin/v1/orders/{}/cancel", second["id"].as_str().unwrap());
    assert_eq!(after_sale(shop, &path, None, &json!({})).await.status(), StatusCode::OK);
}

/// The five messages: to their customers, with the amounts and the tracking number.
fn check_five(sent: &[Mail]) {
    let of = |to: &str| sent.iter().filter(|m| m.to.contains(to)).collect::<Vec<_>>();
    assert_eq!(of("customer1@example.com").len(), 3, "{sent:?}");
    assert_eq!(of("customer2@example.com").len(), 2, "{sent:?}");
    let find = |to: &str, subject: &str| {
        *of(to)
            .iter()
            .find(|m| m.subject.contains(subject))
            .unwrap_or_else(|| panic!("no {subject:?} to {to}: {sent:?}"))
    };
    assert!(find("customer1@example.com", "confirmed").body.contains("37.50 USD"), "the total");
    let tracking = find("customer1@example.com", "has shipped");
    assert!(tracking.body.contains("DHL, tracking number 00340434161094042557"), "{}", tracking.body);
    assert!(tracking.body.contains("https://www.dhl.de/track"));
    assert!(find("customer1@example.com", "Refund of 12.50 USD").body.contains("We refunded 12.50 USD"));
    assert!(find("customer2@example.com", "cancelled").body.contains("12.50 USD is being refunded"));
    for m in sent {
        assert!(m.message_id.ends_with("@shop.example>"), "Message-ID from the event id: {}", m.message_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_of_an_order_is_mailed_once_even_across_a_killed_notifier() {
    let certs = TestCertificates::new("notifications");
    let smtp = Smtp::start_with(&certs.starttls());
    let (db, shop, product, dbs) = shop().await;
    let mut notifier = notifications(&db, smtp.port, &certs.ca);
    five_steps(&shop, &product).await;
    check_five(&distinct_messages(&smtp.maildir, 5).await);

    // A burst of orders, and the notifier killed (SIGKILL) while it announces them.
    let burst = 30;
    let placing = async {
        for n in 0..burst {
            buy(&shop, &product, 100 + n, 1).await;
        }
    };
    let killing = async {
        let distinct = || mails(&smtp.maildir).iter().map(|m| m.message_id.clone()).collect::<BTreeSet<_>>().len();
        let started =
            eventually(30, || async { if distinct() > 6 { Ok(()) } else { Err("no burst message yet".to_owned()) } });
        started.await.unwrap();
        notifier.kill().unwrap();
        notifier.wait().unwrap();
        distinct()
    };
    let ((), before_restart) = tokio::join!(placing, killing);
    assert!(before_restart < 5 + burst, "the notifier was killed mid-stream ({before_restart} messages out)");
    let mut notifier = notifications(&db, smtp.port, &certs.ca);
    let all = distinct_messages(&smtp.maildir, 5 + burst).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = if mails(&smtp.maildir).len() > all.len() { mails(&smtp.maildir) } else { all };
    notifier.kill().unwrap();
    notifier.wait().unwrap();

    let mut by_id: BTreeMap<String, Vec<&Mail>> = BTreeMap::new();
    for m in &all {
        by_id.entry(m.message_id.clone()).or_default().push(m);
    }
    assert_eq!(by_id.len(), 5 + burst, "one message per event");
    for (id, copies) in &by_id {
        assert!(copies.len() <= 2, "{id} sent {} times: only a crash resends", copies.len());
        assert!(
            copies.iter().all(|c| c.subject == copies[0].subject && c.to == copies[0].to),
            "{id}: a resend is the same message"
        );
    }
    for n in 0..burst {
        let to = format!("customer{}@example.com", 100 + n);
        assert_eq!(
            all.iter().filter(|m| m.to.contains(&to)).map(|m| &m.message_id).collect::<BTreeSet<_>>().len(),
            1,
            "{to}"
        );
    }
    dbs.cleanup().await;
}
