//! Card payments: validated card details and the vocabulary of the
//! [`PaymentGateway`](crate::ports::PaymentGateway) port.
//!
//! A [`CardNumber`] never leaves this process in clear: it is not `Serialize`,
//! and `Debug`/`Display` show only brand and last four digits. The gateway turns
//! card details into a [`PaymentToken`] first; orders keep the token, brand and
//! last four digits, which is all a resumed checkout needs.

mod notice;
pub mod test_cards;

pub use notice::{NoticeKind, NoticeRejected, PaymentNotice};

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{
    money::Money,
    timestamp::Timestamp,
    validation::{InvalidValue, TextRule, ValidationErrors, token},
};

/// Card networks recognised from the number's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    /// Visa (4).
    Visa,
    /// Mastercard (51-55, 2221-2720).
    Mastercard,
    /// American Express (34, 37).
    Amex,
    /// Discover (6011, 644-649, 65).
    Discover,
    /// Diners Club (300-305, 36, 38).
    DinersClub,
    /// JCB (3528-3589).
    Jcb,
    /// China UnionPay (62).
    UnionPay,
    /// A valid number of no known network.
    Unknown,
}

impl CardBrand {
    /// The wire name (`visa`, `diners_club`, ...), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Visa => "visa",
            Self::Mastercard => "mastercard",
            Self::Amex => "amex",
            Self::Discover => "discover",
            Self::DinersClub => "diners_club",
            Self::Jcb => "jcb",
            Self::UnionPay => "union_pay",
            Self::Unknown => "unknown",
        }
    }

    fn detect(digits: &str) -> Self {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        match (prefix(1), prefix(2), prefix(3), prefix(4)) {
            (4, ..) => Self::Visa,
            (_, 34 | 37, ..) => Self::Amex,
            (_, 51..=55, ..) | (.., 2221..=2720) => Self::Mastercard,
            (.., 6011) | (_, _, 644..=649, _) | (_, 65, ..) => Self::Discover,
            (.., 3528..=3589) => Self::Jcb,
            (_, _, 300..=305, _) | (_, 36 | 38, ..) => Self::DinersClub,
            (_, 62, ..) => Self::UnionPay,
            _ => Self::Unknown,
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Visa => "Visa",
            Self::Mastercard => "Mastercard",
            Self::Amex => "American Express",
            Self::Discover => "Discover",
            Self::DinersClub => "Diners Club",
            Self::Jcb => "JCB",
            Self::UnionPay => "UnionPay",
            Self::Unknown => "Card",
        })
    }
}

/// Why card details were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Only digits, spaces and dashes are accepted.
    #[error("card number may contain only digits, spaces and dashes")]
    NotDigits,
    /// Card numbers have 12 to 19 digits.
    #[error("card number must have 12 to 19 digits (got {0})")]
    Length(usize),
    /// The Luhn check digit does not match.
    #[error("card number is invalid (check digit mismatch)")]
    Luhn,
    /// Months are 1 to 12. (Messages never repeat a card value.)
    #[error("expiry month must be between 1 and 12")]
    Month(u8),
    /// The card expired.
    #[error("the card has expired")]
    Expired {
        /// Expiry month.
        month: u8,
        /// Expiry year.
        year: u16,
    },
    /// The expiry year is implausible.
    #[error("expiry year is out of range")]
    Year(u16),
    /// The CVC is 3 digits (4 for American Express).
    #[error("CVC must be {expected} digits")]
    Cvc {
        /// Expected length.
        expected: usize,
    },
}

/// A Luhn-valid card number. Never serialised; printed only as brand and last four.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber {
    digits: String,
    brand: CardBrand,
}

