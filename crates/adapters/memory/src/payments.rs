//! An in-memory card processor with Stripe-style test cards.
//!
//! | card number | authorisation |
//! |---|---|
//! | 4242 4242 4242 4242 (and any other valid number) | succeeds |
//! | 4000 0000 0000 0002 | declined (`card_declined`) |
//! | 4000 0000 0000 9995 | declined (`insufficient_funds`) |
//! | 4000 0000 0000 0069 | declined (`expired_card`) |
//! | 4000 0000 0000 0127 | declined (`incorrect_cvc`) |
//! | 4000 0000 0000 0119 | declined (`processing_error`) |
//! | 4000 0025 0000 3155 | requires action (3-D Secure) |
//!
//! Stripe's test PaymentMethods are known too, as tokens a browser would have obtained:
//! `pm_card_visa`, `pm_card_mastercard`, `pm_card_amex` (succeed), `pm_card_chargeDeclined`,
//! `pm_card_chargeDeclinedInsufficientFunds`, `pm_card_chargeDeclinedExpiredCard`,
//! `pm_card_chargeDeclinedIncorrectCvc`, `pm_card_chargeDeclinedProcessingError` and
//! `pm_card_authenticationRequired`, with the outcomes of the numbers above.
//!
//! The card number is looked at once, in `tokenize`, and only the resulting
//! behaviour is kept with the token: no number is stored. Every call is
//! idempotent by key; reusing a key with different parameters is an
//! `InvalidRequest`, as with real processors.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use commerce_core::{
    Money,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CaptureId, CardDetails, CardNumber, DeclineReason,
        IdempotencyKey, PaymentError, PaymentMethod, PaymentToken, RefundId,
        test_cards::{self, TestOutcome},
    },
    ports::PaymentGateway,
};

use crate::lock;

/// Where a customer completes the challenge of a pending authorisation, by default (the
/// memory processor has no pages: [`MemoryPaymentGateway::complete_action`] plays the
/// customer; a simulator serving a page sets its own with
/// [`MemoryPaymentGateway::with_challenge_url`]).
const CHALLENGE_URL: &str = "https://pay.example/3ds/";

/// Stripe's test PaymentMethods: the card each stands for, and what it does.
fn test_payment_method(token: &PaymentToken) -> Option<(PaymentMethod, TestOutcome)> {
    let number = test_cards::payment_method_card(&token.0)?;
    let card = CardNumber::parse(number).ok()?;
    let method = PaymentMethod { token: token.clone(), brand: card.brand(), last4: card.last4().to_owned() };
    Some((method, test_cards::outcome(number)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthState {
    Authorized,
    /// Waiting for the customer's authentication.
    Pending,
    /// The customer failed (or refused) the authentication.
    Failed,
    Captured,
    Voided,
}

#[derive(Debug)]
struct Authorization {
    amount: Money,
    reference: String,
    state: AuthState,
}

#[derive(Debug)]
struct Capture {
    authorization: AuthorizationId,
    amount: Money,
    refunded: i64,
}

#[derive(Debug, Default)]
struct State {
    counter: u64,
    /// Each token's card (as the processor keeps it) and what it does.
    tokens: HashMap<PaymentToken, (PaymentMethod, TestOutcome)>,
    /// Idempotency key -> (fingerprint of the request, result).
    replies: HashMap<IdempotencyKey, (String, Reply)>,
    authorizations: HashMap<AuthorizationId, Authorization>,
    captures: HashMap<CaptureId, Capture>,
    refunds: u64,
    /// Every record in creation order, for [`MemoryPaymentGateway::prune`].
    created: VecDeque<(Instant, Record)>,
}

/// A record the processor keeps, by key.
#[derive(Debug)]
enum Record {
    Token(PaymentToken),
    Reply(IdempotencyKey),
    Authorization(AuthorizationId),
    Capture(CaptureId),
}

#[derive(Debug, Clone)]
enum Reply {
    Authorize(AuthorizationOutcome),
    Capture(Result<CaptureId, PaymentError>),
    Void(Result<(), PaymentError>),
    Refund(Result<RefundId, PaymentError>),
}

impl State {
    fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{:08}", self.counter)
    }

    /// Returns the stored reply for `key`, or runs `f` and stores its reply.
    fn once(
        &mut self,
        key: &IdempotencyKey,
        fingerprint: String,
        f: impl FnOnce(&mut Self) -> Reply,
    ) -> Result<Reply, PaymentError> {
        if let Some((stored, reply)) = self.replies.get(key) {
            if *stored != fingerprint {
                return Err(PaymentError::InvalidRequest(format!(
                    "idempotency key {} reused with other parameters",
                    key.0
                )));
            }
            return Ok(reply.clone());
        }
        let reply = f(self);
        self.replies.insert(key.clone(), (fingerprint, reply.clone()));
        self.created.push_back((Instant::now(), Record::Reply(key.clone())));
        Ok(reply)
    }
}

/// What the processor did, for tests and simulations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewayStats {
    /// Authorisations created.
    pub authorizations: usize,
    /// Captures made.
    pub captures: usize,
    /// Authorisations voided.
    pub voids: usize,
    /// Refunds made (per reference: captures refunded at least in part).
    pub refunds: usize,
    /// Minor units refunded, over every currency.
    pub refunded_amount: i64,
    /// Authorisations still holding funds (neither captured nor voided).
    pub open_authorizations: usize,
}

/// The in-memory card processor.
#[derive(Debug)]
pub struct MemoryPaymentGateway {
    state: Mutex<State>,
    challenge_url: String,
}

impl Default for MemoryPaymentGateway {
    fn default() -> Self {
        Self { state: Mutex::default(), challenge_url: CHALLENGE_URL.to_owned() }
    }
}

/// A 3-D Secure challenge waiting for its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    /// What the authorisation holds.
    pub amount: Money,
    /// The shop's reference of the payment (its order id).
    pub reference: String,
}

