//! Shipping methods and tax rates: `/admin/v1/shipping-methods`, `/admin/v1/tax-rates`
//! (behind the admin authorizer) and `GET /store/v1/shipping-methods` (no auth).

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use commerce_core::services::pricing::PricingService;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    admin::{AdminAuthorizer, require_admin},
    dto::{
        CreateShippingMethodRequest, CreateTaxRateRequest, ShippingMethodDto, ShippingMethodList, ShippingOfferDto,
        ShippingOfferList, TaxRateDto, TaxRateList, UpdateShippingMethodRequest,
    },
    error::{ApiError, Problem},
    extract::{ApiJson, ApiPath, ApiQuery, path_id, with_location},
    openapi::rules,
};

/// What the admin pricing routes need.
#[derive(Clone)]
pub struct PricingAdminState {
    /// Shipping methods and tax rates.
    pub pricing: PricingService,
    /// Who may call these routes.
    pub authorizer: Arc<dyn AdminAuthorizer>,
}

/// `/admin/v1/shipping-methods[/{id}]` and `/admin/v1/tax-rates[/{id}]`.
pub fn admin_router(state: PricingAdminState) -> Router {
    Router::new()
        .route("/admin/v1/shipping-methods", get(list_shipping_methods).post(create_shipping_method))
        .route(
            "/admin/v1/shipping-methods/{id}",
            get(get_shipping_method).patch(update_shipping_method).delete(delete_shipping_method),
        )
        .route("/admin/v1/tax-rates", get(list_tax_rates).post(create_tax_rate))
        .route("/admin/v1/tax-rates/{id}", get(get_tax_rate).delete(delete_tax_rate))
        .route_layer(middleware::from_fn_with_state(state.authorizer.clone(), require_admin))
        .with_state(state.pricing)
}

/// `GET /store/v1/shipping-methods`.
pub fn store_router(pricing: PricingService) -> Router {
    Router::new()
        .route("/store/v1/shipping-methods", get(shipping_offers))
        .with_state(pricing)
        .layer(axum::middleware::from_fn(crate::caching::conditional))
}

fn created(location: &str, body: impl IntoResponse) -> Response {
    with_location((StatusCode::CREATED, body).into_response(), location)
}

/// Create a shipping method.
#[utoipa::path(
    post, operation_id = "admin_create_shipping_method", path = "/admin/v1/shipping-methods", tag = "admin", security(("admin_token" = [])),
    request_body = CreateShippingMethodRequest,
    responses(
        (status = 201, body = ShippingMethodDto),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_shipping_method(
    State(pricing): State<PricingService>,
    ApiJson(body): ApiJson<CreateShippingMethodRequest>,
) -> Result<Response, ApiError> {
    let method = pricing.create_shipping_method(&body.into()).await?;
    Ok(created(&format!("/admin/v1/shipping-methods/{}", method.id), Json(ShippingMethodDto::from(&method))))
}

/// Every shipping method, by name.
#[utoipa::path(
    get, operation_id = "admin_list_shipping_methods", path = "/admin/v1/shipping-methods", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = ShippingMethodList), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_shipping_methods(
    State(pricing): State<PricingService>,
) -> Result<Json<ShippingMethodList>, ApiError> {
    let items = pricing.shipping_methods().await?;
    Ok(Json(ShippingMethodList { items: items.iter().map(ShippingMethodDto::from).collect() }))
}

/// Read a shipping method.
#[utoipa::path(
    get, operation_id = "admin_get_shipping_method", path = "/admin/v1/shipping-methods/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = ShippingMethodDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_shipping_method(
    State(pricing): State<PricingService>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ShippingMethodDto>, ApiError> {
    let method = pricing.shipping_method(path_id(&id, "shipping method")?).await?;
    Ok(Json(ShippingMethodDto::from(&method)))
}

