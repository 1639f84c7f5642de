//! Shipping methods and tax rates in the `commerce` schema.

use async_trait::async_trait;
use commerce_core::{
    address::CountryCode,
    ids::{CollectionId, ShippingMethodId, TaxRateId},
    ports::{ShippingMethodStore, StoreError, TaxRateStore},
    pricing::{ShippingMethod, TaxRate, TaxRule},
};
use sqlx::{PgPool, Row};

use crate::{corrupt, store_error, unavailable};

/// Shipping methods and tax rates.
#[derive(Debug, Clone)]
pub struct PgPricingStore {
    pool: PgPool,
}

impl PgPricingStore {
    /// A store on `pool` (migrated with [`crate::migrate_write`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn body(method: &ShippingMethod) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(method).map_err(|e| corrupt(&e))
}

fn missing_if_none(affected: u64) -> Result<(), StoreError> {
    if affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

#[async_trait]
impl ShippingMethodStore for PgPricingStore {
    async fn insert_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO commerce.shipping_methods (id, name, body) VALUES ($1, $2, $3)")
            .bind(method.id.as_uuid())
            .bind(method.name.as_str())
            .bind(body(method)?)
            .execute(&self.pool)
            .await
            .map_err(|e| store_error(&e, &format!("shipping method {}", method.id)))?;
        Ok(())
    }

    async fn update_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE commerce.shipping_methods SET name = $2, body = $3 WHERE id = $1")
            .bind(method.id.as_uuid())
            .bind(method.name.as_str())
            .bind(body(method)?)
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        missing_if_none(done.rows_affected())
    }

    async fn delete_shipping_method(&self, id: ShippingMethodId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM commerce.shipping_methods WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        missing_if_none(done.rows_affected())
    }

    async fn shipping_method(&self, id: ShippingMethodId) -> Result<Option<ShippingMethod>, StoreError> {
        let body: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT body FROM commerce.shipping_methods WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| unavailable(&e))?;
        body.map(serde_json::from_value).transpose().map_err(|e| corrupt(&e))
    }

    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StoreError> {
        let bodies: Vec<serde_json::Value> =
            sqlx::query_scalar("SELECT body FROM commerce.shipping_methods ORDER BY name COLLATE \"C\", id")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| unavailable(&e))?;
        bodies.into_iter().map(serde_json::from_value).collect::<Result<_, _>>().map_err(|e| corrupt(&e))
    }
}

fn rule(row: &sqlx::postgres::PgRow) -> Result<TaxRule, StoreError> {
    let country: String = row.get("country");
    let bps: i32 = row.get("rate_bps");
    let bad = |what: &str| StoreError::Unavailable(format!("stored tax rate has an invalid {what}"));
    Ok(TaxRule {
        id: TaxRateId::from_uuid(row.get("id")),
        country: CountryCode::parse(&country).map_err(|_| bad("country"))?,
        collection_id: row.get::<Option<uuid::Uuid>, _>("collection_id").map(CollectionId::from_uuid),
        rate: u32::try_from(bps).ok().and_then(|b| TaxRate::from_bps(b).ok()).ok_or_else(|| bad("rate"))?,
    })
}

#[async_trait]
impl TaxRateStore for PgPricingStore {
    async fn insert_tax_rate(&self, rule: &TaxRule) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO commerce.tax_rates (id, country, collection_id, rate_bps) VALUES ($1, $2, $3, $4)")
            .bind(rule.id.as_uuid())
            .bind(rule.country.as_str())
            .bind(rule.collection_id.map(|c| c.as_uuid()))
            .bind(i32::try_from(rule.rate.bps()).unwrap_or(i32::MAX))
            .execute(&self.pool)
            .await
            .map_err(|e| store_error(&e, &format!("tax rate for {}", rule.country)))?;
        Ok(())
    }

    async fn delete_tax_rate(&self, id: TaxRateId) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM commerce.tax_rates WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        missing_if_none(done.rows_affected())
    }

    async fn tax_rate(&self, id: TaxRateId) -> Result<Option<TaxRule>, StoreError> {
        let row = sqlx::query("SELECT id, country, collection_id, rate_bps FROM commerce.tax_rates WHERE id = $1")
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        row.as_ref().map(rule).transpose()
    }

    async fn tax_rates(&self) -> Result<Vec<TaxRule>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, country, collection_id, rate_bps FROM commerce.tax_rates
             ORDER BY country, collection_id NULLS FIRST",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| unavailable(&e))?;
        rows.iter().map(rule).collect()
    }
}
