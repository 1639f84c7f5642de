//! Request limits async-graphql has no setting for: the number of root fields, and the
//! 413 answer to a body over the HTTP layer's limit.

use std::collections::HashSet;

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// Refuses a request whose operation selects more than `limit` root fields, aliases and
/// fields reached through fragments included. Aliases would otherwise multiply one
/// expensive field, and root fields of a query run concurrently.
///
/// It parses the query into `request` (execution then uses that parse), and runs in the
/// HTTP handler rather than as a schema extension: with any extension, async-graphql
/// sends every field of every answer through the extension chain, which cost a listing
/// of 24 products a fifth of its time. A query that does not parse is left to the
/// execution, which reports the syntax error.
pub fn check_root_fields(request: &mut async_graphql::Request, limit: usize) -> Result<(), ServerError> {
    let Ok(document) = request.parsed_query() else { return Ok(()) };
    for (_, operation) in document.operations.iter() {
        let count = root_fields(document, &operation.node.selection_set.node, &mut HashSet::new(), limit);
        if count > limit {
            return Err(ServerError::new(
                format!("too many root fields: at most {limit} per request, aliases included"),
                Some(operation.pos),
            ));
        }
    }
    Ok(())
}

/// Root fields of `set`, counting up to just past `limit`. Fragments already on the path
/// are skipped: parsing comes before validation, which is what refuses cycles.
fn root_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    path: &mut HashSet<&'a str>,
    limit: usize,
) -> usize {
    let mut count = 0;
    for item in &set.items {
        if count > limit {
            break;
        }
        count += match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(inline) => root_fields(document, &inline.node.selection_set.node, path, limit),
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match document.fragments.get(name) {
                    Some(fragment) if path.insert(name) => {
                        let n = root_fields(document, &fragment.node.selection_set.node, path, limit);
                        path.remove(name);
                        n
                    }
                    _ => 0,
                }
            }
        };
    }
    count
}

/// 413 as the HTTP layer answers it (`application/problem+json`), so a client sees one
/// shape for this error on every route.
pub(crate) fn too_large() -> Response {
    let body = serde_json::json!({
        "type": "urn:commerce:problem:payload-too-large",
        "title": "Body too large",
        "status": 413,
        "detail": "the request body exceeds the server's limit",
    });
    let content_type = HeaderValue::from_static("application/problem+json");
    (StatusCode::PAYLOAD_TOO_LARGE, [(header::CONTENT_TYPE, content_type)], body.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(query: &str) -> usize {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let (_, operation) = document.operations.iter().next().unwrap();
        root_fields(&document, &operation.node.selection_set.node, &mut HashSet::new(), 100)
    }

    #[test]
    fn root_fields_count_aliases_fragments_and_inline_fragments() {
        assert_eq!(count("{ a b c: a }"), 3);
        assert_eq!(count("{ a ...F ... on Q { b c } } fragment F on Q { d e }"), 5);
        // A cycle (refused later by validation) does not loop here.
        assert_eq!(count("{ ...F } fragment F on Q { a ...G } fragment G on Q { b ...F }"), 2);
    }
}
