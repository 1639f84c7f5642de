//! Conformance suite for [`CatalogStore`] (and, with [`run_with_outbox`], its outbox).

use std::future::Future;

use crate::{
    catalog::{Collection, CollectionInput, ProductPatchInput, ProductStatus, Sku, Version},
    events::{DomainEvent, EventEnvelope, StockSet},
    ids::{CollectionId, EventId, ProductId},
    money::{Currency, Money},
    ports::{CatalogStore, Outbox, StoreError},
    testkit::strategies::product,
};

use super::Fixture;

fn usd(a: i64) -> Money {
    Money::new(a, Currency::USD).unwrap_or_else(|_| unreachable!())
}

fn collection(f: &Fixture, slug: &str, name: &str) -> Collection {
    let input = CollectionInput { slug: slug.into(), name: name.into(), description: String::new() };
    input.validate(CollectionId::from_uuid(f.id()), f.now()).unwrap_or_else(|e| panic!("fixture collection: {e}"))
}

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: CatalogStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    insert_and_read_back(&make().await).await;
    duplicate_sku_is_rejected_and_writes_nothing(&make().await).await;
    stale_version_is_a_conflict(&make().await).await;
    update_of_unknown_product_is_not_found(&make().await).await;
    renaming_to_a_taken_sku_is_duplicate(&make().await).await;
    products_page_in_id_order(&make().await).await;
    collections_lifecycle(&make().await).await;
}

/// Runs [`run`] and the outbox cases against stores that are also their own outbox.
pub async fn run_with_outbox<S, F, Fut>(mut make: F)
where
    S: CatalogStore + Outbox,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    events_are_written_with_the_change(&make().await).await;
    restocks_are_numbered_per_product_with_their_event(&make().await).await;
    run(make).await;
}

async fn insert_and_read_back(s: &impl CatalogStore) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    s.insert_product(&p, &[f.envelope(DomainEvent::ProductCreated(p.clone()))])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    assert_eq!(s.product(p.id).await, Ok(Some(p.clone())), "insert_and_read_back");
    assert_eq!(s.product(ProductId::from_uuid(f.id())).await, Ok(None), "insert_and_read_back: unknown id");
}

async fn duplicate_sku_is_rejected_and_writes_nothing(s: &impl CatalogStore) {
    let f = Fixture::new();
    let a = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    let b = product(ProductId::from_uuid(f.id()), 1, usd(200), f.now());
    s.insert_product(&a, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    let err = s.insert_product(&b, &[]).await;
    assert!(matches!(err, Err(StoreError::Duplicate(_))), "duplicate_sku: got {err:?}");
    assert_eq!(s.product(b.id).await, Ok(None), "duplicate_sku: nothing written");
}

async fn stale_version_is_a_conflict(s: &impl CatalogStore) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    s.insert_product(&p, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    let mut first = p.clone();
    let patch = ProductPatchInput { name: Some("First".into()), ..Default::default() }.validate().unwrap_or_default();
    assert!(first.apply_patch(patch, f.now()).unwrap_or(false));
    s.update_product(&first, Version::INITIAL, &[]).await.unwrap_or_else(|e| panic!("first update: {e}"));
    let mut second = p.clone();
    let patch = ProductPatchInput { name: Some("Second".into()), ..Default::default() }.validate().unwrap_or_default();
    assert!(second.apply_patch(patch, f.now()).unwrap_or(false));
    let err = s.update_product(&second, Version::INITIAL, &[]).await;
    assert_eq!(
        err,
        Err(StoreError::VersionConflict { expected: Version::INITIAL, actual: Version::new(2) }),
        "stale_version_is_a_conflict"
    );
    assert_eq!(s.product(p.id).await, Ok(Some(first)), "stale_version_is_a_conflict: first write kept");
}

async fn update_of_unknown_product_is_not_found(s: &impl CatalogStore) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    assert_eq!(
        s.update_product(&p, Version::INITIAL, &[]).await,
        Err(StoreError::NotFound),
        "update_of_unknown_product"
    );
}

