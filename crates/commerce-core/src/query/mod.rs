//! Storefront listing queries and the reference evaluator.
//!
//! A [`ProductQuery`] filters (full-text term, collection, price range,
//! in-stock only, attributes), sorts and pages the active products of the read
//! model. Paging is keyset-based: the [`Cursor`] holds the sort key and id of
//! the last item shown, and ties on the sort key are broken by product id, so
//! walking every page returns each matching product exactly once.
//!
//! - [`ProductQueryParams`] is how any adapter asks: typed values, checked by the
//!   core's rules into a [`ProductQuery`];
//! - [`ProductQueryInput`] is the URL-shaped form (`?q=&min_price=&attr.colour=red`)
//!   that web adapters parse into those params;
//! - [`Cursor::encode`] / [`Cursor::decode`] are the opaque page tokens clients pass back;
//! - [`evaluate`] and [`facets`] answer a query over a slice of [`ProductView`]s by
//!   brute force: the oracle every read-model adapter is tested against.

mod availability;
mod cursor;
mod eval;
mod params;
mod url;

use std::{cmp::Ordering, collections::BTreeMap};

use serde::{Deserialize, Serialize};

pub use availability::Availability;
pub use cursor::Cursor;
pub use eval::{Facets, evaluate, facets};
pub use params::ProductQueryParams;
pub use url::ProductQueryInput;

use crate::{
    catalog::{AttributeName, AttributeValue, Attributes, Description, Product, ProductName, ProductStatus, Sku},
    ids::{CollectionId, ProductId},
    money::Money,
    timestamp::Timestamp,
    validation::{InvalidValue, TextRule},
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
    ///
    /// Each is cut to the longest word a query can hold ([`SearchTerm::RULE`], doubled
    /// because lower-casing can double a word: `İ` becomes `i̇`): a query word prefixes a
    /// word exactly when it prefixes that cut, and stores index words of bounded size
    /// (PostgreSQL refuses words over 2,047 bytes, and the cut is at most 1,600; a
    /// description may be one word of 10,000 characters).
    pub fn search_tokens(&self) -> Vec<String> {
        let mut text = format!("{} {} {}", self.name, self.sku, self.description);
        for (_, v) in self.attributes.iter() {
            text.push(' ');
            text.push_str(v.as_str());
        }
        let mut tokens: Vec<String> =
            tokenize(&text).into_iter().map(|t| t.chars().take(2 * SearchTerm::RULE.max_chars).collect()).collect();
        tokens.sort();
        tokens.dedup();
        tokens
    }
}

/// Splits text into lower-case alphanumeric words: the tokenizer of both documents and queries.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// One word of [`SearchTerm::RULE`]: letters and digits of the common scripts.
macro_rules! word {
    () => {
        r"[0-9A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u0391-\u03A1\u03A3-\u03A9\u03B1-\u03C9\u0400-\u0481\u048A-\u04FF\u05D0-\u05EA\u0621-\u064A\u3041-\u3096\u30A1-\u30FA\u4E00-\u9FFF\uAC00-\uD7A3]+"
    };
}

/// A full-text search term: 1 to 10 words; each must prefix-match a word of the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    tokens: Vec<String>,
}

impl SearchTerm {
    /// Most words in one term.
    pub const MAX_WORDS: usize = 10;

    /// The rule, as API documents state it: 1 to 10 words of letters and digits apart by
    /// spaces or ASCII punctuation. Stricter than the parser, which takes letters of every
    /// script: the pattern names the common ones (Latin, Greek, Cyrillic, Hebrew, Arabic,
    /// CJK, kana, Hangul) in `\uXXXX` ranges, which every regular-expression dialect reads.
    pub const RULE: TextRule = TextRule {
        pattern: concat!(r"^[ -/:-@\[-`{-~]*", word!(), r"([ -/:-@\[-`{-~]+", word!(), r"){0,9}[ -/:-@\[-`{-~]*$",),
        min_chars: 1,
        max_chars: 200,
    };

    /// Validates a search term.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let actual = raw.chars().count();
        if actual > Self::RULE.max_chars {
            return Err(InvalidValue::TooLong { max: Self::RULE.max_chars, actual });
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

impl SortKey {
    /// Whether a product could have this key: a client may tamper with a cursor, and a key
    /// no product can have (a name with a NUL, which PostgreSQL text cannot hold, or longer
    /// than any name) must be refused as input, never reach a store.
    pub(crate) fn is_storable(&self) -> bool {
        match self {
            // A name is at most 200 characters; lower-casing can lengthen it a little.
            Self::Name(key) => {
                key.chars().count() <= 4 * 200
                    && !key.chars().any(|c| c.is_control() || crate::validation::is_bidi_control(c))
            }
            Self::Price(_) | Self::Created(_) | Self::Stock(_) => true,
        }
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
impl ProductQuery {
    /// The filters alone, as text (equal for queries that match the same products,
    /// whatever their sort, page size and cursor): a cache key for facet counts.
    pub fn filter_key(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{}|{:?}",
            self.text, self.collection, self.min_price, self.max_price, self.in_stock_only, self.attributes
        )
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_is_prefix_per_word() {
        let term = SearchTerm::parse("Red TEE").unwrap();
        assert!(term.matches(&tokenize("a reddish t-shirt teeny")));
        assert!(!term.matches(&tokenize("a red shirt")));
        assert!(SearchTerm::parse("  --- ").is_err());
    }
}
