//! Conformance suite for [`PaymentGateway`]: idempotency of every call and the
//! state rules of authorisations. The caller passes a card its gateway authorises.

use crate::{
    money::{Currency, Money},
    payment::{AuthorizationOutcome, AuthorizeRequest, CardDetails, IdempotencyKey, PaymentError, PaymentToken},
    ports::PaymentGateway,
};

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey(k.into())
}

/// Runs every case against `gateway`, using `good_card` (a card it authorises).
/// Keys are prefixed with `ns` so one gateway can run the suite repeatedly.
pub async fn run<G: PaymentGateway>(gateway: &G, good_card: &CardDetails, ns: &str) {
    let amount = Money::new(5000, Currency::USD).unwrap_or_else(|_| unreachable!());
    let method = gateway.tokenize(good_card).await.unwrap_or_else(|e| panic!("tokenize: {e}"));
    assert_eq!(method.last4, good_card.number.last4(), "tokenize keeps the last four digits");
    assert_eq!(method.brand, good_card.number.brand(), "tokenize keeps the brand");
    assert_eq!(gateway.describe(&method.token).await, Ok(method.clone()), "describe gives back the tokenised card");
    assert!(
        matches!(
            gateway.describe(&PaymentToken(format!("{ns}-never-issued"))).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "describe refuses a token the gateway never issued"
    );

    let request = |k: &str| AuthorizeRequest {
        idempotency_key: key(&format!("{ns}:{k}")),
        token: method.token.clone(),
        amount,
        reference: "conformance".into(),
    };
    let first = gateway.authorize(&request("a1")).await.unwrap_or_else(|e| panic!("authorize: {e}"));
    let AuthorizationOutcome::Authorized { authorization_id } = first.clone() else {
        panic!("the good card must authorise, got {first:?}");
    };
    assert_eq!(gateway.authorize(&request("a1")).await, Ok(first.clone()), "authorize is idempotent by key");
    assert_eq!(gateway.authorization(&authorization_id).await, Ok(first), "an authorisation reads back as held");
    assert!(
        matches!(
            gateway.authorization(&crate::payment::AuthorizationId(format!("{ns}-never-issued"))).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "an authorisation the gateway never issued is refused"
    );

    let over = amount.checked_add(&amount).unwrap_or(amount);
    assert!(
        matches!(
            gateway.capture(&key(&format!("{ns}:c0")), &authorization_id, over).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "capturing more than authorised is refused"
    );
    let capture = gateway
        .capture(&key(&format!("{ns}:c1")), &authorization_id, amount)
        .await
        .unwrap_or_else(|e| panic!("capture: {e}"));
    assert_eq!(
        gateway.capture(&key(&format!("{ns}:c1")), &authorization_id, amount).await,
        Ok(capture.clone()),
        "capture is idempotent by key"
    );
    assert!(
        matches!(
            gateway.void(&key(&format!("{ns}:v1")), &authorization_id).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "a captured authorisation cannot be voided"
    );
    let refund =
        gateway.refund(&key(&format!("{ns}:r1")), &capture, amount).await.unwrap_or_else(|e| panic!("refund: {e}"));
    assert_eq!(
        gateway.refund(&key(&format!("{ns}:r1")), &capture, amount).await,
        Ok(refund),
        "refund is idempotent by key"
    );
    assert!(
        matches!(
            gateway.refund(&key(&format!("{ns}:r2")), &capture, amount).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "refunding more than captured is refused"
    );

    let second = gateway.authorize(&request("a2")).await.unwrap_or_else(|e| panic!("authorize: {e}"));
    let AuthorizationOutcome::Authorized { authorization_id: auth2 } = second else {
        panic!("second authorisation: {second:?}");
    };
    gateway.void(&key(&format!("{ns}:v2")), &auth2).await.unwrap_or_else(|e| panic!("void: {e}"));
    gateway.void(&key(&format!("{ns}:v2")), &auth2).await.unwrap_or_else(|e| panic!("void retry: {e}"));
    assert!(
        matches!(gateway.authorization(&auth2).await, Ok(AuthorizationOutcome::Declined { .. })),
        "a voided authorisation reads back as holding nothing"
    );
    assert!(
        matches!(
            gateway.capture(&key(&format!("{ns}:c2")), &auth2, amount).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "a voided authorisation cannot be captured"
    );
}
