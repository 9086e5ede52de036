//! What a task serves within the SLO, estimated from many steady readings rather than
//! the last one: the knee of the curve of p99 against the per-task request rate.
//!
//! Readings are kept in bins of rate (4 % wide, at most [`MAX_BINS`]), each a decayed
//! weight with the mean rate, mean p99 and mean CPU of its readings and the weight of
//! those above the SLO; old evidence fades with a half-life of [`HALF_LIFE`].
//!
//! The estimate fits a queueing-shaped curve, p99 = b + a·r / (K − r), where K is the rate
//! at which a task saturates (an M/M/1 server's tail is exactly this shape; a pool of
//! workers keeps its tail flat longer and is this curve with a smaller a), by weighted
//! least squares, and solves it for the rate at which p99 reaches the SLO.
//! - K comes from CPU when the policy reads it: CPU rises in proportion to the rate, so
//!   a straight line through the (rate, CPU) readings says where a task reaches 100 %,
//!   and K is searched within ±15 % of that. A task whose p99 stays flat until it
//!   saturates (most CPU-bound services) has its knee found from readings far below it.
//! - Without CPU, K is searched from the highest rate seen to 30 times it, and the
//!   curve may not extrapolate past 1.5 times the highest rate that held.
//!
//! The knee is then held inside what was seen: at least the highest rate at which the SLO
//! held, at most the lowest at which it broke. Overloaded readings (p99 past 3 × the SLO:
//! a queue growing without bound has no steady p99) only bound it from above. The
//! uncertainty is the range of knees the curves that fit almost as well give, within
//! that bracket.
//!
//! Tried and set aside (on the simulator's families, against their true knees): the
//! curve without a CPU anchor reads a flat p99 as "no knee in sight" and lands anywhere
//! up to its extrapolation limit; a robust (Theil–Sen) line of p99 on rate is blind to a
//! curve that bends only near saturation; the last breach wins (the old rule) learns a
//! straddling window's rate for a day.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Bins are this much apart in rate: 4 %.
const BIN_RATIO: f64 = 1.04;
/// At most this many bins (a range of rates of 1.04^160 ≈ 530×); the lightest goes first.
pub const MAX_BINS: usize = 160;
/// Evidence halves in weight every this long: the knee follows a service that changes
/// (a heavier query mix, a slower host) within hours, and a day still remembers the peak.
pub const HALF_LIFE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);
/// A bin lighter than this is forgotten.
const FORGOTTEN: f64 = 0.02;
/// Readings (in weight) an estimate needs.
pub const MIN_READINGS: f64 = 6.0;
/// Past the highest rate seen to hold, a curve may extrapolate at most this far.
const MAX_EXTRAPOLATION: f64 = 1.5;
/// p99s are clipped here (× SLO) in the fit: an overload's latency grows without bound.
const CLIP: f64 = 3.0;

/// The latency objective a knee is learned against: a quantile and its limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    pub seconds: f64,
    /// 0.99 for p99.
    pub quantile: f64,
}

impl Slo {
    /// −ln(1 − q): one queue's q-quantile of response time is this over its spare
    /// capacity (4.6 for p99).
    pub fn tail(&self) -> f64 {
        -(1.0 - self.quantile.clamp(0.0, 0.999_999)).ln()
    }
}

/// One bin of readings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Bin {
    /// ln(rate) / ln(BIN_RATIO), rounded down.
    i: i32,
    /// Decayed weight of its readings.
    w: f64,
    /// Weighted sums of rate and (clipped) p99, seconds.
    rate: f64,
    p99: f64,
    /// Weight of the readings above the SLO.
    broke: f64,
    /// Weight of the readings with CPU, and their weighted sums of rate and CPU (0..1).
    #[serde(default)]
    cpu_w: f64,
    #[serde(default)]
    cpu_rate: f64,
    #[serde(default)]
    cpu: f64,
}

impl Bin {
    fn mean_rate(&self) -> f64 {
        self.rate / self.w
    }
    fn mean_p99(&self) -> f64 {
        self.p99 / self.w
    }
    fn broke_share(&self) -> f64 {
        self.broke / self.w
    }
    /// An overloaded bin only bounds the knee: its queue grows, its p99 has no level.
    fn overloaded(&self, slo: Slo) -> bool {
        self.mean_p99() >= 0.99 * CLIP * slo.seconds
    }
    fn scale(&mut self, f: f64) {
        for v in [
            &mut self.w,
            &mut self.rate,
            &mut self.p99,
            &mut self.broke,
            &mut self.cpu_w,
            &mut self.cpu_rate,
            &mut self.cpu,
        ] {
            *v *= f;
        }
    }
}

