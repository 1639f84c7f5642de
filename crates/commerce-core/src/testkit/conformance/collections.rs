//! Conformance suite for [`CollectionStore`]. The store must also hold products (a
//! [`ProductStore`]), since a collection in use may not be deleted.

use std::future::Future;

use crate::{
    catalog::{Collection, CollectionInput},
    ids::{CollectionId, ProductId},
    money::{Currency, Money},
    ports::{CollectionStore, ProductStore, StoreError},
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
    S: CollectionStore + ProductStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    collections_lifecycle(&make().await).await;
}

async fn collections_lifecycle(s: &(impl CollectionStore + ProductStore)) {
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
