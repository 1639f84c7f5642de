//! Moving a catalog from one deployment to another (the embedded shop to PostgreSQL):
//! an export of collections, products and stock levels, and its import.
//!
//! An export is three files of JSON lines, one record per line, in the order they must be
//! imported: [`COLLECTIONS_FILE`] ([`Collection`]), [`PRODUCTS_FILE`] ([`Product`], any
//! status: archived products stay for order history) and [`STOCK_FILE`] ([`StockRecord`]).
//! Records keep their ids, so links, bookmarks and order history stay valid.
//!
//! The import converges: a record missing in the target is created, one that differs is
//! overwritten (as a new version, with its event), one that is equal is left alone. Run it
//! again, or after a newer export, and it changes only what changed. It goes through the
//! catalog's stores and outbox and the stock use case, so events flow as for any change.

use serde::{Deserialize, Serialize};

use super::{
    catalog::{CatalogError, CatalogService},
    inventory::InventoryService,
    restock::{RestockError, RestockService},
};
use crate::{
    catalog::{Collection, Product},
    events::DomainEvent,
    ids::ProductId,
    inventory::OnHand,
};

/// The collections of an export.
pub const COLLECTIONS_FILE: &str = "collections.jsonl";
/// The products of an export.
pub const PRODUCTS_FILE: &str = "products.jsonl";
/// The stock levels of an export.
pub const STOCK_FILE: &str = "stock.jsonl";

/// A product's on-hand units in an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRecord {
    /// The product.
    pub product_id: ProductId,
    /// Units physically in stock.
    pub on_hand: OnHand,
}

/// What importing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// It was missing and is now created.
    Created,
    /// It differed and is now overwritten.
    Updated,
    /// It was already there, equal.
    Unchanged,
}

/// Counts of what an import did, per outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportReport {
    /// Records created.
    pub created: u64,
    /// Records overwritten.
    pub updated: u64,
    /// Records already equal.
    pub unchanged: u64,
}

impl ImportReport {
    /// Counts one outcome.
    pub fn add(&mut self, outcome: Imported) {
        match outcome {
            Imported::Created => self.created += 1,
            Imported::Updated => self.updated += 1,
            Imported::Unchanged => self.unchanged += 1,
        }
    }
}

impl CatalogService {
    /// Imports an exported collection, keeping its id (see the module docs).
    pub async fn import_collection(&self, exported: &Collection) -> Result<Imported, CatalogError> {
        let Some(current) = self.collections.collection(exported.id).await? else {
            let event = self.env.envelope(DomainEvent::CollectionCreated(exported.clone()));
            self.collections.insert_collection(exported, &[event]).await?;
            return Ok(Imported::Created);
        };
        if same_collection(&current, exported) {
            return Ok(Imported::Unchanged);
        }
        let next = Collection { version: current.version.next(), ..exported.clone() };
        let event = self.env.envelope(DomainEvent::CollectionUpdated(next.clone()));
        self.collections.update_collection(&next, current.version, &[event]).await?;
        Ok(Imported::Updated)
    }

    /// Imports an exported product, keeping its id and status (see the module docs). Its
    /// collection must have been imported first.
    pub async fn import_product(&self, exported: &Product) -> Result<Imported, CatalogError> {
        let Some(current) = self.products.product(exported.id).await? else {
            let event = self.env.envelope(DomainEvent::ProductCreated(exported.clone()));
            self.products.insert_product(exported, &[event]).await?;
            return Ok(Imported::Created);
        };
        if same_product(&current, exported) {
            return Ok(Imported::Unchanged);
        }
        let next = Product { version: current.version.next(), ..exported.clone() };
        let event = self.env.envelope(DomainEvent::ProductUpdated(next.clone()));
        self.products.update_product(&next, current.version, &[event]).await?;
        Ok(Imported::Updated)
    }
}

/// Equal in everything an export carries but the version and update time, which are the
/// target's own.
fn same_collection(a: &Collection, b: &Collection) -> bool {
    (&a.slug, &a.name, &a.description) == (&b.slug, &b.name, &b.description)
}

fn same_product(a: &Product, b: &Product) -> bool {
    (&a.sku, &a.name, &a.description, a.price, a.collection_id, &a.attributes, a.status, a.created_at)
        == (&b.sku, &b.name, &b.description, b.price, b.collection_id, &b.attributes, b.status, b.created_at)
}

impl RestockService {
    /// Imports an exported stock level: sets the on-hand units unless they are already
    /// those. With restocks delivered as events, the level read may lag a previous run;
    /// setting the same units again changes nothing.
    pub async fn import_stock(&self, exported: &StockRecord) -> Result<Imported, RestockError> {
        let current = self.stock(exported.product_id).await?;
        if current.on_hand == exported.on_hand.get() {
            return Ok(Imported::Unchanged);
        }
        self.set_stock(exported.product_id, exported.on_hand).await?;
        Ok(if current.version == 0 { Imported::Created } else { Imported::Updated })
    }
}

/// Reads a catalog out for an export: the collections, then pages of products (in id
/// order) with their stock levels.
pub struct CatalogExporter {
    catalog: CatalogService,
    inventory: InventoryService,
    after: Option<ProductId>,
    done: bool,
}

impl CatalogExporter {
    /// An export of `catalog` with the stock levels of `inventory`.
    pub fn new(catalog: CatalogService, inventory: InventoryService) -> Self {
        Self { catalog, inventory, after: None, done: false }
    }

    /// Every collection.
    pub async fn collections(&self) -> Result<Vec<Collection>, RestockError> {
        Ok(self.catalog.collections().await?)
    }

    /// The next page of at most `limit` products and their stock (products never stocked
    /// have no stock record); `None` after the last page.
    pub async fn next_page(&mut self, limit: usize) -> Result<Option<(Vec<Product>, Vec<StockRecord>)>, RestockError> {
        if self.done {
            return Ok(None);
        }
        let products = self.catalog.products(self.after, limit).await?;
        let Some(last) = products.last() else {
            self.done = true;
            return Ok(None);
        };
        self.after = Some(last.id);
        let ids: Vec<ProductId> = products.iter().map(|p| p.id).collect();
        let stock = self
            .inventory
            .stock(&ids)
            .await?
            .into_iter()
            .filter_map(|level| {
                OnHand::new(level.on_hand).ok().map(|on_hand| StockRecord { product_id: level.product_id, on_hand })
            })
            .collect();
        Ok(Some((products, stock)))
    }
}
