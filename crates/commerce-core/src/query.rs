//! Storefront listing queries and the reference evaluator.
//!
//! A [`ProductQuery`] filters (full-text term, collection, price range,
//! in-stock only, attributes), sorts and pages the active products of the read
//! model. Paging is keyset-based: the [`Cursor`] holds the sort key and id of
//! the last item shown, and ties on the sort key are broken by product id, so
//! walking every page returns each matching product exactly once.
//!
//! [`evaluate`] answers a query over a slice of [`ProductView`]s by brute
//! force. It is the oracle every read-model adapter is tested against.

use std::{cmp::Ordering, collections::BTreeMap};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{
    catalog::{AttributeName, AttributeValue, Attributes, Description, Product, ProductName, ProductStatus, Sku},
    ids::{CollectionId, ProductId},
    money::Money,
    timestamp::Timestamp,
    validation::{InvalidValue, ValidationErrors},
};

/// A product as the storefront reads it: catalog fields plus available stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    /// Product id.
    pub id: ProductId,
    /// SKU.
    pub sku: Sku,
    /// Name.
    pub name: ProductName,
    /// Description.
    pub description: Description,
    /// Unit price.
    pub price: Money,
    /// Collection.
    pub collection_id: Option<CollectionId>,
    /// Attributes.
    pub attributes: Attributes,
    /// Status; only `Active` views are listed.
    pub status: ProductStatus,
    /// Units a customer can buy now.
    pub available_stock: u64,
    /// Version of the product this view reflects.
    pub product_version: u64,
    /// Version of the stock record this view reflects.
    pub stock_version: u64,
    /// When the product was created.
    pub created_at: Timestamp,
    /// When the product last changed.
    pub updated_at: Timestamp,
}

impl ProductView {
    /// The view of `product` with the given stock.
    pub fn from_product(product: &Product, available_stock: u64, stock_version: u64) -> Self {
        Self {
            id: product.id,
            sku: product.sku.clone(),
            name: product.name.clone(),
            description: product.description.clone(),
            price: product.price,
            collection_id: product.collection_id,
            attributes: product.attributes.clone(),
            status: product.status,
            available_stock,
            product_version: product.version.get(),
            stock_version,
            created_at: product.created_at,
            updated_at: product.updated_at,
        }
    }

    /// The words full-text search matches against: name, SKU, description and attribute values.
    pub fn search_tokens(&self) -> Vec<String> {
        let mut text = format!("{} {} {}", self.name, self.sku, self.description);
        for (_, v) in self.attributes.iter() {
            text.push(' ');
            text.push_str(v.as_str());
        }
        let mut tokens = tokenize(&text);
        tokens.sort();
        tokens.dedup();
        tokens
    }
}

/// Splits text into lower-case alphanumeric words: the tokenizer of both documents and queries.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// A full-text search term: 1 to 10 words; each must prefix-match a word of the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    tokens: Vec<String>,
}

impl SearchTerm {
    /// Most words in one term.
    pub const MAX_WORDS: usize = 10;

    /// Validates a search term.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let actual = raw.chars().count();
        if actual > 200 {
            return Err(InvalidValue::TooLong { max: 200, actual });
        }
        let tokens = tokenize(raw);
        if tokens.is_empty() {
            return Err(InvalidValue::Other("must contain at least one letter or digit".into()));
        }
        if tokens.len() > Self::MAX_WORDS {
            return Err(InvalidValue::Other(format!("must have at most {} words", Self::MAX_WORDS)));
        }
        Ok(Self { tokens })
    }

    /// The lower-cased words.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// True when every word of the term starts some word of `document_tokens`.
    pub fn matches(&self, document_tokens: &[String]) -> bool {
        self.tokens.iter().all(|q| document_tokens.iter().any(|d| d.starts_with(q.as_str())))
    }
}

/// Listing order. Ties are broken by product id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By name, case-insensitive.
    Name,
    /// Most recently created first.
    #[default]
    Newest,
    /// Most available stock first.
    StockDesc,
}

