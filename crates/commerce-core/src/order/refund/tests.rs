use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::{
    ids::{OrderId, ShipmentId},
    inventory::Quantity,
    order::{SagaAction, ShipmentInput, StepResult, next_action},
    payment::{AuthorizationId, AuthorizationOutcome, CaptureId},
};

fn pid(n: u128) -> ProductId {
    ProductId::from_uuid(Uuid::from_u128(n))
}

fn rid(n: u128) -> OrderRefundId {
    OrderRefundId::from_uuid(Uuid::from_u128(1_000 + n))
}

/// A paid order (captured, stock committed): one line per `(unit price, quantity, tax)`,
/// plus `shipping` charged on top.
fn paid(lines: &[(i64, u32, i64)], shipping: i64) -> Order {
    let mut order =
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(1)), Timestamp::EPOCH);
    let template = order.lines[0].clone();
    let eur = |n: i64| Money::new(n, Currency::EUR).unwrap_or_else(|e| panic!("{e}"));
    order.lines = lines
        .iter()
        .enumerate()
        .map(|(i, (price, quantity, tax))| OrderLine {
            product_id: pid(i as u128 + 1),
            unit_price: eur(*price),
            quantity: Quantity::new(*quantity).unwrap_or_else(|e| panic!("{e}")),
            line_total: eur(price * i64::from(*quantity)),
            tax: Some(eur(*tax)),
            ..template.clone()
        })
        .collect();
    order.total = eur(lines.iter().map(|(p, q, t)| p * i64::from(*q) + t).sum::<i64>() + shipping);
    for step in [
        StepResult::Reserved,
        StepResult::Authorization(AuthorizationOutcome::Authorized { authorization_id: AuthorizationId("a".into()) }),
        StepResult::Captured(CaptureId("c".into())),
        StepResult::StockCommitted,
    ] {
        order.apply(step, Timestamp::EPOCH);
    }
    order
}

fn lines(items: &[(u128, u32)], restock: bool) -> RefundRequest {
    RefundRequest::Lines {
        lines: items
            .iter()
            .map(|(p, q)| ShipmentLine {
                product_id: pid(*p),
                quantity: Quantity::new(*q).unwrap_or_else(|e| panic!("{e}")),
            })
            .collect(),
        restock,
    }
}

fn amount(n: i64) -> RefundRequest {
    RefundRequest::Amount(Money::new(n, Currency::EUR).unwrap_or_else(|e| panic!("{e}")))
}

/// Runs the saga's after-sale steps with every port succeeding; returns the actions taken.
fn settle(order: &mut Order) -> Vec<SagaAction> {
    let mut actions = vec![];
    loop {
        let action = next_action(order);
        actions.push(action);
        let result = match action {
            SagaAction::IssueRefund(id) => {
                StepResult::RefundIssued(id, Some(crate::payment::RefundId(format!("re_{id}"))))
            }
            SagaAction::ReturnStock(id) => StepResult::StockReturned(id),
            SagaAction::CompleteCancellation => StepResult::Cancelled,
            _ => return actions,
        };
        order.apply(result, Timestamp::EPOCH);
    }
}

