//! Flags of the processes that run checkouts (`commerce`, `orders-service`): the card
//! processor and the order-recovery job.

use std::{sync::Arc, time::Duration};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};

/// When the order-recovery job resumes and abandons stalled orders.
#[derive(Debug, Clone, clap::Args)]
pub struct RecoveryArgs {
    /// Orders unchanged this long are resumed by the recovery job.
    #[arg(long, env = "COMMERCE_RECOVERY_RESUME_AFTER_SECS", default_value = "30")]
    pub resume_after_secs: i64,
    /// Orders created this long ago and still unpaid are abandoned (their stock released).
    #[arg(long, env = "COMMERCE_RECOVERY_ABANDON_AFTER_SECS", default_value = "600")]
    pub abandon_after_secs: i64,
    /// Seconds between recovery passes.
    #[arg(long, env = "COMMERCE_RECOVERY_INTERVAL_SECS", default_value = "5")]
    pub recovery_interval_secs: u64,
}

/// What the recovery job reports on `/metrics`.
#[derive(Clone, Default)]
struct RecoveryMetrics {
    orders: Family<OutcomeLabel, Counter>,
    expired: Counter,
    failed_passes: Counter,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

impl RecoveryMetrics {
    fn registered(metrics: &commerce_http::metrics::Metrics) -> Self {
        let this = Self::default();
        metrics.register(
            "recovery_orders",
            "Stalled orders the recovery job handled, by outcome (completed, compensated, still_pending)",
            this.orders.clone(),
        );
        metrics.register(
            "reservations_expired",
            "Stock reservations expired by the recovery job",
            this.expired.clone(),
        );
        metrics.register(
            "recovery_failed_passes",
            "Recovery passes that failed (retried next interval)",
            this.failed_passes.clone(),
        );
        this
    }