impl SortOrder {
    /// Every sort order.
    pub const ALL: [Self; 5] = [Self::PriceAsc, Self::PriceDesc, Self::Name, Self::Newest, Self::StockDesc];

    /// Parses `price_asc`, `price_desc`, `name`, `newest` or `stock_desc`.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw).ok_or_else(|| {
            InvalidValue::Other(format!(
                "unknown sort {raw:?}: expected one of price_asc, price_desc, name, newest, stock_desc"
            ))
        })
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PriceAsc => "price_asc",
            Self::PriceDesc => "price_desc",
            Self::Name => "name",
            Self::Newest => "newest",
            Self::StockDesc => "stock_desc",
        }
    }

    /// True when larger keys come first.
    pub fn descending(self) -> bool {
        matches!(self, Self::PriceDesc | Self::Newest | Self::StockDesc)
    }

    /// The key of `view` under this order.
    pub fn key_of(self, view: &ProductView) -> SortKey {
        match self {
            Self::PriceAsc | Self::PriceDesc => SortKey::Price(view.price.amount()),
            Self::Name => SortKey::Name(view.name.sort_key()),
            Self::Newest => SortKey::Created(view.created_at.unix_micros()),
            Self::StockDesc => SortKey::Stock(view.available_stock),
        }
    }

    /// Compares two (key, id) positions in listing order.
    pub fn compare(self, a: (&SortKey, ProductId), b: (&SortKey, ProductId)) -> Ordering {
        let natural = a.0.cmp(b.0).then(a.1.cmp(&b.1));
        if self.descending() { natural.reverse() } else { natural }
    }
}

/// The value a product is sorted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Price in minor units.
    Price(i64),
    /// Lower-cased name.
    Name(String),
    /// Creation time in microseconds.
    Created(i64),
    /// Available units.
    Stock(u64),
}

/// Where the previous page ended. Opaque to clients (URL-safe base64 of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort it was issued for.
    #[serde(rename = "s")]
    pub sort: SortOrder,
    /// Sort key of the last item shown.
    #[serde(rename = "k")]
    pub key: SortKey,
    /// Id of the last item shown.
    #[serde(rename = "i")]
    pub id: ProductId,
}

impl Cursor {
    /// The cursor positioned after `view`.
    pub fn after(sort: SortOrder, view: &ProductView) -> Self {
        Self { sort, key: sort.key_of(view), id: view.id }
    }

    /// Encodes the cursor for a client.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor a client sent back.
    pub fn decode(raw: &str) -> Result<Self, InvalidValue> {
        let malformed = || InvalidValue::Other("cursor is malformed; use a next_cursor value as returned".into());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).map_err(|_| malformed())?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        let key_fits = matches!(
            (cursor.sort, &cursor.key),
            (SortOrder::PriceAsc | SortOrder::PriceDesc, SortKey::Price(_))
                | (SortOrder::Name, SortKey::Name(_))
                | (SortOrder::Newest, SortKey::Created(_))
                | (SortOrder::StockDesc, SortKey::Stock(_))
        );
        if key_fits { Ok(cursor) } else { Err(malformed()) }
    }

    /// The position to continue after.
    pub fn position(&self) -> (&SortKey, ProductId) {
        (&self.key, self.id)
    }
}

/// Items per page: 1 to 100, 20 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u8);

impl PageSize {
    /// Largest page.
    pub const MAX: u8 = 100;

    /// Validates a page size.
    pub fn new(n: i64) -> Result<Self, InvalidValue> {
        u8::try_from(n).ok().filter(|n| (1..=Self::MAX).contains(n)).map(Self).ok_or(InvalidValue::OutOfRange {
            min: 1,
            max: i64::from(Self::MAX),
            actual: n,
        })
    }

    /// The size.
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(20)
    }
}

