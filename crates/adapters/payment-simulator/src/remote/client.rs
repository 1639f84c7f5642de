//! [`HttpCardProcessor`]: the `PaymentGateway` a service uses to reach a processor
//! speaking the API of [`router`](super::router).

use std::time::Duration;

use async_trait::async_trait;
use axum::http::StatusCode;
use commerce_core::{
    Money,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, IdempotencyKey, PaymentError,
        PaymentMethod, PaymentToken, RefundId,
    },
    ports::PaymentGateway,
};
use serde::{Deserialize, Serialize};

use super::{AmountBody, AuthorizeBody, CaptureReply, CardBody, ChallengeBody, ErrorReply, RefundReply, Stats};

/// Whether `url` names this host (`localhost`, 127.0.0.0/8, `::1`): the one place plain
/// http may carry card data, since it never leaves the machine.
fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host.eq_ignore_ascii_case("localhost")
        || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A `PaymentGateway` that calls a remote processor speaking the API above.
#[derive(Debug, Clone)]
pub struct HttpCardProcessor {
    base: String,
    client: reqwest::Client,
}

impl HttpCardProcessor {
    /// A client of the processor at `base` (e.g. `https://payments.internal`, or
    /// `http://127.0.0.1:8090` on this host); calls taking longer than `timeout` report
    /// `Unavailable` (outcome unknown). The server's certificate must chain to a public
    /// root (Mozilla's, as bundled by webpki-roots).
    ///
    /// Card data never travels in clear text: `base` must be `https://`, or `http://` to a
    /// loopback address; anything else is `InvalidRequest`. Redirects are not followed (one
    /// to `http://` would leak the card).
    pub fn new(base: impl Into<String>, timeout: Duration) -> Result<Self, PaymentError> {
        Self::build(&base.into(), timeout, None)
    }

    /// [`HttpCardProcessor::new`], also trusting the CA certificate(s) in `ca_pem` (a
    /// processor behind a private CA, or a test's own).
    pub fn with_root_certificate(
        base: impl Into<String>,
        timeout: Duration,
        ca_pem: &[u8],
    ) -> Result<Self, PaymentError> {
        Self::build(&base.into(), timeout, Some(ca_pem))
    }

    fn build(base: &str, timeout: Duration, ca_pem: Option<&[u8]>) -> Result<Self, PaymentError> {
        let url = reqwest::Url::parse(base)
            .map_err(|e| PaymentError::InvalidRequest(format!("the processor URL is not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(PaymentError::InvalidRequest(format!(
                    "refusing to send card data over plain http to {}: use https (plain http is only for loopback)",
                    url.host_str().unwrap_or_default()
                )));
            }
            other => return Err(PaymentError::InvalidRequest(format!("unsupported processor URL scheme {other:?}"))),
        }
        let mut builder = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none());
        if let Some(pem) = ca_pem {
            let roots = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| PaymentError::InvalidRequest(format!("the CA certificate is not PEM: {e}")))?;
            for root in roots {
                builder = builder.add_root_certificate(root);
            }
        }
        let client =
            builder.build().map_err(|e| PaymentError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { base: base.trim_end_matches('/').to_owned(), client })
    }

    /// Answers the 3-D Secure challenge of a pending authorisation, as its customer would
    /// (for tests and demos).
    pub async fn complete_action(
        &self,
        authorization: &AuthorizationId,
        authenticated: bool,
    ) -> Result<(), PaymentError> {
        let url = format!("{}/v1/authorizations/{}/challenge", self.base, authorization.0);
        let response = self.client.post(url).json(&ChallengeBody { authenticated }).send_traced().await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        decode::<Empty>(response).await.map(|_| ())
    }

    /// The processor's totals (for tests and operators).
    pub async fn stats(&self, reference: Option<&str>) -> Result<Stats, PaymentError> {
        let mut request = self.client.get(format!("{}/v1/stats", self.base));
        if let Some(r) = reference {
            request = request.query(&[("reference", r)]);
        }
        let response = request.send_traced().await?;
        decode(response).await
    }

    async fn post<B: Serialize, T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        key: Option<&IdempotencyKey>,
        body: &B,
    ) -> Result<T, PaymentError> {
        let mut request = self.client.post(format!("{}{path}", self.base)).json(body);
        if let Some(k) = key {
            request = request.header("Idempotency-Key", &k.0);
        }
        decode(request.send_traced().await?).await
    }
}

