//! The home page and the product page.

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    extract::{Path, State},
    response::Html,
};
use commerce_core::{
    ProductId,
    catalog::Collection,
    query::{Availability, ProductQueryParams, ProductView, SortOrder},
};

use crate::{
    WebState,
    cart::CartCookie,
    error::{WebError, render},
    layout::Layout,
};

/// A product as a list shows it.
pub(crate) struct Card {
    pub href: String,
    pub name: String,
    pub price: String,
    pub stock: String,
    pub stock_class: &'static str,
}

impl Card {
    pub fn new(v: &ProductView) -> Self {
        let (stock, stock_class) = stock_words(v.availability());
        Self {
            href: format!("/products/{}", v.id),
            name: v.name.to_string(),
            price: v.price.to_string(),
            stock,
            stock_class,
        }
    }
}

/// What a customer reads about the remaining stock, and its style.
pub(crate) fn stock_words(availability: Availability) -> (String, &'static str) {
    match availability {
        Availability::InStock(n) => (format!("{n} in stock"), "in-stock"),
        Availability::LowStock(n) => (format!("Only {n} left"), "low-stock"),
        Availability::SoldOut => ("Sold out".into(), "sold-out"),
    }
}

/// A link to a collection's products.
pub(crate) struct CollectionLink {
    pub href: String,
    pub name: String,
    pub description: String,
}

impl CollectionLink {
    fn new(c: &Collection) -> Self {
        Self {
            href: format!("/products?collection={}", c.id),
            name: c.name.to_string(),
            description: c.description.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    collections: Vec<CollectionLink>,
    newest: Vec<Card>,
}

/// `/`: the collections and the newest products.
pub(crate) async fn home(State(s): State<WebState>, CartCookie(cart): CartCookie) -> Result<Html<String>, WebError> {
    let newest = ProductQueryParams { sort: SortOrder::Newest, limit: Some(8), ..Default::default() };
    let newest = newest.validate().map_err(|e| WebError::Unavailable(e.to_string()))?;
    let page = s.storefront.list(&newest).await?;
    let collections = s.storefront.collections().await?;
    render(&Home {
        layout: Layout::new(&s.config, "", &cart),
        collections: collections.iter().map(CollectionLink::new).collect(),
        newest: page.items.iter().map(Card::new).collect(),
    })
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductPage {
    layout: Layout,
    id: String,
    available: u64,
    in_cart: u32,
    name: String,
    sku: String,
    description: String,
    price: String,
    stock: String,
    stock_class: &'static str,
    purchasable: bool,
    collection: Option<CollectionLink>,
    attributes: BTreeMap<String, String>,
}

/// `/products/{id}`: one product for sale; anything else is the not-found page.
pub(crate) async fn product(
    State(s): State<WebState>,
    CartCookie(cart): CartCookie,
    Path(id): Path<String>,
) -> Result<Html<String>, WebError> {
    let id: ProductId = id.parse().map_err(|_| WebError::NotFound)?;
    let view = s.storefront.product(id).await?;
    let collections = s.storefront.collections().await?;
    let availability = view.availability();
    let (stock, stock_class) = stock_words(availability);
    let in_cart = cart.lines().iter().find(|l| l.product_id == id).map_or(0, |l| l.quantity.get());
    render(&ProductPage {
        layout: Layout::new(&s.config, "", &cart),
        id: id.to_string(),
        available: view.available_stock,
        in_cart,
        name: view.name.to_string(),
        sku: view.sku.to_string(),
        description: view.description.to_string(),
        price: view.price.to_string(),
        stock,
        stock_class,
        purchasable: availability.purchasable(),
        collection: view.collection_id.and_then(|c| collections.iter().find(|x| x.id == c)).map(CollectionLink::new),
        attributes: view.attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    })
}