/// A validated listing query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductQuery {
    /// Full-text term.
    pub text: Option<SearchTerm>,
    /// Only this collection.
    pub collection: Option<CollectionId>,
    /// Lowest price in minor units, inclusive.
    pub min_price: Option<i64>,
    /// Highest price in minor units, inclusive.
    pub max_price: Option<i64>,
    /// Only products with available stock.
    pub in_stock_only: bool,
    /// Attribute equality filters, all of which must hold.
    pub attributes: BTreeMap<AttributeName, AttributeValue>,
    /// Order.
    pub sort: SortOrder,
    /// Page size.
    pub limit: PageSize,
    /// Continue after this position.
    pub after: Option<Cursor>,
}

/// An unvalidated listing query as it arrives in a URL (`?q=&min_price=&attr.colour=red`).
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

fn parse_price(raw: &str) -> Result<i64, InvalidValue> {
    let n: i64 =
        raw.parse().map_err(|_| InvalidValue::Other(format!("{raw:?} is not a whole number of minor units")))?;
    if n < 0 {
        return Err(InvalidValue::OutOfRange { min: 0, max: i64::MAX, actual: n });
    }
    Ok(n)
}

impl ProductQueryInput {
    /// Validates every parameter, reporting all problems at once.
    pub fn validate(&self) -> Result<ProductQuery, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let blank = |s: &Option<String>| s.as_deref().filter(|v| !v.trim().is_empty()).map(str::to_owned);
        let text = blank(&self.q).and_then(|v| e.check("q", SearchTerm::parse(&v)));
        let collection = blank(&self.collection).and_then(|v| {
            e.check(
                "collection",
                v.parse::<CollectionId>().map_err(|_| InvalidValue::Other(format!("{v:?} is not a collection id"))),
            )
        });
        let min_price = blank(&self.min_price).and_then(|v| e.check("min_price", parse_price(&v)));
        let max_price = blank(&self.max_price).and_then(|v| e.check("max_price", parse_price(&v)));
        if let (Some(min), Some(max)) = (min_price, max_price)
            && min > max
        {
            e.add("min_price", format!("must not exceed max_price ({min} > {max})"));
        }
        let in_stock_only = match blank(&self.in_stock).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                e.add("in_stock", format!("must be true or false (got {other:?})"));
                false
            }
        };
        let mut attributes = BTreeMap::new();
        for (name, value) in &self.attributes {
            let field = format!("attr.{name}");
            let n = e.check(&field, AttributeName::parse(name));
            let v = e.check(&field, AttributeValue::parse(value));
            if let (Some(n), Some(v)) = (n, v) {
                attributes.insert(n, v);
            }
        }
        let sort = blank(&self.sort).and_then(|v| e.check("sort", SortOrder::parse(&v))).unwrap_or_default();
        let limit = match blank(&self.limit) {
            None => PageSize::default(),
            Some(v) => {
                let n = v.parse::<i64>().map_err(|_| InvalidValue::Other(format!("{v:?} is not a whole number")));
                e.check("limit", n.and_then(PageSize::new)).unwrap_or_default()
            }
        };
        let after = blank(&self.cursor).and_then(|v| e.check("cursor", Cursor::decode(&v)));
        if let Some(c) = &after
            && c.sort != sort
        {
            e.add(
                "cursor",
                format!("cursor was issued for sort {} but the query sorts by {}", c.sort.as_str(), sort.as_str()),
            );
        }
        let query =
            ProductQuery { text, collection, min_price, max_price, in_stock_only, attributes, sort, limit, after };
        e.finish(|| query)
    }
}

impl ProductQuery {
    /// True when `view` passes every filter (cursor and paging aside).
    pub fn matches(&self, view: &ProductView) -> bool {
        self.matches_filters(view) && self.text.as_ref().is_none_or(|t| t.matches(&view.search_tokens()))
    }

    /// [`ProductQuery::matches`] for a view whose [`ProductView::search_tokens`] are precomputed.
    pub fn matches_with_tokens(&self, view: &ProductView, tokens: &[String]) -> bool {
        self.matches_filters(view) && self.text.as_ref().is_none_or(|t| t.matches(tokens))
    }