#[test]
fn a_line_refund_returns_its_price_and_tax_and_restocks() {
    // 3 x 10.00 with 5.70 tax (19 %), 4.90 shipping.
    let mut order = paid(&[(1000, 3, 570), (500, 1, 95)], 490);
    assert_eq!(order.refundable().amount(), 3000 + 570 + 500 + 95 + 490);
    let refund =
        order.request_refund(rid(1), &lines(&[(1, 1)], true), None, Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((refund.amount.amount(), &refund.status), (1000 + 190, &RefundStatus::Pending));
    assert!(!order.is_settled(), "the recovery job would issue it");
    assert_eq!(
        settle(&mut order),
        [SagaAction::IssueRefund(rid(1)), SagaAction::ReturnStock(rid(1)), SagaAction::Done]
    );
    let refund = order.refund(rid(1)).unwrap_or_else(|| panic!("recorded"));
    assert!(refund.stock_returned && matches!(refund.status, RefundStatus::Issued { .. }));
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!((order.refunded_units(pid(1)), order.remaining_to_ship(pid(1))), (1, 2));
}

#[test]
fn refunds_never_pass_the_captured_total() {
    let mut order = paid(&[(1000, 2, 380)], 0);
    order.request_refund(rid(1), &amount(2000), None, Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
    let too_much = order.request_refund(rid(2), &lines(&[(1, 1)], false), None, Timestamp::EPOCH);
    assert!(matches!(too_much, Err(RefundRefused::AmountExceeds { refundable, .. }) if refundable.amount() == 380));
    order.request_refund(rid(3), &amount(380), None, Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(order.refundable().amount(), 0);
    assert!(matches!(
        order.request_refund(rid(4), &amount(1), None, Timestamp::EPOCH),
        Err(RefundRefused::AmountExceeds { .. })
    ));
    // A refused refund gives its amount back.
    order.apply(StepResult::RefundFailed(rid(3), "insufficient balance".into()), Timestamp::EPOCH);
    assert_eq!(order.refundable().amount(), 380);
    let usd = RefundRequest::Amount(Money::new(1, Currency::USD).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        order.request_refund(rid(5), &usd, None, Timestamp::EPOCH).unwrap_err(),
        RefundRefused::Currency(Currency::EUR)
    );
    let unknown = order.request_refund(rid(6), &lines(&[(9, 1)], false), None, Timestamp::EPOCH);
    assert_eq!(unknown.unwrap_err(), RefundRefused::LinesExceed { product_id: pid(9), requested: 1, refundable: 0 });
}

#[test]
fn only_captured_orders_are_refunded() {
    let mut order =
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(1)), Timestamp::EPOCH);
    let refused = order.request_refund(rid(1), &amount(1), None, Timestamp::EPOCH);
    assert_eq!(refused.unwrap_err(), RefundRefused::NotRefundable(OrderStatus::Pending));
    assert!(order.refunds.is_empty());
}

#[test]
fn refunded_units_are_no_longer_shipped() {
    let mut order = paid(&[(1000, 2, 0)], 0);
    order.request_refund(rid(1), &lines(&[(1, 1)], false), None, Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
    let input = ShipmentInput {
        lines: vec![crate::order::ShipmentLineInput { product_id: pid(1).to_string(), quantity: 2 }],
        carrier: "DHL".into(),
        tracking_number: "1".into(),
        tracking_url: None,
    };
    let new = input.validate().unwrap_or_else(|e| panic!("{e}"));
    let id = ShipmentId::from_uuid(Uuid::from_u128(7));
    assert!(matches!(
        order.ship(id, new, Timestamp::EPOCH),
        Err(crate::order::ShipmentRefused::Exceeds { remaining: 1, .. })
    ));
}

#[test]
fn cancelling_a_paid_order_refunds_and_restocks_everything_left() {
    let mut order = paid(&[(1000, 3, 570)], 490);
    order.request_refund(rid(1), &lines(&[(1, 1)], false), None, Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
    settle(&mut order);
    assert_eq!(order.cancel(rid(2), Timestamp::EPOCH), Ok(CancelStarted::Started));
    let refund = order.refund(rid(2)).unwrap_or_else(|| panic!("the cancellation's refund"));
    assert_eq!(refund.amount.amount(), 2000 + 380 + 490, "the rest, shipping included");
    assert_eq!((refund.lines[0].quantity.get(), refund.restock), (2, true));
    assert_eq!(refund.amount.amount() + 1190, order.total.amount());
    assert_eq!(order.cancel(rid(3), Timestamp::EPOCH), Ok(CancelStarted::AlreadyRequested));
    assert!(matches!(
        order.request_refund(rid(4), &amount(1), None, Timestamp::EPOCH),
        Err(RefundRefused::NotRefundable(_))
    ));
    assert_eq!(
        settle(&mut order),
        [
            SagaAction::IssueRefund(rid(2)),
            SagaAction::ReturnStock(rid(2)),
            SagaAction::CompleteCancellation,
            SagaAction::Done
        ]
    );
    assert_eq!(
        (order.status, order.stock, order.refundable().amount()),
        (OrderStatus::Cancelled, StockState::Released, 0)
    );
    assert_eq!(order.cancel(rid(5), Timestamp::EPOCH), Ok(CancelStarted::AlreadyRequested), "asking again is harmless");
}

#[test]
fn a_refused_cancellation_refund_leaves_the_order_paid() {
    let mut order = paid(&[(1000, 1, 0)], 0);
    order.cancel(rid(1), Timestamp::EPOCH).unwrap_or_else(|e| panic!("{e}"));
    order.apply(StepResult::RefundFailed(rid(1), "processor said no".into()), Timestamp::EPOCH);
    assert_eq!((next_action(&order), order.status, &order.cancellation), (SagaAction::Done, OrderStatus::Paid, &None));
    assert_eq!(order.refundable().amount(), 1000);
}

#[test]
fn what_can_be_cancelled() {
    let mut shipped = paid(&[(1000, 2, 0)], 0);
    shipped.shipments.push(crate::order::Shipment {
        id: ShipmentId::from_uuid(Uuid::from_u128(1)),
        lines: vec![],
        carrier: "DHL".into(),
        tracking_number: "1".into(),
        tracking_url: None,
        created_at: Timestamp::EPOCH,
    });
    assert_eq!(shipped.cancel(rid(1), Timestamp::EPOCH), Err(CancelRefused::Shipped));

    let mut checking_out =
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(2)), Timestamp::EPOCH);
    checking_out.apply(StepResult::Reserved, Timestamp::EPOCH);
    assert_eq!(checking_out.cancel(rid(2), Timestamp::EPOCH), Ok(CancelStarted::Started));
    assert_eq!(checking_out.failure, Some(FailureReason::CancelledByMerchant));
    assert_eq!(next_action(&checking_out), SagaAction::ResolveAuthorization, "an authorisation may be in flight");

    let mut authorised =
        crate::testkit::conformance::orders::pending_order(OrderId::from_uuid(Uuid::from_u128(3)), Timestamp::EPOCH);
    authorised.apply(StepResult::Reserved, Timestamp::EPOCH);
    authorised.apply(
        StepResult::Authorization(AuthorizationOutcome::Authorized { authorization_id: AuthorizationId("a".into()) }),
        Timestamp::EPOCH,
    );
    assert_eq!(authorised.cancel(rid(3), Timestamp::EPOCH), Err(CancelRefused::CheckoutInProgress));
}

#[test]
fn refund_input_names_the_bad_field() {
    let field = |input: RefundInput| input.validate().unwrap_err().errors()[0].field.clone();
    let eur = |amount| Some(MoneyInput { amount, currency: "EUR".into() });
    assert_eq!(field(RefundInput::default()), "lines");
    assert_eq!(field(RefundInput { lines: Some(vec![]), amount: eur(1), restock: None }), "amount");
    assert_eq!(field(RefundInput { amount: eur(0), ..RefundInput::default() }), "amount.amount");
    assert_eq!(field(RefundInput { amount: eur(-1), ..RefundInput::default() }), "amount.amount");
    assert_eq!(field(RefundInput { amount: eur(5), restock: Some(true), ..RefundInput::default() }), "restock");
    let bad_line = crate::order::ShipmentLineInput { product_id: "x".into(), quantity: 1 };
    assert_eq!(field(RefundInput { lines: Some(vec![bad_line]), ..RefundInput::default() }), "lines[0].product_id");
    let ok = RefundInput { amount: eur(5), ..RefundInput::default() }.validate();
    assert_eq!(ok, Ok(amount(5)));
}

proptest! {
    /// However a line is refunded, in however many steps, its refunds add up to exactly its
    /// net total plus its tax.
    #[test]
    fn line_refunds_add_up_exactly(price in 0..100_000_i64, tax in 0..50_000_i64, steps in proptest::collection::vec(1..=5_u32, 1..8)) {
        let quantity: u32 = steps.iter().sum();
        let mut order = paid(&[(price, quantity, tax)], 0);
        for (n, q) in steps.iter().enumerate() {
            order.request_refund(rid(n as u128), &lines(&[(1, *q)], false), None, Timestamp::EPOCH)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        prop_assert_eq!(order.refunded_total().amount(), price * i64::from(quantity) + tax);
        prop_assert_eq!(order.refundable().amount(), 0);
    }

    /// Random refund requests, by lines or by amount: the refunds recorded never pass the
    /// captured total, and every refusal names a real excess.
    #[test]
    fn refunds_stay_within_the_capture(
        requests in proptest::collection::vec(prop_oneof![
            (1..=2_u128, 1..=3_u32).prop_map(|(p, q)| lines(&[(p, q)], false)),
            (1..3_000_i64).prop_map(amount),
        ], 1..12),
    ) {
        let mut order = paid(&[(999, 3, 569), (1250, 2, 475)], 495);
        for (n, request) in requests.iter().enumerate() {
            let before = order.refunded_total();
            match order.request_refund(rid(n as u128), request, None, Timestamp::EPOCH) {
                Ok(_) => prop_assert!(order.refunded_total().amount() <= order.total.amount()),
                Err(RefundRefused::AmountExceeds { requested, refundable }) => {
                    prop_assert!(requested.amount() > refundable.amount());
                    prop_assert_eq!(order.refunded_total(), before);
                }
                Err(RefundRefused::LinesExceed { requested, refundable, .. }) => prop_assert!(requested > refundable),
                Err(other) => prop_assert!(false, "unexpected refusal {}", other),
            }
        }
    }
}
