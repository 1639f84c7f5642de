//! The flags of the processes that serve web pages.

use crate::{BrowserTokenizer, TlsArgs};

/// How the web pages present the shop.
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// The shop's name in the web pages' header and titles.
    #[arg(long, env = "COMMERCE_SHOP_NAME", default_value = "Commerce demo shop")]
    pub shop_name: String,
    /// Mark the pages' cookies `Secure` although this process serves plain HTTP: it runs
    /// behind a gateway that terminates TLS. (Serving TLS itself implies it.)
    #[arg(long, env = "COMMERCE_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

impl WebArgs {
    /// The pages' configuration; the checkout page tokenises cards at `tokenizer`.
    pub fn config(&self, tls: &TlsArgs, tokenizer: &BrowserTokenizer) -> commerce_web::WebConfig {
        let defaults = commerce_web::WebConfig::default();
        let (tokenize_url, tokenize_key) = match tokenizer {
            BrowserTokenizer::Remote { url, key } => (url.clone(), key.clone()),
            BrowserTokenizer::InProcess | BrowserTokenizer::Unavailable(_) => (defaults.tokenize_url.clone(), None),
        };
        commerce_web::WebConfig {
            shop_name: self.shop_name.clone(),
            secure_cookies: self.secure_cookies || tls.tls_cert.is_some(),
            tokenize_url,
            tokenize_key,
            ..defaults
        }
    }
}
