//! The parts of Stripe's objects this adapter reads, and the mapping of Stripe's error
//! objects to the domain. Stripe adds fields freely; unknown ones are ignored.

use commerce_core::payment::{CardBrand, DeclineReason};
use serde::{Deserialize, Serialize};

/// `payment_method` (only `type=card` is used).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentMethodObject {
    /// `pm_...`.
    pub id: String,
    /// The card's safe details.
    pub card: Option<CardObject>,
}

/// `payment_method.card`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CardObject {
    /// `visa`, `mastercard`, `amex`, `discover`, `diners`, `jcb`, `unionpay`, `unknown`.
    pub brand: String,
    /// The last four digits.
    pub last4: String,
}

/// `payment_intent`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentIntentObject {
    /// `pi_...`.
    pub id: String,
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`,
    /// `processing`, `requires_capture`, `canceled` or `succeeded`.
    pub status: String,
    /// Amount in the currency's minor unit.
    pub amount: i64,
    /// What a capture may still take.
    #[serde(default)]
    pub amount_capturable: i64,
    /// Lower-case ISO code.
    pub currency: String,
    /// The charge the confirmation created (`ch_...`): the capture's id once captured.
    #[serde(default)]
    pub latest_charge: Option<String>,
    /// What the customer must do (`requires_action`).
    #[serde(default)]
    pub next_action: Option<NextAction>,
    /// Handed to the customer's browser to complete a `next_action` with Stripe.js.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Why the last confirmation failed.
    #[serde(default)]
    pub last_payment_error: Option<ErrorObject>,
}

/// `payment_intent.next_action`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NextAction {
    /// `redirect_to_url` or `use_stripe_sdk`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where to send the customer, for `redirect_to_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to_url: Option<RedirectToUrl>,
}

/// `next_action.redirect_to_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RedirectToUrl {
    /// The issuer's challenge page.
    pub url: String,
}

/// `refund`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundObject {
    /// `re_...`.
    pub id: String,
    /// `pending`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    /// Refunded amount, minor unit.
    pub amount: i64,
}

/// The body of every error answer: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorObject,
}

/// Stripe's error object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorObject {
    /// `card_error`, `invalid_request_error`, `idempotency_error`, `api_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `card_declined`, `expired_card`, `incorrect_cvc`, `processing_error`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The issuer's reason, on `card_declined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// For people; never shown to customers as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ErrorObject {
    /// Why the card was refused, for a `card_error`.
    pub fn decline_reason(&self) -> DeclineReason {
        decline_reason(self.code.as_deref(), self.decline_code.as_deref())
    }
}

/// The domain's reason for a Stripe `code` and `decline_code`. The issuer's reason wins
/// where it is more precise; anything unknown is a plain decline.
pub fn decline_reason(code: Option<&str>, decline_code: Option<&str>) -> DeclineReason {
    let by_name = |name: &str| match name {
        "insufficient_funds" => Some(DeclineReason::InsufficientFunds),
        "expired_card" => Some(DeclineReason::ExpiredCard),
        "incorrect_cvc" | "invalid_cvc" => Some(DeclineReason::IncorrectCvc),
        "processing_error" => Some(DeclineReason::ProcessingError),
        "fraudulent" | "stolen_card" | "lost_card" | "pickup_card" | "merchant_blacklist" => {
            Some(DeclineReason::Fraudulent)
        }
        // The second: a 3-D Secure challenge the customer failed or abandoned.
        "authentication_required" | "payment_intent_authentication_failure" => {
            Some(DeclineReason::AuthenticationRequired)
        }
        _ => None,
    };
    decline_code.and_then(by_name).or_else(|| code.and_then(by_name)).unwrap_or(DeclineReason::CardDeclined)
}

/// Stripe's `code` and `decline_code` for a decline: what the fake answers, and the inverse
/// of [`decline_reason`].
pub fn decline_codes(reason: DeclineReason) -> (&'static str, &'static str) {
    match reason {
        DeclineReason::CardDeclined => ("card_declined", "generic_decline"),
        DeclineReason::InsufficientFunds => ("card_declined", "insufficient_funds"),
        DeclineReason::ExpiredCard => ("expired_card", "expired_card"),
        DeclineReason::IncorrectCvc => ("incorrect_cvc", "incorrect_cvc"),
        DeclineReason::ProcessingError => ("processing_error", "processing_error"),
        DeclineReason::Fraudulent => ("card_declined", "fraudulent"),
        DeclineReason::AuthenticationRequired => ("card_declined", "authentication_required"),
    }
}

/// The domain's brand for Stripe's `card.brand`.
pub fn brand(stripe: &str) -> CardBrand {
    match stripe {
        "visa" => CardBrand::Visa,
        "mastercard" => CardBrand::Mastercard,
        "amex" => CardBrand::Amex,
        "discover" => CardBrand::Discover,
        "diners" => CardBrand::DinersClub,
        "jcb" => CardBrand::Jcb,
        "unionpay" => CardBrand::UnionPay,
        _ => CardBrand::Unknown,
    }
}

/// Stripe's `card.brand` for the domain's brand (the fake's answers).
pub fn brand_name(brand: CardBrand) -> &'static str {
    match brand {
        CardBrand::Visa => "visa",
        CardBrand::Mastercard => "mastercard",
        CardBrand::Amex => "amex",
        CardBrand::Discover => "discover",
        CardBrand::DinersClub => "diners",
        CardBrand::Jcb => "jcb",
        CardBrand::UnionPay => "unionpay",
        CardBrand::Unknown => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuers_reason_wins_and_unknown_codes_are_plain_declines() {
        assert_eq!(decline_reason(Some("card_declined"), Some("insufficient_funds")), DeclineReason::InsufficientFunds);
        assert_eq!(decline_reason(Some("card_declined"), Some("generic_decline")), DeclineReason::CardDeclined);
        assert_eq!(decline_reason(Some("card_declined"), Some("stolen_card")), DeclineReason::Fraudulent);
        assert_eq!(decline_reason(Some("expired_card"), None), DeclineReason::ExpiredCard);
        assert_eq!(decline_reason(Some("incorrect_cvc"), None), DeclineReason::IncorrectCvc);
        assert_eq!(decline_reason(Some("processing_error"), None), DeclineReason::ProcessingError);
        assert_eq!(
            decline_reason(Some("card_declined"), Some("authentication_required")),
            DeclineReason::AuthenticationRequired
        );
        assert_eq!(decline_reason(Some("something_new"), Some("also_new")), DeclineReason::CardDeclined);
        assert_eq!(decline_reason(None, None), DeclineReason::CardDeclined);
    }

    #[test]
    fn decline_codes_read_back_as_their_reason() {
        for reason in [
            DeclineReason::CardDeclined,
            DeclineReason::InsufficientFunds,
            DeclineReason::ExpiredCard,
            DeclineReason::IncorrectCvc,
            DeclineReason::ProcessingError,
            DeclineReason::Fraudulent,
            DeclineReason::AuthenticationRequired,
        ] {
            let (code, decline_code) = decline_codes(reason);
            assert_eq!(decline_reason(Some(code), Some(decline_code)), reason);
        }
    }

    #[test]
    fn brands_round_trip() {
        for brand_ in [
            CardBrand::Visa,
            CardBrand::Mastercard,
            CardBrand::Amex,
            CardBrand::Discover,
            CardBrand::DinersClub,
            CardBrand::Jcb,
            CardBrand::UnionPay,
            CardBrand::Unknown,
        ] {
            assert_eq!(brand(brand_name(brand_)), brand_);
        }
    }
}
