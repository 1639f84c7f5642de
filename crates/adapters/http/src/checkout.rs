//! Checkout routes (no auth; `Idempotency-Key` required) and reading an order back.
//!
//! A checkout claims its idempotency key first. The same key with the same body
//! replays the stored response (and charges nothing again); with another body
//! it is a 422; while the first request still runs, a 409. Responses are stored
//! once final. When nothing was created (a dependency was down before the order
//! existed) the key is released so the client can retry.

use std::sync::Arc;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use commerce_core::{
    ids::OrderId,
    order::{FailureReason, OrderStatus},
    ports::{Clock, IdempotencyClaim, IdempotencyStore, StoredResponse},
    services::{
        checkout::{CheckoutError, CheckoutService, PlacedOrder},
        orders::OrderService,
    },
};
use serde_json::Map;
use sha2::{Digest, Sha256};

use crate::{
    dto::{CheckoutRequest, OrderDto, failure_json},
    error::{ApiError, PROBLEM_JSON, Problem},
    extract::{ApiPath, bearer, path_id},
};

/// What the checkout routes need.
#[derive(Clone)]
pub struct CheckoutState {
    /// Checkout.
    pub checkout: CheckoutService,
    /// Order reads.
    pub orders: OrderService,
    /// Idempotency keys.
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Time source for key claims.
    pub clock: Arc<dyn Clock>,
    /// An unfinished claim older than this is presumed abandoned by a crashed worker.
    pub claim_stale_after_secs: i64,
}

/// `POST /store/v1/checkout`, `GET /store/v1/orders/{id}`.
pub fn router(state: CheckoutState) -> Router {
    Router::new()
        .route("/store/v1/checkout", post(checkout))
        .route("/store/v1/orders/{id}", get(get_order))
        .with_state(state)
}

/// The header that makes a checkout safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let missing =
        || ApiError::bad_request("Idempotency-Key", "this header is required: send a unique key per checkout attempt");
    let key = headers.get(IDEMPOTENCY_KEY).ok_or_else(missing)?;
    let key = key.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key", "must be visible ASCII"))?.trim();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::bad_request("Idempotency-Key", "must be 1 to 255 characters"));
    }
    Ok(key.to_owned())
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if is_json { Ok(()) } else { Err(ApiError::UnsupportedMediaType("send the body as application/json".into())) }
}

/// Place an order and pay for it.
#[utoipa::path(
    post, operation_id = "store_checkout", path = "/store/v1/checkout", tag = "checkout",
    params(("Idempotency-Key" = String, Header, description = "Unique per checkout attempt; retries with the same key and body replay the response")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "Paid", body = OrderDto, headers(("Location" = String))),
        (status = 202, description = "Accepted but not finished (a dependency is slow); follow it with the access token", body = OrderDto),
        (status = 400, description = "Missing Idempotency-Key or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "Card declined; stock released, nothing captured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient stock (nothing charged), or the same key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input (each field named), or the key was used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is down; retry with the same key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn checkout(
    State(s): State<CheckoutState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    require_json(&headers)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(e.body_text())
        } else {
            ApiError::bad_request("body", e.body_text())
        }
    })?;
    let hash = format!("{:x}", Sha256::digest(&body));
    let now = s.clock.now();
    let claim = s
        .idempotency
        .claim(&key, &hash, now, now.plus_seconds(-s.claim_stale_after_secs))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let first_claimed_at = match claim {
        IdempotencyClaim::Completed(stored) => return Ok(replay(&stored)),
        IdempotencyClaim::Mismatch => {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "this key was already used with a different request body",
            ));
        }
        IdempotencyClaim::InProgress => {
            return Err(ApiError::Conflict {
                title: "Request in progress",
                detail: "a request with this Idempotency-Key is still being processed; retry shortly".into(),
                extensions: Map::new(),
            });
        }
        IdempotencyClaim::Acquired { first_claimed_at } => first_claimed_at,
    };

    let outcome = execute(&s, &body, order_id_for(&key, first_claimed_at)).await;
    match outcome {
        Outcome::Final(status, body) => {
            let stored = StoredResponse { status: status.as_u16(), body };
            if let Err(e) = s.idempotency.complete(&key, &stored).await {
                tracing::warn!(error = %e, "could not store the idempotent response");
            }
            Ok(stored_response(&stored))
        }
        Outcome::Retryable(error) => {
            if let Err(e) = s.idempotency.release(&key).await {
                tracing::warn!(error = %e, "could not release the idempotency key");
            }
            Err(error)
        }
        // The order exists but could not be read back: keep the key claimed so a retry
        // cannot create a second order; it becomes claimable again once stale.
        Outcome::Stranded(error) => Err(error),
    }
}

enum Outcome {
    Final(StatusCode, Vec<u8>),
    Retryable(ApiError),
    Stranded(ApiError),
}

fn problem_bytes(error: &ApiError) -> (StatusCode, Vec<u8>) {
    let problem = error.problem();
    (
        StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_vec(&problem).unwrap_or_default(),
    )
}

