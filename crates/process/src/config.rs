//! Configuration names, one scheme for every binary (`docs/operations.md`, Configuration):
//!
//! - a setting of a system we connect to keeps that system's usual name (`DATABASE_URL`,
//!   `REDIS_URL`, `KAFKA_BROKERS`, `SMTP_URL`, `STRIPE_SECRET_KEY`, `OTEL_*`);
//! - every other setting is `<COMPONENT>_<SETTING>`: `COMMERCE_` for what every binary
//!   shares (`COMMERCE_LISTEN` is each binary's HTTP listener), the binary's own component
//!   otherwise (`INVENTORY_`, `PAYMENTS_`, `CATALOG_`, `RELAY_`, `PROJECTOR_`, `NOTIFICATIONS_`);
//! - a secret may come from a file: `<NAME>_FILE`.
//!
//! Names that did not follow it were renamed; the old ones stay accepted for a release
//! (a warning names the new one). clap reads one variable per flag, so [`parse`] turns an
//! old variable into its flag when the new one is unset.

use std::ffi::OsString;

use clap::ArgAction;

/// An old variable name and the name that replaced it.
pub type Renamed = (&'static str, &'static str);

/// The renamed settings every binary accepts under their old names (until the next
/// release): each applies only where a binary has the setting.
pub const RENAMED: &[Renamed] = &[
    ("OUTBOX_RETAIN_HOURS", "COMMERCE_OUTBOX_RETAIN_HOURS"),
    ("IDEMPOTENCY_RETAIN_HOURS", "COMMERCE_IDEMPOTENCY_RETAIN_HOURS"),
    ("READ_STATEMENT_TIMEOUT_MS", "READ_DATABASE_STATEMENT_TIMEOUT_MS"),
    ("RESTOCK_VIA_EVENTS", "CATALOG_RESTOCK_VIA_EVENTS"),
];

/// `inventory-service`'s renamed listeners (its HTTP listener is `COMMERCE_LISTEN` like
/// every binary's).
pub const RENAMED_INVENTORY: &[Renamed] =
    &[("INVENTORY_LISTEN", "INVENTORY_GRPC_LISTEN"), ("INVENTORY_HTTP_LISTEN", "COMMERCE_LISTEN")];

/// `payments-simulator`'s renamed listener.
pub const RENAMED_PAYMENTS: &[Renamed] = &[("PAYMENTS_LISTEN", "COMMERCE_LISTEN")];

/// What [`parse`] read through an old name; log it with [`warn_renamed`] once logging runs.
#[derive(Debug, Default)]
#[must_use = "warn about the old names once logging runs"]
pub struct OldNames(Vec<Renamed>);

/// Parses the command line and environment into `T`, accepting each old name of
/// `renamed` when its new name is unset. Exits with clap's message on bad input, like
/// `T::parse()`.
pub fn parse<T: clap::Parser>(renamed: &[Renamed]) -> (T, OldNames) {
    let args: Vec<OsString> = std::env::args_os().collect();
    let (args, used) = with_old_names::<T>(args, renamed, |name| std::env::var(name).ok());
    let matches = T::command().get_matches_from(args);
    let cli = T::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    (cli, OldNames(used))
}

/// `args` with a flag added (after the program's name, before any subcommand) for each
/// old name `env` has a value for, when the new name has none and the flag is not given.
fn with_old_names<T: clap::Parser>(
    mut args: Vec<OsString>,
    renamed: &[Renamed],
    env: impl Fn(&str) -> Option<String>,
) -> (Vec<OsString>, Vec<Renamed>) {
    let command = T::command();
    let mut extra = vec![];
    let mut used = vec![];
    for &(old, new) in renamed {
        let (Some(value), None) = (env(old), env(new)) else { continue };
        let Some(arg) = command.get_arguments().find(|a| a.get_env().is_some_and(|e| e == new)) else { continue };
        let Some(long) = arg.get_long() else { continue };
        let flag = format!("--{long}");
        if args.iter().any(|a| a.to_str().is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))) {
            continue;
        }
        match arg.get_action() {
            ArgAction::SetTrue => {
                if matches!(value.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on") {
                    extra.push(OsString::from(flag));
                }
            }
            _ => extra.push(OsString::from(format!("{flag}={value}"))),
        }
        used.push((old, new));
    }
    let at = args.len().min(1);
    args.splice(at..at, extra);
    (args, used)
}

/// Logs a warning for each old name read.
pub fn warn_renamed(old: &OldNames) {
    for (old, new) in &old.0 {
        tracing::warn!(old, new, "{old} is an old name: set {new} instead (the old name goes in the next release)");
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:1")]
        listen: String,
        #[arg(long, env = "CATALOG_RESTOCK_VIA_EVENTS")]
        restock_via_events: bool,
        #[command(subcommand)]
        command: Option<Command>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Command {
        Migrate,
    }

    const RENAMED: &[Renamed] =
        &[("PAYMENTS_LISTEN", "COMMERCE_LISTEN"), ("RESTOCK_VIA_EVENTS", "CATALOG_RESTOCK_VIA_EVENTS")];

    fn parse_with(args: &[&str], env: &[(&str, &str)]) -> (Cli, Vec<Renamed>) {
        let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        let args = args.iter().map(OsString::from).collect();
        let (args, used) = with_old_names::<Cli>(args, RENAMED, lookup);
        (Cli::try_parse_from(args).unwrap(), used)
    }

    #[test]
    fn an_old_name_is_read_when_the_new_one_is_unset() {
        let (cli, used) =
            parse_with(&["bin", "migrate"], &[("PAYMENTS_LISTEN", "0.0.0.0:8090"), ("RESTOCK_VIA_EVENTS", "true")]);
        assert_eq!(cli.listen, "0.0.0.0:8090");
        assert!(cli.restock_via_events);
        assert!(matches!(cli.command, Some(Command::Migrate)), "the subcommand still parses");
        assert_eq!(used, RENAMED);
    }

    #[test]
    fn the_new_name_and_the_flag_win_over_an_old_name() {
        let (cli, used) = parse_with(&["bin"], &[("PAYMENTS_LISTEN", "0.0.0.0:1"), ("COMMERCE_LISTEN", "0.0.0.0:2")]);
        assert_eq!(used, []);
        // The new variable itself is clap's to read; here only the old one was ignored.
        assert_eq!(cli.listen, "127.0.0.1:1");
        let (cli, used) = parse_with(&["bin", "--listen", "0.0.0.0:3"], &[("PAYMENTS_LISTEN", "0.0.0.0:1")]);
        assert_eq!((cli.listen.as_str(), used), ("0.0.0.0:3", vec![]));
    }

    #[test]
    fn a_false_old_flag_sets_nothing() {
        let (cli, _) = parse_with(&["bin"], &[("RESTOCK_VIA_EVENTS", "false")]);
        assert!(!cli.restock_via_events);
    }
}
