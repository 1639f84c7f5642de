//! Each rule's statement for API documents ([`TextRule`]) is never looser than its parser:
//! every value generated from the pattern, within the length bounds, is accepted. This is
//! what lets a client (or schemathesis) trust the OpenAPI document.

#![allow(clippy::expect_used, reason = "test")]

use commerce_core::{
    address::{ShippingAddressInput, rules as address},
    catalog::{AttributeName, AttributeValue, CollectionName, Description, ProductName, Sku, Slug},
    order::{ShipmentInput, ShipmentLineInput, shipment_rules as shipment},
    payment::{PaymentToken, contains_card_number},
    pricing::ShippingMethodName,
    query::SearchTerm,
    validation::TextRule,
};
use proptest::prelude::*;
use regex::Regex;

type Parser = fn(&str) -> bool;

/// `value` in one field of an otherwise valid address.
fn address_accepts(set: fn(&mut ShippingAddressInput, String), value: &str) -> bool {
    let mut input = ShippingAddressInput {
        name: "Ada".into(),
        line1: "1 Main St".into(),
        city: "Springfield".into(),
        country: "US".into(),
        ..ShippingAddressInput::default()
    };
    set(&mut input, value.to_owned());
    input.validate("a").is_ok()
}

/// `set` applied to an otherwise valid shipment.
fn shipment_accepts(set: fn(&mut ShipmentInput, String), value: &str) -> bool {
    let mut input = ShipmentInput {
        lines: vec![ShipmentLineInput { product_id: "01936b2e-1111-7000-8000-000000000001".into(), quantity: 1 }],
        carrier: "DHL".into(),
        tracking_number: "123".into(),
        tracking_url: None,
    };
    set(&mut input, value.to_owned());
    input.validate().is_ok()
}

fn rules() -> [(&'static str, TextRule, Parser); 18] {
    [
        ("sku", Sku::RULE, |s| Sku::parse(s).is_ok()),
        ("product name", ProductName::RULE, |s| ProductName::parse(s).is_ok()),
        ("description", Description::RULE, |s| Description::parse(s).is_ok()),
        ("collection name", CollectionName::RULE, |s| CollectionName::parse(s).is_ok()),
        ("slug", Slug::RULE, |s| Slug::parse(s).is_ok()),
        ("attribute name", AttributeName::RULE, |s| AttributeName::parse(s).is_ok()),
        ("attribute value", AttributeValue::RULE, |s| AttributeValue::parse(s).is_ok()),
        ("search term", SearchTerm::RULE, |s| SearchTerm::parse(s).is_ok()),
        // No pattern can say "not a card number" (the Luhn check): those are left out.
        ("payment method token", PaymentToken::RULE, |s| PaymentToken::parse(s).is_ok() || contains_card_number(s)),
        ("shipping method name", ShippingMethodName::RULE, |s| ShippingMethodName::parse(s).is_ok()),
        ("recipient", address::NAME, |s| address_accepts(|a: &mut ShippingAddressInput, v: String| a.name = v, s)),
        ("address line", address::LINE, |s| address_accepts(|a: &mut ShippingAddressInput, v: String| a.line1 = v, s)),
        ("city", address::CITY, |s| address_accepts(|a: &mut ShippingAddressInput, v: String| a.city = v, s)),
        ("postal code", address::POSTAL_CODE, |s| {
            address_accepts(|a: &mut ShippingAddressInput, v: String| a.postal_code = Some(v), s)
        }),
        ("phone", address::PHONE, |s| address_accepts(|a: &mut ShippingAddressInput, v: String| a.phone = Some(v), s)),
        ("carrier", shipment::CARRIER, |s| shipment_accepts(|a: &mut ShipmentInput, v: String| a.carrier = v, s)),
        ("tracking number", shipment::TRACKING_NUMBER, |s| {
            shipment_accepts(|a: &mut ShipmentInput, v: String| a.tracking_number = v, s)
        }),
        ("tracking url", shipment::TRACKING_URL, |s| {
            shipment_accepts(|a: &mut ShipmentInput, v: String| a.tracking_url = Some(v), s)
        }),
    ]
}

fn stated(rule: &TextRule, s: &str) -> bool {
    let n = s.chars().count();
    (rule.min_chars..=rule.max_chars).contains(&n) && Regex::new(rule.pattern).expect("a valid pattern").is_match(s)
}

/// Characters where rules differ: controls, white space, invisible and bidirectional
/// characters, combining marks, symbols that read as letters, punctuation.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        any::<char>(),
        prop::sample::select(vec![
            ' ', '\t', '\n', '\r', '\u{0}', '\u{1f}', '\u{7f}', '\u{85}', '\u{a0}', '\u{ad}', '\u{200b}', '\u{200e}',
            '\u{2028}', '\u{202e}', '\u{2066}', '\u{3000}', '\u{feff}', '\u{345}', '\u{24b6}', '\u{663}', '-', '_',
            '.', '!', '@', '<',
        ]),
        proptest::char::range('a', 'z'),
        proptest::char::range('0', '9'),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn values_generated_from_a_pattern_are_accepted((index, value) in generated()) {
        let (name, rule, accepts) = rules()[index];
        if stated(&rule, &value) {
            prop_assert!(accepts(&value), "{name}: {value:?} matches the stated rule but is refused");
        }
    }

    #[test]
    fn tricky_values_that_match_are_accepted(index in 0..rules().len(), chars in prop::collection::vec(tricky_char(), 0..16)) {
        let (name, rule, accepts) = rules()[index];
        let value: String = chars.into_iter().collect();
        if stated(&rule, &value) {
            prop_assert!(accepts(&value), "{name}: {value:?} matches the stated rule but is refused");
        }
    }
}

/// A rule and a value generated from its pattern, as a schema-driven client would.
fn generated() -> impl Strategy<Value = (usize, String)> {
    (0..rules().len()).prop_flat_map(|index| {
        // Generation is anchored already; proptest's generator does not take the anchors.
        let pattern = rules()[index].1.pattern;
        let body = pattern.strip_prefix('^').and_then(|p| p.strip_suffix('$')).expect("an anchored pattern");
        let values = proptest::string::string_regex(body).expect("a pattern proptest generates from");
        (Just(index), values)
    })
}

#[test]
fn typical_values_match_their_rule() {
    let examples: [&[&str]; 18] = [
        &["TEE-RED-M", "a.b_c"],
        &["Red tee", "Straße Ünïcode ☕"],
        &["", "Two\nlines\twith a tab"],
        &["T-shirts"],
        &["summer-2026", "t-shirts"],
        &["colour", "size_eu"],
        &["red", "XL"],
        &["red tee", "café, 2026!"],
        &["pm_card_visa"],
        &["DHL Paket"],
        &["Ada Lovelace", "Jörg Müller"],
        &["12 St James's Square"],
        &["London", "São Paulo"],
        &["SW1Y 4JH", "10115", "K1A-0B1"],
        &["+44 20 7946 0958", "(555) 010-9999"],
        &["DHL", "La Poste"],
        &["00340434161094042557", "1Z999AA10123456784"],
        &["https://www.dhl.de/track?id=1"],
    ];
    for ((name, rule, accepts), values) in rules().into_iter().zip(examples) {
        for value in values {
            assert!(stated(&rule, value), "{name}: {value:?} should match {}", rule.pattern);
            assert!(accepts(value), "{name}: {value:?}");
        }
    }
}
