//! `commerce`: the whole shop in one process on embedded defaults, its data in
//! `./commerce-data/commerce.sqlite3`.
//!
//! ```text
//! cargo run --release -p commerce            # 127.0.0.1:8080, 1,000 demo products on first start
//! commerce --listen 0.0.0.0:8080 --seed none # empty shop
//! commerce --memory                          # nothing kept after a stop
//! commerce backup ./backup.sqlite3           # a consistent copy while the shop runs
//! ```

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context as _;
use commerce::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (config, old_names) = commerce_process::config::parse::<Config>(commerce_process::config::RENAMED);
    let _telemetry = commerce_process::init_tracing(config.log_json, "commerce")?;
    commerce_process::config::warn_renamed(&old_names);
    if let Some(command) = &config.command {
        return commerce::run_command(command, &config.data_dir).await;
    }
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    commerce::run(config, listener, commerce_process::shutdown_signal()).await
}
