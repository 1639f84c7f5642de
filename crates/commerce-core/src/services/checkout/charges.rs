//! What a checkout charges: the lines, shipping by the chosen method, and tax by the
//! destination's rates (see [`pricing`](crate::pricing)). The rule for checkouts without
//! an address: they are accepted only while the shop has no active shipping method (a shop
//! of digital goods), and cost their subtotal.

use super::{CheckoutError, CheckoutService, ShippingChoice};
use crate::{
    ids::CollectionId,
    money::Money,
    order::{OrderCharges, OrderLine, OrderShipping, ShippingMethodRef},
    pricing::{self, LineToPrice, PricingError as PriceError, ShippingMethod, TaxTable},
    services::pricing::PricingError,
    validation::ValidationErrors,
};

/// A priced cart, ready to become an order.
pub(super) struct Charged {
    /// The lines, each with its tax.
    pub lines: Vec<OrderLine>,
    /// The amount to charge.
    pub total: Money,
    /// What it is made of.
    pub charges: OrderCharges,
    /// Where it ships.
    pub shipping: Option<OrderShipping>,
}

fn unavailable(e: &PricingError) -> CheckoutError {
    CheckoutError::Interrupted { order: None, cause: e.to_string() }
}

impl CheckoutService {
    /// Prices `lines` for `shipping` with the shop's methods and rates.
    pub(super) async fn charges(
        &self,
        shipping: Option<&ShippingChoice>,
        lines: Vec<(OrderLine, Option<CollectionId>)>,
    ) -> Result<Charged, CheckoutError> {
        let methods = match &self.pricing {
            Some(p) => p.shipping_methods().await.map_err(|e| unavailable(&e))?,
            None => vec![],
        };
        let ships = methods.iter().any(|m| m.active);
        let to_price: Vec<LineToPrice> = lines
            .iter()
            .map(|(l, collection_id)| LineToPrice {
                product_id: l.product_id,
                collection_id: *collection_id,
                net: l.line_total,
            })
            .collect();
        let currency =
            to_price.first().map(|l| l.net.currency()).ok_or_else(|| invalid("items", "the cart is empty"))?;
        let subtotal = Money::sum(currency, to_price.iter().map(|l| &l.net))
            .map_err(|e| invalid("items", format!("cannot total the cart: {e}")))?;

        let Some(choice) = shipping else {
            if ships {
                return Err(invalid(
                    "shipping_address",
                    "is required: this shop ships its goods (see GET /store/v1/shipping-methods)",
                ));
            }
            let zero = Money::zero(currency);
            let charges =
                OrderCharges { subtotal, shipping_total: zero, tax_total: zero, shipping_tax: zero, rates: vec![] };
            let lines = lines.into_iter().map(|(l, _)| OrderLine { tax: Some(zero), ..l }).collect();
            return Ok(Charged { lines, total: subtotal, charges, shipping: None });
        };

        let country = choice.address.country;
        let (price, method) = match choice.method_id {
            Some(id) => {
                let method = methods
                    .iter()
                    .find(|m| m.id == id)
                    .ok_or_else(|| invalid("shipping_method_id", format!("shipping method {id} does not exist")))?;
                (
                    offer(method, country, subtotal)?,
                    Some(ShippingMethodRef { id, name: method.name.as_str().to_owned() }),
                )
            }
            None if ships => {
                return Err(invalid(
                    "shipping_method_id",
                    "is required: choose one from GET /store/v1/shipping-methods",
                ));
            }
            None => (Money::zero(currency), None),
        };
        let taxes = match &self.pricing {
            Some(p) => p.tax_table().await.map_err(|e| unavailable(&e))?,
            None => TaxTable::default(),
        };
        let priced = pricing::price(&to_price, price, country, &taxes).map_err(|e| match e {
            PriceError::Empty => invalid("items", "the cart is empty"),
            PriceError::Money(e) => invalid("items", format!("cannot total the cart: {e}")),
        })?;
        let lines =
            lines.into_iter().zip(&priced.line_taxes).map(|((l, _), tax)| OrderLine { tax: Some(*tax), ..l }).collect();
        Ok(Charged {
            lines,
            total: priced.total,
            charges: OrderCharges {
                subtotal: priced.subtotal,
                shipping_total: priced.shipping_total,
                tax_total: priced.tax_total,
                shipping_tax: priced.shipping_tax,
                rates: priced.rates,
            },
            shipping: Some(OrderShipping { address: choice.address.clone(), method }),
        })
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> CheckoutError {
    ValidationErrors::single(field, message).into()
}

/// The price of `method` for a cart of `subtotal` to `country`.
fn offer(
    method: &ShippingMethod,
    country: crate::address::CountryCode,
    subtotal: Money,
) -> Result<Money, CheckoutError> {
    if !method.serves(country) {
        return Err(invalid("shipping_method_id", format!("{} does not ship to {country}", method.name.as_str())));
    }
    method.price_for(subtotal).ok_or_else(|| {
        invalid(
            "shipping_method_id",
            format!(
                "{} is priced in {}, the cart in {}",
                method.name.as_str(),
                method.price.currency(),
                subtotal.currency()
            ),
        )
    })
}
