//! Customer messages of the embedded shop (issue 15): kept in the development mailbox by
//! default, sent through SMTP (a real `aiosmtpd`) when `--smtp-url` is set.

use commerce_system_tests::{cart, eventually, smtp::Smtp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{App, fresh_data_dir, spawn_app, spawn_app_with};

async fn paid_order(app: &App, sku: &str) -> Value {
    let product = app.product(sku, 1000, 5, json!({})).await;
    let paid = app.checkout(Some(&format!("mail-{sku}")), &cart(&product, 2, "4242424242424242")).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    paid.json().await.unwrap()
}

/// The development mailbox once it holds `count` messages.
async fn mailbox(app: &App, count: usize) -> Vec<Value> {
    let read = || async {
        let body: Value = app.admin(Method::GET, "/admin/v1/dev/mailbox", None).await.json().await.unwrap();
        body["items"].as_array().cloned().unwrap_or_default()
    };
    let reached = eventually(10, || async {
        let n = read().await.len();
        if n >= count { Ok(()) } else { Err(format!("{n} of {count} messages")) }
    })
    .await;
    reached.unwrap();
    read().await
}

#[tokio::test]
async fn without_smtp_the_messages_wait_in_the_development_mailbox() {
    let app = spawn_app().await;
    let order = paid_order(&app, "MAIL-1").await;
    let path = format!("/admin/v1/orders/{}/cancel", order["id"].as_str().unwrap());
    assert_eq!(app.admin(Method::POST, &path, None).await.status(), StatusCode::OK);

    let items = mailbox(&app, 2).await;
    let kinds: Vec<&str> = items.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["order_cancelled", "order_confirmed"], "newest first");
    assert!(items.iter().all(|m| m["to"] == "ada@example.com"));
    assert!(items[1]["text"].as_str().unwrap().contains("20.00 USD"), "{}", items[1]["text"]);
    assert!(items[0]["text"].as_str().unwrap().contains("20.00 USD is being refunded"), "{}", items[0]["text"]);
    assert!(items[0]["message_id"].as_str().unwrap().ends_with("@commerce.localhost>"));
    let anonymous = app.client.get(app.url("/admin/v1/dev/mailbox")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn with_smtp_the_shop_sends_each_message_once() {
    let smtp = Smtp::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let dir = fresh_data_dir();
    let app = spawn_app_with(&dir, &["--smtp-url", &url, "--mail-from", "Mug Shop <orders@mugs.example>"]).await;
    let order = paid_order(&app, "MAIL-2").await;
    let sent = eventually(10, || async {
        let n = commerce_system_tests::smtp::mails(&smtp.maildir).len();
        if n >= 1 { Ok(()) } else { Err("no message yet".to_owned()) }
    })
    .await;
    sent.unwrap();
    let mails = commerce_system_tests::smtp::mails(&smtp.maildir);
    assert_eq!(mails.len(), 1);
    assert!(mails[0].to.contains("ada@example.com") && mails[0].subject.contains("confirmed"), "{mails:?}");
    assert!(mails[0].subject.contains(order["id"].as_str().unwrap()));
    assert!(mails[0].message_id.ends_with("@mugs.example>"));
    let absent = app.admin(Method::GET, "/admin/v1/dev/mailbox", None).await;
    assert_eq!(absent.status(), StatusCode::NOT_FOUND, "no development mailbox when mail is sent");
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
