//! Bodies of the after-sale routes: refunds and cancellations.

use commerce_core::order::{Refund, RefundInput, RefundStatus, ShipmentLineInput};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CheckoutItem, MoneyDto, ShipmentLineDto};

/// Body of `POST /admin/v1/orders/{id}/refunds`: `lines` (with `restock`) or `amount`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// Units to refund (1-100 lines, lines naming one product merged): each line's net price
    /// and its share of the line's tax. At most what was ordered and not yet refunded.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub lines: Option<Vec<CheckoutItem>>,
    /// Put the refunded units back in stock (line refunds only; default false).
    #[serde(default)]
    pub restock: Option<bool>,
    /// An amount to refund instead of lines, in the order's currency.
    #[serde(default)]
    pub amount: Option<MoneyDto>,
}

impl From<CreateRefundRequest> for RefundInput {
    fn from(r: CreateRefundRequest) -> Self {
        Self {
            lines: r.lines.map(|lines| {
                lines
                    .into_iter()
                    .map(|l| ShipmentLineInput { product_id: l.product_id, quantity: l.quantity })
                    .collect()
            }),
            restock: r.restock,
            amount: r.amount.map(Into::into),
        }
    }
}

/// A refund of an order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefundDto {
    /// Id.
    pub id: String,
    /// The money returned.
    pub amount: MoneyDto,
    /// The units refunded (empty for a refund by amount).
    pub lines: Vec<ShipmentLineDto>,
    /// Whether the units go back to stock.
    pub restock: bool,
    /// Whether they are back already.
    pub stock_returned: bool,
    /// `pending` (the processor has not confirmed it yet; it will be retried), `issued` or
    /// `failed` (the processor refused; see `failure_reason`).
    pub status: String,
    /// Why the processor refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, once issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
}

impl From<&Refund> for RefundDto {
    fn from(r: &Refund) -> Self {
        let (status, failure_reason, issued_at) = match &r.status {
            RefundStatus::Pending => ("pending", None, None),
            RefundStatus::Issued { issued_at, .. } => ("issued", None, Some(issued_at.to_string())),
            RefundStatus::Failed { reason } => ("failed", Some(reason.clone()), None),
        };
        Self {
            id: r.id.to_string(),
            amount: r.amount.into(),
            lines: r
                .lines
                .iter()
                .map(|l| ShipmentLineDto { product_id: l.product_id.to_string(), quantity: l.quantity.get() })
                .collect(),
            restock: r.restock,
            stock_returned: r.stock_returned,
            status: status.to_owned(),
            failure_reason,
            created_at: r.created_at.to_string(),
            issued_at,
        }
    }
}
