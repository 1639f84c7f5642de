//! [`Templates`]: the core's notices as messages, from askama templates (one plain-text and
//! one HTML template per kind, sharing a layout). Money is shown with its currency's
//! decimals (`12.50 EUR`, `1250 JPY`, `1.250 KWD`); HTML is escaped by the templates.

use askama::Template;
use commerce_core::{
    Money,
    notify::{Notice, NoticeKind, Rendered},
    ports::MessageRenderer,
};

/// One line of the order, or of a parcel or refund.
struct LineView {
    name: String,
    quantity: u32,
    total: String,
}

struct ShipmentView {
    carrier: String,
    tracking_number: String,
    tracking_url: Option<String>,
    lines: Vec<LineView>,
}

struct RefundView {
    amount: String,
    lines: Vec<LineView>,
}

/// Everything a template shows, as text.
struct View {
    subject: String,
    order_id: String,
    lines: Vec<LineView>,
    subtotal: String,
    shipping: String,
    tax: String,
    total: String,
    address: Vec<String>,
    shipment: Option<ShipmentView>,
    refund: Option<RefundView>,
}

macro_rules! templates {
    ($($text:ident, $html:ident, $text_path:literal, $html_path:literal;)*) => {$(
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            v: &'a View,
        }
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            v: &'a View,
        }
    )*};
}

templates! {
    ConfirmedText, ConfirmedHtml, "order_confirmed.txt", "order_confirmed.html";
    ShipmentText, ShipmentHtml, "shipment_sent.txt", "shipment_sent.html";
    CancelledText, CancelledHtml, "order_cancelled.txt", "order_cancelled.html";
    RefundText, RefundHtml, "refund_issued.txt", "refund_issued.html";
}

/// The shop's message templates.
#[derive(Debug, Clone, Copy, Default)]
pub struct Templates;

impl Templates {
    fn view(notice: &Notice) -> View {
        let order = &notice.order;
        let charges = order.breakdown();
        let name_of = |product| {
            order
                .lines
                .iter()
                .find(|l| l.product_id == product)
                .map_or_else(String::new, |l| l.name.as_str().to_owned())
        };
        let units = |lines: &[commerce_core::order::ShipmentLine]| {
            lines
                .iter()
                .map(|l| LineView { name: name_of(l.product_id), quantity: l.quantity.get(), total: String::new() })
                .collect()
        };
        let refund =
            notice.refund.as_ref().map(|r| RefundView { amount: r.amount.to_string(), lines: units(&r.lines) });
        let subject = match notice.kind {
            NoticeKind::OrderConfirmed => format!("Order {} confirmed", order.id),
            NoticeKind::ShipmentSent => format!("Your order {} has shipped", order.id),
            NoticeKind::OrderCancelled => format!("Order {} cancelled", order.id),
            NoticeKind::RefundIssued => format!(
                "Refund of {} for order {}",
                refund.as_ref().map_or_else(String::new, |r| r.amount.clone()),
                order.id
            ),
        };
        let address = order.shipping.as_ref().map_or_else(Vec::new, |s| {
            let a = &s.address;
            let place = [a.postal_code.as_str(), a.city.as_str()].join(" ");
            [a.name.as_str(), a.line1.as_str(), a.line2.as_str(), place.trim(), a.region.as_str(), a.country.as_str()]
                .into_iter()
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect()
        });
        View {
            subject,
            order_id: order.id.to_string(),
            lines: order
                .lines
                .iter()
                .map(|l| LineView {
                    name: l.name.as_str().to_owned(),
                    quantity: l.quantity.get(),
                    total: l.line_total.to_string(),
                })
                .collect(),
            subtotal: charges.subtotal.to_string(),
            shipping: charges.shipping_total.to_string(),
            tax: charges.tax_total.to_string(),
            total: Money::to_string(&order.total),
            address,
            shipment: notice.shipment.as_ref().map(|s| ShipmentView {
                carrier: s.carrier.clone(),
                tracking_number: s.tracking_number.clone(),
                tracking_url: s.tracking_url.clone(),
                lines: units(&s.lines),
            }),
            refund,
        }
    }
}

