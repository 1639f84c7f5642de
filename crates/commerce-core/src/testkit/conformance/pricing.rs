//! Conformance suites for [`ShippingMethodStore`] and [`TaxRateStore`].

use std::future::Future;

use crate::{
    catalog::MoneyInput,
    ids::{CollectionId, ShippingMethodId, TaxRateId},
    ports::{ShippingMethodStore, StoreError, TaxRateStore},
    pricing::{ShippingMethod, ShippingMethodInput, TaxRate, TaxRule},
};

use super::Fixture;

fn method(f: &Fixture, name: &str, countries: &[&str]) -> ShippingMethod {
    let input = ShippingMethodInput {
        name: name.into(),
        countries: countries.iter().map(|c| (*c).to_owned()).collect(),
        price: MoneyInput { amount: 499, currency: "EUR".into() },
        free_above: Some(MoneyInput { amount: 5000, currency: "EUR".into() }),
        active: None,
    };
    input.validate(ShippingMethodId::from_uuid(f.id())).unwrap_or_else(|e| panic!("fixture method: {e}"))
}

fn rate(f: &Fixture, country: &str, collection_id: Option<CollectionId>, bps: u32) -> TaxRule {
    TaxRule {
        id: TaxRateId::from_uuid(f.id()),
        country: crate::address::CountryCode::parse(country).unwrap_or_else(|_| unreachable!()),
        collection_id,
        rate: TaxRate::from_bps(bps).unwrap_or_else(|_| unreachable!()),
    }
}

/// Runs every shipping-method case against fresh stores from `make`.
pub async fn shipping_methods<S, F, Fut>(mut make: F)
where
    S: ShippingMethodStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let s = make().await;
    let f = Fixture::new();
    let standard = method(&f, "Standard", &["DE", "AT"]);
    let express = method(&f, "Express", &["DE"]);
    s.insert_shipping_method(&standard).await.unwrap_or_else(|e| panic!("insert method: {e}"));
    s.insert_shipping_method(&express).await.unwrap_or_else(|e| panic!("insert method: {e}"));
    assert!(
        matches!(s.insert_shipping_method(&standard).await, Err(StoreError::Duplicate(_))),
        "shipping methods: an id is inserted once"
    );
    assert_eq!(s.shipping_methods().await, Ok(vec![express.clone(), standard.clone()]), "shipping methods: by name");
    assert_eq!(s.shipping_method(standard.id).await, Ok(Some(standard.clone())), "shipping methods: by id");

    let retired = ShippingMethod { active: false, ..standard.clone() };
    s.update_shipping_method(&retired).await.unwrap_or_else(|e| panic!("update method: {e}"));
    assert_eq!(s.shipping_method(standard.id).await, Ok(Some(retired)), "shipping methods: updated");
    let ghost = method(&f, "Ghost", &["FR"]);
    assert_eq!(
        s.update_shipping_method(&ghost).await,
        Err(StoreError::NotFound),
        "shipping methods: update a missing one"
    );

    s.delete_shipping_method(express.id).await.unwrap_or_else(|e| panic!("delete method: {e}"));
    assert_eq!(s.shipping_method(express.id).await, Ok(None), "shipping methods: deleted");
    assert_eq!(s.delete_shipping_method(express.id).await, Err(StoreError::NotFound), "shipping methods: deleted once");
    assert_eq!(s.shipping_methods().await.map(|m| m.len()), Ok(1));
}

/// Runs every tax-rate case against fresh stores from `make`.
pub async fn tax_rates<S, F, Fut>(mut make: F)
where
    S: TaxRateStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let s = make().await;
    let f = Fixture::new();
    let books = CollectionId::from_uuid(f.id());
    let de_books = rate(&f, "DE", Some(books), 700);
    let de = rate(&f, "DE", None, 1900);
    let at = rate(&f, "AT", None, 2000);
    for r in [&de_books, &de, &at] {
        s.insert_tax_rate(r).await.unwrap_or_else(|e| panic!("insert rate: {e}"));
    }
    assert!(
        matches!(s.insert_tax_rate(&rate(&f, "DE", None, 1600)).await, Err(StoreError::Duplicate(_))),
        "tax rates: one general rate per country"
    );
    assert!(
        matches!(s.insert_tax_rate(&rate(&f, "DE", Some(books), 0)).await, Err(StoreError::Duplicate(_))),
        "tax rates: one rate per country and collection"
    );
    assert_eq!(s.tax_rates().await, Ok(vec![at, de, de_books]), "tax rates: by country, the general rate first");
    assert_eq!(s.tax_rate(de_books.id).await, Ok(Some(de_books)), "tax rates: by id");
    s.delete_tax_rate(de.id).await.unwrap_or_else(|e| panic!("delete rate: {e}"));
    assert_eq!(s.tax_rate(de.id).await, Ok(None), "tax rates: deleted");
    assert_eq!(s.delete_tax_rate(de.id).await, Err(StoreError::NotFound), "tax rates: deleted once");
    s.insert_tax_rate(&rate(&f, "DE", None, 1600)).await.unwrap_or_else(|e| panic!("a freed slot: {e}"));
}
