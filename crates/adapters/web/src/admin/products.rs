//! The console's products: a paged list with status and stock, create and edit with the
//! fields' errors beside them and the "changed by someone else" conflict shown with the
//! current values, archive, and set stock.

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use commerce_core::{
    ProductId,
    catalog::{Product, ProductInput, ProductPatchInput, ProductSearch},
    inventory::OnHand,
    money::{Currency, Money},
    services::{catalog::CatalogError, restock::RestockError},
    validation::ValidationErrors,
};
use serde::Deserialize;

use super::{AdminLayout, CatalogConsole, Operator, form_version, path_id, unavailable};
use crate::error::{WebError, render};

/// Products per page of the list.
const PAGE: usize = 50;

struct Row {
    id: String,
    sku: String,
    name: String,
    price: String,
    status: &'static str,
    available: String,
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ListPage {
    layout: AdminLayout,
    rows: Vec<Row>,
    /// The search as typed, and why it was refused.
    q: String,
    q_error: Option<String>,
    next_href: Option<String>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    after: Option<String>,
    saved: Option<String>,
    #[serde(default)]
    q: String,
}

/// `GET /admin/products`: every product, any status, in creation order; with `q`, those
/// whose name or SKU contains it.
pub(crate) async fn list(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let after = q.after.as_deref().and_then(|a| a.parse::<ProductId>().ok());
    let search = (!q.q.trim().is_empty()).then(|| ProductSearch::parse(&q.q)).transpose();
    let (products, q_error) = match search {
        Ok(Some(search)) => (pages.catalog.search_products(&search, after, PAGE).await.map_err(unavailable)?, None),
        Ok(None) => (pages.catalog.products(after, PAGE).await.map_err(unavailable)?, None),
        Err(e) => (vec![], Some(e.to_string())),
    };
    let mut rows = Vec::with_capacity(products.len());
    for p in &products {
        let available = match pages.stock.stock(p.id).await {
            Ok(level) => format!("{} of {}", level.available(), level.on_hand),
            Err(_) => "unknown".into(),
        };
        rows.push(Row {
            id: p.id.to_string(),
            sku: p.sku.to_string(),
            name: p.name.to_string(),
            price: p.price.to_string(),
            status: p.status.as_str(),
            available,
        });
    }
    let next_href = products.last().filter(|_| products.len() == PAGE).map(|last| {
        let mut pairs = vec![("after", last.id.to_string())];
        if !q.q.trim().is_empty() {
            pairs.push(("q", q.q.clone()));
        }
        format!("/admin/products?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    });
    let notice = q.saved.map(|_| "Saved.".to_owned());
    let status = if q_error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = ListPage { layout: AdminLayout::new(&pages, &operator), rows, q: q.q, q_error, next_href, notice };
    Ok((status, render(&page)?).into_response())
}

/// The product form as it posts.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProductForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    sku: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    collection_id: String,
    /// One `name=value` per line.
    #[serde(default)]
    attributes: String,
    #[serde(default)]
    status: String,
}

impl ProductForm {
    fn of(p: &Product) -> Self {
        Self {
            csrf: String::new(),
            version: p.version.get().to_string(),
            sku: p.sku.to_string(),
            name: p.name.to_string(),
            description: p.description.to_string(),
            price: p.price.decimal(),
            currency: p.price.currency().to_string(),
            collection_id: p.collection_id.map(|c| c.to_string()).unwrap_or_default(),
            attributes: p.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n"),
            status: p.status.as_str().to_owned(),
        }
    }

    /// The core's input, or every field that is wrong: those the form itself could not
    /// read (price, currency, attribute lines) and those the core refuses.
    fn input(&self) -> Result<ProductInput, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let currency = errors.check("currency", Currency::parse(self.currency.trim()));
        let price = currency.and_then(|c| errors.check("price", Money::parse_decimal(&self.price, c)));
        let mut attributes = BTreeMap::new();
        for line in self.attributes.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.split_once('=') {
                Some((k, v)) => {
                    attributes.insert(k.trim().to_owned(), v.trim().to_owned());
                }
                None => errors.add("attributes", format!("{line:?}: write name=value, one per line")),
            }
        }
        let input = ProductInput {
            sku: self.sku.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            price: commerce_core::catalog::MoneyInput {
                amount: price.map_or(0, |m| m.amount()),
                currency: price.map_or_else(|| "USD".to_owned(), |m| m.currency().to_string()),
            },
            collection_id: (!self.collection_id.trim().is_empty()).then(|| self.collection_id.trim().to_owned()),
            attributes,
            status: (!self.status.is_empty()).then(|| self.status.clone()),
        };
        if errors.is_empty() {
            return Ok(input);
        }
        // The core's complaints about the other fields, so all are shown at once.
        if let Err(core) = input.validate() {
            for e in core.errors().iter().filter(|e| !e.field.starts_with("price")) {
                errors.add(e.field.clone(), &e.message);
            }
        }
        Err(errors)
    }
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/product_form.html")]
struct FormPage {
    layout: AdminLayout,
    /// `None` while creating.
    id: Option<String>,
    form: ProductForm,
    collections: Vec<Choice>,
    statuses: Vec<Choice>,
    errors: Vec<(String, String)>,
    message: Option<String>,
    available: Option<String>,
    on_hand: String,
}

impl FormPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
    }
}

