//! Scaling events out, for operators to route to chat or paging: each action, each
//! refusal and each error, and each suspension or give-back of AWS's own scaling, as one
//! event. The shapes are in `docs/EVENTS.md`.
//!
//! Sending never holds a round up: events go into a bounded queue, a task of their own
//! sends them in batches, and a full queue drops (counted). A refusal or an error that
//! repeats every round is sent when it first appears or changes, not every round.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use autoscaler_core::policy::Target;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use super::registry::JournalEntry;
use super::telemetry;
use crate::backend::events::{EventSink, Outgoing};

/// Events waiting to be sent; beyond this they are dropped (and counted).
pub const QUEUE: usize = 1_000;
/// Events per call (EventBridge's PutEvents takes at most 10).
pub const BATCH: usize = 10;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The desired count was changed.
    Action,
    /// A decision to change the count was not carried out: withheld, fenced, refused or
    /// of unknown outcome.
    Refused,
    /// No decision could be made (the counts could not be read, the evaluation panicked).
    Error,
    /// AWS's own scaling of the service was suspended (takeover) or given back.
    AwsScaling,
}

impl Kind {
    pub fn detail_type(self) -> &'static str {
        match self {
            Kind::Action => "Scaling action",
            Kind::Refused => "Scaling refused",
            Kind::Error => "Scaling error",
            Kind::AwsScaling => "AWS scaling changed",
        }
    }
}

/// One event: EventBridge's `DetailType` is the kind, `Detail` the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(skip)]
    pub kind: Kind,
    /// The shape's version: fields are only ever added.
    pub version: u32,
    pub policy: String,
    pub target: Target,
    pub at: DateTime<Utc>,
    /// scale_out, scale_in or hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u32>,
    /// The decision in words, as the journal and the status page have it.
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Event {
    /// The event a journaled decision makes, if any: an action applied, or one not
    /// carried out. Holds make none.
    pub fn from_entry(target: &Target, entry: &JournalEntry) -> Option<Event> {
        let d = &entry.decision;
        if d.action == autoscaler_core::decide::Action::Hold || d.dry_run {
            return None;
        }
        let kind = if entry.applied { Kind::Action } else { Kind::Refused };
        Some(Event {
            kind,
            version: 1,
            policy: d.policy.clone(),
            target: target.clone(),
            at: d.at,
            action: Some(d.action.label()),
            from: Some(d.capacity.desired),
            to: Some(d.desired),
            reason: entry.explanation.clone(),
            error: entry.error.clone(),
        })
    }

    pub fn error(policy: &str, target: &Target, at: DateTime<Utc>, error: &str) -> Event {
        Self::without_action(
            Kind::Error,
            policy,
            target,
            at,
            "no decision this round".into(),
            Some(error.into()),
        )
    }

    pub fn aws_scaling(policy: &str, target: &Target, at: DateTime<Utc>, what: String) -> Event {
        Self::without_action(Kind::AwsScaling, policy, target, at, what, None)
    }

    fn without_action(
        kind: Kind,
        policy: &str,
        target: &Target,
        at: DateTime<Utc>,
        reason: String,
        error: Option<String>,
    ) -> Event {
        Event {
            kind,
            version: 1,
            policy: policy.to_string(),
            target: target.clone(),
            at,
            action: None,
            from: None,
            to: None,
            reason,
            error,
        }
    }

    /// What makes a repeat of this event the same event: refusals and errors that say the
    /// same again are not sent again.
    fn repeat_key(&self) -> Option<String> {
        match self.kind {
            Kind::Refused => Some(format!("refused {:?} {}", self.error, refusal_gist(&self.reason))),
            Kind::Error => Some(format!("error {:?}", self.error)),
            Kind::Action | Kind::AwsScaling => None,
        }
    }
}

/// A refusal's reason without the rules' values, which change every round.
fn refusal_gist(reason: &str) -> &str {
    reason.find("not acting:").map_or(reason, |at| &reason[at..])
}

impl Event {
    /// As the sink sends it: the kind as its type, the rest as the JSON detail.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing {
            detail_type: self.kind.detail_type(),
            at: self.at,
            detail: serde_json::to_string(self).unwrap_or_default(),
        }
    }
}

/// The queue the daemon puts events into; a no-op until a sink is attached.
#[derive(Default)]
pub struct Outbox {
    sender: Mutex<Option<mpsc::Sender<Event>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Per policy: the last refusal or error sent (its repeat key).
    last: Mutex<HashMap<String, String>>,
}

impl Outbox {
    /// Starts sending to `sink`, from a task on the current runtime.
    pub fn attach(&self, sink: Arc<dyn EventSink>, call_budget: Duration) {
        let (tx, rx) = mpsc::channel(QUEUE);
        *self.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        let task = tokio::spawn(send_all(sink, rx, call_budget));
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    }

