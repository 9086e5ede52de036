//! Search over names and categories with token and prefix postings, so a query costs the
//! size of its answer page, not the size of the catalog.
//!
//! What matches: the query and each product's name and category are split into tokens
//! (runs of letters and digits, lower-cased). A product matches when every query token
//! is a prefix of one of its tokens, e.g. "alp" matches "Alpha", "elec" matches
//! "Electronics", "1" matches model 1 (and would match "12"). Results come in id order.

use std::collections::HashMap;

use crate::catalog::Product;

/// Prefixes longer than this are matched against the full-token postings only after
/// truncation, which keeps the index small; query tokens are truncated the same way and
/// then checked against the product itself.
const MAX_PREFIX: usize = 12;

pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
}

#[derive(Debug, Default)]
pub struct Index {
    /// Prefix (up to MAX_PREFIX chars) → positions into the catalog, ascending.
    postings: HashMap<String, Vec<u32>>,
}

pub struct Hits<'a> {
    pub total: usize,
    pub page: Vec<&'a Product>,
}

impl Index {
    pub fn build(products: &[Product]) -> Self {
        let mut index = Index::default();
        for (pos, p) in products.iter().enumerate() {
            index.add(pos as u32, p);
        }
        index
    }

    /// Adds a product at catalog position `pos`, which must be past every indexed one.
    pub fn add(&mut self, pos: u32, p: &Product) {
        for t in tokens(&p.name).chain(tokens(&p.category)) {
            let ends = t.char_indices().map(|(i, c)| i + c.len_utf8()).take(MAX_PREFIX);
            for end in ends {
                let prefix = &t[..end];
                // Allocate only for a prefix never seen before; most are already there.
                match self.postings.get_mut(prefix) {
                    // A product with the same prefix twice ("Alpha Alpine") is listed once.
                    Some(list) if list.last() == Some(&pos) => {}
                    Some(list) => list.push(pos),
                    None => {
                        self.postings.insert(prefix.to_string(), vec![pos]);
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
        if qt.is_empty() {
            return Hits { total: 0, page: vec![] };
        }
        let key = |t: &String| -> String { t.chars().take(MAX_PREFIX).collect() };
        let mut lists: Vec<&Vec<u32>> = Vec::with_capacity(qt.len());
        for t in &qt {
            match self.postings.get(&key(t)) {
                Some(l) => lists.push(l),
                None => return Hits { total: 0, page: vec![] },
            }
        }
        let long = qt.iter().any(|t| t.chars().count() > MAX_PREFIX);
        if lists.len() == 1 && !long {
            // The common case: one list, its length is the total, its slice the page.
            let list = lists[0];
            let page = list
                .iter()
                .skip(offset)
                .take(limit)
                .map(|&i| &products[i as usize])
                .collect();
            return Hits {
                total: list.len(),
                page,
            };
        }
        lists.sort_by_key(|l| l.len());
        let (first, rest) = lists.split_first().expect("at least one list");
        let mut total = 0;
        let mut page = Vec::new();
        for &pos in first.iter() {
            if rest.iter().all(|l| l.binary_search(&pos).is_ok())
                && (!long || Self::matches(&products[pos as usize], &qt))
            {
                if total >= offset && page.len() < limit {
                    page.push(&products[pos as usize]);
                }
                total += 1;
            }
        }
        Hits { total, page }
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
