//! Admin routes (behind an [`AdminAuthorizer`], the bearer admin token by default):
//! products, collections, stock, orders.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use commerce_core::{
    catalog::{ProductSearch, Version},
    ids::{CollectionId, OrderId, ProductId},
    inventory::OnHand,
    order::OrderStatus,
    ports::OrderQuery,
    services::{
        catalog::CatalogService,
        orders::OrderService,
        restock::{RestockService, StockChange},
    },
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    dto::{
        AdminProduct, AdminProductPage, CollectionDto, CollectionList, CreateCollectionRequest, CreateProductRequest,
        CreateShipmentRequest, OrderDto, OrderPage, RestockAccepted, SetStockRequest, ShipmentDto, StockDto,
        UpdateCollectionRequest, UpdateProductRequest,
    },
    error::{ApiError, Problem},
    extract::{ApiJson, ApiPath, ApiQuery, etag, if_match, path_id, with_location},
    openapi::rules,
};

pub use commerce_core::services::restock::RestockDelivery;

pub use crate::auth::{AdminAuthorizer, AdminToken};

/// What the admin routes need.
#[derive(Clone)]
pub struct AdminState {
    /// Products and collections.
    pub catalog: CatalogService,
    /// Restocks and stock reads.
    pub stock: RestockService,
    /// Orders.
    pub orders: OrderService,
    /// Who may call these routes ([`AdminToken`] by default).
    pub authorizer: Arc<dyn AdminAuthorizer>,
}

/// Every `/admin/v1/...` route, behind the state's authorizer.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/admin/v1/products", post(create_product).get(list_products))
        .route("/admin/v1/products/{id}", get(get_product).patch(update_product).delete(archive_product))
        .route("/admin/v1/products/{id}/stock", put(set_stock).get(get_stock))
        .route("/admin/v1/collections", post(create_collection).get(list_collections))
        .route("/admin/v1/collections/{id}", get(get_collection).patch(update_collection).delete(delete_collection))
        .route("/admin/v1/orders", get(list_orders))
        .route("/admin/v1/orders/{id}", get(get_order))
        .route("/admin/v1/orders/{id}/fulfil", post(fulfil_order))
        .route("/admin/v1/orders/{id}/shipments", post(create_shipment))
        .route_layer(middleware::from_fn_with_state(state.authorizer.clone(), require_admin))
        .with_state(state)
}

pub(crate) async fn require_admin(
    State(authorizer): State<Arc<dyn AdminAuthorizer>>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    match authorizer.authorize(&parts).await {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(e) => e.into_response(),
    }
}

fn with_etag(status: StatusCode, version: Version, body: impl IntoResponse) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// Create a product.
#[utoipa::path(
    post, operation_id = "admin_create_product", path = "/admin/v1/products", tag = "admin", security(("admin_token" = [])),
    request_body = CreateProductRequest,
    responses(
        (status = 201, body = AdminProduct, headers(("ETag" = String, description = "The version, quoted"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Duplicate SKU", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_product(
    State(s): State<AdminState>,
    ApiJson(body): ApiJson<CreateProductRequest>,
) -> Result<Response, ApiError> {
    let product = s.catalog.create_product(&body.into()).await?;
    let response = with_etag(StatusCode::CREATED, product.version, Json(AdminProduct::from(&product)));
    Ok(with_location(response, &format!("/admin/v1/products/{}", product.id)))
}

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-100, default 50.
    #[param(schema_with = page_size)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(schema_with = rules::id_cursor)]
    pub cursor: Option<String>,
    /// Part of a name or SKU.
    #[param(schema_with = rules::product_search)]
    pub q: Option<String>,
}

/// The default page size of the admin listings.
pub(crate) const PAGE_SIZE: u8 = 50;

/// The `limit` parameter's schema in the admin listings.
pub(crate) fn page_size() -> utoipa::openapi::Object {
    rules::page_size(PAGE_SIZE)
}

/// The `limit` of an admin listing: `default` when absent, 1 to 100 otherwise (422 naming
/// `limit`).
pub(crate) fn limit(raw: Option<&str>, default: usize) -> Result<usize, ApiError> {
    match raw {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", format!("must be a whole number from 1 to 100 (got {v:?})"))),
    }
}

/// List products in any status, in id order.
#[utoipa::path(
    get, operation_id = "admin_list_products", path = "/admin/v1/products", tag = "admin", security(("admin_token" = [])), params(PageParams),
    responses((status = 200, body = AdminProductPage), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_products(
    State(s): State<AdminState>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<AdminProductPage>, ApiError> {
    let limit = limit(p.limit.as_deref(), PAGE_SIZE.into())?;
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<ProductId>().map_err(|_| ApiError::invalid("cursor", "is not a cursor returned by this API"))?,
        ),
        None => None,
    };
    let mut items = match p.q.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => {
            let search = ProductSearch::parse(q).map_err(|e| ApiError::invalid("q", e))?;
            s.catalog.search_products(&search, after, limit + 1).await?
        }
        None => s.catalog.products(after, limit + 1).await?,
    };
    let next = (items.len() > limit).then(|| items[limit - 1].id.to_string());
    items.truncate(limit);
    Ok(Json(AdminProductPage { items: items.iter().map(AdminProduct::from).collect(), next_cursor: next }))
}

/// Read a product in any status.
#[utoipa::path(
    get, operation_id = "admin_get_product", path = "/admin/v1/products/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = AdminProduct), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_product(State(s): State<AdminState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let product = s.catalog.product(path_id(&id, "product")?).await?;
    Ok(with_etag(StatusCode::OK, product.version, Json(AdminProduct::from(&product))))
}

