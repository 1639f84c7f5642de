//! # commerce-mail
//!
//! Customer e-mail for the core's notifications
//! ([`NotificationService`](commerce_core::services::notifications::NotificationService)):
//!
//! - [`Templates`] renders each notice from askama templates, plain text and HTML;
//! - [`SmtpMailer`] sends through an SMTP relay (`SMTP_URL`: `smtps://` or STARTTLS);
//! - [`DevMailbox`] keeps a development shop's messages instead of sending them.

mod dev;
mod smtp;
mod templates;

pub use dev::DevMailbox;
pub use smtp::{SmtpConfigError, SmtpMailer};
pub use templates::Templates;
