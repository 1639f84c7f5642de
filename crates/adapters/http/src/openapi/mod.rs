//! The OpenAPI 3.1 document, generated from the handlers and DTOs.

use utoipa::{
    Modify, OpenApi,
    openapi::{
        Content, Ref, RefOr, ResponseBuilder, Schema, Type,
        extensions::Extensions,
        link::LinkBuilder,
        path::{Operation, ParameterIn},
        schema::SchemaType,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use crate::{admin, checkout, dead_letters, dto, error, mailbox, ops, pricing, refunds, store, webhooks};

pub mod rules;

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
        admin::list_orders, admin::get_order, admin::fulfil_order, admin::create_shipment,
        refunds::cancel_order, refunds::create_refund, mailbox::mailbox,
        pricing::create_shipping_method, pricing::list_shipping_methods, pricing::get_shipping_method,
        pricing::update_shipping_method, pricing::delete_shipping_method, pricing::shipping_offers,
        pricing::create_tax_rate, pricing::list_tax_rates, pricing::get_tax_rate, pricing::delete_tax_rate,
        dead_letters::list_dead_letters, dead_letters::get_dead_letter, dead_letters::replay_dead_letter,
        dead_letters::discard_dead_letter,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi,
        webhooks::stripe,
        graphql_query, graphql_ide,
    ),
    components(schemas(error::Problem, dto::MoneyDto, store::SortParam)),
    modifiers(&Security, &ErrorResponses, &Links, &DomainRules),
    tags(
        (name = "store", description = "Browse products (no auth)"),
        (name = "checkout", description = "Buy with a card (no auth; Idempotency-Key required)"),
        (name = "admin", description = "Manage the catalog, stock and orders (bearer admin token)"),
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "webhooks", description = "The card processor's signed notifications (served when STRIPE_WEBHOOK_SECRET is set)"),
    )
)]
pub struct ApiDoc;

/// GraphQL storefront (see docs/graphql.md): `{"query": "...", "variables": {...}}`.
#[utoipa::path(
    post, operation_id = "store_graphql", path = "/store/graphql", tag = "store",
    request_body(content = Object, description = "A GraphQL request: query, optional variables and operationName"),
    responses(
        (status = 200, description = "A GraphQL response: data and/or errors", content_type = "application/graphql-response+json", body = Object),
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

/// Every error is a problem document: each operation gets a `default` problem
/// response (covering 400, 413, 415, 503, 500, ...) and each admin operation a 401.
struct ErrorResponses;

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = Content::new(Some(Ref::from_schema_name("Problem")));
    RefOr::T(ResponseBuilder::new().description(description).content(crate::error::PROBLEM_JSON, content).build())
}

impl Modify for ErrorResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut doc.paths.paths {
            let admin = path.starts_with("/admin/");
            let operations: [&mut Option<Operation>; 5] =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if admin {
                    responses.entry("401".into()).or_insert_with(|| problem_response("Missing or invalid admin token"));
                }
                responses
                    .entry("default".into())
                    .or_insert_with(|| problem_response("Any other error, as a problem document"));
            }
        }
    }
}

/// Links from the operations that create a resource to those that use it, so clients
/// (and schemathesis' stateful phase) can follow a checkout to its order and a new product
/// or collection to its routes: `$response.body#/id` fills the `id` path parameter.
struct Links;

/// A `POST` that creates a resource: its path, the statuses that return it, and the
/// links (name, target operation id) to put on those responses.
struct Creates {
    path: &'static str,
    statuses: &'static [&'static str],
    links: &'static [(&'static str, &'static str)],
}

const LINKS: [Creates; 3] = [
    Creates {
        path: "/store/v1/checkout",
        statuses: &["201", "202"],
        links: &[
            ("GetOrder", "store_get_order"),
            ("AdminGetOrder", "admin_get_order"),
            ("FulfilOrder", "admin_fulfil_order"),
        ],
    },
    Creates {
        path: "/admin/v1/products",
        statuses: &["201"],
        links: &[
            ("GetProduct", "admin_get_product"),
            ("UpdateProduct", "admin_update_product"),
            ("SetStock", "admin_set_stock"),
            ("GetStock", "admin_get_stock"),
            ("ArchiveProduct", "admin_archive_product"),
            ("StoreProduct", "store_get_product"),
        ],
    },
    Creates {
        path: "/admin/v1/collections",
        statuses: &["201"],
        links: &[
            ("GetCollection", "admin_get_collection"),
            ("UpdateCollection", "admin_update_collection"),
            ("DeleteCollection", "admin_delete_collection"),
        ],
    },
];

impl Modify for Links {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for Creates { path, statuses, links } in LINKS {
            let Some(operation) = doc.paths.paths.get_mut(path).and_then(|item| item.post.as_mut()) else { continue };
            for status in statuses {
                let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) else { continue };
                for (name, target) in links {
                    let link = LinkBuilder::new().operation_id(*target).parameter("id", "$response.body#/id").build();
                    response.links.insert((*name).to_owned(), RefOr::T(link));
                }
            }
        }
    }
}

/// What the derive macros cannot say: an optional header is absent, never `null`, and a
/// card's CVC length follows its brand (`if`/`then`/`else`, written as raw keywords).
struct DomainRules;