impl CardNumber {
    /// Parses a card number, ignoring spaces and dashes.
    pub fn parse(raw: &str) -> Result<Self, CardError> {
        if !raw.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-') {
            return Err(CardError::NotDigits);
        }
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if !(12..=19).contains(&digits.len()) {
            return Err(CardError::Length(digits.len()));
        }
        if !luhn_valid(&digits) {
            return Err(CardError::Luhn);
        }
        let brand = CardBrand::detect(&digits);
        Ok(Self { digits, brand })
    }

    /// The detected network.
    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    /// The last four digits.
    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The full number, for the gateway adapter only. Never log or store it.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }
}

/// Whether `text` holds something that could be a card number: 13 to 19 digits in a row
/// (single spaces or hyphens between them allowed) passing the Luhn check. Free-text fields
/// a customer fills refuse it, so a number typed in the wrong field is never stored.
pub fn contains_card_number(text: &str) -> bool {
    let is_card = |digits: &str| (13..=19).contains(&digits.len()) && luhn_valid(digits);
    let mut run = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            run.push(c);
        } else if (c == ' ' || c == '-') && !run.is_empty() && chars.peek().is_some_and(char::is_ascii_digit) {
            // A separator inside a run.
        } else {
            if is_card(&run) {
                return true;
            }
            run.clear();
        }
    }
    is_card(&run)
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 { dd - 9 } else { dd }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({} **** {})", self.brand, self.last4())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} **** {}", self.brand, self.last4())
    }
}

/// A card security code. Never serialised or printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(String);

impl Cvc {
    /// Validates a CVC for `brand`: 4 digits for American Express, 3 otherwise.
    pub fn parse(raw: &str, brand: CardBrand) -> Result<Self, CardError> {
        let expected = if brand == CardBrand::Amex { 4 } else { 3 };
        if raw.len() == expected && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(CardError::Cvc { expected })
        }
    }

    /// The code, for the gateway adapter only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

/// A card's expiry month and year; valid through the last day of that month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardExpiry {
    month: u8,
    year: u16,
}

impl CardExpiry {
    /// The furthest ahead an expiry year may be: cards run a few years, never decades.
    pub const MAX_YEARS_AHEAD: u16 = 30;

    /// Validates an expiry against `now` (two-digit years mean 20xx).
    pub fn parse(month: u8, year: u16, now: Timestamp) -> Result<Self, CardError> {
        if !(1..=12).contains(&month) {
            return Err(CardError::Month(month));
        }
        let year = if year < 100 { 2000 + year } else { year };
        let today = now.as_datetime();
        let current_year = u16::try_from(today.year()).unwrap_or(u16::MAX);
        if year > current_year.saturating_add(Self::MAX_YEARS_AHEAD) || year < 2000 {
            return Err(CardError::Year(year));
        }
        let current_month = u8::from(today.month());
        if (year, month) < (current_year, current_month) {
            return Err(CardError::Expired { month, year });
        }
        Ok(Self { month, year })
    }

    /// Month 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }

    /// Four-digit year.
    pub fn year(&self) -> u16 {
        self.year
    }
}

/// Validated card details as entered at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardDetails {
    /// Number.
    pub number: CardNumber,
    /// Expiry.
    pub expiry: CardExpiry,
    /// Security code.
    pub cvc: Cvc,
}

/// Unvalidated card fields as a client sends them.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CardInput {
    /// Number (spaces and dashes allowed).
    pub number: String,
    /// Month 1-12.
    pub exp_month: u8,
    /// Year, two or four digits.
    pub exp_year: u16,
    /// Security code.
    pub cvc: String,
}

impl fmt::Debug for CardInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CardInput").finish_non_exhaustive()
    }
}

impl CardInput {
    /// Validates the card, reporting problems under `field.number`, `field.exp_month`, ...
    pub fn validate(&self, field: &str, now: Timestamp, errors: &mut ValidationErrors) -> Option<CardDetails> {
        let number = errors.check(&format!("{field}.number"), CardNumber::parse(&self.number));
        let expiry = match CardExpiry::parse(self.exp_month, self.exp_year, now) {
            Ok(e) => Some(e),
            Err(e @ CardError::Month(_)) => {
                errors.add(format!("{field}.exp_month"), e);
                None
            }
            Err(e) => {
                errors.add(format!("{field}.exp_year"), e);
                None
            }
        };
        let brand = number.as_ref().map_or(CardBrand::Unknown, CardNumber::brand);
        let cvc = errors.check(&format!("{field}.cvc"), Cvc::parse(&self.cvc, brand));
        Some(CardDetails { number: number?, expiry: expiry?, cvc: cvc? })
    }
}

