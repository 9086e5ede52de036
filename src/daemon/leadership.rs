//! Who acts, when several daemons run for one set of policies: the one holding a lease in
//! the state store. Only the leader reads metrics, decides and scales; followers keep the
//! status API up, report who leads, and take over when the lease lapses.
//!
//! The lease is a record {holder, epoch, expires_at}. Taking it (free, or lapsed by the
//! taker's clock) raises the epoch; renewing needs holder and epoch unchanged. A leader
//! acts only while its last renewal is younger than the TTL less a margin, measured on its
//! own monotonic clock from when it *sent* the renewal, so it stops before anyone else may
//! take over. Before every `UpdateService` it renews once more (the fence): only a renewal
//! that succeeds at the round's epoch lets it act, so a leader paused past the TTL whose
//! lease was taken, or one cut off from the store, does not act.
//!
//! What remains: ECS has no conditional update, so a leader that passed the fence and is
//! then paused between the fence and the call can still land one `UpdateService` after a
//! successor took over, within the call's time after the fence, retries included (the
//! aws settings' `call_timeout` × `max_attempts`).
//! The successor sees it as an outside change on its next round and takes it as the
//! baseline; it cannot repeat.

use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use tokio::time::Instant;

/// The lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseRecord {
    pub holder: String,
    pub epoch: u64,
    /// Wall-clock milliseconds since the epoch at which it lapses unless renewed.
    pub expires_at_ms: i64,
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// We hold it, at this epoch.
    Held(LeaseRecord),
    /// Someone else holds it (or our epoch is gone).
    TakenBy(LeaseRecord),
}

/// Where the lease lives (DynamoDB; an in-memory one in tests).
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes the lease for `me` if it is free or lapsed at `now_ms` (`held` is None), or
    /// renews it if `me` still holds it at epoch `held`. Either way it then lapses at
    /// `now_ms + ttl`.
    fn claim<'a>(
        &'a self,
        me: &'a str,
        held: Option<u64>,
        now_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, String>>;
    /// Lets the lease lapse now if `me` holds it at `epoch` (a clean shutdown), so a
    /// follower takes over at its next claim instead of after the TTL.
    fn release<'a>(&'a self, me: &'a str, epoch: u64) -> BoxFuture<'a, Result<(), String>>;
    fn describe(&self) -> String;
}

