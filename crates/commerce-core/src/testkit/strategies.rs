//! proptest strategies for the domain types.
//!
//! Value domains are deliberately small (few prices, few names, few creation
//! times) so generated catalogs are full of ties: the cases keyset paging gets wrong.

use std::collections::BTreeMap;

use proptest::{collection::vec, option, prelude::*, sample::select};
use uuid::Uuid;

use crate::{
    catalog::{
        AttributeName, AttributeValue, Attributes, Description, MoneyInput, Product, ProductInput, ProductName,
        ProductStatus, Sku, Version,
    },
    ids::{CollectionId, ProductId},
    inventory::Quantity,
    money::{Currency, Money},
    query::{PageSize, ProductQuery, ProductView, SearchTerm, SortOrder},
    timestamp::Timestamp,
};

const WORDS: &[&str] =
    &["red", "blue", "tee", "shirt", "wool", "Sock", "hat", "Zebra", "apple", "émile", "linen", "Tee"];
const COLOURS: &[&str] = &["red", "blue", "green"];
const SIZES: &[&str] = &["S", "M", "L", "XL"];

/// Any supported currency.
pub fn currency() -> impl Strategy<Value = Currency> {
    select(Currency::all().collect::<Vec<_>>())
}

/// Any valid amount in `currency`.
pub fn money(currency: Currency) -> impl Strategy<Value = Money> {
    (0..=i64::MAX).prop_filter_map("non-negative", move |a| Money::new(a, currency).ok())
}

/// A valid SKU.
pub fn sku() -> impl Strategy<Value = Sku> {
    "[A-Za-z0-9][A-Za-z0-9._-]{0,20}".prop_filter_map("valid sku", |s| Sku::parse(&s).ok())
}

/// A product name of one to three words from a small vocabulary (many duplicates and case variants).
pub fn product_name() -> impl Strategy<Value = ProductName> {
    vec(select(WORDS), 1..=3).prop_filter_map("valid name", |w| ProductName::parse(&w.join(" ")).ok())
}

/// Zero to two attributes from `colour` and `size`.
pub fn attributes() -> impl Strategy<Value = Attributes> {
    (option::of(select(COLOURS)), option::of(select(SIZES))).prop_map(|(c, s)| {
        let mut pairs = vec![];
        for (name, value) in [("colour", c), ("size", s)] {
            if let (Ok(n), Some(Ok(v))) = (AttributeName::parse(name), value.map(AttributeValue::parse)) {
                pairs.push((n, v));
            }
        }
        Attributes::from_pairs(pairs)
    })
}

/// Ids of a few collections.
pub fn collection_ids(n: usize) -> Vec<CollectionId> {
    (1..=n as u128).map(|i| CollectionId::from_uuid(Uuid::from_u128(0xC011 << 64 | i))).collect()
}

/// The view of product number `i` (ids and SKUs unique by construction).
#[allow(clippy::too_many_arguments)]
fn view(
    i: usize,
    name: ProductName,
    price: i64,
    collection: Option<CollectionId>,
    attributes: Attributes,
    status: ProductStatus,
    stock: u64,
    created: i64,
) -> Option<ProductView> {
    let id = ProductId::from_uuid(Uuid::from_u128(0x9000 << 64 | (i as u128 + 1)));
    let created_at = Timestamp::from_unix_micros(1_767_225_600_000_000 + created * 1_000_000);
    Some(ProductView {
        id,
        sku: Sku::parse(&format!("SKU-{i:05}")).ok()?,
        name,
        description: Description::parse(&format!("Item number {i}")).ok()?,
        price: Money::new(price, Currency::USD).ok()?,
        collection_id: collection,
        attributes,
        status,
        available_stock: stock,
        product_version: 1,
        stock_version: 1,
        created_at,
        updated_at: created_at,
    })
}