/// The knee as estimated now, with how sure the estimate is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Requests per task per second at which p99 reaches the SLO.
    pub per_task: f64,
    /// The range the evidence allows.
    pub low: f64,
    pub high: f64,
    /// Readings behind it (decayed weight).
    pub readings: f64,
    /// From the oldest reading still weighing to the newest, seconds.
    pub span_s: u64,
    /// Whether readings were seen above the SLO (the knee is bracketed), or the curve
    /// extrapolates from below it, or it is the previous revision's.
    pub basis: Basis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Readings on both sides of the SLO.
    Bracketed,
    /// Only readings within the SLO, with the saturation rate from CPU: the curve is
    /// anchored where a task reaches 100 %.
    Anchored,
    /// Only readings within the SLO, and the tail bends well before CPU saturates: the
    /// knee is read from the bend alone.
    Curved,
    /// Only readings within the SLO and no CPU: the curve extrapolates, and the knee is a
    /// lower bound.
    Extrapolated,
    /// The previous revision's knee, until this one has evidence of its own.
    Prior,
}

impl Knee {
    /// Whether the evidence pins the knee down: its range is within ±15 % of it.
    pub fn tight(&self) -> bool {
        self.high - self.low <= 0.3 * self.per_task
    }

    /// The knee a policy may size by: the estimate when the evidence is tight, the low end
    /// of its range when it is not.
    pub fn usable(&self) -> f64 {
        if self.tight() { self.per_task } else { self.low }
    }

    /// "412 ± 25 req/s per task from 37 readings over 2h"
    pub fn describe(&self) -> String {
        let half = (self.high - self.low) / 2.0;
        let span = crate::policy::duration::format(std::time::Duration::from_secs(self.span_s.max(1)));
        let basis = match self.basis {
            Basis::Bracketed => "",
            Basis::Anchored => ", anchored on CPU saturation: the SLO has not been reached",
            Basis::Curved => ", from how p99 bends (it bends before CPU saturates): the SLO has not been reached",
            Basis::Extrapolated => ", extrapolated: the SLO has not been reached",
            Basis::Prior => ", the previous revision's",
        };
        format!(
            "knee {:.0} ± {:.0} req/s per task from {:.0} readings over {span}{basis}",
            self.per_task, half, self.readings
        )
    }
}

/// Everything a learning rule remembers about one revision of the service, and the last
/// revision's knee as a prior.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KneeModel {
    /// The service's revision (task definition) the bins describe.
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    bins: Vec<Bin>,
    #[serde(default)]
    pub updated: Option<DateTime<Utc>>,
    /// The oldest reading still weighing.
    #[serde(default)]
    pub first: Option<DateTime<Utc>>,
    /// The previous revision's knee, used until this one has its own evidence.
    #[serde(default)]
    pub prior: Option<Knee>,
}

impl KneeModel {
    /// The model after the service moved to `revision`: a new estimate, the old one kept
    /// as its prior (a deploy changes what a task serves; by how much is unknown).
    pub fn on_revision(&self, revision: u64, slo: Slo, now: DateTime<Utc>) -> KneeModel {
        if revision == self.revision {
            return self.clone();
        }
        // A knee that is only a lower bound is no prior: it would size the new revision.
        let prior = self
            .estimate(slo, now)
            .filter(|k| k.basis != Basis::Extrapolated)
            .map(|k| Knee {
                basis: Basis::Prior,
                ..k
            })
            .or(self.prior);
        KneeModel {
            revision,
            prior,
            ..KneeModel::default()
        }
    }