/// A gateway's reusable reference to a card (like a Stripe `PaymentMethod`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentToken(pub String);

impl PaymentToken {
    /// A token as clients may send it: 1 to 255 ASCII letters, digits, `_` or `-` (Stripe's
    /// ids are far shorter).
    pub const RULE: TextRule = TextRule { pattern: r"^[A-Za-z0-9_-]+$", min_chars: 1, max_chars: 255 };

    /// A token as a client sends it (`pm_...`), by [`Self::RULE`]. Card data sent in its
    /// place is refused without being echoed.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if contains_card_number(raw) {
            return Err(InvalidValue::Other(
                "must be the processor's payment method token, never a card number".into(),
            ));
        }
        token(raw, Self::RULE.max_chars, "ASCII letters, digits, _ and -", |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
        })
        .map(Self)
    }
}

/// What an order keeps about the card: token, brand and last four digits only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// Gateway token.
    pub token: PaymentToken,
    /// Network.
    pub brand: CardBrand,
    /// Last four digits.
    pub last4: String,
}

/// A key that makes a gateway call safe to retry: the same key returns the first result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(pub String);

/// The gateway's id of an authorisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthorizationId(pub String);

/// The gateway's id of a capture.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaptureId(pub String);

/// The gateway's id of a refund.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefundId(pub String);

/// Why the issuer or processor refused a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// Generic decline.
    CardDeclined,
    /// Not enough funds.
    InsufficientFunds,
    /// The card is expired at the issuer.
    ExpiredCard,
    /// The CVC did not match.
    IncorrectCvc,
    /// The processor failed to process the card.
    ProcessingError,
    /// Suspected fraud.
    Fraudulent,
    /// The payment needs customer authentication (3-D Secure) this flow cannot perform.
    AuthenticationRequired,
}

impl DeclineReason {
    /// The wire name (`card_declined`, `insufficient_funds`, ...), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
            Self::ExpiredCard => "expired_card",
            Self::IncorrectCvc => "incorrect_cvc",
            Self::ProcessingError => "processing_error",
            Self::Fraudulent => "fraudulent",
            Self::AuthenticationRequired => "authentication_required",
        }
    }
}

/// A request to hold funds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// Retry key.
    pub idempotency_key: IdempotencyKey,
    /// Tokenised card.
    pub token: PaymentToken,
    /// Amount to hold.
    pub amount: Money,
    /// Free-form reference shown on the gateway's side (the order id).
    pub reference: String,
}

/// The gateway's answer to an authorisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum AuthorizationOutcome {
    /// Funds are held.
    Authorized {
        /// Authorisation id.
        authorization_id: AuthorizationId,
    },
    /// The issuer refused.
    Declined {
        /// Why.
        reason: DeclineReason,
    },
    /// The customer must complete an action (3-D Secure) before funds can be held.
    RequiresAction {
        /// Pending authorisation id.
        authorization_id: AuthorizationId,
        /// Where the customer completes it.
        next_action_url: String,
    },
}

/// A failure that says nothing about the payment's outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The gateway did not answer in time or could not be reached: the call may or may
    /// not have taken effect, so retry it with the same idempotency key.
    #[error("payment gateway unavailable: {0}")]
    Unavailable(String),
    /// The gateway rejected the request as malformed (unknown token or authorisation,
    /// amount above the authorised one, idempotency key reused with other parameters).
    #[error("payment gateway rejected the request: {0}")]
    InvalidRequest(String),
    /// The card details were refused before any payment was attempted.
    #[error("card refused: {0:?}")]
    CardRefused(DeclineReason),
}

