//! `orders-service`: see the crate documentation (`--help` lists every flag).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<orders_service::Cli>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(cli.http.log_json, "orders-service")?;
    commerce_process::config::warn_renamed(&old_names);
    if let Some(orders_service::Command::Migrate) = cli.command {
        return cli.db.migrate().await;
    }
    let listener =
        tokio::net::TcpListener::bind(cli.http.listen).await.with_context(|| format!("binding {}", cli.http.listen))?;
    orders_service::run(cli, listener, commerce_process::shutdown_signal()).await
}