impl Modify for DomainRules {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            let headers = operations
                .into_iter()
                .flatten()
                .flat_map(|operation| operation.parameters.iter_mut().flatten())
                .filter(|parameter| parameter.parameter_in == ParameterIn::Header);
            for header in headers {
                if let Some(RefOr::T(Schema::Object(schema))) = &mut header.schema {
                    schema.schema_type = SchemaType::Type(Type::String);
                }
            }
        }
        let card = doc.components.as_mut().and_then(|c| c.schemas.get_mut("CardRequest"));
        if let Some(RefOr::T(Schema::Object(card))) = card {
            card.extensions.get_or_insert_with(Default::default).merge(Extensions::from_iter(rules::card_brand_rule()));
        }
        let checkout = doc.components.as_mut().and_then(|c| c.schemas.get_mut("CheckoutRequest"));
        if let Some(RefOr::T(Schema::Object(checkout))) = checkout {
            checkout
                .extensions
                .get_or_insert_with(Default::default)
                .merge(Extensions::from_iter(rules::one_way_to_pay()));
        }
        let refund = doc.components.as_mut().and_then(|c| c.schemas.get_mut("CreateRefundRequest"));
        if let Some(RefOr::T(Schema::Object(refund))) = refund {
            refund
                .extensions
                .get_or_insert_with(Default::default)
                .merge(Extensions::from_iter(rules::one_way_to_refund()));
        }
    }
}

impl ApiDoc {
    /// The document as pretty JSON.
    pub fn json() -> Result<String, serde_json::Error> {
        to_json(&Self::openapi())
    }
}

/// `doc` as pretty JSON. utoipa 5.5 writes a link's fields as `operation_id` and
/// `operation_ref`; OpenAPI spells them `operationId` and `operationRef`, so they are
/// renamed here (tools would ignore the link otherwise).
pub fn to_json(doc: &utoipa::openapi::OpenApi) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(doc)?;
    if let Some(paths) = value.get_mut("paths").and_then(serde_json::Value::as_object_mut) {
        let links = paths
            .values_mut()
            .filter_map(serde_json::Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .filter_map(|op| op.get_mut("responses").and_then(serde_json::Value::as_object_mut))
            .flat_map(|responses| responses.values_mut())
            .filter_map(|response| response.get_mut("links").and_then(serde_json::Value::as_object_mut))
            .flat_map(|links| links.values_mut())
            .filter_map(serde_json::Value::as_object_mut);
        for link in links {
            for (from, to) in [("operation_id", "operationId"), ("operation_ref", "operationRef")] {
                if let Some(v) = link.remove(from) {
                    link.insert(to.to_owned(), v);
                }
            }
        }
    }
    serde_json::to_string_pretty(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkout_links_to_its_order() {
        let doc: serde_json::Value = serde_json::from_str(&ApiDoc::json().unwrap()).unwrap();
        let created = &doc["paths"]["/store/v1/checkout"]["post"]["responses"]["201"];
        assert_eq!(created["links"]["GetOrder"]["operationId"], "store_get_order", "{created}");
    }

    #[test]
    fn parameters_state_their_rules() {
        let doc: serde_json::Value = serde_json::from_str(&ApiDoc::json().unwrap()).unwrap();
        let params = &doc["paths"]["/store/v1/products"]["get"]["parameters"];
        let named = |name: &str| params.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap().clone();
        assert_eq!(named("limit")["schema"]["maximum"], 100);
        assert_eq!(named("sort")["schema"]["$ref"], "#/components/schemas/SortParam", "{}", named("sort"));
        let sorts = &doc["components"]["schemas"]["SortParam"]["enum"];
        assert_eq!(sorts, &serde_json::json!(["price_asc", "price_desc", "name", "newest", "stock_desc"]));
        let key = &doc["paths"]["/store/v1/checkout"]["post"]["parameters"][0]["schema"];
        assert_eq!((key["minLength"].clone(), key["maxLength"].clone()), (1.into(), 255.into()));
        let attr = named("attr");
        assert_eq!(attr["schema"]["propertyNames"]["pattern"], r"^attr\.[a-z0-9_]+$", "{attr}");
        assert_eq!(attr["schema"]["maxProperties"], 32);
        let if_match = &doc["paths"]["/admin/v1/products/{id}"]["patch"]["parameters"][1];
        assert_eq!(
            (if_match["name"].as_str(), if_match["schema"]["type"].as_str()),
            (Some("If-Match"), Some("string"))
        );
        let orders = &doc["paths"]["/admin/v1/orders"]["get"]["parameters"];
        assert_eq!(
            orders[0]["schema"]["enum"].as_array().map(Vec::len),
            Some(commerce_core::order::OrderStatus::ALL.len()),
            "{orders}"
        );
        assert_eq!(orders[2]["schema"]["format"], "uuid", "an admin cursor is the last id");
    }

    #[test]
    fn bodies_state_the_domain_rules() {
        let doc: serde_json::Value = serde_json::from_str(&ApiDoc::json().unwrap()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let product = &schemas["CreateProductRequest"]["properties"];
        assert_eq!(product["sku"]["pattern"], commerce_core::catalog::Sku::RULE.pattern);
        assert_eq!(product["name"]["maxLength"], 200);
        assert_eq!(product["attributes"]["maxProperties"], 32);
        let money = &schemas["MoneyDto"]["properties"];
        assert_eq!(money["amount"]["minimum"], 0);
        assert!(money["currency"]["enum"].as_array().unwrap().contains(&"JPY".into()));
        let card = &schemas["CardRequest"];
        assert_eq!(card["properties"]["number"]["format"], rules::CARD_NUMBER_FORMAT);
        assert_eq!(card["then"]["properties"]["cvc"]["pattern"], "^[0-9]{4}$", "American Express: 4 digits");
        assert_eq!(card["else"]["properties"]["cvc"]["pattern"], "^[0-9]{3}$");
        assert_eq!(schemas["CheckoutRequest"]["properties"]["email"]["format"], "email");
    }
}