/// The form's name for a field the core named (`price.amount`, `attributes.colour`).
fn form_field(core: &str) -> &str {
    match core.split_once('.').map_or(core, |(head, _)| head) {
        "price" => "price",
        "collection_id" => "collection_id",
        "attributes" => "attributes",
        other => other,
    }
}

async fn form_page(
    pages: &CatalogConsole,
    operator: &Operator,
    id: Option<ProductId>,
    form: ProductForm,
    errors: &ValidationErrors,
    message: Option<String>,
) -> Result<FormPage, WebError> {
    let collections = pages.catalog.collections().await.map_err(unavailable)?;
    let (available, on_hand) = match id {
        Some(id) => match pages.stock.stock(id).await {
            Ok(level) => (
                Some(format!("{} available, {} reserved", level.available(), level.reserved)),
                level.on_hand.to_string(),
            ),
            Err(_) => (Some("unknown".into()), String::new()),
        },
        None => (None, String::new()),
    };
    Ok(FormPage {
        layout: AdminLayout::new(pages, operator),
        id: id.map(|i| i.to_string()),
        collections: collections
            .iter()
            .map(|c| Choice {
                value: c.id.to_string(),
                label: c.name.to_string(),
                selected: form.collection_id == c.id.to_string(),
            })
            .collect(),
        statuses: ["draft", "active", "archived"]
            .iter()
            .map(|s| Choice { value: (*s).into(), label: (*s).into(), selected: form.status == *s })
            .collect(),
        errors: errors.errors().iter().map(|e| (form_field(&e.field).to_owned(), e.message.clone())).collect(),
        message,
        available,
        on_hand,
        form,
    })
}

/// `GET /admin/products/new`.
pub(crate) async fn new_form(State(pages): State<CatalogConsole>, operator: Operator) -> Result<Response, WebError> {
    let form = ProductForm {
        currency: pages.console.config.currency.to_string(),
        status: "draft".into(),
        ..ProductForm::default()
    };
    Ok(render(&form_page(&pages, &operator, None, form, &ValidationErrors::new(), None).await?)?.into_response())
}

/// Answers a refused change with the form again, its status and the reason.
async fn refused(
    pages: &CatalogConsole,
    operator: &Operator,
    id: Option<ProductId>,
    form: ProductForm,
    e: CatalogError,
) -> Result<Response, WebError> {
    let (status, errors, message) = match e {
        CatalogError::Validation(errors) => {
            (StatusCode::UNPROCESSABLE_ENTITY, errors, "Please fix the fields marked below.".to_owned())
        }
        CatalogError::Duplicate(what) => (
            StatusCode::CONFLICT,
            ValidationErrors::single("sku", format!("{what} already exists")),
            "Please fix the fields marked below.".into(),
        ),
        CatalogError::CollectionNotFound => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ValidationErrors::single("collection_id", "no such collection"),
            "Please fix the fields marked below.".into(),
        ),
        CatalogError::Rule(rule) => (StatusCode::CONFLICT, ValidationErrors::new(), rule.to_string()),
        CatalogError::ProductNotFound => return Err(WebError::NotFound),
        other => return Err(unavailable(other)),
    };
    let page = form_page(pages, operator, id, form, &errors, Some(message)).await?;
    Ok((status, render(&page)?).into_response())
}

