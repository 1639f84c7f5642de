//! Property-testing your own business rule with the exported proptest strategies and a
//! mockall mock of a port.
//!
//! The rule is a "3 for 2" promotion: of every three units of one product, one is free.
//! `Quoter` prices a cart with it, reading prices through the `ProductStore` port. The
//! properties hold for any currency (0, 2 and 3 decimal places), any price the strategies
//! produce (up to `i64::MAX` minor units: overflow is an error, never a panic or a wrong
//! total) and any cart; the mock proves each product is read once and an outage is an
//! error, never a partial quote.
//!
//! ```text
//! cargo run -p commerce-examples --example property_test
//! ```

#![allow(clippy::print_stdout, reason = "an example shows its results")]

use std::{collections::HashMap, sync::Arc};

use commerce_core::{
    Currency, Money, ProductId, Timestamp,
    inventory::Quantity,
    money::MoneyError,
    ports::{MockProductStore, ProductStore, StoreError},
    testkit::strategies,
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};

/// "3 for 2": the units of `quantity` the customer pays for.
fn payable_units(quantity: Quantity) -> u32 {
    quantity.get() - quantity.get() / 3
}

/// A priced cart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Quote {
    /// Every unit at its price.
    subtotal: Money,
    /// The free units.
    discount: Money,
    /// What the customer pays.
    total: Money,
}

/// Why a cart could not be priced.
#[derive(Debug, PartialEq, Eq)]
enum QuoteError {
    /// The catalog has no such product.
    UnknownProduct(ProductId),
    /// The catalog could not be read.
    Store(StoreError),
    /// An amount does not fit (or the cart mixes currencies).
    Money(MoneyError),
}

impl From<MoneyError> for QuoteError {
    fn from(e: MoneyError) -> Self {
        Self::Money(e)
    }
}

/// Prices carts with the promotion, reading prices through the port.
struct Quoter {
    products: Arc<dyn ProductStore>,
}

impl Quoter {
    async fn quote(&self, currency: Currency, cart: &[(ProductId, Quantity)]) -> Result<Quote, QuoteError> {
        let (mut subtotal, mut discount) = (Money::zero(currency), Money::zero(currency));
        for (id, quantity) in cart {
            let product =
                self.products.product(*id).await.map_err(QuoteError::Store)?.ok_or(QuoteError::UnknownProduct(*id))?;
            subtotal = subtotal.checked_add(&product.price.checked_mul(quantity.get())?)?;
            discount = discount.checked_add(&product.price.checked_mul(quantity.get() / 3)?)?;
        }
        Ok(Quote { subtotal, discount, total: subtotal.checked_sub(&discount)? })
    }
}

fn at() -> Timestamp {
    Timestamp::from_unix_micros(1_767_225_600_000_000)
}

/// A cart of products priced from the strategies, and the mock catalog that holds them.
fn priced_cart() -> impl Strategy<Value = (Currency, Vec<(ProductId, Quantity, Money)>)> {
    strategies::currency().prop_flat_map(|currency| {
        // Mostly shop-sized prices, sometimes any amount at all (to reach overflow).
        let price = prop_oneof![
            3 => (0..=1_000_000_i64).prop_filter_map("valid", move |a| Money::new(a, currency).ok()),
            1 => strategies::money(currency),
        ];
        (Just(currency), proptest::collection::vec((price, 1..=30_u32), 1..=4)).prop_map(|(currency, lines)| {
            let lines = lines
                .into_iter()
                .enumerate()
                .filter_map(|(n, (price, q))| {
                    let id = ProductId::from_uuid(uuid::Uuid::from_u128(n as u128 + 1));
                    Quantity::new(q).ok().map(|q| (id, q, price))
                })
                .collect();
            (currency, lines)
        })
    })
}

fn mock_catalog(lines: &[(ProductId, Quantity, Money)]) -> MockProductStore {
    let prices: HashMap<ProductId, Money> = lines.iter().map(|(id, _, price)| (*id, *price)).collect();
    let mut store = MockProductStore::new();
    // Each product is read exactly once per quote.
    store
        .expect_product()
        .times(lines.len())
        .returning(move |id| Ok(prices.get(&id).map(|price| strategies::product(id, 1, *price, at()))));
    store
}

fn check(condition: bool, what: &str) -> Result<(), TestCaseError> {
    if condition { Ok(()) } else { Err(TestCaseError::fail(what.to_owned())) }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });

    // The rule alone: three units cost two, never more than the list price.
    runner
        .run(&(1..=10_000_u32), |q| {
            let quantity = Quantity::new(q).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let paid = payable_units(quantity);
            check(paid <= q && paid * 3 >= q * 2, "between two thirds and all of the units")?;
            check(q % 3 != 0 || paid == q / 3 * 2, "whole groups of three cost two")
        })
        .map_err(|e| format!("rule: {e}"))?;

    // Quotes over a mocked catalog: exact totals, or an overflow error, for any price and currency.
    runner
        .run(&priced_cart(), |(currency, lines)| {
            let quoter = Quoter { products: Arc::new(mock_catalog(&lines)) };
            let cart: Vec<_> = lines.iter().map(|(id, q, _)| (*id, *q)).collect();
            let quote = futures::executor::block_on(quoter.quote(currency, &cart));
            let sum = |units: &dyn Fn(Quantity) -> u32| -> i128 {
                lines.iter().map(|(_, q, price)| i128::from(price.amount()) * i128::from(units(*q))).sum()
            };
            let (subtotal, expected) = (sum(&Quantity::get), sum(&payable_units));
            match quote {
                Ok(quote) => {
                    check(quote.total.currency() == currency, "priced in the cart's currency")?;
                    check(i128::from(quote.total.amount()) == expected, "total = sum of price x payable units")?;
                    check(i128::from(quote.subtotal.amount()) == subtotal, "subtotal = sum of price x units")
                }
                // Only a cart worth more than an i64 of minor units may fail, and only as an error.
                Err(QuoteError::Money(MoneyError::Overflow)) => {
                    check(subtotal > i128::from(i64::MAX), "overflow only for amounts beyond i64")
                }
                Err(other) => Err(TestCaseError::fail(format!("unexpected {other:?}"))),
            }
        })
        .map_err(|e| format!("quote: {e}"))?;

    // A catalog outage is an error, never a partial quote.
    let mut down = MockProductStore::new();
    down.expect_product().times(1).returning(|_| Err(StoreError::Unavailable("connection reset".into())));
    let quoter = Quoter { products: Arc::new(down) };
    let one = Quantity::new(3)?;
    let outage =
        futures::executor::block_on(quoter.quote(Currency::EUR, &[(ProductId::from_uuid(uuid::Uuid::nil()), one)]));
    if outage != Err(QuoteError::Store(StoreError::Unavailable("connection reset".into()))) {
        return Err(format!("an outage must surface as an error: {outage:?}").into());
    }

    println!("\"3 for 2\" holds on 256 random quantities and 256 random carts over a mocked ProductStore");
    Ok(())
}
