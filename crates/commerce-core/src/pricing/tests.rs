use std::collections::BTreeSet;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::ids::{ShippingMethodId, TaxRateId};

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

fn money(amount: i64, currency: Currency) -> Money {
    Money::new(amount, currency).unwrap()
}

fn collection(n: u128) -> CollectionId {
    CollectionId::from_uuid(Uuid::from_u128(n))
}

fn rule(n: u128, code: &str, collection_id: Option<CollectionId>, bps: u32) -> TaxRule {
    TaxRule {
        id: TaxRateId::from_uuid(Uuid::from_u128(n)),
        country: country(code),
        collection_id,
        rate: TaxRate::from_bps(bps).unwrap(),
    }
}

fn line(n: u128, collection_id: Option<CollectionId>, net: Money) -> LineToPrice {
    LineToPrice { product_id: ProductId::from_uuid(Uuid::from_u128(n)), collection_id, net }
}

#[test]
fn tax_rounds_half_up_on_minor_units() {
    let rate = |bps| TaxRate::from_bps(bps).unwrap();
    let usd = |a| money(a, Currency::USD);
    assert_eq!(rate(1900).tax_on(usd(1999)).unwrap(), usd(380), "379.81 cents");
    assert_eq!(rate(1000).tax_on(usd(5)).unwrap(), usd(1), "0.5 cent rounds up");
    assert_eq!(rate(1000).tax_on(usd(4)).unwrap(), usd(0), "0.4 cent rounds down");
    assert_eq!(rate(0).tax_on(usd(1999)).unwrap(), usd(0));
    assert_eq!(rate(10_000).tax_on(usd(1999)).unwrap(), usd(1999));
    assert_eq!(rate(800).tax_on(money(1250, Currency::JPY)).unwrap(), money(100, Currency::JPY));
    assert!(TaxRate::from_bps(10_001).is_err());
}

#[test]
fn a_collection_rate_overrides_the_country_rate_and_shipping_takes_the_general_one() {
    let books = collection(7);
    let taxes =
        TaxTable::new(vec![rule(1, "DE", None, 1900), rule(2, "DE", Some(books), 700), rule(3, "FR", None, 2000)]);
    let usd = |a| money(a, Currency::EUR);
    let lines = [line(1, Some(books), usd(1000)), line(2, None, usd(2000)), line(3, Some(collection(8)), usd(100))];
    let priced = price(&lines, usd(499), country("DE"), &taxes).unwrap();
    assert_eq!(priced.line_taxes, [usd(70), usd(380), usd(19)]);
    assert_eq!(priced.shipping_tax, usd(95), "4.99 * 19 % = 0.9481");
    assert_eq!(priced.subtotal, usd(3100));
    assert_eq!(priced.tax_total, usd(70 + 380 + 19 + 95));
    assert_eq!(priced.total, usd(3100 + 499 + 564));
    let rates: Vec<(Option<CollectionId>, u32)> =
        priced.rates.iter().map(|r| (r.collection_id, r.rate.bps())).collect();
    assert_eq!(rates, [(None, 1900), (Some(books), 700)]);
    let untaxed = price(&lines, usd(0), country("US"), &taxes).unwrap();
    assert_eq!((untaxed.tax_total, untaxed.total), (usd(0), usd(3100)), "no rate for the country: no tax");
}

#[test]
fn shipping_is_free_above_its_threshold_and_only_where_served() {
    let method = ShippingMethod {
        id: ShippingMethodId::from_uuid(Uuid::from_u128(1)),
        name: ShippingMethodName::parse("DHL Paket").unwrap(),
        countries: BTreeSet::from([country("DE"), country("AT")]),
        price: money(499, Currency::EUR),
        free_above: Some(money(5000, Currency::EUR)),
        active: true,
    };
    assert_eq!(method.price_for(money(4999, Currency::EUR)), Some(money(499, Currency::EUR)));
    assert_eq!(method.price_for(money(5000, Currency::EUR)), Some(money(0, Currency::EUR)));
    assert_eq!(method.price_for(money(5000, Currency::USD)), None, "another currency");
    assert!(method.serves(country("AT")) && !method.serves(country("FR")));
    assert!(!ShippingMethod { active: false, ..method }.serves(country("DE")));
}

