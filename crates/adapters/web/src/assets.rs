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

/// Pages may load only this origin's stylesheet and script, and fetch only from it;
/// nothing may frame them, forms post only here, and no inline script or style runs.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// [`CONTENT_SECURITY_POLICY`], also letting the page's script reach `origin` (the card
/// processor's tokenisation endpoint on its own origin, as Stripe's is). `None` when
/// `origin` could break out of the directive (a space, `;`, a quote or a non-ASCII byte).
pub(crate) fn policy_connecting_to(origin: &str) -> Option<HeaderValue> {
    let safe =
        origin.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'.' | b'-' | b'[' | b']'));
    if !safe || origin.is_empty() {
        return None;
    }
    let policy = CONTENT_SECURITY_POLICY.replace("connect-src 'self'", &format!("connect-src 'self' {origin}"));
    HeaderValue::from_str(&policy).ok()
}

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
pub(crate) async fn security_headers(response: Response) -> Response {
    with_policy(response, HeaderValue::from_static(CONTENT_SECURITY_POLICY))
}

/// Adds `policy` and the Content-Security-Policy's companions to a page.
pub(crate) fn with_policy(mut response: Response, policy: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::X_FRAME_OPTIONS, "DENY");
    response
}
