//! Encrypted SMTP (issue 15): `SmtpMailer` against a real SMTP server (Python's `aiosmtpd`)
//! that presents a certificate made now (rcgen), signed by a test authority the mailer is
//! told to trust (`SMTP_CA_FILE`).
//!
//! A message goes through over STARTTLS and over SMTPS; a mailer that does not trust the
//! authority, or that requires STARTTLS from a server that does not offer it, delivers
//! nothing, so a message never falls back to an unverified or plain connection.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use commerce_core::{
    notify::{DeliveryError, Message, NoticeKind, Rendered, Sender},
    order::Email,
    ports::Mailer as _,
};
use commerce_mail::SmtpMailer;
use commerce_system_tests::smtp::{Smtp, TestCertificates, mails};

fn message(subject: &str) -> Message {
    let from = Sender::parse("Mug Shop <orders@shop.example>").unwrap();
    Message {
        message_id: format!("<{subject}@shop.example>"),
        from,
        to: Email::parse("ada@example.com").unwrap(),
        kind: NoticeKind::OrderConfirmed,
        content: Rendered {
            subject: subject.to_owned(),
            text: "Thank you for your order.".into(),
            html: "<p>Thank you for your order.</p>".into(),
        },
    }
}

/// The subjects the server stored.
fn subjects(smtp: &Smtp) -> Vec<String> {
    let mut subjects: Vec<_> = mails(&smtp.maildir).into_iter().map(|m| m.subject).collect();
    subjects.sort();
    subjects
}

#[tokio::test]
async fn starttls_to_a_server_whose_authority_is_trusted() {
    let certs = TestCertificates::new("starttls");
    let smtp = Smtp::start_with(&certs.starttls());
    // A loopback host would stay plain: `?tls=required` insists on STARTTLS.
    let url = format!("smtp://localhost:{}?tls=required", smtp.port);
    let mailer = SmtpMailer::configured(&url, Some(&certs.ca)).unwrap();
    assert_eq!(mailer.server(), format!("smtp+starttls://localhost:{}", smtp.port));
    mailer.send(&message("over STARTTLS")).await.unwrap();
    assert_eq!(subjects(&smtp), ["over STARTTLS"]);

    // Without the authority the certificate is not trusted: nothing is sent, and the
    // failure is one to retry (the operator may fix the trust), not a dead letter.
    let untrusting = SmtpMailer::from_url(&url).unwrap();
    let refused = untrusting.send(&message("unverified")).await;
    assert!(matches!(refused, Err(DeliveryError::Transient(_))), "{refused:?}");
    // Trusting another authority is no better.
    let other = TestCertificates::new("starttls-other");
    let misplaced = SmtpMailer::configured(&url, Some(&other.ca)).unwrap();
    assert!(misplaced.send(&message("wrong authority")).await.is_err());
    assert_eq!(subjects(&smtp), ["over STARTTLS"]);
}

#[tokio::test]
async fn smtps_to_a_server_whose_authority_is_trusted() {
    let certs = TestCertificates::new("smtps");
    let smtp = Smtp::start_with(&certs.smtps());
    let url = format!("smtps://127.0.0.1:{}", smtp.port);
    let mailer = SmtpMailer::configured(&url, Some(&certs.ca)).unwrap();
    mailer.send(&message("over SMTPS")).await.unwrap();
    assert_eq!(subjects(&smtp), ["over SMTPS"]);

    let untrusting = SmtpMailer::from_url(&url).unwrap();
    assert!(untrusting.send(&message("unverified")).await.is_err());
    assert_eq!(subjects(&smtp), ["over SMTPS"]);
}

#[tokio::test]
async fn required_starttls_never_falls_back_to_plain() {
    let certs = TestCertificates::new("plain");
    let smtp = Smtp::start();
    let url = format!("smtp://127.0.0.1:{}?tls=required", smtp.port);
    let mailer = SmtpMailer::configured(&url, Some(&certs.ca)).unwrap();
    let refused = mailer.send(&message("in clear")).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(subjects(&smtp), Vec::<String>::new());

    // The same server without `?tls=required` is a local relay, plain on purpose.
    let plain = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
    plain.send(&message("local relay")).await.unwrap();
    assert_eq!(subjects(&smtp), ["local relay"]);
}
