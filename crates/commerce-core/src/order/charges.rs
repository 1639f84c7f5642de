//! What an order was charged for, and where it ships: fixed when it is placed, so later
//! changes to prices, shipping methods or tax rates never alter it.

use serde::{Deserialize, Serialize};

use super::Order;
use crate::{address::ShippingAddress, ids::ShippingMethodId, money::Money, pricing::AppliedRate};

/// The parts of an order's total (`total = subtotal + shipping_total + tax_total`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCharges {
    /// Sum of the lines' net totals.
    pub subtotal: Money,
    /// Shipping, net.
    pub shipping_total: Money,
    /// Tax on the lines and on shipping.
    pub tax_total: Money,
    /// The part of `tax_total` charged on shipping.
    pub shipping_tax: Money,
    /// The rates applied.
    pub rates: Vec<AppliedRate>,
}

/// Where and how an order ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipping {
    /// The address.
    pub address: ShippingAddress,
    /// The method chosen (none where the shop has no shipping methods).
    pub method: Option<ShippingMethodRef>,
}

/// The shipping method an order was placed with, as it was then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingMethodRef {
    /// Its id.
    pub id: ShippingMethodId,
    /// Its name then.
    pub name: String,
}

impl Order {
    /// What the total is made of. An order placed before shipping and tax existed has no
    /// record of it: its total is its subtotal, with nothing for shipping or tax.
    pub fn breakdown(&self) -> OrderCharges {
        self.charges.clone().unwrap_or_else(|| {
            let zero = Money::zero(self.total.currency());
            OrderCharges {
                subtotal: self.total,
                shipping_total: zero,
                tax_total: zero,
                shipping_tax: zero,
                rates: vec![],
            }
        })
    }
}