/// Sends a request to the processor in a span of its own, carrying the trace context.
trait SendTraced {
    async fn send_traced(self) -> Result<reqwest::Response, PaymentError>;
}

impl SendTraced for reqwest::RequestBuilder {
    async fn send_traced(self) -> Result<reqwest::Response, PaymentError> {
        use tracing::Instrument as _;
        let (client, request) = self.build_split();
        let mut request = request.map_err(|e| unavailable(&e))?;
        let span = tracing::info_span!("card processor", method = %request.method(), path = %request.url().path());
        span.in_scope(|| request.headers_mut().extend(commerce_telemetry::outgoing_headers()));
        client.execute(request).instrument(span).await.map_err(|e| unavailable(&e))
    }
}

fn unavailable(e: &reqwest::Error) -> PaymentError {
    PaymentError::Unavailable(format!("payment processor unreachable: {e}"))
}

async fn decode<T: for<'de> Deserialize<'de>>(response: reqwest::Response) -> Result<T, PaymentError> {
    let status = response.status();
    if status.is_success() {
        return response.json().await.map_err(|e| unavailable(&e));
    }
    let body: ErrorReply =
        response.json().await.unwrap_or(ErrorReply { error: status.to_string(), decline_code: None });
    Err(match status {
        StatusCode::BAD_REQUEST => PaymentError::InvalidRequest(body.error),
        StatusCode::PAYMENT_REQUIRED => {
            PaymentError::CardRefused(body.decline_code.unwrap_or(commerce_core::payment::DeclineReason::CardDeclined))
        }
        _ => PaymentError::Unavailable(format!("processor answered {status}: {}", body.error)),
    })
}

/// Nothing to decode (204).
#[derive(Deserialize)]
struct Empty {}

#[async_trait]
impl PaymentGateway for HttpCardProcessor {
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError> {
        let body = CardBody {
            number: card.number.expose_digits().to_owned(),
            exp_month: card.expiry.month(),
            exp_year: card.expiry.year(),
            cvc: card.cvc.expose().to_owned(),
        };
        self.post("/v1/payment_methods", None, &body).await
    }

    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError> {
        let url = format!("{}/v1/payment_methods/{}", self.base, token.0);
        decode(self.client.get(url).send_traced().await?).await
    }

    async fn authorize(&self, request: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError> {
        let body = AuthorizeBody {
            token: request.token.clone(),
            amount: request.amount,
            reference: request.reference.clone(),
        };
        self.post("/v1/authorizations", Some(&request.idempotency_key), &body).await
    }

    async fn authorization(&self, authorization: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError> {
        let url = format!("{}/v1/authorizations/{}", self.base, authorization.0);
        decode(self.client.get(url).send_traced().await?).await
    }

    async fn capture(
        &self,
        key: &IdempotencyKey,
        authorization: &AuthorizationId,
        amount: Money,
    ) -> Result<CaptureId, PaymentError> {
        let path = format!("/v1/authorizations/{}/capture", authorization.0);
        self.post::<_, CaptureReply>(&path, Some(key), &AmountBody { amount }).await.map(|r| r.capture_id)
    }

    async fn void(&self, key: &IdempotencyKey, authorization: &AuthorizationId) -> Result<(), PaymentError> {
        let path = format!("{}/v1/authorizations/{}/void", self.base, authorization.0);
        let response = self.client.post(path).header("Idempotency-Key", &key.0).send_traced().await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        decode::<Empty>(response).await.map(|_| ())
    }

    async fn refund(&self, key: &IdempotencyKey, capture: &CaptureId, amount: Money) -> Result<RefundId, PaymentError> {
        let path = format!("/v1/captures/{}/refunds", capture.0);
        self.post::<_, RefundReply>(&path, Some(key), &AmountBody { amount }).await.map(|r| r.refund_id)
    }
}