    fn count(&self, report: &commerce_core::services::recovery::RecoveryReport) {
        for (outcome, n) in [
            ("completed", report.completed),
            ("compensated", report.compensated),
            ("still_pending", report.still_pending),
        ] {
            self.orders.get_or_create(&OutcomeLabel { outcome }).inc_by(u64::try_from(n).unwrap_or(0));
        }
        self.expired.inc_by(u64::try_from(report.expired_reservations).unwrap_or(0));
    }
}

impl RecoveryArgs {
    /// Runs `recovery` every interval until `stop`, logging passes that found work and
    /// counting what they did on `metrics`.
    pub fn spawn(
        &self,
        recovery: commerce_core::services::recovery::RecoveryService,
        metrics: &commerce_http::metrics::Metrics,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<u64> {
        let counters = RecoveryMetrics::registered(metrics);
        let policy = commerce_core::services::recovery::RecoveryPolicy {
            resume_after_secs: self.resume_after_secs,
            abandon_after_secs: self.abandon_after_secs,
            ..commerce_core::services::recovery::RecoveryPolicy::default()
        };
        tokio::spawn(commerce_runtime::jobs::run(
            "order-recovery",
            commerce_runtime::Pace::every(Duration::from_secs(self.recovery_interval_secs)),
            stop,
            move || {
                let (recovery, counters) = (recovery.clone(), counters.clone());
                async move {
                    let report = match recovery.run_once(policy).await {
                        Ok(report) => report,
                        Err(e) => {
                            counters.failed_passes.inc();
                            return Err(e);
                        }
                    };
                    counters.count(&report);
                    if report.examined > 0 || report.expired_reservations > 0 || report.expiry_error.is_some() {
                        tracing::info!(?report, "order recovery pass");
                    }
                    // One pass per interval: report no work so the loop waits.
                    Ok::<_, commerce_core::ports::StoreError>(0)
                }
            },
        ))
    }
}

/// The card processor: Stripe (when a secret key is set), a remote simulator
/// (`payments-simulator`, or any processor speaking its API) or, by default, a simulator
/// inside the process.
#[derive(Debug, Clone, clap::Args)]
pub struct PaymentsArgs {
    /// A remote card processor (`payments-simulator`); without it, an in-process simulator.
    /// `https://`, or `http://` to a loopback address only: card data never crosses a
    /// network in clear text.
    #[arg(long, env = "COMMERCE_PAYMENTS_URL")]
    pub payments_url: Option<String>,
    /// A PEM file of CA certificates to trust for the processor, besides the public roots.
    #[arg(long, env = "COMMERCE_PAYMENTS_CA_FILE")]
    pub payments_ca_file: Option<std::path::PathBuf>,
    /// In-process simulated card processor round trip, in milliseconds.
    #[arg(long, env = "COMMERCE_PAYMENT_LATENCY_MS", default_value = "0")]
    pub payment_latency_ms: u64,
    /// Stripe's secret key (`sk_...` or `rk_...`): payments go through Stripe, and
    /// checkouts must carry a `payment_method` token (card details are refused).
    #[arg(long, env = "STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<crate::secrets::Secret>,
    /// A file holding Stripe's secret key.
    #[arg(long, env = "STRIPE_SECRET_KEY_FILE")]
    pub stripe_secret_key_file: Option<std::path::PathBuf>,
    /// Where Stripe's API is (tests point it at a fake).
    #[arg(long, env = "STRIPE_API_BASE", default_value = commerce_stripe::STRIPE_API_BASE)]
    pub stripe_api_base: String,
    /// The signing secret (`whsec_...`) of the Stripe webhook endpoint pointing at this
    /// service: `POST /webhooks/stripe` is served when it is set.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<crate::secrets::Secret>,
    /// A file holding the webhook endpoint's signing secret.
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET_FILE")]
    pub stripe_webhook_secret_file: Option<std::path::PathBuf>,
    /// Stripe's publishable key (`pk_...`): the checkout page's script tokenises cards at
    /// Stripe with it. Without it, a shop on Stripe serves no checkout page (the API still
    /// takes `payment_method` tokens made elsewhere).
    #[arg(long, env = "STRIPE_PUBLISHABLE_KEY")]
    pub stripe_publishable_key: Option<String>,
    /// Where browsers reach the remote processor's tokenisation endpoint, when not at
    /// `--payments-url` (which the service uses, perhaps on an internal network).
    #[arg(long, env = "COMMERCE_PAYMENTS_PUBLIC_URL")]
    pub payments_public_url: Option<String>,
}

/// Where a checkout page's script sends the card for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserTokenizer {
    /// The in-process simulator: the binary serves its endpoint on its own origin.
    InProcess,
    /// A processor on its own origin: its endpoint and the publishable key sent along.
    Remote {
        /// `https://api.stripe.com/v1/payment_methods`, or a remote simulator's.
        url: String,
        /// Stripe's publishable key.
        key: Option<String>,
    },
    /// No page can take cards, and why (logged at start).
    Unavailable(&'static str),
}

/// The processor [`PaymentsArgs`] name: the gateway, and the in-process simulator when
/// that is the one (its owner prunes its records).
pub struct Payments {
    /// What the shop charges cards through.
    pub gateway: Arc<dyn commerce_core::ports::PaymentGateway>,
    /// The in-process simulator, if no remote processor is configured.
    pub simulator: Option<Arc<commerce_payment_simulator::SimulatedCardProcessor>>,
    /// Whether checkouts may carry card details: only with a simulated processor.
    pub card_data: commerce_core::services::checkout::CardData,
    /// Reads the processor's webhooks (Stripe with `STRIPE_WEBHOOK_SECRET`): the
    /// binary then serves `POST /webhooks/stripe`.
    pub notices: Option<Arc<dyn commerce_core::ports::PaymentNoticeDecoder>>,
    /// Where the checkout page tokenises cards.
    pub browser_tokenizer: BrowserTokenizer,
}

impl PaymentsArgs {
    /// Connects the configured processor.
    pub fn connect(&self) -> anyhow::Result<Payments> {
        self.connect_with_challenge_page(None)
    }

