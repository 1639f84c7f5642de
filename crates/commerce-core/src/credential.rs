//! Bearer credentials: the operators' admin token and the services' tokens.
//!
//! A [`BearerToken`] keeps only the SHA-256 digest of the token it was made from and
//! compares candidates digest to digest in constant time: the time a comparison takes
//! tells nothing about the token, not even its length (comparing the raw bytes with an
//! early return on a length mismatch would).

use subtle::ConstantTimeEq;

use crate::{hashing::sha256, validation::InvalidValue};

/// A token that callers present as `Authorization: Bearer <token>`.
///
/// ```
/// use commerce_core::credential::BearerToken;
///
/// let token = BearerToken::parse("0123456789abcdef-operators").unwrap();
/// assert!(token.accepts("0123456789abcdef-operators"));
/// assert!(!token.accepts("0123456789abcdef"));
/// assert!(BearerToken::parse("short").is_err());
/// ```
#[derive(Clone)]
pub struct BearerToken {
    digest: [u8; 32],
}

impl BearerToken {
    /// Fewest bytes a token may have: guessing one must be out of reach.
    pub const MIN_LEN: usize = 16;
    /// Most bytes a token may have (it travels in a header).
    pub const MAX_LEN: usize = 512;

    /// Validates a token: [`Self::MIN_LEN`] to [`Self::MAX_LEN`] printable ASCII characters
    /// without spaces (what fits a header unchanged). Errors never quote the token.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.len() < Self::MIN_LEN {
            return Err(InvalidValue::Other(format!("must be at least {} characters", Self::MIN_LEN)));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(InvalidValue::TooLong { max: Self::MAX_LEN, actual: raw.len() });
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidValue::Other("must be printable ASCII without spaces".into()));
        }
        Ok(Self { digest: sha256(raw.as_bytes()) })
    }

    /// True when `candidate` is the token; constant time in the candidate and the token.
    pub fn accepts(&self, candidate: &str) -> bool {
        bool::from(sha256(candidate.as_bytes()).ct_eq(&self.digest))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_accept_only_themselves() {
        let token = BearerToken::parse("a-service-token-of-some-length").unwrap();
        assert!(token.accepts("a-service-token-of-some-length"));
        for other in ["", "a", "a-service-token-of-some-lengtH", "a-service-token-of-some-length ", "a-service-token"] {
            assert!(!token.accepts(other), "{other:?}");
        }
    }

    #[test]
    fn weak_or_unprintable_tokens_are_refused_without_being_quoted() {
        for (raw, secret_part) in
            [("s3cret", "s3cret"), ("with a space in it!", "in it!"), ("tab\tseparated-token", "separated")]
        {
            let message = BearerToken::parse(raw).unwrap_err().to_string();
            assert!(!message.contains(secret_part), "{message}");
        }
        assert!(BearerToken::parse(&"x".repeat(513)).is_err());
        assert_eq!(format!("{:?}", BearerToken::parse("0123456789abcdef").unwrap()), "BearerToken(***)");
    }
}
