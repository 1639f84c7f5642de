//! Keyset cursors: where the previous page ended, as an opaque token for clients.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{ProductView, SortKey, SortOrder};
use crate::{ids::ProductId, validation::InvalidValue};

/// Where the previous page ended. Opaque to clients (URL-safe base64 of JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort it was issued for.
    #[serde(rename = "s")]
    pub sort: SortOrder,
    /// Sort key of the last item shown.
    #[serde(rename = "k")]
    pub key: SortKey,
    /// Id of the last item shown.
    #[serde(rename = "i")]
    pub id: ProductId,
}

impl Cursor {
    /// The cursor positioned after `view`.
    pub fn after(sort: SortOrder, view: &ProductView) -> Self {
        Self { sort, key: sort.key_of(view), id: view.id }
    }

    /// Encodes the cursor for a client.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Decodes a cursor a client sent back.
    pub fn decode(raw: &str) -> Result<Self, InvalidValue> {
        let malformed = || InvalidValue::Other("cursor is malformed; use a next_cursor value as returned".into());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).map_err(|_| malformed())?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        let key_fits = matches!(
            (cursor.sort, &cursor.key),
            (SortOrder::PriceAsc | SortOrder::PriceDesc, SortKey::Price(_))
                | (SortOrder::Name, SortKey::Name(_))
                | (SortOrder::Newest, SortKey::Created(_))
                | (SortOrder::StockDesc, SortKey::Stock(_))
        );
        if key_fits && cursor.key.is_storable() { Ok(cursor) } else { Err(malformed()) }
    }

    /// The position to continue after.
    pub fn position(&self) -> (&SortKey, ProductId) {
        (&self.key, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c =
            Cursor { sort: SortOrder::PriceAsc, key: SortKey::Price(5), id: ProductId::from_uuid(uuid::Uuid::nil()) };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        assert!(Cursor::decode("!!").is_err());
        let wrong_key = Cursor { sort: SortOrder::Name, ..c };
        assert!(Cursor::decode(&wrong_key.encode()).is_err(), "a name sort with a price key is malformed");
    }

    #[test]
    fn name_keys_no_product_could_have_are_malformed() {
        let id = ProductId::from_uuid(uuid::Uuid::nil());
        for key in ["a\u{0}b".to_owned(), "\u{202e}evil".to_owned(), "x".repeat(4 * 200 + 1)] {
            let tampered = Cursor { sort: SortOrder::Name, key: SortKey::Name(key.clone()), id };
            assert!(Cursor::decode(&tampered.encode()).is_err(), "{key:?}");
        }
        let fine = Cursor { sort: SortOrder::Name, key: SortKey::Name("straße tee".into()), id };
        assert_eq!(Cursor::decode(&fine.encode()).unwrap(), fine);
    }
}
