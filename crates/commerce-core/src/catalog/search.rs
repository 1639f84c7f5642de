//! How operators find products in the console: part of a name or SKU, any status.

use super::Product;
use crate::validation::{self, InvalidValue, TextRule};

/// A search of the write model's products: text that must occur, case-insensitively, in
/// a product's name or SKU. Unlike the storefront's word-prefix search over active
/// products, it finds drafts and archived products, and partial SKUs (`"-00"`).
///
/// Stores match it against [`ProductSearch::key_of`], a column they keep with each
/// product, so every store agrees with [`ProductSearch::matches`] (no database's
/// `lower()` or collation decides).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSearch(String);

impl ProductSearch {
    /// The rule, as API documents state it: 1 to 100 characters of one line of text.
    pub const RULE: TextRule = TextRule { pattern: validation::ONE_LINE_TEXT, min_chars: 1, max_chars: 100 };

    /// Validates a search: trimmed, 1 to 100 printable characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let text = validation::text(raw, Self::RULE.max_chars, false, false)?;
        Ok(Self(text.to_lowercase()))
    }

    /// The lower-cased text a key must contain.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What a search looks in: the lower-cased name and SKU, apart by a control
    /// character no search can hold, so no match spans both.
    pub fn key_of(product: &Product) -> String {
        format!("{}\u{1f}{}", product.name.sort_key(), product.sku.as_str().to_lowercase())
    }

    /// Whether `product` is found by this search.
    pub fn matches(&self, product: &Product) -> bool {
        Self::key_of(product).contains(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        ProductId,
        money::{Currency, Money},
        testkit::strategies::product,
    };

    fn sample() -> Product {
        let price = Money::new(100, Currency::USD).unwrap_or_else(|_| unreachable!());
        let mut p = product(ProductId::from_uuid(uuid::Uuid::nil()), 7, price, crate::Timestamp::EPOCH);
        p.name = crate::catalog::ProductName::parse("Blue Ceramic Mug").unwrap_or_else(|_| unreachable!());
        p
    }

    #[test]
    fn finds_part_of_the_name_or_sku_in_any_case() {
        let p = sample();
        for found in ["mug", "CERAMIC m", "p-7", "P-"] {
            assert!(ProductSearch::parse(found).is_ok_and(|s| s.matches(&p)), "{found}");
        }
        for missed in ["mugs", "mugp", "teapot"] {
            assert!(ProductSearch::parse(missed).is_ok_and(|s| !s.matches(&p)), "{missed}");
        }
    }

    #[test]
    fn refuses_empty_long_and_control_text() {
        assert_eq!(ProductSearch::parse("  "), Err(InvalidValue::Empty));
        assert!(matches!(ProductSearch::parse(&"a".repeat(101)), Err(InvalidValue::TooLong { max: 100, .. })));
        assert!(matches!(ProductSearch::parse("a\u{1f}b"), Err(InvalidValue::InvalidCharacter { .. })));
    }
}
