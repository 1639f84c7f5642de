//! Embedding the toolkit: wire a whole shop on the in-memory adapters, stock a
//! product, list it, sell it with the test card, and watch the listed stock go down.
//!
//! ```text
//! cargo run -p commerce-examples --example quickstart
//! ```

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::sync::Arc;

use commerce_core::prelude::*;
use commerce_memory::{MemoryAdapters, MemoryPaymentGateway};
use commerce_runtime::{RandomIds, SystemClock};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    futures::executor::block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Wiring: every port gets an adapter; the builder wires every service on them.
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let adapters = MemoryAdapters::new();
    let shop = adapters.shop(env).gateway(Arc::new(MemoryPaymentGateway::new())).build()?;

    let tees = shop
        .catalog
        .create_collection(&CollectionInput {
            slug: "tees".into(),
            name: "T-shirts".into(),
            description: String::new(),
        })
        .await?;
    let tee = shop
        .catalog
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
    shop.inventory.set_on_hand(tee.id, OnHand::new(10)?).await?;
    // The event pipeline (outbox -> bus -> read model); a service runs it in a loop.
    adapters.sync().await?;

    let query = ProductQueryParams {
        q: Some("tee".into()),
        sort: SortOrder::PriceAsc,
        attributes: vec![("colour".into(), "red".into())],
        ..ProductQueryParams::default()
    }
    .validate()?;
    for v in shop.storefront.list(&query).await?.items {
        println!("listed: {} {} at {}, {} in stock", v.sku, v.name, v.price, v.available_stock);
    }

    // A checkout under a client's idempotency key: sending it again would replay the answer.
    let key = ClientKey::parse("quickstart-order-1")?;
    let input = CheckoutInput {
        email: "ada@example.com".into(),
        items: vec![CheckoutItemInput { product_id: tee.id.to_string(), quantity: 3 }],
        // The token the customer's browser got from the processor (here one of Stripe's
        // test PaymentMethods, which the simulated processor knows too): no card number
        // reaches the shop.
        payment_method: Some("pm_card_visa".into()),
        // No address: this shop has no shipping methods (digital goods).
        ..CheckoutInput::default()
    };
    let placed = shop.checkout.place_order(&key, &input).await.result?;
    let order = &placed.order;
    println!(
        "order {}: {} for {} paid by {:?} ending {}",
        order.id,
        order.status.as_str(),
        order.total,
        order.payment_method.brand,
        order.payment_method.last4
    );
    adapters.sync().await?;
    println!("stock now: {}", shop.storefront.product(tee.id).await?.available_stock);
    Ok(())
}
