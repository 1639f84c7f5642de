//! The reference evaluator: listings and facet counts by brute force.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ProductPage, ProductQuery, ProductView, SortKey};
use crate::{
    catalog::{AttributeName, AttributeValue},
    ids::CollectionId,
};

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