    /// Connects the configured processor; an in-process simulator sends customers to
    /// `challenge_page` (followed by the authorisation id) for 3-D Secure, a page the
    /// caller serves (`commerce_payment_simulator::remote::browser_router`).
    pub fn connect_with_challenge_page(&self, challenge_page: Option<&str>) -> anyhow::Result<Payments> {
        use commerce_core::services::checkout::CardData;
        use commerce_payment_simulator::{ProcessorConfig, SimulatedCardProcessor, remote::HttpCardProcessor};
        let timeout = Duration::from_secs(10);
        let stripe_key = crate::secrets::resolve(
            "STRIPE_SECRET_KEY",
            self.stripe_secret_key.as_ref(),
            self.stripe_secret_key_file.as_deref(),
        )?;
        let webhook_secret = crate::secrets::resolve(
            "STRIPE_WEBHOOK_SECRET",
            self.stripe_webhook_secret.as_ref(),
            self.stripe_webhook_secret_file.as_deref(),
        )?;
        anyhow::ensure!(
            webhook_secret.is_none() || stripe_key.is_some(),
            "STRIPE_WEBHOOK_SECRET is set without STRIPE_SECRET_KEY: Stripe's webhooks need the Stripe gateway"
        );
        if let Some(key) = stripe_key {
            anyhow::ensure!(self.payments_url.is_none(), "set STRIPE_SECRET_KEY or COMMERCE_PAYMENTS_URL, not both");
            let key =
                commerce_stripe::StripeSecretKey::parse(&key).map_err(|e| anyhow::anyhow!("STRIPE_SECRET_KEY: {e}"))?;
            if !key.is_test_mode() {
                tracing::info!("payments go through Stripe in live mode");
            }
            let mut config = commerce_stripe::StripeConfig::new(key);
            config.api_base.clone_from(&self.stripe_api_base);
            let stripe = commerce_stripe::StripeGateway::new(config)?;
            let notices: Option<Arc<dyn commerce_core::ports::PaymentNoticeDecoder>> =
                if let Some(secret) = webhook_secret {
                    let secret = commerce_stripe::webhook::WebhookSecret::parse(&secret)
                        .map_err(|e| anyhow::anyhow!("STRIPE_WEBHOOK_SECRET: {e}"))?;
                    Some(Arc::new(commerce_stripe::webhook::WebhookVerifier::new(secret)))
                } else {
                    tracing::warn!(
                        "STRIPE_WEBHOOK_SECRET is not set: orders waiting for 3-D Secure complete only when the \
                         recovery job polls Stripe"
                    );
                    None
                };
            let browser_tokenizer = match &self.stripe_publishable_key {
                Some(key) if key.starts_with("pk_") => BrowserTokenizer::Remote {
                    url: format!("{}/v1/payment_methods", self.stripe_api_base.trim_end_matches('/')),
                    key: Some(key.clone()),
                },
                Some(_) => anyhow::bail!("STRIPE_PUBLISHABLE_KEY must start with pk_ (never the secret key)"),
                None => BrowserTokenizer::Unavailable("STRIPE_PUBLISHABLE_KEY is not set"),
            };
            return Ok(Payments {
                gateway: Arc::new(stripe),
                simulator: None,
                card_data: CardData::Refused,
                notices,
                browser_tokenizer,
            });
        }
        let Some(url) = &self.payments_url else {
            let mut simulator = SimulatedCardProcessor::new(ProcessorConfig {
                latency: Duration::from_millis(self.payment_latency_ms),
                ..ProcessorConfig::default()
            });
            if let Some(page) = challenge_page {
                simulator = simulator.with_challenge_url(page);
            }
            let simulator = Arc::new(simulator);
            return Ok(Payments {
                gateway: simulator.clone(),
                simulator: Some(simulator),
                card_data: CardData::Accepted,
                notices: None,
                browser_tokenizer: BrowserTokenizer::InProcess,
            });
        };
        let remote = match &self.payments_ca_file {
            Some(path) => {
                let ca = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("reading COMMERCE_PAYMENTS_CA_FILE {}: {e}", path.display()))?;
                HttpCardProcessor::with_root_certificate(url.clone(), timeout, &ca)?
            }
            None => HttpCardProcessor::new(url.clone(), timeout)?,
        };
        // The remote simulator is a simulator too: test mode, card details accepted. Browsers
        // tokenise there directly (its `--cors-origin` names the shop).
        let public = self.payments_public_url.as_ref().unwrap_or(url);
        let browser_tokenizer =
            BrowserTokenizer::Remote { url: format!("{}/v1/payment_methods", public.trim_end_matches('/')), key: None };
        Ok(Payments {
            gateway: Arc::new(remote),
            simulator: None,
            card_data: CardData::Accepted,
            notices: None,
            browser_tokenizer,
        })
    }
}
