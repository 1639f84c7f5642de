//! Growing out of one machine: a shop on SQLite is exported with `commerce export` (the
//! built binary), imported into PostgreSQL with `catalog-api import`, and both storefronts
//! then list the same products, in every order, with the same stock. A second import
//! changes nothing; an import after a change on SQLite carries exactly that change.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::{process::Command, sync::Arc};

use clap::Parser as _;
use commerce_core::{
    ProductId,
    catalog::ProductPatchInput,
    ports::{ProductProjection, ProductReadModel},
    query::{ProductQuery, ProductQueryParams, SortOrder},
    services::{Env, catalog::CatalogService, events::Projector, inventory::InventoryService, transfer::ImportReport},
};
use commerce_postgres::{PgOutboxConsumer, PgReadModel, testing::Databases};
use commerce_runtime::{RandomIds, SystemClock};
use commerce_sqlite::{SqlitePipeline, testing::TempDatabase};
use commerce_system_tests::process::bin;

/// Every product a query lists, walking all pages.
async fn walk(store: &dyn ProductReadModel, query: &ProductQuery) -> Vec<(ProductId, String, i64, u64)> {
    let mut q = query.clone();
    let mut all = vec![];
    loop {
        let page = store.list(&q).await.unwrap();
        all.extend(page.items.iter().map(|v| (v.id, v.name.to_string(), v.price.amount(), v.available_stock)));
        match page.next_cursor {
            Some(c) => q.after = Some(c),
            None => return all,
        }
    }
}

fn queries() -> Vec<ProductQuery> {
    let mut all: Vec<ProductQuery> = SortOrder::ALL
        .into_iter()
        .map(|sort| ProductQueryParams { sort, limit: Some(50), ..Default::default() }.validate().unwrap())
        .collect();
    for params in [
        ProductQueryParams { q: Some("tee".into()), ..Default::default() },
        ProductQueryParams { attributes: vec![("colour".into(), "red".into())], ..Default::default() },
        ProductQueryParams { in_stock_only: true, min_price: Some(500), ..Default::default() },
    ] {
        all.push(params.validate().unwrap());
    }
    all
}

async fn import(db_url: &str, dir: &std::path::Path) -> [ImportReport; 3] {
    let cli = catalog_api::Cli::parse_from(["catalog-api", "--database-url", db_url]);
    catalog_api::import(&cli, dir).await.unwrap()
}

/// Projects the PostgreSQL outbox into its read model until nothing is left.
async fn project(pool: &commerce_postgres::PgPool) -> PgReadModel {
    let read_model = PgReadModel::new(pool.clone());
    let projector = Projector::new(Arc::new(read_model.clone()) as Arc<dyn ProductProjection>);
    let consumer = PgOutboxConsumer::new(pool.clone());
    while projector.step(&consumer, 1000).await.unwrap() > 0 {}
    read_model
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_shop_moves_to_postgresql_with_the_same_listings() {
    // Given a shop on SQLite: the demo catalog, one product archived.
    let sqlite = TempDatabase::new().await;
    let db = sqlite.db().clone();
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let catalog = CatalogService::new(Arc::new(db.catalog()), env.clone());
    let inventory = InventoryService::with_transactional_events(Arc::new(db.inventory()), env);
    commerce_process::seed::seed(&catalog, &inventory, 120, 4).await.unwrap();
    let first = catalog.products(None, 1).await.unwrap()[0].id;
    catalog.archive_product(first, None).await.unwrap();
    let pipeline = SqlitePipeline::new(&db);
    pipeline.sync().await.unwrap();

    // when it is exported and imported into PostgreSQL,
    let export = sqlite.dir().join("export");
    let export_with = |dir: &std::path::Path| {
        let status = Command::new(bin("commerce"))
            .args(["export", dir.to_str().unwrap(), "--data-dir", sqlite.dir().to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .status()
            .unwrap();
        assert!(status.success(), "commerce export");
    };
    export_with(&export);
    let dbs = Databases::new();
    let name = dbs.fresh_name().await;
    let url = commerce_postgres::testing::url_for(&name);
    catalog_api::Cli::parse_from(["catalog-api", "--database-url", &url]).db.migrate().await.unwrap();
    let [collections, products, stock] = import(&url, &export).await;
    assert_eq!((products.created, products.updated), (120, 0), "{products:?}");
    assert!(collections.created > 0 && stock.created > 0, "{collections:?} {stock:?}");

    // then both storefronts list the same products in every order, with the same stock;
    let pool = commerce_postgres::lazy_pool(&url, 4).unwrap();
    let postgres = project(&pool).await;
    let sqlite_read = db.read_model();
    for query in queries() {
        let (on_sqlite, on_postgres) = (walk(&sqlite_read, &query).await, walk(&postgres, &query).await);
        assert!(!on_sqlite.is_empty(), "{query:?} lists something");
        assert_eq!(on_sqlite, on_postgres, "{query:?}");
    }
    assert!(
        postgres.get(first).await.unwrap().is_some_and(|v| v.status.as_str() == "archived"),
        "archived stays archived"
    );

    // a second import changes nothing,
    let again = import(&url, &export).await;
    assert!(again.iter().all(|r| r.created == 0 && r.updated == 0), "{again:?}");

    // and one after a change on SQLite carries exactly that change.
    let second = catalog.products(Some(first), 1).await.unwrap()[0].id;
    let rename = ProductPatchInput { name: Some("Renamed after the move".into()), ..Default::default() };
    catalog.update_product(second, &rename, None).await.unwrap();
    pipeline.sync().await.unwrap();
    let export2 = sqlite.dir().join("export-2");
    export_with(&export2);
    let [_, products, _] = import(&url, &export2).await;
    assert_eq!((products.created, products.updated, products.unchanged), (0, 1, 119));
    let postgres = project(&pool).await;
    assert_eq!(postgres.get(second).await.unwrap().unwrap().name.as_str(), "Renamed after the move");
    pool.close().await;
    db.close().await;
    dbs.cleanup().await;
}
