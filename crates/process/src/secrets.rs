//! Secrets: tokens, the idempotency secret and credentials-bearing URLs, given as a flag,
//! an environment variable, or a file named by `<NAME>_FILE` (the container convention:
//! a mounted secret never appears in `ps`, `/proc/<pid>/environ` or a manifest).
//!
//! No secret is ever written to the log stream: errors name the variable, never the
//! value, and a development token the embedded binary generates is shown once on the
//! terminal ([`AdminTokenArgs::or_generated`]).

use std::{
    io::{IsTerminal as _, Write as _},
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use commerce_core::{credential::BearerToken, ports::IdGenerator as _};
use commerce_runtime::RandomIds;

/// A secret from the command line or the environment: its `Debug` never shows it, so a
/// logged configuration (`?cli`) leaks nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The secret given inline or in a file (its contents, without the trailing newline);
/// `None` when neither is set. `name` is the variable, for error messages.
pub fn resolve(name: &str, inline: Option<&Secret>, file: Option<&Path>) -> anyhow::Result<Option<String>> {
    match (inline.map(Secret::expose).filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => anyhow::bail!("set {name} or {name}_FILE, not both"),
        (Some(value), None) => Ok(Some(value.to_owned())),
        (None, Some(path)) => {
            let contents =
                std::fs::read_to_string(path).with_context(|| format!("reading {name}_FILE ({})", path.display()))?;
            let value = contents.trim_end_matches(['\n', '\r']);
            anyhow::ensure!(!value.is_empty(), "{name}_FILE ({}) is empty", path.display());
            Ok(Some(value.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// [`resolve`] for a secret the process cannot run without: the error reads
/// "`{name}` (or `{name}_FILE`) is required`{why}`".
pub fn require(name: &str, inline: Option<&Secret>, file: Option<&Path>, why: &str) -> anyhow::Result<String> {
    resolve(name, inline, file)?.ok_or_else(|| anyhow::anyhow!("{name} (or {name}_FILE) is required{why}"))
}

/// A bearer token, validated; the message names the variable, never the value.
pub fn bearer(name: &str, raw: &str) -> anyhow::Result<BearerToken> {
    BearerToken::parse(raw).map_err(|e| anyhow::anyhow!("{name} {e}"))
}

/// The operators' token of the `/admin` routes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AdminTokenArgs {
    /// Bearer token of the `/admin` routes (at least 16 characters).
    #[arg(long, env = "COMMERCE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// A file holding the admin token.
    #[arg(long, env = "COMMERCE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
}

impl AdminTokenArgs {
    const NAME: &str = "COMMERCE_ADMIN_TOKEN";

    fn configured(&self) -> anyhow::Result<Option<String>> {
        resolve(Self::NAME, self.admin_token.as_ref(), self.admin_token_file.as_deref())
    }

    /// The configured token, if any: for a service whose admin routes are an option.
    pub fn optional(&self) -> anyhow::Result<Option<BearerToken>> {
        self.configured()?.map(|raw| bearer(Self::NAME, &raw)).transpose()
    }

    /// The configured token; a production service refuses to start without one.
    pub fn required(&self) -> anyhow::Result<BearerToken> {
        let why = ": the operators' bearer token, e.g. `openssl rand -hex 32`";
        let raw = require(Self::NAME, self.admin_token.as_ref(), self.admin_token_file.as_deref(), why)?;
        bearer(Self::NAME, &raw)
    }

    /// The configured token, or (development only) a new one, shown once on the
    /// terminal: written to stderr when that is a terminal, otherwise to a file readable
    /// only by this user, whose path is logged. Never written to the log stream.
    pub fn or_generated(&self) -> anyhow::Result<BearerToken> {
        if let Some(raw) = self.configured()? {
            return bearer(Self::NAME, &raw);
        }
        let raw = RandomIds.new_secret();
        show_generated_token(&raw)?;
        bearer(Self::NAME, &raw)
    }
}

fn show_generated_token(token: &str) -> anyhow::Result<()> {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        // Straight to the terminal, around the log subscriber.
        writeln!(stderr, "\n  COMMERCE_ADMIN_TOKEN is not set; the admin token of this run is:\n\n    {token}\n")?;
        tracing::warn!(
            "COMMERCE_ADMIN_TOKEN is not set; generated an admin token for this run (shown on the terminal)"
        );
        return Ok(());
    }
    let path = std::env::temp_dir().join(format!("commerce-admin-token-{}", std::process::id()));
    write_private(&path, token)?;
    tracing::warn!(
        path = %path.display(),
        "COMMERCE_ADMIN_TOKEN is not set; generated an admin token for this run and wrote it to this file (owner-only)"
    );
    Ok(())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_inline_or_from_a_file_never_both() {
        let dir = std::env::temp_dir().join(format!("commerce-secrets-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "from-a-mounted-secret-file\n").unwrap();
        assert_eq!(resolve("T", None, Some(&file)).unwrap().as_deref(), Some("from-a-mounted-secret-file"));
        let inline = Secret("inline".into());
        assert_eq!(resolve("T", Some(&inline), None).unwrap().as_deref(), Some("inline"));
        assert_eq!(resolve("T", Some(&Secret(String::new())), None).unwrap(), None);
        assert!(resolve("T", Some(&inline), Some(&file)).is_err());
        assert_eq!(format!("{inline:?}"), "Secret(***)");
        let missing = resolve("T", None, Some(&dir.join("missing"))).unwrap_err().to_string();
        assert!(missing.contains("T_FILE"), "{missing}");
        std::fs::write(&file, "\n").unwrap();
        assert!(resolve("T", None, Some(&file)).is_err(), "an empty file is a mistake");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_production_service_needs_a_strong_token() {
        let none = AdminTokenArgs::default();
        assert!(none.required().unwrap_err().to_string().contains("COMMERCE_ADMIN_TOKEN"));
        let weak = AdminTokenArgs { admin_token: Some(Secret("s3cret".into())), admin_token_file: None };
        let message = weak.required().unwrap_err().to_string();
        assert!(message.contains("COMMERCE_ADMIN_TOKEN") && !message.contains("s3cret"), "{message}");
        let strong =
            AdminTokenArgs { admin_token: Some(Secret("0123456789abcdef0123".into())), admin_token_file: None };
        assert!(strong.required().unwrap().accepts("0123456789abcdef0123"));
    }
}
