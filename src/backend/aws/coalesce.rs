//! Requests that arrive together, answered by one call per group: the policies of a round
//! each ask for their service's counts at the same moment, and ECS answers up to 10
//! services of a cluster with one DescribeServices.
//!
//! The first request of a group leads: it waits until no other request has joined for a
//! moment (the round's tasks all start together), takes the group and makes the calls;
//! the others wait for their own answer only. A leader dropped before answering (its
//! policy's deadline passed) leaves its followers to try again, one of them leading.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

/// A group is sent once no request has joined it for this long...
const QUIET: Duration = Duration::from_millis(5);
/// ...or this long after its first request, whichever comes first.
const MOST: Duration = Duration::from_millis(50);

type Waiters<Q, A> = Vec<(Q, oneshot::Sender<A>)>;

pub struct Coalescer<Q, A> {
    pending: Mutex<HashMap<String, Waiters<Q, A>>>,
}

impl<Q, A> Default for Coalescer<Q, A> {
    fn default() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl<Q: Clone, A> Coalescer<Q, A> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiters<Q, A>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn waiting(&self, group: &str) -> usize {
        self.lock().get(group).map_or(0, Vec::len)
    }

    /// The answer to `request` in `group`. `call` answers a whole group, one answer per
    /// request in order; it runs in whichever request leads. None only if every try's
    /// leader was dropped before answering.
    pub async fn ask<F, Fut>(&self, group: &str, request: Q, call: F) -> Option<A>
    where
        F: Fn(Vec<Q>) -> Fut,
        Fut: Future<Output = Vec<A>>,
    {
        for _ in 0..3 {
            let (reply, answer) = oneshot::channel();
            let leads = {
                let mut pending = self.lock();
                let waiters = pending.entry(group.to_string()).or_default();
                waiters.push((request.clone(), reply));
                waiters.len() == 1
            };
            if leads {
                // Dropped while gathering (its policy's deadline), the leader takes the
                // group with it, so the others try again instead of waiting for a call
                // nobody will make, and later requests do not join a dead group.
                let gathering = Gathering { coalescer: self, group };
                let started = tokio::time::Instant::now();
                let mut seen = 1;
                loop {
                    tokio::time::sleep(QUIET).await;
                    let now = self.waiting(group);
                    if now == seen || started.elapsed() >= MOST {
                        break;
                    }
                    seen = now;
                }
                let waiters = self.lock().remove(group).unwrap_or_default();
                std::mem::forget(gathering);
                let (requests, replies): (Vec<Q>, Vec<oneshot::Sender<A>>) = waiters.into_iter().unzip();
                // Boxed: only the leader pays for the call's (large) future.
                let answers = Box::pin(call(requests)).await;
                for (reply, a) in replies.into_iter().zip(answers) {
                    let _ = reply.send(a);
                }
            }
            if let Ok(a) = answer.await {
                return Some(a);
            }
        }
        None
    }
}

/// A group whose leader is still gathering it.
struct Gathering<'a, Q, A> {
    coalescer: &'a Coalescer<Q, A>,
    group: &'a str,
}

impl<Q, A> Drop for Gathering<'_, Q, A> {
    fn drop(&mut self) {
        let mut pending = self.coalescer.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.remove(self.group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn requests_that_arrive_together_share_one_call_and_get_their_own_answer() {
        let c = Arc::new(Coalescer::<u32, u32>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..25)
            .map(|i| {
                let (c, calls) = (Arc::clone(&c), Arc::clone(&calls));
                tokio::spawn(async move {
                    c.ask("g", i, |qs: Vec<u32>| {
                        calls.fetch_add(1, Ordering::SeqCst);
                        async move { qs.iter().map(|q| q * 10).collect() }
                    })
                    .await
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Some(i as u32 * 10));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_leader_dropped_while_gathering_leaves_no_dead_group() {
        let c = Arc::new(Coalescer::<u32, u32>::default());
        let leader = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { c.ask("g", 1, |qs: Vec<u32>| async move { qs }).await })
        };
        tokio::task::yield_now().await;
        let follower = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { c.ask("g", 2, |qs: Vec<u32>| async move { qs }).await })
        };
        tokio::task::yield_now().await;
        leader.abort();
        let answer = tokio::time::timeout(Duration::from_secs(5), follower).await;
        assert_eq!(answer.unwrap().unwrap(), Some(2));
        let later = tokio::time::timeout(Duration::from_secs(5), c.ask("g", 3, |qs: Vec<u32>| async move { qs })).await;
        assert_eq!(later.unwrap(), Some(3));
    }

    #[tokio::test]
    async fn a_dropped_leader_leaves_the_others_to_try_again() {
        let c = Arc::new(Coalescer::<u32, u32>::default());
        let leader = {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                c.ask("g", 1, |_qs: Vec<u32>| async {
                    std::future::pending::<()>().await;
                    Vec::new()
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(1)).await;
        let follower = {
            let c = Arc::clone(&c);
            tokio::spawn(async move { c.ask("g", 2, |qs: Vec<u32>| async move { qs }).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        leader.abort();
        let answer = tokio::time::timeout(Duration::from_secs(5), follower).await;
        assert_eq!(answer.unwrap().unwrap(), Some(2));
    }
}