/// Change any subset of a shipping method's fields.
#[utoipa::path(
    patch, operation_id = "admin_update_shipping_method", path = "/admin/v1/shipping-methods/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = UpdateShippingMethodRequest,
    responses(
        (status = 200, body = ShippingMethodDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_shipping_method(
    State(pricing): State<PricingService>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateShippingMethodRequest>,
) -> Result<Json<ShippingMethodDto>, ApiError> {
    let method = pricing.update_shipping_method(path_id(&id, "shipping method")?, &body.into()).await?;
    Ok(Json(ShippingMethodDto::from(&method)))
}

/// Delete a shipping method (orders keep their copy).
#[utoipa::path(
    delete, operation_id = "admin_delete_shipping_method", path = "/admin/v1/shipping-methods/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn delete_shipping_method(
    State(pricing): State<PricingService>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    pricing.delete_shipping_method(path_id(&id, "shipping method")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The query of `GET /store/v1/shipping-methods`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfferParams {
    /// The destination country (ISO 3166-1 alpha-2).
    #[param(value_type = rules::CountryCodeParam, inline)]
    pub country: String,
    /// The cart's net subtotal in minor units (default 0): methods free above a threshold
    /// it reaches cost 0.
    #[param(schema_with = rules::amount)]
    pub subtotal: Option<String>,
}

/// The active shipping methods serving a country, priced for a cart.
#[utoipa::path(
    get, operation_id = "store_list_shipping_methods", path = "/store/v1/shipping-methods", tag = "store", params(OfferParams),
    responses((status = 200, body = ShippingOfferList), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
pub async fn shipping_offers(
    State(pricing): State<PricingService>,
    ApiQuery(p): ApiQuery<OfferParams>,
) -> Result<Json<ShippingOfferList>, ApiError> {
    let subtotal = match p.subtotal.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            ApiError::invalid("subtotal", format!("must be a whole number of minor units (got {raw:?})"))
        })?),
    };
    let offers = pricing.offers(&p.country, subtotal).await?;
    Ok(Json(ShippingOfferList { items: offers.iter().map(ShippingOfferDto::from).collect() }))
}

/// Create a tax rate.
#[utoipa::path(
    post, operation_id = "admin_create_tax_rate", path = "/admin/v1/tax-rates", tag = "admin", security(("admin_token" = [])),
    request_body = CreateTaxRateRequest,
    responses(
        (status = 201, body = TaxRateDto),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A rate exists for this country and collection", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_tax_rate(
    State(pricing): State<PricingService>,
    ApiJson(body): ApiJson<CreateTaxRateRequest>,
) -> Result<Response, ApiError> {
    let rate = pricing.create_tax_rate(&body.into()).await?;
    Ok(created(&format!("/admin/v1/tax-rates/{}", rate.id), Json(TaxRateDto::from(&rate))))
}

/// Every tax rate, by country.
#[utoipa::path(
    get, operation_id = "admin_list_tax_rates", path = "/admin/v1/tax-rates", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = TaxRateList), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_tax_rates(State(pricing): State<PricingService>) -> Result<Json<TaxRateList>, ApiError> {
    let items = pricing.tax_rates().await?;
    Ok(Json(TaxRateList { items: items.iter().map(TaxRateDto::from).collect() }))
}

/// Read a tax rate.
#[utoipa::path(
    get, operation_id = "admin_get_tax_rate", path = "/admin/v1/tax-rates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = TaxRateDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_tax_rate(
    State(pricing): State<PricingService>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TaxRateDto>, ApiError> {
    let rate = pricing.tax_rate(path_id(&id, "tax rate")?).await?;
    Ok(Json(TaxRateDto::from(&rate)))
}

/// Delete a tax rate (orders keep the rates they were charged).
#[utoipa::path(
    delete, operation_id = "admin_delete_tax_rate", path = "/admin/v1/tax-rates/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn delete_tax_rate(
    State(pricing): State<PricingService>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    pricing.delete_tax_rate(path_id(&id, "tax rate")?).await?;
    Ok(StatusCode::NO_CONTENT)
}
