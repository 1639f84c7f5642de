//! Money as integer minor units of an ISO 4217 currency.
//!
//! There is no floating point anywhere: amounts are `i64` minor units (cents for
//! USD, yen for JPY, fils for KWD) and every operation is checked. Adding two
//! currencies is an error, never a silent sum.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a money value or operation was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currency code is not three upper-case letters of a supported ISO 4217 currency.
    #[error("unknown currency code {0:?}: expected an ISO 4217 code such as \"USD\"")]
    UnknownCurrency(String),
    /// Amounts are never negative: refunds and discounts are separate operations.
    #[error("amount must not be negative (got {0})")]
    Negative(i64),
    /// The two operands are in different currencies.
    #[error("cannot combine {left} with {right}")]
    CurrencyMismatch {
        /// The left operand's currency.
        left: Currency,
        /// The right operand's currency.
        right: Currency,
    },
    /// The result does not fit in 63 bits of minor units.
    #[error("amount overflow")]
    Overflow,
    /// A written amount is not a number with at most the currency's decimals.
    #[error("{0}")]
    Format(String),
}

/// An ISO 4217 currency with its minor-unit exponent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// The currencies this toolkit knows, with their minor-unit exponents.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2), ("AUD", 2), ("BHD", 3), ("BRL", 2), ("CAD", 2), ("CHF", 2), ("CLP", 0),
    ("CNY", 2), ("CZK", 2), ("DKK", 2), ("EUR", 2), ("GBP", 2), ("HKD", 2), ("HUF", 2),
    ("IDR", 2), ("ILS", 2), ("INR", 2), ("ISK", 0), ("JOD", 3), ("JPY", 0), ("KRW", 0),
    ("KWD", 3), ("MXN", 2), ("MYR", 2), ("NOK", 2), ("NZD", 2), ("OMR", 3), ("PHP", 2),
    ("PLN", 2), ("RON", 2), ("SAR", 2), ("SEK", 2), ("SGD", 2), ("THB", 2), ("TND", 3),
    ("TRY", 2), ("TWD", 2), ("UAH", 2), ("USD", 2), ("VND", 0), ("ZAR", 2),
];

impl Currency {
    /// US dollar (2 decimals).
    pub const USD: Self = Self { code: *b"USD", exponent: 2 };
    /// Euro (2 decimals).
    pub const EUR: Self = Self { code: *b"EUR", exponent: 2 };
    /// Japanese yen (no minor unit).
    pub const JPY: Self = Self { code: *b"JPY", exponent: 0 };
    /// Kuwaiti dinar (3 decimals).
    pub const KWD: Self = Self { code: *b"KWD", exponent: 3 };

