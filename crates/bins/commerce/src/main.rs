//! `commerce`: the whole shop in one process on embedded defaults.
//!
//! ```text
//! cargo run --release -p commerce            # 127.0.0.1:8080, 1,000 demo products
//! commerce --listen 0.0.0.0:8080 --seed none # empty shop
//! ```

use anyhow::Context as _;
use clap::Parser as _;
use commerce::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    commerce_process::init_tracing(config.log_json);
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
    commerce::run(config, listener, commerce_process::shutdown_signal()).await
}
