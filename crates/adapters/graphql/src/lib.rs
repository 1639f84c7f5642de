//! # commerce-graphql
//!
//! The storefront as a GraphQL API (async-graphql), served at `/store/graphql`
//! (POST for queries, GET for GraphiQL). It reads through the same
//! [`StorefrontService`] as the REST routes, so both validate queries alike.
//!
//! ```graphql
//! {
//!   products(filter: {q: "tee", inStock: true, attributes: [{name: "colour", value: "red"}]},
//!            sort: PRICE_ASC, first: 10) {
//!     edges { cursor node { id sku name price { amount currency } availableStock collection { name } } }
//!     pageInfo { hasNextPage endCursor }
//!   }
//!   facets(filter: {q: "tee"}) { attributes { name values { value count } } collections { collection { name } count } }
//! }
//! ```
//!
//! Queries deeper than [`MAX_DEPTH`], costlier than [`MAX_COMPLEXITY`] or with more than
//! [`MAX_ROOT_FIELDS`] root fields are refused before any resolver runs (the last by
//! [`router`]'s handler: an embedding that executes the schema itself calls
//! [`check_root_fields`]); bodies over the
//! HTTP layer's limit (`DefaultBodyLimit`, 64 KiB in `commerce-http`) are a 413 problem.

use std::sync::Arc;

