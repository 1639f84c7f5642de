//! A real SMTP server for tests: Python's `aiosmtpd` (`pip install aiosmtpd`), storing every
//! message it receives in a Maildir the test reads back.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// One message as the SMTP server stored it.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `Message-ID`.
    pub message_id: String,
    /// `To`.
    pub to: String,
    /// `Subject`.
    pub subject: String,
    /// The body, quoted-printable soft line breaks undone.
    pub body: String,
}

/// Reads the messages of a Maildir (`new/`), undoing quoted-printable soft line breaks.
pub fn mails(maildir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return vec![] };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .map(|raw| {
            let raw = raw.replace("\r\n", "\n");
            let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
            let header = |name: &str| {
                head.lines()
                    .find(|l| l.to_ascii_lowercase().starts_with(&format!("{}:", name.to_ascii_lowercase())))
                    .map(|l| l[name.len() + 1..].trim().to_owned())
                    .unwrap_or_default()
            };
            Mail {
                message_id: header("Message-ID"),
                to: header("To"),
                subject: header("Subject"),
                body: body.replace("=\n", "").replace("=3D", "="),
            }
        })
        .collect()
}

/// How the test server encrypts, with the certificate and key files (PEM) it presents.
#[derive(Debug, Clone)]
pub enum SmtpTls {
    /// Plain SMTP.
    None,
    /// STARTTLS offered and required before any mail is taken.
    StartTls {
        /// The certificate chain.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
    },
    /// TLS from the first byte (SMTPS).
    Wrapper {
        /// The certificate chain.
        cert: PathBuf,
        /// Its key.
        key: PathBuf,
    },
}

/// Certificates made now (rcgen) for a TLS test server on 127.0.0.1: a certificate
/// authority and a leaf it signed for `localhost` and `127.0.0.1`, as PEM files in a
/// folder of their own (removed when dropped).
pub struct TestCertificates {
    dir: PathBuf,
    /// The authority a client must trust.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's key.
    pub key: PathBuf,
}

impl TestCertificates {
    /// Makes and writes them; `name` keeps folders of one test process apart.
    ///
    /// # Panics
    /// When the folder cannot be written.
    pub fn new(name: &str) -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let dir = std::env::temp_dir().join(format!("commerce-certs-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let made = || -> Result<(String, String, String), rcgen::Error> {
            let ca_key = KeyPair::generate()?;
            let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
            ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca = ca_params.self_signed(&ca_key)?;
            let key = KeyPair::generate()?;
            let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?
                .signed_by(&key, &ca, &ca_key)?;
            Ok((ca.pem(), leaf.pem(), key.serialize_pem()))
        };
        let (ca_pem, cert_pem, key_pem) = made().unwrap_or_else(|e| panic!("rcgen: {e}"));
        let write = |file: &str, pem: &str| {
            let path = dir.join(file);
            std::fs::write(&path, pem).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            path
        };
        let (ca, cert, key) = (write("ca.pem", &ca_pem), write("cert.pem", &cert_pem), write("key.pem", &key_pem));
        Self { dir, ca, cert, key }
    }

    /// STARTTLS with this certificate.
    pub fn starttls(&self) -> SmtpTls {
        SmtpTls::StartTls { cert: self.cert.clone(), key: self.key.clone() }
    }

    /// SMTPS with this certificate.
    pub fn smtps(&self) -> SmtpTls {
        SmtpTls::Wrapper { cert: self.cert.clone(), key: self.key.clone() }
    }
}

impl Drop for TestCertificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running `aiosmtpd`, stopped (and its Maildir removed) when dropped.
pub struct Smtp {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where it stores messages.
    pub maildir: PathBuf,
}

impl Smtp {
    /// Starts a plain server on a free port; fails loudly when `aiosmtpd` is missing.
    pub fn start() -> Self {
        Self::start_with(&SmtpTls::None)
    }

    /// Starts a server encrypting as `tls` says, on a free port of 127.0.0.1.
    pub fn start_with(tls: &SmtpTls) -> Self {
        let port = crate::process::free_port();
        let maildir = std::env::temp_dir().join(format!("commerce-mail-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        let mut command = Command::new("python3");
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        match tls {
            SmtpTls::None => {}
            SmtpTls::StartTls { cert, key } => {
                command.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
            }
            SmtpTls::Wrapper { cert, key } => {
                command.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
            }
        }
        let child = command
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 -m aiosmtpd (pip install aiosmtpd): {e}"));
        // Listening once a TCP connection is accepted.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port, maildir };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}: is it installed (pip install aiosmtpd)?");
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.maildir);
    }
}
