//! Verifying Stripe's webhook deliveries.
//!
//! Stripe signs each delivery with the endpoint's secret (`whsec_...`): the
//! `Stripe-Signature` header holds a timestamp and one or more signatures,
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=...]` (several during a secret
//! rotation). [`WebhookVerifier::verify`] recomputes the HMAC over the raw body, compares in
//! constant time, and refuses a timestamp outside the tolerance window (5 minutes by
//! default), so a captured delivery cannot be replayed later. Deduplicating by event id
//! (Stripe delivers at least once) is the receiver's job.

use hmac::{Hmac, Mac as _};
use serde::Deserialize;
use sha2::Sha256;

/// A webhook endpoint's signing secret (`whsec_...`). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Checks the secret's form (`whsec_`, then printable characters without spaces).
    pub fn parse(raw: &str) -> Result<Self, WebhookError> {
        let raw = raw.trim();
        let well_formed =
            raw.starts_with("whsec_") && raw.len() > "whsec_".len() && raw.bytes().all(|b| b.is_ascii_graphic());
        if well_formed { Ok(Self(raw.to_owned())) } else { Err(WebhookError::InvalidSecret) }
    }

    fn mac(&self, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.0.as_bytes()).unwrap_or_else(|_| unreachable!());
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(redacted)")
    }
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The configured secret is not a `whsec_...` value.
    #[error("a Stripe webhook secret starts with whsec_ and has no spaces")]
    InvalidSecret,
    /// No `Stripe-Signature` header, or one without `t=` and `v1=`.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// The timestamp is outside the tolerance window: a replay, or a clock far off.
    #[error("the delivery is {age_secs} s from now, outside the {tolerance_secs} s window")]
    OutsideWindow {
        /// Seconds between the delivery's timestamp and now (negative: in the future).
        age_secs: i64,
        /// The window, in seconds either way.
        tolerance_secs: i64,
    },
    /// No signature matches: forged, or signed with another secret.
    #[error("no signature matches the endpoint's secret")]
    BadSignature,
    /// Signed, but not an event this receiver can read.
    #[error("the event does not decode: {0}")]
    Undecodable(String),
}

/// A verified event: the fields a receiver acts on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WebhookEvent {
    /// `evt_...`: deliveries of one event share it (deduplicate on it).
    pub id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`, `charge.refunded`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// When Stripe created the event, in unix seconds.
    pub created: i64,
    /// `data.object`: the object the event is about, as it was then.
    pub data: EventData,
}

/// An event's `data`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventData {
    /// The PaymentIntent, Charge, ... the event is about.
    pub object: serde_json::Value,
}

/// Checks deliveries against an endpoint's secret.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    secret: WebhookSecret,
    tolerance_secs: i64,
}

impl WebhookVerifier {
    /// Stripe's default window: five minutes either way.
    pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

    /// A verifier with the default window.
    pub fn new(secret: WebhookSecret) -> Self {
        Self { secret, tolerance_secs: Self::DEFAULT_TOLERANCE_SECS }
    }

    /// Another window, in seconds either way.
    #[must_use]
    pub fn with_tolerance_secs(mut self, secs: i64) -> Self {
        self.tolerance_secs = secs;
        self
    }

    /// The event in `payload` if `signature` (the `Stripe-Signature` header) signs it with
    /// this endpoint's secret within the window around `now` (unix seconds).
    pub fn verify(&self, signature: Option<&str>, payload: &[u8], now: i64) -> Result<WebhookEvent, WebhookError> {
        let (timestamp, candidates) = parse_header(signature.ok_or(WebhookError::Malformed)?)?;
        let age_secs = now.saturating_sub(timestamp);
        if age_secs.abs() > self.tolerance_secs {
            return Err(WebhookError::OutsideWindow { age_secs, tolerance_secs: self.tolerance_secs });
        }
        // `verify_slice` compares in constant time.
        let signed = candidates.iter().any(|c| self.secret.mac(timestamp, payload).verify_slice(c).is_ok());
        if !signed {
            return Err(WebhookError::BadSignature);
        }
        serde_json::from_slice(payload).map_err(|e| WebhookError::Undecodable(e.to_string()))
    }
}

/// The `Stripe-Signature` value for `payload` at `timestamp`: what Stripe (or the fake)
/// sends, and what tests forge deliveries with.
pub fn sign(secret: &WebhookSecret, timestamp: i64, payload: &[u8]) -> String {
    let digest = secret.mac(timestamp, payload).finalize().into_bytes();
    let hex = digest.iter().fold(String::with_capacity(64), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    });
    format!("t={timestamp},v1={hex}")
}

