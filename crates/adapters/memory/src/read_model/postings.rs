//! Posting lists of the in-memory read model: for each collection, attribute value and
//! search word, the slots of the products that have it, as compressed bitmaps.
//!
//! A listing uses them to skip, without reading them, the products that cannot match:
//! the sort index is scanned with one bit test per product instead of a full filter
//! check, and a rare filter (a single SKU, a seldom word) gathers its few matches
//! directly instead of scanning the index. Either way every candidate is still checked
//! exactly by the query's own rules, so the answer equals the reference evaluator's.

use std::collections::{BTreeMap, HashMap};

use commerce_core::{
    CollectionId,
    catalog::{AttributeName, AttributeValue},
    query::{ProductQuery, ProductView},
};
use roaring::RoaringBitmap;

/// A word of a query that prefixes more distinct indexed words than this is left to the
/// exact check: the union of that many bitmaps would cost more than it saves.
const MAX_WORDS_PER_PREFIX: usize = 256;

#[derive(Default)]
pub(super) struct Postings {
    collections: HashMap<CollectionId, RoaringBitmap>,
    attributes: HashMap<(AttributeName, AttributeValue), RoaringBitmap>,
    words: BTreeMap<String, RoaringBitmap>,
}

fn add<K: std::hash::Hash + Eq>(map: &mut HashMap<K, RoaringBitmap>, key: K, slot: u32) {
    map.entry(key).or_default().insert(slot);
}

fn remove<K: std::hash::Hash + Eq>(map: &mut HashMap<K, RoaringBitmap>, key: &K, slot: u32) {
    if let Some(b) = map.get_mut(key) {
        b.remove(slot);
        if b.is_empty() {
            map.remove(key);
        }
    }
}

impl Postings {
    /// Indexes `view` (with its search `tokens`) at `slot`.
    pub(super) fn insert(&mut self, slot: u32, view: &ProductView, tokens: &[String]) {
        if let Some(c) = view.collection_id {
            add(&mut self.collections, c, slot);
        }
        for (n, v) in view.attributes.iter() {
            add(&mut self.attributes, (n.clone(), v.clone()), slot);
        }
        for t in tokens {
            self.words.entry(t.clone()).or_default().insert(slot);
        }
    }

    /// Removes what [`Postings::insert`] indexed for the same `view` and `tokens`.
    pub(super) fn remove(&mut self, slot: u32, view: &ProductView, tokens: &[String]) {
        if let Some(c) = view.collection_id {
            remove(&mut self.collections, &c, slot);
        }
        for (n, v) in view.attributes.iter() {
            remove(&mut self.attributes, &(n.clone(), v.clone()), slot);
        }
        for t in tokens {
            if let Some(b) = self.words.get_mut(t) {
                b.remove(slot);
                if b.is_empty() {
                    self.words.remove(t);
                }
            }
        }
    }

    /// The slots that may match `query`'s collection, attribute and text filters, or
    /// `None` when it has none of them (every slot may match). A superset: prices, stock,
    /// status and over-broad words are checked on each candidate.
    pub(super) fn candidates(&self, query: &ProductQuery) -> Option<RoaringBitmap> {
        let empty = RoaringBitmap::new();
        let mut lists: Vec<std::borrow::Cow<'_, RoaringBitmap>> = vec![];
        if let Some(c) = query.collection {
            lists.push(std::borrow::Cow::Borrowed(self.collections.get(&c).unwrap_or(&empty)));
        }
        for (n, v) in &query.attributes {
            // A clone of the key per filter is cheap next to a scan.
            let list = self.attributes.get(&(n.clone(), v.clone())).unwrap_or(&empty);
            lists.push(std::borrow::Cow::Borrowed(list));
        }
        for word in query.text.iter().flat_map(commerce_core::query::SearchTerm::tokens) {
            let mut matching =
                self.words.range::<str, _>((std::ops::Bound::Included(word.as_str()), std::ops::Bound::Unbounded));
            let prefixed: Vec<&RoaringBitmap> = matching
                .by_ref()
                .take_while(|(w, _)| w.starts_with(word.as_str()))
                .take(MAX_WORDS_PER_PREFIX + 1)
                .map(|(_, b)| b)
                .collect();
            if prefixed.len() > MAX_WORDS_PER_PREFIX {
                continue;
            }
            let union = prefixed.into_iter().fold(RoaringBitmap::new(), |mut all, b| {
                all |= b;
                all
            });
            lists.push(std::borrow::Cow::Owned(union));
        }
        // Smallest first: every intersection is then at most that small.
        lists.sort_by_key(|b| b.len());
        let mut lists = lists.into_iter();
        let first = lists.next()?.into_owned();
        Some(lists.fold(first, |mut acc, b| {
            acc &= b.as_ref();
            acc
        }))
    }
}
