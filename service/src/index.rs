//! Search over names and categories with token and prefix postings.
//!
//! What matches: the query and each product's name and category are split into tokens
//! (runs of letters and digits, lower-cased). A product matches when every query token
//! is a prefix of one of its tokens, e.g. "alp" matches "Alpha", "elec" matches
//! "Electronics", "1" matches model 1 (and would match "12"). Results come in id order.
//!
//! Cost: a posting list that covers more than 1/64 of the catalog is kept as a bitset,
//! a shorter one as a sorted list. A multi-word query is then either a word-wise AND of
//! bitsets (at most catalog/64 words, whatever the lists' lengths) or a walk of one short
//! list probing the others, so no query costs more than a few thousand cheap steps,
//! and `total` stays exact.

use std::collections::HashMap;

use crate::catalog::Product;

/// Prefixes longer than this are matched against the full-token postings only after
/// truncation, which keeps the index small; query tokens are truncated the same way and
/// then checked against the product itself.
const MAX_PREFIX: usize = 12;

/// A list longer than catalog / DENSE_RATIO is kept as a bitset: at that length a bitset
/// takes no more memory than 64-bit positions would, and makes intersections word-wise.
const DENSE_RATIO: usize = 64;

pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

/// The catalog positions whose product has a token starting with one prefix.
#[derive(Debug, Clone, PartialEq)]
enum Postings {
    /// Ascending positions.
    Sparse(Vec<u32>),
    /// Bit `pos` set for each position; `count` bits are set.
    Dense { words: Vec<u64>, count: usize },
}

impl Postings {
    fn len(&self) -> usize {
        match self {
            Postings::Sparse(list) => list.len(),
            Postings::Dense { count, .. } => *count,
        }
    }

    /// Adds `pos`, which is at or past every position already listed.
    fn push(&mut self, pos: u32) {
        match self {
            Postings::Sparse(list) => {
                if list.last() != Some(&pos) {
                    list.push(pos);
                }
            }
            Postings::Dense { words, count } => {
                let (w, bit) = (pos as usize / 64, pos % 64);
                if words.len() <= w {
                    words.resize(w + 1, 0);
                }
                if words[w] & (1 << bit) == 0 {
                    words[w] |= 1 << bit;
                    *count += 1;
                }
            }
        }
    }

    /// Turns a sparse list into a bitset once it covers enough of a catalog of `size`.
    fn densify(&mut self, size: usize) {
        if let Postings::Sparse(list) = self
            && list.len() * DENSE_RATIO > size
        {
            let mut words = vec![0u64; size.div_ceil(64)];
            for &pos in list.iter() {
                words[pos as usize / 64] |= 1 << (pos % 64);
            }
            *self = Postings::Dense {
                count: list.len(),
                words,
            };
        }
    }
}

