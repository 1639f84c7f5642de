//! The storefront pages over memory adapters, through a real HTTP server on port 0: what a
//! browser gets for each page, its filters and paging, the cart, and bad input.

#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod common;

use commerce_core::{ProductId, inventory::OnHand};
use common::{Shopper, link, names, spawn_app};
use reqwest::StatusCode;

#[tokio::test]
async fn the_home_page_shows_collections_and_new_arrivals_under_a_strict_policy() {
    let app = spawn_app().await;
    let mugs = app.collection("Mugs").await;
    app.product("Blue mug", 1250, 10, Some(&mugs), "blue").await;
    app.sync().await;

    let response = app.http.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let page = response.text().await.unwrap();
    assert!(page.contains("Mugs &#38; &#60;Co&#62;"), "the shop name is escaped: {page}");
    assert!(page.contains(&format!("href=\"/products?collection={mugs}\"")), "{page}");
    assert_eq!(names(&page), ["Blue mug"]);
    assert!(page.contains("12.50 USD") && page.contains("10 in stock"));

    let css = app.http.get(format!("{}/assets/style.css", app.base)).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert!(css.text().await.unwrap().contains(".card"));
}

#[tokio::test]
async fn filters_and_sort_live_in_the_url() {
    let app = spawn_app().await;
    let mugs = app.collection("Mugs").await;
    let tees = app.collection("Tees").await;
    app.product("Red mug", 900, 4, Some(&mugs), "red").await;
    app.product("Blue mug", 1250, 10, Some(&mugs), "blue").await;
    app.product("Big red mug", 1900, 0, Some(&mugs), "red").await;
    app.product("Red tee", 1500, 7, Some(&tees), "red").await;
    app.sync().await;

    let (status, page) = app.get("/products?price_from=9&price_to=19.00&sort=price_asc").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&page), ["Red mug", "Blue mug", "Red tee", "Big red mug"]);
    let (_, page) = app.get("/products?price_from=9.01&price_to=18.99&sort=price_desc").await;
    assert_eq!(names(&page), ["Red tee", "Blue mug"]);

    let (_, page) = app.get(&format!("/products?collection={mugs}&attr.colour=red&sort=name")).await;
    assert_eq!(names(&page), ["Big red mug", "Red mug"]);
    let (_, page) = app.get(&format!("/products?collection={mugs}&attr.colour=red&in_stock=true")).await;
    assert_eq!(names(&page), ["Red mug"]);
    assert!(page.contains("Only 4 left"), "low stock is said so");

    // Facets count what the other filters match, and each value is a link to apply it.
    let (_, page) = app.get("/products?q=mug").await;
    assert!(page.contains("red <span class=\"count\">(2)</span>"), "{page}");
    assert!(page.contains("blue <span class=\"count\">(1)</span>"), "{page}");
    assert!(page.contains("Mugs (3)</option>"), "{page}");
    let (_, red) = app.get("/products?q=mug&attr.colour=red").await;
    assert_eq!(names(&red).len(), 2);
    assert!(red.contains("aria-current=\"true\""), "the applied value is marked");
}

#[tokio::test]
async fn next_and_previous_walk_every_page_once() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.product(&format!("Mug {i}"), 1000 + i, 5 + u64::try_from(i).unwrap(), None, "white").await;
    }
    app.sync().await;

    let mut path = "/products?sort=price_asc&limit=3".to_owned();
    let mut pages = Vec::new();
    loop {
        let (status, page) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        pages.push((path.clone(), names(&page)));
        match link(&page, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    let seen: Vec<String> = pages.iter().flat_map(|(_, n)| n.clone()).collect();
    assert_eq!(seen, (0..7).map(|i| format!("Mug {i}")).collect::<Vec<_>>());
    assert_eq!(pages.len(), 3);

    // From the last page, "previous" goes back through each page to the first.
    let (_, mut page) = app.get(&pages[2].0).await;
    for expected in [&pages[1].1, &pages[0].1] {
        let previous = link(&page, "prev").unwrap();
        let (_, shown) = app.get(&previous).await;
        assert_eq!(&names(&shown), expected);
        page = shown;
    }
    assert_eq!(link(&page, "prev"), None, "the first page has no previous page");
    assert!(!page.contains("First page"));
}

#[tokio::test]
async fn impossible_filters_are_named_on_the_page() {
    let app = spawn_app().await;
    app.product("Mug", 1000, 1, None, "white").await;
    app.sync().await;

    let (status, page) = app.get("/products?price_from=ten&price_to=5.001&sort=cheapest&cursor=%21").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for field in ["Price from", "Price to", "Sort by", "Page"] {
        assert!(page.contains(&format!("<li>{field}: ")), "{field} is named: {page}");
    }
    assert!(page.contains(
        "id=\"price_from\" name=\"price_from\" inputmode=\"decimal\" size=\"8\" value=\"ten\" aria-invalid=\"true\""
    ));
    let (status, page) = app.get("/products?price_from=20&price_to=10").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("<li>Price from: must not be more than Price to</li>"), "{page}");
}

