//! Conformance suite for [`ProductStore`] (and, with [`run_with_outbox`], its outbox).

use std::future::Future;

use crate::{
    catalog::{ProductName, ProductPatchInput, ProductSearch, ProductStatus, Sku, Version},
    events::DomainEvent,
    ids::ProductId,
    money::{Currency, Money},
    ports::{Outbox, ProductStore, StoreError},
    testkit::strategies::product,
};

use super::Fixture;

fn usd(a: i64) -> Money {
    Money::new(a, Currency::USD).unwrap_or_else(|_| unreachable!())
}

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: ProductStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    insert_and_read_back(&make().await).await;
    duplicate_sku_is_rejected_and_writes_nothing(&make().await).await;
    stale_version_is_a_conflict(&make().await).await;
    update_of_unknown_product_is_not_found(&make().await).await;
    renaming_to_a_taken_sku_is_duplicate(&make().await).await;
    products_page_in_id_order(&make().await).await;
    search_finds_part_of_a_name_or_sku(&make().await).await;
}

/// Runs [`run`] and the outbox cases against stores that are also their own outbox.
pub async fn run_with_outbox<S, F, Fut>(mut make: F)
where
    S: ProductStore + Outbox,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    events_are_written_with_the_change(&make().await).await;
    run(make).await;
}

async fn insert_and_read_back(s: &impl ProductStore) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    s.insert_product(&p, &[f.envelope(DomainEvent::ProductCreated(p.clone()))])
        .await
        .unwrap_or_else(|e| panic!("insert: {e}"));
    assert_eq!(s.product(p.id).await, Ok(Some(p.clone())), "insert_and_read_back");
    assert_eq!(s.product(ProductId::from_uuid(f.id())).await, Ok(None), "insert_and_read_back: unknown id");
}

async fn duplicate_sku_is_rejected_and_writes_nothing(s: &impl ProductStore) {
    let f = Fixture::new();
    let a = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    let b = product(ProductId::from_uuid(f.id()), 1, usd(200), f.now());
    s.insert_product(&a, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
    let err = s.insert_product(&b, &[]).await;
    assert!(matches!(err, Err(StoreError::Duplicate(_))), "duplicate_sku: got {err:?}");
    assert_eq!(s.product(b.id).await, Ok(None), "duplicate_sku: nothing written");
}

async fn stale_version_is_a_conflict(s: &impl ProductStore) {
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

async fn update_of_unknown_product_is_not_found(s: &impl ProductStore) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    assert_eq!(
        s.update_product(&p, Version::INITIAL, &[]).await,
        Err(StoreError::NotFound),
        "update_of_unknown_product"
    );
}

async fn renaming_to_a_taken_sku_is_duplicate(s: &impl ProductStore) {
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

async fn products_page_in_id_order(s: &impl ProductStore) {
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

/// Every page of `search` over `s`, walked with `after`.
async fn search_all(s: &impl ProductStore, search: &ProductSearch) -> Vec<ProductId> {
    let (mut seen, mut after) = (vec![], None);
    loop {
        let page = s.search_products(search, after, 2).await.unwrap_or_else(|e| panic!("search: {e}"));
        assert!(page.len() <= 2, "search: page too long");
        let Some(last) = page.last() else { return seen };
        after = Some(last.id);
        seen.extend(page.iter().map(|p| p.id));
    }
}

/// The search agrees with [`ProductSearch::matches`], whatever the script and case (no
/// database's `lower()` decides), finds drafts and archived products, and follows renames.
async fn search_finds_part_of_a_name_or_sku(s: &impl ProductStore) {
    let f = Fixture::new();
    let names = ["Blue Mug", "ÉCLAIR Tin", "Straße Sign", "ΣΟΦΊΑ Bowl", "blue plate", "Mugwort Tea"];
    let mut all = vec![];
    for (n, name) in (0_u32..).zip(names) {
        let mut p = product(ProductId::from_uuid(f.id()), n, usd(100), f.now());
        p.name = ProductName::parse(name).unwrap_or_else(|e| panic!("name: {e}"));
        p.status = [ProductStatus::Draft, ProductStatus::Active, ProductStatus::Archived][n as usize % 3];
        s.insert_product(&p, &[]).await.unwrap_or_else(|e| panic!("insert: {e}"));
        all.push(p);
    }
    all.sort_by_key(|p| p.id);
    for text in ["mug", "BLUE", "éclair", "STRASSE", "straße", "σοφία", "ΣΟΦΊΑ", "p-3", "P-", "e m", "teapot"]
    {
        let search = ProductSearch::parse(text).unwrap_or_else(|e| panic!("search {text}: {e}"));
        let expected: Vec<_> = all.iter().filter(|p| search.matches(p)).map(|p| p.id).collect();
        assert_eq!(search_all(s, &search).await, expected, "search {text:?}");
    }

    let mut renamed = all[0].clone();
    renamed.name = ProductName::parse("Teapot").unwrap_or_else(|e| panic!("name: {e}"));
    renamed.version = renamed.version.next();
    s.update_product(&renamed, all[0].version, &[]).await.unwrap_or_else(|e| panic!("update: {e}"));
    let teapot = ProductSearch::parse("teapot").unwrap_or_else(|e| panic!("search: {e}"));
    assert_eq!(search_all(s, &teapot).await, vec![renamed.id], "a rename is found by its new name");
    let old = ProductSearch::parse(all[0].name.as_str()).unwrap_or_else(|e| panic!("search: {e}"));
    assert!(!search_all(s, &old).await.contains(&renamed.id), "and no longer by its old one");
}

async fn events_are_written_with_the_change<S: ProductStore + Outbox>(s: &S) {
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
