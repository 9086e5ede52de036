//! A load generator for the local demo: closed-loop users like Locust's (each waits for its
//! answer, then thinks) or an open-loop request rate, following a plan of steps, with
//! latency in HDR histograms per second and every failure counted.
//!
//! Written here rather than with goose: goose has no open-loop (fixed arrival rate) mode,
//! and reports its metrics when a run ends, while the demo needs per-second figures to show
//! and to chart as the run goes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use search_service::catalog::ORIGINAL_TERMS as TERMS;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Closed loop: this many users, each thinking this long between answer and request.
    Users { think: Duration },
    /// Open loop: requests per second regardless of how the service copes. With `burst`,
    /// each second's requests all arrive in its first `burst` (fan-out from upstream
    /// pages, batch clients): the average rate is the same, the peaks are not.
    Rate { burst: Option<Duration> },
}

/// One step of a plan: hold `level` (users, or requests per second) for `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub level: f64,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mode: Mode,
    pub steps: Vec<Step>,
    /// Users started or stopped per second when the level changes.
    pub spawn_rate: f64,
}

impl Plan {
    /// Parses "5 for 20s, 40 for 60s, 5 for 40s".
    pub fn parse(mode: Mode, text: &str, spawn_rate: f64) -> Result<Plan, String> {
        let mut steps = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (level, duration) = part
                .split_once(" for ")
                .ok_or_else(|| format!("\"{part}\" is not LEVEL for DURATION, e.g. \"40 for 60s\""))?;
            let level: f64 = level
                .trim()
                .parse()
                .map_err(|_| format!("\"{level}\" is not a number"))?;
            if !(level.is_finite() && level >= 0.0) {
                return Err(format!("level {level} must be zero or more"));
            }
            let duration = autoscaler_core::policy::duration::parse(duration.trim())?;
            steps.push(Step { level, duration });
        }
        if steps.is_empty() {
            return Err("a plan needs at least one step".into());
        }
        Ok(Plan {
            mode,
            steps,
            spawn_rate: spawn_rate.max(0.1),
        })
    }

    pub fn duration(&self) -> Duration {
        self.steps.iter().map(|s| s.duration).sum()
    }

    /// The level asked for `elapsed` into the run.
    pub fn level(&self, elapsed: Duration) -> f64 {
        let mut t = Duration::ZERO;
        for s in &self.steps {
            t += s.duration;
            if elapsed < t {
                return s.level;
            }
        }
        0.0
    }

    /// Requests per second sent at `elapsed` (open loop): the level, or within a burst the
    /// level compressed into the burst.
    pub fn rate_at(&self, elapsed: Duration) -> f64 {
        let level = self.level(elapsed);
        match self.mode {
            Mode::Rate { burst: Some(burst) } if burst < Duration::from_secs(1) => {
                let into_second = elapsed.as_secs_f64().fract();
                let burst = burst.as_secs_f64().max(1e-3);
                if into_second < burst { level / burst } else { 0.0 }
            }
            _ => level,
        }
    }

    /// When the level first rises after the start.
    pub fn first_step_up(&self) -> Option<Duration> {
        let mut t = Duration::ZERO;
        let mut previous: Option<f64> = None;
        for s in &self.steps {
            if previous.is_some_and(|p| s.level > p) {
                return Some(t);
            }
            previous = Some(s.level);
            t += s.duration;
        }
        None
    }
}

/// What happened in one second of the run.
#[derive(Debug, Clone)]
pub struct Second {
    pub ok: u64,
    pub failed: u64,
    /// Latency of answered requests, microseconds.
    pub latency: Histogram<u64>,
}

impl Default for Second {
    fn default() -> Self {
        let latency =
            Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| Histogram::new(3).expect("valid"));
        Self {
            ok: 0,
            failed: 0,
            latency,
        }
    }
}

impl Second {
    pub fn p99_ms(&self) -> Option<f64> {
        (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(0.99) as f64 / 1000.0)
    }
}

/// Per-second results, filled while the run goes.
pub struct Recorder {
    start: Instant,
    seconds: Mutex<Vec<Second>>,
    pub in_flight: AtomicUsize,
    pub users: AtomicUsize,
    total_failed: AtomicU64,
}