    /// Queues an event, unless it repeats the policy's last refusal or error.
    pub fn emit(&self, event: Event) {
        let Some(tx) = self.sender.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return;
        };
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            match event.repeat_key() {
                Some(key) if last.get(&event.policy) == Some(&key) => return,
                Some(key) => {
                    last.insert(event.policy.clone(), key);
                }
                None if event.kind == Kind::Action => {
                    last.remove(&event.policy);
                }
                None => {}
            }
        }
        if tx.try_send(event).is_err() {
            metrics::counter!(telemetry::EVENTS, "outcome" => "dropped").increment(1);
        }
    }

    /// A policy that decided without trouble: its next refusal or error is news again.
    pub fn clear(&self, policy: &str) {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).remove(policy);
    }

    /// Sends what is queued, for at most `within`: at shutdown.
    pub async fn flush(&self, within: Duration) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task
            && tokio::time::timeout(within, task).await.is_err()
        {
            tracing::warn!(
                "events still queued at shutdown were not sent within {}s",
                within.as_secs()
            );
        }
    }
}

async fn send_all(sink: Arc<dyn EventSink>, mut rx: mpsc::Receiver<Event>, budget: Duration) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let n = batch.len() as u64;
        let outgoing = batch.drain(..).map(|e| e.outgoing()).collect();
        match tokio::time::timeout(budget, sink.send(outgoing)).await {
            Ok(Ok(failed)) => {
                metrics::counter!(telemetry::EVENTS, "outcome" => "sent").increment(n - failed as u64);
                metrics::counter!(telemetry::EVENTS, "outcome" => "failed").increment(failed as u64);
                if failed > 0 {
                    tracing::warn!("{failed} of {n} scaling event(s) were not accepted");
                }
            }
            Ok(Err(why)) => {
                metrics::counter!(telemetry::EVENTS, "outcome" => "failed").increment(n);
                metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "put_events").increment(1);
                tracing::warn!("sending {n} scaling event(s) failed: {why}");
            }
            Err(_) => {
                metrics::counter!(telemetry::EVENTS, "outcome" => "failed").increment(n);
                metrics::counter!(telemetry::BACKEND_ERRORS, "call" => "put_events").increment(1);
                tracing::warn!("sending {n} scaling event(s) timed out after {}s", budget.as_secs());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;

    struct Collect(Mutex<Vec<Outgoing>>);

    impl EventSink for Collect {
        fn send(&self, batch: Vec<Outgoing>) -> Pin<Box<dyn Future<Output = Result<usize, String>> + Send + '_>> {
            self.0.lock().unwrap().extend(batch);
            Box::pin(async { Ok(0) })
        }
    }

    fn target() -> Target {
        Target::Sim { service: "s".into() }
    }

    fn refused(at: i64, reason: &str) -> Event {
        Event {
            kind: Kind::Refused,
            version: 1,
            policy: "p".into(),
            target: target(),
            at: DateTime::from_timestamp(at, 0).unwrap(),
            action: Some("scale_out"),
            from: Some(2),
            to: Some(4),
            reason: reason.into(),
            error: None,
        }
    }

    #[tokio::test]
    async fn a_refusal_repeated_every_round_is_sent_once_until_it_changes() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        let outbox = Outbox::default();
        outbox.attach(Arc::clone(&sink) as Arc<dyn EventSink>, Duration::from_secs(1));
        outbox.emit(refused(0, "scale out 2 -> 4; cpu: 140 %; not acting: AWS scales it"));
        outbox.emit(refused(10, "scale out 2 -> 4; cpu: 141 %; not acting: AWS scales it"));
        outbox.emit(refused(
            20,
            "scale out 2 -> 5; cpu: 180 %; not acting: the lease was lost",
        ));
        outbox.emit(Event::error(
            "p",
            &target(),
            DateTime::UNIX_EPOCH,
            "DescribeServices failed",
        ));
        outbox.emit(Event::error(
            "p",
            &target(),
            DateTime::UNIX_EPOCH,
            "DescribeServices failed",
        ));
        outbox.flush(Duration::from_secs(5)).await;
        let sent: Vec<(&str, i64)> = sink
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|e| (e.detail_type, e.at.timestamp()))
            .collect();
        assert_eq!(
            sent,
            [("Scaling refused", 0), ("Scaling refused", 20), ("Scaling error", 0)]
        );
        let first: serde_json::Value = serde_json::from_str(&sink.0.lock().unwrap()[0].detail).unwrap();
        assert_eq!(first["policy"], "p");
        assert_eq!((first["from"].as_u64(), first["to"].as_u64()), (Some(2), Some(4)));
        assert_eq!(first["target"]["backend"], "sim");
    }

    #[test]
    fn without_a_sink_nothing_is_queued() {
        let outbox = Outbox::default();
        outbox.emit(refused(0, "x"));
        assert!(outbox.sender.lock().unwrap().is_none());
    }
}
