//! The simulated service: Fargate-like tasks behind a load balancer, one step per second.
//!
//! Latency model: each healthy task is an M/M/1 server with service time 1/capacity, so
//! response times are a shifted exponential whose mean grows as S/(1-ρ). At ρ = 0.99 a
//! 2,100 requests/s task answers with p99 ≈ 220 ms, as the original Go service did.
//! Past saturation requests queue (adding wait to every response) and fail once queued
//! longer than the request timeout. The load balancer sends every target the same share
//! (round robin), so with uneven task capacities the slowest task queues first.
//!
//! Randomness comes from two streams of the scenario's seed: one for the traffic (one draw
//! per second, whatever the scaler does) and one for the tasks (drawn per launch). Every
//! scaler run on a scenario therefore meets exactly the same traffic, and its n-th task
//! starts as fast, and is as strong, as the n-th task of any other run.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use super::scenario::{FailureKind, Scenario};
pub use super::timeline::Second;
use super::timeline::Timeline;

const TRAFFIC_STREAM: u64 = 1;
const TASK_STREAM: u64 = 2;

#[derive(Debug, Clone, Copy)]
struct Task {
    healthy_at: f64,
    /// Requests per second at 100 % CPU.
    capacity: f64,
    /// When the task crashed; it still gets traffic until the ALB notices.
    died_at: Option<f64>,
    /// It will fail its start instead of becoming healthy.
    fails_to_start: bool,
    queue: f64,
}

impl Task {
    fn in_service(&self, t: f64) -> bool {
        self.died_at.is_none() && !self.fails_to_start && self.healthy_at <= t
    }

    fn starting(&self, t: f64) -> bool {
        self.died_at.is_none() && self.healthy_at > t
    }
}

