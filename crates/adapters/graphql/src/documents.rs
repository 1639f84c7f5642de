//! Parsed queries kept by their text. Clients send a few documents over and over with
//! different variables, and parsing one is a large part of a small query's cost; a
//! clone of the parsed document is much cheaper. Validation still runs on every request
//! (it depends on the variables).

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use async_graphql::{Request, parser::types::ExecutableDocument};

/// Longest query text kept: bigger documents are rare and parsed each time.
const MAX_QUERY_LEN: usize = 8 * 1024;

/// A bounded map from query text to its parse. When full it starts over: the documents
/// clients send again are parsed once more and kept, so no eviction order is needed.
#[derive(Debug)]
pub(crate) struct DocumentCache {
    documents: RwLock<HashMap<String, ExecutableDocument>>,
    capacity: usize,
}

impl DocumentCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { documents: RwLock::new(HashMap::new()), capacity }
    }

    /// Gives `request` its parsed query: a kept parse when the text was seen, else a fresh
    /// one (kept when it parses). A query that does not parse is left to the execution,
    /// which reports the syntax error.
    pub(crate) fn parse_into(&self, request: &mut Request) {
        if request.query.len() > MAX_QUERY_LEN {
            return;
        }
        let known = self.documents.read().unwrap_or_else(PoisonError::into_inner).get(&request.query).cloned();
        if let Some(document) = known {
            request.set_parsed_query(document);
            return;
        }
        let Ok(document) = request.parsed_query() else { return };
        let document = document.clone();
        let mut documents = self.documents.write().unwrap_or_else(PoisonError::into_inner);
        if documents.len() >= self.capacity {
            documents.clear();
        }
        documents.insert(request.query.clone(), document);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.documents.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_parsed_once_and_the_cache_stays_bounded() {
        let cache = DocumentCache::new(2);
        let mut first = Request::new("{ products(first: 2) { edges { node { id } } } }");
        cache.parse_into(&mut first);
        assert_eq!(cache.len(), 1);
        let mut again = Request::new("{ products(first: 2) { edges { node { id } } } }");
        cache.parse_into(&mut again);
        assert_eq!(cache.len(), 1, "the same text is not kept twice");
        assert_eq!(
            format!("{:?}", again.parsed_query().map(|d| d.operations.iter().count())),
            "Ok(1)",
            "the request carries the kept parse"
        );
        for query in ["{ a }", "{ b }", "{ c }"] {
            cache.parse_into(&mut Request::new(query));
        }
        assert!(cache.len() <= 2, "bounded by its capacity");
        let mut broken = Request::new("{ products(");
        cache.parse_into(&mut broken);
        assert!(cache.len() <= 2 && broken.parsed_query().is_err(), "a syntax error is left to the execution");
        let mut huge = Request::new(format!("{{ {} }}", "a ".repeat(MAX_QUERY_LEN)));
        let before = cache.len();
        cache.parse_into(&mut huge);
        assert_eq!(cache.len(), before, "long texts are not kept");
    }
}
