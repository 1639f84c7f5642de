//! The simulator's 3-D Secure challenge page: what a customer's bank shows when a card
//! asks for authentication (test card `4000 0025 0000 3155`). The customer confirms or
//! refuses; the processor then tells the shop's [`PaymentNoticeService`], as a real one
//! sends a webhook, and the browser goes back to the shop's `return` page.

use std::sync::Arc;

use axum::{
    Form, Router,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
};
use commerce_core::{
    payment::{AuthorizationId, NoticeKind, PaymentNotice},
    services::payment_notices::PaymentNoticeService,
};
use serde::Deserialize;

use crate::SimulatedCardProcessor;

#[derive(Clone)]
struct ChallengeState {
    processor: Arc<SimulatedCardProcessor>,
    notices: Option<PaymentNoticeService>,
}

pub(crate) fn challenge_router(
    processor: Arc<SimulatedCardProcessor>,
    notices: Option<PaymentNoticeService>,
) -> Router {
    Router::new()
        .route("/3ds/{authorization}", get(page).post(answer))
        .with_state(ChallengeState { processor, notices })
}

/// Where the browser goes afterwards: a path on the shop's own origin, never another site.
fn safe_return(raw: Option<&str>) -> Option<String> {
    let path = raw?.trim();
    let local = path.starts_with('/') && !path.starts_with("//") && !path.contains(['\\', '\r', '\n']);
    local.then(|| path.to_owned())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<title>{title} · Simulated bank</title>\n</head>\n\
         <body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    );
    let mut response = (status, Html(page)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    );
    response
}

#[derive(Deserialize)]
struct Return {
    #[serde(rename = "return")]
    to: Option<String>,
}

/// `GET /3ds/{authorization}?return=/orders/...`: the bank's question.
async fn page(
    State(s): State<ChallengeState>,
    Path(authorization): Path<String>,
    Query(ret): Query<Return>,
) -> Response {
    let id = AuthorizationId(authorization);
    let Some(challenge) = s.processor.pending_challenge(&id) else {
        return html(
            StatusCode::NOT_FOUND,
            "No payment to confirm",
            "<h1>No payment to confirm</h1>\n<p>This payment was already confirmed or refused, or does not exist.</p>",
        );
    };
    let ret = safe_return(ret.to.as_deref())
        .map(|r| format!("<input type=\"hidden\" name=\"return\" value=\"{}\">", escape(&r)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Confirm your payment</h1>\n<p>Your bank asks you to confirm a payment of <strong>{amount}</strong>.</p>\n\
         <p>This is the card simulator's test page: nothing real is charged.</p>\n\
         <form method=\"post\">{ret}<input type=\"hidden\" name=\"outcome\" value=\"confirm\">\
         <button type=\"submit\">Confirm payment</button></form>\n\
         <form method=\"post\">{ret}<input type=\"hidden\" name=\"outcome\" value=\"refuse\">\
         <button type=\"submit\">Refuse payment</button></form>",
        amount = escape(&challenge.amount.to_string()),
    );
    html(StatusCode::OK, "Confirm your payment", &body)
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    outcome: String,
    #[serde(rename = "return")]
    to: Option<String>,
}

/// `POST /3ds/{authorization}`: the customer's answer; the shop is told, then the browser
/// goes back to it (303), or a page says it is done.
async fn answer(
    State(s): State<ChallengeState>,
    Path(authorization): Path<String>,
    Form(form): Form<Answer>,
) -> Response {
    let id = AuthorizationId(authorization);
    let authenticated = match form.outcome.as_str() {
        "confirm" => true,
        "refuse" => false,
        _ => {
            return html(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose an answer",
                "<h1>Choose an answer</h1>\n<p>Confirm or refuse the payment.</p>",
            );
        }
    };
    let reference = s.processor.pending_challenge(&id).map(|c| c.reference);
    if !s.processor.complete_action(&id, authenticated) {
        return html(
            StatusCode::CONFLICT,
            "Already answered",
            "<h1>Already answered</h1>\n<p>This payment was already confirmed or refused.</p>",
        );
    }
    // The simulator's webhook: the answered challenge wakes the order at once.
    if let Some(notices) = &s.notices {
        let notice = PaymentNotice {
            event_id: format!("simulator-3ds-{}", id.0),
            kind: NoticeKind::AuthorizationChanged,
            order_id: reference.and_then(|r| r.parse().ok()),
            authorization_id: id,
        };
        if let Err(e) = notices.accept(&notice).await {
            // The recovery job checks waiting orders with the processor anyway.
            tracing::warn!(error = %e, "a 3-D Secure answer did not wake its order");
        }
    }
    match safe_return(form.to.as_deref()) {
        Some(to) => Redirect::to(&to).into_response(),
        None => html(StatusCode::OK, "Answered", "<h1>Thank you</h1>\n<p>You can go back to the shop.</p>"),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return;

    #[test]
    fn the_return_page_stays_on_the_shop() {
        assert_eq!(safe_return(Some("/orders/1?token=x")), Some("/orders/1?token=x".into()));
        for other in ["https://evil.example/", "//evil.example/", "/\\evil.example", "orders/1", ""] {
            assert_eq!(safe_return(Some(other)), None, "{other}");
        }
    }
}