pub struct World {
    scenario: Scenario,
    traffic_rng: ChaCha8Rng,
    task_rng: ChaCha8Rng,
    tasks: Vec<Task>,
    desired: u32,
    /// ECS launches a replacement for a dead task only after this time.
    replace_after: f64,
    last_latency: f64,
    launched_now: u32,
    /// Messages waiting in the shared queue of a queue-fed service.
    backlog: f64,
    pub seconds: Timeline,
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl World {
    /// A world that keeps every second (a backtest).
    pub fn new(scenario: &Scenario) -> Self {
        Self::with_timeline(scenario, Timeline::whole(scenario.duration))
    }

    /// A world that keeps the seconds `timeline` keeps.
    pub fn with_timeline(scenario: &Scenario, timeline: Timeline) -> Self {
        let mut world = Self {
            traffic_rng: stream(scenario.seed, TRAFFIC_STREAM),
            task_rng: stream(scenario.seed, TASK_STREAM),
            tasks: Vec::new(),
            desired: scenario.service.initial_tasks,
            replace_after: 0.0,
            last_latency: scenario.service.base_latency,
            launched_now: 0,
            backlog: 0.0,
            seconds: timeline,
            scenario: scenario.clone(),
        };
        for _ in 0..scenario.service.initial_tasks {
            let mut task = world.draw_task(0.0, 0);
            task.healthy_at = 0.0;
            task.fails_to_start = false;
            world.tasks.push(task);
        }
        world
    }

    pub fn desired(&self) -> u32 {
        self.desired
    }

    /// Healthy (in service) tasks at time `t`.
    pub fn healthy(&self, t: f64) -> u32 {
        self.tasks.iter().filter(|k| k.in_service(t)).count() as u32
    }

    /// Launched but not yet healthy (including those that will fail their start).
    pub fn provisioning(&self, t: f64) -> u32 {
        self.tasks.iter().filter(|k| k.starting(t)).count() as u32
    }

    /// The counts ECS would report at second `t`.
    pub fn capacity(&self, t: u64) -> autoscaler_core::decide::Capacity {
        autoscaler_core::decide::Capacity {
            desired: self.desired,
            running: self.healthy(t as f64),
            pending: self.provisioning(t as f64),
            deployment_in_progress: self.scenario.faults.deployment(t) || self.scenario.rolling_out(t),
            revision: self.scenario.revision(t),
        }
    }

    /// What the slowest task in service at `t` serves at 100 % CPU: it sets the tail (the
    /// load balancer gives every task the same share). None without a task in service.
    pub fn slowest_capacity(&self, t: u64) -> Option<f64> {
        let tf = t as f64;
        let factor = self.scenario.capacity_factor(t);
        let slowest = self
            .tasks
            .iter()
            .filter(|k| k.in_service(tf))
            .map(|k| k.capacity * factor)
            .fold(f64::INFINITY, f64::min);
        slowest.is_finite().then_some(slowest)
    }

    /// UpdateService at second `t`: ECS converges on the new count at the next step, unless
    /// the scenario makes the call fail then.
    pub fn set_desired(&mut self, n: u32, t: u64) -> Result<(), String> {
        if let Some(error) = self.scenario.faults.update_error(t) {
            return Err(error.to_string());
        }
        self.desired = n;
        Ok(())
    }

    /// A new task launched at `t`: its start-up time, capacity and fate, from the task stream.
    fn draw_task(&mut self, t: f64, at: u64) -> Task {
        let s = &self.scenario.service;
        // Three draws per task, always, so the n-th task is the same in every run.
        let (u_start, u_capacity, u_fail): (f64, f64, f64) =
            (self.task_rng.random(), self.task_rng.random(), self.task_rng.random());
        let jitter = s.startup_jitter * (2.0 * u_start - 1.0);
        Task {
            healthy_at: t + (s.startup + jitter).max(1.0),
            capacity: s.capacity_rps * (1.0 + s.capacity_spread * (2.0 * u_capacity - 1.0)),
            died_at: None,
            fails_to_start: u_fail < self.scenario.faults.start_failure(at),
            queue: 0.0,
        }
    }

    /// What ECS does each second: drop tasks that are gone, launch or stop to reach `desired`.
    fn reconcile(&mut self, t: f64, at: u64) {
        let detection = self.scenario.service.failure_detection;
        let before = self.tasks.len();
        self.tasks.retain(|k| {
            let crashed_and_noticed = k.died_at.is_some_and(|d| t >= d + detection);
            let failed_start = k.fails_to_start && k.healthy_at <= t;
            !(crashed_and_noticed || failed_start)
        });
        let failed_starts = before - self.tasks.len();
        if failed_starts > 0 {
            self.replace_after = self.replace_after.max(t + self.scenario.service.replacement_delay);
        }
        let live = self.tasks.iter().filter(|k| k.died_at.is_none()).count() as u32;
        if live < self.desired && t >= self.replace_after {
            for _ in live..self.desired {
                let task = self.draw_task(t, at);
                self.tasks.push(task);
                self.launched_now += 1;
            }
        } else if live > self.desired {
            // ECS stops tasks that are not yet running first, then the youngest; a stopped
            // healthy task drains gracefully, so no request fails.
            let mut excess = live - self.desired;
            self.tasks.sort_by(|a, b| a.healthy_at.total_cmp(&b.healthy_at));
            let mut i = self.tasks.len();
            while excess > 0 && i > 0 {
                i -= 1;
                if self.tasks[i].died_at.is_none() {
                    self.tasks.remove(i);
                    excess -= 1;
                }
            }
        }
    }

    /// `n` healthy tasks end at `t`: crashed ones stay in the load balancer until noticed,
    /// stopped ones leave it at once and finish what they hold.
    fn fail(&mut self, t: f64, n: u32, kind: FailureKind) -> f64 {
        let mut drained = 0.0;
        let mut left = n;
        let mut i = 0;
        while i < self.tasks.len() && left > 0 {
            if self.tasks[i].in_service(t) {
                left -= 1;
                match kind {
                    FailureKind::Crash => {
                        self.tasks[i].died_at = Some(t);
                        i += 1;
                    }
                    FailureKind::Stop => {
                        drained += self.tasks.remove(i).queue;
                    }
                }
            } else {
                i += 1;
            }
        }
        self.replace_after = t + self.scenario.service.replacement_delay;
        drained
    }

    /// Advances the world by the second starting at `t`.
    pub fn step(&mut self, t: u64) {
        let tf = t as f64;
        self.launched_now = 0;
        let writes: Vec<u32> = self
            .scenario
            .faults
            .writes
            .iter()
            .filter(|w| w.0 == t)
            .map(|w| w.1)
            .collect();
        if let Some(&d) = writes.last() {
            self.desired = d;
        }
        let mut served = 0.0;
        for f in self.scenario.failures.clone() {
            if f.at == t {
                served += self.fail(tf, f.tasks, f.kind);
            }
        }
        self.reconcile(tf, t);

        let s = self.scenario.service.clone();
        let level = self.scenario.traffic.level(t);
        let z: f64 = StandardNormal.sample(&mut self.traffic_rng);
        let noise = (1.0 + self.scenario.traffic.noise * z).max(0.0);
        let mut offered = self.scenario.traffic.offered_rate(level, self.last_latency) * noise;
        if self.scenario.traffic.kind == super::scenario::LoadKind::Users {
            // Closed loop: no more requests in flight than there are users.
            offered = offered.min(level.max(0.0) / self.scenario.traffic.rtt.max(1e-3));
        }

        let healthy = self.healthy(tf);
        let crashed = self.tasks.iter().filter(|k| k.died_at.is_some()).count() as u32;
        let targets = healthy + crashed;
        let share = if targets == 0 {
            0.0
        } else {
            offered / f64::from(targets)
        };
        let mut failed = if targets == 0 {
            offered
        } else {
            share * f64::from(crashed)
        };

        let factor = self.scenario.capacity_factor(t);
        let (mut per_task, failed_in_service) = if s.queue {
            // Nothing is sent to a task that died: its messages stay in the queue.
            failed = 0.0;
            (self.work_queue(tf, offered, factor, s.base_latency), 0.0)
        } else {
            self.serve(tf, share, factor, &s)
        };
        failed += failed_in_service;
        served += per_task.iter().map(|p| p.served).sum::<f64>();

        let (latency_shift, latency_mean) = tail_task(&mut per_task).unwrap_or((
            s.base_latency + s.request_timeout,
            (1.0 / s.capacity_rps) / (1.0 - 0.995),
        ));
        let answered: f64 = per_task.iter().map(|p| p.served).sum();
        if answered > 0.0 {
            self.last_latency = per_task.iter().map(|p| p.served * (p.shift + p.mean)).sum::<f64>() / answered;
        } else {
            self.last_latency = latency_shift + latency_mean;
        }
        let mean_rho =
            (!per_task.is_empty()).then(|| per_task.iter().map(|p| p.rho).sum::<f64>() / per_task.len() as f64);
        let cpu = mean_rho.map(|r| s.idle_cpu + (100.0 - s.idle_cpu) * r);
        let memory = mean_rho.map(|r| s.memory_percent + 10.0 * r);

        self.seconds.push(Second {
            offered,
            served,
            failed,
            failed_in_service,
            desired: self.desired,
            healthy,
            provisioning: self.provisioning(tf),
            targets,
            launched: self.launched_now,
            cpu,
            memory,
            latency_shift,
            latency_mean,
            backlog: self.backlog,
        });
    }
}

impl World {
    /// Requests through each task's own queue: what a task cannot answer within the
    /// request timeout fails. The tasks' seconds and the requests failed in service.
    fn serve(&mut self, tf: f64, share: f64, factor: f64, s: &super::scenario::ServiceModel) -> (Vec<TaskSecond>, f64) {
        let mut per_task = Vec::new();
        let mut failed_in_service = 0.0;
        for k in self.tasks.iter_mut().filter(|k| k.in_service(tf)) {
            let capacity = k.capacity * factor;
            let total = k.queue + share;
            let done = total.min(capacity);
            k.queue = total - done;
            let max_queue = capacity * s.request_timeout;
            if k.queue > max_queue {
                failed_in_service += k.queue - max_queue;
                k.queue = max_queue;
            }
            let rho = (done / capacity).min(1.0);
            let mean = (1.0 / capacity) / (1.0 - rho.min(0.995));
            let shift = s.base_latency + k.queue / capacity;
            per_task.push(TaskSecond {
                served: done,
                p99: shift + mean * 100f64.ln(),
                shift,
                mean,
                rho,
            });
        }
        (per_task, failed_in_service)
    }

