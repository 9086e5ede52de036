//! What each query shape costs the index, next to the sorted-list intersection it
//! replaced (walk the shortest posting list, binary-search the others), measured in the
//! same run on the default 100,000-product catalog.
//!
//! `cargo bench -p search-service --bench search`
//!
//! Prints, per query, the median of 7 timed batches for both, and the worst multi-word
//! query's speedup. Each batch repeats the query until it has run for at least 20 ms.

use std::hint::black_box;
use std::time::{Duration, Instant};

use search_service::catalog::{Product, generate};
use search_service::index::{Index, tokens};

const QUERIES: &[&str] = &[
    // single words and the original terms
    "alpha",
    "electronics",
    "1",
    "epsilon",
    // prefixes
    "e",
    "sp",
    "gam",
    // two words, including two short prefixes that each match most of the catalog
    "e 1",
    "s 1",
    "a 2",
    "c p",
    "omega 4",
    "alpha speaker",
    "electronics 3",
    "deluxe robot",
    // three words
    "smart alpha 1",
    "e s 1",
    "books classic novel",
    // misses
    "zebra",
    "alpha zebra",
    "electronics kettle 9",
];

/// The sorted-list search that preceded the bitsets: one list is sliced; with more,
/// every match is visited to count the total, and each probe is a binary search.
fn sorted_list_search(lists: &[Vec<u32>], offset: usize, limit: usize) -> (usize, Vec<u32>) {
    if let [only] = lists {
        // One list: its length is the total, its slice the page.
        return (only.len(), only.iter().skip(offset).take(limit).copied().collect());
    }
    let mut lists: Vec<&Vec<u32>> = lists.iter().collect();
    lists.sort_by_key(|l| l.len());
    let (first, rest) = lists.split_first().expect("one list at least");
    let mut total = 0;
    let mut page = Vec::new();
    for &pos in first.iter() {
        if rest.iter().all(|l| l.binary_search(&pos).is_ok()) {
            if total >= offset && page.len() < limit {
                page.push(pos);
            }
            total += 1;
        }
    }
    (total, page)
}

/// The postings of each query token (prefix match on name and category tokens).
fn postings(products: &[Product], query: &str) -> Vec<Vec<u32>> {
    tokens(query)
        .map(|q| {
            products
                .iter()
                .enumerate()
                .filter(|(_, p)| tokens(&p.name).chain(tokens(&p.category)).any(|t| t.starts_with(&q)))
                .map(|(i, _)| i as u32)
                .collect()
        })
        .collect()
}

/// Median time per call of `f`, over 7 batches of at least 20 ms each.
fn time(mut f: impl FnMut()) -> Duration {
    let mut per_call = Vec::new();
    for _ in 0..7 {
        let mut n = 0u32;
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(20) {
            f();
            n += 1;
        }
        per_call.push(started.elapsed() / n);
    }
    per_call.sort();
    per_call[per_call.len() / 2]
}

fn main() {
    let products = generate(100_000);
    let index = Index::build(&products);
    println!("| query | matches | sorted lists µs | index µs | speedup |");
    println!("|---|---|---|---|---|");
    let mut worst: Option<(&str, Duration, Duration)> = None;
    for &q in QUERIES {
        let lists = postings(&products, q);
        let hits = index.search(&products, q, 0, 20);
        let (total, _) = if lists.iter().any(Vec::is_empty) {
            (0, vec![])
        } else {
            sorted_list_search(&lists, 0, 20)
        };
        assert_eq!(hits.total, total, "{q}: both count the same matches");
        let before = if lists.iter().any(Vec::is_empty) {
            Duration::ZERO
        } else {
            time(|| {
                black_box(sorted_list_search(black_box(&lists), 0, 20));
            })
        };
        let after = time(|| {
            black_box(index.search(&products, black_box(q), 0, 20).total);
        });
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| `{q}` | {total} | {:.1} | {:.2} | {:.0}x |",
            us(before),
            us(after),
            us(before) / us(after).max(1e-3)
        );
        if lists.len() > 1 && worst.is_none_or(|(_, b, _)| before > b) {
            worst = Some((q, before, after));
        }
    }
    if let Some((q, before, after)) = worst {
        println!(
            "\nworst multi-word query with sorted lists: `{q}`, {:.0} µs -> {:.2} µs ({:.0}x faster)",
            before.as_secs_f64() * 1e6,
            after.as_secs_f64() * 1e6,
            before.as_secs_f64() / after.as_secs_f64()
        );
    }
}