/// The order id of a checkout: a UUIDv7 whose time is the key's first claim and whose
/// random bits come from the key. Every attempt of one request (the same key, even
/// after a crashed attempt's claim was taken over) names the same order, so a retry
/// resumes that order instead of charging again; ids stay time-ordered.
pub fn order_id_for(key: &str, first_claimed_at: commerce_core::Timestamp) -> OrderId {
    let digest = Sha256::digest(key.as_bytes());
    let mut random = [0_u8; 10];
    random.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(first_claimed_at.unix_micros() / 1000).unwrap_or(0);
    OrderId::from_uuid(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
}

async fn execute(s: &CheckoutState, body: &[u8], order_id: OrderId) -> Outcome {
    let request: CheckoutRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) if e.is_data() => {
            let (status, body) = problem_bytes(&ApiError::invalid("body", e));
            return Outcome::Final(status, body);
        }
        Err(e) => {
            let (status, body) = problem_bytes(&ApiError::bad_request("body", e));
            return Outcome::Final(status, body);
        }
    };
    match s.checkout.place_order_as(&request.into(), order_id).await {
        Ok(placed) => {
            let (status, body) = placed_response(&placed);
            Outcome::Final(status, body)
        }
        Err(e @ CheckoutError::Interrupted { order: Some(_), .. }) => Outcome::Stranded(e.into()),
        Err(e @ CheckoutError::Interrupted { order: None, .. }) => Outcome::Retryable(e.into()),
        Err(e) => {
            let (status, body) = problem_bytes(&e.into());
            Outcome::Final(status, body)
        }
    }
}

fn placed_response(placed: &PlacedOrder) -> (StatusCode, Vec<u8>) {
    let order = &placed.order;
    let mut ext = Map::new();
    ext.insert("order_id".into(), order.id.to_string().into());
    ext.insert("status".into(), order.status.as_str().into());
    let error = match (order.status, order.failure) {
        (OrderStatus::Paid | OrderStatus::Fulfilled, _) => {
            let dto = OrderDto::new(order, Some(placed.access_token.clone()));
            return (StatusCode::CREATED, serde_json::to_vec(&dto).unwrap_or_default());
        }
        (OrderStatus::PaymentFailed, failure) => {
            if let Some(FailureReason::PaymentDeclined { reason }) = failure {
                ext.insert("decline_code".into(), serde_json::to_value(reason).unwrap_or_default());
            }
            if let Some(f) = failure {
                ext.insert("failure".into(), failure_json(f));
            }
            ApiError::PaymentRequired {
                detail: "the card was declined; the stock was released and nothing was charged".into(),
                extensions: ext,
            }
        }
        (OrderStatus::Cancelled, failure) => {
            let detail = match failure {
                Some(FailureReason::OutOfStock { product_id, requested, available }) => {
                    ext.insert("product_id".into(), product_id.to_string().into());
                    ext.insert("requested".into(), requested.into());
                    ext.insert("available".into(), available.into());
                    format!("product {product_id}: requested {requested}, available {available}; nothing was charged")
                }
                _ => "the order could not be completed; nothing was charged".into(),
            };
            if let Some(f) = failure {
                ext.insert("failure".into(), failure_json(f));
            }
            ApiError::Conflict { title: "Insufficient stock", detail, extensions: ext }
        }
        // Suspended mid-saga: accepted, and finished (or compensated) by the recovery job.
        _ => {
            let dto = OrderDto::new(order, Some(placed.access_token.clone()));
            return (StatusCode::ACCEPTED, serde_json::to_vec(&dto).unwrap_or_default());
        }
    };
    problem_bytes(&error)
}

fn stored_response(stored: &StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status.is_success() { "application/json" } else { PROBLEM_JSON };
    let mut response =
        (status, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], stored.body.clone()).into_response();
    if status == StatusCode::CREATED
        && let Ok(dto) = serde_json::from_slice::<OrderDto>(&stored.body)
        && let Ok(location) = HeaderValue::from_str(&format!("/store/v1/orders/{}", dto.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn replay(stored: &StoredResponse) -> Response {
    let mut response = stored_response(stored);
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Read an order back with the access token returned at checkout.
#[utoipa::path(
    get, operation_id = "store_get_order", path = "/store/v1/orders/{id}", tag = "checkout",
    params(("id" = uuid::Uuid, Path, description = "Order id")),
    security(("order_token" = [])),
    responses(
        (status = 200, body = OrderDto),
        (status = 404, description = "No such order, or the token does not match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_order(
    State(s): State<CheckoutState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Json<OrderDto>, ApiError> {
    let id: OrderId = path_id(&id, "order")?;
    let token = bearer(&headers).ok_or_else(|| ApiError::NotFound("order not found".into()))?;
    let order = s.orders.order_for_customer(id, token).await?;
    Ok(Json(OrderDto::new(&order, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_deterministic_per_key_and_first_claim_and_time_ordered() {
        let t = commerce_core::Timestamp::from_unix_micros(1_767_225_600_123_456);
        let a = order_id_for("key-1", t);
        assert_eq!(a, order_id_for("key-1", t), "a retry of the same request names the same order");
        assert_ne!(a, order_id_for("key-2", t));
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(order_id_for("key-0", t.plus_seconds(1)) > a, "later first claims sort later");
    }
}
