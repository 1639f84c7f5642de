//! What an order costs: its lines, the shipping of the method the customer chose, and tax.
//!
//! Prices are **tax-exclusive**: a product's price and a shipping method's price are net,
//! and tax is added on top at checkout. Tax is computed per line (and on shipping) from
//! the rate of the destination country, or of the line's collection in that country when
//! one is set, and rounded once per line, **half up on minor units**:
//! `tax = floor((net * rate_bps + 5_000) / 10_000)`, in integers throughout, so the same
//! cart always costs the same in every adapter and no float is ever involved. Shipping is
//! taxed at the country's general rate (the one without a collection).
//!
//! An order keeps the rates it was charged with ([`PricedOrder::rates`]), so changing a
//! rate later never changes an existing order.

mod shipping;
mod tax;

use serde::{Deserialize, Serialize};

pub use shipping::{ShippingMethod, ShippingMethodInput, ShippingMethodName};
pub use tax::{TaxRate, TaxRule, TaxTable};

use crate::{
    address::CountryCode,
    ids::{CollectionId, ProductId},
    money::{Currency, Money, MoneyError},
};

/// One line to price: its net total and the collection its product belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineToPrice {
    /// The product.
    pub product_id: ProductId,
    /// Its collection, which may have its own tax rate.
    pub collection_id: Option<CollectionId>,
    /// `unit_price * quantity`, net.
    pub net: Money,
}

/// A rate an order was charged, and what it was charged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedRate {
    /// The collection the rate is for (`None`: the country's general rate).
    pub collection_id: Option<CollectionId>,
    /// The rate.
    pub rate: TaxRate,
}

/// Everything an order costs, computed once at checkout and stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedOrder {
    /// Sum of the lines' net totals.
    pub subtotal: Money,
    /// The shipping method's price for this subtotal (0 above its free threshold), net.
    pub shipping_total: Money,
    /// Tax on the lines and on shipping.
    pub tax_total: Money,
    /// `subtotal + shipping_total + tax_total`: the amount charged.
    pub total: Money,
    /// Each line's tax, in the lines' order.
    pub line_taxes: Vec<Money>,
    /// The tax on shipping.
    pub shipping_tax: Money,
    /// The rates used, one per distinct collection (and the general one), in a stable order.
    pub rates: Vec<AppliedRate>,
}

/// Why an order cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// The cart is empty.
    #[error("the cart is empty")]
    Empty,
    /// Amounts in several currencies, or beyond the representable range.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// Prices `lines` shipped to `country` with `shipping` (the method's price for this cart,
/// see [`ShippingMethod::price_for`]), taxed by `taxes`.
pub fn price(
    lines: &[LineToPrice],
    shipping: Money,
    country: CountryCode,
    taxes: &TaxTable,
) -> Result<PricedOrder, PricingError> {
    let currency: Currency = lines.first().ok_or(PricingError::Empty)?.net.currency();
    let subtotal = Money::sum(currency, lines.iter().map(|l| &l.net))?;
    let mut rates: Vec<AppliedRate> = vec![];
    let mut applied = |collection_id: Option<CollectionId>, rate: TaxRate| {
        let entry = AppliedRate { collection_id, rate };
        if !rates.contains(&entry) {
            rates.push(entry);
        }
    };
    let mut line_taxes = Vec::with_capacity(lines.len());
    for line in lines {
        let (collection, rate) = taxes.rate_for(country, line.collection_id);
        applied(collection, rate);
        line_taxes.push(rate.tax_on(line.net)?);
    }
    let (_, general) = taxes.rate_for(country, None);
    let shipping_tax = general.tax_on(shipping)?;
    if shipping.amount() != 0 {
        applied(None, general);
    }
    rates.sort_by_key(|r| r.collection_id);
    let tax_total = Money::sum(currency, line_taxes.iter().chain(std::iter::once(&shipping_tax)))?;
    let total = subtotal.checked_add(&shipping)?.checked_add(&tax_total)?;
    Ok(PricedOrder { subtotal, shipping_total: shipping, tax_total, total, line_taxes, shipping_tax, rates })
}

#[cfg(test)]
mod tests;
