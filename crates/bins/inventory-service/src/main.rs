//! `inventory-service`: see the library for what it does and its settings.

use clap::Parser as _;
use inventory_service::{Cli, Listeners};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = commerce_process::init_tracing(cli.log_json, "inventory-service")?;
    let listeners = Listeners::bind(&cli).await?;
    inventory_service::run(cli, listeners, commerce_process::shutdown_signal()).await
}
