//! Shipments: an operator ships some or all of a paid order's remaining units, with a
//! carrier and a tracking number. An order with units left to ship is
//! `partially_fulfilled`; with none, `fulfilled`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Order, OrderStatus, StockState};
use crate::{
    ids::{ProductId, ShipmentId},
    inventory::Quantity,
    timestamp::Timestamp,
    validation::{InvalidValue, ValidationErrors, text, token},
};

/// The rules of a shipment's fields, as API documents state them.
pub mod rules {
    use crate::validation::{ONE_LINE_TEXT, TextRule};

    /// The carrier.
    pub const CARRIER: TextRule = TextRule { pattern: ONE_LINE_TEXT, min_chars: 1, max_chars: 100 };
    /// The tracking number.
    pub const TRACKING_NUMBER: TextRule = TextRule { pattern: "^[!-~]+$", min_chars: 1, max_chars: 100 };
    /// The tracking URL.
    pub const TRACKING_URL: TextRule = TextRule { pattern: "^https://[!-.0-~][!-~]*$", min_chars: 9, max_chars: 2_000 };
}

/// Units of one product in a shipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    /// The product.
    pub product_id: ProductId,
    /// Units shipped.
    pub quantity: Quantity,
}

/// A parcel on its way to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// Identity.
    pub id: ShipmentId,
    /// What it holds, one line per product.
    pub lines: Vec<ShipmentLine>,
    /// The carrier (`DHL`, `UPS`, ...).
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// Where the customer follows it (https).
    pub tracking_url: Option<String>,
    /// When it was recorded.
    pub created_at: Timestamp,
}

/// One line of a shipment as an operator sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShipmentLineInput {
    /// Product id.
    pub product_id: String,
    /// Units (1 to 10,000).
    pub quantity: i64,
}

/// A shipment as an operator sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShipmentInput {
    /// 1 to 100 lines; lines naming one product are merged.
    pub lines: Vec<ShipmentLineInput>,
    /// The carrier, 1-100 characters.
    pub carrier: String,
    /// The tracking number, 1-100 visible ASCII characters.
    pub tracking_number: String,
    /// An https URL, up to 2,000 characters.
    #[serde(default)]
    pub tracking_url: Option<String>,
}

/// A validated shipment, not yet checked against an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipment {
    lines: Vec<ShipmentLine>,
    carrier: String,
    tracking_number: String,
    tracking_url: Option<String>,
}

impl ShipmentInput {
    /// Checks every field, naming each bad one.
    pub fn validate(&self) -> Result<NewShipment, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let lines = parse_lines(&self.lines, &mut errors);
        let carrier = errors.check("carrier", text(&self.carrier, 100, false, false));
        let tracking_number = errors.check(
            "tracking_number",
            token(self.tracking_number.trim(), 100, "visible ASCII", |c| c.is_ascii_graphic()),
        );
        let tracking_url = match self.tracking_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => Some(None),
            Some(url) => errors.check("tracking_url", tracking_url(url)).map(Some),
        };
        match (carrier, tracking_number, tracking_url) {
            (Some(carrier), Some(tracking_number), Some(tracking_url)) if errors.is_empty() => {
                Ok(NewShipment { lines, carrier, tracking_number, tracking_url })
            }
            _ => Err(errors),
        }
    }
}

/// Checks 1 to 100 `lines` (naming each bad field in `errors`) and merges lines naming one
/// product: the units of a shipment or a refund, one line per product.
pub(super) fn parse_lines(input: &[ShipmentLineInput], errors: &mut ValidationErrors) -> Vec<ShipmentLine> {
    if input.is_empty() || input.len() > 100 {
        errors.add("lines", format!("must contain 1 to 100 lines (got {})", input.len()));
    }
    let mut merged: BTreeMap<ProductId, i64> = BTreeMap::new();
    for (i, line) in input.iter().enumerate() {
        let id = errors.check(
            &format!("lines[{i}].product_id"),
            line.product_id
                .parse::<ProductId>()
                .map_err(|_| InvalidValue::Other(format!("{:?} is not a product id", line.product_id))),
        );
        let valid = (1..=i64::from(Quantity::MAX)).contains(&line.quantity);
        if !valid {
            errors.add(
                format!("lines[{i}].quantity"),
                InvalidValue::OutOfRange { min: 1, max: i64::from(Quantity::MAX), actual: line.quantity },
            );
        }
        if let (Some(id), true) = (id, valid) {
            *merged.entry(id).or_default() += line.quantity;
        }
    }
    let mut lines = vec![];
    for (product_id, quantity) in merged {
        match u32::try_from(quantity).ok().and_then(|q| Quantity::new(q).ok()) {
            Some(quantity) => lines.push(ShipmentLine { product_id, quantity }),
            None => {
                errors.add("lines", format!("total quantity of product {product_id} exceeds {}", Quantity::MAX));
            }
        }
    }
    lines
}

