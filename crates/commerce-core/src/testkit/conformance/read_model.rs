//! Conformance suite for [`ProductReadModel`] + [`ProductProjection`]: every
//! answer must equal the reference evaluator's over the same views.

use std::{collections::HashSet, future::Future};

use crate::{
    catalog::{CollectionInput, ProductStatus, Version},
    ids::{CollectionId, ProductId},
    money::{Currency, Money},
    ports::{ProductProjection, ProductReadModel},
    query::{self, Cursor, ProductQuery, ProductView, SortOrder},
    testkit::strategies::product,
};

use super::Fixture;

/// Loads `views` into a projection (product first, then its stock).
pub async fn load<S: ProductProjection>(store: &S, views: &[ProductView]) {
    for v in views {
        let p = crate::catalog::Product {
            id: v.id,
            sku: v.sku.clone(),
            name: v.name.clone(),
            description: v.description.clone(),
            price: v.price,
            collection_id: v.collection_id,
            attributes: v.attributes.clone(),
            status: v.status,
            version: Version::new(v.product_version),
            created_at: v.created_at,
            updated_at: v.updated_at,
        };
        store.apply_product(&p).await.unwrap_or_else(|e| panic!("apply_product: {e}"));
        store
            .apply_stock(v.id, v.available_stock, v.stock_version)
            .await
            .unwrap_or_else(|e| panic!("apply_stock: {e}"));
    }
}

/// Walks every page of `query` through `store` and checks, page by page, that it
/// equals the reference evaluator, and that the walk returns each matching product
/// exactly once in listing order. Used by the listing property test of every adapter.
pub async fn assert_listing_matches_oracle<S: ProductReadModel>(
    store: &S,
    views: &[ProductView],
    query: &ProductQuery,
) {
    let mut q = query.clone();
    q.after = None;
    let mut walked: Vec<ProductView> = vec![];
    for _ in 0..=views.len() + 1 {
        let expected = query::evaluate(&q, views);
        let got = store.list(&q).await.unwrap_or_else(|e| panic!("list: {e}"));
        assert_eq!(got, expected, "page after {:?} differs from the oracle for {q:?}", q.after);
        walked.extend(got.items);
        match got.next_cursor {
            Some(c) => q.after = Some(c),
            None => break,
        }
    }
    let mut all: Vec<_> = views.iter().filter(|v| query.matches(v)).cloned().collect();
    all.sort_by(|a, b| query.sort.compare((&query.sort.key_of(a), a.id), (&query.sort.key_of(b), b.id)));
    let ids: HashSet<_> = walked.iter().map(|v| v.id).collect();
    assert_eq!(ids.len(), walked.len(), "a product was listed twice");
    assert_eq!(walked, all, "walking every page must return exactly the matching products in order");

    let facets = store.facets(query).await.unwrap_or_else(|e| panic!("facets: {e}"));
    assert_eq!(facets, query::facets(query, views), "facets differ from the oracle");
}

/// Runs every case against fresh stores from `make`.
pub async fn run<S, F, Fut>(mut make: F)
where
    S: ProductReadModel + ProductProjection,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    stale_and_duplicate_events_change_nothing(&make().await).await;
    stock_may_arrive_before_its_product(&make().await).await;
    product_and_stock_applied_at_once_converge(&make().await).await;
    listing_equals_the_oracle(&make().await).await;
    collections_apply_and_remove(&make().await).await;
    deleted_collections_stay_deleted_in_any_replay_order(&make().await).await;
    reset_empties_everything(&make().await).await;
    the_longest_words_are_indexed_and_found(&make().await).await;
}

fn usd(a: i64) -> Money {
    Money::new(a, Currency::USD).unwrap_or_else(|_| unreachable!())
}