    /// Adds one steady window.
    pub fn add(&mut self, w: &super::evidence::Window, slo: Slo) {
        let (rate, p99) = (w.rate, w.p99);
        if !(rate.is_finite() && rate > 0.0 && p99.is_finite() && p99 >= 0.0) {
            return;
        }
        self.decay(w.at);
        let i = (rate.ln() / BIN_RATIO.ln()).floor() as i32;
        let cpu = w.cpu.filter(|c| c.is_finite() && *c > 0.0);
        let reading = Bin {
            i,
            w: 1.0,
            rate,
            p99: p99.min(CLIP * slo.seconds),
            broke: if p99 > slo.seconds { 1.0 } else { 0.0 },
            cpu_w: if cpu.is_some() { 1.0 } else { 0.0 },
            cpu_rate: if cpu.is_some() { rate } else { 0.0 },
            cpu: cpu.unwrap_or(0.0),
        };
        match self.bins.binary_search_by_key(&i, |b| b.i) {
            Ok(k) => {
                let b = &mut self.bins[k];
                b.w += reading.w;
                b.rate += reading.rate;
                b.p99 += reading.p99;
                b.broke += reading.broke;
                b.cpu_w += reading.cpu_w;
                b.cpu_rate += reading.cpu_rate;
                b.cpu += reading.cpu;
            }
            Err(k) => self.bins.insert(k, reading),
        }
        while self.bins.len() > MAX_BINS {
            let lightest = (0..self.bins.len())
                .min_by(|a, b| self.bins[*a].w.total_cmp(&self.bins[*b].w))
                .unwrap_or(0);
            self.bins.remove(lightest);
        }
        self.first = Some(self.first.map_or(w.at, |f| f.min(w.at)));
    }

    /// The rate at which a task reaches 100 % CPU, from a weighted line through the
    /// (rate, CPU) readings (a task idles at some CPU of its own); None without enough
    /// readings with CPU, or when their rates are too close together to draw a line
    /// (through the origin instead, the idle CPU would read as load and put saturation
    /// too low).
    pub fn saturation(&self, slo: Slo) -> Option<f64> {
        // A saturated task's CPU is pinned at 100 % whatever it is offered: no slope there.
        let with: Vec<&Bin> = self
            .bins
            .iter()
            .filter(|b| b.cpu_w > 0.0 && !b.overloaded(slo) && b.cpu / b.cpu_w < SATURATED)
            .collect();
        let sw: f64 = with.iter().map(|b| b.cpu_w).sum();
        if sw < MIN_READINGS {
            return None;
        }
        let x = |b: &Bin| b.cpu_rate / b.cpu_w;
        let y = |b: &Bin| b.cpu / b.cpu_w;
        let lo = with.iter().map(|b| x(b)).fold(f64::INFINITY, f64::min);
        let hi = with.iter().map(|b| x(b)).fold(0.0, f64::max);
        if with.len() < 3 || hi < MIN_SPREAD * lo {
            return None;
        }
        let mx = with.iter().map(|b| b.cpu_w * x(b)).sum::<f64>() / sw;
        let my = with.iter().map(|b| b.cpu_w * y(b)).sum::<f64>() / sw;
        let sxx: f64 = with.iter().map(|b| b.cpu_w * (x(b) - mx).powi(2)).sum();
        let sxy: f64 = with.iter().map(|b| b.cpu_w * (x(b) - mx) * (y(b) - my)).sum();
        let slope = sxy / sxx;
        let idle = my - slope * mx;
        // The line must be sure of its slope: its standard error within a tenth of it.
        let residual: f64 = with
            .iter()
            .map(|b| b.cpu_w * (y(b) - idle - slope * x(b)).powi(2))
            .sum::<f64>()
            / (sw - 2.0).max(1.0);
        let error = (residual / sxx).sqrt();
        let sure = slope > 0.0 && error <= MAX_SLOPE_ERROR * slope;
        (sure && (0.0..MAX_IDLE).contains(&idle)).then(|| (1.0 - idle) / slope)
    }

    /// Old evidence fades: every weight halves each [`HALF_LIFE`]; bins that have all but
    /// gone are dropped.
    fn decay(&mut self, now: DateTime<Utc>) {
        if let Some(then) = self.updated
            && now > then
        {
            let dt = (now - then).num_milliseconds() as f64 / 1000.0;
            let f = 0.5f64.powf(dt / HALF_LIFE.as_secs_f64());
            for b in &mut self.bins {
                b.scale(f);
            }
            self.bins.retain(|b| b.w >= FORGOTTEN);
            if self.bins.is_empty() {
                self.first = None;
            }
        }
        if self.updated.is_none_or(|t| now > t) {
            self.updated = Some(now);
        }
    }

    /// The readings' weight as of `now`.
    pub fn weight(&self, now: DateTime<Utc>) -> f64 {
        let f = self.updated.map_or(1.0, |then| {
            let dt = (now - then).num_milliseconds().max(0) as f64 / 1000.0;
            0.5f64.powf(dt / HALF_LIFE.as_secs_f64())
        });
        self.bins.iter().map(|b| b.w).sum::<f64>() * f
    }

