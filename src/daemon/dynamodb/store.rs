//! Histories and journals as DynamoDB items. A history is written with a condition on
//! the writer's lease epoch, and only when it changes in a way a successor needs
//! (cooldowns, the baseline, what was learned) or once a minute otherwise; a journal entry
//! is an item of its own with a TTL, never rewritten.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};

use super::table::{Table, describe};
use crate::daemon::registry::{JournalEntry, Retained};
use crate::daemon::state::{Loaded, Snapshot, StateStore};

/// A history whose only changes are the round's bookkeeping is written this often.
const CHECKPOINT: Duration = Duration::from_secs(60);

/// Requests in flight at once when many targets are written or read.
const CONCURRENCY: usize = 16;

/// BatchWriteItem takes at most this many items.
const BATCH: usize = 25;

pub struct DynamoStore {
    /// The store is called from the state writer's thread and at start; it runs its own
    /// calls on a runtime of its own, so neither needs to be inside one. (An Option only
    /// so that `drop` can shut it down without blocking.)
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    table: Table,
    journal_size: usize,
    /// By target key: the hashes last written and when.
    written: Mutex<HashMap<String, Written>>,
    /// By target key: when a "hold" was last journaled.
    held: Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>,
}

impl Drop for DynamoStore {
    fn drop(&mut self) {
        // Dropped at the end of the async main: a runtime may not block-drop there.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[derive(Clone, Copy)]
struct Written {
    durable: u64,
    full: u64,
    at: Instant,
}

impl DynamoStore {
    pub fn new(client: Client, table: Table, journal_size: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Self {
            runtime: Some(runtime),
            client,
            table,
            journal_size: journal_size.max(1),
            written: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
        })
    }

    /// Runs `f` to completion on the store's runtime, from any thread (also one inside
    /// another runtime, where blocking in place is not allowed).
    fn block_on<T: Send, F: std::future::Future<Output = T>>(&self, make: impl FnOnce() -> F + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| match &self.runtime {
                Some(rt) => rt.block_on(make()),
                None => unreachable!("the runtime lives until the store is dropped"),
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    async fn load_all(&self) -> Result<BTreeMap<String, Retained>, String> {
        let items: Vec<HashMap<String, AttributeValue>> = self
            .client
            .query()
            .table_name(&self.table.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(self.table.history_pk()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| describe("Query (histories)", &e).0)?;
        let mut targets = BTreeMap::new();
        for item in items {
            let key = item.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let body = item.get("body").and_then(|v| v.as_s().ok());
            match body.map(|b| serde_json::from_str::<Retained>(b)) {
                Some(Ok(retained)) => {
                    targets.insert(key, retained);
                }
                // One unreadable target starts fresh (conservatively); the others keep theirs.
                Some(Err(e)) => {
                    tracing::error!(target = %key, "stored history unreadable ({e}); this target starts fresh")
                }
                None => tracing::error!(target = %key, "stored history has no body; this target starts fresh"),
            }
        }
        // Journals are for people; a journal that cannot be read now starts empty rather
        // than keeping the histories (what decisions need) from being restored.
        let journals: Vec<(String, VecDeque<JournalEntry>)> = futures::stream::iter(targets.keys().cloned())
            .map(|key| async move {
                let journal = self.journal(&key).await.unwrap_or_else(|e| {
                    tracing::warn!(target = %key, "{e}; its journal starts empty");
                    VecDeque::new()
                });
                (key, journal)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (key, journal) in journals {
            if let Some(t) = targets.get_mut(&key) {
                t.journal = journal;
            }
        }
        Ok(targets)
    }

    /// The newest `journal_size` entries of a target, oldest first.
    async fn journal(&self, key: &str) -> Result<VecDeque<JournalEntry>, String> {
        let out = self
            .client
            .query()
            .table_name(&self.table.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(self.table.journal_pk(key)))
            .scan_index_forward(false)
            .limit(self.journal_size as i32)
            .send()
            .await
            .map_err(|e| describe("Query (journal)", &e).0)?;
        let mut journal: VecDeque<JournalEntry> = out
            .items()
            .iter()
            .filter_map(|i| i.get("body").and_then(|v| v.as_s().ok()))
            .filter_map(|b| serde_json::from_str(b).ok())
            .collect();
        journal.make_contiguous().reverse();
        Ok(journal)
    }

    async fn put_history(&self, key: &str, body: String, epoch: u64, saved_at: i64) -> Result<u64, String> {
        let bytes = body.len() as u64;
        let result = self
            .client
            .put_item()
            .table_name(&self.table.table)
            .item("pk", AttributeValue::S(self.table.history_pk()))
            .item("sk", AttributeValue::S(key.to_string()))
            .item("body", AttributeValue::S(body))
            .item("epoch", AttributeValue::N(epoch.to_string()))
            .item("saved_at_ms", AttributeValue::N(saved_at.to_string()))
            // A leader that lost its lease never overwrites what its successor wrote.
            .condition_expression("attribute_not_exists(epoch) OR epoch <= :epoch")
            .expression_attribute_values(":epoch", AttributeValue::N(epoch.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(bytes),
            Err(e) => match describe("PutItem (history)", &e) {
                (_, true) => Err(format!(
                    "the history of {key} was written by a later leader than epoch {epoch}: this daemon no longer leads"
                )),
                (reason, false) => Err(reason),
            },
        }
    }

    async fn put_journal(&self, key: &str, entries: &[JournalEntry]) -> Result<u64, String> {
        let expires = (chrono::Utc::now() + autoscaler_core::time::to_chrono(self.table.journal_ttl))
            .timestamp()
            .to_string();
        let mut written = 0u64;
        let mut requests = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let body = serde_json::to_string(e).map_err(|e| e.to_string())?;
            written += body.len() as u64;
            let item = PutRequest::builder()
                .item("pk", AttributeValue::S(self.table.journal_pk(key)))
                .item(
                    "sk",
                    AttributeValue::S(format!(
                        "{}#{i:04}",
                        e.decision.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    )),
                )
                .item("body", AttributeValue::S(body))
                .item("expires", AttributeValue::N(expires.clone()))
                .build()
                .map_err(|e| e.to_string())?;
            requests.push(WriteRequest::builder().put_request(item).build());
        }
        for chunk in requests.chunks(BATCH) {
            let mut pending: HashMap<String, Vec<WriteRequest>> =
                HashMap::from([(self.table.table.clone(), chunk.to_vec())]);
            // Unprocessed items (throttling) are sent again a few times, then reported.
            for attempt in 0..5 {
                let out = self
                    .client
                    .batch_write_item()
                    .set_request_items(Some(pending))
                    .send()
                    .await
                    .map_err(|e| describe("BatchWriteItem (journal)", &e).0)?;
                pending = out.unprocessed_items.unwrap_or_default();
                pending.retain(|_, v| !v.is_empty());
                if pending.is_empty() {
                    break;
                }
                if attempt == 4 {
                    return Err(format!(
                        "journal of {key}: DynamoDB left items unprocessed after 5 attempts"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(written)
    }
}

impl DynamoStore {
    /// The entries to journal: every action and every failure, and a hold at most once a
    /// minute per target (a hold every 10 s for 1,000 services would be most of the
    /// table's bill; the status API still shows every decision of the daemon it asks).
    fn worth_keeping(&self, key: &str, entries: &[JournalEntry]) -> Vec<JournalEntry> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .iter()
            .filter(|e| {
                let at = e.decision.at;
                let quiet = e.decision.action == autoscaler_core::decide::Action::Hold && e.error.is_none();
                if !quiet {
                    return true;
                }
                let due = held
                    .get(key)
                    .is_none_or(|last| at < *last || at - *last >= autoscaler_core::time::to_chrono(CHECKPOINT));
                if due {
                    held.insert(key.to_string(), at);
                }
                due
            })
            .cloned()
            .collect()
    }
}

fn hash(text: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// What a successor needs at once: the history without the bookkeeping every round
/// changes. A successor re-observes a whole stabilization window before scaling in (see
/// `Daemon::take_over`), so the round's recommendations can wait for the checkpoint.
fn durable(r: &Retained) -> String {
    let mut h = r.history.clone();
    h.recommendations.clear();
    h.last_evaluated = None;
    h.observed_since = None;
    h.serving = None;
    h.blind_since = None;
    serde_json::to_string(&(&r.name, &h)).unwrap_or_default()
}

impl StateStore for DynamoStore {
    fn load(&self) -> Loaded {
        match self.block_on(|| self.load_all()) {
            Ok(t) if t.is_empty() => Loaded::Missing,
            Ok(t) => {
                let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
                for (key, r) in &t {
                    let full = serde_json::to_string(r).unwrap_or_default();
                    written.insert(
                        key.clone(),
                        Written {
                            durable: hash(&durable(r)),
                            full: hash(&full),
                            at: Instant::now(),
                        },
                    );
                }
                Loaded::Restored(t)
            }
            Err(e) => Loaded::Corrupt(format!("cannot read the state from DynamoDB: {e}")),
        }
    }

    fn save(&self, snapshot: &Snapshot) -> Result<u64, String> {
        // Only a leader writes; a follower's copy is stale by definition.
        let Some(epoch) = snapshot.epoch else {
            return Ok(0);
        };
        let saved_at = snapshot.saved_at.timestamp_millis();
        let due: Vec<(String, String, Written)> = {
            let written = self.written.lock().unwrap_or_else(|p| p.into_inner());
            snapshot
                .histories
                .iter()
                .filter_map(|(key, r)| {
                    let body = serde_json::to_string(r).ok()?;
                    let now = Written {
                        durable: hash(&durable(r)),
                        full: hash(&body),
                        at: Instant::now(),
                    };
                    let write = match written.get(key) {
                        None => true,
                        Some(w) => w.durable != now.durable || (w.full != now.full && w.at.elapsed() >= CHECKPOINT),
                    };
                    write.then(|| (key.clone(), body, now))
                })
                .collect()
        };
        self.block_on(|| async move {
            let histories: Vec<(String, Written, u64)> = futures::stream::iter(due)
                .map(|(key, body, w)| async move {
                    let bytes = self.put_history(&key, body, epoch, saved_at).await?;
                    Ok::<_, String>((key, w, bytes))
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            let mut total: u64 = 0;
            {
                let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
                for (key, w, bytes) in histories {
                    written.insert(key, w);
                    total += bytes;
                }
            }
            let appended: Vec<(&String, Vec<JournalEntry>)> = snapshot
                .appended
                .iter()
                .map(|(key, entries)| (key, self.worth_keeping(key, entries)))
                .filter(|(_, entries)| !entries.is_empty())
                .collect();
            let journals: Vec<u64> = futures::stream::iter(appended.iter())
                .map(|(key, entries)| self.put_journal(key, entries))
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            Ok(total + journals.iter().sum::<u64>())
        })
    }

    fn describe(&self) -> String {
        format!("dynamodb {} ({})", self.table.table, self.table.history_pk())
    }

    fn journal(&self, key: &str) -> Result<VecDeque<JournalEntry>, String> {
        self.block_on(|| DynamoStore::journal(self, key))
    }

    fn record_before_acting(&self, key: &str, target: &Retained, epoch: u64) -> Result<(), String> {
        let body = serde_json::to_string(target).map_err(|e| e.to_string())?;
        let written = Written {
            durable: hash(&durable(target)),
            full: hash(&body),
            at: Instant::now(),
        };
        let saved_at = chrono::Utc::now().timestamp_millis();
        self.block_on(|| async move { self.put_history(key, body, epoch, saved_at).await })?;
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), written);
        Ok(())
    }
}