async fn stale_and_duplicate_events_change_nothing<S: ProductReadModel + ProductProjection>(s: &S) {
    let f = Fixture::new();
    let v1 = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    let mut v2 = v1.clone();
    v2.price = usd(250);
    v2.version = v1.version.next();
    assert_eq!(s.apply_product(&v1).await, Ok(true), "apply v1");
    assert_eq!(s.apply_product(&v2).await, Ok(true), "apply v2");
    assert_eq!(s.apply_product(&v1).await, Ok(false), "stale v1 ignored");
    assert_eq!(s.apply_product(&v2).await, Ok(false), "duplicate v2 ignored");
    assert_eq!(s.apply_stock(v1.id, 7, 3).await, Ok(true));
    assert_eq!(s.apply_stock(v1.id, 9, 2).await, Ok(false), "stale stock ignored");
    let got = s.get(v1.id).await.unwrap_or_else(|e| panic!("get: {e}")).unwrap_or_else(|| panic!("view missing"));
    assert_eq!((got.price, got.available_stock, got.product_version, got.stock_version), (usd(250), 7, 2, 3));
    assert_eq!(
        s.get_many(&[v1.id, ProductId::from_uuid(f.id())]).await.map(|v| v.len()),
        Ok(1),
        "get_many skips unknown"
    );
}

/// A description may be one 10,000-character word: stores index words of bounded size
/// (PostgreSQL: 2,047 bytes), and the projection must neither fail on it (a poison event
/// would stall the read model for every product) nor lose prefix search.
async fn the_longest_words_are_indexed_and_found<S: ProductReadModel + ProductProjection>(s: &S) {
    let f = Fixture::new();
    let mut p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    p.status = ProductStatus::Active;
    let word = "ж".repeat(crate::catalog::Description::RULE.max_chars);
    p.description = crate::catalog::Description::parse(&word).unwrap_or_else(|e| panic!("description: {e}"));
    assert_eq!(s.apply_product(&p).await, Ok(true), "a product with a 10,000-character word is projected");
    let longest_query_word = "ж".repeat(query::SearchTerm::RULE.max_chars);
    let params = query::ProductQueryParams { q: Some(longest_query_word), ..Default::default() };
    let q = params.validate().unwrap_or_else(|e| panic!("query: {e}"));
    let found = s.list(&q).await.unwrap_or_else(|e| panic!("list: {e}"));
    assert_eq!(found.items.iter().map(|v| v.id).collect::<Vec<_>>(), vec![p.id], "found by the longest prefix");
}

async fn stock_may_arrive_before_its_product<S: ProductReadModel + ProductProjection>(s: &S) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    assert_eq!(s.apply_stock(p.id, 5, 1).await, Ok(true));
    assert_eq!(s.get(p.id).await, Ok(None), "no view before the product");
    s.apply_product(&p).await.unwrap_or_else(|e| panic!("apply: {e}"));
    let got = s.get(p.id).await.unwrap_or_else(|e| panic!("get: {e}")).map(|v| v.available_stock);
    assert_eq!(got, Some(5), "early stock shown once the product arrives");
}

/// Product and stock events travel on different topics, so two consumers may apply a
/// product's first version and its stock at the same moment. Whatever the interleaving,
/// the view ends with the newest stock: a store must not let the product's insert read
/// the stock from before a concurrent stock update that could not yet see that insert.
async fn product_and_stock_applied_at_once_converge<S: ProductReadModel + ProductProjection>(s: &S) {
    const PRODUCTS: usize = 24;
    const STOCK_VERSIONS: u64 = 6;
    let f = Fixture::new();
    let products: Vec<_> = (0..PRODUCTS).map(|_| product(ProductId::from_uuid(f.id()), 1, usd(100), f.now())).collect();
    let apply_all = products.iter().map(|p| async move {
        let stock = async {
            // One partition's consumer applies a product's stock events in order.
            for version in 1..=STOCK_VERSIONS {
                s.apply_stock(p.id, version * 10, version).await.unwrap_or_else(|e| panic!("apply stock: {e}"));
            }
        };
        let (applied, ()) = futures::future::join(s.apply_product(p), stock).await;
        applied.unwrap_or_else(|e| panic!("apply product: {e}"));
    });
    futures::future::join_all(apply_all).await;
    for p in &products {
        let got =
            s.get(p.id).await.unwrap_or_else(|e| panic!("get: {e}")).map(|v| (v.available_stock, v.stock_version));
        assert_eq!(got, Some((STOCK_VERSIONS * 10, STOCK_VERSIONS)), "{}: the newest stock wins", p.id);
    }
}