fn tracking_url(url: &str) -> Result<String, InvalidValue> {
    let url = token(url, rules::TRACKING_URL.max_chars, "visible ASCII", |c| c.is_ascii_graphic())?;
    let host = url.strip_prefix("https://").unwrap_or_default();
    if host.is_empty() || host.starts_with('/') {
        return Err(InvalidValue::Other("must be an https:// URL".into()));
    }
    Ok(url)
}

/// Why an order cannot take a shipment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShipmentRefused {
    /// Only paid orders (with their stock committed) ship.
    #[error("the order is {}: only paid orders ship", .0.as_str())]
    NotShippable(OrderStatus),
    /// More than remains to ship (nothing remains of a product the order does not have).
    #[error("product {product_id}: {requested} to ship, {remaining} remain")]
    Exceeds {
        /// The product.
        product_id: ProductId,
        /// Units in the shipment.
        requested: u32,
        /// Units ordered and not yet shipped.
        remaining: u32,
    },
}

impl Order {
    /// True when units may ship now (by [`ship`](Self::ship) or [`fulfil`](Self::fulfil)):
    /// paid or partly shipped, with its stock committed.
    pub fn is_shippable(&self) -> bool {
        matches!(self.status, OrderStatus::Paid | OrderStatus::PartiallyFulfilled)
            && self.stock == StockState::Committed
    }