/// A catalog of up to `max` product views over [`collection_ids`]`(3)`, full of ties
/// on price, name, stock and creation time; about one in eight is not active.
pub fn catalog(max: usize) -> impl Strategy<Value = Vec<ProductView>> {
    let collections = collection_ids(3);
    let status = prop_oneof![
        14 => Just(ProductStatus::Active),
        1 => Just(ProductStatus::Draft),
        1 => Just(ProductStatus::Archived),
    ];
    let one = (
        product_name(),
        prop_oneof![Just(0_i64), 100..=110_i64, Just(999)],
        option::of(select(collections)),
        attributes(),
        status,
        prop_oneof![Just(0_u64), 0..=5_u64],
        0..=4_i64,
    );
    vec(one, 0..=max).prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .filter_map(|(i, (name, price, coll, attrs, status, stock, created))| {
                view(i, name, price, coll, attrs, status, stock, created)
            })
            .collect()
    })
}

/// A listing query without a cursor: any combination of filters, any sort, small pages.
pub fn product_query() -> impl Strategy<Value = ProductQuery> {
    let text =
        option::weighted(0.3, select(WORDS).prop_filter_map("term", |w| SearchTerm::parse(&w[..2.min(w.len())]).ok()));
    let attrs = option::weighted(0.3, (select(&["colour", "size"][..]), select(&["red", "blue", "M", "XL"][..])))
        .prop_map(|a| {
            let mut m = BTreeMap::new();
            if let Some((n, v)) = a
                && let (Ok(n), Ok(v)) = (AttributeName::parse(n), AttributeValue::parse(v))
            {
                m.insert(n, v);
            }
            m
        });
    (
        text,
        option::weighted(0.3, select(collection_ids(3))),
        option::weighted(0.3, prop_oneof![Just(0_i64), 100..=111_i64]),
        option::weighted(0.3, prop_oneof![Just(105_i64), 100..=1000_i64]),
        proptest::bool::weighted(0.3),
        attrs,
        select(SortOrder::ALL.to_vec()),
        1..=7_i64,
    )
        .prop_map(|(text, collection, min_price, max_price, in_stock_only, attributes, sort, limit)| {
            ProductQuery {
                text,
                collection,
                min_price,
                max_price,
                in_stock_only,
                attributes,
                sort,
                limit: PageSize::new(limit).unwrap_or_default(),
                after: None,
            }
        })
}

/// Valid product input (as a client would send it).
pub fn product_input() -> impl Strategy<Value = ProductInput> {
    (sku(), product_name(), 0..=1_000_000_i64, currency(), prop_oneof![Just("draft"), Just("active")]).prop_map(
        |(sku, name, amount, currency, status)| ProductInput {
            sku: sku.to_string(),
            name: name.to_string(),
            description: String::new(),
            price: MoneyInput { amount, currency: currency.code().to_owned() },
            collection_id: None,
            attributes: BTreeMap::new(),
            status: Some(status.to_owned()),
        },
    )
}

/// An active product with the given id and SKU number.
pub fn product(id: ProductId, n: u32, price: Money, at: Timestamp) -> Product {
    Product {
        id,
        sku: Sku::parse(&format!("P-{n}")).unwrap_or_else(|_| unreachable!("valid sku")),
        name: ProductName::parse(&format!("Product {n}")).unwrap_or_else(|_| unreachable!("valid name")),
        description: Description::empty(),
        price,
        collection_id: None,
        attributes: Attributes::default(),
        status: ProductStatus::Active,
        version: Version::INITIAL,
        created_at: at,
        updated_at: at,
    }
}

/// A cart: one to three distinct product indexes below `products`, each with a quantity of 1 to 3.
pub fn cart(products: usize) -> impl Strategy<Value = Vec<(usize, Quantity)>> {
    proptest::sample::subsequence((0..products).collect::<Vec<_>>(), 1..=products.min(3))
        .prop_flat_map(|idx| {
            let n = idx.len();
            (Just(idx), vec(1..=3_u32, n))
        })
        .prop_map(|(idx, qs)| {
            idx.into_iter().zip(qs).filter_map(|(i, q)| Quantity::new(q).ok().map(|q| (i, q))).collect()
        })
}
