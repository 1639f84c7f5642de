//! One error type for the HTTP layer, rendered as RFC 7807 `application/problem+json`.
//!
//! Client mistakes are 4xx with the offending fields; failures of our own
//! dependencies are 503 (retryable) or 500 with an opaque body, and their cause
//! is logged, never sent.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use commerce_core::{
    inventory::InventoryError,
    order::{RefundRefused, ShipmentRefused},
    ports::StoreError,
    services::{
        catalog::CatalogError, checkout::CheckoutError, dead_letters::DeadLetterError, pricing::PricingError,
        restock::RestockError, storefront::StorefrontError,
    },
    validation::ValidationErrors,
};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field at fault.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Path of the field (`price.amount`, `items[0].quantity`, `Idempotency-Key`).
    pub field: String,
    /// Why it was rejected.
    pub message: String,
}

fn field_problems(e: &ValidationErrors) -> Vec<FieldProblem> {
    e.errors().iter().map(|f| FieldProblem { field: f.field.clone(), message: f.message.clone() }).collect()
}

/// An RFC 7807 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `urn:commerce:problem:validation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fields at fault (validation problems).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// Extension members (`order_id`, `product_id`, ...).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
}

/// Every way a request can fail.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed (bad JSON, missing header).
    BadRequest(ValidationErrors),
    /// 401: missing or wrong credentials.
    Unauthorized,
    /// 403: the caller is known but may not do this.
    Forbidden(String),
    /// 402: the card was declined.
    PaymentRequired {
        /// What happened.
        detail: String,
        /// Extension members (`order_id`, `decline_code`).
        extensions: Map<String, Value>,
    },
    /// 404: no such resource (or the caller may not see it).
    NotFound(String),
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    Conflict {
        /// Short summary.
        title: &'static str,
        /// What happened.
        detail: String,
        /// Extension members.
        extensions: Map<String, Value>,
    },
    /// 412: `If-Match` did not match the current version.
    PreconditionFailed {
        /// The version the client sent.
        expected: u64,
        /// The current version.
        actual: u64,
    },
    /// 413: the body is too large.
    PayloadTooLarge(String),
    /// 415: the body is not JSON.
    UnsupportedMediaType(String),
    /// 422: the input is invalid; every bad field is listed.
    Validation(ValidationErrors),
    /// 503: a dependency is down; retry later.
    Unavailable(String),
    /// 500: a bug. The cause is logged, the body stays opaque.
    Internal(String),
}

