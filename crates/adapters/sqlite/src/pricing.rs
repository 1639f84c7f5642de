//! Shipping methods and tax rates in SQLite.

use async_trait::async_trait;
use commerce_core::{
    address::CountryCode,
    ids::{CollectionId, ShippingMethodId, TaxRateId},
    ports::{ShippingMethodStore, StoreError, TaxRateStore},
    pricing::{ShippingMethod, TaxRate, TaxRule},
};
use rusqlite::params;

use crate::{Abort, SqliteDb, decode, duplicate, json, unavailable};

/// Shipping methods and tax rates.
#[derive(Debug, Clone)]
pub struct SqlitePricingStore {
    db: SqliteDb,
}

impl SqlitePricingStore {
    /// The store on `db`.
    pub fn new(db: SqliteDb) -> Self {
        Self { db }
    }
}

fn found(changed: usize) -> Result<(), Abort<StoreError>> {
    if changed == 0 { Err(Abort::Refused(StoreError::NotFound)) } else { Ok(()) }
}

#[async_trait]
impl ShippingMethodStore for SqlitePricingStore {
    async fn insert_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        let (id, name, body) = (method.id.as_uuid(), method.name.as_str().to_owned(), json(method)?);
        self.db
            .write(move |tx| {
                tx.prepare_cached("INSERT INTO shipping_methods (id, name, body) VALUES (?, ?, ?)")?
                    .execute(params![id, name, body])
                    .map_err(|e| duplicate(e, &format!("shipping method {id}")))?;
                Ok(())
            })
            .await
    }

    async fn update_shipping_method(&self, method: &ShippingMethod) -> Result<(), StoreError> {
        let (id, name, body) = (method.id.as_uuid(), method.name.as_str().to_owned(), json(method)?);
        self.db
            .write(move |tx| {
                found(
                    tx.prepare_cached("UPDATE shipping_methods SET name = ?, body = ? WHERE id = ?")?
                        .execute(params![name, body, id])?,
                )
            })
            .await
    }

    async fn delete_shipping_method(&self, id: ShippingMethodId) -> Result<(), StoreError> {
        let id = id.as_uuid();
        self.db
            .write(move |tx| found(tx.prepare_cached("DELETE FROM shipping_methods WHERE id = ?")?.execute([id])?))
            .await
    }

    async fn shipping_method(&self, id: ShippingMethodId) -> Result<Option<ShippingMethod>, StoreError> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM shipping_methods WHERE id = ?")
            .bind(id.as_uuid())
            .fetch_optional(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        body.as_deref().map(decode).transpose()
    }

    async fn shipping_methods(&self) -> Result<Vec<ShippingMethod>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM shipping_methods ORDER BY name, id")
            .fetch_all(self.db.reader())
            .await
            .map_err(|e| unavailable(&e))?;
        rows.iter().map(|b| decode(b)).collect()
    }
}

type RateRow = (uuid::Uuid, String, Option<uuid::Uuid>, i64);

fn rule((id, country, collection_id, bps): RateRow) -> Result<TaxRule, StoreError> {
    let bad = |what: &str| StoreError::Unavailable(format!("stored tax rate has an invalid {what}"));
    Ok(TaxRule {
        id: TaxRateId::from_uuid(id),
        country: CountryCode::parse(&country).map_err(|_| bad("country"))?,
        collection_id: collection_id.map(CollectionId::from_uuid),
        rate: u32::try_from(bps).ok().and_then(|b| TaxRate::from_bps(b).ok()).ok_or_else(|| bad("rate"))?,
    })
}

#[async_trait]
impl TaxRateStore for SqlitePricingStore {
    async fn insert_tax_rate(&self, rule: &TaxRule) -> Result<(), StoreError> {
        let (id, country, collection, bps) = (
            rule.id.as_uuid(),
            rule.country.as_str().to_owned(),
            rule.collection_id.map(|c| c.as_uuid()),
            rule.rate.bps(),
        );
        self.db
            .write(move |tx| {
                tx.prepare_cached("INSERT INTO tax_rates (id, country, collection_id, rate_bps) VALUES (?, ?, ?, ?)")?
                    .execute(params![id, country, collection, bps])
                    .map_err(|e| duplicate(e, &format!("tax rate for {country}")))?;
                Ok(())
            })
            .await
    }

    async fn delete_tax_rate(&self, id: TaxRateId) -> Result<(), StoreError> {
        let id = id.as_uuid();
        self.db.write(move |tx| found(tx.prepare_cached("DELETE FROM tax_rates WHERE id = ?")?.execute([id])?)).await
    }

    async fn tax_rate(&self, id: TaxRateId) -> Result<Option<TaxRule>, StoreError> {
        let row: Option<RateRow> =
            sqlx::query_as("SELECT id, country, collection_id, rate_bps FROM tax_rates WHERE id = ?")
                .bind(id.as_uuid())
                .fetch_optional(self.db.reader())
                .await
                .map_err(|e| unavailable(&e))?;
        row.map(rule).transpose()
    }

    async fn tax_rates(&self) -> Result<Vec<TaxRule>, StoreError> {
        let rows: Vec<RateRow> = sqlx::query_as(
            "SELECT id, country, collection_id, rate_bps FROM tax_rates ORDER BY country, collection_id NULLS FIRST",
        )
        .fetch_all(self.db.reader())
        .await
        .map_err(|e| unavailable(&e))?;
        rows.into_iter().map(rule).collect()
    }
}