/// This daemon's part, as the status API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "role")]
pub enum Role {
    /// No lease: the only daemon (file state store).
    Single,
    Leader {
        epoch: u64,
    },
    /// Someone else leads; `leader` is None when nobody holds a valid lease we know of.
    Follower {
        leader: Option<String>,
        /// Why this daemon does not lead, when it is not simply someone else's turn.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// A leader stops acting this long before its lease can lapse: room for the renewal's
/// own latency and for clocks that disagree a little.
fn margin(ttl: Duration) -> Duration {
    (ttl / 5).max(Duration::from_millis(500))
}

/// How often the lease is claimed or renewed.
pub fn renew_every(ttl: Duration) -> Duration {
    ttl / 3
}

struct State {
    role: Role,
    /// While leading: the epoch held and until when acting is allowed (monotonic).
    held: Option<(u64, Instant)>,
}

/// The leadership of one daemon.
pub struct Leadership {
    store: Box<dyn LeaseStore>,
    me: String,
    ttl: Duration,
    state: Mutex<State>,
    /// One claim at a time: the lease task's and a fence's would otherwise race, and a
    /// refused one landing last would unseat the one that won. Whoever waits for it takes
    /// the answer of the first claim sent after it asked, so however many fences and
    /// renewals ask together, they wait for at most two claims.
    claiming: tokio::sync::Mutex<Flights>,
    /// Claims sent so far: a claim's number.
    sent: std::sync::atomic::AtomicU64,
}

/// The last claim's number and answer.
#[derive(Default)]
struct Flights {
    last: Option<(u64, Change, Option<u64>)>,
}

/// What one claim changed, for the daemon to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    /// This daemon just became the leader: load the state the last one left.
    BecameLeader,
    /// This daemon lost or gave up the lease.
    SteppedDown,
}

impl Leadership {
    pub fn new(store: Box<dyn LeaseStore>, me: String, ttl: Duration) -> Self {
        Self {
            store,
            me,
            ttl,
            state: Mutex::new(State {
                role: Role::Follower {
                    leader: None,
                    reason: Some("starting: the lease has not been claimed yet".into()),
                },
                held: None,
            }),
            claiming: tokio::sync::Mutex::new(Flights::default()),
            sent: std::sync::atomic::AtomicU64::new(0),
        }
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The role now; a leader whose renewals have failed for too long is a follower.
    pub fn role(&self) -> Role {
        let mut s = self.state();
        self.expire(&mut s);
        s.role.clone()
    }

    /// The epoch this daemon may act under now, if it leads.
    pub fn acting_epoch(&self) -> Option<u64> {
        let mut s = self.state();
        self.expire(&mut s);
        s.held.map(|(epoch, _)| epoch)
    }

    fn expire(&self, s: &mut State) {
        if let Some((epoch, until)) = s.held
            && Instant::now() >= until
        {
            tracing::warn!(epoch, "lease not renewed within its TTL: stepping down");
            s.held = None;
            s.role = Role::Follower {
                leader: None,
                reason: Some("stepped down: the lease could not be renewed within its TTL".into()),
            };
        }
    }

    /// Claims or renews the lease once; called every [`renew_every`].
    pub async fn tick(&self) -> Change {
        self.claim_after_now().await.0
    }

    /// The answer of a claim sent after this call: one already asked for by someone else,
    /// if it was sent after this call, else one of its own.
    async fn claim_after_now(&self) -> (Change, Option<u64>) {
        use std::sync::atomic::Ordering;
        let wanted = self.sent.load(Ordering::SeqCst) + 1;
        let mut flights = self.claiming.lock().await;
        if let Some((number, change, epoch)) = flights.last
            && number >= wanted
        {
            return (change, epoch);
        }
        let number = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        let (change, epoch) = self.claim_now().await;
        flights.last = Some((number, change, epoch));
        (change, epoch)
    }

    /// One claim, bounded by the renewal period: a store that hangs holds up no renewal
    /// and no fence for longer.
    async fn claim_now(&self) -> (Change, Option<u64>) {
        let sent = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let held = {
            let mut s = self.state();
            self.expire(&mut s);
            s.held.map(|(e, _)| e)
        };
        let limit = renew_every(self.ttl);
        let result = match tokio::time::timeout(limit, self.store.claim(&self.me, held, now_ms, self.ttl)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "the lease store did not answer within {}s",
                limit.as_secs_f64()
            )),
        };
        let mut s = self.state();
        let was_leader = s.held.is_some();
        match result {
            Ok(Claim::Held(record)) => {
                let until = sent + self.ttl.saturating_sub(margin(self.ttl));
                s.held = Some((record.epoch, until));
                s.role = Role::Leader { epoch: record.epoch };
                let change = if was_leader {
                    Change::None
                } else {
                    tracing::info!(epoch = record.epoch, me = %self.me, "took the lease: leading");
                    Change::BecameLeader
                };
                (change, Some(record.epoch))
            }
            Ok(Claim::TakenBy(record)) => {
                s.held = None;
                let lapsed = record.expires_at_ms <= now_ms;
                s.role = Role::Follower {
                    leader: (!lapsed).then(|| record.holder.clone()),
                    reason: None,
                };
                let change = if was_leader {
                    tracing::warn!(holder = %record.holder, epoch = record.epoch, "the lease was taken: stepping down");
                    Change::SteppedDown
                } else {
                    Change::None
                };
                (change, None)
            }
            Err(e) => {
                // Keep leading until the held lease runs out (expire() ends it); a follower
                // cannot take over without the store either.
                tracing::warn!("lease store: {e}");
                if s.held.is_none() {
                    s.role = Role::Follower {
                        leader: None,
                        reason: Some(format!("the lease store is unreachable: {e}")),
                    };
                }
                (Change::None, None)
            }
        }
    }

    /// The longest a fence may take: the lease it confirms must still be valid after it.
    pub fn fence_budget(&self) -> Duration {
        self.ttl.saturating_sub(margin(self.ttl))
    }

    /// The fence before acting: renews the lease, and says whether this very renewal
    /// confirmed that this daemon leads at `epoch`. A store that cannot be reached
    /// confirms nothing: the daemon does not act then, though its lease may not have run
    /// out, since someone may be taking over.
    pub async fn confirm(&self, epoch: u64) -> Result<(), String> {
        match self.claim_after_now().await.1 {
            Some(e) if e == epoch => Ok(()),
            Some(e) => Err(format!(
                "the lease moved to epoch {e} since this round began at {epoch}"
            )),
            None => Err("this daemon could not confirm that it still holds the lease".into()),
        }
    }

    /// Gives the lease up at shutdown.
    pub async fn release(&self) {
        let held = self.state().held.take();
        if let Some((epoch, _)) = held {
            match self.store.release(&self.me, epoch).await {
                Ok(()) => tracing::info!(epoch, "lease released"),
                Err(e) => tracing::warn!("releasing the lease: {e}; a follower takes over when it lapses"),
            }
        }
    }
}