    /// The knee at `now` for an SLO of `slo` seconds, or the prior's; None before there is
    /// enough evidence of either.
    pub fn estimate(&self, slo: Slo, now: DateTime<Utc>) -> Option<Knee> {
        let readings = self.weight(now);
        if readings < MIN_READINGS {
            return self.prior;
        }
        let rates = |keep: fn(&Bin, f64) -> bool, bound: f64| -> Vec<f64> {
            self.bins
                .iter()
                .filter(|b| keep(b, bound))
                .map(Bin::mean_rate)
                .collect()
        };
        let held_max = rates(|b, _| b.broke_share() < 0.5, 0.0)
            .into_iter()
            .fold(f64::NAN, f64::max);
        let broke_min = rates(
            |b, held| b.broke_share() >= 0.5 && b.mean_rate() > held,
            held_max.max(0.0),
        )
        .into_iter()
        .fold(f64::NAN, f64::min);
        let fitted: Vec<Point> = self
            .bins
            .iter()
            .filter(|b| !b.overloaded(slo))
            .map(|b| Point {
                rate: b.mean_rate(),
                p99: b.mean_p99(),
                w: b.w,
            })
            .collect();
        let top = fitted.iter().map(|p| p.rate).fold(0.0, f64::max);
        let saturation = self.saturation(slo);
        let grid = |lo: f64, hi: f64| -> Vec<f64> {
            (0..GRID)
                .map(|j| lo * (hi / lo).powf(f64::from(j) / f64::from(GRID - 1)))
                .collect()
        };
        // Whether the tail bends as one queue saturating with the CPU would: such a queue's
        // q-quantile is −ln(1 − q)/(K − r) over a floor, so near saturation its curve has
        // an amplitude of −ln(1 − q)/K. A tail that rises many times faster bends well
        // before the CPU saturates (requests arriving in bursts, a lock, a downstream
        // call), and the CPU line must not anchor the knee.
        let bends_early = saturation.is_some_and(|s| {
            let k = ANCHOR_HIGH * s;
            fitted.len() >= 3
                && top * 1.01 < ANCHOR_LOW * s
                && fit_at(&fitted, k, slo).is_some_and(|f| f.amplitude > STEEPER * slo.tail() / k)
        });
        let (k_low, k_high, unbroken) = match saturation {
            Some(s) if bends_early => (top * 1.01, ANCHOR_LOW * s, Basis::Curved),
            Some(s) if top.max(ANCHOR_LOW * s) * 1.01 < ANCHOR_HIGH * s => {
                (top.max(ANCHOR_LOW * s) * 1.01, ANCHOR_HIGH * s, Basis::Anchored)
            }
            _ => (top * 1.01, top * 30.0, Basis::Extrapolated),
        };
        let (lo, hi, basis) = match (held_max.is_nan(), broke_min.is_nan(), unbroken) {
            // Everything seen broke the SLO: the knee is below the lowest rate seen.
            (true, _, _) => (
                0.0,
                rates(|_, _| true, 0.0).into_iter().fold(f64::MAX, f64::min),
                Basis::Bracketed,
            ),
            (false, false, _) => (held_max, broke_min, Basis::Bracketed),
            (false, true, Basis::Extrapolated) => (held_max, held_max * MAX_EXTRAPOLATION, Basis::Extrapolated),
            (false, true, basis) => (held_max, k_high.max(held_max), basis),
        };
        let fits: Vec<Fit> = grid(k_low, k_high)
            .into_iter()
            .filter_map(|k| fit_at(&fitted, k, slo))
            .collect();
        let best = fits.iter().map(|f| f.sse).fold(f64::INFINITY, f64::min);
        // Curves that fit almost as well as the best bound the knee; so does what was seen.
        // "Almost": within what the residuals' own spread allows (an F-test's spirit: a
        // curve of two parameters through n bins has n − 2 degrees of freedom), and never
        // finer than p99 errors of 2 % of the SLO, which no reading resolves. Through two
        // bins or fewer, every curve fits: the bracket alone bounds the knee.
        let tolerance = significant(best, fitted.len(), 2, slo, readings);
        let best_knee = fits
            .iter()
            .min_by(|a, b| a.sse.total_cmp(&b.sse))
            .map_or((lo + hi) / 2.0, |f| f.knee.clamp(lo, hi));
        let near: Vec<f64> = fits
            .iter()
            .filter(|f| f.sse <= tolerance)
            .map(|f| f.knee.clamp(lo, hi))
            .collect();
        let low = near.iter().copied().fold(best_knee, f64::min);
        let high = near.iter().copied().fold(best_knee, f64::max);
        let span_s = match (self.first, self.updated) {
            (Some(a), Some(b)) if b > a => (b - a).num_seconds() as u64,
            _ => 0,
        };
        Some(Knee {
            per_task: best_knee,
            low,
            high,
            readings,
            span_s,
            basis,
        })
    }
}

