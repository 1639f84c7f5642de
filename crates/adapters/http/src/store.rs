//! Store routes (no auth): listings, product pages, collections.

use axum::{Json, Router, extract::State, routing::get};
use commerce_core::{ids::ProductId, query::ProductQueryInput, services::storefront::StorefrontService};

use crate::{
    dto::{CollectionDto, CollectionList, StoreProduct, StoreProductPage},
    error::{ApiError, Problem},
    extract::{ApiPath, ApiQuery, path_id},
};

/// What the store routes need.
#[derive(Clone)]
pub struct StoreState {
    /// Listing and lookup over the read model.
    pub storefront: StorefrontService,
}

/// `/store/v1/products`, `/store/v1/products/{id}`, `/store/v1/collections`.
pub fn router(state: StoreState) -> Router {
    Router::new()
        .route("/store/v1/products", get(list_products))
        .route("/store/v1/products/{id}", get(get_product))
        .route("/store/v1/collections", get(list_collections))
        .with_state(state)
}

/// The listing orders, as the `sort` parameter spells them (documentation only: the core
/// parses the parameter, so every inbound adapter accepts the same names).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "documents the values of the sort parameter")]
pub enum SortParam {
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By name.
    Name,
    /// Newest first (the default).
    Newest,
    /// Most stock first.
    StockDesc,
}

/// List active products: search, filter, sort, page.
#[utoipa::path(
    get, operation_id = "store_list_products", path = "/store/v1/products", tag = "store",
    params(
        ("q" = Option<String>, Query, description = "Full-text search: every word must start a word of the name, SKU, description or attributes"),
        ("collection" = Option<String>, Query, description = "Collection id"),
        ("min_price" = Option<i64>, Query, minimum = 0, description = "Lowest price in minor units, inclusive"),
        ("max_price" = Option<i64>, Query, minimum = 0, description = "Highest price in minor units, inclusive"),
        ("in_stock" = Option<bool>, Query, description = "Only products with available stock"),
        ("attr.<name>" = Option<String>, Query, description = "Attribute filter, e.g. attr.colour=red (repeatable)"),
        ("sort" = Option<SortParam>, Query, description = "Order (default `newest`)"),
        ("limit" = Option<u8>, Query, minimum = 1, maximum = 100, description = "Page size 1-100, default 20"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = StoreProductPage),
        (status = 422, description = "Invalid parameters; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_products(
    State(s): State<StoreState>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<StoreProductPage>, ApiError> {
    let query = ProductQueryInput::from_pairs(params).validate().map_err(ApiError::Validation)?;
    let page = s.storefront.list(&query).await?;
    let collections = s.storefront.collections().await?;
    Ok(Json(StoreProductPage {
        items: page.items.iter().map(|v| StoreProduct::new(v, &collections)).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// One active product.
#[utoipa::path(
    get, operation_id = "store_get_product", path = "/store/v1/products/{id}", tag = "store",
    params(("id" = uuid::Uuid, Path, description = "Product id")),
    responses(
        (status = 200, body = StoreProduct),
        (status = 404, description = "No active product with this id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product(
    State(s): State<StoreState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StoreProduct>, ApiError> {
    let id: ProductId = path_id(&id, "product")?;
    let view = s.storefront.product(id).await?;
    let collections = s.storefront.collections().await?;
    Ok(Json(StoreProduct::new(&view, &collections)))
}

/// Every collection.
#[utoipa::path(get, operation_id = "store_list_collections", path = "/store/v1/collections", tag = "store", responses((status = 200, body = CollectionList)))]
pub async fn list_collections(State(s): State<StoreState>) -> Result<Json<CollectionList>, ApiError> {
    let collections = s.storefront.collections().await?;
    Ok(Json(CollectionList { items: collections.iter().map(CollectionDto::from).collect() }))
}
