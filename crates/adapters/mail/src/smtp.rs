//! [`SmtpMailer`]: messages over SMTP (lettre), with TLS from the first byte (`smtps://`)
//! or upgraded by STARTTLS (`smtp://`, required except to a loopback server).

use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    notify::{DeliveryError, Message},
    ports::Mailer,
};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::authentication::Credentials,
};

/// Why an `SMTP_URL` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SMTP_URL: {0}")]
pub struct SmtpUrlError(String);

/// Sends messages through one SMTP server (a relay: the shop's mail provider).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Where it sends, for logs (no credentials).
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.server).finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `url`: `smtps://host[:465]` (TLS), `smtp://host[:587]` (STARTTLS
    /// required; a loopback host such as a local relay or test server may stay
    /// unencrypted), optionally with `user:password@` before the host (SMTP AUTH over the
    /// encrypted connection).
    pub fn from_url(url: &str) -> Result<Self, SmtpUrlError> {
        let (tls, rest) = match url.split_once("://") {
            Some(("smtps", rest)) => (true, rest),
            Some(("smtp", rest)) => (false, rest),
            _ => return Err(SmtpUrlError("must start with smtp:// or smtps://".into())),
        };
        let rest = rest.trim_end_matches('/');
        let (credentials, authority) = match rest.rsplit_once('@') {
            Some((user_info, authority)) => {
                let (user, password) = user_info
                    .split_once(':')
                    .ok_or_else(|| SmtpUrlError("credentials must be user:password@".into()))?;
                (Some(Credentials::new(user.to_owned(), password.to_owned())), authority)
            }
            None => (None, rest),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                (host, Some(port.parse::<u16>().map_err(|_| SmtpUrlError(format!("port {port:?} is not a number")))?))
            }
            None => (authority, None),
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
            return Err(SmtpUrlError("must name a host: smtp://host:port".into()));
        }
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let builder = if tls {
            AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| SmtpUrlError(e.to_string()))?
                .port(port.unwrap_or(465))
        } else if loopback {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port.unwrap_or(25))
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| SmtpUrlError(e.to_string()))?
                .port(port.unwrap_or(587))
        };
        if credentials.is_some() && !tls && loopback {
            return Err(SmtpUrlError(
                "credentials are only sent over TLS: use smtps:// or a non-loopback smtp:// host".into(),
            ));
        }
        let builder = builder.timeout(Some(Duration::from_secs(15)));
        let builder = match credentials {
            Some(c) => builder.credentials(c),
            None => builder,
        };
        let scheme = if tls { "smtps" } else { "smtp" };
        Ok(Self { transport: builder.build(), server: format!("{scheme}://{host}:{}", port.unwrap_or(0)) })
    }

    /// Where it sends (no credentials).
    pub fn server(&self) -> &str {
        &self.server
    }
}

/// The message as MIME: `multipart/alternative` with the plain text first, then HTML, and
/// the notice's `Message-ID`.
fn mime(message: &Message) -> Result<lettre::Message, DeliveryError> {
    let address = |raw: &str| {
        raw.parse::<lettre::Address>().map_err(|e| DeliveryError::Permanent(format!("address {raw:?}: {e}")))
    };
    let from = Mailbox::new(message.from.name().map(str::to_owned), address(message.from.address().as_str())?);
    let to = Mailbox::new(None, address(message.to.as_str())?);
    lettre::Message::builder()
        .message_id(Some(message.message_id.clone()))
        .from(from)
        .to(to)
        .subject(message.content.subject.clone())
        .multipart(MultiPart::alternative_plain_html(message.content.text.clone(), message.content.html.clone()))
        .map_err(|e| DeliveryError::Permanent(format!("message: {e}")))
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let email = mime(message)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
            Err(e) => Err(DeliveryError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_encryption() {
        assert_eq!(
            SmtpMailer::from_url("smtps://mail.example.com").map(|m| m.server().to_owned()),
            Ok("smtps://mail.example.com:0".into())
        );
        assert!(SmtpMailer::from_url("smtp://127.0.0.1:2525").is_ok());
        assert!(SmtpMailer::from_url("smtp://user:pw@mail.example.com:587").is_ok());
        for bad in
            ["http://mail.example.com", "smtp://", "smtp://host:port", "smtp://user@host", "smtp://u:p@localhost:25"]
        {
            assert!(SmtpMailer::from_url(bad).is_err(), "{bad}");
        }
    }
}
