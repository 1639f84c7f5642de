//! Idempotent commands: running a client's command at most once per key.
//!
//! A client sends a command with a key it chose ([`ClientKey`], the `Idempotency-Key`
//! header over HTTP). The first request with that key executes; a retry with the same
//! command gets the first one's [`CommandOutcome`] back; the same key with another command
//! is refused. [`IdempotencyService`](crate::services::idempotency::IdempotencyService) runs
//! that protocol over the [`IdempotencyStore`](crate::ports::IdempotencyStore) port.
//!
//! What is stored, and what never is:
//! - the key only as its SHA-256 ([`KeyDigest`]);
//! - the command only as a keyed hash of its normalised fields ([`Fingerprint`], HMAC-SHA256
//!   under the shop's [`IdempotencySecret`]), computed after validation. Card number, CVC
//!   and expiry are never part of it;
//! - the outcome as a domain value (the order id and its status, or the rule that refused
//!   the command), never a rendered response, and never an order's access token: a replay
//!   re-derives the token from the secret, the client's key and the order id
//!   ([`IdempotencySecret::access_token`]), so only its hash is ever stored.

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    hashing::{hex, sha256_hex},
    ids::OrderId,
    order::OrderStatus,
    payment::DeclineReason,
    ports::IdGenerator,
    timestamp::Timestamp,
    validation::{InvalidValue, ValidationErrors},
};

/// A client's idempotency key: 1 to 255 visible ASCII characters (surrounding spaces
/// trimmed). Printed only as `ClientKey(…)`: with the shop's secret it derives an order's
/// access token.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKey(String);

impl ClientKey {
    /// Longest key accepted.
    pub const MAX_LEN: usize = 255;

    /// Validates a key.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(InvalidValue::Empty);
        }
        if key.len() > Self::MAX_LEN {
            return Err(InvalidValue::TooLong { max: Self::MAX_LEN, actual: key.len() });
        }
        if let Some((position, ch)) = key.chars().enumerate().find(|(_, c)| !c.is_ascii_graphic() && *c != ' ') {
            return Err(InvalidValue::InvalidCharacter { ch, position, allowed: "visible ASCII" });
        }
        Ok(Self(key.to_owned()))
    }

    /// The key as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What stores keep instead of the key.
    pub fn digest(&self) -> KeyDigest {
        KeyDigest(sha256_hex(self.0.as_bytes()))
    }

    /// The order a command under this key creates: a UUIDv7 whose time is the key's first
    /// claim and whose random bits come from the key. Every attempt of one request (even
    /// after a crashed attempt's claim was taken over) names the same order, so a retry
    /// resumes that order instead of charging again; ids stay time-ordered.
    pub fn order_id(&self, first_claimed_at: Timestamp) -> OrderId {
        let digest = Sha256::digest(self.0.as_bytes());
        let mut random = [0_u8; 10];
        random.copy_from_slice(&digest[..10]);
        let millis = u64::try_from(first_claimed_at.unix_micros() / 1000).unwrap_or(0);
        OrderId::from_uuid(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey(…)")
    }
}

/// The SHA-256 (hex) of a [`ClientKey`]: what an idempotency store indexes by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyDigest(String);

impl KeyDigest {
    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A keyed hash (HMAC-SHA256, hex) of a command's normalised fields: two requests are the
/// same command when their fingerprints are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The shop's secret for command fingerprints and derived order access tokens: at least
/// 32 bytes, the same in every process that serves one shop (replicas share it). Never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencySecret(Vec<u8>);

impl IdempotencySecret {
    /// Shortest secret accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// Validates a configured secret.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, InvalidValue> {
        let secret = secret.into();
        if secret.len() < Self::MIN_LEN {
            return Err(InvalidValue::Other(format!(
                "must be at least {} bytes (got {}); generate one with `openssl rand -hex 32`",
                Self::MIN_LEN,
                secret.len()
            )));
        }
        Ok(Self(secret))
    }

    /// A fresh random secret, for a single process that keeps its keys in memory.
    pub fn generate(ids: &dyn IdGenerator) -> Self {
        let mut secret = ids.new_secret().into_bytes();
        while secret.len() < Self::MIN_LEN {
            secret.extend(ids.new_secret().into_bytes());
        }
        Self(secret)
    }

    fn mac(&self, purpose: &str, parts: &[&[u8]]) -> [u8; 32] {
        crate::hashing::hmac_sha256(&self.0, purpose, parts)
    }

    /// The fingerprint of `command` (a name such as `checkout`) with normalised fields
    /// `canonical`. Callers must leave card data out of `canonical`.
    pub fn fingerprint(&self, command: &str, canonical: &[u8]) -> Fingerprint {
        Fingerprint(hex(&self.mac("commerce/fingerprint/v1", &[command.as_bytes(), canonical])))
    }