impl PaymentError {
    /// True when retrying with the same idempotency key may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_serialised_names() {
        use CardBrand::*;
        use DeclineReason::*;
        for brand in [Visa, Mastercard, Amex, Discover, DinersClub, Jcb, UnionPay, Unknown] {
            assert_eq!(serde_json::to_value(brand).unwrap(), brand.as_str());
        }
        for reason in [
            CardDeclined,
            InsufficientFunds,
            ExpiredCard,
            IncorrectCvc,
            ProcessingError,
            Fraudulent,
            AuthenticationRequired,
        ] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }

    #[test]
    fn card_numbers_are_found_in_free_text() {
        for text in
            ["4000056655665556@example.com", "pay 4242 4242 4242 4242 now", "x4000-0566-5566-5556", "378282246310005"]
        {
            assert!(contains_card_number(text), "{text}");
        }
        for text in ["ada@example.com", "order 4000056655665557", "12345", "2026-11-29 08:00", "0000-0000"] {
            assert!(!contains_card_number(text), "{text}");
        }
    }

    #[test]
    fn luhn_and_brand_detection() {
        let visa = CardNumber::parse("4242 4242 4242 4242").unwrap();
        assert_eq!((visa.brand(), visa.last4()), (CardBrand::Visa, "4242"));
        assert_eq!(CardNumber::parse("5555-5555-5555-4444").unwrap().brand(), CardBrand::Mastercard);
        assert_eq!(CardNumber::parse("2223003122003222").unwrap().brand(), CardBrand::Mastercard);
        assert_eq!(CardNumber::parse("378282246310005").unwrap().brand(), CardBrand::Amex);
        assert_eq!(CardNumber::parse("6011111111111117").unwrap().brand(), CardBrand::Discover);
        assert_eq!(CardNumber::parse("3566002020360505").unwrap().brand(), CardBrand::Jcb);
        assert_eq!(CardNumber::parse("4242424242424241"), Err(CardError::Luhn));
        assert_eq!(CardNumber::parse("4242"), Err(CardError::Length(4)));
        assert_eq!(CardNumber::parse("4242x"), Err(CardError::NotDigits));
    }

    #[test]
    fn card_number_is_masked_everywhere() {
        let n = CardNumber::parse("4000000000000002").unwrap();
        assert_eq!(n.to_string(), "Visa **** 0002");
        let dbg = format!("{n:?}");
        assert!(!dbg.contains("4000000000"), "{dbg}");
        let input = CardInput { number: "4000000000000002".into(), exp_month: 1, exp_year: 30, cvc: "123".into() };
        assert!(!format!("{input:?}").contains("4000"));
        let cvc = Cvc::parse("123", CardBrand::Visa).unwrap();
        assert_eq!(format!("{cvc:?}"), "Cvc(***)");
    }

    #[test]
    fn expiry_and_cvc_validation() {
        let now = Timestamp::from_datetime(time::macros::datetime!(2026-11-27 12:00 UTC));
        assert!(CardExpiry::parse(11, 2026, now).is_ok());
        assert!(CardExpiry::parse(12, 29, now).is_ok());
        assert_eq!(CardExpiry::parse(10, 2026, now), Err(CardError::Expired { month: 10, year: 2026 }));
        assert_eq!(CardExpiry::parse(13, 2027, now), Err(CardError::Month(13)));
        assert_eq!(CardExpiry::parse(1, 2090, now), Err(CardError::Year(2090)));
        assert!(Cvc::parse("1234", CardBrand::Amex).is_ok());
        assert_eq!(Cvc::parse("1234", CardBrand::Visa), Err(CardError::Cvc { expected: 3 }));

        let mut errors = ValidationErrors::new();
        let input = CardInput { number: "1234".into(), exp_month: 0, exp_year: 2030, cvc: "x".into() };
        assert!(input.validate("card", now, &mut errors).is_none());
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["card.number", "card.exp_month", "card.cvc"]);
    }
}
