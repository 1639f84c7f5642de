//! `notifications`: see the crate documentation (`--help` lists every flag).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<notifications::Cli>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(cli.log_json, "notifications")?;
    commerce_process::config::warn_renamed(&old_names);
    if let Some(notifications::Command::Migrate) = cli.command {
        return cli.db.migrate().await;
    }
    notifications::run(cli, commerce_process::shutdown_signal()).await
}
