//! After-sale admin routes: cancel an order, refund (part of) it. They run the checkout
//! saga (the processor and the inventory), so the service that runs checkouts serves them:
//! `commerce`, and `orders-service` when it has an admin token.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    middleware,
    response::{IntoResponse, Response},
    routing::post,
};
use commerce_core::{ids::OrderId, services::refunds::RefundService};

use crate::{
    auth::AdminAuthorizer,
    checkout::idempotency_key,
    dto::{CreateRefundRequest, OrderDto, RefundDto},
    error::{ApiError, Problem},
    extract::{ApiJson, ApiPath, path_id, with_location},
};

/// What the after-sale routes need.
#[derive(Clone)]
pub struct RefundAdminState {
    /// Refunds and cancellations.
    pub refunds: RefundService,
    /// Who may call these routes.
    pub authorizer: Arc<dyn AdminAuthorizer>,
}

/// `POST /admin/v1/orders/{id}/cancel` and `POST /admin/v1/orders/{id}/refunds`, behind the
/// state's authorizer.
pub fn router(state: RefundAdminState) -> Router {
    Router::new()
        .route("/admin/v1/orders/{id}/cancel", post(cancel_order))
        .route("/admin/v1/orders/{id}/refunds", post(create_refund))
        .route_layer(middleware::from_fn_with_state(state.authorizer.clone(), crate::admin::require_admin))
        .with_state(state)
}

/// Cancel an order: a paid one with nothing shipped is refunded in full and its stock
/// returned; one still in checkout has its card hold cancelled and its stock released.
#[utoipa::path(
    post, operation_id = "admin_cancel_order", path = "/admin/v1/orders/{id}/cancel", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "Cancelled (asking again answers the same); `status` is `cancelled` once the refund is issued and the stock back, and stays `paid` with a `pending` refund while the processor is unreachable (the recovery job finishes it)", body = OrderDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Something shipped (refund instead), the order already ended, or its checkout is completing (retry shortly)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The order store is down; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_order(
    State(s): State<RefundAdminState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OrderDto>, ApiError> {
    let order = s.refunds.cancel(path_id(&id, "order")?).await?;
    Ok(Json(OrderDto::new(&order, None)))
}

/// Refund lines (their price and tax, optionally back to stock) or an amount of a paid order.
#[utoipa::path(
    post, operation_id = "admin_create_refund", path = "/admin/v1/orders/{id}/refunds", tag = "admin", security(("admin_token" = [])),
    params(
        ("id" = uuid::Uuid, Path),
        ("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~]+$", description = "Unique per refund (1 to 255 visible ASCII characters); a retry with the same key and body answers with the first refund"),
    ),
    request_body = CreateRefundRequest,
    responses(
        (status = 201, description = "Recorded: `issued`, `failed` (the processor refused), or `pending` while the processor is unreachable (the recovery job issues it)", body = RefundDto, headers(("Location" = String))),
        (status = 400, description = "Missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not paid, being cancelled, or beyond what remains refundable (`requested`, `refundable`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input (each field named), or the key was used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The order store is down; retry with the same key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_refund(
    State(s): State<RefundAdminState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Result<ApiJson<CreateRefundRequest>, ApiError>,
) -> Result<Response, ApiError> {
    let id: OrderId = path_id(&id, "order")?;
    let key = idempotency_key(&headers)?;
    let ApiJson(request) = body?;
    let reply = s.refunds.refund(id, &key, &request.into()).await?;
    let response = (StatusCode::CREATED, Json(RefundDto::from(&reply.refund))).into_response();
    let mut response = with_location(response, &format!("/admin/v1/orders/{id}"));
    if reply.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
