//! The product types of the schema, resolved from the read model's views.

use async_graphql::{ID, Object};
use commerce_core::{
    catalog::Collection as DomainCollection,
    query::{Cursor, ProductView, SortOrder},
};

use crate::{Attribute, Collection, Money};

/// A product as customers see it. Each field is computed only when the query asks for
/// it: a listing of 24 products usually reads four or five of its eight fields.
#[derive(Clone, Debug)]
pub struct Product {
    view: ProductView,
    collection: Option<DomainCollection>,
}

impl Product {
    pub(crate) fn new(view: ProductView, collections: &[DomainCollection]) -> Self {
        let collection = view.collection_id.and_then(|id| collections.iter().find(|c| c.id == id)).cloned();
        Self { view, collection }
    }
}

#[Object]
impl Product {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.view.id.to_string())
    }

    /// SKU.
    async fn sku(&self) -> &str {
        self.view.sku.as_str()
    }

    /// Name.
    async fn name(&self) -> &str {
        self.view.name.as_str()
    }

    /// Description.
    async fn description(&self) -> &str {
        self.view.description.as_str()
    }

    /// Unit price.
    async fn price(&self) -> Money {
        Money { amount: self.view.price.amount(), currency: self.view.price.currency().code().to_owned() }
    }

    /// Units a customer can buy now.
    async fn available_stock(&self) -> u64 {
        self.view.available_stock
    }

    /// Collection, if any.
    async fn collection(&self) -> Option<Collection> {
        self.collection.as_ref().map(Collection::from)
    }

    /// Attributes.
    async fn attributes(&self) -> Vec<Attribute> {
        self.view.attributes.iter().map(|(n, v)| Attribute { name: n.to_string(), value: v.to_string() }).collect()
    }
}

/// An edge of the product connection.
#[derive(Clone, Debug)]
pub struct ProductEdge {
    pub(crate) node: Product,
    pub(crate) sort: SortOrder,
}

#[Object]
impl ProductEdge {
    /// The product.
    async fn node(&self) -> &Product {
        &self.node
    }

    /// Pass as `after` to continue after this product.
    async fn cursor(&self) -> String {
        Cursor::after(self.sort, &self.node.view).encode()
    }
}
