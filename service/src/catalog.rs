//! The product catalog, generated deterministically so every replica holds the same data.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: u64,
    pub name: String,
    pub category: String,
    pub brand: String,
    pub description: String,
    pub sku: String,
    pub manufacturer: String,
    /// Price in the smallest currency unit, so sums are exact.
    pub price_cents: u64,
    pub weight_grams: u32,
}

/// The original load test's search terms; the catalog is generated so that each
/// matches a set of a different size.
pub const ORIGINAL_TERMS: [&str; 14] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "electronics",
    "books",
    "home",
    "sports",
    "toys",
    "product",
    "1",
    "2",
    "3",
];

/// Categories with weights, so each of the original load test's category terms
/// (electronics, books, home, sports, toys) matches a set of a different size.
const CATEGORIES: &[(&str, u32)] = &[
    ("Electronics", 30),
    ("Books", 20),
    ("Home", 15),
    ("Sports", 10),
    ("Toys", 5),
    ("Garden", 8),
    ("Grocery", 7),
    ("Office", 5),
];

/// Series names with weights: alpha is common, epsilon rare.
const SERIES: &[(&str, u32)] = &[
    ("Alpha", 25),
    ("Beta", 15),
    ("Gamma", 10),
    ("Delta", 6),
    ("Epsilon", 3),
    ("Omega", 20),
    ("Sigma", 21),
];

const NOUNS: &[&str] = &[
    "Speaker", "Lamp", "Novel", "Racket", "Puzzle", "Kettle", "Backpack", "Monitor", "Chair", "Blender", "Atlas",
    "Drone", "Helmet", "Notebook", "Camera", "Mixer", "Ball", "Robot", "Shelf", "Charger",
];
const ADJECTIVES: &[&str] = &[
    "Compact", "Deluxe", "Classic", "Smart", "Portable", "Premium", "Eco", "Rapid", "Silent", "Vivid",
];
const BRANDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
];

fn weighted<'a>(rng: &mut ChaCha8Rng, table: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total);
    for (item, w) in table {
        if pick < *w {
            return item;
        }
        pick -= w;
    }
    table[0].0
}

/// `size` products from a fixed seed: the same catalog on every replica.
pub fn generate(size: usize) -> Vec<Product> {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5ea2c4);
    (0..size as u64)
        .map(|id| {
            let category = weighted(&mut rng, CATEGORIES);
            let series = weighted(&mut rng, SERIES);
            let noun = NOUNS[rng.random_range(0..NOUNS.len())];
            let adjective = ADJECTIVES[rng.random_range(0..ADJECTIVES.len())];
            let brand = BRANDS[rng.random_range(0..BRANDS.len())];
            // Model numbers 1..9 with falling frequency: "1" matches most, "3" fewer.
            let model = 1 + (rng.random_range(0u32..100).pow(2) / 1200);
            // One product in 8 is a generic "Product" line.
            let name = if rng.random_range(0..8) == 0 {
                format!("{series} Product {model}")
            } else {
                format!("{adjective} {series} {noun} {model}")
            };
            Product {
                id: id + 1,
                description: format!("The {adjective} {noun} from {brand}'s {series} series, model {model}."),
                sku: format!("{}-{:06}", &category[..3].to_ascii_uppercase(), id + 1),
                manufacturer: format!("{brand} Industries"),
                brand: brand.to_string(),
                category: category.to_string(),
                name,
                price_cents: rng.random_range(199..99_999),
                weight_grams: rng.random_range(50..20_000),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(generate(500), generate(500));
        assert_eq!(generate(10)[3].id, 4);
    }
}
