//! [`WebError`]: why a page could not be shown, rendered as a page of its own.

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};
use commerce_core::services::storefront::StorefrontError;

use crate::layout::Layout;

/// Why a page could not be shown. The page says so in words; the cause of a server-side
/// failure is logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Nothing here (or the product is not for sale).
    #[error("not found")]
    NotFound,
    /// A form without its session's CSRF token: not sent from the shop's own page.
    #[error("forbidden")]
    Forbidden,
    /// The catalog cannot be read now; the person may retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A page failed to render (a bug).
    #[error("rendering failed: {0}")]
    Render(#[from] askama::Error),
}

impl From<StorefrontError> for WebError {
    fn from(e: StorefrontError) -> Self {
        match e {
            StorefrontError::NotFound => Self::NotFound,
            // Query errors are shown on the list page itself; anything else is the store's.
            other => Self::Unavailable(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match &self {
            Self::NotFound => {
                (StatusCode::NOT_FOUND, "Not found", "There is no such page, or the product is no longer for sale.")
            }
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "This form expired or did not come from this shop's pages. Please go back, reload and try again.",
            ),
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "page unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Please try again",
                    "The shop cannot show this page right now. Please try again in a moment.",
                )
            }
            Self::Render(cause) => {
                tracing::error!(%cause, "page failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "This page could not be shown. Please try again later.",
                )
            }
        };
        let page = ErrorPage { layout: Layout::plain(), heading, message };
        // The error page itself has no data that could fail to render.
        let body = page.render().unwrap_or_else(|_| message.to_owned());
        (status, Html(body)).into_response()
    }
}

/// Renders a page as HTML.
pub(crate) fn render(page: &impl Template) -> Result<Html<String>, WebError> {
    Ok(Html(page.render()?))
}
