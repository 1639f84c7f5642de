//! The files of a catalog export (`commerce export`, `catalog-api import`): JSON lines as
//! `commerce_core::services::transfer` describes them.

use std::{
    fs::File,
    io::{BufRead as _, BufReader, BufWriter, Write as _},
    path::Path,
};

use anyhow::Context as _;
use commerce_core::services::{
    catalog::CatalogService,
    restock::RestockService,
    transfer::{COLLECTIONS_FILE, CatalogExporter, ImportReport, PRODUCTS_FILE, STOCK_FILE, StockRecord},
};
use serde::{Serialize, de::DeserializeOwned};

/// Records written per file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    /// Collections.
    pub collections: u64,
    /// Products.
    pub products: u64,
    /// Stock levels.
    pub stock: u64,
}

fn create(dir: &Path, name: &str) -> anyhow::Result<BufWriter<File>> {
    let path = dir.join(name);
    Ok(BufWriter::new(File::create(&path).with_context(|| format!("creating {}", path.display()))?))
}

fn write_line(out: &mut BufWriter<File>, record: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Writes the export of `exporter` into `dir` (created if needed).
pub async fn write_export(dir: &Path, mut exporter: CatalogExporter) -> anyhow::Result<ExportCounts> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut counts = ExportCounts::default();
    let mut collections = create(dir, COLLECTIONS_FILE)?;
    for collection in exporter.collections().await? {
        write_line(&mut collections, &collection)?;
        counts.collections += 1;
    }
    collections.flush()?;
    let (mut products, mut stock) = (create(dir, PRODUCTS_FILE)?, create(dir, STOCK_FILE)?);
    while let Some((page, levels)) = exporter.next_page(1000).await? {
        for product in &page {
            write_line(&mut products, product)?;
        }
        for level in &levels {
            write_line(&mut stock, level)?;
        }
        counts.products += page.len() as u64;
        counts.stock += levels.len() as u64;
    }
    products.flush()?;
    stock.flush()?;
    Ok(counts)
}

/// Each record of file `name` in `dir`, with its line number for error messages.
fn records<T: DeserializeOwned>(dir: &Path, name: &str) -> anyhow::Result<impl Iterator<Item = anyhow::Result<T>>> {
    let path = dir.join(name);
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok(BufReader::new(file).lines().enumerate().filter(|(_, line)| !matches!(line, Ok(l) if l.trim().is_empty())).map(
        move |(n, line)| {
            let line = line.with_context(|| format!("reading {name}"))?;
            serde_json::from_str(&line).with_context(|| format!("{name} line {}: not a valid record", n + 1))
        },
    ))
}

/// Imports the export in `dir`: collections, then products, then stock (see
/// `commerce_core::services::transfer`). Returns what each file did.
pub async fn import_export(
    dir: &Path,
    catalog: &CatalogService,
    restock: &RestockService,
) -> anyhow::Result<[ImportReport; 3]> {
    let mut reports = [ImportReport::default(); 3];
    for collection in records(dir, COLLECTIONS_FILE)? {
        let collection = collection?;
        let outcome =
            catalog.import_collection(&collection).await.with_context(|| format!("collection {}", collection.id))?;
        reports[0].add(outcome);
    }
    for product in records(dir, PRODUCTS_FILE)? {
        let product = product?;
        let outcome = catalog.import_product(&product).await.with_context(|| format!("product {}", product.id))?;
        reports[1].add(outcome);
    }
    for level in records::<StockRecord>(dir, STOCK_FILE)? {
        let level = level?;
        let outcome = restock.import_stock(&level).await.with_context(|| format!("stock of {}", level.product_id))?;
        reports[2].add(outcome);
    }
    Ok(reports)
}
