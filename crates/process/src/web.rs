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
    /// The pages' configuration (the storefront's and the console's).
    pub fn config(&self, tls: &TlsArgs) -> commerce_web::WebConfig {
        commerce_web::WebConfig {
            shop_name: self.shop_name.clone(),
            secure_cookies: self.secure_cookies || tls.tls_cert.is_some(),
            ..commerce_web::WebConfig::default()
        }
    }

    /// The checkout pages' configuration: they tokenise cards at `tokenizer`. `None` (and
    /// a warning with the reason) when no page can take cards there: serve no checkout page.
    pub fn checkout_config(&self, tls: &TlsArgs, tokenizer: &BrowserTokenizer) -> Option<commerce_web::WebConfig> {
        let config = self.config(tls);
        match tokenizer {
            BrowserTokenizer::Remote { url, key } => {
                Some(commerce_web::WebConfig { tokenize_url: url.clone(), tokenize_key: key.clone(), ..config })
            }
            BrowserTokenizer::InProcess => Some(config),
            BrowserTokenizer::Unavailable(why) => {
                tracing::warn!(reason = why, "the checkout pages are not served");
                None
            }
        }
    }
}
