//! Conformance suites for copies of the read model: [`ViewReplica`] (a copy that applies
//! whole views) and [`ReadModelFeed`] (a source whose changes, copied, reproduce it).

use std::{future::Future, sync::Arc};

use super::{
    Fixture,
    read_model::{assert_listing_matches_oracle, load},
};
use crate::{
    catalog::{CollectionInput, ProductStatus},
    ids::{CollectionId, ProductId},
    money::{Currency, Money},
    ports::{ProductProjection, ProductReadModel, ReadModelFeed, ViewReplica},
    query::{PageSize, ProductQuery, ProductView, SortOrder},
    services::replica::ReplicaSync,
    testkit::strategies::product,
};

fn usd(a: i64) -> Money {
    Money::new(a, Currency::USD).unwrap_or_else(|_| unreachable!())
}

/// Runs every [`ViewReplica`] case against fresh copies from `make`.
pub async fn view_replica<S, F, Fut>(mut make: F)
where
    S: ViewReplica + ProductReadModel,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    product_and_stock_apply_by_their_own_versions(&make().await).await;
    a_copy_lists_like_the_oracle(&make().await).await;
}

async fn product_and_stock_apply_by_their_own_versions<S: ViewReplica + ProductReadModel>(s: &S) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    let v1 = ProductView::from_product(&p, 5, 1);
    assert_eq!(s.apply_view(&v1).await, Ok(true), "first view");
    assert_eq!(s.apply_view(&v1).await, Ok(false), "a repeat changes nothing");
    // Newer stock on an older product: only the stock is taken.
    let mut stock_only = v1.clone();
    stock_only.price = usd(1);
    stock_only.available_stock = 3;
    stock_only.stock_version = 2;
    assert_eq!(s.apply_view(&stock_only).await, Ok(true), "newer stock");
    // A newer product with older stock: only the product fields are taken.
    let mut newer = v1.clone();
    newer.price = usd(250);
    newer.product_version = 2;
    assert_eq!(s.apply_view(&newer).await, Ok(true), "newer product");
    let got = s.get(p.id).await.unwrap_or_else(|e| panic!("get: {e}")).unwrap_or_else(|| panic!("view missing"));
    assert_eq!((got.price, got.product_version, got.available_stock, got.stock_version), (usd(250), 2, 3, 2));
    assert_eq!(s.apply_view(&v1).await, Ok(false), "an older view changes nothing");
}

async fn a_copy_lists_like_the_oracle<S: ViewReplica + ProductReadModel>(s: &S) {
    let views = catalog(&Fixture::new(), 12);
    for v in &views {
        s.apply_view(v).await.unwrap_or_else(|e| panic!("apply_view: {e}"));
    }
    assert_listings(s, &views).await;
}

/// Twelve-ish views with ties on every sort key, a draft and some sold out.
fn catalog(f: &Fixture, n: u32) -> Vec<ProductView> {
    (0..n)
        .map(|i| {
            let mut p = product(ProductId::from_uuid(f.id()), i, usd(if i % 3 == 0 { 500 } else { 100 }), f.now());
            if i % 5 == 4 {
                p.status = ProductStatus::Draft;
            }
            ProductView::from_product(&p, u64::from(i % 2) * 4, 1)
        })
        .collect()
}

async fn assert_listings<S: ProductReadModel>(s: &S, views: &[ProductView]) {
    for sort in SortOrder::ALL {
        for in_stock_only in [false, true] {
            let limit = PageSize::new(4).unwrap_or_default();
            let query = ProductQuery { in_stock_only, sort, limit, ..ProductQuery::default() };
            assert_listing_matches_oracle(s, views, &query).await;
        }
    }
}

/// The [`ReadModelFeed`] suite: `source` (a fresh, empty read model) is what `feed`
/// reads; each copy from `make_copy` is fresh and empty. A copy fed from the beginning
/// equals the source; after changes to the source, the same copy catches up to them.
pub async fn feed<Src, C, F>(source: &Src, feed: Arc<dyn ReadModelFeed>, mut make_copy: F)
where
    Src: ProductProjection + ProductReadModel,
    C: ViewReplica + ProductReadModel + 'static,
    F: FnMut() -> C,
{
    let f = Fixture::new();
    let mut views = catalog(&f, 23);
    load(source, &views).await;
    let tees = CollectionInput { slug: "tees".into(), name: "Tees".into(), description: String::new() };
    let kept = tees.validate(CollectionId::from_uuid(f.id()), f.now()).unwrap_or_else(|e| panic!("{e}"));
    let mut gone = kept.clone();
    gone.id = CollectionId::from_uuid(f.id());
    for c in [&kept, &gone] {
        source.apply_collection(c).await.unwrap_or_else(|e| panic!("apply_collection: {e}"));
    }
    source.remove_collection(gone.id).await.unwrap_or_else(|e| panic!("remove_collection: {e}"));

    // Given a copy fed from the beginning, a few views per batch
    let copy = Arc::new(make_copy());
    let sync = ReplicaSync::new(feed.clone(), copy.clone(), 4);
    let received = sync.catch_up().await.unwrap_or_else(|e| panic!("snapshot: {e}"));
    assert!(received >= views.len(), "the snapshot holds every view ({received} read)");
    assert_listings(&*copy, &views).await;
    assert_eq!(copy.collections().await, source.collections().await, "collections of the snapshot");

    // When the source changes: new prices, new stock, new products, a collection removed
    for (i, v) in views.iter_mut().enumerate().take(9) {
        let mut p = product(v.id, u32::try_from(i).unwrap_or(0), usd(700 + i64::try_from(i).unwrap_or(0)), f.now());
        p.version = crate::catalog::Version::new(v.product_version + 1);
        p.status = v.status;
        *v = ProductView::from_product(&p, v.available_stock, v.stock_version);
        if i % 2 == 0 {
            v.available_stock = 40 + u64::try_from(i).unwrap_or(0);
            v.stock_version += 1;
        }
    }
    views.extend(catalog(&f, 5));
    load(source, &views).await;
    source.remove_collection(kept.id).await.unwrap_or_else(|e| panic!("remove_collection: {e}"));

    // Then the copy catches up to every change
    sync.catch_up().await.unwrap_or_else(|e| panic!("catch up: {e}"));
    for v in &views {
        assert_eq!(copy.get(v.id).await, source.get(v.id).await, "{}: copy and source differ", v.id);
    }
    assert_listings(&*copy, &views).await;
    assert_eq!(copy.collections().await, Ok(vec![]), "the removed collections are gone");
}
