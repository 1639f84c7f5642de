//! `inventory-service`: see the library for what it does and its settings.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use inventory_service::{Cli, Listeners};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<Cli>(
        &[commerce_process::config::RENAMED, commerce_process::config::RENAMED_INVENTORY].concat(),
    );
    let _telemetry = commerce_process::init_tracing(cli.log_json, "inventory-service")?;
    commerce_process::config::warn_renamed(&old_names);
    let listeners = Listeners::bind(&cli).await?;
    inventory_service::run(cli, listeners, commerce_process::shutdown_signal()).await
}