    /// Units of `product` ordered and neither shipped nor refunded.
    pub fn remaining_to_ship(&self, product: ProductId) -> u32 {
        let ordered: u32 = self.lines.iter().filter(|l| l.product_id == product).map(|l| l.quantity.get()).sum();
        let shipped: u32 = self
            .shipments
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|l| l.product_id == product)
            .map(|l| l.quantity.get())
            .sum();
        ordered.saturating_sub(shipped).saturating_sub(self.refunded_units(product))
    }

    /// Records a shipment: the order becomes `partially_fulfilled`, or `fulfilled` when
    /// nothing remains. Pure; nothing changes when it is refused.
    pub fn ship(&mut self, id: ShipmentId, new: NewShipment, now: Timestamp) -> Result<&Shipment, ShipmentRefused> {
        if !self.is_shippable() {
            return Err(ShipmentRefused::NotShippable(self.status));
        }
        for line in &new.lines {
            let remaining = self.remaining_to_ship(line.product_id);
            if line.quantity.get() > remaining {
                return Err(ShipmentRefused::Exceeds {
                    product_id: line.product_id,
                    requested: line.quantity.get(),
                    remaining,
                });
            }
        }
        self.shipments.push(Shipment {
            id,
            lines: new.lines,
            carrier: new.carrier,
            tracking_number: new.tracking_number,
            tracking_url: new.tracking_url,
            created_at: now,
        });
        let done = self.lines.iter().all(|l| self.remaining_to_ship(l.product_id) == 0);
        self.status = if done { OrderStatus::Fulfilled } else { OrderStatus::PartiallyFulfilled };
        self.version = self.version.next();
        self.updated_at = now;
        Ok(self.shipments.last().unwrap_or_else(|| unreachable!("just pushed")))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::order::{PaymentState, StepResult};

    /// A paid order (stock committed) with one line per quantity in `quantities`.
    fn paid(quantities: &[u32]) -> Order {
        let mut order = crate::testkit::conformance::orders::pending_order(
            crate::ids::OrderId::from_uuid(Uuid::from_u128(1)),
            Timestamp::EPOCH,
        );
        let template = order.lines[0].clone();
        order.lines = quantities
            .iter()
            .enumerate()
            .map(|(i, q)| super::super::OrderLine {
                product_id: ProductId::from_uuid(Uuid::from_u128(i as u128 + 1)),
                quantity: Quantity::new(*q).unwrap_or_else(|_| unreachable!()),
                ..template.clone()
            })
            .collect();
        order.apply(StepResult::Reserved, Timestamp::EPOCH);
        let authorization_id = crate::payment::AuthorizationId("a".into());
        order.apply(
            StepResult::Authorization(crate::payment::AuthorizationOutcome::Authorized { authorization_id }),
            Timestamp::EPOCH,
        );
        order.apply(StepResult::Captured(crate::payment::CaptureId("c".into())), Timestamp::EPOCH);
        order.apply(StepResult::StockCommitted, Timestamp::EPOCH);
        assert!(matches!(order.payment, PaymentState::Captured { .. }));
        order
    }

    fn shipment(lines: &[(u128, i64)]) -> NewShipment {
        ShipmentInput {
            lines: lines
                .iter()
                .map(|(p, q)| ShipmentLineInput { product_id: Uuid::from_u128(*p).to_string(), quantity: *q })
                .collect(),
            carrier: "DHL".into(),
            tracking_number: "00340434161094042557".into(),
            tracking_url: Some("https://www.dhl.de/track?id=00340434161094042557".into()),
        }
        .validate()
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn part_then_the_rest_fulfils_the_order() {
        let mut order = paid(&[2, 1]);
        let id = |n| ShipmentId::from_uuid(Uuid::from_u128(n));
        order.ship(id(1), shipment(&[(1, 1)]), Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (order.status, order.remaining_to_ship(ProductId::from_uuid(Uuid::from_u128(1)))),
            (OrderStatus::PartiallyFulfilled, 1)
        );
        let too_many = order.ship(id(2), shipment(&[(1, 2)]), Timestamp::EPOCH);
        assert!(matches!(too_many, Err(ShipmentRefused::Exceeds { requested: 2, remaining: 1, .. })));
        assert!(matches!(
            order.ship(id(3), shipment(&[(9, 1)]), Timestamp::EPOCH),
            Err(ShipmentRefused::Exceeds { remaining: 0, .. })
        ));
        order.ship(id(4), shipment(&[(1, 1), (2, 1)]), Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((order.status, order.shipments.len()), (OrderStatus::Fulfilled, 2));
        assert!(matches!(
            order.ship(id(5), shipment(&[(1, 1)]), Timestamp::EPOCH),
            Err(ShipmentRefused::NotShippable(OrderStatus::Fulfilled))
        ));
    }

    #[test]
    fn bad_shipments_name_their_fields() {
        let input = ShipmentInput {
            lines: vec![ShipmentLineInput { product_id: "nope".into(), quantity: 0 }],
            carrier: " ".into(),
            tracking_number: "with space".into(),
            tracking_url: Some("http://insecure.example".into()),
        };
        let errors = input.validate().unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[0].product_id", "lines[0].quantity", "carrier", "tracking_number", "tracking_url"]);
        assert!(paid(&[1]).ship(ShipmentId::from_uuid(Uuid::nil()), shipment(&[(1, 1)]), Timestamp::EPOCH).is_ok());
        let mut pending = crate::testkit::conformance::orders::pending_order(
            crate::ids::OrderId::from_uuid(Uuid::nil()),
            Timestamp::EPOCH,
        );
        assert!(matches!(
            pending.ship(ShipmentId::from_uuid(Uuid::nil()), shipment(&[(42, 1)]), Timestamp::EPOCH),
            Err(ShipmentRefused::NotShippable(OrderStatus::Pending))
        ));
    }

    proptest! {
        /// Whatever shipments are attempted, no product ever ships more than was ordered, a
        /// refused shipment changes nothing, and the status says whether units remain.
        #[test]
        fn shipments_never_exceed_what_was_ordered(
            ordered in prop::collection::vec(1_u32..6, 1..4),
            attempts in prop::collection::vec(prop::collection::vec((1_u128..5, 1_i64..5), 1..3), 0..12),
        ) {
            let mut order = paid(&ordered);
            for (n, lines) in attempts.iter().enumerate() {
                let before = order.clone();
                let result = order.ship(ShipmentId::from_uuid(Uuid::from_u128(n as u128)), shipment(lines), Timestamp::EPOCH);
                if result.is_err() {
                    prop_assert_eq!(&order, &before, "a refused shipment changes nothing");
                }
                for (i, q) in ordered.iter().enumerate() {
                    let product = ProductId::from_uuid(Uuid::from_u128(i as u128 + 1));
                    let shipped = q - order.remaining_to_ship(product);
                    prop_assert!(shipped <= *q);
                }
                let remaining: u32 = order.lines.iter().map(|l| order.remaining_to_ship(l.product_id)).sum();
                let expected = match (order.shipments.is_empty(), remaining) {
                    (true, _) => OrderStatus::Paid,
                    (false, 0) => OrderStatus::Fulfilled,
                    (false, _) => OrderStatus::PartiallyFulfilled,
                };
                prop_assert_eq!(order.status, expected);
            }
        }
    }
}