/// p99 errors below this share of the SLO are noise.
const NOISE: f64 = 0.02;
/// CPU at or above this share is a saturated task's.
const SATURATED: f64 = 0.97;
/// The rates with CPU must span this ratio for a line through them, and the line's slope
/// be known within this share.
const MIN_SPREAD: f64 = 1.15;
const MAX_SLOPE_ERROR: f64 = 0.1;
/// A line that says a task idles above this CPU share is no line of a CPU-bound task.
const MAX_IDLE: f64 = 0.5;
/// The squared error a fit must exceed to be worse than one of error `best` through `n`
/// bins with `params` parameters: the residuals' own spread (an F-test's spirit) plus
/// p99 errors of [`NOISE`] × the SLO, which no reading resolves. With no degrees of
/// freedom left, every curve fits.
fn significant(best: f64, n: usize, params: usize, slo: Slo, readings: f64) -> f64 {
    if n <= params {
        return f64::INFINITY;
    }
    best * (1.0 + 4.0 / (n - params) as f64) + (NOISE * slo.seconds).powi(2) * readings
}

/// A tail rising this many times faster than one queue saturating with the CPU bends
/// before the CPU saturates.
const STEEPER: f64 = 3.0;
/// Curves tried per estimate.
const GRID: u32 = 48;
/// K is searched within this share of the CPU saturation rate: the slowest task (the one
/// that sets the tail) saturates below the mean one, rarely far above it.
const ANCHOR_LOW: f64 = 0.85;
const ANCHOR_HIGH: f64 = 1.1;

/// The curve p99 = b + a·r/(K − r) for one K, fitted to `bins` by weighted least squares
/// with a and b at least zero, with its squared error and the rate at which it reaches
/// the SLO.
fn fit_at(points: &[Point], k: f64, slo: Slo) -> Option<Fit> {
    if points.is_empty() || points.iter().any(|p| p.rate >= k) {
        return None;
    }
    // One pass: the sums give the line and its squared error alike.
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        let x = p.rate / (k - p.rate);
        sw += p.w;
        sx += p.w * x;
        sy += p.w * p.p99;
        sxx += p.w * x * x;
        sxy += p.w * x * p.p99;
        syy += p.w * p.p99 * p.p99;
    }
    let (a, b0) = line_at_least_zero(sw, sx, sy, sxx, sxy);
    let sse = (syy - 2.0 * b0 * sy - 2.0 * a * sxy + b0 * b0 * sw + 2.0 * a * b0 * sx + a * a * sxx).max(0.0);
    // Solve b + a·r/(K − r) = SLO for r.
    let room = slo.seconds - b0;
    let knee = if room <= 0.0 {
        0.0
    } else if a <= 0.0 {
        k
    } else {
        k * room / (a + room)
    };
    Some(Fit {
        sse,
        knee,
        amplitude: a,
    })
}

/// Weighted least squares of p99 = b + a·x from the weighted sums, with a and b at least zero.
fn line_at_least_zero(sw: f64, sx: f64, sy: f64, sxx: f64, sxy: f64) -> (f64, f64) {
    let var = sxx - sx * sx / sw;
    let (mut a, mut b0) = if var > 1e-12 {
        let a = (sxy - sx * sy / sw) / var;
        (a, (sy - a * sx) / sw)
    } else {
        (0.0, sy / sw)
    };
    if a < 0.0 {
        a = 0.0;
        b0 = sy / sw;
    }
    if b0 < 0.0 {
        b0 = 0.0;
        a = if sxx > 0.0 { (sxy / sxx).max(0.0) } else { 0.0 };
    }
    (a, b0)
}

/// A bin as the fit reads it.
struct Point {
    rate: f64,
    p99: f64,
    w: f64,
}

