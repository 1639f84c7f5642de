//! Stripe's documented test cards and test PaymentMethods, and what a simulated processor
//! does with each. The simulators and the Stripe fake share this table, so a client's test
//! data has one outcome against every test processor, as it has against Stripe's test mode.

use super::DeclineReason;

/// What a test card does when a payment is authorised with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    /// Funds are held.
    Authorized,
    /// The issuer refuses, for this reason.
    Declined(DeclineReason),
    /// The customer must complete 3-D Secure first.
    RequiresAction,
}

/// What the test card `digits` does; any other valid number is authorised.
pub fn outcome(digits: &str) -> TestOutcome {
    match digits {
        "4000000000000002" => TestOutcome::Declined(DeclineReason::CardDeclined),
        "4000000000009995" => TestOutcome::Declined(DeclineReason::InsufficientFunds),
        "4000000000000069" => TestOutcome::Declined(DeclineReason::ExpiredCard),
        "4000000000000127" => TestOutcome::Declined(DeclineReason::IncorrectCvc),
        "4000000000000119" => TestOutcome::Declined(DeclineReason::ProcessingError),
        "4000002500003155" => TestOutcome::RequiresAction,
        _ => TestOutcome::Authorized,
    }
}

/// The test card number a Stripe test PaymentMethod (`pm_card_visa`, ...) stands for.
pub fn payment_method_card(token: &str) -> Option<&'static str> {
    Some(match token {
        "pm_card_visa" => "4242424242424242",
        "pm_card_mastercard" => "5555555555554444",
        "pm_card_amex" => "371449635398431",
        "pm_card_chargeDeclined" => "4000000000000002",
        "pm_card_chargeDeclinedInsufficientFunds" => "4000000000009995",
        "pm_card_chargeDeclinedExpiredCard" => "4000000000000069",
        "pm_card_chargeDeclinedIncorrectCvc" => "4000000000000127",
        "pm_card_chargeDeclinedProcessingError" => "4000000000000119",
        "pm_card_authenticationRequired" => "4000002500003155",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::{CardBrand, CardNumber};

    #[test]
    fn every_test_payment_method_is_a_valid_card_of_its_brand() {
        for (token, brand, last4) in [
            ("pm_card_visa", CardBrand::Visa, "4242"),
            ("pm_card_mastercard", CardBrand::Mastercard, "4444"),
            ("pm_card_amex", CardBrand::Amex, "8431"),
            ("pm_card_authenticationRequired", CardBrand::Visa, "3155"),
        ] {
            let number =
                CardNumber::parse(payment_method_card(token).unwrap_or_default()).map_err(|e| format!("{e:?}"));
            assert_eq!(number.map(|n| (n.brand(), n.last4().to_owned())), Ok((brand, last4.to_owned())), "{token}");
        }
        assert_eq!(payment_method_card("pm_never_issued"), None);
    }
}