    fn matches_filters(&self, view: &ProductView) -> bool {
        view.status == ProductStatus::Active
            && self.collection.is_none_or(|c| view.collection_id == Some(c))
            && self.min_price.is_none_or(|min| view.price.amount() >= min)
            && self.max_price.is_none_or(|max| view.price.amount() <= max)
            && (!self.in_stock_only || view.available_stock > 0)
            && self.attributes.iter().all(|(n, v)| view.attributes.get(n) == Some(v))
    }

    /// True when `view` comes after the cursor (always true without one).
    pub fn is_after_cursor(&self, view: &ProductView) -> bool {
        self.after
            .as_ref()
            .is_none_or(|c| self.sort.compare((&self.sort.key_of(view), view.id), c.position()) == Ordering::Greater)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    /// Items in listing order.
    pub items: Vec<ProductView>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

impl ProductPage {
    /// Builds a page from up to `limit + 1` candidates already in listing order:
    /// the extra one only tells whether a next page exists.
    pub fn from_candidates(query: &ProductQuery, mut candidates: Vec<ProductView>) -> Self {
        let limit = query.limit.get();
        let has_more = candidates.len() > limit;
        candidates.truncate(limit);
        let next_cursor = if has_more { candidates.last().map(|v| Cursor::after(query.sort, v)) } else { None };
        Self { items: candidates, next_cursor }
    }
}

/// The reference evaluator: answers `query` over `views` by brute force.
pub fn evaluate(query: &ProductQuery, views: &[ProductView]) -> ProductPage {
    let mut hits: Vec<(SortKey, &ProductView)> = views
        .iter()
        .filter(|v| query.matches(v) && query.is_after_cursor(v))
        .map(|v| (query.sort.key_of(v), v))
        .collect();
    hits.sort_by(|a, b| query.sort.compare((&a.0, a.1.id), (&b.0, b.1.id)));
    let candidates = hits.into_iter().take(query.limit.get() + 1).map(|(_, v)| v.clone()).collect();
    ProductPage::from_candidates(query, candidates)
}

/// Counts of matching products per collection and per attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Facets {
    /// Matching products per collection.
    pub collections: BTreeMap<CollectionId, u64>,
    /// Matching products per attribute name and value.
    pub attributes: BTreeMap<AttributeName, BTreeMap<AttributeValue, u64>>,
}

/// The reference facet counter: counts over every product matching `query`'s filters.
pub fn facets(query: &ProductQuery, views: &[ProductView]) -> Facets {
    let mut f = Facets::default();
    for v in views.iter().filter(|v| query.matches(v)) {
        if let Some(c) = v.collection_id {
            *f.collections.entry(c).or_default() += 1;
        }
        for (n, val) in v.attributes.iter() {
            *f.attributes.entry(n.clone()).or_default().entry(val.clone()).or_default() += 1;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(pairs: &[(&str, &str)]) -> ProductQueryInput {
        let mut i = ProductQueryInput::default();
        for (k, v) in pairs {
            let v = Some((*v).to_owned());
            match *k {
                "q" => i.q = v,
                "min_price" => i.min_price = v,
                "max_price" => i.max_price = v,
                "sort" => i.sort = v,
                "limit" => i.limit = v,
                "cursor" => i.cursor = v,
                "in_stock" => i.in_stock = v,
                other => {
                    i.attributes.insert(other.trim_start_matches("attr.").to_owned(), v.clone().unwrap_or_default());
                }
            }
        }
        i
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

    #[test]
    fn search_is_prefix_per_word() {
        let term = SearchTerm::parse("Red TEE").unwrap();
        assert!(term.matches(&tokenize("a reddish t-shirt teeny")));
        assert!(!term.matches(&tokenize("a red shirt")));
        assert!(SearchTerm::parse("  --- ").is_err());
    }
}