struct Fit {
    sse: f64,
    knee: f64,
    /// a, seconds.
    amplitude: f64,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::evidence::Window;
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    /// An M/M/1 task of `mu` requests/s: p99 = 2 ms + ln(100) / (mu − r).
    fn mm1(mu: f64, r: f64) -> f64 {
        0.002 + 100f64.ln() / (mu - r).max(1e-3)
    }

    const SLO: Slo = Slo {
        seconds: 0.150,
        quantile: 0.99,
    };

    fn true_knee(mu: f64) -> f64 {
        mu - 100f64.ln() / (SLO.seconds - 0.002)
    }

    #[test]
    fn readings_on_both_sides_of_the_slo_find_the_knee_tightly() {
        let mut m = KneeModel::default();
        for (i, r) in [800.0, 1200.0, 1500.0, 1800.0, 2040.0, 2080.0, 2090.0]
            .iter()
            .cycle()
            .take(40)
            .enumerate()
        {
            m.add(&Window::reading(*r, mm1(2100.0, *r), t(i as i64 * 10)), SLO);
        }
        let k = m.estimate(SLO, t(400)).unwrap();
        let truth = true_knee(2100.0);
        assert_eq!(k.basis, Basis::Bracketed);
        assert!((k.per_task / truth - 1.0).abs() < 0.02, "{k:?} vs {truth}");
        assert!(k.low <= truth * 1.01 && k.high >= truth * 0.99, "{k:?} vs {truth}");
    }

    #[test]
    fn readings_far_below_the_knee_extrapolate_and_say_so() {
        let mut m = KneeModel::default();
        for i in 0..30 {
            let r = 600.0 + 20.0 * f64::from(i % 15);
            m.add(&Window::reading(r, mm1(2100.0, r), t(i64::from(i) * 10)), SLO);
        }
        let k = m.estimate(SLO, t(300)).unwrap();
        assert_eq!(k.basis, Basis::Extrapolated);
        assert!(
            k.low >= 860.0,
            "at least what was seen to hold (the top bin's mean): {k:?}"
        );
        assert!(k.per_task <= 880.0 * MAX_EXTRAPOLATION + 1e-9, "{k:?}");
        assert!(k.usable() <= k.per_task);
        assert!(k.describe().contains("extrapolated"), "{}", k.describe());
    }

    #[test]
    fn a_server_fed_in_bursts_whose_p99_grows_linearly_is_read_as_well() {
        // p99 = 3 ms + r × 0.6 ms: the SLO of 50 ms is reached at 78 requests/s.
        let mut m = KneeModel::default();
        for i in 0..40 {
            let r = 20.0 + 3.0 * f64::from(i % 25);
            m.add(
                &Window::reading(r, 0.003 + r * 0.0006, t(i64::from(i) * 5)),
                Slo {
                    seconds: 0.050,
                    quantile: 0.99,
                },
            );
        }
        let k = m
            .estimate(
                Slo {
                    seconds: 0.050,
                    quantile: 0.99,
                },
                t(200),
            )
            .unwrap();
        assert!((k.per_task / 78.3 - 1.0).abs() < 0.05, "{k:?}");
    }

    #[test]
    fn one_reading_is_not_a_knee_and_old_evidence_fades() {
        let mut m = KneeModel::default();
        m.add(&Window::reading(1000.0, 0.300, t(0)), SLO);
        assert_eq!(m.estimate(SLO, t(0)), None, "one window rules nothing");
        for i in 0..10 {
            m.add(&Window::reading(1500.0, 0.010, t(i)), SLO);
        }
        let w = m.weight(t(10));
        assert!((w - 11.0).abs() < 0.01, "{w}");
        let later = m.weight(t(10) + chrono::Duration::hours(6));
        assert!((later / w - 0.5).abs() < 0.01, "halves in six hours: {later}");
        assert!(
            m.estimate(SLO, t(10) + chrono::Duration::hours(24)).is_none(),
            "a day without evidence: gone"
        );
    }

    #[test]
    fn a_new_revision_starts_afresh_with_the_old_knee_as_its_prior() {
        let mut m = KneeModel::default();
        for i in 0..30 {
            let r = 1000.0 + 40.0 * f64::from(i % 28);
            m.add(&Window::reading(r, mm1(2100.0, r), t(i64::from(i) * 10)), SLO);
        }
        let before = m.estimate(SLO, t(300)).unwrap();
        let next = m.on_revision(7, SLO, t(300));
        assert_eq!(next.revision, 7);
        assert_eq!(next.weight(t(300)), 0.0);
        let prior = next.estimate(SLO, t(300)).unwrap();
        assert_eq!((prior.basis, prior.per_task), (Basis::Prior, before.per_task));
    }

