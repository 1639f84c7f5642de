//! The embedded default keeps its data: a restart finds the products, stock, orders and
//! idempotency keys of the previous run.

use commerce_system_tests::cart;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{fresh_data_dir, spawn_app_in};

#[tokio::test]
async fn a_restart_keeps_the_shop_and_replays_a_retried_checkout() {
    let dir = fresh_data_dir();
    // Given a shop with a product, its stock and one paid order,
    let app = spawn_app_in(&dir).await;
    let product = app.product("KEEP-1", 1500, 5, serde_json::json!({"colour": "red"})).await;
    let body = cart(&product, 2, "4242424242424242");
    let first = app.checkout(Some("restart-key-1"), &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    app.eventually_stock(&product, 3).await;
    app.stop().await;

    // when it restarts on the same data folder,
    let app = spawn_app_in(&dir).await;

    // then the product is listed with its stock, the order is there,
    let listed: Value = app.get(&format!("/store/v1/products/{product}")).await.json().await.unwrap();
    assert_eq!((listed["sku"].as_str(), listed["available_stock"].as_u64()), (Some("KEEP-1"), Some(3)), "{listed}");
    let order_path = format!("/admin/v1/orders/{}", first["id"].as_str().unwrap());
    let order: Value = app.admin(Method::GET, &order_path, None).await.json().await.unwrap();
    assert_eq!(order["status"], "paid", "{order}");

    // and a retry of the checkout replays the first answer: no second order, no second charge.
    let retry = app.checkout(Some("restart-key-1"), &body).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!((retry["id"].clone(), retry["payment"].clone()), (first["id"].clone(), first["payment"].clone()));
    let orders: Value = app.admin(Method::GET, "/admin/v1/orders", None).await.json().await.unwrap();
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(1), "{orders}");
    let stock: Value =
        app.admin(Method::GET, &format!("/admin/v1/products/{product}/stock"), None).await.json().await.unwrap();
    assert_eq!((stock["on_hand"].as_u64(), stock["available"].as_u64()), (Some(3), Some(3)), "{stock}");
    app.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
