//! The card processor's ports: the payment lifecycle, and reading its notifications.

use async_trait::async_trait;

use crate::{
    money::Money,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, IdempotencyKey,
        NoticeRejected, PaymentError, PaymentMethod, PaymentNotice, PaymentToken, RefundId,
    },
    timestamp::Timestamp,
};

/// A card processor.
///
/// Every money-moving call takes an idempotency key: the same key returns the
/// first result and never moves money twice. `Unavailable` means the outcome is
/// unknown; retry with the same key.
///
/// Seven methods, one concern: they are the lifecycle of one card payment at one
/// processor, and every processor implements all of them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Exchanges card details for a reusable token. Returns `CardRefused` for a card the
    /// processor will not accept at all.
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError>;

    /// The card behind a token this processor issued (brand and last four digits): for a
    /// checkout paid with a token the customer's browser obtained from the processor, so
    /// the shop never sees the card. `InvalidRequest` for a token it does not know.
    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError>;

    /// Holds `amount` on the card. Declines are an `Ok` outcome, not an error.
    async fn authorize(&self, request: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError>;

    /// Where an authorisation stands now (a read; retrying `authorize` with its key would
    /// replay the first answer): `RequiresAction` while the customer has not completed the
    /// challenge, `Authorized` once funds are held (captured since or not), `Declined` when
    /// the challenge failed or the authorisation was cancelled. `InvalidRequest` for an id
    /// this processor never issued.
    async fn authorization(&self, authorization: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError>;

    /// Captures an authorisation. Returns `CardRefused` when the capture is declined and
    /// `InvalidRequest` for an unknown or voided authorisation or an amount above the hold.
    async fn capture(
        &self,
        key: &IdempotencyKey,
        authorization: &AuthorizationId,
        amount: Money,
    ) -> Result<CaptureId, PaymentError>;

    /// Cancels an uncaptured authorisation. Returns `InvalidRequest` when it was captured.
    async fn void(&self, key: &IdempotencyKey, authorization: &AuthorizationId) -> Result<(), PaymentError>;

    /// Returns captured funds. Returns `InvalidRequest` above the captured amount.
    async fn refund(&self, key: &IdempotencyKey, capture: &CaptureId, amount: Money) -> Result<RefundId, PaymentError>;
}

/// Reads a card processor's signed notifications (webhooks): the inbound side of its
/// adapter. Pure (no I/O): verifies the signature against the endpoint's secret and
/// translates the payload.
pub trait PaymentNoticeDecoder: Send + Sync {
    /// The notice in `payload`, signed with `signature` (the processor's header), received
    /// at `now`. `Ok(None)` for a genuine notification that concerns no payment (another
    /// event type): acknowledge it and do nothing. `Rejected` when it cannot be shown to
    /// come from the processor (forged, or replayed outside the tolerance window).
    fn decode(
        &self,
        signature: Option<&str>,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<Option<PaymentNotice>, NoticeRejected>;
}