    #[test]
    fn memory_is_bounded_whatever_the_rates() {
        let mut m = KneeModel::default();
        for i in 0..10_000 {
            m.add(&Window::reading(1.0 + f64::from(i) * 7.3, 0.01, t(i64::from(i))), SLO);
        }
        assert!(m.bins.len() <= MAX_BINS);
    }

    /// CPU of a task that idles at 10 % and saturates at `mu`.
    fn cpu(mu: f64, r: f64) -> f64 {
        0.10 + 0.90 * r / mu
    }

    #[test]
    fn cpu_anchors_a_knee_that_a_flat_p99_alone_cannot_show() {
        // Readings at 25-55 % of what a task serves: p99 barely moves, CPU says where 100 % is.
        let mut m = KneeModel::default();
        for i in 0..40 {
            let r = 500.0 + 20.0 * f64::from(i % 30);
            m.add(
                &Window::reading(r, mm1(2100.0, r), t(i64::from(i) * 10)).with_cpu(cpu(2100.0, r)),
                SLO,
            );
        }
        let k = m.estimate(SLO, t(400)).unwrap();
        let truth = true_knee(2100.0);
        assert_eq!(k.basis, Basis::Anchored, "{k:?}");
        assert!(k.tight(), "{k:?}");
        assert!((k.per_task / truth - 1.0).abs() < 0.1, "{k:?} vs {truth}");
        let saturation = m.saturation(SLO).unwrap();
        assert!((saturation / 2100.0 - 1.0).abs() < 0.02, "{saturation}");
    }

    #[test]
    fn a_line_through_rates_too_close_together_anchors_nothing() {
        // One rate, 10 % idle CPU: through the origin it would read 1,474/s as saturation.
        let mut m = KneeModel::default();
        for i in 0..40 {
            let r = 770.0 + f64::from(i % 3);
            m.add(
                &Window::reading(r, mm1(2100.0, r), t(i64::from(i) * 10)).with_cpu(cpu(2100.0, r)),
                SLO,
            );
        }
        assert_eq!(m.saturation(SLO), None);
        assert_eq!(m.estimate(SLO, t(400)).unwrap().basis, Basis::Extrapolated);
    }

    #[test]
    fn overloaded_readings_only_bound_the_knee_and_their_pinned_cpu_draws_no_line() {
        let mut m = KneeModel::default();
        for i in 0..30 {
            let r = 500.0 + 25.0 * f64::from(i % 25);
            m.add(
                &Window::reading(r, mm1(2100.0, r), t(i64::from(i) * 10)).with_cpu(cpu(2100.0, r)),
                SLO,
            );
        }
        let before = m.estimate(SLO, t(300)).unwrap();
        // A spike: 5,000/s per task, the queue growing, CPU pinned at 100 %.
        for i in 0..10 {
            m.add(
                &Window::reading(5000.0, 10.0, t(300 + i64::from(i) * 10)).with_cpu(1.0),
                SLO,
            );
        }
        let after = m.estimate(SLO, t(400)).unwrap();
        assert_eq!(after.basis, Basis::Bracketed);
        assert!(
            (after.per_task / before.per_task - 1.0).abs() < 0.05,
            "{before:?} -> {after:?}"
        );
        let saturation = m.saturation(SLO).unwrap();
        assert!((saturation / 2100.0 - 1.0).abs() < 0.02, "{saturation}");
    }

    #[test]
    fn a_wide_bracket_is_honest_about_it() {
        // Held at 770, broke at 5,000, nothing between and no CPU: anywhere in between.
        let mut m = KneeModel::default();
        for i in 0..20 {
            m.add(&Window::reading(770.0, 0.005, t(i64::from(i) * 10)), SLO);
        }
        for i in 0..6 {
            m.add(&Window::reading(5000.0, 10.0, t(200 + i64::from(i) * 10)), SLO);
        }
        let k = m.estimate(SLO, t(300)).unwrap();
        assert!(!k.tight(), "{k:?}");
        assert!(k.low <= 800.0 && k.high >= 4900.0, "{k:?}");
    }
}
