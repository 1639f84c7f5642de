//! Checkout routes (no auth; `Idempotency-Key` required) and reading an order back.
//!
//! The retry rules (claim the key, fingerprint the request, replay, in-progress and
//! mismatch answers, stale-claim takeover) are the core's
//! [`IdempotentCheckout`]; this module only maps its answer to HTTP: the order's status
//! to `201` / `202` / `402` / `409`, replays marked with `Idempotent-Replayed: true`.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use commerce_core::{
    idempotency::ClientKey,
    ids::OrderId,
    order::CheckoutOutcome,
    services::{
        checkout::{IdempotentCheckout, PlacedOrder},
        orders::OrderService,
    },
};
use serde_json::Map;

use crate::{
    dto::{CheckoutRequest, OrderDto, failure_json},
    error::{ApiError, Problem},
    extract::{ApiJson, ApiPath, bearer, path_id, with_location},
};

/// What the checkout routes need.
#[derive(Clone)]
pub struct CheckoutState {
    /// Retry-safe checkout.
    pub checkout: IdempotentCheckout,
    /// Order reads.
    pub orders: OrderService,
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

/// The `Idempotency-Key` header, required (400 naming it when missing or malformed).
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<ClientKey, ApiError> {
    let missing = || ApiError::bad_request("Idempotency-Key", "this header is required: send a unique key per attempt");
    let key = headers.get(IDEMPOTENCY_KEY).ok_or_else(missing)?;
    let key = key.to_str().map_err(|_| ApiError::bad_request("Idempotency-Key", "must be visible ASCII"))?;
    ClientKey::parse(key)
        .map_err(|_| ApiError::bad_request("Idempotency-Key", "must be 1 to 255 visible ASCII characters"))
}

/// Place an order and pay for it.
#[utoipa::path(
    post, operation_id = "store_checkout", path = "/store/v1/checkout", tag = "checkout",
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "Unique per checkout attempt (1 to 255 visible ASCII characters); retries with the same key and request replay the answer")),
    request_body = CheckoutRequest,
    responses(
        (status = 201, description = "Paid", body = OrderDto, headers(("Location" = String))),
        (status = 202, description = "Accepted but not finished: the card asks the customer to authenticate (status `awaiting_customer_action`, see `next_action`), or a dependency is slow; follow it with the access token", body = OrderDto),
        (status = 400, description = "Missing Idempotency-Key or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 402, description = "Card declined; stock released, nothing captured", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient stock (nothing charged), or the same key is still being processed", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input (each field named, never echoing card data), or the key was used with another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is down; retry with the same key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn checkout(
    State(s): State<CheckoutState>,
    headers: HeaderMap,
    body: Result<ApiJson<CheckoutRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let ApiJson(request) = body?;
    let reply = s.checkout.place_order(&key, &request.into()).await;
    let mut response = match reply.result {
        Ok(placed) => placed_response(&placed),
        Err(e) => ApiError::from(e).into_response(),
    };
    if reply.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The answer for an order as it stands (the core's [`CheckoutOutcome`]): paid (201),
/// failed (402 / 409, with the reason), waiting for the customer's authentication or still
/// running (202).
fn placed_response(placed: &PlacedOrder) -> Response {
    let order = &placed.order;
    let mut ext = Map::new();
    ext.insert("order_id".into(), order.id.to_string().into());
    ext.insert("status".into(), order.status.as_str().into());
    if let Some(f) = order.failure {
        ext.insert("failure".into(), failure_json(f));
    }
    let error = match order.checkout_outcome() {
        CheckoutOutcome::Paid => {
            let dto = OrderDto::new(order, Some(placed.access_token.clone()));
            let response = (StatusCode::CREATED, Json(dto)).into_response();
            return with_location(response, &format!("/store/v1/orders/{}", order.id));
        }
        // Waiting for the customer (`next_action` says how), or finished or compensated
        // by the recovery job.
        CheckoutOutcome::ActionRequired(_) | CheckoutOutcome::Processing => {
            let dto = OrderDto::new(order, Some(placed.access_token.clone()));
            return (StatusCode::ACCEPTED, Json(dto)).into_response();
        }
        CheckoutOutcome::PaymentFailed { decline } => {
            if let Some(reason) = decline {
                ext.insert("decline_code".into(), reason.as_str().into());
            }
            let detail = if decline.is_some() {
                "the card was declined; the stock was released and nothing was charged"
            } else {
                "the payment was not completed; the stock was released and nothing was charged"
            };
            ApiError::PaymentRequired { detail: detail.into(), extensions: ext }
        }
        CheckoutOutcome::OutOfStock { product_id, requested, available } => {
            ext.insert("product_id".into(), product_id.to_string().into());
            ext.insert("requested".into(), requested.into());
            ext.insert("available".into(), available.into());
            let detail =
                format!("product {product_id}: requested {requested}, available {available}; nothing was charged");
            ApiError::Conflict { title: "Insufficient stock", detail, extensions: ext }
        }
        CheckoutOutcome::Cancelled => ApiError::Conflict {
            title: "Insufficient stock",
            detail: "the order could not be completed; nothing was charged".into(),
            extensions: ext,
        },
    };
    error.into_response()
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
