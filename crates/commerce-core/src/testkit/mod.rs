//! Test kit for this project and for teams embedding it (feature `testkit`).
//!
//! - [`strategies`]: proptest strategies for money, products, catalogs, queries and carts.
//! - [`conformance`]: one suite per port. Every adapter of a port must pass its
//!   suite; the memory adapters are the reference. A suite takes a factory that
//!   returns a fresh, empty adapter for each case, and panics naming the case
//!   that failed.
//! - [`fixed`]: a settable clock and a deterministic id generator.

// Suites report failures by panicking, like any test assertion.
#![allow(clippy::missing_panics_doc)]

pub mod conformance;
pub mod fixed;
pub mod strategies;

/// `n` units of on-hand stock, for tests and fixtures (panics above [`OnHand::MAX`]).
///
/// [`OnHand::MAX`]: crate::inventory::OnHand::MAX
pub fn units(n: u64) -> crate::inventory::OnHand {
    crate::inventory::OnHand::new(n).unwrap_or_else(|e| panic!("{n} units: {e}"))
}
