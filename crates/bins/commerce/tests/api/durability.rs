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

#[tokio::test]
async fn a_backup_taken_while_the_shop_runs_restores_the_shop() {
    let dir = fresh_data_dir();
    let app = spawn_app_in(&dir).await;
    let product = app.product("BACKUP-1", 900, 4, serde_json::json!({})).await;
    let paid = app.checkout(Some("backup-key-1"), &cart(&product, 1, "4242424242424242")).await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let order: Value = paid.json().await.unwrap();

    // A backup while the shop keeps serving,
    let backup = dir.with_extension("backup.sqlite3");
    let _ = std::fs::remove_file(&backup);
    let command = commerce::Command::Backup { path: backup.clone() };
    commerce::run_command(&command, &dir).await.unwrap();
    assert!(commerce::run_command(&command, &dir).await.is_err(), "a backup never overwrites an existing file");
    app.stop().await;

    // restored into a new data folder, is the same shop.
    let restored = fresh_data_dir();
    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&backup, restored.join(commerce_sqlite::DATABASE_FILE)).unwrap();
    // (The copy holds the write model and the outbox as of one moment; the restored shop's
    // pump projects whatever the read model had not applied yet.)
    let app = spawn_app_in(&restored).await;
    app.eventually_stock(&product, 3).await;
    let path = format!("/admin/v1/orders/{}", order["id"].as_str().unwrap());
    let kept: Value = app.admin(Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!(kept["status"], "paid", "{kept}");
    app.stop().await;
    for folder in [&dir, &restored] {
        let _ = std::fs::remove_dir_all(folder);
    }
    let _ = std::fs::remove_file(&backup);
}
