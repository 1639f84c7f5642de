//! Stripe's webhooks as the core's payment notices: [`WebhookVerifier`] is the shop's
//! [`PaymentNoticeDecoder`] for `POST /webhooks/stripe`.
//!
//! | event | notice |
//! |---|---|
//! | `payment_intent.amount_capturable_updated` (a challenge passed: funds held) | authorisation changed |
//! | `payment_intent.succeeded`, `payment_intent.payment_failed`, `payment_intent.canceled` | authorisation changed |
//! | `charge.refunded` | refunded |
//! | anything else | none (acknowledged, nothing done) |
//!
//! The order is the one the shop named in the intent's `metadata[reference]` when it
//! authorised (Stripe copies an intent's metadata to its charges).

use commerce_core::{
    Timestamp,
    ids::OrderId,
    payment::{AuthorizationId, NoticeKind, NoticeRejected, PaymentNotice},
    ports::PaymentNoticeDecoder,
};
use serde_json::Value;

use crate::webhook::{WebhookError, WebhookVerifier};

impl PaymentNoticeDecoder for WebhookVerifier {
    fn decode(
        &self,
        signature: Option<&str>,
        payload: &[u8],
        now: Timestamp,
    ) -> Result<Option<PaymentNotice>, NoticeRejected> {
        let event = self.verify(signature, payload, now.unix_micros().div_euclid(1_000_000)).map_err(|e| match e {
            WebhookError::Undecodable(m) => NoticeRejected::Malformed(m),
            other => NoticeRejected::Signature(other.to_string()),
        })?;
        let object = &event.data.object;
        let (kind, intent) = match event.kind.as_str() {
            "payment_intent.amount_capturable_updated"
            | "payment_intent.succeeded"
            | "payment_intent.payment_failed"
            | "payment_intent.canceled" => (NoticeKind::AuthorizationChanged, object.get("id")),
            "charge.refunded" => (NoticeKind::Refunded, object.get("payment_intent")),
            _ => return Ok(None),
        };
        let Some(intent) = intent.and_then(Value::as_str).filter(|id| id.starts_with("pi_")) else {
            return Err(NoticeRejected::Malformed(format!("{} without a payment intent id", event.kind)));
        };
        let order_id = object
            .get("metadata")
            .and_then(|m| m.get("reference"))
            .and_then(Value::as_str)
            .and_then(|r| r.parse::<OrderId>().ok());
        Ok(Some(PaymentNotice {
            event_id: event.id,
            kind,
            authorization_id: AuthorizationId(intent.to_owned()),
            order_id,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use serde_json::json;

    use super::*;
    use crate::webhook::{WebhookSecret, sign};

    const NOW: i64 = 1_767_225_600;
    const ORDER: &str = "01936b2e-1111-7000-8000-000000000001";

    fn decode(event: &Value) -> Result<Option<PaymentNotice>, NoticeRejected> {
        let secret = WebhookSecret::parse("whsec_test_notices").unwrap();
        let payload = serde_json::to_vec(event).unwrap();
        let header = sign(&secret, NOW, &payload);
        WebhookVerifier::new(secret).decode(Some(&header), &payload, Timestamp::from_unix_micros(NOW * 1_000_000))
    }

    fn event(kind: &str, object: Value) -> Value {
        let mut event = json!({"id": "evt_1", "object": "event", "type": kind, "created": NOW, "data": {}});
        event["data"]["object"] = object;
        event
    }

    #[test]
    fn intent_and_refund_events_name_the_authorisation_and_the_order() {
        let intent = json!({"id": "pi_1", "object": "payment_intent", "metadata": {"reference": ORDER}});
        let notice = decode(&event("payment_intent.amount_capturable_updated", intent)).unwrap().unwrap();
        assert_eq!(notice.kind, NoticeKind::AuthorizationChanged);
        assert_eq!(notice.authorization_id, AuthorizationId("pi_1".into()));
        assert_eq!(notice.order_id, Some(ORDER.parse().unwrap()));
        assert_eq!(notice.event_id, "evt_1");

        let charge =
            json!({"id": "ch_1", "object": "charge", "payment_intent": "pi_1", "metadata": {"reference": ORDER}});
        let notice = decode(&event("charge.refunded", charge)).unwrap().unwrap();
        assert_eq!((notice.kind, notice.authorization_id.0.as_str()), (NoticeKind::Refunded, "pi_1"));
    }

    #[test]
    fn other_events_and_foreign_payments_are_acknowledged_without_an_order() {
        assert_eq!(decode(&event("customer.created", json!({"id": "cus_1"}))), Ok(None));
        let foreign = json!({"id": "pi_2", "object": "payment_intent", "metadata": {}});
        assert_eq!(decode(&event("payment_intent.succeeded", foreign)).unwrap().unwrap().order_id, None);
        assert!(matches!(
            decode(&event("payment_intent.succeeded", json!({"id": "cus_1"}))),
            Err(NoticeRejected::Malformed(_))
        ));
    }

    #[test]
    fn an_unsigned_delivery_is_refused_as_such() {
        let secret = WebhookSecret::parse("whsec_test_notices").unwrap();
        let payload = serde_json::to_vec(&event("payment_intent.succeeded", json!({"id": "pi_1"}))).unwrap();
        let refused = WebhookVerifier::new(secret).decode(None, &payload, Timestamp::from_unix_micros(NOW * 1_000_000));
        assert!(matches!(refused, Err(NoticeRejected::Signature(_))));
    }
}