#[test]
fn a_shipping_method_input_names_every_bad_field() {
    let input = ShippingMethodInput {
        name: " ".into(),
        countries: vec!["DE".into(), "de".into()],
        price: crate::catalog::MoneyInput { amount: -1, currency: "EUR".into() },
        free_above: Some(crate::catalog::MoneyInput { amount: 5000, currency: "USD".into() }),
        active: None,
    };
    let errors = input.validate(ShippingMethodId::from_uuid(Uuid::from_u128(1))).unwrap_err();
    let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "countries[1]", "price.amount"]);
    let ok = ShippingMethodInput {
        name: "Standard".into(),
        countries: vec!["DE".into()],
        price: crate::catalog::MoneyInput { amount: 499, currency: "EUR".into() },
        free_above: Some(crate::catalog::MoneyInput { amount: 5000, currency: "USD".into() }),
        active: None,
    };
    let errors = ok.validate(ShippingMethodId::from_uuid(Uuid::from_u128(1))).unwrap_err();
    assert_eq!(errors.errors()[0].field, "free_above.currency");
}

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![Just(Currency::JPY), Just(Currency::USD), Just(Currency::EUR), Just(Currency::KWD)]
}

proptest! {
    /// Totals add up exactly, and every tax is the exact tax rounded half up, for random
    /// carts, rates, collections and currencies with 0, 2 and 3 decimals.
    #[test]
    fn totals_add_up_exactly(
        currency in currency(),
        nets in prop::collection::vec((0_i64..=1_000_000_000, prop::option::of(0_u128..3)), 1..20),
        shipping in 0_i64..=100_000,
        general in prop::option::of(0_u32..=10_000),
        per_collection in prop::collection::vec(0_u32..=10_000, 3),
    ) {
        let mut rules: Vec<TaxRule> =
            per_collection.iter().enumerate().map(|(i, bps)| rule(i as u128 + 10, "DE", Some(collection(i as u128)), *bps)).collect();
        rules.truncate(2); // collection 2 falls back to the general rate
        if let Some(bps) = general {
            rules.push(rule(1, "DE", None, bps));
        }
        let taxes = TaxTable::new(rules);
        let lines: Vec<LineToPrice> = nets
            .iter()
            .enumerate()
            .map(|(i, (net, c))| line(i as u128, c.map(collection), money(*net, currency)))
            .collect();
        let priced = price(&lines, money(shipping, currency), country("DE"), &taxes).unwrap();

        let sum = |items: &[Money]| items.iter().map(Money::amount).sum::<i64>();
        prop_assert_eq!(priced.subtotal.amount(), nets.iter().map(|(n, _)| n).sum::<i64>());
        prop_assert_eq!(priced.tax_total.amount(), sum(&priced.line_taxes) + priced.shipping_tax.amount());
        prop_assert_eq!(priced.total.amount(), priced.subtotal.amount() + shipping + priced.tax_total.amount());
        prop_assert!([priced.subtotal, priced.tax_total, priced.total].iter().all(|m| m.currency() == currency));
        for (l, tax) in lines.iter().zip(&priced.line_taxes) {
            let (_, rate) = taxes.rate_for(country("DE"), l.collection_id);
            let exact = i128::from(l.net.amount()) * i128::from(rate.bps());
            let charged = i128::from(tax.amount()) * 10_000;
            prop_assert!(charged - exact <= 5_000 && exact - charged < 5_000, "{} at {} bps: {}", l.net, rate.bps(), tax);
            prop_assert!(priced.rates.iter().any(|r| r.rate == rate), "the rate is recorded");
        }
    }
}