/// Change any subset of a product's fields.
#[utoipa::path(
    patch, operation_id = "admin_update_product", path = "/admin/v1/products/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"[0-9]{1,19}\"|[0-9]{1,19})$", description = "Version the change is based on, quoted or not (`3`, `\"3\"`, `W/\"3\"`, `*`)")),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, body = AdminProduct),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Duplicate SKU or archived product", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_product(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateProductRequest>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "product")?;
    let product = s.catalog.update_product(id, &body.into(), if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, product.version, Json(AdminProduct::from(&product))))
}

/// Archive a product: it leaves the store and can no longer be bought.
#[utoipa::path(
    delete, operation_id = "admin_archive_product", path = "/admin/v1/products/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"[0-9]{1,19}\"|[0-9]{1,19})$")),
    responses(
        (status = 200, description = "The archived product", body = AdminProduct),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn archive_product(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let product = s.catalog.archive_product(path_id(&id, "product")?, if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, product.version, Json(AdminProduct::from(&product))))
}

/// Set a product's on-hand units.
///
/// Where restocks travel as events (catalog-api with `CATALOG_RESTOCK_VIA_EVENTS`), the answer is
/// `202` once the restock is recorded; the inventory service applies it shortly after,
/// and `GET` shows the level then. A restock below the reserved units is refused there
/// and parked in the dead-letter topic.
#[utoipa::path(
    put, operation_id = "admin_set_stock", path = "/admin/v1/products/{id}/stock", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)), request_body = SetStockRequest,
    responses(
        (status = 200, body = StockDto),
        (status = 202, description = "Recorded; the inventory service applies it asynchronously", body = RestockAccepted,
         headers(("Location" = String, description = "The product's stock"))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Below the units reserved by open checkouts", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_stock(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SetStockRequest>,
) -> Result<Response, ApiError> {
    let on_hand = OnHand::new(body.on_hand).map_err(|e| ApiError::invalid("on_hand", e))?;
    let id = path_id(&id, "product")?;
    match s.stock.set_stock(id, on_hand).await? {
        StockChange::Applied(level) => Ok(Json(StockDto::from(level)).into_response()),
        StockChange::Requested(accepted) => {
            let location = HeaderValue::try_from(format!("/admin/v1/products/{id}/stock"))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(RestockAccepted::from(accepted)))
                .into_response())
        }
    }
}

/// Read a product's stock.
#[utoipa::path(
    get, operation_id = "admin_get_stock", path = "/admin/v1/products/{id}/stock", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = StockDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_stock(State(s): State<AdminState>, ApiPath(id): ApiPath<String>) -> Result<Json<StockDto>, ApiError> {
    Ok(Json(StockDto::from(s.stock.stock(path_id(&id, "product")?).await?)))
}

