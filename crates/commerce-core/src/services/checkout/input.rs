//! A checkout as a client sends it, and the command it validates into: every rule that
//! needs no shop data (e-mail, payment, items, the shape of the shipping address).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{
    address::{ShippingAddress, ShippingAddressInput},
    ids::{ProductId, ShippingMethodId},
    inventory::Quantity,
    order::Email,
    payment::{CardDetails, CardInput, PaymentToken},
    timestamp::Timestamp,
    validation::{InvalidValue, ValidationErrors},
};

/// One requested line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutItemInput {
    /// Product id.
    pub product_id: String,
    /// Units (1 to 10,000).
    pub quantity: i64,
}

/// A checkout request as a client sends it: the card as a processor's token
/// (`payment_method`) or, with a test processor, as card details (`card`); where the shop
/// ships, the address and the shipping method.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct CheckoutInput {
    /// Customer e-mail.
    pub email: String,
    /// Items to buy.
    pub items: Vec<CheckoutItemInput>,
    /// Card details (test processors only: see [`CardData`]).
    #[serde(default)]
    pub card: Option<CardInput>,
    /// A payment method token the customer's browser obtained from the processor.
    #[serde(default)]
    pub payment_method: Option<String>,
    /// Where the order ships: required when the shop has an active shipping method.
    #[serde(default)]
    pub shipping_address: Option<ShippingAddressInput>,
    /// The shipping method (one serving the address's country): required with an address
    /// when the shop has an active shipping method.
    #[serde(default)]
    pub shipping_method_id: Option<String>,
}

/// Where and how a checkout ships, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingChoice {
    /// The address.
    pub address: ShippingAddress,
    /// The method asked for.
    pub method_id: Option<ShippingMethodId>,
}

/// Whether the shop takes card details, or only processor tokens. A shop whose servers
/// receive card numbers is in full PCI DSS scope: with a real processor the browser
/// tokenises the card, and card details are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardData {
    /// Card details or tokens (a simulated processor: tests, demos, the embedded default).
    #[default]
    Accepted,
    /// Tokens only (a real processor).
    Refused,
}

/// How the customer pays, once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentSource {
    /// Card details, for the processor to tokenise.
    Card(CardDetails),
    /// A token the processor issued to the customer's browser.
    Token(PaymentToken),
}

/// Most lines one order may have.
pub const MAX_ORDER_LINES: usize = 100;

