//! `/products`: the product list, whose whole state (search, sort, filters, page) lives in
//! the URL, so a filtered page can be bookmarked and shared.
//!
//! The page speaks the listing API's parameters (`q`, `sort`, `collection`, `in_stock`,
//! `attr.<name>`, `cursor`) except for prices, which people type in major units
//! (`price_from=12.50`, read by `Money::parse_decimal`). Paging is keyset, as in the API:
//! "previous" works because the page keeps the cursors it came through in `back`.

use askama::Template;
use axum::{
    extract::{RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use commerce_core::{
    money::{Money, MoneyError},
    query::{Facets, ProductQuery, ProductQueryInput, SortOrder},
    services::storefront::StorefrontError,
    validation::{FieldError, ValidationErrors},
};

use crate::{
    WebState,
    cart::CartCookie,
    error::{WebError, render},
    layout::Layout,
    pages::Card,
};

/// How many pages back "previous" can go (the oldest are forgotten; "first page" stays).
const TRAIL: usize = 30;
/// Values shown per attribute facet (the most frequent, and any selected one).
const FACET_VALUES: usize = 12;
/// Stands for the first page in `back`: a cursor is never one character.
const FIRST: &str = "0";

/// The filters as the URL carries them, without paging.
#[derive(Debug, Clone, Default)]
struct Filters {
    q: String,
    sort: String,
    collection: String,
    price_from: String,
    price_to: String,
    in_stock: bool,
    limit: String,
    attributes: Vec<(String, String)>,
}

impl Filters {
    /// The URL pairs of these filters, in a stable order; blank ones left out.
    fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (key, value) in [
            ("q", &self.q),
            ("sort", &self.sort),
            ("collection", &self.collection),
            ("price_from", &self.price_from),
            ("price_to", &self.price_to),
            ("limit", &self.limit),
        ] {
            if !value.trim().is_empty() {
                pairs.push((key.to_owned(), value.clone()));
            }
        }
        if self.in_stock {
            pairs.push(("in_stock".into(), "true".into()));
        }
        for (name, value) in &self.attributes {
            pairs.push((format!("attr.{name}"), value.clone()));
        }
        pairs
    }

    /// `/products?...` for these filters plus `extra`.
    fn href(&self, extra: &[(&str, String)]) -> String {
        let mut pairs = self.pairs();
        pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        if pairs.is_empty() {
            return "/products".into();
        }
        format!("/products?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    }

    /// These filters with attribute `name` set to `value`, or cleared when it already is.
    fn toggling(&self, name: &str, value: &str) -> Self {
        let mut next = self.clone();
        let was = next.attributes.iter().any(|(n, v)| n == name && v == value);
        next.attributes.retain(|(n, _)| n != name);
        if !was {
            next.attributes.push((name.to_owned(), value.to_owned()));
        }
        next
    }
}

/// The page's URL, read: its filters, the page it is on and the way back.
struct Request {
    filters: Filters,
    cursor: Option<String>,
    back: Vec<String>,
}

impl Request {
    fn parse(raw: Option<&str>) -> Self {
        let pairs: Vec<(String, String)> = raw.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
        let mut filters = Filters::default();
        let (mut cursor, mut back) = (None, Vec::new());
        for (key, value) in pairs {
            match key.as_str() {
                "q" => filters.q = value,
                "sort" => filters.sort = value,
                "collection" => filters.collection = value,
                "price_from" => filters.price_from = value,
                "price_to" => filters.price_to = value,
                "in_stock" => filters.in_stock = value == "true",
                "limit" => filters.limit = value,
                "cursor" if !value.is_empty() => cursor = Some(value),
                // Navigation only: a malformed trail is dropped, not an error.
                "back" => {
                    back = value
                        .split('.')
                        .filter(|c| {
                            !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                        })
                        .map(str::to_owned)
                        .collect();
                }
                other => {
                    if let Some(name) = other.strip_prefix("attr.") {
                        filters.attributes.retain(|(n, _)| n != name);
                        filters.attributes.push((name.to_owned(), value));
                    }
                }
            }
        }
        back.truncate(TRAIL);
        Self { filters, cursor, back }
    }

    /// The core query, or every field the person got wrong (named as the form names them).
    fn query(&self, state: &WebState) -> Result<ProductQuery, ValidationErrors> {
        let f = &self.filters;
        let mut errors = ValidationErrors::new();
        let mut price = |field: &str, raw: &str| -> Option<String> {
            if raw.trim().is_empty() {
                return None;
            }
            let parsed: Result<Money, MoneyError> = Money::parse_decimal(raw, state.config.currency);
            errors.check(field, parsed).map(|m| m.amount().to_string())
        };
        let min = price("price_from", &f.price_from);
        let max = price("price_to", &f.price_to);
        let mut pairs: Vec<(String, String)> = vec![
            ("q".into(), f.q.clone()),
            ("sort".into(), f.sort.clone()),
            ("collection".into(), f.collection.clone()),
        ];
        pairs.extend(min.map(|m| ("min_price".into(), m)));
        pairs.extend(max.map(|m| ("max_price".into(), m)));
        if f.in_stock {
            pairs.push(("in_stock".into(), "true".into()));
        }
        let limit = if f.limit.is_empty() { state.config.page_size.to_string() } else { f.limit.clone() };
        pairs.push(("limit".into(), limit));
        pairs.extend(self.cursor.iter().map(|c| ("cursor".into(), c.clone())));
        pairs.extend(f.attributes.iter().map(|(n, v)| (format!("attr.{n}"), v.clone())));
        let (params, parse_errors) = ProductQueryInput::from_pairs(pairs).params();
        match params.validate_with(parse_errors) {
            Ok(query) => errors.finish(|| query),
            Err(core) => {
                for e in core.errors() {
                    // The page sends prices it parsed itself, so the core's only price
                    // complaint is the order of the two, told in minor units: reworded.
                    let message = if e.field == "min_price" { "must not be more than Price to" } else { &e.message };
                    errors.add(form_field(&e.field), message);
                }
                Err(errors)
            }
        }
    }
}

/// The form's name for a field the core named.
fn form_field(core: &str) -> String {
    match core {
        "min_price" => "price_from".into(),
        "max_price" => "price_to".into(),
        other => other.to_owned(),
    }
}

/// What a person reads for a field's name.
fn label(field: &str) -> &'static str {
    match field {
        "q" => "Search",
        "sort" => "Sort by",
        "collection" => "Collection",
        "price_from" => "Price from",
        "price_to" => "Price to",
        "in_stock" => "In stock only",
        "limit" => "Products per page",
        "cursor" => "Page",
        _ => "Attribute filters",
    }
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct FacetValue {
    value: String,
    count: u64,
    selected: bool,
    href: String,
}

struct FacetGroup {
    name: String,
    values: Vec<FacetValue>,
}

struct Shown {
    label: &'static str,
    message: String,
}

fn shown(errors: &ValidationErrors) -> Vec<Shown> {
    errors.errors().iter().map(|e: &FieldError| Shown { label: label(&e.field), message: e.message.clone() }).collect()
}

#[derive(Template)]
#[template(path = "products.html")]
struct ListPage {
    layout: Layout,
    currency: String,
    filters: Filters,
    sorts: Vec<Choice>,
    collections: Vec<Choice>,
    facets: Vec<FacetGroup>,
    items: Vec<Card>,
    errors: Vec<Shown>,
    invalid: Vec<String>,
    next_href: Option<String>,
    prev_href: Option<String>,
    first_href: Option<String>,
    clear_href: Option<String>,
}

impl ListPage {
    fn is_invalid(&self, field: &str) -> bool {
        self.invalid.iter().any(|f| f == field)
    }
}

fn sort_label(sort: SortOrder) -> &'static str {
    match sort {
        SortOrder::Newest => "Newest",
        SortOrder::PriceAsc => "Price: low to high",
        SortOrder::PriceDesc => "Price: high to low",
        SortOrder::Name => "Name",
        SortOrder::StockDesc => "Most in stock",
    }
}

/// `/products`: a page of the listing with its filters; 400 with the page and the fields to
/// fix when the URL asks for something impossible.
pub(crate) async fn products(
    State(s): State<WebState>,
    CartCookie(cart): CartCookie,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let request = Request::parse(raw.as_deref());
    let f = &request.filters;
    let mut page = ListPage {
        layout: Layout::new(&s.config, &f.q, &cart),
        currency: s.config.currency.to_string(),
        filters: f.clone(),
        sorts: SortOrder::ALL
            .iter()
            .map(|o| Choice {
                value: o.as_str().to_owned(),
                label: sort_label(*o).to_owned(),
                selected: f.sort == o.as_str() || (f.sort.is_empty() && *o == SortOrder::default()),
            })
            .collect(),
        collections: Vec::new(),
        facets: Vec::new(),
        items: Vec::new(),
        errors: Vec::new(),
        invalid: Vec::new(),
        next_href: None,
        prev_href: None,
        first_href: None,
        clear_href: (!f.pairs().is_empty()).then(|| "/products".to_owned()),
    };
    let collections = s.storefront.collections().await?;
    let query = match request.query(&s) {
        Ok(query) => query,
        Err(errors) => {
            page.collections = collections
                .iter()
                .map(|c| Choice {
                    value: c.id.to_string(),
                    label: c.name.to_string(),
                    selected: f.collection == c.id.to_string(),
                })
                .collect();
            page.invalid = errors.errors().iter().map(|e| e.field.clone()).collect();
            page.errors = shown(&errors);
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
    };
    let listing = match s.storefront.list(&query).await {
        Ok(listing) => listing,
        Err(StorefrontError::Validation(errors)) => {
            page.errors = shown(&errors);
            return Ok((StatusCode::BAD_REQUEST, render(&page)?).into_response());
        }
        Err(other) => return Err(other.into()),
    };
    let facets = s.storefront.facets(&query).await?;
    // Counts describe the other filters' matches; with a collection chosen they would say
    // 0 for every other one, so they are shown only while none is.
    let counted = f.collection.is_empty();
    page.collections = collections
        .iter()
        .map(|c| {
            let count = facets.collections.get(&c.id).copied().unwrap_or(0);
            Choice {
                value: c.id.to_string(),
                label: if counted { format!("{} ({count})", c.name) } else { c.name.to_string() },
                selected: f.collection == c.id.to_string(),
            }
        })
        .collect();
    page.facets = facet_groups(f, &facets);
    page.items = listing.items.iter().map(Card::new).collect();
    let here = request.cursor.clone().unwrap_or_else(|| FIRST.to_owned());
    page.next_href = listing.next_cursor.map(|next| {
        let mut trail = request.back.clone();
        trail.push(here);
        if trail.len() > TRAIL {
            trail.remove(0);
        }
        f.href(&[("cursor", next.encode()), ("back", trail.join("."))])
    });
    if request.cursor.is_some() {
        page.first_href = Some(f.href(&[]));
        let mut trail = request.back.clone();
        page.prev_href = trail.pop().map(|previous| {
            let mut extra = Vec::new();
            if previous != FIRST {
                extra.push(("cursor", previous));
            }
            if !trail.is_empty() {
                extra.push(("back", trail.join(".")));
            }
            f.href(&extra)
        });
    }
    Ok(render(&page)?.into_response())
}

/// The attribute facets: each attribute's most frequent values with their counts, each a
/// link that applies the value (or removes it, when applied).
fn facet_groups(f: &Filters, facets: &Facets) -> Vec<FacetGroup> {
    facets
        .attributes
        .iter()
        .map(|(name, values)| {
            let name = name.to_string();
            let mut values: Vec<(String, u64)> = values.iter().map(|(v, n)| (v.to_string(), *n)).collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let selected = |v: &str| f.attributes.iter().any(|(n, x)| *n == name && x == v);
            let mut shown: Vec<FacetValue> = values
                .iter()
                .enumerate()
                .filter(|(i, (v, _))| *i < FACET_VALUES || selected(v))
                .map(|(_, (v, count))| FacetValue {
                    value: v.clone(),
                    count: *count,
                    selected: selected(v),
                    href: f.toggling(&name, v).href(&[]),
                })
                .collect();
            shown.sort_by(|a, b| a.value.cmp(&b.value));
            FacetGroup { name, values: shown }
        })
        .collect()
}
