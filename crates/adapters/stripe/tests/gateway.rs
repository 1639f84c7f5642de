//! The Stripe adapter against the Stripe-compatible fake: the payment conformance suite,
//! every test PaymentMethod's outcome, Stripe's idempotency, and retries.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::{sync::Arc, time::Duration};

use axum::http::StatusCode;
use commerce_core::{
    Money, Timestamp,
    money::Currency,
    payment::{
        AuthorizationId, AuthorizationOutcome, AuthorizeRequest, CardBrand, CardDetails, CardExpiry, CardNumber, Cvc,
        DeclineReason, IdempotencyKey, PaymentError, PaymentToken,
    },
    ports::PaymentGateway,
    testkit::conformance,
};
use commerce_stripe::{StripeConfig, StripeGateway, StripeSecretKey, fake::FakeStripe};

const KEY: &str = "sk_test_fake_0123456789";

/// The fake on a port of its own, and a gateway configured against it.
async fn stripe(configure: impl FnOnce(&mut StripeConfig)) -> (Arc<FakeStripe>, StripeGateway) {
    let fake = FakeStripe::new(KEY);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = commerce_stripe::fake::router(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut config = StripeConfig::new(StripeSecretKey::parse(KEY).unwrap());
    config.api_base = base;
    config.backoff = Duration::from_millis(10);
    configure(&mut config);
    (fake, StripeGateway::new(config).unwrap())
}

fn card(number: &str) -> CardDetails {
    let number = CardNumber::parse(number).unwrap();
    let cvc = Cvc::parse("123", number.brand()).unwrap();
    CardDetails {
        number,
        expiry: CardExpiry::parse(12, 2030, Timestamp::from_unix_micros(1_767_225_600_000_000)).unwrap(),
        cvc,
    }
}

fn usd(amount: i64) -> Money {
    Money::new(amount, Currency::USD).unwrap()
}

fn authorize(key: &str, token: &str, amount: i64) -> AuthorizeRequest {
    AuthorizeRequest {
        idempotency_key: IdempotencyKey(key.into()),
        token: PaymentToken(token.into()),
        amount: usd(amount),
        reference: "order-1".into(),
    }
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey(k.into())
}

#[tokio::test]
async fn the_gateway_passes_the_payment_conformance_suite() {
    let (_, gateway) = stripe(|_| {}).await;
    conformance::payment::run(&gateway, &card("4242424242424242"), "stripe").await;
    conformance::payment::run(&gateway, &card("5555555555554444"), "stripe-again").await;
}

#[tokio::test]
async fn every_test_payment_method_has_its_outcome() {
    let (_, gateway) = stripe(|_| {}).await;
    let declined = |reason| AuthorizationOutcome::Declined { reason };
    for (token, expected) in [
        ("pm_card_chargeDeclined", declined(DeclineReason::CardDeclined)),
        ("pm_card_chargeDeclinedInsufficientFunds", declined(DeclineReason::InsufficientFunds)),
        ("pm_card_chargeDeclinedExpiredCard", declined(DeclineReason::ExpiredCard)),
        ("pm_card_chargeDeclinedIncorrectCvc", declined(DeclineReason::IncorrectCvc)),
        ("pm_card_chargeDeclinedProcessingError", declined(DeclineReason::ProcessingError)),
        ("pm_card_chargeDeclinedFraudulent", declined(DeclineReason::Fraudulent)),
    ] {
        let outcome = gateway.authorize(&authorize(&format!("k-{token}"), token, 1000)).await.unwrap();
        assert_eq!(outcome, expected, "{token}");
    }
    let visa = gateway.describe(&PaymentToken("pm_card_visa".into())).await.unwrap();
    assert_eq!((visa.brand, visa.last4.as_str()), (CardBrand::Visa, "4242"), "a browser's token is described");
    for token in ["pm_card_visa", "pm_card_mastercard", "pm_card_amex"] {
        let outcome = gateway.authorize(&authorize(&format!("k-{token}"), token, 1000)).await.unwrap();
        assert!(matches!(outcome, AuthorizationOutcome::Authorized { .. }), "{token}: {outcome:?}");
    }
    let AuthorizationOutcome::RequiresAction { authorization_id, next_action_url } =
        gateway.authorize(&authorize("k-3ds", "pm_card_authenticationRequired", 1000)).await.unwrap()
    else {
        panic!("3-D Secure cards require an action");
    };
    assert!(authorization_id.0.starts_with("pi_"));
    assert!(next_action_url.starts_with("https://"), "{next_action_url}");
    assert!(
        matches!(
            gateway.authorize(&authorize("k-unknown", "pm_nope", 1000)).await,
            Err(PaymentError::InvalidRequest(_))
        ),
        "an unknown PaymentMethod is an invalid request"
    );
}

#[tokio::test]
async fn a_card_tokenised_by_number_keeps_its_test_outcome_and_never_its_number() {
    let (_, gateway) = stripe(|_| {}).await;
    let method = gateway.tokenize(&card("4000 0000 0000 9995")).await.unwrap();
    assert!(method.token.0.starts_with("pm_"));
    assert_eq!(method.last4, "9995");
    assert!(!method.token.0.contains("4000000000009995"));
    let outcome = gateway.authorize(&authorize("k-funds", &method.token.0, 1000)).await.unwrap();
    assert_eq!(outcome, AuthorizationOutcome::Declined { reason: DeclineReason::InsufficientFunds });
}

#[tokio::test]
async fn a_key_replays_its_first_answer_and_refuses_other_parameters() {
    let (fake, gateway) = stripe(|_| {}).await;
    let first = gateway.authorize(&authorize("order-7:authorize", "pm_card_visa", 2500)).await.unwrap();
    assert_eq!(gateway.authorize(&authorize("order-7:authorize", "pm_card_visa", 2500)).await.unwrap(), first);
    assert_eq!(fake.counts().intents, 1, "one PaymentIntent for one key");
    assert!(matches!(
        gateway.authorize(&authorize("order-7:authorize", "pm_card_visa", 9999)).await,
        Err(PaymentError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_with_the_same_key() {
    let (fake, gateway) = stripe(|c| c.max_attempts = 3).await;
    fake.fail_next(1, StatusCode::INTERNAL_SERVER_ERROR);
    fake.fail_next(1, StatusCode::TOO_MANY_REQUESTS);
    let outcome = gateway.authorize(&authorize("k-retry", "pm_card_visa", 1000)).await.unwrap();
    assert!(matches!(outcome, AuthorizationOutcome::Authorized { .. }));
    assert_eq!(fake.counts().intents, 1);

    // Three failed attempts: the outcome is unknown, and the saga's later retry with
    // the same key goes through.
    fake.fail_next(3, StatusCode::SERVICE_UNAVAILABLE);
    let failed = gateway.authorize(&authorize("k-later", "pm_card_visa", 1000)).await;
    assert!(matches!(failed, Err(PaymentError::Unavailable(_))), "{failed:?}");
    let retried = gateway.authorize(&authorize("k-later", "pm_card_visa", 1000)).await.unwrap();
    assert!(matches!(retried, AuthorizationOutcome::Authorized { .. }));
    assert_eq!(fake.counts().intents, 2);
}

#[tokio::test]
async fn a_retry_after_a_timeout_that_took_effect_charges_once() {
    let (fake, gateway) = stripe(|c| c.timeout = Duration::from_millis(300)).await;
    let AuthorizationOutcome::Authorized { authorization_id } =
        gateway.authorize(&authorize("k-auth", "pm_card_visa", 4000)).await.unwrap()
    else {
        panic!("visa authorises");
    };
    // Stripe captures, but its answer comes after the client gave up: the retry with the
    // same key gets the first answer, and the money moved once.
    fake.delay_next(Duration::from_secs(2));
    let capture = gateway.capture(&key("k-capture"), &authorization_id, usd(4000)).await.unwrap();
    assert!(capture.0.starts_with("ch_"));
    assert_eq!(fake.counts().captured, 1);
    assert_eq!(fake.counts().replays, 1, "the first attempt timed out; its retry was a replay");
    assert_eq!(gateway.capture(&key("k-capture"), &authorization_id, usd(4000)).await.unwrap(), capture);
}

#[tokio::test]
async fn partial_refunds_add_up_to_the_capture() {
    let (fake, gateway) = stripe(|_| {}).await;
    let AuthorizationOutcome::Authorized { authorization_id } =
        gateway.authorize(&authorize("k-a", "pm_card_visa", 5000)).await.unwrap()
    else {
        panic!("visa authorises");
    };
    let capture = gateway.capture(&key("k-c"), &authorization_id, usd(5000)).await.unwrap();
    gateway.refund(&key("k-r1"), &capture, usd(2000)).await.unwrap();
    gateway.refund(&key("k-r2"), &capture, usd(3000)).await.unwrap();
    assert!(matches!(gateway.refund(&key("k-r3"), &capture, usd(1)).await, Err(PaymentError::InvalidRequest(_))));
    assert_eq!(fake.counts().refunds, 2);
}

#[tokio::test]
async fn a_refused_secret_key_is_unavailable_and_never_printed() {
    let (_, gateway) = stripe(|c| c.secret_key = StripeSecretKey::parse("sk_test_wrong_key").unwrap()).await;
    let result = gateway.authorize(&authorize("k-wrong", "pm_card_visa", 1000)).await;
    let Err(PaymentError::Unavailable(message)) = result else {
        panic!("a refused key is Unavailable, got {result:?}");
    };
    assert!(!message.contains("sk_test_wrong_key"), "{message}");
    let key = StripeSecretKey::parse("sk_live_secret_value").unwrap();
    assert!(!format!("{key:?}").contains("secret_value"));
    assert!(StripeSecretKey::parse("pk_test_publishable").is_err(), "a publishable key is not a secret key");
    assert!(!key.is_test_mode());
}

#[tokio::test]
async fn a_challenge_s_outcome_is_read_back_from_the_intent() {
    let (fake, gateway) = stripe(|_| {}).await;
    let challenge = |key: &'static str| {
        let gateway = gateway.clone();
        async move {
            match gateway.authorize(&authorize(key, "pm_card_authenticationRequired", 1000)).await.unwrap() {
                AuthorizationOutcome::RequiresAction { authorization_id, .. } => authorization_id,
                other => panic!("3-D Secure cards require an action, got {other:?}"),
            }
        }
    };
    let passed = challenge("k-3ds-pass").await;
    assert!(matches!(gateway.authorization(&passed).await, Ok(AuthorizationOutcome::RequiresAction { .. })));
    assert!(fake.complete_action(&passed.0, true).await);
    assert_eq!(gateway.payment_intent(&passed.0).await.unwrap().status, "requires_capture");
    assert_eq!(
        gateway.authorization(&passed).await,
        Ok(AuthorizationOutcome::Authorized { authorization_id: passed.clone() })
    );
    let amount = Money::new(1000, Currency::USD).unwrap();
    gateway.capture(&IdempotencyKey("k-3ds-capture".into()), &passed, amount).await.unwrap();
    assert_eq!(
        gateway.authorization(&passed).await,
        Ok(AuthorizationOutcome::Authorized { authorization_id: passed.clone() }),
        "captured since"
    );

    let failed = challenge("k-3ds-fail").await;
    assert!(fake.complete_action(&failed.0, false).await);
    assert!(!fake.complete_action(&failed.0, true).await, "answered once");
    assert_eq!(
        gateway.authorization(&failed).await,
        Ok(AuthorizationOutcome::Declined { reason: DeclineReason::AuthenticationRequired })
    );
    assert!(matches!(
        gateway.authorization(&AuthorizationId("pi_unknown".into())).await,
        Err(PaymentError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn the_secret_key_never_travels_in_clear_text() {
    let key = || StripeSecretKey::parse(KEY).unwrap();
    for base in ["http://api.stripe.example", "ftp://127.0.0.1", "not a url"] {
        let mut config = StripeConfig::new(key());
        config.api_base = base.into();
        assert!(matches!(StripeGateway::new(config), Err(PaymentError::InvalidRequest(_))), "{base}");
    }
    for base in ["https://api.stripe.com", "http://127.0.0.1:12111", "http://localhost:12111", "http://[::1]:1"] {
        let mut config = StripeConfig::new(key());
        config.api_base = base.into();
        assert!(StripeGateway::new(config).is_ok(), "{base}");
    }
}