/// `t=...` and every `v1=...` (decoded); other schemes (`v0`) are ignored.
fn parse_header(header: &str) -> Result<(i64, Vec<Vec<u8>>), WebhookError> {
    let mut timestamp = None;
    let mut signatures = vec![];
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = Some(t.parse::<i64>().map_err(|_| WebhookError::Malformed)?),
            Some(("v1", hex)) => signatures.push(decode_hex(hex).ok_or(WebhookError::Malformed)?),
            _ => {}
        }
    }
    match timestamp {
        Some(t) if !signatures.is_empty() => Ok((t, signatures)),
        _ => Err(WebhookError::Malformed),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn secret() -> WebhookSecret {
        WebhookSecret::parse("whsec_test_0123456789abcdef").unwrap()
    }

    fn event() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "id": "evt_1", "object": "event", "type": "payment_intent.succeeded", "created": NOW,
            "data": {"object": {"id": "pi_1", "object": "payment_intent", "status": "requires_capture"}}
        }))
        .unwrap()
    }

    #[test]
    fn a_signed_delivery_in_the_window_is_accepted() {
        let verifier = WebhookVerifier::new(secret());
        let payload = event();
        let header = sign(&secret(), NOW - 10, &payload);
        let event = verifier.verify(Some(&header), &payload, NOW).unwrap();
        assert_eq!((event.id.as_str(), event.kind.as_str()), ("evt_1", "payment_intent.succeeded"));
        assert_eq!(event.data.object["id"], "pi_1");
    }

    #[test]
    fn any_matching_signature_during_a_secret_rotation_is_enough() {
        let old = WebhookSecret::parse("whsec_old_secret").unwrap();
        let payload = event();
        let fresh = sign(&secret(), NOW, &payload);
        let stale = sign(&old, NOW, &payload);
        let v1 = |h: &str| h.split_once(",v1=").unwrap().1.to_owned();
        let header = format!("t={NOW},v1={},v0=abc,v1={}", v1(&stale), v1(&fresh));
        assert!(WebhookVerifier::new(secret()).verify(Some(&header), &payload, NOW).is_ok());
    }

    #[test]
    fn forged_tampered_replayed_and_malformed_deliveries_are_refused() {
        let verifier = WebhookVerifier::new(secret());
        let payload = event();
        let other = WebhookSecret::parse("whsec_someone_else").unwrap();
        assert_eq!(
            verifier.verify(Some(&sign(&other, NOW, &payload)), &payload, NOW),
            Err(WebhookError::BadSignature),
            "signed with another secret"
        );
        let mut tampered = payload.clone();
        tampered.extend_from_slice(b" ");
        assert_eq!(
            verifier.verify(Some(&sign(&secret(), NOW, &payload)), &tampered, NOW),
            Err(WebhookError::BadSignature),
            "a body changed after signing"
        );
        let resigned_later =
            sign(&secret(), NOW - 301, &payload).replace(&format!("t={}", NOW - 301), &format!("t={NOW}"));
        assert_eq!(
            verifier.verify(Some(&resigned_later), &payload, NOW),
            Err(WebhookError::BadSignature),
            "a captured signature moved to a fresh timestamp"
        );
        assert!(matches!(
            verifier.verify(Some(&sign(&secret(), NOW - 301, &payload)), &payload, NOW),
            Err(WebhookError::OutsideWindow { age_secs: 301, .. })
        ));
        assert!(matches!(
            verifier.verify(Some(&sign(&secret(), NOW + 301, &payload)), &payload, NOW),
            Err(WebhookError::OutsideWindow { age_secs: -301, .. })
        ));
        for header in [None, Some(""), Some("t=abc,v1=00"), Some(&format!("t={NOW}")), Some(&format!("t={NOW},v1=xyz"))]
        {
            assert_eq!(verifier.verify(header, &payload, NOW), Err(WebhookError::Malformed), "{header:?}");
        }
        let not_an_event = b"{}";
        assert!(matches!(
            verifier.verify(Some(&sign(&secret(), NOW, not_an_event)), not_an_event, NOW),
            Err(WebhookError::Undecodable(_))
        ));
    }

    #[test]
    fn the_secret_is_checked_and_never_printed() {
        assert_eq!(WebhookSecret::parse("sk_test_not_a_webhook_secret"), Err(WebhookError::InvalidSecret));
        assert_eq!(WebhookSecret::parse("whsec_"), Err(WebhookError::InvalidSecret));
        assert!(!format!("{:?}", secret()).contains("0123456789"));
    }
}
