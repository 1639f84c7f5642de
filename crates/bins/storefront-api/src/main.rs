//! `storefront-api`: see the crate documentation (`--help` lists every flag).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<storefront_api::Cli>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(cli.http.log_json, "storefront-api")?;
    commerce_process::config::warn_renamed(&old_names);
    if let Some(storefront_api::Command::Migrate) = cli.command {
        return cli.db.migrate().await;
    }
    let listener =
        tokio::net::TcpListener::bind(cli.http.listen).await.with_context(|| format!("binding {}", cli.http.listen))?;
    storefront_api::run(cli, listener, commerce_process::shutdown_signal()).await
}
