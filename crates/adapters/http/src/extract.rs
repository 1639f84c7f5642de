//! Extractors that turn malformed requests into problem documents instead of
//! axum's plain-text rejections.

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header, request::Parts},
};
use commerce_core::catalog::Version;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `Json<T>` whose rejections are problem+json: 415 without a JSON content type,
/// 413 over the body limit, 400 for broken JSON, 422 naming the field whose value
/// has the wrong type or is missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("send the body as JSON with Content-Type: application/json".into())
        }
        JsonRejection::JsonDataError(_) => {
            // "Failed to deserialize the JSON body into the target type: price.amount: invalid type ..."
            let detail = text.split_once("target type: ").map_or(text.as_str(), |(_, rest)| rest);
            match detail.split_once(": ") {
                Some((path, message)) if !path.contains(' ') => ApiError::invalid(path, without_value(message)),
                _ => ApiError::invalid("body", without_value(detail)),
            }
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
        _ => ApiError::bad_request("body", text),
    }
}

/// serde's messages quote the value they rejected (``invalid type: integer `4242…`, expected
/// a string``). A body may carry card data, so the quoted value is cut and only what was
/// expected is kept: no value a client sent is ever echoed in an error.
pub fn without_value(message: &str) -> String {
    // serde_json appends the position: " at line 1 column 42".
    let message = message.rsplit_once(" at line ").map_or(message, |(m, _)| m);
    for (prefix, kind) in [("invalid type: ", "invalid type"), ("invalid value: ", "invalid value")] {
        if message.starts_with(prefix) {
            return match message.rsplit_once(", expected ") {
                Some((_, expected)) => format!("{kind}: expected {expected}"),
                None => kind.to_owned(),
            };
        }
    }
    if message.starts_with("unknown variant") {
        return match message.rsplit_once(", expected ") {
            Some((_, expected)) => format!("unknown variant, expected {expected}"),
            None => "unknown variant".to_owned(),
        };
    }
    message.to_owned()
}

/// `Path<T>` whose rejection (e.g. a segment that is not valid UTF-8) is a 404 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|e| ApiError::NotFound(format!("no such resource ({})", e.body_text())))
    }
}

/// `Query<T>` whose rejection (a malformed query string) is a 400 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Self(v))
            .map_err(|e| ApiError::bad_request("query", e.body_text()))
    }
}

/// Parses a path id, naming the parameter when it is not a UUID.
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(format!("{what} {raw:?} not found (ids are UUIDs)")))
}

/// The version named by `If-Match`, quoted (`"3"`, `W/"3"`) or not; `None` when absent or `*`.
pub fn if_match(headers: &HeaderMap) -> Result<Option<Version>, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().map_err(|_| ApiError::bad_request("If-Match", "must be ASCII"))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let unquoted = text.trim_start_matches("W/").trim_matches('"');
    unquoted
        .parse::<u64>()
        .map(|v| Some(Version::new(v)))
        .map_err(|_| ApiError::bad_request("If-Match", format!("{text:?} is not a version (expected e.g. \"3\")")))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The `ETag` of a version: `"3"`.
pub fn etag(version: Version) -> String {
    format!("\"{version}\"")
}

/// `response` with a `Location` header pointing at `location` (a path of this API).
pub(crate) fn with_location(mut response: axum::response::Response, location: &str) -> axum::response::Response {
    if let Ok(location) = axum::http::HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn if_match_accepts_quoted_and_bare_versions() {
        for (raw, expected) in [("3", Some(3)), ("\"3\"", Some(3)), ("W/\"4\"", Some(4)), ("*", None)] {
            let mut h = HeaderMap::new();
            h.insert(header::IF_MATCH, HeaderValue::from_static(raw));
            assert_eq!(if_match(&h).unwrap(), expected.map(Version::new), "{raw}");
        }
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"abc\""));
        assert!(if_match(&h).is_err());
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn rejected_values_are_never_echoed() {
        assert_eq!(
            without_value("invalid type: integer `4242424242424242`, expected a string at line 1 column 60"),
            "invalid type: expected a string"
        );
        assert_eq!(without_value("invalid value: integer `4242`, expected u8"), "invalid value: expected u8");
        assert_eq!(
            without_value("unknown variant `4111 1111`, expected `draft` or `active`"),
            "unknown variant, expected `draft` or `active`"
        );
        assert_eq!(without_value("missing field `email`"), "missing field `email`");
    }

    #[test]
    fn bearer_tokens() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer "));
        assert_eq!(bearer(&h), None);
    }
}