impl CheckoutInput {
    /// Checks every field that needs no shop data, reporting all problems at once (e-mail,
    /// then the payment, then items, then shipping). Card values never appear in a message.
    pub fn validate(&self, now: Timestamp, card_data: CardData) -> Result<CheckoutCommand, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = errors.check("email", Email::parse(&self.email));
        let payment = self.validate_payment(now, card_data, &mut errors);
        let items = Self::validate_items(&self.items, &mut errors);
        let shipping = self.validate_shipping(&mut errors);
        match (email, payment) {
            (Some(email), Some(payment)) if errors.is_empty() => {
                Ok(CheckoutCommand { email, payment, items, shipping })
            }
            _ => Err(errors),
        }
    }

    /// The address and method, both optional here (whether the shop requires them is
    /// decided with its shipping methods, at checkout).
    fn validate_shipping(&self, errors: &mut ValidationErrors) -> Option<ShippingChoice> {
        let method_id = self.shipping_method_id.as_deref().filter(|m| !m.trim().is_empty()).and_then(|raw| {
            errors.check(
                "shipping_method_id",
                raw.trim()
                    .parse::<ShippingMethodId>()
                    .map_err(|_| InvalidValue::Other(format!("{raw:?} is not a shipping method id"))),
            )
        });
        let Some(address) = &self.shipping_address else {
            if method_id.is_some() {
                errors.add("shipping_address", "is required with a shipping method");
            }
            return None;
        };
        match address.validate("shipping_address") {
            Ok(address) => Some(ShippingChoice { address, method_id }),
            Err(e) => {
                for f in e.errors() {
                    errors.add(f.field.clone(), &f.message);
                }
                None
            }
        }
    }

    /// Exactly one of `card` and `payment_method`; card details only where accepted.
    fn validate_payment(
        &self,
        now: Timestamp,
        card_data: CardData,
        errors: &mut ValidationErrors,
    ) -> Option<PaymentSource> {
        match (&self.card, &self.payment_method) {
            (Some(_), Some(_)) => {
                errors.add("payment_method", "send either card or payment_method, not both");
                None
            }
            (Some(_), None) if card_data == CardData::Refused => {
                errors.add(
                    "card",
                    "card details are not accepted: tokenise the card with the payment processor in the browser \
                     and send its payment_method token",
                );
                None
            }
            (Some(card), None) => card.validate("card", now, errors).map(PaymentSource::Card),
            (None, Some(token)) => errors.check("payment_method", PaymentToken::parse(token)).map(PaymentSource::Token),
            (None, None) => {
                errors.add("payment_method", "is required: the payment processor's token for the customer's card");
                None
            }
        }
    }

    /// Checks each line and merges lines naming the same product (in product id order).
    fn validate_items(items: &[CheckoutItemInput], errors: &mut ValidationErrors) -> Vec<(ProductId, Quantity)> {
        if items.is_empty() || items.len() > MAX_ORDER_LINES {
            errors.add("items", format!("must contain 1 to {MAX_ORDER_LINES} items (got {})", items.len()));
            return vec![];
        }
        let mut merged: BTreeMap<ProductId, i64> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let id = errors.check(
                &format!("items[{i}].product_id"),
                item.product_id
                    .parse::<ProductId>()
                    .map_err(|_| InvalidValue::Other(format!("{:?} is not a product id", item.product_id))),
            );
            let quantity_ok = errors.check(
                &format!("items[{i}].quantity"),
                u32::try_from(item.quantity).map_err(|_| ()).and_then(|q| Quantity::new(q).map_err(|_| ())).map_err(
                    |()| InvalidValue::OutOfRange { min: 1, max: i64::from(Quantity::MAX), actual: item.quantity },
                ),
            );
            if let (Some(id), Some(_)) = (id, quantity_ok) {
                *merged.entry(id).or_default() += item.quantity;
            }
        }
        merged
            .into_iter()
            .filter_map(|(id, q)| {
                let quantity = u32::try_from(q).ok().and_then(|q| Quantity::new(q).ok());
                if quantity.is_none() {
                    errors.add("items", format!("total quantity of product {id} exceeds {}", Quantity::MAX));
                }
                quantity.map(|q| (id, q))
            })
            .collect()
    }
}

/// A checkout that passed every rule checkable without shop data. Printing it shows the
/// card only as brand and last four digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutCommand {
    /// Customer e-mail.
    pub email: Email,
    /// The card or its token.
    pub payment: PaymentSource,
    /// Products and quantities, one line per product, in product id order.
    pub items: Vec<(ProductId, Quantity)>,
    /// Where and how it ships, if the customer said.
    pub shipping: Option<ShippingChoice>,
}

