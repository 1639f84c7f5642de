//! Dead letters through the admin API of `catalog-api` (in-process, on a fresh
//! PostgreSQL database): parked events are listed with their reason, source and age,
//! replayed into the outbox once, or discarded; and the same from the shell
//! (`catalog-api dead-letters ...`). The broker path (a refused restock parked by the
//! inventory service and replayed once it can apply) is in `processes.rs`.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use clap::Parser as _;
use commerce_core::{
    EventId, ProductId, Timestamp,
    deadletter::{ParkedContent, ParkedEvent},
    events::{DomainEvent, EventEnvelope, StockSet},
    ports::{Clock as _, DeadLetterStore as _, Outbox as _},
};
use commerce_postgres::{
    PgDeadLetters, PgOutbox,
    testing::{Databases, url_for},
};
use commerce_system_tests::{ShopClient, fields, ok_json, problem, process::listener, send};
use reqwest::{Method, StatusCode};
use serde_json::json;

const ADMIN: &str = "dead-letters-admin-token";

fn restock(product: ProductId, parked_at: Timestamp) -> (EventEnvelope, ParkedEvent) {
    let mut event = EventEnvelope::new(
        EventId::from_uuid(uuid::Uuid::new_v4()),
        parked_at,
        DomainEvent::StockSet(StockSet { product_id: product, on_hand: 1 }),
    );
    event.aggregate_version = 2;
    let parked = ParkedEvent {
        source: "shop.restock/1/17".into(),
        consumer: Some("shop-inventory-restocks".into()),
        reason: "on_hand 1 is below the 2 units reserved by open checkouts".into(),
        parked_at,
        content: ParkedContent::Event(Box::new(event.clone())),
    };
    (event, parked)
}

