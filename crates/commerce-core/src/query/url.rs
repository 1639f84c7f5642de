//! [`ProductQueryInput`]: the listing query as it arrives in a URL, for web adapters.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Cursor, ProductQuery, ProductQueryParams, SortOrder};
use crate::validation::{InvalidValue, ValidationErrors};

/// An unvalidated listing query as it arrives in a URL (`?q=&min_price=&attr.colour=red`).
/// Blank parameters count as absent.
///
/// ```
/// use commerce_core::query::ProductQueryInput;
///
/// let input = ProductQueryInput::from_pairs([("q", "tee"), ("attr.colour", "red"), ("sort", "price_asc")]);
/// let query = input.validate().unwrap();
/// assert_eq!(query.attributes.len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ProductQueryInput {
    /// `q`.
    pub q: Option<String>,
    /// `collection` (id).
    pub collection: Option<String>,
    /// `min_price` (minor units).
    pub min_price: Option<String>,
    /// `max_price` (minor units).
    pub max_price: Option<String>,
    /// `in_stock` (`true`/`false`).
    pub in_stock: Option<String>,
    /// `attr.<name>` parameters, without the prefix.
    #[serde(skip)]
    pub attributes: BTreeMap<String, String>,
    /// `sort`.
    pub sort: Option<String>,
    /// `limit`.
    pub limit: Option<String>,
    /// `cursor`.
    pub cursor: Option<String>,
}

impl ProductQueryInput {
    /// Collects URL query parameters; `attr.<name>=<value>` filters on attributes and
    /// unknown parameters are ignored. A repeated parameter keeps its last value.
    pub fn from_pairs<K: AsRef<str>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut input = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_ref() {
                "q" => &mut input.q,
                "collection" => &mut input.collection,
                "min_price" => &mut input.min_price,
                "max_price" => &mut input.max_price,
                "in_stock" => &mut input.in_stock,
                "sort" => &mut input.sort,
                "limit" => &mut input.limit,
                "cursor" => &mut input.cursor,
                other => {
                    if let Some(name) = other.strip_prefix("attr.") {
                        input.attributes.insert(name.to_owned(), value.into());
                    }
                    continue;
                }
            };
            *slot = Some(value.into());
        }
        input
    }

    /// Parses every parameter into [`ProductQueryParams`] and validates them, reporting
    /// all problems at once.
    pub fn validate(&self) -> Result<ProductQuery, ValidationErrors> {
        let (params, parse_errors) = self.params();
        params.validate_with(parse_errors)
    }

    /// The typed params, and the parameters that did not parse (each named).
    pub fn params(&self) -> (ProductQueryParams, ValidationErrors) {
        let mut e = ValidationErrors::new();
        let blank = |s: &Option<String>| s.as_deref().filter(|v| !v.trim().is_empty()).map(str::to_owned);
        let collection =
            blank(&self.collection).and_then(|v| e.check("collection", ProductQueryParams::parse_collection(&v)));
        let mut price = |field: &str, raw: &Option<String>| {
            blank(raw).and_then(|v| {
                e.check(
                    field,
                    v.parse::<i64>()
                        .map_err(|_| InvalidValue::Other(format!("{v:?} is not a whole number of minor units"))),
                )
            })
        };
        let min_price = price("min_price", &self.min_price);
        let max_price = price("max_price", &self.max_price);
        let in_stock_only = match blank(&self.in_stock).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                e.add("in_stock", format!("must be true or false (got {other:?})"));
                false
            }
        };
        let sort = blank(&self.sort).and_then(|v| e.check("sort", SortOrder::parse(&v))).unwrap_or_default();
        let limit = blank(&self.limit).and_then(|v| {
            e.check("limit", v.parse::<i64>().map_err(|_| InvalidValue::Other(format!("{v:?} is not a whole number"))))
        });
        let after = blank(&self.cursor).and_then(|v| e.check("cursor", Cursor::decode(&v)));
        let params = ProductQueryParams {
            q: self.q.clone(),
            collection,
            min_price,
            max_price,
            in_stock_only,
            attributes: self.attributes.iter().map(|(n, v)| (n.clone(), v.clone())).collect(),
            sort,
            limit,
            after,
        };
        (params, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::{ids::ProductId, query::SortKey};

    fn input(pairs: &[(&str, &str)]) -> ProductQueryInput {
        ProductQueryInput::from_pairs(pairs.iter().copied())
    }

    fn fields(e: &ValidationErrors) -> Vec<&str> {
        e.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn validation_errors_are_precise() {
        let e = input(&[("min_price", "500"), ("max_price", "100")]).validate().unwrap_err();
        assert_eq!(fields(&e), ["min_price"]);
        assert!(e.errors()[0].message.contains("500 > 100"));
        let e = input(&[("sort", "cheapest"), ("limit", "0"), ("cursor", "!!"), ("in_stock", "yes")])
            .validate()
            .unwrap_err();
        assert_eq!(fields(&e), ["in_stock", "sort", "limit", "cursor"]);
        assert!(e.errors()[1].message.contains("price_asc"));
        let e = input(&[("limit", "101"), ("attr.Colour", "red")]).validate().unwrap_err();
        assert_eq!(fields(&e), ["attr.Colour", "limit"]);
    }

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_sort() {
        let c =
            Cursor { sort: SortOrder::PriceAsc, key: SortKey::Price(5), id: ProductId::from_uuid(uuid::Uuid::nil()) };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        let e = input(&[("cursor", &c.encode()), ("sort", "name")]).validate().unwrap_err();
        assert_eq!(fields(&e), ["cursor"]);
        let ok = input(&[("cursor", &c.encode()), ("sort", "price_asc")]).validate().unwrap();
        assert_eq!(ok.after, Some(c));
    }
}
