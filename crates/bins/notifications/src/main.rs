//! `notifications`: see the crate documentation (`--help` lists every flag).

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = notifications::Cli::parse();
    let _telemetry = commerce_process::init_tracing(cli.log_json, "notifications")?;
    if let Some(notifications::Command::Migrate) = cli.command {
        return cli.db.migrate().await;
    }
    notifications::run(cli, commerce_process::shutdown_signal()).await
}