/// Membership tests against one list, for positions asked in ascending order.
enum Probe<'a> {
    Sparse { list: &'a [u32], at: usize },
    Dense(&'a [u64]),
}

impl Probe<'_> {
    fn contains(&mut self, pos: u32) -> bool {
        match self {
            Probe::Dense(words) => words.get(pos as usize / 64).is_some_and(|w| w & (1 << (pos % 64)) != 0),
            Probe::Sparse { list, at } => {
                // Gallop from the last position found: ascending probes make this cheap.
                let rest = &list[*at..];
                let mut step = 1;
                while step < rest.len() && rest[step] < pos {
                    step *= 2;
                }
                let window = &rest[..rest.len().min(step + 1)];
                match window.binary_search(&pos) {
                    Ok(i) => {
                        *at += i;
                        true
                    }
                    Err(i) => {
                        *at += i;
                        false
                    }
                }
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Index {
    /// Prefix (up to MAX_PREFIX chars) → positions into the catalog.
    postings: HashMap<String, Postings>,
    /// Products indexed (the catalog's size).
    size: usize,
}

pub struct Hits<'a> {
    pub total: usize,
    pub page: Vec<&'a Product>,
}

/// Counts matches in position order and keeps those inside the requested page.
struct Page {
    offset: usize,
    limit: usize,
    total: usize,
    positions: Vec<u32>,
}

impl Page {
    fn new(offset: usize, limit: usize) -> Self {
        Self {
            offset,
            limit,
            total: 0,
            positions: Vec::with_capacity(limit.min(100)),
        }
    }

    fn push(&mut self, pos: u32) {
        if self.total >= self.offset && self.positions.len() < self.limit {
            self.positions.push(pos);
        }
        self.total += 1;
    }
}

/// The page `offset..offset + limit` of the set bits of `words`, skipping whole words by
/// their population count.
fn page_of_bits(words: &[u64], offset: usize, limit: usize) -> Vec<u32> {
    let mut seen = 0usize;
    let mut page = Vec::with_capacity(limit.min(100));
    for (w, &bits) in words.iter().enumerate() {
        if page.len() >= limit {
            break;
        }
        let n = bits.count_ones() as usize;
        if seen + n <= offset {
            seen += n;
            continue;
        }
        let mut b = bits;
        while b != 0 && page.len() < limit {
            if seen >= offset {
                page.push((w * 64) as u32 + b.trailing_zeros());
            }
            seen += 1;
            b &= b - 1;
        }
    }
    page
}

impl Index {
    pub fn build(products: &[Product]) -> Self {
        let mut index = Index::default();
        for (pos, p) in products.iter().enumerate() {
            index.insert(pos as u32, p);
        }
        index.size = products.len();
        for list in index.postings.values_mut() {
            list.densify(index.size);
        }
        index
    }

    /// Adds a product at catalog position `pos`, which must be past every indexed one.
    pub fn add(&mut self, pos: u32, p: &Product) {
        self.size = (pos as usize + 1).max(self.size);
        self.insert(pos, p);
        for t in tokens(&p.name).chain(tokens(&p.category)) {
            for prefix in prefixes(&t) {
                if let Some(list) = self.postings.get_mut(prefix) {
                    list.densify(self.size);
                }
            }
        }
    }

    /// Lists `pos` under every prefix of the product's tokens.
    fn insert(&mut self, pos: u32, p: &Product) {
        for t in tokens(&p.name).chain(tokens(&p.category)) {
            for prefix in prefixes(&t) {
                // Allocate only for a prefix never seen before; most are already there.
                match self.postings.get_mut(prefix) {
                    Some(list) => list.push(pos),
                    None => {
                        self.postings.insert(prefix.to_string(), Postings::Sparse(vec![pos]));
                    }
                }
            }
        }
    }

    fn matches(p: &Product, query_tokens: &[String]) -> bool {
        query_tokens.iter().all(|q| {
            tokens(&p.name)
                .chain(tokens(&p.category))
                .any(|t| t.starts_with(q.as_str()))
        })
    }

    pub fn search<'a>(&self, products: &'a [Product], query: &str, offset: usize, limit: usize) -> Hits<'a> {
        let mut qt: Vec<String> = tokens(query).collect();
        qt.sort();
        qt.dedup();
        let empty = Hits { total: 0, page: vec![] };
        if qt.is_empty() {
            return empty;
        }
        let key = |t: &String| -> String { t.chars().take(MAX_PREFIX).collect() };
        let mut lists: Vec<&Postings> = Vec::with_capacity(qt.len());
        for t in &qt {
            match self.postings.get(&key(t)) {
                Some(l) => lists.push(l),
                None => return empty,
            }
        }
        lists.sort_by_key(|l| l.len());
        let long = qt.iter().any(|t| t.chars().count() > MAX_PREFIX);
        let verify = |pos: u32| !long || Self::matches(&products[pos as usize], &qt);
        let mut page = Page::new(offset, limit);
        // Any sorted list drives (it is short by construction: at most catalog/64); only
        // when every list is a bitset are they ANDed. A bitset can be shorter than a
        // sorted list once the catalog has grown, so the shortest list is not enough.
        if let Some(i) = lists.iter().position(|l| matches!(l, Postings::Sparse(_))) {
            let driver = lists.remove(i);
            lists.insert(0, driver);
        }
        match lists[0] {
            Postings::Sparse(first) => {
                let mut probes: Vec<Probe> = lists[1..].iter().map(|l| probe(l)).collect();
                if probes.is_empty() && !long {
                    // The common case: one list, its length is the total, its slice the page.
                    page.total = first.len();
                    page.positions = first.iter().skip(offset).take(limit).copied().collect();
                } else {
                    for &pos in first {
                        if probes.iter_mut().all(|p| p.contains(pos)) && verify(pos) {
                            page.push(pos);
                        }
                    }
                }
            }
            Postings::Dense { words: first, count } => {
                if lists.len() == 1 && !long {
                    // One list: its count is the total; only the page is extracted.
                    page.total = *count;
                    page.positions = page_of_bits(first, offset, limit);
                } else {
                    // Every list is a bitset (a sorted one would have driven): AND them.
                    let mut acc = first.clone();
                    for list in &lists[1..] {
                        if let Postings::Dense { words, .. } = list {
                            acc.truncate(words.len());
                            for (a, b) in acc.iter_mut().zip(words) {
                                *a &= b;
                            }
                        }
                    }
                    if long {
                        for (w, bits) in acc.iter_mut().enumerate() {
                            let mut b = *bits;
                            while b != 0 {
                                let bit = b.trailing_zeros();
                                if !verify((w * 64) as u32 + bit) {
                                    *bits &= !(1 << bit);
                                }
                                b &= b - 1;
                            }
                        }
                    }
                    page.total = acc.iter().map(|w| w.count_ones() as usize).sum();
                    page.positions = page_of_bits(&acc, offset, limit);
                }
            }
        }
        Hits {
            total: page.total,
            page: page.positions.iter().map(|&i| &products[i as usize]).collect(),
        }
    }
}

/// The prefixes of a token that are indexed: up to MAX_PREFIX characters.
fn prefixes(token: &str) -> impl Iterator<Item = &str> {
    token
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take(MAX_PREFIX)
        .map(move |end| &token[..end])
}

fn probe(list: &Postings) -> Probe<'_> {
    match list {
        Postings::Sparse(l) => Probe::Sparse { list: l, at: 0 },
        Postings::Dense { words, .. } => Probe::Dense(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ORIGINAL_TERMS, generate};

    fn brute(products: &[Product], q: &str) -> Vec<u64> {
        let qt: Vec<String> = tokens(q).collect();
        products
            .iter()
            .filter(|p| !qt.is_empty() && Index::matches(p, &qt))
            .map(|p| p.id)
            .collect()
    }

    #[test]
    fn agrees_with_a_brute_force_scan() {
        let products = generate(3000);
        let index = Index::build(&products);
        let terms = ORIGINAL_TERMS.into_iter().chain([
            "ALPHA speaker",
            "elec 2",
            "alp",
            "zzz",
            "Deluxe Gamma Robot",
            "electronicsxxxxxxxxx",
        ]);
        for q in terms {
            let expected = brute(&products, q);
            let hits = index.search(&products, q, 0, usize::MAX);
            let got: Vec<u64> = hits.page.iter().map(|p| p.id).collect();
            assert_eq!(got, expected, "query {q:?}");
            assert_eq!(hits.total, expected.len());
            let paged = index.search(&products, q, 5, 7);
            assert_eq!(
                paged.page.iter().map(|p| p.id).collect::<Vec<_>>(),
                expected.iter().skip(5).take(7).copied().collect::<Vec<_>>()
            );
        }
    }

    /// Queries of every shape the index distinguishes: one to three words, prefixes of
    /// every length, model numbers, misses, over-long tokens, repeated words.
    fn query_family(rng: &mut impl rand::Rng, n: usize) -> Vec<String> {
        let vocabulary = [
            "alpha",
            "beta",
            "gamma",
            "delta",
            "epsilon",
            "omega",
            "sigma",
            "electronics",
            "books",
            "home",
            "sports",
            "toys",
            "garden",
            "grocery",
            "office",
            "product",
            "compact",
            "deluxe",
            "smart",
            "speaker",
            "lamp",
            "robot",
            "drone",
            "1",
            "2",
            "3",
            "9",
            "zebra",
        ];
        (0..n)
            .map(|_| {
                let words = rng.random_range(1..=3);
                (0..words)
                    .map(|_| {
                        let w = vocabulary[rng.random_range(0..vocabulary.len())];
                        match rng.random_range(0..6) {
                            0 => w[..rng.random_range(1..=w.len())].to_string(),
                            1 => format!("{w}xxxxxxxxxxxx"),
                            2 => w.to_uppercase(),
                            _ => w.to_string(),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn every_query_shape_agrees_with_a_brute_force_scan_also_as_the_catalog_grows() {
        use rand::{Rng, SeedableRng};
        for seed in 0..4u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut products = generate(4000);
            let mut index = Index::build(&products);
            // Grow the catalog so that some sparse lists turn dense on the way.
            for extra in 0..200u64 {
                let mut p = products[rng.random_range(0..products.len())].clone();
                p.id = products.len() as u64 + 1;
                p.name = format!("Zebra {} {}", p.name, extra % 3);
                index.add(products.len() as u32, &p);
                products.push(p);
            }
            for q in query_family(&mut rng, 300) {
                let expected = brute(&products, &q);
                let (offset, limit) = (rng.random_range(0..50), rng.random_range(1..40));
                let hits = index.search(&products, &q, offset, limit);
                assert_eq!(hits.total, expected.len(), "total for {q:?} (seed {seed})");
                let got: Vec<u64> = hits.page.iter().map(|p| p.id).collect();
                let want: Vec<u64> = expected.iter().skip(offset).take(limit).copied().collect();
                assert_eq!(got, want, "page of {q:?} at {offset}+{limit} (seed {seed})");
            }
        }
    }

    #[test]
    fn a_bitset_shorter_than_a_sorted_list_still_honours_the_sorted_list() {
        // Built at 6,400 products, "rare" (101 entries, more than 6,400/64) is a bitset;
        // after the catalog doubles, "zeta" has 150 entries, under 12,800/64, and stays a
        // sorted list, although it is longer than "rare" (121 entries).
        let mut products = generate(6_400);
        for (i, p) in products.iter_mut().enumerate().take(101) {
            p.name = format!("Rare Item {i}");
        }
        let mut index = Index::build(&products);
        assert!(matches!(index.postings["rare"], Postings::Dense { .. }));
        // The 150 "zeta" products come last, when the catalog is large enough for a
        // list of 150 to stay sorted; 20 of them are also "rare".
        for i in 0..6_400u32 {
            let mut p = products[(i % 6_400) as usize + 200].clone();
            p.id = products.len() as u64 + 1;
            if i >= 6_250 {
                p.name = format!("Zeta {i}");
            }
            if i >= 6_380 {
                p.name = format!("Zeta Rare {i}");
            }
            index.add(products.len() as u32, &p);
            products.push(p);
        }
        assert_eq!(brute(&products, "rare zeta").len(), 20);
        assert!(matches!(index.postings["zeta"], Postings::Sparse(_)));
        assert!(index.postings["zeta"].len() > index.postings["rare"].len());
        let expected = brute(&products, "rare zeta");
        let hits = index.search(&products, "rare zeta", 0, 1000);
        assert_eq!(hits.total, expected.len());
        assert_eq!(hits.page.iter().map(|p| p.id).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn long_lists_are_bitsets_and_short_ones_sorted_lists() {
        let mut products = generate(10_000);
        let mut index = Index::build(&products);
        let mut rare = products[0].clone();
        rare.name = "Quokka Lamp".into();
        rare.id = 10_001;
        index.add(10_000, &rare);
        products.push(rare);
        assert!(matches!(index.postings["e"], Postings::Dense { .. }));
        assert!(matches!(index.postings["quokka"], Postings::Sparse(_)));
        let dense_words: usize = index
            .postings
            .values()
            .map(|p| match p {
                Postings::Dense { words, .. } => words.len(),
                Postings::Sparse(_) => 0,
            })
            .max()
            .unwrap_or(0);
        assert_eq!(dense_words, 10_001usize.div_ceil(64));
        assert_eq!(index.search(&products, "quokka lamp", 0, 5).total, 1);
    }

    #[test]
    fn the_fourteen_terms_match_sets_of_different_sizes() {
        let products = generate(100_000);
        let index = Index::build(&products);
        let sizes: Vec<usize> = ORIGINAL_TERMS
            .iter()
            .map(|q| index.search(&products, q, 0, 0).total)
            .collect();
        assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");
        let mut distinct = sizes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), sizes.len(), "all different: {sizes:?}");
    }
}
