//! `catalog-api`: see the crate documentation (`--help` lists every flag).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<catalog_api::Cli>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(cli.http.log_json, "catalog-api")?;
    commerce_process::config::warn_renamed(&old_names);
    match &cli.command {
        Some(catalog_api::Command::Migrate) => return cli.db.migrate().await,
        Some(catalog_api::Command::Seed { count, concurrency }) => {
            return catalog_api::seed(&cli, *count, *concurrency).await;
        }
        Some(catalog_api::Command::Import { dir }) => return catalog_api::import(&cli, dir).await.map(|_| ()),
        Some(catalog_api::Command::DeadLetters(command)) => return catalog_api::dead_letters(&cli, command).await,
        Some(catalog_api::Command::Serve) | None => {}
    }
    let listener =
        tokio::net::TcpListener::bind(cli.http.listen).await.with_context(|| format!("binding {}", cli.http.listen))?;
    catalog_api::run(cli, listener, commerce_process::shutdown_signal()).await
}
