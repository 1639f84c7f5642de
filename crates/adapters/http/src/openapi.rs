//! The OpenAPI 3.1 document, generated from the handlers and DTOs.

use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

use crate::{admin, checkout, dto, error, ops, store};

/// The whole HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "commerce",
        description = "Store, checkout and admin APIs of the commerce toolkit. Money is integer minor units plus an ISO 4217 currency. Errors are RFC 7807 application/problem+json with the offending fields in `errors`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        store::list_products, store::get_product, store::list_collections,
        checkout::checkout, checkout::get_order,
        admin::create_product, admin::list_products, admin::get_product, admin::update_product, admin::archive_product,
        admin::set_stock, admin::get_stock,
        admin::create_collection, admin::list_collections, admin::get_collection, admin::update_collection, admin::delete_collection,
        admin::list_orders, admin::get_order, admin::fulfil_order,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
        graphql_query, graphql_ide,
    ),
    components(schemas(error::Problem, dto::MoneyDto)),
    modifiers(&Security),
    tags(
        (name = "store", description = "Browse products (no auth)"),
        (name = "checkout", description = "Buy with a card (no auth; Idempotency-Key required)"),
        (name = "admin", description = "Manage the catalog, stock and orders (bearer admin token)"),
        (name = "ops", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// GraphQL storefront (see docs/graphql.md): `{"query": "...", "variables": {...}}`.
#[utoipa::path(
    post, operation_id = "store_graphql", path = "/store/graphql", tag = "store",
    request_body(content = Object, description = "A GraphQL request: query, optional variables and operationName"),
    responses(
        (status = 200, description = "A GraphQL response: data and/or errors", body = Object),
        (status = 400, description = "Not a GraphQL request", body = Object),
    )
)]
#[allow(dead_code, reason = "documents the route served by commerce-graphql")]
fn graphql_query() {}

/// GraphiQL, an in-browser IDE for the GraphQL storefront.
#[utoipa::path(get, operation_id = "store_graphiql", path = "/store/graphql", tag = "store", responses((status = 200, content_type = "text/html", body = String)))]
#[allow(dead_code, reason = "documents the route served by commerce-graphql")]
fn graphql_ide() {}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("admin_token", bearer());
        components.add_security_scheme("order_token", bearer());
    }
}

impl ApiDoc {
    /// The document as pretty JSON.
    pub fn json() -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(&Self::openapi())
    }
}