#[tokio::test]
async fn the_product_page_tells_the_remaining_stock() {
    let app = spawn_app().await;
    let plenty = app.product("Plenty mug", 1000, 12, None, "white").await;
    let few = app.product("Rare mug", 1000, 3, None, "white").await;
    let none = app.product("Gone mug <b>", 1000, 0, None, "white").await;
    app.sync().await;

    let (status, page) = app.get(&format!("/products/{plenty}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("12 in stock") && page.contains("10.00 USD") && page.contains("Plenty mug, made to last."));
    assert!(page.contains("<dt>colour</dt><dd>white</dd>"));
    let (_, page) = app.get(&format!("/products/{few}")).await;
    assert!(page.contains("Only 3 left"));
    let (_, page) = app.get(&format!("/products/{none}")).await;
    assert!(page.contains("Sold out") && page.contains("cannot be bought"));
    assert!(page.contains("Gone mug &#60;b&#62;") && !page.contains("<b>"), "names are escaped");

    for missing in [format!("/products/{}", ProductId::from_uuid(uuid::Uuid::now_v7())), "/products/not-an-id".into()] {
        let (status, page) = app.get(&missing).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(page.contains("<h1>Not found</h1>"));
    }
}

#[tokio::test]
async fn the_cart_keeps_lines_in_a_cookie_and_checks_them_against_stock() {
    let app = spawn_app().await;
    let mug = app.product("Blue mug", 1250, 5, None, "blue").await;
    let tee = app.product("Red tee", 900, 2, None, "red").await;
    let gone = app.product("Gone mug", 900, 0, None, "red").await;
    app.sync().await;
    let mut shopper = Shopper::new(&app);

    let (_, page) = shopper.get(&format!("/products/{mug}")).await;
    assert!(page.contains("Add to cart"));
    let (status, cart) = shopper.post_cart(&[("product_id", &mug.to_string()), ("quantity", "2")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(cart.contains("Blue mug") && cart.contains("25.00 USD"), "{cart}");
    shopper.post_cart(&[("product_id", &mug.to_string()), ("quantity", "1")]).await;
    let (_, cart) = shopper.post_cart(&[("product_id", &tee.to_string())]).await;
    assert!(cart.contains("Subtotal: <strong>46.50 USD</strong>"), "3 x 12.50 + 9.00: {cart}");
    assert!(cart.contains("Cart (4<span"), "the header counts the units: {cart}");
    assert!(cart.contains("href=\"/checkout\""));

    // More than the stock, and a sold-out product, are refused with the reason; the cart stays.
    let (status, cart) = shopper.post_cart(&[("product_id", &mug.to_string()), ("quantity", "3")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(cart.contains("Blue mug: only 5 in stock."), "{cart}");
    assert!(cart.contains("Subtotal: <strong>46.50 USD</strong>"));
    let (_, page) = shopper.get(&format!("/products/{gone}")).await;
    assert!(!page.contains("Add to cart"), "a sold-out product offers no button");
    let (status, cart) = shopper.post_cart(&[("product_id", &gone.to_string()), ("quantity", "1")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(cart.contains("Gone mug: sold out, it cannot be added."), "{cart}");
    let (status, _) = shopper.post_cart(&[("product_id", &tee.to_string()), ("quantity", "two")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Set and remove.
    let (_, cart) = shopper.post_cart(&[("product_id", &mug.to_string()), ("quantity", "1"), ("action", "set")]).await;
    assert!(cart.contains("Subtotal: <strong>21.50 USD</strong>"), "{cart}");
    let (_, cart) = shopper.post_cart(&[("product_id", &tee.to_string()), ("action", "remove")]).await;
    assert!(!cart.contains("Red tee") && cart.contains("Subtotal: <strong>12.50 USD</strong>"));

    // Stock sold elsewhere since: the cart says so and checkout waits.
    app.shop.stock.set_stock(mug, OnHand::new(0).unwrap()).await.unwrap();
    app.sync().await;
    let (_, cart) = shopper.get("/cart").await;
    assert!(cart.contains("Sold out: please remove it."), "{cart}");
    assert!(!cart.contains("href=\"/checkout\""));
    let (_, cart) = shopper.post_cart(&[("product_id", &mug.to_string()), ("action", "remove")]).await;
    assert!(cart.contains("Your cart is empty"));
    assert!(shopper.cookie.ends_with("cart="), "an empty cart clears the cookie: {}", shopper.cookie);
}
