//! GraphiQL at `GET /store/graphql`, with every asset served from the binary: the page
//! works offline and under a strict Content-Security-Policy (no CDN, no inline script).
//! The vendored files (GraphiQL, React, ReactDOM; MIT, licences beside them) are kept
//! gzipped and sent as they are with `Content-Encoding: gzip`; `scripts/vendor-graphiql`
//! refreshes them.

use axum::{
    extract::Path,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// Where the assets are served.
pub const ASSETS: &str = "/store/graphql/assets/{file}";

/// The page's policy: scripts and styles from this origin only, queries to this origin
/// (GraphiQL sets styles through the DOM, which the policy allows; no inline `<style>` or
/// `style=` markup is needed).
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta name="robots" content="noindex">
<title>GraphiQL · storefront API</title>
<link rel="stylesheet" href="/store/graphql/assets/graphiql.min.css">
<link rel="stylesheet" href="/store/graphql/assets/graphiql-page.css">
</head>
<body>
<div id="graphiql" data-endpoint="/store/graphql">Loading GraphiQL…</div>
<script src="/store/graphql/assets/react.production.min.js"></script>
<script src="/store/graphql/assets/react-dom.production.min.js"></script>
<script src="/store/graphql/assets/graphiql.min.js"></script>
<script src="/store/graphql/assets/graphiql-init.js"></script>
</body>
</html>
"#;

const INIT: &str = r#""use strict";
// Mounts GraphiQL on #graphiql, sending queries to its data-endpoint.
(function () {
  const root = document.getElementById("graphiql");
  const url = new URL(root.dataset.endpoint, window.location.origin).toString();
  const fetcher = GraphiQL.createFetcher({ url });
  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, { fetcher, defaultEditorToolsVisibility: true }));
})();
"#;

const PAGE_CSS: &str = "body { margin: 0; height: 100%; overflow: hidden; }\n#graphiql { height: 100vh; }\n";

/// `(name, content type, gzipped)`: the vendored files.
const VENDORED: [(&str, &str, &[u8]); 4] = [
    ("graphiql.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/graphiql/graphiql.min.js.gz")),
    ("graphiql.min.css", "text/css; charset=utf-8", include_bytes!("../assets/graphiql/graphiql.min.css.gz")),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react.production.min.js.gz"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/graphiql/react-dom.production.min.js.gz"),
    ),
];

fn with_headers(mut response: Response, cache: &'static str) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CACHE_CONTROL, cache);
    response
}

/// `GET /store/graphql`: the GraphiQL page.
pub(crate) async fn page() -> Response {
    with_headers(Html(PAGE).into_response(), "no-cache")
}

/// `GET /store/graphql/assets/{file}`.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    // The files change only with the binary: cached for a day.
    let cache = "public, max-age=86400";
    let plain = |content_type: &'static str, body: &'static str| {
        with_headers(([(header::CONTENT_TYPE, content_type)], body).into_response(), cache)
    };
    match file.as_str() {
        "graphiql-init.js" => plain("text/javascript; charset=utf-8", INIT),
        "graphiql-page.css" => plain("text/css; charset=utf-8", PAGE_CSS),
        name => match VENDORED.iter().find(|(n, _, _)| *n == name) {
            Some((_, content_type, gzipped)) => with_headers(
                ([(header::CONTENT_TYPE, *content_type), (header::CONTENT_ENCODING, "gzip")], *gzipped).into_response(),
                cache,
            ),
            None => StatusCode::NOT_FOUND.into_response(),
        },
    }
}