    /// The access token of the order placed under `key`: the same on every attempt and
    /// replay, so the shop stores only its hash and never the token itself.
    pub fn access_token(&self, key: &ClientKey, order: OrderId) -> String {
        let mac = self.mac("commerce/order-access-token/v1", &[key.as_str().as_bytes(), order.as_uuid().as_bytes()]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
    }
}

impl fmt::Debug for IdempotencySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencySecret(***)")
    }
}

/// How a command ended: stored with its key and answered again to every retry. A domain
/// value; each inbound adapter renders it its own way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The command placed (or resumed) this order, which was in `status` when it answered.
    /// A replay shows the order as it is now.
    Order {
        /// The order.
        order_id: OrderId,
        /// Its status when the command answered.
        status: OrderStatus,
    },
    /// A rule refused the command; nothing was created.
    Refused {
        /// Which rule.
        refusal: Refusal,
    },
}

/// Why a command was refused (see [`CommandOutcome::Refused`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The input broke a rule that needed the shop's data (a product not for sale).
    Invalid {
        /// Every field at fault; messages never contain card data.
        errors: ValidationErrors,
    },
    /// The card processor refused the card before any order existed.
    CardRefused {
        /// The processor's reason.
        decline: DeclineReason,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> IdempotencySecret {
        IdempotencySecret::new(b"0123456789abcdef0123456789abcdef".to_vec()).unwrap()
    }

    #[test]
    fn keys_are_validated_and_never_printed() {
        assert_eq!(ClientKey::parse("  "), Err(InvalidValue::Empty));
        assert!(matches!(ClientKey::parse(&"k".repeat(256)), Err(InvalidValue::TooLong { max: 255, .. })));
        assert!(ClientKey::parse("caf\u{e9}").is_err());
        let key = ClientKey::parse(" order-7 ").unwrap();
        assert_eq!(key.as_str(), "order-7");
        assert_eq!(format!("{key:?}"), "ClientKey(…)");
        assert_eq!(key.digest().as_str().len(), 64);
        assert_ne!(key.digest().as_str(), "order-7");
    }

    #[test]
    fn order_ids_are_deterministic_per_key_and_first_claim_and_time_ordered() {
        let t = Timestamp::from_unix_micros(1_767_225_600_123_456);
        let (k1, k2) = (ClientKey::parse("key-1").unwrap(), ClientKey::parse("key-2").unwrap());
        let a = k1.order_id(t);
        assert_eq!(a, k1.order_id(t), "a retry of the same request names the same order");
        assert_ne!(a, k2.order_id(t));
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(ClientKey::parse("key-0").unwrap().order_id(t.plus_seconds(1)) > a, "later first claims sort later");
    }

    #[test]
    fn fingerprints_and_tokens_depend_on_the_secret() {
        let (s, other) = (secret(), IdempotencySecret::new(vec![7_u8; 32]).unwrap());
        assert_eq!(s.fingerprint("checkout", b"a"), s.fingerprint("checkout", b"a"));
        assert_ne!(s.fingerprint("checkout", b"a"), s.fingerprint("checkout", b"b"));
        assert_ne!(s.fingerprint("checkout", b"a"), s.fingerprint("refund", b"a"));
        assert_ne!(s.fingerprint("checkout", b"a"), other.fingerprint("checkout", b"a"));
        let key = ClientKey::parse("k").unwrap();
        let order = OrderId::from_uuid(uuid::Uuid::from_u128(1));
        let token = s.access_token(&key, order);
        assert_eq!(token, s.access_token(&key, order));
        assert_ne!(token, other.access_token(&key, order));
        assert_ne!(token, s.access_token(&ClientKey::parse("k2").unwrap(), order));
        assert!(token.len() >= 43, "256 bits");
        assert_eq!(format!("{s:?}"), "IdempotencySecret(***)");
        assert!(IdempotencySecret::new(vec![1; 31]).is_err());
    }

    #[test]
    fn outcomes_round_trip_as_json() {
        let outcomes = [
            CommandOutcome::Order { order_id: OrderId::from_uuid(uuid::Uuid::from_u128(3)), status: OrderStatus::Paid },
            CommandOutcome::Refused {
                refusal: Refusal::Invalid { errors: ValidationErrors::single("items", "product x is not for sale") },
            },
            CommandOutcome::Refused { refusal: Refusal::CardRefused { decline: DeclineReason::CardDeclined } },
        ];
        for o in outcomes {
            let json = serde_json::to_string(&o).unwrap();
            assert_eq!(serde_json::from_str::<CommandOutcome>(&json).unwrap(), o, "{json}");
        }
    }
}
