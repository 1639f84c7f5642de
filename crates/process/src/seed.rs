//! The demo catalog: deterministic products in several collections, with
//! attributes and stock, created through the same services as admin requests.

use commerce_core::{
    catalog::{CollectionInput, MoneyInput, ProductInput},
    inventory::OnHand,
    services::{catalog::CatalogService, inventory::InventoryService},
};
use futures::{StreamExt as _, TryStreamExt as _};

const COLLECTIONS: &[(&str, &str, &str)] = &[
    ("t-shirts", "T-shirts", "Tee"),
    ("hoodies", "Hoodies", "Hoodie"),
    ("mugs", "Mugs", "Mug"),
    ("posters", "Posters", "Poster"),
    ("socks", "Socks", "Socks"),
    ("caps", "Caps", "Cap"),
    ("notebooks", "Notebooks", "Notebook"),
    ("stickers", "Stickers", "Sticker"),
];
const ADJECTIVES: &[&str] = &[
    "Classic", "Vintage", "Organic", "Minimal", "Retro", "Cosy", "Bold", "Tiny", "Grand", "Urban", "Rustic", "Neon",
    "Pastel", "Midnight", "Sunny", "Arctic",
];
const COLOURS: &[&str] = &["black", "white", "red", "blue", "green", "yellow", "grey", "navy"];
const SIZES: &[&str] = &["XS", "S", "M", "L", "XL"];
const MATERIALS: &[&str] = &["cotton", "wool", "ceramic", "paper", "linen", "recycled"];

/// A small deterministic generator (SplitMix64), so every run seeds the same catalog.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.next() % items.len() as u64).unwrap_or(0)]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Seeds `count` active products across the demo collections, `concurrency` at a time.
/// Returns how many were created.
pub async fn seed(
    catalog: &CatalogService,
    inventory: &InventoryService,
    count: usize,
    concurrency: usize,
) -> anyhow::Result<usize> {
    let mut collections = Vec::with_capacity(COLLECTIONS.len());
    for (slug, name, noun) in COLLECTIONS {
        let input = CollectionInput { slug: (*slug).into(), name: (*name).into(), description: format!("Our {name}.") };
        collections.push((catalog.create_collection(&input).await?, *noun));
    }
    let mut rng = Rng(0x5EED);
    let mut items = Vec::with_capacity(count);
    for n in 0..count {
        let (collection, noun) = &collections[n % collections.len()];
        let adjective = rng.pick(ADJECTIVES);
        let colour = rng.pick(COLOURS);
        let mut attributes =
            vec![("colour".to_owned(), colour.to_owned()), ("material".to_owned(), rng.pick(MATERIALS).to_owned())];
        if matches!(*noun, "Tee" | "Hoodie" | "Socks" | "Cap") {
            attributes.push(("size".to_owned(), rng.pick(SIZES).to_owned()));
        }
        let input = ProductInput {
            sku: format!("{}-{:06}", noun.to_uppercase(), n),
            name: format!("{adjective} {colour} {}", noun.to_lowercase()),
            description: format!(
                "A {} {} from the {} collection, item {n}.",
                adjective.to_lowercase(),
                noun.to_lowercase(),
                collection.name
            ),
            price: MoneyInput {
                amount: i64::try_from(499 + rng.below(40) * 250).unwrap_or(499),
                currency: "USD".into(),
            },
            collection_id: Some(collection.id.to_string()),
            attributes: attributes.into_iter().collect(),
            status: Some("active".into()),
        };
        // About one product in ten is sold out.
        let on_hand = if rng.below(10) == 0 { 0 } else { 1 + rng.below(100) };
        items.push((input, on_hand));
    }
    futures::stream::iter(items)
        .map(|(input, on_hand)| async move {
            let product = catalog.create_product(&input).await?;
            inventory.set_on_hand(product.id, OnHand::new(on_hand)?).await?;
            Ok::<_, anyhow::Error>(())
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(count)
}
