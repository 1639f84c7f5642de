//! Setting and reading a product's stock as an operator: the one place that decides how
//! a seller's restock reaches the inventory, so every inbound adapter (the admin API, a
//! back-office page, a supplier feed) behaves alike.

use super::{
    catalog::{CatalogError, CatalogService, RestockRequested},
    inventory::InventoryService,
};
use crate::{
    ids::ProductId,
    inventory::{InventoryError, OnHand, StockLevel},
};

/// How a restock reaches the inventory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RestockDelivery {
    /// A call to the inventory (in process or over gRPC): the resulting level, or
    /// `BelowReserved` when fewer than the reserved units.
    #[default]
    Direct,
    /// A `stock.set` event through the catalog's outbox and the broker, which the inventory
    /// service applies shortly after (or parks when it breaks a rule).
    Events,
}

/// What a restock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// The inventory applied it: the level now.
    Applied(StockLevel),
    /// The catalog recorded it for the inventory service, which applies it asynchronously.
    Requested(RestockRequested),
}

/// Why a stock use case failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestockError {
    /// The product is unknown, or the catalog is unavailable.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The inventory refused the change (below the reserved units) or is unavailable.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
}

/// Operators' stock use cases.
#[derive(Clone)]
pub struct RestockService {
    catalog: CatalogService,
    inventory: InventoryService,
    delivery: RestockDelivery,
}

impl RestockService {
    /// Restocks through `delivery`; reads come from `inventory` either way.
    pub fn new(catalog: CatalogService, inventory: InventoryService, delivery: RestockDelivery) -> Self {
        Self { catalog, inventory, delivery }
    }

    /// How restocks reach the inventory.
    pub fn delivery(&self) -> RestockDelivery {
        self.delivery
    }

    /// Sets a catalog product's on-hand units (any status: a draft can be stocked before it
    /// goes on sale). `ProductNotFound` for a product the catalog does not know.
    pub async fn set_stock(&self, product: ProductId, on_hand: OnHand) -> Result<StockChange, RestockError> {
        match self.delivery {
            RestockDelivery::Direct => {
                let product = self.catalog.product(product).await?;
                Ok(StockChange::Applied(self.inventory.set_on_hand(product.id, on_hand).await?))
            }
            RestockDelivery::Events => {
                Ok(StockChange::Requested(self.catalog.request_restock(product, on_hand).await?))
            }
        }
    }

    /// A catalog product's stock; a product never stocked has zero units.
    pub async fn stock(&self, product: ProductId) -> Result<StockLevel, RestockError> {
        let product = self.catalog.product(product).await?;
        let level = self.inventory.stock(&[product.id]).await?.into_iter().next();
        Ok(level.unwrap_or(StockLevel { product_id: product.id, on_hand: 0, reserved: 0, version: 0 }))
    }
}
