//! Who may use the admin routes: an [`AdminAuthorizer`] decides per request. The shared
//! bearer token ([`AdminToken`]) is the default; a team embedding the routers brings its
//! own (sessions, JWTs from its identity provider, mTLS identities, ...).

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use crate::{error::ApiError, extract::bearer};

/// Decides whether a request may use the admin API.
///
/// Return `Err(ApiError::Unauthorized)` (401, with `WWW-Authenticate`) when the caller is
/// unknown and `Err(ApiError::Forbidden(..))` (403) when it is known but not allowed;
/// `Err(ApiError::Unavailable(..))` when the identity provider cannot be reached.
///
/// ```
/// use async_trait::async_trait;
/// use axum::http::request::Parts;
/// use commerce_http::{ApiError, auth::AdminAuthorizer};
///
/// /// Lets in requests that a fronting proxy marked as coming from the operators' network.
/// struct TrustedProxy;
///
/// #[async_trait]
/// impl AdminAuthorizer for TrustedProxy {
///     async fn authorize(&self, request: &Parts) -> Result<(), ApiError> {
///         match request.headers.get("x-operator") {
///             Some(_) => Ok(()),
///             None => Err(ApiError::Unauthorized),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait AdminAuthorizer: Send + Sync + 'static {
    /// `Ok` when the request may proceed.
    async fn authorize(&self, request: &Parts) -> Result<(), ApiError>;
}

/// The operators' shared bearer token, compared in constant time: the default authorizer.
#[derive(Clone)]
pub struct AdminToken(Arc<str>);

impl AdminToken {
    /// Wraps a token.
    pub fn new(token: impl Into<Arc<str>>) -> Self {
        Self(token.into())
    }

    /// True when `candidate` is the token.
    pub fn accepts(&self, candidate: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

#[async_trait]
impl AdminAuthorizer for AdminToken {
    async fn authorize(&self, request: &Parts) -> Result<(), ApiError> {
        match bearer(&request.headers) {
            Some(candidate) if self.accepts(candidate) => Ok(()),
            _ => Err(ApiError::Unauthorized),
        }
    }
}
