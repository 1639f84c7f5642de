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

/// A running `aiosmtpd`, stopped (and its Maildir removed) when dropped.
pub struct Smtp {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Where it stores messages.
    pub maildir: PathBuf,
}

impl Smtp {
    /// Starts it on a free port; fails loudly when `aiosmtpd` is missing.
    pub fn start() -> Self {
        let port = crate::process::free_port();
        let maildir = std::env::temp_dir().join(format!("commerce-mail-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&maildir);
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
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