/// A store shared by several daemons of one process (tests).
impl<T: LeaseStore> LeaseStore for std::sync::Arc<T> {
    fn claim<'a>(
        &'a self,
        me: &'a str,
        held: Option<u64>,
        now_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, String>> {
        (**self).claim(me, held, now_ms, ttl)
    }

    fn release<'a>(&'a self, me: &'a str, epoch: u64) -> BoxFuture<'a, Result<(), String>> {
        (**self).release(me, epoch)
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// An in-memory lease store, for tests of everything above the store.
#[derive(Default)]
pub struct MemoryLease {
    record: Mutex<Option<LeaseRecord>>,
    /// While set, every call fails as an unreachable store would.
    pub unreachable: std::sync::atomic::AtomicBool,
}

impl LeaseStore for MemoryLease {
    fn claim<'a>(
        &'a self,
        me: &'a str,
        held: Option<u64>,
        now_ms: i64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Claim, String>> {
        Box::pin(async move {
            if self.unreachable.load(std::sync::atomic::Ordering::SeqCst) {
                return Err("unreachable".into());
            }
            let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
            let expires_at_ms = now_ms + ttl.as_millis() as i64;
            match (held, r.as_mut()) {
                (Some(epoch), Some(rec)) if rec.holder == me && rec.epoch == epoch => {
                    rec.expires_at_ms = expires_at_ms;
                    Ok(Claim::Held(rec.clone()))
                }
                (None, Some(rec)) if rec.expires_at_ms < now_ms || rec.holder == me => {
                    *rec = LeaseRecord {
                        holder: me.to_string(),
                        epoch: rec.epoch + 1,
                        expires_at_ms,
                    };
                    Ok(Claim::Held(rec.clone()))
                }
                (None, None) => {
                    let rec = LeaseRecord {
                        holder: me.to_string(),
                        epoch: 1,
                        expires_at_ms,
                    };
                    *r = Some(rec.clone());
                    Ok(Claim::Held(rec))
                }
                (_, Some(rec)) => Ok(Claim::TakenBy(rec.clone())),
                (Some(_), None) => Ok(Claim::TakenBy(LeaseRecord {
                    holder: String::new(),
                    epoch: 0,
                    expires_at_ms: 0,
                })),
            }
        })
    }

    fn release<'a>(&'a self, me: &'a str, epoch: u64) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(rec) = r.as_mut().filter(|rec| rec.holder == me && rec.epoch == epoch) {
                rec.expires_at_ms = 0;
            }
            Ok(())
        })
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pair(ttl: Duration) -> (Arc<MemoryLease>, Leadership, Leadership) {
        let store = Arc::new(MemoryLease::default());
        let a = Leadership::new(Box::new(Arc::clone(&store)), "a".into(), ttl);
        let b = Leadership::new(Box::new(Arc::clone(&store)), "b".into(), ttl);
        (store, a, b)
    }

    #[tokio::test]
    async fn one_of_two_leads_and_the_other_follows_it() {
        let (_, a, b) = pair(Duration::from_secs(15));
        assert_eq!(a.tick().await, Change::BecameLeader);
        assert_eq!(b.tick().await, Change::None);
        assert_eq!(a.role(), Role::Leader { epoch: 1 });
        assert_eq!(
            b.role(),
            Role::Follower {
                leader: Some("a".into()),
                reason: None
            }
        );
        assert_eq!(a.tick().await, Change::None, "a renewal changes nothing");
        assert!(a.confirm(1).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_cut_off_from_the_store_steps_down_within_the_ttl() {
        let (store, a, _) = pair(Duration::from_secs(15));
        a.tick().await;
        store.unreachable.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(5)).await;
        a.tick().await;
        assert!(a.acting_epoch().is_some(), "still within its lease");
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(a.acting_epoch(), None, "15 s less the 3 s margin have passed");
        assert!(matches!(a.role(), Role::Follower { reason: Some(_), .. }));
        assert!(a.confirm(1).await.is_err(), "the fence refuses");
    }

    #[tokio::test]
    async fn a_released_lease_is_taken_at_once_with_a_new_epoch_and_the_old_epoch_is_fenced() {
        let (_, a, b) = pair(Duration::from_secs(15));
        a.tick().await;
        a.release().await;
        assert_eq!(b.tick().await, Change::BecameLeader);
        assert_eq!(b.acting_epoch(), Some(2));
        // A renewal by the old holder at its old epoch is refused.
        assert_eq!(a.tick().await, Change::None);
        assert!(a.confirm(1).await.is_err());
    }
}