async fn listing_equals_the_oracle<S: ProductReadModel + ProductProjection>(s: &S) {
    let f = Fixture::new();
    // Ten products with equal prices and names so every sort has ties.
    let views: Vec<ProductView> = (0..10_u32)
        .map(|n| {
            let mut p = product(ProductId::from_uuid(f.id()), n, usd(if n % 3 == 0 { 500 } else { 100 }), f.now());
            if n == 4 {
                p.status = ProductStatus::Draft;
            }
            ProductView::from_product(&p, u64::from(n % 2), 1)
        })
        .collect();
    load(s, &views).await;
    for sort in SortOrder::ALL {
        for in_stock_only in [false, true] {
            let query = ProductQuery {
                sort,
                in_stock_only,
                limit: crate::query::PageSize::new(3).unwrap_or_default(),
                ..ProductQuery::default()
            };
            assert_listing_matches_oracle(s, &views, &query).await;
        }
    }
    // A cursor past the end yields an empty last page.
    let last = views.iter().max_by_key(|v| v.price.amount()).cloned().unwrap_or_else(|| unreachable!());
    let q = ProductQuery {
        sort: SortOrder::PriceAsc,
        after: Some(Cursor::after(SortOrder::PriceAsc, &last)),
        ..ProductQuery::default()
    };
    let expected = query::evaluate(&q, &views);
    assert_eq!(s.list(&q).await, Ok(expected));
}

async fn collections_apply_and_remove<S: ProductReadModel + ProductProjection>(s: &S) {
    let f = Fixture::new();
    let input = CollectionInput { slug: "tees".into(), name: "Tees".into(), description: String::new() };
    let c = input.validate(CollectionId::from_uuid(f.id()), f.now()).unwrap_or_else(|e| panic!("{e}"));
    let mut renamed = c.clone();
    renamed.name = crate::catalog::CollectionName::parse("T-shirts").unwrap_or_else(|_| unreachable!());
    renamed.version = c.version.next();
    assert_eq!(s.apply_collection(&c).await, Ok(true));
    assert_eq!(s.apply_collection(&renamed).await, Ok(true));
    assert_eq!(s.apply_collection(&c).await, Ok(false), "stale collection ignored");
    assert_eq!(s.collections().await, Ok(vec![renamed]));
    assert_eq!(s.remove_collection(c.id).await, Ok(true));
    assert_eq!(s.remove_collection(c.id).await, Ok(false), "remove is idempotent");
    assert_eq!(s.collections().await, Ok(vec![]));
}

/// A lagging poller or a relay re-claiming rows replays events: whatever the order in
/// which a collection's created, updated and deleted events arrive (and again), it ends
/// deleted.
async fn deleted_collections_stay_deleted_in_any_replay_order<S: ProductReadModel + ProductProjection>(s: &S) {
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Created,
        Updated,
        Deleted,
    }
    let orders: [[Step; 3]; 6] = [
        [Step::Created, Step::Updated, Step::Deleted],
        [Step::Created, Step::Deleted, Step::Updated],
        [Step::Updated, Step::Created, Step::Deleted],
        [Step::Updated, Step::Deleted, Step::Created],
        [Step::Deleted, Step::Created, Step::Updated],
        [Step::Deleted, Step::Updated, Step::Created],
    ];
    let f = Fixture::new();
    for order in orders {
        let input = CollectionInput { slug: "gone".into(), name: "Gone".into(), description: String::new() };
        let created = input.validate(CollectionId::from_uuid(f.id()), f.now()).unwrap_or_else(|e| panic!("{e}"));
        let mut updated = created.clone();
        updated.version = created.version.next();
        // Every step twice: a replay after the first delivery.
        for step in order.iter().chain(order.iter()) {
            let applied = match step {
                Step::Created => s.apply_collection(&created).await,
                Step::Updated => s.apply_collection(&updated).await,
                Step::Deleted => s.remove_collection(created.id).await,
            };
            applied.unwrap_or_else(|e| panic!("{step:?}: {e}"));
        }
        let listed = s.collections().await.unwrap_or_else(|e| panic!("collections: {e}"));
        assert!(listed.iter().all(|c| c.id != created.id), "read model: {order:?} revived the collection");
    }
}

async fn reset_empties_everything<S: ProductReadModel + ProductProjection>(s: &S) {
    let f = Fixture::new();
    let p = product(ProductId::from_uuid(f.id()), 1, usd(100), f.now());
    s.apply_product(&p).await.unwrap_or_else(|e| panic!("apply: {e}"));
    s.reset().await.unwrap_or_else(|e| panic!("reset: {e}"));
    assert_eq!(s.get(p.id).await, Ok(None), "reset");
    assert_eq!(s.apply_product(&p).await, Ok(true), "re-applying after reset works");
}
