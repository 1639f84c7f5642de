//! Parked events, for operators: `GET /admin/v1/dead-letters[/{id}]`,
//! `POST /admin/v1/dead-letters/{id}/replay`, `DELETE /admin/v1/dead-letters/{id}`.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    middleware,
    routing::{get, post},
};
use commerce_core::{
    Timestamp,
    deadletter::{DeadLetter, DeadLetterId, ParkedContent},
    services::dead_letters::DeadLetterService,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{
    admin::{self, AdminAuthorizer, require_admin},
    error::{ApiError, Problem},
    extract::{ApiPath, ApiQuery},
    openapi::rules,
};

/// What the dead-letter routes need.
#[derive(Clone)]
pub struct DeadLetterAdminState {
    /// The parked events.
    pub dead_letters: DeadLetterService,
    /// Who may call these routes.
    pub authorizer: Arc<dyn AdminAuthorizer>,
}

/// The dead-letter routes, behind the admin authorizer.
pub fn router(state: DeadLetterAdminState) -> Router {
    Router::new()
        .route("/admin/v1/dead-letters", get(list_dead_letters))
        .route("/admin/v1/dead-letters/{id}", get(get_dead_letter).delete(discard_dead_letter))
        .route("/admin/v1/dead-letters/{id}/replay", post(replay_dead_letter))
        .route_layer(middleware::from_fn_with_state(state.authorizer.clone(), require_admin))
        .with_state(state.dead_letters)
}

/// A parked event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterDto {
    /// Its number; letters are listed in this order.
    pub id: u64,
    /// Where it was read: `outbox` (the in-process poller) or `<topic>/<partition>/<offset>`.
    pub source: String,
    /// The consumer that parked it (group or reader), when known.
    pub consumer: Option<String>,
    /// Why it could not be handled.
    pub reason: String,
    /// When it was parked (RFC 3339).
    pub parked_at: String,
    /// Whole seconds since it was parked.
    pub age_seconds: u64,
    /// The event's id, type and aggregate, when it decodes.
    pub event_id: Option<String>,
    /// E.g. `stock.set`.
    pub event_type: Option<String>,
    /// E.g. `restock`.
    pub aggregate_type: Option<String>,
    /// The aggregate's id.
    pub aggregate_id: Option<String>,
    /// The whole event envelope (as in `docs/events.md`), when it decodes.
    #[schema(value_type = Option<Object>)]
    pub event: Option<Value>,
    /// The message's text, when it does not decode.
    pub payload: Option<String>,
    /// Whether it can be replayed (only events that decode can).
    pub replayable: bool,
}

impl DeadLetterDto {
    /// The letter as the API shows it, aged at `now`.
    pub fn new(letter: &DeadLetter, now: Timestamp) -> Self {
        let parked = &letter.parked;
        let event = parked.event();
        Self {
            id: letter.id.get(),
            source: parked.source.clone(),
            consumer: parked.consumer.clone(),
            reason: parked.reason.clone(),
            parked_at: parked.parked_at.to_string(),
            age_seconds: letter.age_seconds(now),
            event_id: event.map(|e| e.event_id.to_string()),
            event_type: event.map(|e| e.event.type_name().to_owned()),
            aggregate_type: event.map(|e| e.aggregate_type.as_str().to_owned()),
            aggregate_id: event.map(|e| e.aggregate_id.to_string()),
            event: event.and_then(|e| serde_json::to_value(e).ok()),
            payload: match &parked.content {
                ParkedContent::Undecodable(text) => Some(text.clone()),
                ParkedContent::Event(_) => None,
            },
            replayable: event.is_some(),
        }
    }
}

/// A page of parked events, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterList {
    /// The letters.
    pub items: Vec<DeadLetterDto>,
    /// Pass as `after` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The query of `GET /admin/v1/dead-letters`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Letters numbered above this one (the previous page's `next`).
    #[param(schema_with = rules::dead_letter_after)]
    pub after: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(schema_with = admin::page_size)]
    pub limit: Option<String>,
}

fn letter_id(raw: &str) -> Result<DeadLetterId, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(format!("dead letter {raw:?} not found (ids are positive integers)")))
}

/// Parked events, oldest first.
#[utoipa::path(
    get, operation_id = "admin_list_dead_letters", path = "/admin/v1/dead-letters", tag = "admin", security(("admin_token" = [])),
    params(ListParams),
    responses(
        (status = 200, body = DeadLetterList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_dead_letters(
    State(service): State<DeadLetterService>,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<DeadLetterList>, ApiError> {
    let after = match p.after.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            Some(raw.parse::<DeadLetterId>().map_err(|e| ApiError::invalid("after", format!("{e} (got {raw:?})")))?)
        }
    };
    let limit = admin::limit(p.limit.as_deref(), admin::PAGE_SIZE.into())?;
    let page = service.list(after, limit).await?;
    Ok(Json(DeadLetterList {
        items: page.items.iter().map(|l| DeadLetterDto::new(l, page.as_of)).collect(),
        next: page.next.map(|id| id.to_string()),
    }))
}

/// One parked event.
#[utoipa::path(
    get, operation_id = "admin_get_dead_letter", path = "/admin/v1/dead-letters/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = u64, Path)),
    responses((status = 200, body = DeadLetterDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_dead_letter(
    State(service): State<DeadLetterService>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeadLetterDto>, ApiError> {
    let (letter, now) = service.get(letter_id(&id)?).await?;
    Ok(Json(DeadLetterDto::new(&letter, now)))
}

/// Sends the event again to every consumer (each ignores what it already handled) and
/// removes the letter. Answers with the letter as it was.
#[utoipa::path(
    post, operation_id = "admin_replay_dead_letter", path = "/admin/v1/dead-letters/{id}/replay", tag = "admin", security(("admin_token" = [])),
    params(("id" = u64, Path)),
    responses(
        (status = 202, body = DeadLetterDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The message does not decode: it can only be discarded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replay_dead_letter(
    State(service): State<DeadLetterService>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<DeadLetterDto>), ApiError> {
    let (letter, now) = service.replay(letter_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(DeadLetterDto::new(&letter, now))))
}

/// Removes the letter for good.
#[utoipa::path(
    delete, operation_id = "admin_discard_dead_letter", path = "/admin/v1/dead-letters/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = u64, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn discard_dead_letter(
    State(service): State<DeadLetterService>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    service.discard(letter_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