impl ApiError {
    /// A 422 on a single field.
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        Self::Validation(ValidationErrors::single(field, message))
    }

    /// A 400 on a single field or header.
    pub fn bad_request(field: &str, message: impl std::fmt::Display) -> Self {
        Self::BadRequest(ValidationErrors::single(field, message))
    }

    /// The problem document and status of this error.
    pub fn problem(&self) -> Problem {
        let p = |status: StatusCode, kind: &str, title: &str, detail: Option<String>| Problem {
            kind: format!("urn:commerce:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors: vec![],
            extensions: Map::new(),
        };
        match self {
            Self::BadRequest(e) => Problem {
                errors: field_problems(e),
                ..p(StatusCode::BAD_REQUEST, "bad-request", "Malformed request", Some(e.to_string()))
            },
            Self::Unauthorized => p(StatusCode::UNAUTHORIZED, "unauthorized", "Missing or invalid bearer token", None),
            Self::Forbidden(d) => p(StatusCode::FORBIDDEN, "forbidden", "Forbidden", Some(d.clone())),
            Self::PaymentRequired { detail, extensions } => Problem {
                extensions: extensions.clone(),
                ..p(StatusCode::PAYMENT_REQUIRED, "payment-declined", "Payment declined", Some(detail.clone()))
            },
            Self::NotFound(what) => p(StatusCode::NOT_FOUND, "not-found", "Not found", Some(what.clone())),
            Self::MethodNotAllowed => {
                p(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed", None)
            }
            Self::Conflict { title, detail, extensions } => Problem {
                extensions: extensions.clone(),
                ..p(StatusCode::CONFLICT, "conflict", title, Some(detail.clone()))
            },
            Self::PreconditionFailed { expected, actual } => {
                let mut problem = p(
                    StatusCode::PRECONDITION_FAILED,
                    "version-mismatch",
                    "Version mismatch",
                    Some(format!("If-Match names version {expected} but the current version is {actual}")),
                );
                problem.extensions.insert("current_version".into(), (*actual).into());
                problem
            }
            Self::PayloadTooLarge(d) => {
                p(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Body too large", Some(d.clone()))
            }
            Self::UnsupportedMediaType(d) => p(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                Some(d.clone()),
            ),
            Self::Validation(e) => Problem {
                errors: field_problems(e),
                ..p(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid input", Some(e.to_string()))
            },
            Self::Unavailable(_) => p(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service temporarily unavailable",
                Some("a dependency is unavailable; retry later".into()),
            ),
            Self::Internal(_) => p(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error", None),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            _ => {}
        }
        let problem = self.problem();
        let mut response = problem_response(&problem);
        match self {
            Self::Unauthorized => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

/// Renders a problem with its status and media type.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))], body).into_response()
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Validation(v) => Self::Validation(v),
            CatalogError::ProductNotFound => Self::NotFound("product not found".into()),
            CatalogError::CollectionNotFound => Self::NotFound("collection not found".into()),
            CatalogError::Duplicate(what) => Self::Conflict {
                title: "Already exists",
                detail: format!("{what} already exists"),
                extensions: Map::new(),
            },
            CatalogError::VersionMismatch { expected, actual } => {
                Self::PreconditionFailed { expected: expected.get(), actual: actual.get() }
            }
            e @ CatalogError::Rule(_) => {
                Self::Conflict { title: "Not allowed", detail: e.to_string(), extensions: Map::new() }
            }
            e @ CatalogError::CollectionInUse => {
                Self::Conflict { title: "Collection in use", detail: e.to_string(), extensions: Map::new() }
            }
            CatalogError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<StorefrontError> for ApiError {
    fn from(e: StorefrontError) -> Self {
        match e {
            StorefrontError::Validation(v) => Self::Validation(v),
            StorefrontError::NotFound => Self::NotFound("product not found".into()),
            StorefrontError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<InventoryError> for ApiError {
    fn from(e: InventoryError) -> Self {
        match e {
            InventoryError::BelowReserved { product_id, on_hand, reserved } => {
                let mut extensions = Map::new();
                extensions.insert("product_id".into(), product_id.to_string().into());
                extensions.insert("reserved".into(), reserved.into());
                Self::Conflict {
                    title: "Stock is reserved",
                    detail: format!("on_hand {on_hand} is below the {reserved} units reserved by open checkouts"),
                    extensions,
                }
            }
            InventoryError::UnknownProduct(_) => Self::NotFound("product has no stock record".into()),
            InventoryError::InvalidRequest(m) => Self::invalid("body", m),
            InventoryError::Unavailable(m) => Self::Unavailable(m),
            // This server's configuration is at fault: a 500 whose cause is logged.
            e @ InventoryError::Unauthorized(_) => Self::Internal(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<RestockError> for ApiError {
    fn from(e: RestockError) -> Self {
        match e {
            RestockError::Catalog(e) => e.into(),
            RestockError::Inventory(e) => e.into(),
        }
    }
}

impl From<PricingError> for ApiError {
    fn from(e: PricingError) -> Self {
        match e {
            PricingError::Validation(v) => Self::Validation(v),
            PricingError::NotFound(what) => Self::NotFound(format!("{what} not found")),
            PricingError::Duplicate(what) => Self::Conflict {
                title: "Already exists",
                detail: format!("already exists: {what}"),
                extensions: Map::new(),
            },
            PricingError::Unavailable(m) => Self::Unavailable(m),
        }
    }
}

impl From<DeadLetterError> for ApiError {
    fn from(e: DeadLetterError) -> Self {
        match e {
            e @ DeadLetterError::NotFound(_) => Self::NotFound(e.to_string()),
            e @ DeadLetterError::NotReplayable(_) => {
                Self::Conflict { title: "Cannot be replayed", detail: e.to_string(), extensions: Map::new() }
            }
            e @ DeadLetterError::InvalidLimit => Self::invalid("limit", e.to_string()),
            DeadLetterError::Store(StoreError::Unavailable(m)) => Self::Unavailable(m),
            DeadLetterError::Store(other) => Self::Internal(other.to_string()),
        }
    }
}

fn shipment_refused(refused: &ShipmentRefused) -> ApiError {
    match *refused {
        ShipmentRefused::NotShippable(_) => ApiError::Conflict {
            title: "Not allowed in this state",
            detail: refused.to_string(),
            extensions: Map::new(),
        },
        ShipmentRefused::Exceeds { product_id, requested, remaining } => {
            let mut extensions = Map::new();
            extensions.insert("product_id".into(), product_id.to_string().into());
            extensions.insert("requested".into(), requested.into());
            extensions.insert("remaining".into(), remaining.into());
            ApiError::Conflict { title: "More than remains to ship", detail: refused.to_string(), extensions }
        }
    }
}

fn refund_refused(refused: &RefundRefused) -> ApiError {
    let mut extensions = Map::new();
    let title = match refused {
        RefundRefused::Currency(currency) => {
            return ApiError::invalid("amount.currency", format!("must be the order's currency, {currency}"));
        }
        RefundRefused::NotRefundable(_) | RefundRefused::TooMany => "Not allowed in this state",
        RefundRefused::LinesExceed { product_id, requested, refundable } => {
            extensions.insert("product_id".into(), product_id.to_string().into());
            extensions.insert("requested".into(), (*requested).into());
            extensions.insert("refundable".into(), (*refundable).into());
            "More than remains to refund"
        }
        RefundRefused::AmountExceeds { requested, refundable } => {
            let money =
                |m: &commerce_core::Money| serde_json::to_value(crate::dto::MoneyDto::from(*m)).unwrap_or_default();
            extensions.insert("requested".into(), money(requested));
            extensions.insert("refundable".into(), money(refundable));
            "More than remains to refund"
        }
    };
    ApiError::Conflict { title, detail: refused.to_string(), extensions }
}

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> Self {
        match e {
            CheckoutError::Validation(v) => Self::Validation(v),
            CheckoutError::NotFound => Self::NotFound("order not found".into()),
            CheckoutError::InvalidState(status) => Self::Conflict {
                title: "Not allowed in this state",
                detail: format!("the order is {}", status.as_str()),
                extensions: Map::new(),
            },
            CheckoutError::Shipment(refused) => shipment_refused(&refused),
            CheckoutError::Refund(refused) => refund_refused(&refused),
            CheckoutError::Cancel(refused) => {
                Self::Conflict { title: "Cannot cancel", detail: refused.to_string(), extensions: Map::new() }
            }
            CheckoutError::CardRefused(reason) => {
                let mut extensions = Map::new();
                extensions.insert("decline_code".into(), reason.as_str().into());
                Self::PaymentRequired { detail: "the card was refused".into(), extensions }
            }
            CheckoutError::InProgress => Self::Conflict {
                title: "Request in progress",
                detail: "a request with this Idempotency-Key is still being processed; retry shortly".into(),
                extensions: Map::new(),
            },
            CheckoutError::KeyReused => {
                Self::invalid("Idempotency-Key", "this key was already used with a different request body")
            }
            CheckoutError::Interrupted { cause, .. } => Self::Unavailable(cause),
        }
    }
}