/// `POST /admin/products`: creates the product, then its page (303).
pub(crate) async fn create(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Form(form): Form<ProductForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let input = match form.input() {
        Ok(input) => input,
        Err(errors) => return refused(&pages, &operator, None, form, CatalogError::Validation(errors)).await,
    };
    match pages.catalog.create_product(&input).await {
        Ok(product) => Ok(Redirect::to(&format!("/admin/products/{}?saved=1", product.id)).into_response()),
        Err(e) => refused(&pages, &operator, None, form, e).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct Saved {
    saved: Option<String>,
}

/// `GET /admin/products/{id}`.
pub(crate) async fn edit_form(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Query(saved): Query<Saved>,
) -> Result<Response, WebError> {
    let id = path_id(&id)?;
    let product = match pages.catalog.product(id).await {
        Ok(p) => p,
        Err(CatalogError::ProductNotFound) => return Err(WebError::NotFound),
        Err(e) => return Err(unavailable(e)),
    };
    let message = saved.saved.map(|_| "Saved.".to_owned());
    let page =
        form_page(&pages, &operator, Some(id), ProductForm::of(&product), &ValidationErrors::new(), message).await?;
    Ok(render(&page)?.into_response())
}

/// `POST /admin/products/{id}`: saves the form under the version it was read at; when
/// someone saved in between, the form shows the product as it is now.
pub(crate) async fn update(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<ProductForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let input = match form.input() {
        Ok(input) => input,
        Err(errors) => return refused(&pages, &operator, Some(id), form, CatalogError::Validation(errors)).await,
    };
    let patch = ProductPatchInput {
        sku: Some(input.sku),
        name: Some(input.name),
        description: Some(input.description),
        price: Some(input.price),
        collection_id: Some(input.collection_id),
        attributes: Some(input.attributes),
        status: input.status,
    };
    let version = form_version(&form.version);
    match pages.catalog.update_product(id, &patch, version).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/products/{id}?saved=1")).into_response()),
        Err(CatalogError::VersionMismatch { .. }) => conflict(&pages, &operator, id).await,
        Err(e) => refused(&pages, &operator, Some(id), form, e).await,
    }
}

/// 409: the product as it is now, and that the change was not saved.
async fn conflict(pages: &CatalogConsole, operator: &Operator, id: ProductId) -> Result<Response, WebError> {
    let current = pages.catalog.product(id).await.map_err(unavailable)?;
    let message = "This product was changed by someone else while you were editing it. Your changes were not \
                   saved: the form shows its current values. Make your changes again and save."
        .to_owned();
    let page = form_page(pages, operator, Some(id), ProductForm::of(&current), &ValidationErrors::new(), Some(message))
        .await?;
    Ok((StatusCode::CONFLICT, render(&page)?).into_response())
}

/// `POST /admin/products/{id}/archive`.
pub(crate) async fn archive(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<ProductForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let version = form_version(&form.version);
    match pages.catalog.archive_product(id, version).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/products/{id}?saved=1")).into_response()),
        Err(CatalogError::VersionMismatch { .. }) => conflict(&pages, &operator, id).await,
        Err(CatalogError::ProductNotFound) => Err(WebError::NotFound),
        Err(e) => Err(unavailable(e)),
    }
}

#[derive(Deserialize)]
pub(crate) struct StockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    on_hand: String,
}

/// `POST /admin/products/{id}/stock`: the units physically in stock.
pub(crate) async fn set_stock(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<StockForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let parsed = form
        .on_hand
        .trim()
        .parse::<u64>()
        .map_err(|_| "a whole number".to_owned())
        .and_then(|n| OnHand::new(n).map_err(|e| e.to_string()));
    let on_hand = match parsed {
        Ok(on_hand) => on_hand,
        Err(reason) => {
            let product = pages.catalog.product(id).await.map_err(unavailable)?;
            let errors = ValidationErrors::single("on_hand", format!("must be {reason}"));
            let page = form_page(
                &pages,
                &operator,
                Some(id),
                ProductForm::of(&product),
                &errors,
                Some("Stock was not changed.".into()),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&page)?).into_response());
        }
    };
    match pages.stock.set_stock(id, on_hand).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/products/{id}?saved=1")).into_response()),
        Err(RestockError::Catalog(CatalogError::ProductNotFound)) => Err(WebError::NotFound),
        Err(e) => Err(unavailable(e)),
    }
}
