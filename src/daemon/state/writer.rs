//! Saves snapshots in order on a thread of its own, off the async runtime.

use std::sync::{Arc, Mutex, mpsc};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store::{STATE_BYTES, STATE_FAILURES, Snapshot, StateStore};

/// How saving has gone, for the status API and the metrics.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SaveStatus {
    pub saves: u64,
    pub failures: u64,
    pub last_bytes: u64,
    pub bytes_total: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
}

/// A snapshot to write, and whom to tell once it is written.
type Job = (Snapshot, Option<mpsc::Sender<()>>);

/// The next snapshot to write: the oldest queued, with the ones queued behind it at the
/// same epoch folded in (every snapshot holds every history, so the newest histories
/// stand for all of them; journal entries are kept, in order). A store slower than the
/// rounds then costs no memory: the queue never grows past one snapshot per epoch.
/// `carry` holds a snapshot of another epoch taken off the queue, for next time.
fn next(queue: &mpsc::Receiver<Job>, carry: &mut Option<Job>) -> Option<(Snapshot, Vec<mpsc::Sender<()>>)> {
    let (mut snapshot, done) = match carry.take() {
        Some(job) => job,
        None => queue.recv().ok()?,
    };
    let mut dones: Vec<mpsc::Sender<()>> = done.into_iter().collect();
    while let Ok((later, done)) = queue.try_recv() {
        if later.epoch != snapshot.epoch {
            *carry = Some((later, done));
            break;
        }
        for (key, entries) in later.appended {
            snapshot.appended.entry(key).or_default().extend(entries);
        }
        snapshot.histories = later.histories;
        snapshot.saved_at = later.saved_at;
        dones.extend(done);
    }
    Some((snapshot, dones))
}

fn save(store: &dyn StateStore, status: &Mutex<SaveStatus>, snapshot: &Snapshot) {
    let result = store.save(snapshot);
    let mut s = status.lock().unwrap_or_else(|p| p.into_inner());
    s.saves += 1;
    match result {
        Ok(bytes) => {
            s.last_bytes = bytes;
            s.bytes_total += bytes;
            metrics::counter!(STATE_BYTES).increment(bytes);
        }
        Err(e) => {
            tracing::error!("cannot save state: {e}");
            metrics::counter!(STATE_FAILURES).increment(1);
            s.failures += 1;
            s.last_error = Some(e);
            s.last_error_at = Some(snapshot.saved_at);
        }
    }
}

/// Saves snapshots in order on a thread of its own.
pub struct Writer {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    status: Arc<Mutex<SaveStatus>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Writer {
    pub fn start(store: Arc<dyn StateStore>) -> Self {
        let (queue, snapshots) = mpsc::channel::<Job>();
        let status = Arc::new(Mutex::new(SaveStatus::default()));
        let shared = Arc::clone(&status);
        let store = Arc::clone(&store);
        let thread = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || {
                let mut pending: Option<Job> = None;
                loop {
                    let Some((snapshot, done)) = next(&snapshots, &mut pending) else {
                        break;
                    };
                    save(store.as_ref(), &shared, &snapshot);
                    for d in done {
                        let _ = d.send(());
                    }
                }
            })
            .ok();
        Self {
            queue: Mutex::new(Some(queue)),
            status,
            thread: Mutex::new(thread),
        }
    }

    /// Takes a snapshot and queues it; returns at once. The snapshot is taken while the
    /// queue is held, so snapshots are written in the order they were taken even when
    /// two rounds finish together.
    pub fn save_with(&self, snapshot: impl FnOnce() -> Snapshot) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(q) = queue.as_ref() {
            let _ = q.send((snapshot(), None));
        }
    }

    /// Saves a last snapshot and waits for every queued one to be written.
    pub fn finish(&self, snapshot: Snapshot) {
        let (done, written) = mpsc::channel();
        if let Some(q) = self.queue.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = q.send((snapshot, Some(done)));
        }
        let _ = written.recv_timeout(std::time::Duration::from_secs(30));
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }

    pub fn status(&self) -> SaveStatus {
        self.status.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::daemon::registry::{JournalEntry, Retained};
    use crate::daemon::state::Loaded;

    /// A store that takes 100 ms per save and remembers what it was given.
    #[derive(Default)]
    struct Slow {
        saved: Mutex<Vec<Snapshot>>,
    }

    impl StateStore for Slow {
        fn load(&self) -> Loaded {
            Loaded::Missing
        }
        fn save(&self, snapshot: &Snapshot) -> Result<u64, String> {
            std::thread::sleep(std::time::Duration::from_millis(100));
            self.saved.lock().unwrap().push(snapshot.clone());
            Ok(1)
        }
        fn describe(&self) -> String {
            "slow".into()
        }
        fn journal(&self, _: &str) -> Result<VecDeque<JournalEntry>, String> {
            Ok(VecDeque::new())
        }
    }

    fn snapshot(i: u32, epoch: Option<u64>) -> Snapshot {
        let entry = serde_json::from_value::<JournalEntry>(serde_json::json!({
            "decision": serde_json::to_value(autoscaler_core::decide::decide(
                &autoscaler_core::policy::parse(
                    std::path::Path::new("p.toml"),
                    "min = 1\nmax = 3\n[target]\nbackend = \"sim\"\nservice = \"s\"\n[[rule]]\nname = \"c\"\nmetric = \"ecs_cpu\"\ntarget = 70\n",
                )
                .unwrap(),
                &autoscaler_core::decide::Observation {
                    capacity: autoscaler_core::decide::Capacity {
                        desired: i,
                        running: i,
                        pending: 0,
                        deployment_in_progress: false,
                        revision: 0,
                    },
                    metrics: Default::default(),
                    withheld: None,
                },
                &Default::default(),
                chrono::Utc::now(),
            ))
            .unwrap(),
            "explanation": format!("round {i}"),
            "applied": false,
            "error": null,
        }))
        .unwrap();
        let mut s = Snapshot {
            epoch,
            ..Snapshot::default()
        };
        s.histories.insert(
            "sim/s".into(),
            Retained {
                name: format!("v{i}"),
                ..Retained::default()
            },
        );
        s.appended.insert("sim/s".into(), vec![entry]);
        s
    }

    #[test]
    fn a_slow_store_gets_the_queue_folded_losing_no_journal_entry_and_mixing_no_epochs() {
        let store = Arc::new(Slow::default());
        let writer = Writer::start(Arc::clone(&store) as Arc<dyn StateStore>);
        for i in 0..10 {
            writer.save_with(|| snapshot(i, Some(1)));
        }
        writer.save_with(|| snapshot(10, Some(2)));
        writer.finish(snapshot(11, Some(2)));
        let saved = store.saved.lock().unwrap();
        assert!(saved.len() <= 4, "{} saves for 12 snapshots", saved.len());
        let rounds: Vec<String> = saved
            .iter()
            .flat_map(|s| s.appended["sim/s"].iter().map(|e| e.explanation.clone()))
            .collect();
        let expected: Vec<String> = (0..12).map(|i| format!("round {i}")).collect();
        assert_eq!(rounds, expected, "every entry once, in order");
        assert!(
            saved.iter().all(|s| s.appended["sim/s"].iter().all(|e| {
                let i: u32 = e.explanation.trim_start_matches("round ").parse().unwrap();
                (i >= 10) == (s.epoch == Some(2))
            })),
            "no entry is saved under another epoch's snapshot"
        );
        assert_eq!(
            saved.last().unwrap().histories["sim/s"].name,
            "v11",
            "the newest histories last"
        );
    }
}