use async_graphql::http::MultipartOptions;
use async_graphql::{Context, EmptySubscription, Enum, ErrorExtensions, ID, InputObject, Object, Schema, SimpleObject};
use async_graphql_axum::GraphQLResponse;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{FromRequest, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
mod checkout;
mod documents;
mod graphiql;
mod limits;
mod product;
pub use limits::check_root_fields;
pub use product::{Product, ProductEdge};

pub use checkout::{CHECKOUT_COST, CheckoutResult, MutationRoot};

use commerce_core::{
    catalog::Collection as DomainCollection,
    ids::ProductId,
    query::{Cursor, ProductQuery, ProductQueryParams, ProductView, SortOrder},
    services::{
        checkout::IdempotentCheckout,
        storefront::{StorefrontError, StorefrontService},
    },
    validation::ValidationErrors,
};

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 10;
/// Costliest query accepted (each field costs 1; a listing costs [`LISTING_COST`] plus its
/// `first` times its fields; `facets` costs [`FACETS_COST`]).
pub const MAX_COMPLEXITY: usize = 2_000;
/// Most root fields (aliases included) one request may ask for: root fields resolve
/// concurrently, so each one may hold a database connection.
pub const MAX_ROOT_FIELDS: usize = 10;
/// The weight of one listing query, besides its rows: one indexed page read.
pub const LISTING_COST: usize = 20;
/// The weight of `facets`: aggregations over every matching product, so at most three
/// fit in one request.
pub const FACETS_COST: usize = 500;
/// Where the API is served.
pub const PATH: &str = "/store/graphql";

/// The storefront schema.
pub type StoreSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema over a storefront service, without checkout (`storefront-api`:
/// checkout is `orders-service`'s): the `checkout` mutation is hidden and answers
/// `NOT_SERVED`.
pub fn schema(storefront: StorefrontService) -> StoreSchema {
    builder(storefront).finish()
}

/// The schema of a whole shop (`commerce`): the storefront and the `checkout` mutation.
pub fn shop_schema(storefront: StorefrontService, checkout: IdempotentCheckout) -> StoreSchema {
    builder(storefront).data(checkout).finish()
}

fn builder(storefront: StorefrontService) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .data(storefront)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
}

/// `POST /store/graphql` (queries) and `GET /store/graphql` (GraphiQL, its assets under
/// `/store/graphql/assets/`, all served from the binary).
pub fn router(schema: StoreSchema) -> Router {
    let state = Served { schema, documents: Arc::new(documents::DocumentCache::new(DOCUMENTS_KEPT)) };
    Router::new()
        .route(PATH, get(graphiql::page).post(execute))
        .route(graphiql::ASSETS, get(graphiql::asset))
        .with_state(state)
}

/// Parsed query texts [`router`] keeps (a shop's clients send a few dozen).
const DOCUMENTS_KEPT: usize = 512;

#[derive(Clone)]
struct Served {
    schema: StoreSchema,
    documents: Arc<documents::DocumentCache>,
}

/// Runs a query. The body is read through axum's `Bytes` extractor, so the router's
/// `DefaultBodyLimit` holds (async-graphql-axum's extractor streams the body past it): a
/// larger body is a 413 problem. A body that is not a GraphQL request is a 400 with a
/// GraphQL-shaped error (`extensions.code = "BAD_REQUEST"`), never a plain-text rejection.
async fn execute(State(Served { schema, documents }): State<Served>, request: axum::extract::Request) -> Response {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match Bytes::from_request(request, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return limits::too_large(),
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    match async_graphql::http::receive_body(content_type, body.as_ref(), MultipartOptions::default()).await {
        Ok(mut request) => {
            documents.parse_into(&mut request);
            match limits::check_root_fields(&mut request, MAX_ROOT_FIELDS) {
                Ok(()) => GraphQLResponse::from(schema.execute(request).await).into_response(),
                Err(e) => GraphQLResponse::from(async_graphql::Response::from_errors(vec![e])).into_response(),
            }
        }
        Err(e) => bad_request(&e.to_string()),
    }
}

fn bad_request(message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Listing order.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ProductSort {
    /// Cheapest first.
    PriceAsc,
    /// Most expensive first.
    PriceDesc,
    /// By name.
    Name,
    /// Newest first (default).
    Newest,
    /// Most stock first.
    StockDesc,
}

impl From<ProductSort> for SortOrder {
    fn from(s: ProductSort) -> Self {
        match s {
            ProductSort::PriceAsc => Self::PriceAsc,
            ProductSort::PriceDesc => Self::PriceDesc,
            ProductSort::Name => Self::Name,
            ProductSort::Newest => Self::Newest,
            ProductSort::StockDesc => Self::StockDesc,
        }
    }
}

/// An attribute equality filter.
#[derive(InputObject, Clone, Debug)]
pub struct AttributeFilter {
    /// Attribute name, e.g. `colour`.
    pub name: String,
    /// Required value, e.g. `red`.
    pub value: String,
}

/// Listing filters; all given filters must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct ProductFilter {
    /// Full-text search: every word must start a word of the product.
    pub q: Option<String>,
    /// Collection id.
    pub collection: Option<ID>,
    /// Lowest price in minor units, inclusive.
    pub min_price: Option<i64>,
    /// Highest price in minor units, inclusive.
    pub max_price: Option<i64>,
    /// Only products with available stock.
    pub in_stock: Option<bool>,
    /// Attribute filters.
    #[graphql(default)]
    pub attributes: Vec<AttributeFilter>,
}

/// Money in minor units.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    /// Minor units (cents for USD).
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// A name/value attribute.
#[derive(SimpleObject, Clone, Debug)]
pub struct Attribute {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A collection.
#[derive(SimpleObject, Clone, Debug)]
pub struct Collection {
    /// Id.
    pub id: ID,
    /// Handle.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
}

impl From<&DomainCollection> for Collection {
    fn from(c: &DomainCollection) -> Self {
        Self {
            id: ID(c.id.to_string()),
            slug: c.slug.to_string(),
            name: c.name.to_string(),
            description: c.description.to_string(),
        }
    }
}

/// Relay page information.
#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    /// More products follow.
    pub has_next_page: bool,
    /// Always false: paging is forward-only.
    pub has_previous_page: bool,
    /// Cursor of the first edge.
    pub start_cursor: Option<String>,
    /// Cursor of the last edge; pass as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A page of products.
#[derive(SimpleObject, Clone, Debug)]
pub struct ProductConnection {
    /// Products in order.
    pub edges: Vec<ProductEdge>,
    /// Paging.
    pub page_info: PageInfo,
}

/// A value and how many matching products have it.
#[derive(SimpleObject, Clone, Debug)]
pub struct FacetValue {
    /// Attribute value.
    pub value: String,
    /// Matching products.
    pub count: u64,
}

/// Counts per value of one attribute.
#[derive(SimpleObject, Clone, Debug)]
pub struct AttributeFacet {
    /// Attribute name.
    pub name: String,
    /// Values by name.
    pub values: Vec<FacetValue>,
}

/// Matching products in one collection.
#[derive(SimpleObject, Clone, Debug)]
pub struct CollectionFacet {
    /// The collection.
    pub collection: Collection,
    /// Matching products.
    pub count: u64,
}

/// Facet counts over every product matching a filter.
#[derive(SimpleObject, Clone, Debug)]
pub struct Facets {
    /// Per collection.
    pub collections: Vec<CollectionFacet>,
    /// Per attribute value.
    pub attributes: Vec<AttributeFacet>,
}

/// URL-style parameter names of the core validator, in GraphQL terms.
fn graphql_field(field: &str) -> String {
    match field {
        "q" => "filter.q".into(),
        "collection" => "filter.collection".into(),
        "min_price" => "filter.minPrice".into(),
        "max_price" => "filter.maxPrice".into(),
        "limit" => "first".into(),
        "cursor" => "after".into(),
        "attr" => "filter.attributes".into(),
        other => other.strip_prefix("attr.").map_or_else(|| other.to_owned(), |n| format!("filter.attributes.{n}")),
    }
}

fn validation_error(e: &ValidationErrors) -> async_graphql::Error {
    validation_error_named(e, graphql_field)
}

/// A `BAD_USER_INPUT` error listing every field at fault, named by `name`.
fn validation_error_named(e: &ValidationErrors, name: fn(&str) -> String) -> async_graphql::Error {
    let graphql_field = name;
    let fields: Vec<async_graphql::Value> = e
        .errors()
        .iter()
        .map(|f| {
            let mut m = async_graphql::indexmap::IndexMap::new();
            m.insert(async_graphql::Name::new("field"), async_graphql::Value::from(graphql_field(&f.field)));
            m.insert(async_graphql::Name::new("message"), async_graphql::Value::from(f.message.clone()));
            async_graphql::Value::Object(m)
        })
        .collect();
    let message =
        e.errors().iter().map(|f| format!("{}: {}", graphql_field(&f.field), f.message)).collect::<Vec<_>>().join("; ");
    async_graphql::Error::new(format!("invalid input: {message}")).extend_with(|_, ext| {
        ext.set("code", "BAD_USER_INPUT");
        ext.set("errors", async_graphql::Value::List(fields.clone()));
    })
}

fn storefront_error(e: StorefrontError) -> async_graphql::Error {
    match e {
        StorefrontError::Validation(v) => validation_error(&v),
        StorefrontError::NotFound => {
            async_graphql::Error::new("not found").extend_with(|_, ext| ext.set("code", "NOT_FOUND"))
        }
        // The cause stays in the server's logs; clients learn only that they may retry.
        StorefrontError::Unavailable(_) => {
            async_graphql::Error::new("temporarily unavailable").extend_with(|_, ext| ext.set("code", "UNAVAILABLE"))
        }
    }
}

/// The query of typed GraphQL arguments, checked by the core's rules. Only the two
/// arguments GraphQL carries as strings (an `ID`, a cursor) are parsed here.
fn product_query(
    filter: Option<ProductFilter>,
    sort: Option<ProductSort>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ProductQuery> {
    let f = filter.unwrap_or_default();
    let mut parse_errors = ValidationErrors::new();
    let collection =
        f.collection.and_then(|id| parse_errors.check("collection", ProductQueryParams::parse_collection(&id)));
    let after = after.and_then(|c| parse_errors.check("cursor", Cursor::decode(&c)));
    ProductQueryParams {
        q: f.q,
        collection,
        min_price: f.min_price,
        max_price: f.max_price,
        in_stock_only: f.in_stock.unwrap_or(false),
        attributes: f.attributes.into_iter().map(|a| (a.name, a.value)).collect(),
        sort: sort.map(SortOrder::from).unwrap_or_default(),
        limit: first.map(i64::from),
        after,
    }
    .validate_with(parse_errors)
    .map_err(|e| validation_error(&e))
}

/// The root of every query.
pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Active products matching `filter`, in `sort` order, `first` (1-100, default 20) per page.
    #[graphql(complexity = "LISTING_COST + first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProductFilter>,
        sort: Option<ProductSort>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ProductConnection> {
        let storefront = ctx.data::<StorefrontService>()?;
        let query = product_query(filter, sort, first, after)?;
        let page = storefront.list(&query).await.map_err(storefront_error)?;
        let collections = storefront.collections().await.map_err(storefront_error)?;
        let cursor = |v: Option<&ProductView>| v.map(|v| Cursor::after(query.sort, v).encode());
        let page_info = PageInfo {
            has_next_page: page.next_cursor.is_some(),
            has_previous_page: false,
            start_cursor: cursor(page.items.first()),
            end_cursor: cursor(page.items.last()),
        };
        let edges: Vec<ProductEdge> = page
            .items
            .into_iter()
            .map(|v| ProductEdge { node: Product::new(v, &collections), sort: query.sort })
            .collect();
        Ok(ProductConnection { edges, page_info })
    }

    /// One active product, or null.
    async fn product(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Product>> {
        let storefront = ctx.data::<StorefrontService>()?;
        let Ok(id) = id.parse::<ProductId>() else {
            return Ok(None);
        };
        match storefront.product(id).await {
            Ok(view) => {
                let collections = storefront.collections().await.map_err(storefront_error)?;
                Ok(Some(Product::new(view, &collections)))
            }
            Err(StorefrontError::NotFound) => Ok(None),
            Err(e) => Err(storefront_error(e)),
        }
    }

    /// Every collection.
    async fn collections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Collection>> {
        let storefront = ctx.data::<StorefrontService>()?;
        Ok(storefront.collections().await.map_err(storefront_error)?.iter().map(Collection::from).collect())
    }

    /// Counts per collection and attribute value over every product matching `filter`.
    #[graphql(complexity = "FACETS_COST + child_complexity")]
    async fn facets(&self, ctx: &Context<'_>, filter: Option<ProductFilter>) -> async_graphql::Result<Facets> {
        let storefront = ctx.data::<StorefrontService>()?;
        let query = product_query(filter, None, None, None)?;
        let facets = storefront.facets(&query).await.map_err(storefront_error)?;
        let collections = storefront.collections().await.map_err(storefront_error)?;
        Ok(Facets {
            collections: facets
                .collections
                .iter()
                .filter_map(|(id, count)| {
                    collections
                        .iter()
                        .find(|c| c.id == *id)
                        .map(|c| CollectionFacet { collection: c.into(), count: *count })
                })
                .collect(),
            attributes: facets
                .attributes
                .iter()
                .map(|(name, values)| AttributeFacet {
                    name: name.to_string(),
                    values: values
                        .iter()
                        .map(|(v, count)| FacetValue { value: v.to_string(), count: *count })
                        .collect(),
                })
                .collect(),
        })
    }
}
