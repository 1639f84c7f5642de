//! `payments-simulator`: serves the simulated card processor (Stripe-style test
//! cards) over HTTP; see `commerce_payment_simulator::remote` for the API. Point
//! `orders-service --payments-url` at it.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use clap::Parser;
use commerce_payment_simulator::{ProcessorConfig, SimulatedCardProcessor};

/// The simulated card processor as a service.
#[derive(Debug, Parser)]
#[command(name = "payments-simulator", version, about)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "COMMERCE_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// Added to every call, in milliseconds.
    #[arg(long, env = "PAYMENTS_LATENCY_MS", default_value = "0")]
    latency_ms: u64,
    /// Origins (`https://shop.example`) whose pages may tokenise cards here directly
    /// (CORS), so card numbers never pass through the shop's servers. Comma-separated.
    #[arg(long = "cors-origin", env = "PAYMENTS_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// Log as JSON lines.
    #[arg(long, env = "COMMERCE_LOG_JSON")]
    log_json: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (cli, old_names) = commerce_process::config::parse::<Cli>(
        &[commerce_process::config::RENAMED, commerce_process::config::RENAMED_PAYMENTS].concat(),
    );
    let _telemetry = commerce_process::init_tracing(cli.log_json, "payments-simulator")?;
    commerce_process::config::warn_renamed(&old_names);
    let processor = Arc::new(SimulatedCardProcessor::new(ProcessorConfig {
        latency: Duration::from_millis(cli.latency_ms),
        ..ProcessorConfig::default()
    }));
    let listener =
        tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("binding {}", cli.listen))?;
    let stop = tokio_util::sync::CancellationToken::new();
    let retention = {
        let processor = processor.clone();
        tokio::spawn(commerce_runtime::jobs::run(
            "payments-retention",
            commerce_runtime::Pace::every(Duration::from_secs(60)),
            stop.clone(),
            move || {
                let pruned = processor.prune(SimulatedCardProcessor::RETENTION);
                async move { Ok::<_, std::convert::Infallible>(pruned) }
            },
        ))
    };
    tracing::info!(addr = %listener.local_addr()?, "payments-simulator listening");
    let router = commerce_payment_simulator::remote::allow_browsers(
        commerce_http::traced(commerce_payment_simulator::remote::router(processor)),
        &cli.cors_origins,
    )
    .context("PAYMENTS_CORS_ORIGINS holds an origin that is not a header value")?;
    commerce_http::serve(listener, router, commerce_process::shutdown_signal()).await?;
    stop.cancel();
    retention.await?;
    Ok(())
}
