//! [`SmtpMailer`]: messages over SMTP (lettre, rustls), with TLS from the first byte
//! (`smtps://`) or upgraded by STARTTLS (`smtp://`: required, except to a loopback server
//! not asked for `?tls=required`). Certificates are always verified, against the web PKI's
//! roots and any CA the operator adds (`SMTP_CA_FILE`).

use std::time::Duration;

use async_trait::async_trait;
use commerce_core::{
    notify::{DeliveryError, Message},
    ports::Mailer,
};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};

/// Why the SMTP settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpConfigError {
    /// `SMTP_URL` is malformed or asks for something unsafe.
    #[error("SMTP_URL: {0}")]
    Url(String),
    /// The extra certificate authority (`SMTP_CA_FILE`) cannot be read or is not PEM.
    #[error("SMTP_CA_FILE: {0}")]
    Certificate(String),
}

fn url_error(reason: impl Into<String>) -> SmtpConfigError {
    SmtpConfigError::Url(reason.into())
}

/// Sends messages through one SMTP server (a relay: the shop's mail provider).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Where and how it sends, for logs (no credentials).
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.server).finish_non_exhaustive()
    }
}

/// How the connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encryption {
    /// TLS from the first byte (`smtps://`).
    Wrapper,
    /// Plain, upgraded by STARTTLS; the server must offer it.
    StartTls,
    /// Plain: only to a loopback host that was not asked for `?tls=required`.
    None,
}

impl SmtpMailer {
    /// A mailer for `url`, trusting the public web PKI's roots:
    ///
    /// - `smtps://host[:465]`: TLS from the first byte;
    /// - `smtp://host[:587]`: STARTTLS required, except to a loopback host (a local relay
    ///   or test server), which stays unencrypted unless the URL ends in `?tls=required`;
    /// - `user:password@` before the host: SMTP AUTH, only over an encrypted connection.
    ///
    /// The server's certificate must name `host`.
    pub fn from_url(url: &str) -> Result<Self, SmtpConfigError> {
        Self::build(url, None)
    }

    /// As [`from_url`](Self::from_url), also trusting the certificate authorities in
    /// `ca_pem` (PEM): a company's own CA, or a test server's.
    pub fn with_root_certificate(url: &str, ca_pem: &[u8]) -> Result<Self, SmtpConfigError> {
        Self::build(url, Some(ca_pem))
    }

    /// `SMTP_URL` and, when set, `SMTP_CA_FILE` (read here) as a binary gets them.
    pub fn configured(url: &str, ca_file: Option<&std::path::Path>) -> Result<Self, SmtpConfigError> {
        let Some(path) = ca_file else { return Self::from_url(url) };
        let in_file = |reason: String| SmtpConfigError::Certificate(format!("{}: {reason}", path.display()));
        let pem = std::fs::read(path).map_err(|e| in_file(e.to_string()))?;
        Self::with_root_certificate(url, &pem).map_err(|e| match e {
            SmtpConfigError::Certificate(reason) => in_file(reason),
            other @ SmtpConfigError::Url(_) => other,
        })
    }

    fn build(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, SmtpConfigError> {
        let (wrapper, rest) = match url.split_once("://") {
            Some(("smtps", rest)) => (true, rest),
            Some(("smtp", rest)) => (false, rest),
            _ => return Err(url_error("must start with smtp:// or smtps://")),
        };
        let (rest, tls_required) = match rest.split_once('?') {
            Some((rest, "tls=required")) => (rest, true),
            Some((_, query)) => return Err(url_error(format!("unknown option {query:?} (known: tls=required)"))),
            None => (rest, false),
        };
        let rest = rest.trim_end_matches('/');
        let (credentials, authority) = match rest.rsplit_once('@') {
            Some((user_info, authority)) => {
                let (user, password) =
                    user_info.split_once(':').ok_or_else(|| url_error("credentials must be user:password@"))?;
                (Some(Credentials::new(user.to_owned(), password.to_owned())), authority)
            }
            None => (None, rest),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                (host, Some(port.parse::<u16>().map_err(|_| url_error(format!("port {port:?} is not a number")))?))
            }
            None => (authority, None),
        };
        if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
            return Err(url_error("must name a host: smtp://host:port"));
        }
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let encryption = match (wrapper, loopback && !tls_required) {
            (true, _) => Encryption::Wrapper,
            (false, false) => Encryption::StartTls,
            (false, true) => Encryption::None,
        };
        if credentials.is_some() && encryption == Encryption::None {
            return Err(url_error(
                "credentials are only sent encrypted: use smtps://, or smtp://...?tls=required on a loopback host",
            ));
        }
        let port = port.unwrap_or(match encryption {
            Encryption::Wrapper => 465,
            Encryption::StartTls => 587,
            Encryption::None => 25,
        });
        let tls = if encryption == Encryption::None {
            Tls::None
        } else {
            let mut parameters = TlsParameters::builder(host.to_owned());
            if let Some(pem) = ca_pem {
                let not_pem = || SmtpConfigError::Certificate("holds no PEM certificate".into());
                if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                    return Err(not_pem());
                }
                parameters = parameters.add_root_certificate(Certificate::from_pem(pem).map_err(|_| not_pem())?);
            }
            let parameters = parameters.build_rustls().map_err(|e| url_error(format!("TLS: {e}")))?;
            if encryption == Encryption::Wrapper { Tls::Wrapper(parameters) } else { Tls::Required(parameters) }
        };
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(15)));
        let builder = match credentials {
            Some(c) => builder.credentials(c),
            None => builder,
        };
        let how = match encryption {
            Encryption::Wrapper => "smtps",
            Encryption::StartTls => "smtp+starttls",
            Encryption::None => "smtp",
        };
        Ok(Self { transport: builder.build(), server: format!("{how}://{host}:{port}") })
    }

    /// Where and how it sends (`smtps://`, `smtp+starttls://` or `smtp://`; no credentials).
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
        let server = |url: &str| SmtpMailer::from_url(url).map(|m| m.server().to_owned());
        assert_eq!(server("smtps://mail.example.com"), Ok("smtps://mail.example.com:465".into()));
        assert_eq!(server("smtp://mail.example.com"), Ok("smtp+starttls://mail.example.com:587".into()));
        assert_eq!(server("smtp://127.0.0.1:2525"), Ok("smtp://127.0.0.1:2525".into()));
        assert_eq!(server("smtp://localhost:2525?tls=required"), Ok("smtp+starttls://localhost:2525".into()));
        assert_eq!(server("smtp://u:p@localhost:2525?tls=required"), Ok("smtp+starttls://localhost:2525".into()));
        assert!(SmtpMailer::from_url("smtp://user:pw@mail.example.com:587").is_ok());
        for bad in [
            "http://mail.example.com",
            "smtp://",
            "smtp://host:port",
            "smtp://user@host",
            "smtp://u:p@localhost:25",
            "smtp://mail.example.com?tls=opportunistic",
        ] {
            assert!(SmtpMailer::from_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_certificate_authority_must_be_pem() {
        let refused = SmtpMailer::with_root_certificate("smtps://mail.example.com", b"not a certificate");
        assert_eq!(refused.err(), Some(SmtpConfigError::Certificate("holds no PEM certificate".into())));
        let missing =
            SmtpMailer::configured("smtps://mail.example.com", Some(std::path::Path::new("/nonexistent.pem")));
        assert!(matches!(missing, Err(SmtpConfigError::Certificate(m)) if m.starts_with("/nonexistent.pem: ")));
    }
}
