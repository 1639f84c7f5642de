//! Bearer credentials: the operators' admin token and the services' tokens.
//!
//! A [`BearerToken`] keeps only the SHA-256 digest of the token it was made from and
//! compares candidates digest to digest in constant time: the time a comparison takes
//! tells nothing about the token, not even its length (comparing the raw bytes with an
//! early return on a length mismatch would).

use subtle::ConstantTimeEq;

use crate::{
    hashing::{hmac_sha256, sha256},
    timestamp::Timestamp,
    validation::InvalidValue,
};

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

    /// Signs and checks the browser sessions of people who signed in with this token. The
    /// key derives from the token: replicas sharing the token share sessions, and changing
    /// the token ends every session.
    pub fn sessions(&self) -> SessionSigner {
        SessionSigner { key: hmac_sha256(&self.digest, "commerce/admin-session-key/v1", &[]) }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Issues and verifies signed session values (`v1.<expiry>.<nonce>.<signature>`), and the
/// CSRF token of each session. Nothing is stored: a session is valid while its signature
/// holds and its expiry is ahead; signing out removes it from the browser.
#[derive(Clone)]
pub struct SessionSigner {
    key: [u8; 32],
}

/// A verified session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    nonce: String,
    /// When it ends (Unix seconds).
    pub expires_at: i64,
}

impl SessionSigner {
    /// How long a session lasts: a working day.
    pub const TTL_SECS: i64 = 8 * 3600;

    /// A new session value; `nonce` is a fresh unguessable secret (`IdGenerator::new_secret`).
    pub fn issue(&self, nonce: &str, now: Timestamp) -> String {
        let expires = now.unix_micros() / 1_000_000 + Self::TTL_SECS;
        let body = format!("v1.{expires}.{nonce}");
        let signature = b64(&hmac_sha256(&self.key, "commerce/admin-session/v1", &[body.as_bytes()]));
        format!("{body}.{signature}")
    }

    /// The session of `value` when its signature holds and it has not expired.
    pub fn verify(&self, value: &str, now: Timestamp) -> Option<Session> {
        let (body, signature) = value.rsplit_once('.')?;
        let expected = b64(&hmac_sha256(&self.key, "commerce/admin-session/v1", &[body.as_bytes()]));
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return None;
        }
        let mut parts = body.splitn(3, '.');
        let (Some("v1"), Some(expires), Some(nonce)) = (parts.next(), parts.next(), parts.next()) else { return None };
        let expires_at = expires.parse::<i64>().ok()?;
        (now.unix_micros() / 1_000_000 < expires_at).then(|| Session { nonce: nonce.to_owned(), expires_at })
    }

    /// The token every form of `session` carries: forms from another site cannot know it.
    pub fn csrf_token(&self, session: &Session) -> String {
        b64(&hmac_sha256(&self.key, "commerce/admin-csrf/v1", &[session.nonce.as_bytes()]))
    }

    /// True when `token` is `session`'s CSRF token (constant time).
    pub fn accepts_csrf(&self, session: &Session, token: &str) -> bool {
        bool::from(self.csrf_token(session).as_bytes().ct_eq(token.as_bytes()))
    }
}

impl std::fmt::Debug for SessionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSigner(***)")
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
    fn sessions_hold_until_they_expire_and_only_with_their_signature() {
        let token = BearerToken::parse("an-admin-token-of-some-length").unwrap();
        let signer = token.sessions();
        let now = Timestamp::from_unix_micros(1_800_000_000_000_000);
        let value = signer.issue("nonce-1", now);
        let session = signer.verify(&value, now).unwrap();
        assert!(signer.verify(&value, now.plus_seconds(SessionSigner::TTL_SECS - 1)).is_some());
        assert_eq!(signer.verify(&value, now.plus_seconds(SessionSigner::TTL_SECS)), None, "expired");
        let forged = value.replacen("v1.", "v1.9", 1);
        assert_eq!(signer.verify(&forged, now), None, "a changed expiry breaks the signature");
        let other = BearerToken::parse("another-admin-token-of-length").unwrap().sessions();
        assert_eq!(other.verify(&value, now), None, "a new token ends every session");
        for junk in ["", "v1", "v1.x.y", "a.b.c.d.e"] {
            assert_eq!(signer.verify(junk, now), None, "{junk:?}");
        }
        let csrf = signer.csrf_token(&session);
        assert!(signer.accepts_csrf(&session, &csrf));
        let second = signer.verify(&signer.issue("nonce-2", now), now).unwrap();
        assert!(!signer.accepts_csrf(&second, &csrf), "a token belongs to its session");
    }

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
