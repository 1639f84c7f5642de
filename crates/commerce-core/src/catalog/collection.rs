//! Collections: named groups of products (a category, a season, a brand line).

use serde::{Deserialize, Serialize};

use super::{CollectionName, Description, Slug, Version};
use crate::{ids::CollectionId, timestamp::Timestamp, validation::ValidationErrors};

/// A named group of products (a category, a season, a brand line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// Identity.
    pub id: CollectionId,
    /// Unique URL handle.
    pub slug: Slug,
    /// Display name.
    pub name: CollectionName,
    /// Description.
    pub description: Description,
    /// Optimistic-concurrency version.
    pub version: Version,
    /// Created at.
    pub created_at: Timestamp,
    /// Last changed at.
    pub updated_at: Timestamp,
}

/// Unvalidated collection fields as a client sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CollectionInput {
    /// Unique handle.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
}

/// Unvalidated partial collection update.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CollectionPatchInput {
    /// Handle.
    #[serde(default)]
    pub slug: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
}

/// A validated collection patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionPatch {
    /// Handle.
    pub slug: Option<Slug>,
    /// Name.
    pub name: Option<CollectionName>,
    /// Description.
    pub description: Option<Description>,
}

impl CollectionInput {
    /// Validates every field and builds the collection at version 1.
    pub fn validate(&self, id: CollectionId, now: Timestamp) -> Result<Collection, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let slug = e.check("slug", Slug::parse(&self.slug));
        let name = e.check("name", CollectionName::parse(&self.name));
        let description = e.check("description", Description::parse(&self.description));
        match (slug, name, description) {
            (Some(slug), Some(name), Some(description)) => Ok(Collection {
                id,
                slug,
                name,
                description,
                version: Version::INITIAL,
                created_at: now,
                updated_at: now,
            }),
            _ => Err(e),
        }
    }
}

impl CollectionPatchInput {
    /// Validates every present field.
    pub fn validate(&self) -> Result<CollectionPatch, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let patch = CollectionPatch {
            slug: self.slug.as_deref().and_then(|v| e.check("slug", Slug::parse(v))),
            name: self.name.as_deref().and_then(|v| e.check("name", CollectionName::parse(v))),
            description: self.description.as_deref().and_then(|v| e.check("description", Description::parse(v))),
        };
        e.finish(|| patch)
    }
}

impl Collection {
    /// Applies a patch; `false` when nothing changed.
    pub fn apply_patch(&mut self, patch: CollectionPatch, now: Timestamp) -> bool {
        let before = self.clone();
        if let Some(v) = patch.slug {
            self.slug = v;
        }
        if let Some(v) = patch.name {
            self.name = v;
        }
        if let Some(v) = patch.description {
            self.description = v;
        }
        if *self == before {
            return false;
        }
        self.version = self.version.next();
        self.updated_at = now;
        true
    }
}