/// Create a collection.
#[utoipa::path(
    post, operation_id = "admin_create_collection", path = "/admin/v1/collections", tag = "admin", security(("admin_token" = [])),
    request_body = CreateCollectionRequest,
    responses(
        (status = 201, body = CollectionDto),
        (status = 409, description = "Duplicate slug", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_collection(
    State(s): State<AdminState>,
    ApiJson(body): ApiJson<CreateCollectionRequest>,
) -> Result<Response, ApiError> {
    let c = s.catalog.create_collection(&body.into()).await?;
    Ok(with_etag(StatusCode::CREATED, c.version, Json(CollectionDto::from(&c))))
}

/// List collections.
#[utoipa::path(get, operation_id = "admin_list_collections", path = "/admin/v1/collections", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = CollectionList)))]
pub async fn list_collections(State(s): State<AdminState>) -> Result<Json<CollectionList>, ApiError> {
    Ok(Json(CollectionList { items: s.catalog.collections().await?.iter().map(CollectionDto::from).collect() }))
}

/// Read a collection.
#[utoipa::path(
    get, operation_id = "admin_get_collection", path = "/admin/v1/collections/{id}", tag = "admin", security(("admin_token" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = CollectionDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_collection(State(s): State<AdminState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let c = s.catalog.collection(path_id::<CollectionId>(&id, "collection")?).await?;
    Ok(with_etag(StatusCode::OK, c.version, Json(CollectionDto::from(&c))))
}

/// Change a collection.
#[utoipa::path(
    patch, operation_id = "admin_update_collection", path = "/admin/v1/collections/{id}", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path), ("If-Match" = Option<String>, Header, pattern = "^(\\*|(W/)?\"[0-9]{1,19}\"|[0-9]{1,19})$")), request_body = UpdateCollectionRequest,
    responses(
        (status = 200, body = CollectionDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_collection(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateCollectionRequest>,
) -> Result<Response, ApiError> {
    let id = path_id::<CollectionId>(&id, "collection")?;
    let c = s.catalog.update_collection(id, &body.into(), if_match(&headers)?).await?;
    Ok(with_etag(StatusCode::OK, c.version, Json(CollectionDto::from(&c))))
}

/// Delete an empty collection.
#[utoipa::path(
    delete, operation_id = "admin_delete_collection", path = "/admin/v1/collections/{id}", tag = "admin", security(("admin_token" = [])), params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Products still belong to it", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_collection(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    s.catalog.delete_collection(path_id::<CollectionId>(&id, "collection")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Order listing parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderParams {
    /// Only orders in this status.
    #[param(schema_with = rules::order_status)]
    pub status: Option<String>,
    /// 1-100, default 50.
    #[param(schema_with = page_size)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(schema_with = rules::id_cursor)]
    pub cursor: Option<String>,
}

/// List orders, newest first.
#[utoipa::path(
    get, operation_id = "admin_list_orders", path = "/admin/v1/orders", tag = "admin", security(("admin_token" = [])), params(OrderParams),
    responses((status = 200, body = OrderPage), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
pub async fn list_orders(
    State(s): State<AdminState>,
    ApiQuery(p): ApiQuery<OrderParams>,
) -> Result<Json<OrderPage>, ApiError> {
    let limit = limit(p.limit.as_deref(), PAGE_SIZE.into())?;
    let status = match p.status.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(OrderStatus::parse(raw).map_err(|e| ApiError::invalid("status", e))?),
        None => None,
    };
    let after = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Some(
            c.parse::<OrderId>().map_err(|_| ApiError::invalid("cursor", "is not a cursor returned by this API"))?,
        ),
        None => None,
    };
    let page = s.orders.list_orders(&OrderQuery { status, limit, after }).await?;
    Ok(Json(OrderPage {
        items: page.items.iter().map(|o| OrderDto::new(o, None)).collect(),
        next_cursor: page.next_after.map(|id| id.to_string()),
    }))
}

/// Read any order.
#[utoipa::path(
    get, operation_id = "admin_get_order", path = "/admin/v1/orders/{id}", tag = "admin", security(("admin_token" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = OrderDto), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
pub async fn get_order(State(s): State<AdminState>, ApiPath(id): ApiPath<String>) -> Result<Json<OrderDto>, ApiError> {
    let order = s.orders.order(path_id(&id, "order")?).await?;
    Ok(Json(OrderDto::new(&order, None)))
}

/// Mark a paid order shipped.
#[utoipa::path(
    post, operation_id = "admin_fulfil_order", path = "/admin/v1/orders/{id}/fulfil", tag = "admin", security(("admin_token" = [])), params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, body = OrderDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not paid", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn fulfil_order(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<OrderDto>, ApiError> {
    let order = s.orders.fulfil(path_id(&id, "order")?).await?;
    Ok(Json(OrderDto::new(&order, None)))
}

/// Ship some or all of a paid order's remaining units.
#[utoipa::path(
    post, operation_id = "admin_create_shipment", path = "/admin/v1/orders/{id}/shipments", tag = "admin", security(("admin_token" = [])),
    params(("id" = uuid::Uuid, Path)),
    request_body = CreateShipmentRequest,
    responses(
        (status = 201, body = ShipmentDto),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not paid, or a quantity exceeds what remains to ship (`product_id`, `requested`, `remaining`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_shipment(
    State(s): State<AdminState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateShipmentRequest>,
) -> Result<Response, ApiError> {
    let id: OrderId = path_id(&id, "order")?;
    let (_, shipment) = s.orders.ship(id, &body.into()).await?;
    let response = (StatusCode::CREATED, Json(ShipmentDto::from(&shipment))).into_response();
    Ok(with_location(response, &format!("/admin/v1/orders/{id}")))
}