async fn renaming_to_a_taken_sku_is_duplicate(s: &impl CatalogStore) {
    let f = Fixture::new();
    let a = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    let b = product(ProductId::from_uuid(f.id()), 2, usd(100), f.now());
    s.insert_product(&a, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    s.insert_product(&b, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    let mut renamed = b.clone();
    renamed.sku = a.sku.clone();
    renamed.version = b.version.next();
    let err = s.update_product(&renamed, b.version, &[]).await;
    assert!(matches!(err, Err(StoreError::Duplicate(_))), "renaming_to_a_taken_sku: got {err:?}");
    assert_eq!(s.product(b.id).await, Ok(Some(b)), "renaming_to_a_taken_sku: unchanged");
}

async fn products_page_in_id_order(s: &impl CatalogStore) {
    let f = Fixture::new();
    let mut all = vec![];
    for n in 0..7 {
        let p = product(ProductId::from_uuid(f.id()), n, usd(100), f.now());
        s.insert_product(&p, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
        all.push(p);
    }
    all.sort_by_key(|p| p.id);
    let mut seen = vec![];
    let mut after = None;
    loop {
        let page = s.products(after, 3).await.unwrap_or_else(|e| panic!("products: {e}"));
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3, "products_page: page too long");
        after = page.last().map(|p| p.id);
        seen.extend(page);
    }
    assert_eq!(seen, all, "products_page_in_id_order");
}

async fn collections_lifecycle(s: &impl CatalogStore) {
    let f = Fixture::new();
    let shoes = collection(&f, "shoes", "Shoes");
    let hats = collection(&f, "hats", "Hats");
    s.insert_collection(&shoes, &[]).await.unwrap_or_else(|e| panic!("insert collection: {e}"));
    s.insert_collection(&hats, &[]).await.unwrap_or_else(|e| panic!("insert collection: {e}"));
    let dup = collection(&f, "shoes", "Other shoes");
    assert!(
        matches!(s.insert_collection(&dup, &[]).await, Err(StoreError::Duplicate(_))),
        "collections: duplicate slug"
    );
    assert_eq!(s.collections().await, Ok(vec![hats.clone(), shoes.clone()]), "collections: sorted by name");

    let mut renamed = shoes.clone();
    renamed.name = crate::catalog::CollectionName::parse("Boots").unwrap_or_else(|_| unreachable!());
    renamed.version = shoes.version.next();
    s.update_collection(&renamed, shoes.version, &[]).await.unwrap_or_else(|e| panic!("update collection: {e}"));
    assert_eq!(
        s.update_collection(&renamed, shoes.version, &[]).await,
        Err(StoreError::VersionConflict { expected: shoes.version, actual: renamed.version }),
        "collections: stale update"
    );
    assert_eq!(s.collection(shoes.id).await, Ok(Some(renamed)), "collections: updated");

    let mut p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    p.collection_id = Some(hats.id);
    s.insert_product(&p, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    assert!(matches!(s.delete_collection(hats.id, &[]).await, Err(StoreError::InUse(_))), "collections: in use");
    s.delete_collection(shoes.id, &[]).await.unwrap_or_else(|e| panic!("delete collection: {e}"));
    assert_eq!(s.collection(shoes.id).await, Ok(None), "collections: deleted");
    assert_eq!(s.delete_collection(shoes.id, &[]).await, Err(StoreError::NotFound), "collections: delete twice");
}

async fn events_are_written_with_the_change<S: CatalogStore + Outbox>(s: &S) {
    let f = Fixture::new();
    let a = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    let created = f.envelope(DomainEvent::ProductCreated(a.clone()));
    s.insert_product(&a, std::slice::from_ref(&created)).await.unwrap_or_else(|e| panic!("insert: {e}"));

    // A refused change appends nothing.
    let mut dup = product(ProductId::from_uuid(f.id()), 1, usd(1), f.now());
    dup.sku = Sku::parse("P-1").unwrap_or_else(|_| unreachable!());
    let lost = f.envelope(DomainEvent::ProductCreated(dup.clone()));
    assert!(s.insert_product(&dup, &[lost]).await.is_err());
    let mut archived = a.clone();
    assert!(archived.archive(f.now()));
    let archived_event = f.envelope(DomainEvent::ProductArchived(archived.clone()));
    let stale = f.envelope(DomainEvent::ProductArchived(archived.clone()));
    s.update_product(&archived, a.version, std::slice::from_ref(&archived_event))
        .await
        .unwrap_or_else(|e| panic!("update: {e}"));
    assert!(s.update_product(&archived, a.version, &[stale]).await.is_err());
    assert_eq!(archived.status, ProductStatus::Archived);

    let batch = s.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}"));
    let events: Vec<_> = batch.iter().map(|r| r.envelope.clone()).collect();
    assert_eq!(events, vec![created, archived_event], "outbox holds exactly the committed events, in order");
    assert!(batch.windows(2).all(|w| w[0].position < w[1].position), "outbox positions increase");
    let positions: Vec<_> = batch.iter().map(|r| r.position).collect();
    s.mark_published(&positions).await.unwrap_or_else(|e| panic!("mark: {e}"));
    s.mark_published(&positions).await.unwrap_or_else(|e| panic!("mark twice: {e}"));
    assert_eq!(s.claim(10).await.map(|b| b.len()), Ok(0), "published records are not claimed again");
}

async fn restocks_are_numbered_per_product_with_their_event<S: CatalogStore + Outbox>(s: &S) {
    let f = Fixture::new();
    let (a, b) = (
        product(ProductId::from_uuid(f.id()), 1, usd(100), f.now()),
        product(ProductId::from_uuid(f.id()), 2, usd(100), f.now()),
    );
    for p in [&a, &b] {
        s.insert_product(p, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    }
    let mut expected = vec![];
    for (p, on_hand, number) in [(&a, 5, 1), (&a, 8, 2), (&b, 3, 1), (&a, 0, 3)] {
        let event_id = EventId::from_uuid(f.id());
        let got = s.record_restock(p.id, on_hand, event_id, f.now()).await;
        assert_eq!(got, Ok(number), "restock numbers count per product");
        expected.push(EventEnvelope::stock_set(event_id, f.now(), StockSet { product_id: p.id, on_hand }, number));
    }
    let unknown = s.record_restock(ProductId::from_uuid(f.id()), 1, EventId::from_uuid(f.id()), f.now()).await;
    assert_eq!(unknown, Err(StoreError::NotFound), "restock of an unknown product");

    let events: Vec<_> =
        s.claim(10).await.unwrap_or_else(|e| panic!("claim: {e}")).into_iter().map(|r| r.envelope).collect();
    assert_eq!(events, expected, "each restock appends its stock.set event, numbered");
}
