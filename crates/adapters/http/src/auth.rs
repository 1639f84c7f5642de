//! Who may use the admin routes: an [`AdminAuthorizer`] decides per request. The shared
//! bearer token ([`AdminToken`]) is the default; a team embedding the routers brings its
//! own (sessions, JWTs from its identity provider, mTLS identities, ...).

use async_trait::async_trait;
use axum::http::request::Parts;
use commerce_core::credential::BearerToken;

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

/// The operators' shared bearer token, compared by digest in constant time
/// ([`BearerToken`]): the default authorizer.
#[derive(Clone, Debug)]
pub struct AdminToken(BearerToken);

impl AdminToken {
    /// The authorizer accepting `token`.
    pub fn new(token: BearerToken) -> Self {
        Self(token)
    }

    /// True when `candidate` is the token.
    pub fn accepts(&self, candidate: &str) -> bool {
        self.0.accepts(candidate)
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