impl MemoryPaymentGateway {
    /// A processor with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Challenges are answered at `base` followed by the authorisation id (a page the
    /// simulator serves, such as `/simulator/3ds/`).
    #[must_use]
    pub fn with_challenge_url(mut self, base: impl Into<String>) -> Self {
        self.challenge_url = base.into();
        self
    }

    fn challenge_url(&self, id: &AuthorizationId) -> String {
        format!("{}{}", self.challenge_url, id.0)
    }

    /// The challenge of `authorization` while it waits for its customer.
    pub fn pending_challenge(&self, authorization: &AuthorizationId) -> Option<PendingChallenge> {
        let s = lock(&self.state);
        let a = s.authorizations.get(authorization).filter(|a| a.state == AuthState::Pending)?;
        Some(PendingChallenge { amount: a.amount, reference: a.reference.clone() })
    }

    /// Forgets tokens, idempotent replies, authorisations and captures created more than
    /// `age` ago; returns how many. A processor keeps its records for a while, not forever:
    /// callers run this with a retention far longer than any retry (the `commerce` binary
    /// and `payments-simulator` keep 7 days).
    pub fn prune(&self, age: Duration) -> usize {
        let mut s = lock(&self.state);
        let now = Instant::now();
        let mut pruned = 0;
        while s.created.front().is_some_and(|(at, _)| now.duration_since(*at) > age) {
            let Some((_, record)) = s.created.pop_front() else { break };
            match record {
                Record::Token(t) => s.tokens.remove(&t).map(|_| ()),
                Record::Reply(k) => s.replies.remove(&k).map(|_| ()),
                Record::Authorization(a) => s.authorizations.remove(&a).map(|_| ()),
                Record::Capture(c) => s.captures.remove(&c).map(|_| ()),
            };
            pruned += 1;
        }
        pruned
    }

    /// Plays the customer's part in a 3-D Secure challenge: the pending authorisation
    /// `authorization` now holds funds (`authenticated`), or fails. Returns `false` when no
    /// such authorisation waits for its customer.
    pub fn complete_action(&self, authorization: &AuthorizationId, authenticated: bool) -> bool {
        let mut s = lock(&self.state);
        match s.authorizations.get_mut(authorization) {
            Some(a) if a.state == AuthState::Pending => {
                a.state = if authenticated { AuthState::Authorized } else { AuthState::Failed };
                true
            }
            _ => false,
        }
    }

