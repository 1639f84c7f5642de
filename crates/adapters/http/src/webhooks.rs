//! `POST /webhooks/stripe`: the card processor's signed notifications.
//!
//! The route translates only: the processor's adapter verifies and decodes the payload
//! ([`PaymentNoticeDecoder`]), the core's [`PaymentNoticeService`] decides. The answers
//! follow what the processor does with them: 2xx is done (also for a redelivery, or an
//! event that concerns no order of this shop); 400 is a notification that cannot be shown
//! to come from the processor (never retried usefully); 409 and 503 ask for a redelivery.

use std::sync::Arc;

use axum::{Json, Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use commerce_core::{
    payment::NoticeRejected,
    ports::{Clock, PaymentNoticeDecoder},
    services::payment_notices::{NoticeError, NoticeOutcome, PaymentNoticeService},
    validation::ValidationErrors,
};
use serde::Serialize;
use serde_json::Map;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};

/// What the webhook route needs.
#[derive(Clone)]
pub struct WebhookState {
    /// Verifies and reads Stripe's notifications.
    pub decoder: Arc<dyn PaymentNoticeDecoder>,
    /// Acts on them.
    pub notices: PaymentNoticeService,
    /// The time a signature's age is judged by.
    pub clock: Arc<dyn Clock>,
}

/// The webhook route.
pub fn router(state: WebhookState) -> Router {
    Router::new().route("/webhooks/stripe", post(stripe)).with_state(state)
}

/// The answer to a notification the shop accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceipt {
    /// Always `true`.
    pub received: bool,
    /// `applied` (the order's saga ran), `unchanged` (the order does not wait on the
    /// processor), `duplicate` (handled before), `not_ours` (no order of this shop) or
    /// `ignored` (an event type the shop does not act on).
    pub outcome: &'static str,
}

/// Receive a Stripe webhook.
#[utoipa::path(
    post, operation_id = "stripe_webhook", path = "/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header, description = "Stripe's signature: `t=<unix time>,v1=<HMAC-SHA256 of \"t.body\" under the endpoint secret>`")),
    request_body(content = Object, description = "A Stripe Event object, exactly as Stripe signed it"),
    responses(
        (status = 200, body = WebhookReceipt),
        (status = 400, description = "Missing, forged or stale signature, or a malformed event", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The same event is being handled; Stripe redelivers it", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is down; Stripe redelivers it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stripe(
    State(s): State<WebhookState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookReceipt>, ApiError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    let notice = match s.decoder.decode(signature, &body, s.clock.now()) {
        Ok(Some(notice)) => notice,
        Ok(None) => return Ok(Json(WebhookReceipt { received: true, outcome: "ignored" })),
        Err(e @ NoticeRejected::Signature(_)) => {
            tracing::warn!(error = %e, "refused a webhook");
            return Err(ApiError::BadRequest(ValidationErrors::single("Stripe-Signature", e)));
        }
        Err(e @ NoticeRejected::Malformed(_)) => return Err(ApiError::BadRequest(ValidationErrors::single("body", e))),
    };
    let outcome = match s.notices.accept(&notice).await {
        Ok(NoticeOutcome::Applied { order_id, status }) => {
            tracing::info!(order = %order_id, status = status.as_str(), event = %notice.event_id, "webhook woke an order");
            "applied"
        }
        Ok(NoticeOutcome::Unchanged { .. }) => "unchanged",
        Ok(NoticeOutcome::Duplicate) => "duplicate",
        Ok(NoticeOutcome::NotOurs) => "not_ours",
        Err(NoticeError::InProgress) => {
            return Err(ApiError::Conflict {
                title: "Event in progress",
                detail: "this event is being handled; deliver it again later".into(),
                extensions: Map::new(),
            });
        }
        Err(e @ NoticeError::Invalid(_)) => return Err(ApiError::BadRequest(ValidationErrors::single("body", e))),
        Err(NoticeError::Unavailable(cause)) => return Err(ApiError::Unavailable(cause)),
    };
    Ok(Json(WebhookReceipt { received: true, outcome }))
}
