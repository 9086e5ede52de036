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
        let thread = std::thread::Builder::new()
            .name("state-writer".into())
            .spawn(move || {
                for (snapshot, done) in snapshots {
                    let result = store.save(&snapshot);
                    let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
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
                    drop(s);
                    if let Some(done) = done {
                        let _ = done.send(());
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
