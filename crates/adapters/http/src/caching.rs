//! Conditional GETs on the anonymous store routes: each answer carries a strong `ETag`
//! (its body's XXH3-128 digest: a validator, not a secret, so a fast digest will do; SHA-256
//! took 7% of a listing's CPU) and a short shared lifetime, and a request whose `If-None-Match`
//! names the current answer gets `304 Not Modified` without the body. A gateway's cache
//! serves repeats for the lifetime and revalidates cheaply after it; never used on admin,
//! cart, checkout or order routes, whose answers are someone's own.

use axum::{
    body::Body,
    extract::Request,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// How long a shared cache may serve a store answer without asking again: short, so a
/// price or stock change shows within seconds.
pub const STORE_MAX_AGE_SECS: u32 = 5;

/// Largest body this layer validates (a store page is far smaller); a larger one is a bug.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The middleware (`axum::middleware::from_fn(caching::conditional)`).
pub async fn conditional(request: Request, next: Next) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let wanted = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => return crate::error::ApiError::Internal(format!("store answer not buffered: {e}")).into_response(),
    };
    let digest = xxhash_rust::xxh3::xxh3_128(&bytes);
    let etag =
        HeaderValue::from_str(&format!("\"{digest:032x}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let cache_control = HeaderValue::from_str(&format!("public, max-age={STORE_MAX_AGE_SECS}"))
        .unwrap_or_else(|_| HeaderValue::from_static("no-cache"));
    parts.headers.insert(header::ETAG, etag.clone());
    parts.headers.insert(header::CACHE_CONTROL, cache_control);
    parts.headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if wanted.as_ref().is_some_and(|w| matches(w, &etag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        strip_content(&mut parts.headers);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Whether `If-None-Match` names `etag` (weak comparison, as RFC 9110 asks for it).
fn matches(wanted: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(wanted), Ok(etag)) = (wanted.to_str(), etag.to_str()) else { return false };
    wanted.split(',').map(str::trim).any(|w| w == "*" || w.trim_start_matches("W/") == etag)
}

fn strip_content(headers: &mut HeaderMap) {
    for name in [header::CONTENT_LENGTH, header::CONTENT_TYPE, header::CONTENT_ENCODING] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_names_the_tag_in_a_list_weak_or_any() {
        let etag = HeaderValue::from_static("\"abc\"");
        for wanted in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(matches(&HeaderValue::from_static(wanted), &etag), "{wanted}");
        }
        for wanted in ["\"abd\"", "abc", ""] {
            assert!(!matches(&HeaderValue::from_static(wanted), &etag), "{wanted}");
        }
    }
}