    /// Parses an upper-case ISO 4217 code.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(c, exponent)| {
                let b = c.as_bytes();
                Self { code: [b[0], b[1], b[2]], exponent: *exponent }
            })
            .ok_or_else(|| MoneyError::UnknownCurrency(code.to_owned()))
    }

    /// Every supported currency.
    pub fn all() -> impl Iterator<Item = Self> {
        CURRENCIES.iter().filter_map(|(c, _)| Self::parse(c).ok())
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The code bytes always come from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Number of decimal digits of the minor unit (USD 2, JPY 0, KWD 3).
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = String::deserialize(d)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// A non-negative amount of minor units in one currency.
///
/// Serialised as `{"amount": 1999, "currency": "USD"}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyRepr", into = "MoneyRepr")]
pub struct Money {
    amount: i64,
    currency: Currency,
}

#[derive(Serialize, Deserialize)]
struct MoneyRepr {
    amount: i64,
    currency: Currency,
}

impl TryFrom<MoneyRepr> for Money {
    type Error = MoneyError;
    fn try_from(r: MoneyRepr) -> Result<Self, Self::Error> {
        Self::new(r.amount, r.currency)
    }
}

impl From<Money> for MoneyRepr {
    fn from(m: Money) -> Self {
        Self { amount: m.amount, currency: m.currency }
    }
}

impl Money {
    /// `amount` minor units of `currency`; negative amounts are rejected.
    pub fn new(amount: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount < 0 {
            return Err(MoneyError::Negative(amount));
        }
        Ok(Self { amount, currency })
    }

    /// An amount as people write it, in major units with at most the currency's
    /// decimals: `12`, `12.5` and `12.50` are 1250 minor units of USD; `500` is 500 JPY.
    /// Integer arithmetic only; signs, exponents and separators are refused.
    pub fn parse_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let text = text.trim();
        let exp = usize::from(currency.exponent);
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(fraction) || (text.contains('.') && fraction.is_empty()) {
            return Err(MoneyError::Format(format!("{text:?} is not an amount such as 12 or 12.50")));
        }
        if fraction.len() > exp {
            return Err(MoneyError::Format(format!("{currency} has {exp} decimals (got {text:?})")));
        }
        let scaled = format!("{whole}{fraction:0<exp$}");
        let amount = scaled.parse::<i64>().map_err(|_| MoneyError::Overflow)?;
        Self::new(amount, currency)
    }

    /// The amount in major units as people write it, without the currency: `19.99`,
    /// `500` (JPY), `1.250` (KWD); what [`parse_decimal`](Self::parse_decimal) reads back.
    pub fn decimal(&self) -> String {
        let exp = u32::from(self.currency.exponent);
        if exp == 0 {
            return self.amount.to_string();
        }
        let scale = 10_i64.pow(exp);
        let width = exp as usize;
        format!("{}.{:0width$}", self.amount / scale, self.amount % scale)
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Self { amount: 0, currency }
    }

    /// The amount in minor units.
    pub fn amount(&self) -> i64 {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    fn same_currency(&self, other: &Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    /// `self + other`; errors on mixed currencies or overflow.
    pub fn checked_add(&self, other: &Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let amount = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Self { amount, currency: self.currency })
    }

    /// `self - other`; errors on mixed currencies or a negative result.
    pub fn checked_sub(&self, other: &Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        let amount = self.amount.checked_sub(other.amount).ok_or(MoneyError::Overflow)?;
        Self::new(amount, self.currency)
    }

    /// `self * quantity`; errors on overflow.
    pub fn checked_mul(&self, quantity: u32) -> Result<Self, MoneyError> {
        let amount = self.amount.checked_mul(i64::from(quantity)).ok_or(MoneyError::Overflow)?;
        Ok(Self { amount, currency: self.currency })
    }

    /// Sums an iterator of money values, all in `currency`.
    pub fn sum<'a>(currency: Currency, items: impl IntoIterator<Item = &'a Self>) -> Result<Self, MoneyError> {
        items.into_iter().try_fold(Self::zero(currency), |acc, m| acc.checked_add(m))
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Formats as `19.99 USD`, `500 JPY`, `1.250 KWD`: integer arithmetic only.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(a: i64) -> Money {
        Money::new(a, Currency::USD).unwrap()
    }

    #[test]
    fn decimals_are_read_with_the_currencys_exponent() {
        let parse = |t: &str, c: Currency| Money::parse_decimal(t, c).map(|m| m.amount());
        assert_eq!(parse("12", Currency::USD), Ok(1200));
        assert_eq!(parse(" 12.5 ", Currency::USD), Ok(1250));
        assert_eq!(parse("0.07", Currency::USD), Ok(7));
        assert_eq!(parse("500", Currency::JPY), Ok(500));
        for bad in ["", "-1", "1.", ".5", "1.234", "1e3", "1,50", "12 50", "+3", "99999999999999999999"] {
            assert!(parse(bad, Currency::USD).is_err(), "{bad:?}");
        }
        assert!(parse("1.5", Currency::JPY).is_err());
        let written = Money::new(1205, Currency::USD).unwrap().decimal();
        assert_eq!((written.as_str(), parse(&written, Currency::USD)), ("12.05", Ok(1205)));
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("USD").unwrap().exponent(), 2);
        assert_eq!(Currency::parse("KWD").unwrap().exponent(), 3);
        assert_eq!(Currency::parse("usd"), Err(MoneyError::UnknownCurrency("usd".into())));
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn formats_with_the_currency_exponent() {
        assert_eq!(usd(1999).to_string(), "19.99 USD");
        assert_eq!(usd(5).to_string(), "0.05 USD");
        assert_eq!(Money::new(500, Currency::JPY).unwrap().to_string(), "500 JPY");
        assert_eq!(Money::new(1250, Currency::KWD).unwrap().to_string(), "1.250 KWD");
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let err = usd(1).checked_add(&Money::new(1, Currency::EUR).unwrap()).unwrap_err();
        assert!(matches!(err, MoneyError::CurrencyMismatch { .. }));
    }

    #[test]
    fn rejects_negative_and_overflow() {
        assert_eq!(Money::new(-1, Currency::USD), Err(MoneyError::Negative(-1)));
        assert_eq!(usd(i64::MAX).checked_add(&usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(usd(1).checked_sub(&usd(2)), Err(MoneyError::Negative(-1)));
    }

    #[test]
    fn json_shape_is_amount_and_currency() {
        let json = serde_json::to_value(usd(1999)).unwrap();
        assert_eq!(json, serde_json::json!({"amount": 1999, "currency": "USD"}));
        assert!(serde_json::from_value::<Money>(serde_json::json!({"amount": -5, "currency": "USD"})).is_err());
        assert!(serde_json::from_value::<Money>(serde_json::json!({"amount": 5, "currency": "ABC"})).is_err());
    }

    proptest::proptest! {
        /// Money arithmetic never overflows silently: it either returns the exact
        /// integer result or an error.
        #[test]
        fn arithmetic_is_exact_or_errors(a in 0..=i64::MAX, b in 0..=i64::MAX, q in proptest::num::u32::ANY) {
            let (x, y) = (usd(a), usd(b));
            match x.checked_add(&y) {
                Ok(s) => proptest::prop_assert_eq!(i128::from(s.amount()), i128::from(a) + i128::from(b)),
                Err(e) => {
                    proptest::prop_assert_eq!(e, MoneyError::Overflow);
                    proptest::prop_assert!(i128::from(a) + i128::from(b) > i128::from(i64::MAX));
                }
            }
            match x.checked_mul(q) {
                Ok(p) => proptest::prop_assert_eq!(i128::from(p.amount()), i128::from(a) * i128::from(q)),
                Err(_) => proptest::prop_assert!(i128::from(a) * i128::from(q) > i128::from(i64::MAX)),
            }
            match x.checked_sub(&y) {
                Ok(d) => proptest::prop_assert_eq!(d.amount(), a - b),
                Err(_) => proptest::prop_assert!(a < b),
            }
        }
    }
}
