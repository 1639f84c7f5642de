//! The web test harness: a shop on memory adapters with the simulated card processor, its
//! pages served on a free port, and a shopper that keeps the cart cookie.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::sync::Arc;

use commerce_core::credential::BearerToken;
use commerce_core::{
    ProductId,
    catalog::{CollectionInput, MoneyInput, ProductInput},
    inventory::OnHand,
    services::{Env, shop::Shop},
};
use commerce_memory::MemoryAdapters;
use commerce_payment_simulator::{ProcessorConfig, SimulatedCardProcessor};
use commerce_runtime::{RandomIds, SystemClock};
use commerce_web::{
    AdminSessions, CheckoutPages, WebConfig, admin_catalog_router, admin_orders_router, checkout_router,
    storefront_router,
};

/// The admin credential of the test shop.
pub const ADMIN_TOKEN: &str = "web-tests-admin-token-0123456789";
use reqwest::StatusCode;

pub struct App {
    pub base: String,
    pub shop: Shop,
    pub adapters: MemoryAdapters,
    pub http: reqwest::Client,
}

/// Given: a shop on memory adapters paying through the simulated card processor, its pages
/// and the processor's tokenisation endpoint (`/simulator`) served on a free port.
pub async fn spawn_app() -> App {
    let adapters = MemoryAdapters::new();
    let env = Env::new(Arc::new(SystemClock), Arc::new(RandomIds));
    let processor = Arc::new(SimulatedCardProcessor::new(ProcessorConfig::default()));
    let shop = adapters.shop(env).gateway(processor.clone()).build().unwrap();
    let config = WebConfig { shop_name: "Mugs & <Co>".into(), ..WebConfig::default() };
    let pages = CheckoutPages::new(
        shop.storefront.clone(),
        shop.checkout.clone(),
        shop.orders.clone(),
        shop.pricing.clone(),
        config.clone(),
    );
    // The console's two halves signed in separately, as `catalog-api` and `orders-service`
    // are behind one origin: one credential, so a session from one is good at the other.
    let sessions = || {
        AdminSessions::new(
            BearerToken::parse(ADMIN_TOKEN).unwrap(),
            shop.env.clock.clone(),
            shop.env.ids.clone(),
            config.clone(),
        )
    };
    let router = storefront_router(shop.storefront.clone(), config.clone())
        .merge(checkout_router(pages).unwrap())
        .merge(admin_catalog_router(sessions(), shop.catalog.clone(), shop.stock.clone()))
        .merge(admin_orders_router(sessions(), shop.orders.clone(), shop.refunds.clone()))
        .nest("/simulator", commerce_payment_simulator::remote::browser_router(processor, None));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    App { base, shop, adapters, http: reqwest::Client::new() }
}

impl App {
    pub async fn collection(&self, name: &str) -> String {
        let input =
            CollectionInput { slug: name.to_lowercase(), name: name.into(), description: format!("All {name}.") };
        self.shop.catalog.create_collection(&input).await.unwrap().id.to_string()
    }

    pub async fn product(
        &self,
        name: &str,
        cents: i64,
        stock: u64,
        collection: Option<&str>,
        colour: &str,
    ) -> ProductId {
        let input = ProductInput {
            sku: name.to_uppercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
            name: name.into(),
            description: format!("{name}, made to last."),
            price: MoneyInput { amount: cents, currency: "USD".into() },
            collection_id: collection.map(str::to_owned),
            attributes: [("colour".to_owned(), colour.to_owned())].into(),
            status: Some("active".into()),
        };
        let product = self.shop.catalog.create_product(&input).await.unwrap();
        self.shop.stock.set_stock(product.id, OnHand::new(stock).unwrap()).await.unwrap();
        product.id
    }

    pub async fn sync(&self) {
        self.adapters.sync().await.unwrap();
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("text/html"), "{path}: {content_type}");
        (status, response.text().await.unwrap())
    }
}

/// The product names of a list page, in order.
pub fn names(page: &str) -> Vec<String> {
    page.split("<li class=\"card\">")
        .skip(1)
        .map(|card| {
            let link = card.split("\">").nth(1).unwrap();
            link.split("</a>").next().unwrap().to_owned()
        })
        .collect()
}

/// The target of the link with `rel`, entities undone.
pub fn link(page: &str, rel: &str) -> Option<String> {
    let before = page.split(&format!("\" rel=\"{rel}\"")).next().filter(|b| b.len() < page.len())?;
    Some(before.rsplit("href=\"").next().unwrap().replace("&#38;", "&"))
}

/// A browser's cookie jar of one: follows the `cart` cookie across requests.
pub struct Shopper<'a> {
    pub app: &'a App,
    pub cookie: String,
    /// The last `Set-Cookie` the shop answered, whole (flags included).
    pub set_cookie: String,
}

impl<'a> Shopper<'a> {
    pub fn new(app: &'a App) -> Self {
        Self { app, cookie: String::new(), set_cookie: String::new() }
    }

    /// Posts a cart form; returns the status and the page shown (the cart after a 303).
    pub async fn post_cart(&mut self, form: &[(&str, &str)]) -> (StatusCode, String) {
        let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.set_cookie.clear();
        let answer = self.post("/cart", &form).await;
        if !self.set_cookie.is_empty() {
            let set = &self.set_cookie;
            assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
        }
        if answer.status == StatusCode::SEE_OTHER {
            assert_eq!(answer.location.as_deref(), Some("/cart"));
            return (answer.status, self.get("/cart").await.1);
        }
        (answer.status, answer.body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response =
            self.app.http.get(format!("{}{path}", self.app.base)).header("cookie", &self.cookie).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

/// What a form post answered, redirects not followed.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Shopper<'_> {
    /// Posts `form` to `path` as the browser would, keeping any cookie it sets.
    pub async fn post(&mut self, path: &str, form: &[(&str, String)]) -> Answer {
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = no_redirects
            .post(format!("{}{path}", self.app.base))
            .header("cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        if let Some(set) = response.headers().get("set-cookie") {
            set.to_str().unwrap().clone_into(&mut self.set_cookie);
            self.set_cookie.split(';').next().unwrap().clone_into(&mut self.cookie);
        }
        let status = response.status();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Answer { status, location, body: response.text().await.unwrap() }
    }

    /// A GET as the browser sends it, redirects not followed.
    pub async fn post_get(&self, path: &str) -> Answer {
        let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response =
            no_redirects.get(format!("{}{path}", self.app.base)).header("cookie", &self.cookie).send().await.unwrap();
        let status = response.status();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned());
        Answer { status, location, body: response.text().await.unwrap() }
    }

    /// What the checkout page's script does: the card to the processor, its token back.
    pub async fn tokenize(&self, number: &str) -> String {
        let form = [
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ];
        let response = self
            .app
            .http
            .post(format!("{}/simulator/v1/payment_methods", self.app.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer: serde_json::Value = response.json().await.unwrap();
        answer["id"].as_str().unwrap().to_owned()
    }
}

/// The value of the hidden input `name` of a page's form.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}
