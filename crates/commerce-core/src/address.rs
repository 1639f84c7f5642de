//! Where an order ships: [`ShippingAddress`], validated field by field, and the
//! [`CountryCode`] that shipping methods and tax rates are chosen by.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::{InvalidValue, ONE_LINE_TEXT, TextRule, ValidationErrors, text, token};

/// Every assigned ISO 3166-1 alpha-2 code, two letters each, in order (249 codes, as in
/// tzdata's `iso3166.tab`).
const ASSIGNED: &str = "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW";

/// An ISO 3166-1 alpha-2 country code (`DE`, `US`), upper case, assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Validates a code: two upper-case letters naming an assigned country.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let code = token(raw, 2, "upper-case letters A-Z", |c| c.is_ascii_uppercase())?;
        let bytes: [u8; 2] = code
            .as_bytes()
            .try_into()
            .map_err(|_| InvalidValue::Other("must be two letters (ISO 3166-1 alpha-2)".into()))?;
        let assigned = ASSIGNED.as_bytes().chunks_exact(2).any(|c| c == bytes);
        if assigned {
            Ok(Self(bytes))
        } else {
            Err(InvalidValue::Other(format!("{code} is not an ISO 3166-1 country code")))
        }
    }

    /// Every assigned code, in order (API documents state them as an enumeration).
    pub fn all() -> impl Iterator<Item = Self> {
        ASSIGNED.as_bytes().chunks_exact(2).filter_map(|c| c.try_into().ok().map(Self))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        // Two ASCII letters, checked in `parse`.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = InvalidValue;
    fn try_from(v: String) -> Result<Self, Self::Error> {
        Self::parse(&v)
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> Self {
        c.as_str().to_owned()
    }
}

/// A shipping address as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ShippingAddressInput {
    /// The recipient.
    pub name: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, floor, c/o (optional).
    #[serde(default)]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// State, province or county (optional: many countries have none).
    #[serde(default)]
    pub region: Option<String>,
    /// Postal code (optional: some countries have none).
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The recipient's phone, for the carrier (optional).
    #[serde(default)]
    pub phone: Option<String>,
}

/// A validated shipping address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    /// The recipient (1 to 100 characters).
    pub name: String,
    /// Street and number (1 to 200).
    pub line1: String,
    /// Second line (up to 200), possibly empty.
    pub line2: String,
    /// City (1 to 100).
    pub city: String,
    /// Region (up to 100), possibly empty.
    pub region: String,
    /// Postal code (up to 16 letters, digits, spaces and '-'), possibly empty.
    pub postal_code: String,
    /// Country.
    pub country: CountryCode,
    /// Phone (up to 32: digits, spaces, '+', '-', '(', ')'), possibly empty.
    pub phone: String,
}

/// The length limits of the address fields, as API documents state them.
pub mod rules {
    use super::{ONE_LINE_TEXT, TextRule};

    /// Recipient.
    pub const NAME: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 100 };
    /// Lines one and two (two may be empty).
    pub const LINE: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 200 };
    /// City and region (region may be empty).
    pub const CITY: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 100 };
    /// Postal code.
    pub const POSTAL_CODE: TextRule = TextRule { pattern: "^[A-Za-z0-9][A-Za-z0-9 -]*$", min_chars: 1, max_chars: 16 };
    /// Phone.
    pub const PHONE: TextRule = TextRule { pattern: "^[0-9+() -]+$", min_chars: 1, max_chars: 32 };
}

impl ShippingAddressInput {
    /// Validates every field, each error named `{prefix}.{field}`.
    pub fn validate(&self, prefix: &str) -> Result<ShippingAddress, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let field = |name: &str| format!("{prefix}.{name}");
        let optional = |v: &Option<String>| v.as_deref().unwrap_or("").trim().to_owned();
        let name = errors.check(&field("name"), text(&self.name, rules::NAME.max_chars, false, false));
        let line1 = errors.check(&field("line1"), text(&self.line1, rules::LINE.max_chars, false, false));
        let line2 = errors.check(&field("line2"), text(&optional(&self.line2), rules::LINE.max_chars, true, false));
        let city = errors.check(&field("city"), text(&self.city, rules::CITY.max_chars, false, false));
        let region = errors.check(&field("region"), text(&optional(&self.region), rules::CITY.max_chars, true, false));
        let postal = optional(&self.postal_code);
        let postal_code = if postal.is_empty() {
            Some(postal)
        } else {
            errors.check(
                &field("postal_code"),
                token(&postal, rules::POSTAL_CODE.max_chars, "letters, digits, spaces and '-'", |c| {
                    c.is_ascii_alphanumeric() || matches!(c, ' ' | '-')
                }),
            )
        };
        let country = errors.check(&field("country"), CountryCode::parse(self.country.trim()));
        let phone = optional(&self.phone);
        let phone = if phone.is_empty() {
            Some(phone)
        } else {
            errors.check(
                &field("phone"),
                token(&phone, rules::PHONE.max_chars, "digits, spaces, '+', '-', '(' and ')'", |c| {
                    c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | ' ')
                }),
            )
        };
        match (name, line1, line2, city, region, postal_code, country, phone) {
            (
                Some(name),
                Some(line1),
                Some(line2),
                Some(city),
                Some(region),
                Some(postal_code),
                Some(country),
                Some(phone),
            ) if errors.is_empty() => {
                Ok(ShippingAddress { name, line1, line2, city, region, postal_code, country, phone })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ShippingAddressInput {
        ShippingAddressInput {
            name: "Ada Lovelace".into(),
            line1: "12 St James's Square".into(),
            line2: None,
            city: "London".into(),
            region: None,
            postal_code: Some("SW1Y 4JH".into()),
            country: "GB".into(),
            phone: Some("+44 20 7946 0958".into()),
        }
    }

    #[test]
    fn country_codes_are_assigned_upper_case_pairs() {
        assert_eq!(CountryCode::all().count(), 249);
        assert!(CountryCode::all().all(|c| CountryCode::parse(c.as_str()) == Ok(c)));
        assert_eq!(CountryCode::parse("DE").unwrap().as_str(), "DE");
        for bad in ["de", "D", "DEU", "XX", "ZZ", "", "D1", "É"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_valid_address_is_trimmed_and_optional_fields_default_to_empty() {
        let address =
            ShippingAddressInput { city: "  London ".into(), ..input() }.validate("shipping_address").unwrap();
        assert_eq!((address.city.as_str(), address.line2.as_str()), ("London", ""));
        assert_eq!(address.country.as_str(), "GB");
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = ShippingAddressInput {
            name: " ".into(),
            line1: "x".repeat(201),
            city: "Lon\u{202e}don".into(),
            postal_code: Some("SW1Y;4JH".into()),
            country: "gb".into(),
            phone: Some("call me".into()),
            ..input()
        };
        let errors = bad.validate("shipping_address").unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "shipping_address.name",
                "shipping_address.line1",
                "shipping_address.city",
                "shipping_address.postal_code",
                "shipping_address.country",
                "shipping_address.phone"
            ]
        );
    }
}