impl MessageRenderer for Templates {
    fn render(&self, notice: &Notice) -> Result<Rendered, String> {
        let v = &Self::view(notice);
        let bodies = match notice.kind {
            NoticeKind::OrderConfirmed => (ConfirmedText { v }.render(), ConfirmedHtml { v }.render()),
            NoticeKind::ShipmentSent => (ShipmentText { v }.render(), ShipmentHtml { v }.render()),
            NoticeKind::OrderCancelled => (CancelledText { v }.render(), CancelledHtml { v }.render()),
            NoticeKind::RefundIssued => (RefundText { v }.render(), RefundHtml { v }.render()),
        };
        match bodies {
            (Ok(text), Ok(html)) => Ok(Rendered { subject: v.subject.clone(), text, html }),
            (Err(e), _) | (_, Err(e)) => Err(format!("template {}: {e}", notice.kind.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use commerce_core::{
        EventId, OrderId, Timestamp,
        address::{CountryCode, ShippingAddress},
        catalog::ProductName,
        ids::ShipmentId,
        notify::{Notice, NoticeKind},
        order::{OrderShipping, Shipment, ShipmentLine},
        testkit::conformance::orders::paid_order,
    };

    use super::*;

    fn notice(kind: NoticeKind) -> Notice {
        let mut order = paid_order(OrderId::from_uuid(uuid::Uuid::from_u128(9)), Timestamp::EPOCH);
        order.lines[0].name = ProductName::parse("Mug <Deluxe> & Co").unwrap_or_else(|e| panic!("{e}"));
        order.shipping = Some(OrderShipping {
            address: ShippingAddress {
                name: "Ada Lovelace".into(),
                line1: "Unter den Linden 1".into(),
                line2: String::new(),
                city: "Berlin".into(),
                region: String::new(),
                postal_code: "10117".into(),
                country: CountryCode::parse("DE").unwrap_or_else(|e| panic!("{e}")),
                phone: String::new(),
            },
            method: None,
        });
        let shipment = Shipment {
            id: ShipmentId::from_uuid(uuid::Uuid::from_u128(3)),
            lines: vec![ShipmentLine { product_id: order.lines[0].product_id, quantity: order.lines[0].quantity }],
            carrier: "DHL".into(),
            tracking_number: "00340434161094042557".into(),
            tracking_url: Some("https://www.dhl.de/track?id=00340434161094042557".into()),
            created_at: Timestamp::EPOCH,
        };
        Notice {
            event_id: EventId::from_uuid(uuid::Uuid::from_u128(1)),
            kind,
            order,
            shipment: Some(shipment),
            refund: None,
        }
    }

    #[test]
    fn every_kind_renders_its_facts_in_text_and_escaped_html() {
        for kind in
            [NoticeKind::OrderConfirmed, NoticeKind::ShipmentSent, NoticeKind::OrderCancelled, NoticeKind::RefundIssued]
        {
            let message = Templates.render(&notice(kind)).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                message.text.contains("25.00 EUR"),
                "{kind:?}: the total, with its currency's decimals:\n{}",
                message.text
            );
            assert!(
                message.text.contains("2 x Mug <Deluxe> & Co"),
                "{kind:?}: plain text is not escaped:\n{}",
                message.text
            );
            assert!(
                message.html.contains("Mug &#60;Deluxe&#62; &#38; Co")
                    || message.html.contains("Mug &lt;Deluxe&gt; &amp; Co"),
                "{kind:?}: HTML is escaped:\n{}",
                message.html
            );
            assert!(message.text.contains("10117 Berlin"), "{kind:?}: the address");
        }
        let shipped = Templates.render(&notice(NoticeKind::ShipmentSent)).unwrap_or_else(|e| panic!("{e}"));
        assert!(shipped.subject.contains("has shipped"));
        assert!(shipped.text.contains("DHL, tracking number 00340434161094042557"), "{}", shipped.text);
        assert!(shipped.html.contains("https://www.dhl.de/track?id=00340434161094042557"), "{}", shipped.html);
    }
}
