//! # commerce-runtime
//!
//! The real-world side of the core's environment, for services that run the
//! toolkit on tokio:
//!
//! - [`SystemClock`] and [`RandomIds`]: the production [`Clock`](commerce_core::ports::Clock)
//!   and [`IdGenerator`](commerce_core::ports::IdGenerator) (tests use the core's
//!   `testkit::fixed` doubles instead);
//! - [`jobs::run`]: the loop that runs a background step (outbox relay, projector,
//!   order recovery, reservation sweeper, retention) with back-off and a shutdown path.
//!
//! ```
//! use std::sync::Arc;
//! use commerce_core::services::Env;
//! use commerce_runtime::{RandomIds, SystemClock};
//!
//! let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
//! # let _ = env;
//! ```

pub mod jobs;
mod system;

pub use jobs::Pace;
pub use system::{RandomIds, SystemClock};
