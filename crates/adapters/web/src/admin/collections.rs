//! The console's collections: the list with a form to add one, edit (under the version it
//! was read at) and delete (refused while products are in it).

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use commerce_core::{
    CollectionId,
    catalog::{Collection, CollectionInput, CollectionPatchInput},
    services::catalog::CatalogError,
    validation::ValidationErrors,
};
use serde::Deserialize;

use super::{AdminLayout, CatalogConsole, CsrfOnly, Operator, form_version, path_id, unavailable};
use crate::error::{WebError, render};

/// The collection form as it posts.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CollectionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

impl CollectionForm {
    fn of(c: &Collection) -> Self {
        Self {
            csrf: String::new(),
            version: c.version.get().to_string(),
            slug: c.slug.to_string(),
            name: c.name.to_string(),
            description: c.description.to_string(),
        }
    }
}

struct Row {
    id: String,
    name: String,
    slug: String,
}

#[derive(Template)]
#[template(path = "admin/collections.html")]
struct ListPage {
    layout: AdminLayout,
    rows: Vec<Row>,
    form: CollectionForm,
    errors: Vec<(String, String)>,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/collection_form.html")]
struct EditPage {
    layout: AdminLayout,
    id: String,
    form: CollectionForm,
    errors: Vec<(String, String)>,
    message: Option<String>,
}

/// The message for `field` in a page's errors.
fn error_of<'a>(errors: &'a [(String, String)], field: &str) -> Option<&'a str> {
    errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.as_str())
}

impl ListPage {
    fn error(&self, field: &str) -> Option<&str> {
        error_of(&self.errors, field)
    }
}

impl EditPage {
    fn error(&self, field: &str) -> Option<&str> {
        error_of(&self.errors, field)
    }
}

fn named(errors: &ValidationErrors) -> Vec<(String, String)> {
    errors.errors().iter().map(|e| (e.field.clone(), e.message.clone())).collect()
}

async fn list_page(
    pages: &CatalogConsole,
    operator: &Operator,
    form: CollectionForm,
    errors: &ValidationErrors,
    message: Option<String>,
) -> Result<ListPage, WebError> {
    let collections = pages.catalog.collections().await.map_err(unavailable)?;
    Ok(ListPage {
        layout: AdminLayout::new(pages, operator),
        rows: collections
            .iter()
            .map(|c| Row { id: c.id.to_string(), name: c.name.to_string(), slug: c.slug.to_string() })
            .collect(),
        form,
        errors: named(errors),
        message,
    })
}

#[derive(Deserialize)]
pub(crate) struct Saved {
    saved: Option<String>,
}

/// `GET /admin/collections`.
pub(crate) async fn list(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Query(saved): Query<Saved>,
) -> Result<Response, WebError> {
    let message = saved.saved.map(|_| "Saved.".to_owned());
    let page = list_page(&pages, &operator, CollectionForm::default(), &ValidationErrors::new(), message).await?;
    Ok(render(&page)?.into_response())
}

/// The status and fields of a refused change.
fn refusal(e: CatalogError) -> Result<(StatusCode, ValidationErrors, String), WebError> {
    let fix = "Please fix the fields marked below.".to_owned();
    match e {
        CatalogError::Validation(errors) => Ok((StatusCode::UNPROCESSABLE_ENTITY, errors, fix)),
        CatalogError::Duplicate(what) => {
            Ok((StatusCode::CONFLICT, ValidationErrors::single("slug", format!("{what} already exists")), fix))
        }
        CatalogError::CollectionInUse => Ok((
            StatusCode::CONFLICT,
            ValidationErrors::new(),
            "Products are still in this collection: move or archive them first.".into(),
        )),
        CatalogError::CollectionNotFound => Err(WebError::NotFound),
        other => Err(unavailable(other)),
    }
}

/// `POST /admin/collections`: creates one, then the list (303).
pub(crate) async fn create(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Form(form): Form<CollectionForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let input =
        CollectionInput { slug: form.slug.clone(), name: form.name.clone(), description: form.description.clone() };
    match pages.catalog.create_collection(&input).await {
        Ok(_) => Ok(Redirect::to("/admin/collections?saved=1").into_response()),
        Err(e) => {
            let (status, errors, message) = refusal(e)?;
            let page = list_page(&pages, &operator, form, &errors, Some(message)).await?;
            Ok((status, render(&page)?).into_response())
        }
    }
}

async fn current(pages: &CatalogConsole, id: CollectionId) -> Result<Collection, WebError> {
    match pages.catalog.collection(id).await {
        Ok(c) => Ok(c),
        Err(CatalogError::CollectionNotFound) => Err(WebError::NotFound),
        Err(e) => Err(unavailable(e)),
    }
}

/// `GET /admin/collections/{id}`.
pub(crate) async fn edit_form(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Query(saved): Query<Saved>,
) -> Result<Response, WebError> {
    let id = path_id(&id)?;
    let collection = current(&pages, id).await?;
    let page = EditPage {
        layout: AdminLayout::new(&pages, &operator),
        id: id.to_string(),
        form: CollectionForm::of(&collection),
        errors: Vec::new(),
        message: saved.saved.map(|_| "Saved.".to_owned()),
    };
    Ok(render(&page)?.into_response())
}

/// `POST /admin/collections/{id}`: saves under the version the form was read at.
pub(crate) async fn update(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CollectionForm>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    let patch = CollectionPatchInput {
        slug: Some(form.slug.clone()),
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
    };
    let version = form_version(&form.version);
    let (status, form, errors, message) = match pages.catalog.update_collection(id, &patch, version).await {
        Ok(_) => return Ok(Redirect::to(&format!("/admin/collections/{id}?saved=1")).into_response()),
        Err(CatalogError::VersionMismatch { .. }) => {
            let now = current(&pages, id).await?;
            let message = "This collection was changed by someone else while you were editing it. Your changes \
                           were not saved: the form shows its current values."
                .to_owned();
            (StatusCode::CONFLICT, CollectionForm::of(&now), ValidationErrors::new(), message)
        }
        Err(e) => {
            let (status, errors, message) = refusal(e)?;
            (status, form, errors, message)
        }
    };
    let page = EditPage {
        layout: AdminLayout::new(&pages, &operator),
        id: id.to_string(),
        form,
        errors: named(&errors),
        message: Some(message),
    };
    Ok((status, render(&page)?).into_response())
}

/// `POST /admin/collections/{id}/delete`: refused (409) while products are in it.
pub(crate) async fn delete(
    State(pages): State<CatalogConsole>,
    operator: Operator,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    operator.check(&pages, &form.csrf)?;
    let id = path_id(&id)?;
    match pages.catalog.delete_collection(id).await {
        Ok(()) => Ok(Redirect::to("/admin/collections?saved=1").into_response()),
        Err(e) => {
            let (status, _, message) = refusal(e)?;
            let now = current(&pages, id).await?;
            let page = EditPage {
                layout: AdminLayout::new(&pages, &operator),
                id: id.to_string(),
                form: CollectionForm::of(&now),
                errors: Vec::new(),
                message: Some(message),
            };
            Ok((status, render(&page)?).into_response())
        }
    }
}