    /// Totals over every payment whose `reference` (the order id) matches, or over all when `None`.
    pub fn stats(&self, reference: Option<&str>) -> GatewayStats {
        let s = lock(&self.state);
        let auths: Vec<_> =
            s.authorizations.iter().filter(|(_, a)| reference.is_none_or(|r| a.reference == r)).collect();
        let captures = s.captures.values().filter(|c| auths.iter().any(|(id, _)| **id == c.authorization)).count();
        GatewayStats {
            authorizations: auths.len(),
            captures,
            voids: auths.iter().filter(|(_, a)| a.state == AuthState::Voided).count(),
            refunds: if reference.is_none() {
                usize::try_from(s.refunds).unwrap_or(usize::MAX)
            } else {
                s.captures
                    .values()
                    .filter(|c| c.refunded > 0 && auths.iter().any(|(id, _)| **id == c.authorization))
                    .count()
            },
            refunded_amount: s
                .captures
                .values()
                .filter(|c| auths.iter().any(|(id, _)| **id == c.authorization))
                .map(|c| c.refunded)
                .sum(),
            open_authorizations: auths
                .iter()
                .filter(|(_, a)| matches!(a.state, AuthState::Authorized | AuthState::Pending))
                .count(),
        }
    }
}

#[async_trait]
impl PaymentGateway for MemoryPaymentGateway {
    async fn tokenize(&self, card: &CardDetails) -> Result<PaymentMethod, PaymentError> {
        let mut s = lock(&self.state);
        let token = PaymentToken(s.next("tok"));
        let method =
            PaymentMethod { token: token.clone(), brand: card.number.brand(), last4: card.number.last4().to_owned() };
        s.tokens.insert(token.clone(), (method.clone(), test_cards::outcome(card.number.expose_digits())));
        s.created.push_back((Instant::now(), Record::Token(token)));
        Ok(method)
    }

    async fn describe(&self, token: &PaymentToken) -> Result<PaymentMethod, PaymentError> {
        lock(&self.state)
            .tokens
            .get(token)
            .cloned()
            .or_else(|| test_payment_method(token))
            .map(|(method, _)| method)
            .ok_or_else(|| PaymentError::InvalidRequest(format!("unknown payment token {}", token.0)))
    }

    async fn authorize(&self, request: &AuthorizeRequest) -> Result<AuthorizationOutcome, PaymentError> {
        let mut s = lock(&self.state);
        let behaviour = s
            .tokens
            .get(&request.token)
            .cloned()
            .or_else(|| test_payment_method(&request.token))
            .map(|(_, behaviour)| behaviour)
            .ok_or_else(|| PaymentError::InvalidRequest(format!("unknown payment token {}", request.token.0)))?;
        let fingerprint = format!("authorize:{}:{}:{}", request.token.0, request.amount, request.reference);
        let reply = s.once(&request.idempotency_key, fingerprint, |s| {
            let outcome = match behaviour {
                TestOutcome::Declined(reason) => AuthorizationOutcome::Declined { reason },
                TestOutcome::Authorized | TestOutcome::RequiresAction => {
                    let id = AuthorizationId(s.next("auth"));
                    let state =
                        if behaviour == TestOutcome::Authorized { AuthState::Authorized } else { AuthState::Pending };
                    let auth = Authorization { amount: request.amount, reference: request.reference.clone(), state };
                    s.authorizations.insert(id.clone(), auth);
                    s.created.push_back((Instant::now(), Record::Authorization(id.clone())));
                    if behaviour == TestOutcome::Authorized {
                        AuthorizationOutcome::Authorized { authorization_id: id }
                    } else {
                        AuthorizationOutcome::RequiresAction {
                            next_action_url: self.challenge_url(&id),
                            authorization_id: id,
                        }
                    }
                }
            };
            Reply::Authorize(outcome)
        })?;
        match reply {
            Reply::Authorize(o) => Ok(o),
            _ => Err(PaymentError::InvalidRequest("idempotency key used for another operation".into())),
        }
    }

