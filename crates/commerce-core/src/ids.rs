//! Typed identifiers. Every aggregate id is a UUIDv7 (time-ordered, so btree
//! indexes stay append-mostly) handed out by the [`IdGenerator`](crate::ports::IdGenerator) port.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A string that is not a valid UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid id (expected a UUID)")]
pub struct InvalidId(pub String);

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| InvalidId(s.to_owned()))
            }
        }
    };
}

id_type!(
    /// Identifies a product.
    ProductId
);
id_type!(
    /// Identifies a collection of products.
    CollectionId
);
id_type!(
    /// Identifies an order.
    OrderId
);
id_type!(
    /// Identifies a stock reservation (one per checkout).
    ReservationId
);
id_type!(
    /// Identifies one published event.
    EventId
);
id_type!(
    /// Identifies a shipping method.
    ShippingMethodId
);
id_type!(
    /// Identifies a tax rate.
    TaxRateId
);
id_type!(
    /// Identifies a shipment of an order.
    ShipmentId
);
id_type!(
    /// Identifies a refund of an order (the processor's own id is a
    /// [`payment::RefundId`](crate::payment::RefundId)).
    OrderRefundId
);

impl ReservationId {
    /// The reservation an order's checkout uses: the order id itself, so a resumed
    /// saga always addresses the same reservation.
    pub const fn for_order(order: OrderId) -> Self {
        Self(order.as_uuid())
    }

    /// The record of a refund's units returned to stock: the refund id itself, so a
    /// resumed return always addresses the same record and applies once. (Refund ids are
    /// fresh UUIDs, never an order's.)
    pub const fn for_refund(refund: OrderRefundId) -> Self {
        Self(refund.as_uuid())
    }
}
