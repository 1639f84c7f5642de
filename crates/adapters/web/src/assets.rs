//! The embedded stylesheet, and the headers every page and asset carries.

use axum::{
    Router,
    http::{HeaderName, HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// The only stylesheet: small enough to read, served from the binary.
const STYLE: &str = include_str!("../assets/style.css");
/// The only script: the checkout's card step.
const CHECKOUT_JS: &str = include_str!("../assets/checkout.js");

/// Pages may load only this origin's stylesheet and script, and fetch only from it (the
/// card processor's tokenisation endpoint is served under the same origin); nothing may
/// frame them, forms post only here, and no inline script or style runs.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) fn router() -> Router {
    Router::new()
        .route("/assets/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/assets/checkout.js", get(|| async { asset("text/javascript; charset=utf-8", CHECKOUT_JS) }))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    // Revalidated hourly: the files change only with the binary.
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
}

/// Adds the Content-Security-Policy and its companions to a page or asset.
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::X_FRAME_OPTIONS, "DENY");
    response
}
