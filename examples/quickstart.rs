//! Embedding the toolkit: wire the services on the in-memory adapters, stock a
//! product, list it, sell it, and watch the listed stock go down.
//!
//! ```text
//! cargo run -p commerce-examples --example quickstart
//! ```

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use commerce_core::{
    catalog::{CollectionInput, MoneyInput, ProductInput},
    payment::CardInput,
    query::{ProductQueryParams, SortOrder},
    services::{
        Env,
        catalog::CatalogService,
        checkout::{CheckoutInput, CheckoutItemInput, CheckoutService, SagaRunner},
        events::{OutboxRelay, Projector},
        inventory::InventoryService,
        storefront::StorefrontService,
    },
};
use commerce_memory::{
    MemoryCatalogStore, MemoryEventBus, MemoryInventoryStore, MemoryOrderStore, MemoryOutbox, MemoryPaymentGateway,
    MemoryReadModel,
};
use commerce_runtime::{RandomIds, SystemClock};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    futures::executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Wiring: every port gets an adapter; services hold them as Arc<dyn Port>.
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let outbox = MemoryOutbox::default();
    let catalog_store = Arc::new(MemoryCatalogStore::with_outbox(outbox.clone()));
    let orders = Arc::new(MemoryOrderStore::with_outbox(outbox.clone()));
    let read_model = Arc::new(MemoryReadModel::new());
    let bus = Arc::new(MemoryEventBus::new());
    let gateway = Arc::new(MemoryPaymentGateway::new());
    let inventory = InventoryService::new(Arc::new(MemoryInventoryStore::new()), bus.clone(), env.clone());
    let runner = SagaRunner::new(orders.clone(), inventory.clone(), gateway.clone(), env.clone(), 900);
    let catalog = CatalogService::new(catalog_store.clone(), env.clone());
    let checkout = CheckoutService::new(catalog_store, orders, gateway, runner, env);
    let storefront = StorefrontService::new(read_model.clone());
    let relay = OutboxRelay::new(Arc::new(outbox), bus.clone());
    let projector = Projector::new(read_model);
    let consumer = bus.consumer("storefront");
    // The event pipeline: outbox -> bus -> read model. A service runs this in a loop.
    let sync = || async {
        while relay.step(100).await? > 0 {}
        while projector.step(&consumer, 100).await? > 0 {}
        Ok::<_, Box<dyn std::error::Error>>(())
    };

    let tees = catalog
        .create_collection(&CollectionInput {
            slug: "tees".into(),
            name: "T-shirts".into(),
            description: String::new(),
        })
        .await?;
    let tee = catalog
        .create_product(&ProductInput {
            sku: "TEE-RED-M".into(),
            name: "Red tee".into(),
            description: "Organic cotton.".into(),
            price: MoneyInput { amount: 1999, currency: "USD".into() },
            collection_id: Some(tees.id.to_string()),
            attributes: [("colour".to_owned(), "red".to_owned()), ("size".to_owned(), "M".to_owned())].into(),
            status: Some("active".into()),
        })
        .await?;
    inventory.set_on_hand(tee.id, 10).await?;
    sync().await?;

    let query = ProductQueryParams {
        q: Some("tee".into()),
        sort: SortOrder::PriceAsc,
        attributes: vec![("colour".into(), "red".into())],
        ..ProductQueryParams::default()
    }
    .validate()?;
    for v in storefront.list(&query).await?.items {
        println!("listed: {} {} at {}, {} in stock", v.sku, v.name, v.price, v.available_stock);
    }

    let placed = checkout
        .place_order(&CheckoutInput {
            email: "ada@example.com".into(),
            items: vec![CheckoutItemInput { product_id: tee.id.to_string(), quantity: 3 }],
            card: CardInput { number: "4242 4242 4242 4242".into(), exp_month: 12, exp_year: 2030, cvc: "123".into() },
        })
        .await?;
    let order = &placed.order;
    println!(
        "order {}: {} for {} paid by {:?} ending {}",
        order.id,
        order.status.as_str(),
        order.total,
        order.payment_method.brand,
        order.payment_method.last4
    );
    sync().await?;
    println!("stock now: {}", storefront.product(tee.id).await?.available_stock);
    Ok(())
}