    /// Messages through one shared queue (SQS): every task in service takes what it can
    /// process, nothing times out, and a message waits for the backlog ahead of it.
    fn work_queue(&mut self, tf: f64, arrived: f64, factor: f64, base_latency: f64) -> Vec<TaskSecond> {
        self.backlog += arrived;
        let capacities: Vec<f64> = self
            .tasks
            .iter()
            .filter(|k| k.in_service(tf))
            .map(|k| k.capacity * factor)
            .collect();
        let total: f64 = capacities.iter().sum();
        if total <= 0.0 {
            return Vec::new();
        }
        let done = self.backlog.min(total);
        self.backlog -= done;
        let wait = self.backlog / total;
        capacities
            .iter()
            .map(|&capacity| {
                let served = capacity * done / total;
                let rho = (served / capacity).min(1.0);
                let mean = (1.0 / capacity) / (1.0 - rho.min(0.995));
                let shift = base_latency + wait;
                TaskSecond {
                    served,
                    p99: shift + mean * 100f64.ln(),
                    shift,
                    mean,
                    rho,
                }
            })
            .collect()
    }
}

/// One healthy task's second.
struct TaskSecond {
    served: f64,
    p99: f64,
    shift: f64,
    mean: f64,
    rho: f64,
}

/// The latency distribution of the task at the 99th percentile of the second's answers:
/// slowest first, the first whose answers bring the slow share to 1 %.
fn tail_task(per_task: &mut [TaskSecond]) -> Option<(f64, f64)> {
    per_task.sort_by(|a, b| b.p99.total_cmp(&a.p99));
    let total: f64 = per_task.iter().map(|p| p.served).sum();
    let mut share = 0.0;
    for p in per_task.iter() {
        share += if total > 0.0 { p.served / total } else { 1.0 };
        if share >= 0.01 {
            return Some((p.shift, p.mean));
        }
    }
    per_task.last().map(|p| (p.shift, p.mean))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario;

    fn scenario(extra: &str) -> Scenario {
        scenario_at(2000, extra)
    }

    fn scenario_at(rate: u32, extra: &str) -> Scenario {
        let text = format!(
            "duration = \"10m\"\nseed = 7\n[service]\ninitial_tasks = 4\ncapacity_rps = 1000\nstartup = \"60s\"\n\
             startup_jitter = \"20s\"\n{extra}\n[traffic]\nkind = \"rate\"\nnoise = 0.1\n[[traffic.phase]]\nat = \"0s\"\nrate = {rate}\n"
        );
        scenario::parse(Path::new("t.toml"), &text).unwrap()
    }

    #[test]
    fn two_runs_that_scale_differently_meet_the_same_traffic() {
        let sc = scenario("");
        let (mut a, mut b) = (World::new(&sc), World::new(&sc));
        for t in 0..300 {
            if t == 30 {
                a.set_desired(9, t).unwrap();
            }
            a.step(t);
            b.step(t);
        }
        let offered = |w: &World| w.seconds.kept().iter().map(|s| s.offered).collect::<Vec<_>>();
        assert_eq!(offered(&a), offered(&b));
        assert!(a.healthy(300.0) > b.healthy(300.0));
    }

    #[test]
    fn the_nth_task_starts_alike_in_every_run() {
        let sc = scenario("");
        let starts = |delay: u64| {
            let mut w = World::new(&sc);
            for t in 0..200 {
                if t == delay {
                    w.set_desired(6, t).unwrap();
                }
                w.step(t);
            }
            let mut ups: Vec<i64> = w
                .tasks
                .iter()
                .filter(|k| k.healthy_at > 0.0)
                .map(|k| ((k.healthy_at - delay as f64) * 1000.0).round() as i64)
                .collect();
            ups.sort();
            ups
        };
        assert_eq!(starts(10).len(), 2);
        assert_eq!(starts(10), starts(40));
    }

    #[test]
    fn a_stopped_task_fails_no_request_and_a_crashed_one_does() {
        let failed = |kind: &str| {
            let sc = scenario(&format!("[[failure]]\nat = \"2m\"\nkind = \"{kind}\"\n"));
            let mut w = World::new(&sc);
            (0..sc.duration).for_each(|t| w.step(t));
            w.seconds.kept().iter().map(|s| s.failed).sum::<f64>()
        };
        assert_eq!(failed("stop"), 0.0);
        assert!(failed("crash") > 1000.0, "{}", failed("crash"));
    }

    #[test]
    fn the_slowest_task_sets_the_tail_when_capacities_differ() {
        let p99 = |spread: &str| {
            let sc = scenario_at(3000, &format!("capacity_spread = {spread}\n"));
            let mut w = World::new(&sc);
            (0..120).for_each(|t| w.step(t));
            w.seconds.kept()[100].p99()
        };
        assert!(p99("0.4") > 2.0 * p99("0.0"), "{} vs {}", p99("0.4"), p99("0.0"));
    }

    #[test]
    fn faults_fail_updates_and_starts_in_their_windows() {
        let sc = scenario(
            "[[fault]]\nkind = \"update_service_fails\"\nat = \"1m\"\nduration = \"1m\"\n\
             [[fault]]\nkind = \"failed_starts\"\nat = \"3m\"\nduration = \"2m\"\nprobability = 1.0\n",
        );
        let mut w = World::new(&sc);
        (0..170).for_each(|t| w.step(t));
        assert!(w.set_desired(5, 90).unwrap_err().contains("Throttling"));
        w.set_desired(5, 170).unwrap();
        (170..181).for_each(|t| w.step(t));
        assert_eq!(w.healthy(181.0), 4, "the fifth task launched at 2:50 is not up yet");
        w.set_desired(6, 181).unwrap();
        (181..300).for_each(|t| w.step(t));
        assert_eq!(w.healthy(300.0), 5, "tasks launched from 3:00 on never start");
        assert!(
            w.seconds.kept().iter().map(|s| s.launched).sum::<u32>() > 2,
            "failed starts are retried"
        );
    }
}
