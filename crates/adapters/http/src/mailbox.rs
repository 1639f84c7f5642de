//! `GET /admin/v1/dev/mailbox`: the messages a development shop kept instead of sending
//! them (the embedded `commerce` without `SMTP_URL`), newest first, for a developer to read.

use std::sync::Arc;

use axum::{Json, Router, extract::State, middleware, routing::get};
use commerce_core::notify::Message;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AdminAuthorizer;

/// Where the kept messages come from.
pub type MessageSource = Arc<dyn Fn() -> Vec<Message> + Send + Sync>;

/// One kept message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailDto {
    /// `<event id@domain>`.
    pub message_id: String,
    /// The customer.
    pub to: String,
    /// `order_confirmed`, `shipment_sent`, `order_cancelled` or `refund_issued`.
    pub kind: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

/// Body of `GET /admin/v1/dev/mailbox`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MailboxDto {
    /// Newest first (at most the last 100).
    pub items: Vec<MailDto>,
}

#[derive(Clone)]
struct MailboxState {
    source: MessageSource,
}

/// The route, behind `authorizer` (messages carry customers' addresses).
pub fn router(source: MessageSource, authorizer: Arc<dyn AdminAuthorizer>) -> Router {
    Router::new()
        .route("/admin/v1/dev/mailbox", get(mailbox))
        .route_layer(middleware::from_fn_with_state(authorizer, crate::admin::require_admin))
        .with_state(MailboxState { source })
}

/// The development mailbox.
#[utoipa::path(
    get, operation_id = "admin_dev_mailbox", path = "/admin/v1/dev/mailbox", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, description = "Served by the embedded shop without SMTP_URL", body = MailboxDto))
)]
async fn mailbox(State(s): State<MailboxState>) -> Json<MailboxDto> {
    let items = (s.source)()
        .into_iter()
        .map(|m| MailDto {
            message_id: m.message_id,
            to: m.to.as_str().to_owned(),
            kind: m.kind.as_str().to_owned(),
            subject: m.content.subject,
            text: m.content.text,
            html: m.content.html,
        })
        .collect();
    Json(MailboxDto { items })
}
