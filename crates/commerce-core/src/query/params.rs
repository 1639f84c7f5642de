//! [`ProductQueryParams`]: a listing request in typed values, and the rules that
//! turn it into a [`ProductQuery`]. Every inbound adapter (REST, GraphQL, a web
//! page, a queue) parses its own format into these params and gets the same checks.

use super::{Cursor, PageSize, ProductQuery, SearchTerm, SortOrder};
use crate::{
    catalog::{AttributeName, AttributeValue, Attributes},
    ids::CollectionId,
    validation::{InvalidValue, ValidationErrors},
};

/// A listing request before the core's rules checked it.
///
/// Errors name the parameter as the REST API spells it (`q`, `collection`, `min_price`,
/// `max_price`, `in_stock`, `attr.<name>` (`attr` for their number, at most
/// [`Attributes::MAX`]), `sort`, `limit`, `cursor`); adapters with other
/// names (GraphQL's `filter.minPrice`, `first`, `after`) rename them.
///
/// ```
/// use commerce_core::query::{ProductQueryParams, SortOrder};
///
/// let query = ProductQueryParams {
///     q: Some("red tee".into()),
///     max_price: Some(2_500),
///     in_stock_only: true,
///     attributes: vec![("size".into(), "M".into())],
///     sort: SortOrder::PriceAsc,
///     limit: Some(10),
///     ..ProductQueryParams::default()
/// }
/// .validate()
/// .unwrap();
/// assert_eq!(query.limit.get(), 10);
///
/// let errors = ProductQueryParams { min_price: Some(500), max_price: Some(100), ..Default::default() }
///     .validate()
///     .unwrap_err();
/// assert_eq!(errors.errors()[0].field, "min_price");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductQueryParams {
    /// Full-text search term (blank means none).
    pub q: Option<String>,
    /// Only this collection.
    pub collection: Option<CollectionId>,
    /// Lowest price in minor units, inclusive.
    pub min_price: Option<i64>,
    /// Highest price in minor units, inclusive.
    pub max_price: Option<i64>,
    /// Only products with available stock.
    pub in_stock_only: bool,
    /// Attribute equality filters (name, value), all of which must hold.
    pub attributes: Vec<(String, String)>,
    /// Order.
    pub sort: SortOrder,
    /// Page size (1 to 100; 20 when unset).
    pub limit: Option<i64>,
    /// Continue after this position; it must have been issued for the same sort.
    pub after: Option<Cursor>,
}

fn non_negative_price(n: i64) -> Result<i64, InvalidValue> {
    if n < 0 { Err(InvalidValue::OutOfRange { min: 0, max: i64::MAX, actual: n }) } else { Ok(n) }
}

/// Where a parameter's errors are listed, so every adapter reports them in one order.
fn rank(field: &str) -> usize {
    const ORDER: [&str; 9] =
        ["q", "collection", "min_price", "max_price", "in_stock", "attr", "sort", "limit", "cursor"];
    let param = field.split_once('.').map_or(field, |(p, _)| p);
    ORDER.iter().position(|p| *p == param).unwrap_or(ORDER.len())
}

impl ProductQueryParams {
    /// Parses the collection filter as adapters receive it (a URL parameter, a GraphQL `ID`).
    pub fn parse_collection(raw: &str) -> Result<CollectionId, InvalidValue> {
        raw.parse().map_err(|_| InvalidValue::Other(format!("{raw:?} is not a collection id")))
    }

    /// Checks every rule, reporting all problems at once.
    pub fn validate(&self) -> Result<ProductQuery, ValidationErrors> {
        self.validate_with(ValidationErrors::new())
    }

    /// [`ProductQueryParams::validate`], also reporting `parse_errors`: the parameters an
    /// adapter could not parse into typed values (left `None` here). All errors are
    /// listed in parameter order.
    pub fn validate_with(&self, parse_errors: ValidationErrors) -> Result<ProductQuery, ValidationErrors> {
        let mut e = parse_errors;
        let text = self.q.as_deref().filter(|v| !v.trim().is_empty()).and_then(|v| e.check("q", SearchTerm::parse(v)));
        let min_price = self.min_price.and_then(|n| e.check("min_price", non_negative_price(n)));
        let max_price = self.max_price.and_then(|n| e.check("max_price", non_negative_price(n)));
        if let (Some(min), Some(max)) = (min_price, max_price)
            && min > max
        {
            e.add("min_price", format!("must not exceed max_price ({min} > {max})"));
        }
        let mut attributes = std::collections::BTreeMap::new();
        if self.attributes.len() > Attributes::MAX {
            // One error, not one per filter: the list is the attacker's to make long.
            e.add("attr", format!("at most {} attribute filters (got {})", Attributes::MAX, self.attributes.len()));
        }
        for (name, value) in self.attributes.iter().take(Attributes::MAX) {
            let field = format!("attr.{name}");
            let n = e.check(&field, AttributeName::parse(name));
            let v = e.check(&field, AttributeValue::parse(value));
            if let (Some(n), Some(v)) = (n, v) {
                attributes.insert(n, v);
            }
        }
        let limit = self.limit.map_or_else(|| Some(PageSize::default()), |n| e.check("limit", PageSize::new(n)));
        if let Some(c) = &self.after
            && c.sort != self.sort
        {
            e.add(
                "cursor",
                format!("cursor was issued for sort {} but the query sorts by {}", c.sort.as_str(), self.sort.as_str()),
            );
        }
        if !e.is_empty() {
            e.sort_by_field(rank);
            return Err(e);
        }
        Ok(ProductQuery {
            text,
            collection: self.collection,
            min_price,
            max_price,
            in_stock_only: self.in_stock_only,
            attributes,
            sort: self.sort,
            limit: limit.unwrap_or_default(),
            after: self.after.clone(),
        })
    }
}