    async fn authorization(&self, authorization: &AuthorizationId) -> Result<AuthorizationOutcome, PaymentError> {
        let s = lock(&self.state);
        let a = s
            .authorizations
            .get(authorization)
            .ok_or_else(|| PaymentError::InvalidRequest(format!("unknown authorisation {}", authorization.0)))?;
        let authorization_id = authorization.clone();
        Ok(match a.state {
            AuthState::Authorized | AuthState::Captured => AuthorizationOutcome::Authorized { authorization_id },
            AuthState::Pending => AuthorizationOutcome::RequiresAction {
                next_action_url: self.challenge_url(&authorization_id),
                authorization_id,
            },
            AuthState::Failed => AuthorizationOutcome::Declined { reason: DeclineReason::AuthenticationRequired },
            AuthState::Voided => AuthorizationOutcome::Declined { reason: DeclineReason::ProcessingError },
        })
    }

    async fn capture(
        &self,
        key: &IdempotencyKey,
        authorization: &AuthorizationId,
        amount: Money,
    ) -> Result<CaptureId, PaymentError> {
        let mut s = lock(&self.state);
        let reply = s.once(key, format!("capture:{}:{amount}", authorization.0), |s| {
            let result = match s.authorizations.get(authorization) {
                None => Err(PaymentError::InvalidRequest(format!("unknown authorisation {}", authorization.0))),
                Some(a) if a.state != AuthState::Authorized => {
                    Err(PaymentError::InvalidRequest(format!("authorisation {} is {:?}", authorization.0, a.state)))
                }
                Some(a) if a.amount.currency() != amount.currency() || amount.amount() > a.amount.amount() => {
                    Err(PaymentError::InvalidRequest(format!("cannot capture {amount} of {}", a.amount)))
                }
                Some(_) => {
                    let id = CaptureId(s.next("cap"));
                    if let Some(a) = s.authorizations.get_mut(authorization) {
                        a.state = AuthState::Captured;
                    }
                    s.captures
                        .insert(id.clone(), Capture { authorization: authorization.clone(), amount, refunded: 0 });
                    s.created.push_back((Instant::now(), Record::Capture(id.clone())));
                    Ok(id)
                }
            };
            Reply::Capture(result)
        })?;
        match reply {
            Reply::Capture(r) => r,
            _ => Err(PaymentError::InvalidRequest("idempotency key used for another operation".into())),
        }
    }

    async fn void(&self, key: &IdempotencyKey, authorization: &AuthorizationId) -> Result<(), PaymentError> {
        let mut s = lock(&self.state);
        let reply = s.once(key, format!("void:{}", authorization.0), |s| {
            let result = match s.authorizations.get_mut(authorization) {
                None => Err(PaymentError::InvalidRequest(format!("unknown authorisation {}", authorization.0))),
                Some(a) if a.state == AuthState::Captured => {
                    Err(PaymentError::InvalidRequest(format!("authorisation {} was captured", authorization.0)))
                }
                Some(a) => {
                    a.state = AuthState::Voided;
                    Ok(())
                }
            };
            Reply::Void(result)
        })?;
        match reply {
            Reply::Void(r) => r,
            _ => Err(PaymentError::InvalidRequest("idempotency key used for another operation".into())),
        }
    }

    async fn refund(&self, key: &IdempotencyKey, capture: &CaptureId, amount: Money) -> Result<RefundId, PaymentError> {
        let mut s = lock(&self.state);
        let reply = s.once(key, format!("refund:{}:{amount}", capture.0), |s| {
            let result = match s.captures.get(capture) {
                None => Err(PaymentError::InvalidRequest(format!("unknown capture {}", capture.0))),
                Some(c)
                    if c.amount.currency() != amount.currency() || c.refunded + amount.amount() > c.amount.amount() =>
                {
                    Err(PaymentError::InvalidRequest(format!("cannot refund {amount} of {}", c.amount)))
                }
                Some(_) => {
                    let id = RefundId(s.next("re"));
                    if let Some(c) = s.captures.get_mut(capture) {
                        c.refunded += amount.amount();
                    }
                    s.refunds += 1;
                    Ok(id)
                }
            };
            Reply::Refund(result)
        })?;
        match reply {
            Reply::Refund(r) => r,
            _ => Err(PaymentError::InvalidRequest("idempotency key used for another operation".into())),
        }
    }
}