#[tokio::test]
async fn operators_list_replay_and_discard_parked_events() {
    let dbs = Databases::new();
    let db = url_for(&dbs.fresh_name().await);
    let args = |extra: &[&str]| {
        let mut a = vec!["catalog-api", "--database-url", &db, "--admin-token", ADMIN];
        a.extend(extra);
        catalog_api::Cli::parse_from(a)
    };
    args(&[]).db.migrate().await.unwrap();
    let pool = commerce_postgres::PgPool::connect(&db).await.unwrap();
    let letters = PgDeadLetters::new(pool.clone());
    let outbox = PgOutbox::new(pool.clone(), 30);

    // Given a restock parked an hour ago and a message that does not decode.
    let product = ProductId::from_uuid(uuid::Uuid::new_v4());
    let an_hour_ago = Timestamp::from_unix_micros(commerce_runtime::SystemClock.now().unix_micros() - 3_600_000_000);
    let (event, parked) = restock(product, an_hour_ago);
    assert!(letters.park(&parked).await.unwrap());
    assert!(!letters.park(&parked).await.unwrap(), "collected twice, parked once");
    let junk = ParkedEvent {
        source: "shop.order/0/3".into(),
        consumer: Some("shop-notifications".into()),
        reason: "does not decode: expected value".into(),
        parked_at: an_hour_ago,
        content: ParkedContent::Undecodable("{not json".into()),
    };
    assert!(letters.park(&junk).await.unwrap());

    let (l, base) = listener().await;
    let (halt, halted) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(catalog_api::run(args(&[]), l, async move {
        let _ = halted.await;
    }));
    let shop = ShopClient::new(&base, ADMIN);

    // When an operator lists them: oldest first, with reason, source, consumer and age.
    let list = ok_json(shop.admin(Method::GET, "/admin/v1/dead-letters")).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let first = &items[0];
    assert_eq!(first["event_type"], "stock.set");
    assert_eq!(first["aggregate_id"], product.to_string().as_str());
    assert_eq!(first["source"], "shop.restock/1/17");
    assert_eq!(first["consumer"], "shop-inventory-restocks");
    assert!(first["reason"].as_str().unwrap().contains("reserved"));
    assert!((3599..3700).contains(&first["age_seconds"].as_u64().unwrap()), "{first}");
    assert_eq!(first["event"]["event_id"], event.event_id.to_string().as_str());
    assert_eq!(first["replayable"], true);
    assert_eq!(items[1]["payload"], "{not json");
    assert_eq!(items[1]["replayable"], false);
    assert!(list.get("next").is_none());
    let page = ok_json(shop.admin(Method::GET, "/admin/v1/dead-letters?limit=1")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let after = page["next"].as_str().unwrap();
    let rest = ok_json(shop.admin(Method::GET, &format!("/admin/v1/dead-letters?after={after}"))).await;
    assert_eq!(rest["items"][0]["id"], items[1]["id"]);

    // Bad input is refused, naming the field; unknown letters are 404; no token, 401.
    for (query, field) in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"), ("after=-1", "after")] {
        let r = send(shop.admin(Method::GET, &format!("/admin/v1/dead-letters?{query}"))).await;
        let p = problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(fields(&p), [field], "{query}: {p}");
    }
    for path in ["/admin/v1/dead-letters/999", "/admin/v1/dead-letters/abc", "/admin/v1/dead-letters/0"] {
        assert_eq!(send(shop.admin(Method::GET, path)).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let anonymous = reqwest::Client::new().get(format!("{base}/admin/v1/dead-letters")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // Replaying the restock puts the same event back in the outbox, once.
    let (restock_id, junk_id) = (first["id"].as_u64().unwrap(), items[1]["id"].as_u64().unwrap());
    let r = send(shop.admin(Method::POST, &format!("/admin/v1/dead-letters/{restock_id}/replay"))).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["id"], restock_id);
    let records = outbox.claim(10).await.unwrap();
    assert_eq!(records.iter().map(|r| r.envelope.event_id).collect::<Vec<_>>(), [event.event_id]);
    assert_eq!(records[0].envelope.event, event.event);
    let again = send(shop.admin(Method::POST, &format!("/admin/v1/dead-letters/{restock_id}/replay"))).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND, "a letter is replayed once");

    // A message that does not decode can only be discarded.
    let r = send(shop.admin(Method::POST, &format!("/admin/v1/dead-letters/{junk_id}/replay"))).await;
    let p = problem(r, StatusCode::CONFLICT).await;
    assert!(p["detail"].as_str().unwrap().contains("discarded"), "{p}");
    let r = send(shop.admin(Method::DELETE, &format!("/admin/v1/dead-letters/{junk_id}"))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = send(shop.admin(Method::DELETE, &format!("/admin/v1/dead-letters/{junk_id}"))).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(ok_json(shop.admin(Method::GET, "/admin/v1/dead-letters")).await, json!({"items": []}));

    // The same from the shell: `catalog-api dead-letters replay <id>` on a new letter.
    let (_, parked) = restock(product, an_hour_ago);
    let parked = ParkedEvent { source: "shop.restock/1/18".into(), ..parked };
    assert!(letters.park(&parked).await.unwrap());
    let id = letters.dead_letters(None, 1).await.unwrap()[0].id;
    let cli = args(&["dead-letters", "replay", &id.to_string()]);
    let Some(catalog_api::Command::DeadLetters(command)) = &cli.command else { panic!("parsed {:?}", cli.command) };
    catalog_api::dead_letters(&cli, command).await.unwrap();
    assert_eq!(letters.count().await.unwrap(), 0, "replayed from the shell");
    let cli = args(&["dead-letters", "discard", &id.to_string()]);
    let Some(catalog_api::Command::DeadLetters(command)) = &cli.command else { panic!("parsed {:?}", cli.command) };
    let gone = catalog_api::dead_letters(&cli, command).await.unwrap_err();
    assert!(gone.to_string().contains("does not exist"), "{gone}");

    let _ = halt.send(());
    server.await.unwrap().unwrap();
    pool.close().await;
    dbs.cleanup().await;
}
