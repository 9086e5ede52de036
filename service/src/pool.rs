//! The search workers: a fixed pool of threads behind an admission limit and a queue.
//!
//! HTTP is parsed and written on a separate, lightly loaded runtime; the work of each
//! request (search, serialization) runs here. So the time a request waits for a worker
//! is visible and measured (`search_queue_seconds`), and overload is refused before any
//! work is spent on it: past `max_in_flight` admitted requests, or once a request has
//! waited past the queue deadline, the answer is 503.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::telemetry;

/// Why a request got no worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `max_in_flight` requests were already admitted.
    Full,
    /// It waited in the queue past the deadline.
    Waited(Duration),
    /// The pool is shutting down.
    Stopped,
}

impl Refused {
    pub fn label(self) -> &'static str {
        match self {
            Refused::Full => "queue_full",
            Refused::Waited(_) => "deadline",
            Refused::Stopped => "stopped",
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Nice value of the search workers. The HTTP thread keeps the default, so that when
/// the CPU is contended it still reads each request the moment it arrives and the wait
/// happens in the queue, where it is measured, not in an unread socket. The workers
/// still get all the CPU the HTTP thread does not use.
const WORKER_NICE: i32 = 10;

/// Lowers the calling thread's priority (Linux: the nice value is per thread).
fn lower_priority() {
    // SAFETY: gettid has no preconditions; setpriority on our own thread id only
    // changes its scheduling weight, and raising the nice value needs no privilege.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, WORKER_NICE) != 0 {
            tracing::debug!("cannot lower the search workers' priority");
        }
    }
}

struct Shared {
    admitted: AtomicUsize,
    max_admitted: usize,
    deadline: Duration,
}

pub struct Pool {
    sender: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// Gives an admission back when the work is done or abandoned.
struct Admission(Arc<Shared>);

impl Drop for Admission {
    fn drop(&mut self) {
        let now = self.0.admitted.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics::gauge!(telemetry::IN_FLIGHT).set(now as f64);
    }
}

impl Pool {
    /// Starts `workers` threads. At most `max_in_flight` requests are admitted (running or
    /// queued); a request still queued after `deadline` is refused.
    pub fn start(workers: usize, max_in_flight: usize, deadline: Duration) -> Self {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new().name(format!("search-{i}")).spawn(move || {
                lower_priority();
                loop {
                    // The lock is held only while waiting: one idle worker waits on the
                    // channel, the others on the lock.
                    let next = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!("cannot start search worker {i}: {e}");
            }
        }
        Self {
            sender,
            shared: Arc::new(Shared {
                admitted: AtomicUsize::new(0),
                max_admitted: max_in_flight.max(1),
                deadline,
            }),
        }
    }

    /// Requests admitted and not yet finished.
    pub fn in_flight(&self) -> usize {
        self.shared.admitted.load(Ordering::Acquire)
    }

    /// Runs `work` on a worker, or says why it was refused.
    pub async fn run<R: Send + 'static>(&self, work: impl FnOnce() -> R + Send + 'static) -> Result<R, Refused> {
        let now = self.shared.admitted.fetch_add(1, Ordering::AcqRel) + 1;
        let admission = Admission(Arc::clone(&self.shared));
        if now > self.shared.max_admitted {
            return Err(Refused::Full);
        }
        metrics::gauge!(telemetry::IN_FLIGHT).set(now as f64);
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<R, Refused>>();
        let deadline = self.shared.deadline;
        let enqueued = Instant::now();
        let job: Job = Box::new(move || {
            let admission = admission;
            let waited = enqueued.elapsed();
            metrics::histogram!(telemetry::QUEUE).record(waited.as_secs_f64());
            if reply.is_closed() {
                // The client went away while queued: spend nothing on it.
                return;
            }
            let outcome = if waited > deadline {
                Err(Refused::Waited(waited))
            } else {
                Ok(work())
            };
            // The place is free once the work is done: before the answer is on its way,
            // so a client that gets its answer finds its place given back.
            drop(admission);
            let _ = reply.send(outcome);
        });
        if self.sender.send(job).is_err() {
            return Err(Refused::Stopped);
        }
        answer.await.unwrap_or(Err(Refused::Stopped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_a_worker_and_admission_is_given_back() {
        let pool = Pool::start(2, 4, Duration::from_secs(1));
        let name = pool
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("search-"));
        assert_eq!(pool.in_flight(), 0);
    }

    #[tokio::test]
    async fn past_the_limit_requests_are_refused_before_any_work() {
        let pool = Arc::new(Pool::start(1, 2, Duration::from_secs(5)));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let mut running = Vec::new();
        for _ in 0..2 {
            let (pool, gate) = (Arc::clone(&pool), Arc::clone(&gate));
            running.push(tokio::spawn(async move {
                pool.run(move || gate.lock().unwrap().recv().ok()).await
            }));
        }
        while pool.in_flight() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| ()).await, Err(Refused::Full));
        release.send(()).unwrap();
        release.send(()).unwrap();
        for r in running {
            assert!(r.await.unwrap().is_ok());
        }
        assert_eq!(pool.run(|| 7).await, Ok(7), "admission was given back");
    }

    #[tokio::test]
    async fn a_request_that_waited_past_the_deadline_is_refused() {
        let pool = Arc::new(Pool::start(1, 10, Duration::from_millis(20)));
        let blocker = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| std::thread::sleep(Duration::from_millis(100))).await })
        };
        while pool.in_flight() < 1 {
            tokio::task::yield_now().await;
        }
        let late = pool.run(|| ()).await;
        assert!(
            matches!(late, Err(Refused::Waited(w)) if w >= Duration::from_millis(20)),
            "{late:?}"
        );
        assert!(blocker.await.unwrap().is_ok());
    }
}
