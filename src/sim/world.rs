//! The simulated service: Fargate-like tasks behind a load balancer, one step per second.
//!
//! Latency model: each healthy task is an M/M/1 server with service time 1/capacity, so
//! response times are a shifted exponential whose mean grows as S/(1-ρ). At ρ = 0.99 a
//! 2,100 requests/s task answers with p99 ≈ 220 ms, as the original Go service did.
//! Past saturation requests queue (adding wait to every response) and fail once queued
//! longer than the request timeout.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::scenario::Scenario;

/// One simulated second, as recorded for metrics, the timeline and the summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Second {
    pub offered: f64,
    pub served: f64,
    pub failed: f64,
    pub desired: u32,
    pub healthy: u32,
    pub provisioning: u32,
    /// Average CPU % of healthy tasks; None without any.
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    /// Response time distribution of the second: shift + Exp(mean).
    pub latency_shift: f64,
    pub latency_mean: f64,
}

impl Second {
    /// The q-quantile (0..1) of this second's response time.
    pub fn latency_quantile(&self, q: f64) -> f64 {
        self.latency_shift + self.latency_mean * -(1.0 - q).ln()
    }

    pub fn p99(&self) -> f64 {
        self.latency_quantile(0.99)
    }
}

#[derive(Debug, Clone, Copy)]
struct Task {
    healthy_at: f64,
    /// When the task died (crash); it still gets traffic until the ALB notices.
    died_at: Option<f64>,
}

pub struct World {
    scenario: Scenario,
    rng: ChaCha8Rng,
    noise: Option<Normal<f64>>,
    tasks: Vec<Task>,
    desired: u32,
    /// ECS launches a replacement for a dead task only after this time.
    replace_after: f64,
    queue: f64,
    last_latency: f64,
    pub seconds: Vec<Second>,
}

impl World {
    pub fn new(scenario: &Scenario) -> Self {
        let s = &scenario.service;
        let tasks = (0..s.initial_tasks)
            .map(|_| Task {
                healthy_at: 0.0,
                died_at: None,
            })
            .collect();
        Self {
            rng: ChaCha8Rng::seed_from_u64(scenario.seed),
            noise: (scenario.traffic.noise > 0.0)
                .then(|| Normal::new(1.0, scenario.traffic.noise).ok())
                .flatten(),
            tasks,
            desired: s.initial_tasks,
            replace_after: 0.0,
            queue: 0.0,
            last_latency: s.base_latency,
            seconds: Vec::with_capacity(scenario.duration as usize),
            scenario: scenario.clone(),
        }
    }

    pub fn desired(&self) -> u32 {
        self.desired
    }

    /// Healthy (in service) tasks at time `t`.
    pub fn healthy(&self, t: f64) -> u32 {
        self.tasks
            .iter()
            .filter(|k| k.died_at.is_none() && k.healthy_at <= t)
            .count() as u32
    }

    /// Launched but not yet healthy.
    pub fn provisioning(&self, t: f64) -> u32 {
        self.tasks
            .iter()
            .filter(|k| k.died_at.is_none() && k.healthy_at > t)
            .count() as u32
    }

    /// The counts ECS would report at second `t`.
    pub fn capacity(&self, t: u64) -> crate::decide::Capacity {
        crate::decide::Capacity {
            desired: self.desired,
            running: self.healthy(t as f64),
            pending: self.provisioning(t as f64),
            deployment_in_progress: false,
        }
    }

    /// UpdateService: ECS converges on the new count at the next step.
    pub fn set_desired(&mut self, n: u32) {
        self.desired = n;
    }

    fn startup(&mut self) -> f64 {
        let s = &self.scenario.service;
        let jitter = if s.startup_jitter > 0.0 {
            rand::Rng::random_range(&mut self.rng, -s.startup_jitter..=s.startup_jitter)
        } else {
            0.0
        };
        (s.startup + jitter).max(1.0)
    }

    /// What ECS does each second: replace dead tasks, launch or stop to reach `desired`.
    fn reconcile(&mut self, t: f64) {
        let detection = self.scenario.service.failure_detection;
        self.tasks.retain(|k| k.died_at.is_none_or(|d| t < d + detection));
        let live = self.tasks.iter().filter(|k| k.died_at.is_none()).count() as u32;
        if live < self.desired && t >= self.replace_after {
            for _ in live..self.desired {
                let healthy_at = t + self.startup();
                self.tasks.push(Task {
                    healthy_at,
                    died_at: None,
                });
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

    fn kill(&mut self, t: f64, n: u32) {
        let mut left = n;
        for k in self
            .tasks
            .iter_mut()
            .filter(|k| k.died_at.is_none() && k.healthy_at <= t)
        {
            if left == 0 {
                break;
            }
            k.died_at = Some(t);
            left -= 1;
        }
        self.replace_after = t + self.scenario.service.replacement_delay;
    }

    /// Advances the world by the second starting at `t`.
    pub fn step(&mut self, t: u64) {
        let tf = t as f64;
        for f in self.scenario.failures.clone() {
            if f.at == t {
                self.kill(tf, f.tasks);
            }
        }
        self.reconcile(tf);

        let s = self.scenario.service.clone();
        let level = self.scenario.traffic.level(t);
        let noise = self.noise.map_or(1.0, |n| n.sample(&mut self.rng).max(0.0));
        let mut offered = self.scenario.traffic.offered_rate(level, self.last_latency) * noise;
        if self.scenario.traffic.kind == super::scenario::LoadKind::Users {
            // Closed loop: no more requests in flight than there are users.
            offered = offered.min(level.max(0.0) / self.scenario.traffic.rtt.max(1e-3));
        }

        let healthy = self.healthy(tf);
        let dead_in_lb = self.tasks.iter().filter(|k| k.died_at.is_some()).count() as u32;
        let targets = healthy + dead_in_lb;
        let (to_dead, arrivals) = if targets == 0 {
            (offered, 0.0)
        } else {
            let share = f64::from(dead_in_lb) / f64::from(targets);
            (offered * share, offered * (1.0 - share))
        };

        let capacity = f64::from(healthy) * s.capacity_rps;
        let mut failed = to_dead;
        let served;
        if capacity <= 0.0 {
            failed += arrivals + self.queue;
            self.queue = 0.0;
            served = 0.0;
        } else {
            let total = self.queue + arrivals;
            served = total.min(capacity);
            self.queue = total - served;
            let max_queue = capacity * s.request_timeout;
            if self.queue > max_queue {
                failed += self.queue - max_queue;
                self.queue = max_queue;
            }
        }

        let rho = if capacity > 0.0 {
            (served / capacity).min(1.0)
        } else {
            1.0
        };
        let service_time = 1.0 / s.capacity_rps;
        let wait = if capacity > 0.0 {
            self.queue / capacity
        } else {
            s.request_timeout
        };
        let latency_mean = service_time / (1.0 - rho.min(0.995));
        let latency_shift = s.base_latency + wait;
        self.last_latency = latency_shift + latency_mean;
        let cpu = (healthy > 0).then_some(s.idle_cpu + (100.0 - s.idle_cpu) * rho);
        let memory = (healthy > 0).then_some(s.memory_percent + 10.0 * rho);

        self.seconds.push(Second {
            offered,
            served,
            failed,
            desired: self.desired,
            healthy,
            provisioning: self.provisioning(tf),
            cpu,
            memory,
            latency_shift,
            latency_mean,
        });
    }
}
