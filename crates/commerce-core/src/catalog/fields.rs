//! The catalog's validated field types: every value a product or collection
//! holds went through one of these constructors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::validation::{InvalidValue, MULTILINE_TEXT, ONE_LINE_TEXT, TextRule, ValidationErrors, text, token};

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// Stock-keeping unit: 1 to 64 of `A-Z a-z 0-9 - _ .`, unique across the catalog.
    Sku
);
string_newtype!(
    /// A product's display name: 1 to 200 printable characters, trimmed.
    ProductName
);
string_newtype!(
    /// A product's description: up to 10,000 characters; new lines allowed.
    Description
);
string_newtype!(
    /// A collection's display name: 1 to 120 printable characters, trimmed.
    CollectionName
);
string_newtype!(
    /// A URL-friendly collection handle: 1 to 80 of `a-z 0-9 -`, no leading,
    /// trailing or doubled hyphen.
    Slug
);
string_newtype!(
    /// An attribute name such as `colour` or `size`: 1 to 40 of `a-z 0-9 _`.
    AttributeName
);
string_newtype!(
    /// An attribute value such as `red` or `XL`: 1 to 100 printable characters, trimmed.
    AttributeValue
);

impl Sku {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: r"^[A-Za-z0-9._-]+$", min_chars: 1, max_chars: 64 };

    /// Validates a SKU.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        token(raw, Self::RULE.max_chars, "letters, digits, '-', '_' and '.'", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
        })
        .map(Self)
    }
}

impl ProductName {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 200 };

    /// Validates a product name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        text(raw, Self::RULE.max_chars, false, false).map(Self)
    }

    /// The key listings sort by name on: lower-cased, compared byte-wise.
    ///
    /// Computed here rather than by a database collation so that every read
    /// model orders names exactly like the reference evaluator.
    pub fn sort_key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl Description {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: MULTILINE_TEXT, min_chars: 0, max_chars: 10_000 };

    /// Validates a description (may be empty).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        text(raw, Self::RULE.max_chars, true, true).map(Self)
    }

    /// The empty description.
    pub fn empty() -> Self {
        Self(String::new())
    }
}

impl CollectionName {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 120 };

    /// Validates a collection name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        text(raw, Self::RULE.max_chars, false, false).map(Self)
    }
}

impl Slug {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: r"^[a-z0-9]+(-[a-z0-9]+)*$", min_chars: 1, max_chars: 80 };

    /// Validates a slug.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let s = token(raw, Self::RULE.max_chars, "lower-case letters, digits and '-'", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        })?;
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(InvalidValue::Other("must not start or end with '-' or contain '--'".into()));
        }
        Ok(Self(s))
    }
}

impl AttributeName {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: r"^[a-z0-9_]+$", min_chars: 1, max_chars: 40 };

    /// Validates an attribute name.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        token(raw, Self::RULE.max_chars, "lower-case letters, digits and '_'", |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
        })
        .map(Self)
    }
}

impl AttributeValue {
    /// The rule, as API documents state it.
    pub const RULE: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 100 };

    /// Validates an attribute value.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        text(raw, Self::RULE.max_chars, false, false).map(Self)
    }
}

/// A product's attributes (`colour = red`, `size = XL`), at most [`Attributes::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(BTreeMap<AttributeName, AttributeValue>);

impl Attributes {
    /// Most attributes one product may carry.
    pub const MAX: usize = 32;

    /// Validates raw name/value pairs, reporting each bad entry under `field.<name>`.
    pub fn parse(field: &str, raw: &BTreeMap<String, String>, errors: &mut ValidationErrors) -> Option<Self> {
        if raw.len() > Self::MAX {
            errors.add(field, format!("at most {} attributes are allowed (got {})", Self::MAX, raw.len()));
            return None;
        }
        let mut map = BTreeMap::new();
        let mut ok = true;
        for (name, value) in raw {
            let path = format!("{field}.{name}");
            let n = errors.check(&path, AttributeName::parse(name));
            let v = errors.check(&path, AttributeValue::parse(value));
            match (n, v) {
                (Some(n), Some(v)) => {
                    map.insert(n, v);
                }
                _ => ok = false,
            }
        }
        ok.then_some(Self(map))
    }

    /// Builds attributes from already-validated pairs.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (AttributeName, AttributeValue)>) -> Self {
        Self(pairs.into_iter().take(Self::MAX).collect())
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &AttributeName) -> Option<&AttributeValue> {
        self.0.get(name)
    }

    /// Iterates name/value pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&AttributeName, &AttributeValue)> {
        self.0.iter()
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Name/value pairs in name order, taken out of the attributes.
impl IntoIterator for Attributes {
    type Item = (AttributeName, AttributeValue);
    type IntoIter = std::collections::btree_map::IntoIter<AttributeName, AttributeValue>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newtypes_reject_bad_input_precisely() {
        assert_eq!(Sku::parse(""), Err(InvalidValue::Empty));
        assert!(matches!(Sku::parse("A B"), Err(InvalidValue::InvalidCharacter { ch: ' ', position: 1, .. })));
        assert!(matches!(Sku::parse(&"X".repeat(65)), Err(InvalidValue::TooLong { max: 64, actual: 65 })));
        assert_eq!(ProductName::parse("   "), Err(InvalidValue::Empty));
        assert!(ProductName::parse("a\u{7}b").is_err());
        assert_eq!(ProductName::parse(" Tee ").unwrap().as_str(), "Tee");
        assert!(Slug::parse("summer--sale").is_err());
        assert!(Slug::parse("-x").is_err());
        assert!(Slug::parse("summer-2026").is_ok());
        assert!(AttributeName::parse("Colour").is_err());
        assert!(Description::parse("").is_ok());
    }
}