impl Recorder {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            seconds: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            users: AtomicUsize::new(0),
            total_failed: AtomicU64::new(0),
        }
    }

    fn record(&self, started: Instant, ok: bool) {
        let second = started.duration_since(self.start).as_secs() as usize;
        let mut seconds = self.seconds.lock().unwrap_or_else(|p| p.into_inner());
        while seconds.len() <= second {
            seconds.push(Second::default());
        }
        let s = &mut seconds[second];
        if ok {
            s.ok += 1;
            let _ = s
                .latency
                .record((started.elapsed().as_micros() as u64).clamp(1, 60_000_000));
        } else {
            s.failed += 1;
            self.total_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn seconds(&self) -> Vec<Second> {
        self.seconds.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The last complete second (the one before the second in progress): a copy of that
    /// second only, for a live view once a second.
    pub fn last_complete(&self) -> Option<Second> {
        let seconds = self.seconds.lock().unwrap_or_else(|p| p.into_inner());
        seconds.len().checked_sub(2).and_then(|i| seconds.get(i)).cloned()
    }

    pub fn failed(&self) -> u64 {
        self.total_failed.load(Ordering::Relaxed)
    }
}

async fn request(client: &reqwest::Client, base: &str, n: usize, recorder: &Recorder) {
    let url = format!("{base}/products/search?q={}", TERMS[n % TERMS.len()]);
    let started = Instant::now();
    recorder.in_flight.fetch_add(1, Ordering::Relaxed);
    let ok = match client.get(&url).send().await {
        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
        Err(_) => false,
    };
    recorder.in_flight.fetch_sub(1, Ordering::Relaxed);
    recorder.record(started, ok);
}

/// Runs `plan` against `base` (e.g. "http://127.0.0.1:8080") until it ends or `stop` fires.
pub async fn run(base: String, plan: Plan, recorder: Arc<Recorder>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let new_client = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(4096)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    };
    let mut client = new_client();
    let end = recorder.start + plan.duration();
    match plan.mode {
        Mode::Users { think } => {
            let mut users: Vec<(tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>)> = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let per_tick = (plan.spawn_rate / 10.0).ceil().max(1.0) as usize;
            let mut n = 0usize;
            while Instant::now() < end && !*stop.borrow() {
                let want = plan.level(recorder.start.elapsed()).round() as usize;
                for _ in 0..per_tick {
                    if users.len() < want {
                        let (quit, mut quitting) = tokio::sync::watch::channel(false);
                        let (client, base, recorder) = (client.clone(), base.clone(), Arc::clone(&recorder));
                        n += 1;
                        let offset = n;
                        users.push((
                            quit,
                            tokio::spawn(async move {
                                let mut i = offset;
                                while !*quitting.borrow() {
                                    request(&client, &base, i, &recorder).await;
                                    i += 1;
                                    if !think.is_zero() {
                                        tokio::select! {
                                            _ = tokio::time::sleep(think) => {}
                                            _ = quitting.changed() => {}
                                        }
                                    }
                                }
                            }),
                        ));
                    } else if users.len() > want
                        && let Some((quit, task)) = users.pop()
                    {
                        // A user stops after its request in flight: none is cut off.
                        let _ = quit.send(true);
                        drop(task);
                    }
                }
                recorder.users.store(users.len(), Ordering::Relaxed);
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => {}
                }
            }
            for (quit, _) in &users {
                let _ = quit.send(true);
            }
            for (_, task) in users {
                let _ = task.await;
            }
            recorder.users.store(0, Ordering::Relaxed);
        }
        Mode::Rate { .. } => {
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            let mut owed = 0.0f64;
            let mut last = Instant::now();
            let mut n = 0usize;
            let mut tasks = tokio::task::JoinSet::new();
            let mut client_since = Instant::now();
            while Instant::now() < end && !*stop.borrow() {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.changed() => {}
                }
                let now = Instant::now();
                // An open-loop load stands for many clients that come and go, as an ALB
                // spreads them over targets. The replicas share a port and the kernel
                // balances *connections*, so connections kept alive for the whole run
                // would pin the load to the replicas that existed when they opened: each
                // second's requests get fresh ones (the old close as their requests end).
                if now.duration_since(client_since) >= Duration::from_secs(1) {
                    client = new_client();
                    client_since = now;
                }
                owed += plan.rate_at(now.duration_since(recorder.start)) * now.duration_since(last).as_secs_f64();
                last = now;
                while owed >= 1.0 {
                    owed -= 1.0;
                    n += 1;
                    let (client, base, recorder) = (client.clone(), base.clone(), Arc::clone(&recorder));
                    tasks.spawn(async move { request(&client, &base, n, &recorder).await });
                }
                while tasks.try_join_next().is_some() {}
            }
            while tasks.join_next().await.is_some() {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_answer_levels() {
        let p = Plan::parse(Mode::Rate { burst: None }, "100 for 20s, 800 for 1m, 100 for 40s", 10.0).unwrap();
        assert_eq!(p.duration(), Duration::from_secs(120));
        assert_eq!(p.level(Duration::from_secs(5)), 100.0);
        assert_eq!(p.level(Duration::from_secs(20)), 800.0);
        assert_eq!(p.level(Duration::from_secs(119)), 100.0);
        assert_eq!(p.level(Duration::from_secs(121)), 0.0);
        assert_eq!(p.first_step_up(), Some(Duration::from_secs(20)));
        assert!(
            Plan::parse(Mode::Rate { burst: None }, "lots for 1m", 1.0)
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            Plan::parse(Mode::Rate { burst: None }, "5 during 1m", 1.0)
                .unwrap_err()
                .contains("LEVEL for DURATION")
        );
        assert!(Plan::parse(Mode::Rate { burst: None }, "", 1.0).is_err());
    }

    #[test]
    fn a_burst_sends_each_seconds_requests_early_in_it() {
        let mode = Mode::Rate {
            burst: Some(Duration::from_millis(250)),
        };
        let p = Plan::parse(mode, "400 for 10s", 10.0).unwrap();
        assert_eq!(p.rate_at(Duration::from_millis(3_100)), 1600.0);
        assert_eq!(p.rate_at(Duration::from_millis(3_300)), 0.0);
        // The same requests per second on average.
        let sent: f64 = (0..1000)
            .map(|ms| p.rate_at(Duration::from_millis(5_000 + ms)) / 1000.0)
            .sum();
        assert!((sent - 400.0).abs() < 1e-6, "{sent}");
    }
}
