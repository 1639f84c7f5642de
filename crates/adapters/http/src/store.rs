//! Store routes (no auth): listings, product pages, collections.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use commerce_core::{ids::ProductId, query::ProductQueryInput, services::storefront::StorefrontService};

use crate::{
    dto::{CollectionDto, CollectionList, StoreProduct, StoreProductPage},
    error::{ApiError, Problem},
    extract::{ApiPath, ApiQuery, path_id},
    openapi::rules,
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
        .layer(axum::middleware::from_fn(crate::caching::conditional))
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

/// The parameters of a listing, for the document only: the handler passes the raw pairs
/// to the core, which parses them for every inbound adapter alike.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code, reason = "documents the parameters of list_products")]
struct ListingParams {
    /// Full-text search: every word must start a word of the name, SKU, description or attributes.
    #[param(schema_with = rules::search_term)]
    q: Option<String>,
    /// Collection id.
    #[param(value_type = Option<uuid::Uuid>)]
    collection: Option<String>,
    /// Lowest price in minor units, inclusive.
    #[param(minimum = 0)]
    min_price: Option<i64>,
    /// Highest price in minor units, inclusive; at least `min_price`.
    #[param(minimum = 0)]
    max_price: Option<i64>,
    /// Only products with available stock.
    in_stock: Option<bool>,
    /// Attribute filters, each a parameter of its own: `attr.colour=red&attr.size=M`.
    #[param(style = Form, explode, schema_with = rules::attribute_filters)]
    attr: Option<std::collections::BTreeMap<String, String>>,
    /// Order (default `newest`).
    sort: Option<SortParam>,
    /// Page size 1-100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u8>,
    /// `next_cursor` of the previous page, with the same `sort`. Opaque: only values this
    /// API returned are valid.
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
}

/// List active products: search, filter, sort, page.
#[utoipa::path(
    get, operation_id = "store_list_products", path = "/store/v1/products", tag = "store",
    params(ListingParams),
    responses(
        (status = 200, body = StoreProductPage),
        (status = 422, description = "Invalid parameters; each is named", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_products(
    State(s): State<StoreState>,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let query = ProductQueryInput::from_pairs(params).validate().map_err(ApiError::Validation)?;
    let page = s.storefront.list(&query).await?;
    let collections = s.storefront.collections().await?;
    let capacity = 64 + page.items.len() * PRODUCT_JSON_BYTES;
    let page = StoreProductPage {
        items: page.items.into_iter().map(|v| StoreProduct::from_view(v, &collections)).collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    };
    // Written into a buffer sized for the page at once: growing axum's 128-byte start
    // buffer to a page's 8 KiB copied it seven times.
    let mut body = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut body, &page).map_err(|e| ApiError::Internal(format!("listing not encoded: {e}")))?;
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// About the JSON of one listed product (the seed's are 330 to 420 bytes).
const PRODUCT_JSON_BYTES: usize = 448;

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