impl CheckoutCommand {
    /// The fields that make two requests the same checkout: e-mail and items. The card
    /// (or its token) is left out, so card data never enters a fingerprint; a retry that
    /// changes only the card is the same checkout and replays its outcome.
    pub fn canonical(&self) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut out = format!("email={}\n", self.email.as_str());
        for (product, quantity) in &self.items {
            let _ = writeln!(out, "item={product}:{}", quantity.get());
        }
        // Only when given, so the identity of checkouts without shipping is unchanged.
        if let Some(ShippingChoice { address: a, method_id }) = &self.shipping {
            let fields = [&a.name, &a.line1, &a.line2, &a.city, &a.region, &a.postal_code, &a.phone];
            let _ = writeln!(out, "ship_to={:?}:{}", fields, a.country);
            let _ = writeln!(out, "ship_with={}", method_id.map(|m| m.to_string()).unwrap_or_default());
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::fixed::ManualClock;

    fn input(card: &str) -> CheckoutInput {
        CheckoutInput {
            email: "ada@example.com".into(),
            items: vec![
                CheckoutItemInput { product_id: uuid::Uuid::from_u128(2).to_string(), quantity: 1 },
                CheckoutItemInput { product_id: uuid::Uuid::from_u128(1).to_string(), quantity: 2 },
                CheckoutItemInput { product_id: uuid::Uuid::from_u128(2).to_string(), quantity: 3 },
            ],
            card: Some(CardInput { number: card.into(), exp_month: 12, exp_year: 2030, cvc: "123".into() }),
            payment_method: None,
            shipping_address: None,
            shipping_method_id: None,
        }
    }

    fn with_token(token: &str) -> CheckoutInput {
        CheckoutInput { card: None, payment_method: Some(token.into()), ..input("") }
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn commands_merge_lines_and_leave_the_card_out_of_their_identity() {
        let now = crate::ports::Clock::now(&ManualClock::default());
        let visa = input("4242 4242 4242 4242").validate(now, CardData::Accepted).unwrap();
        let mastercard = input("5555 5555 5555 4444").validate(now, CardData::Accepted).unwrap();
        let quantities: Vec<u32> = visa.items.iter().map(|(_, q)| q.get()).collect();
        assert_eq!(quantities, [2, 4], "merged per product, in id order");
        assert_eq!(visa.canonical(), mastercard.canonical(), "the card is not part of the command's identity");
        let text = String::from_utf8(visa.canonical()).unwrap();
        assert!(!text.contains("4242") && !text.contains("123"), "{text}");
    }

    #[test]
    fn invalid_card_fields_are_named_without_their_values() {
        let now = crate::ports::Clock::now(&ManualClock::default());
        let bad = CheckoutInput {
            card: Some(CardInput {
                number: "4242 4242 4242 4241".into(),
                exp_month: 13,
                exp_year: 2030,
                cvc: "98".into(),
            }),
            ..input("")
        };
        let errors = bad.validate(now, CardData::Accepted).unwrap_err();
        assert_eq!(fields(&errors), ["card.number", "card.exp_month", "card.cvc"]);
        let text = errors.to_string();
        assert!(!text.contains("4241") && !text.contains("98") && !text.contains("13"), "{text}");
    }

    #[test]
    fn a_token_pays_like_a_card_and_stays_out_of_the_identity() {
        let now = crate::ports::Clock::now(&ManualClock::default());
        let command = with_token("pm_card_visa").validate(now, CardData::Refused).unwrap();
        assert_eq!(command.payment, PaymentSource::Token(PaymentToken("pm_card_visa".into())));
        let card = input("4242 4242 4242 4242").validate(now, CardData::Accepted).unwrap();
        assert_eq!(command.canonical(), card.canonical(), "how the customer pays is not the checkout's identity");
    }

    #[test]
    fn exactly_one_way_to_pay_and_card_details_only_where_accepted() {
        let now = crate::ports::Clock::now(&ManualClock::default());
        let both = CheckoutInput { payment_method: Some("pm_card_visa".into()), ..input("4242 4242 4242 4242") };
        assert_eq!(fields(&both.validate(now, CardData::Accepted).unwrap_err()), ["payment_method"]);
        let neither = CheckoutInput { card: None, ..input("") };
        assert_eq!(fields(&neither.validate(now, CardData::Accepted).unwrap_err()), ["payment_method"]);
        let refused = input("4242 4242 4242 4242").validate(now, CardData::Refused).unwrap_err();
        assert_eq!(fields(&refused), ["card"]);
        assert!(!refused.to_string().contains("4242"), "{refused}");
    }

    #[test]
    fn a_token_is_never_card_data_and_never_echoed_as_such() {
        let now = crate::ports::Clock::now(&ManualClock::default());
        for bad in ["", "pm card", "4242424242424242", "pm_4242 4242 4242 4242", &"x".repeat(256)] {
            let errors = with_token(bad).validate(now, CardData::Accepted).unwrap_err();
            assert_eq!(fields(&errors), ["payment_method"], "{bad:?}");
            assert!(!errors.to_string().contains("4242"), "{errors}");
        }
    }
}
