//! The forecaster: seasonal naive on the minute series, robust and cheap.
//!
//! A forecast for a window of minutes looks at the same window one season ago, two
//! seasons ago and so on, takes each cycle's peak, and keeps the median: one holiday or
//! one-off event in the history moves a median of several cycles very little, where a
//! mean or a fitted model would carry it forward. The seasons tried are a day, a week
//! and the shortest period the recent hours repeat at (every 10 minutes, every hour at
//! :00). A level correction scales the result by how the last minutes compared with the
//! same minutes of past cycles, which also carries a trend (growth of a few % a day
//! makes every past cycle a little low). Which season to trust is decided by a backtest
//! on the service's own last day.

use serde::{Deserialize, Serialize};

use super::series::{Minute, Series};

pub const DAY: Minute = 1440;
pub const WEEK: Minute = 7 * DAY;

/// Minutes of recent load the level correction compares with past cycles.
const LEVEL_WINDOW: Minute = 10;
/// How far the level correction may scale a forecast: beyond this the pattern has not
/// held, and the backtest, not the correction, should say so.
const LEVEL_RANGE: (f64, f64) = (0.5, 2.0);
/// Each cycle's window is widened by this many minutes on either side: a batch job that
/// starts a minute early or late is still the same job.
const JITTER: Minute = 1;
/// Hours of recent load searched for a short period, and the periods tried (minutes).
const SHORT_SEARCH: Minute = 6 * 60;
const SHORT_PERIODS: std::ops::RangeInclusive<Minute> = 5..=120;
/// The correlation at which a short period counts as a pattern, and the one the
/// correlation must have fallen to at a shorter lag.
const SHORT_CORRELATION: f64 = 0.6;
const SHORT_DIP: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "minutes")]
pub enum Season {
    Daily,
    Weekly,
    /// A shorter period found in the recent history, in minutes.
    Every(Minute),
}

impl Season {
    pub fn period(self) -> Minute {
        match self {
            Season::Daily => DAY,
            Season::Weekly => WEEK,
            Season::Every(p) => p,
        }
    }

    /// Cycles a forecast needs (fewer: no forecast) and uses at most.
    pub fn cycles(self) -> (usize, usize) {
        match self {
            Season::Daily => (2, 7),
            Season::Weekly => (2, 4),
            Season::Every(_) => (3, 12),
        }
    }

    /// "the last 7 days", for verdicts.
    pub fn describe(self, cycles: usize) -> String {
        match self {
            Season::Daily => format!("the same minutes of the last {cycles} days"),
            Season::Weekly => format!("the same minutes of the last {cycles} weeks"),
            Season::Every(p) => format!("a {p}-minute cycle, its last {cycles} repeats"),
        }
    }
}

/// A forecast of the peak demand over a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub demand: f64,
    /// The minute the median cycle peaked at, moved to the window.
    pub at: Minute,
    pub cycles: usize,
    /// The level correction applied.
    pub level: f64,
}

/// The median (the mean of the middle two for an even count); None for no values.
pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The peak of minutes `[from, to)` one cycle back for each cycle, as seen before `now`.
fn cycle_peaks(series: &Series, season: Season, from: Minute, to: Minute, now: Minute) -> Vec<(f64, Minute)> {
    let (_, most) = season.cycles();
    let p = season.period();
    (1..=most as Minute)
        .filter_map(|k| {
            let (a, b) = (from - k * p - JITTER, to - k * p + JITTER);
            if b > now {
                return None;
            }
            // The first minute of the peak: capacity is needed when it starts.
            (a..b)
                .filter_map(|m| series.get(m).map(|v| (v, m + k * p)))
                .fold(None, |best: Option<(f64, Minute)>, x| match best {
                    Some(b) if b.0 >= x.0 => Some(b),
                    _ => Some(x),
                })
        })
        .collect()
}

/// How the last minutes before `now` compare with the same minutes of past cycles.
pub fn level(series: &Series, season: Season, now: Minute) -> f64 {
    let mean = |a: Minute, b: Minute| {
        let v: Vec<f64> = (a..b).filter_map(|m| series.get(m)).collect();
        (v.len() as Minute * 2 >= b - a).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let Some(recent) = mean(now - LEVEL_WINDOW, now) else {
        return 1.0;
    };
    let (_, most) = season.cycles();
    let p = season.period();
    let mut past: Vec<f64> = (1..=most as Minute)
        .filter_map(|k| mean(now - LEVEL_WINDOW - k * p, now - k * p))
        .collect();
    match median(&mut past) {
        Some(base) if base > 0.0 => (recent / base).clamp(LEVEL_RANGE.0, LEVEL_RANGE.1),
        _ => 1.0,
    }
}

/// The peak demand over minutes `[from, to)`, forecast at `now` (≤ `from`).
pub fn peak(series: &Series, season: Season, from: Minute, to: Minute, now: Minute) -> Option<Peak> {
    let peaks = cycle_peaks(series, season, from, to, now);
    if peaks.len() < season.cycles().0 {
        return None;
    }
    let mut values: Vec<f64> = peaks.iter().map(|p| p.0).collect();
    let mid = median(&mut values)?;
    // The minute of the cycle whose peak is nearest the median, as when it comes.
    let at = peaks
        .iter()
        .min_by(|a, b| (a.0 - mid).abs().total_cmp(&(b.0 - mid).abs()))
        .map_or(from, |p| p.1.clamp(from, to - 1));
    let level = level(series, season, now);
    Some(Peak {
        demand: mid * level,
        at,
        cycles: peaks.len(),
        level,
    })
}

/// The demand forecast for minute `m` itself (not a peak), as seen at `now`.
pub fn at(series: &Series, season: Season, m: Minute, now: Minute) -> Option<f64> {
    let (least, most) = season.cycles();
    let p = season.period();
    let mut v: Vec<f64> = (1..=most as Minute)
        .filter(|k| m - k * p < now)
        .filter_map(|k| series.get(m - k * p))
        .collect();
    if v.len() < least {
        return None;
    }
    Some(median(&mut v)? * level(series, season, now))
}

/// The shortest period the last hours repeat at, if they repeat clearly.
pub fn short_period(series: &Series, now: Minute) -> Option<Minute> {
    let from = now - SHORT_SEARCH;
    let x: Vec<Option<f64>> = (from..now).map(|m| series.get(m)).collect();
    let known: Vec<f64> = x.iter().flatten().copied().collect();
    if known.len() < (SHORT_SEARCH as usize) * 3 / 4 {
        return None;
    }
    let mean = known.iter().sum::<f64>() / known.len() as f64;
    let correlation = |lag: usize| {
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for i in lag..x.len() {
            if let (Some(a), Some(b)) = (x[i], x[i - lag]) {
                let (a, b) = (a - mean, b - mean);
                sxy += a * b;
                sxx += a * a;
                syy += b * b;
            }
        }
        if sxx <= 0.0 || syy <= 0.0 {
            0.0
        } else {
            sxy / (sxx * syy).sqrt()
        }
    };
    // Lags from 1: a cycle must decorrelate within itself (dip) before it repeats. A
    // step or a slow trend correlates at every short lag and is no cycle.
    let scored: Vec<(Minute, f64)> = (1..=*SHORT_PERIODS.end())
        .filter(|p| p * 3 <= SHORT_SEARCH)
        .map(|p| (p, correlation(p as usize)))
        .collect();
    let dips_before = |p: Minute| scored.iter().take_while(|s| s.0 < p).any(|s| s.1 <= SHORT_DIP);
    let candidates: Vec<(Minute, f64)> = scored
        .iter()
        .copied()
        .filter(|(p, c)| SHORT_PERIODS.contains(p) && *c >= SHORT_CORRELATION && dips_before(*p))
        .filter(|(p, _)| is_local_peak(&scored, *p))
        .collect();
    let best = candidates.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    // The shortest period nearly as good as the best: its multiples repeat too.
    candidates.iter().find(|(_, c)| *c >= best - 0.05).map(|s| s.0)
}

fn is_local_peak(scored: &[(Minute, f64)], p: Minute) -> bool {
    let c = |q: Minute| scored.iter().find(|s| s.0 == q).map_or(f64::MIN, |s| s.1);
    c(p) >= c(p - 1) && c(p) >= c(p + 1)
}

/// How a season forecast the service's own recent past: at points every `step` minutes
/// over the last `span` minutes before `now`, the forecast peak of the next `horizon`
/// minutes (made with only what was known then) against the peak that came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    pub season: Season,
    /// Points compared.
    pub points: usize,
    /// p90 of |actual − forecast| ÷ max(actual, forecast, a quarter of the mean demand).
    pub error_p90: f64,
    /// The mean of the same errors: what picks the season (a week's backtest with a
    /// weekend in it tells a daily season from a weekly one by it).
    #[serde(default)]
    pub error_mean: f64,
    /// Median of actual ÷ forecast: above 1 the forecaster runs low.
    pub bias: f64,
}

/// Points at which a backtest compares (one every `STEP` minutes of the last `SPAN`, or
/// of as much of it as the history holds).
const SPAN: Minute = WEEK;
const STEP: Minute = 5;
/// Fewest points for a backtest to count.
const MIN_POINTS: usize = 72;

pub fn backtest(series: &Series, season: Season, now: Minute, horizon: Minute) -> Option<Backtest> {
    let from = (now - SPAN).max(series.start() + season.period() * season.cycles().0 as Minute);
    let scale = {
        let v: Vec<f64> = (from..now).filter_map(|m| series.get(m)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64 * 0.25)?
    };
    let mut errors = Vec::new();
    let mut ratios = Vec::new();
    let mut tau = from;
    while tau + horizon + JITTER <= now {
        // The forecast is allowed the cycles' own timing slack (a job a minute early or
        // late is the same job): it is compared with the peak over the window so widened.
        let actual = (tau - JITTER..tau + horizon + JITTER)
            .filter_map(|m| series.get(m))
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
        if let (Some(actual), Some(f)) = (actual, peak(series, season, tau, tau + horizon, tau)) {
            let denominator = actual.max(f.demand).max(scale);
            if denominator > 0.0 {
                errors.push((actual - f.demand).abs() / denominator);
                if f.demand > 0.0 {
                    ratios.push(actual / f.demand);
                }
            }
        }
        tau += STEP;
    }
    if errors.len() < MIN_POINTS {
        return None;
    }
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    errors.sort_by(f64::total_cmp);
    let p90 = errors[(errors.len() * 9).div_ceil(10) - 1];
    Some(Backtest {
        season,
        points: errors.len(),
        error_p90: p90,
        error_mean: mean,
        bias: median(&mut ratios).unwrap_or(1.0),
    })
}

/// The season whose backtest erred least on average, among those the history allows.
pub fn best(series: &Series, now: Minute, horizon: Minute) -> Option<Backtest> {
    let mut seasons = vec![Season::Daily, Season::Weekly];
    if let Some(p) = short_period(series, now) {
        seasons.push(Season::Every(p));
    }
    seasons
        .into_iter()
        .filter_map(|s| backtest(series, s, now, horizon))
        .min_by(|a, b| a.error_mean.total_cmp(&b.error_mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pseudo-random number in [0, 1) for each minute (splitmix64).
    fn hash(m: Minute) -> f64 {
        let mut z = (m as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }

    /// Minutes 0..n of `f`.
    fn series(n: Minute, f: impl Fn(Minute) -> f64) -> Series {
        let mut s = Series::default();
        for m in 0..n {
            s.add(m, f(m), 40_000);
        }
        s
    }

    /// 1,000 at night, 5,000 from 09:00 to 17:00 (minutes of the day).
    fn office(m: Minute) -> f64 {
        if (540..1020).contains(&(m % DAY)) {
            5000.0
        } else {
            1000.0
        }
    }

    #[test]
    fn a_daily_step_is_forecast_before_it_comes() {
        let s = series(3 * DAY + 530, office);
        let now = s.end();
        let p = peak(&s, Season::Daily, now, now + 12, now).unwrap();
        assert!((p.demand - 5000.0).abs() < 1.0, "{p:?}");
        assert_eq!(p.at, 3 * DAY + 540);
        // Before two whole days there is nothing to go on.
        let young = series(DAY + 530, office);
        assert!(peak(&young, Season::Daily, young.end(), young.end() + 12, young.end()).is_none());
    }

    #[test]
    fn one_odd_day_in_the_history_hardly_moves_the_forecast() {
        // Day 3 was a holiday: night load all day.
        let s = series(6 * DAY + 530, |m| if m / DAY == 3 { 1000.0 } else { office(m) });
        let now = s.end();
        let p = peak(&s, Season::Daily, now, now + 12, now).unwrap();
        assert!((p.demand - 5000.0).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn the_level_follows_growth_and_a_quiet_day() {
        // Growing 5 % a day: the median past cycle is days behind.
        let grown = series(8 * DAY + 600, |m| office(m) * 1.05f64.powf(m as f64 / DAY as f64));
        let now = grown.end();
        let p = peak(&grown, Season::Daily, now, now + 5, now).unwrap();
        let truth = office(now) * 1.05f64.powf(now as f64 / DAY as f64);
        assert!((p.demand / truth - 1.0).abs() < 0.02, "{p:?} vs {truth}");
        // Today runs at half of the usual: so does the forecast.
        let quiet = series(
            8 * DAY + 600,
            |m| if m >= 8 * DAY { office(m) / 2.0 } else { office(m) },
        );
        let now = quiet.end();
        let q = peak(&quiet, Season::Daily, now, now + 5, now).unwrap();
        assert!((q.demand - 2500.0).abs() < 1.0, "{q:?}");
    }

    #[test]
    fn a_short_period_is_found_and_forecast() {
        // A job every 20 minutes, 4 minutes long.
        let s = series(DAY, |m| if m % 20 < 4 { 3000.0 } else { 1000.0 });
        let now = s.end();
        assert_eq!(short_period(&s, now), Some(20));
        let p = peak(&s, Season::Every(20), now, now + 3, now).unwrap();
        assert!((p.demand - 3000.0).abs() < 1.0, "{p:?}");
        // Noise has no period, nor has a step, a ramp or the slope of a day.
        let noise = series(DAY, |m| 1000.0 + 500.0 * hash(m));
        assert_eq!(short_period(&noise, noise.end()), None);
        let step = series(DAY, |m| if m < DAY - 30 { 1000.0 } else { 5000.0 });
        assert_eq!(short_period(&step, step.end()), None);
        let ramp = series(DAY, |m| 1000.0 + m as f64);
        assert_eq!(short_period(&ramp, ramp.end()), None);
        let sine = |m: Minute| 3000.0 + 2000.0 * (m as f64 * std::f64::consts::TAU / DAY as f64).sin();
        let slope = series(DAY, sine);
        assert_eq!(short_period(&slope, slope.end()), None);
        // A noisy hourly cycle on top of the day is found.
        let hourly = series(DAY, |m| {
            sine(m) + if m % 60 < 10 { 2000.0 } else { 0.0 } + 300.0 * hash(m)
        });
        assert_eq!(short_period(&hourly, hourly.end()), Some(60));
    }

    #[test]
    fn the_backtest_picks_the_season_that_holds_and_says_how_well() {
        // Weekdays like `office`, weekends at night load all day: a week explains it, a
        // day does not.
        let weekly = |m: Minute| if (m / DAY) % 7 >= 5 { 1000.0 } else { office(m) };
        // Saturday afternoon, the fourth week.
        let s = series(3 * WEEK + 5 * DAY + 1080, weekly);
        let now = s.end();
        let b = best(&s, now, 3).unwrap();
        assert_eq!(b.season, Season::Weekly, "{b:?}");
        assert!(b.error_p90 < 0.05 && (b.bias - 1.0).abs() < 0.05, "{b:?}");
        // On load with no pattern the error is large.
        let random = series(3 * DAY, |m| 500.0 + 4_999.0 * hash(m));
        let r = best(&random, random.end(), 3).unwrap();
        assert!(r.error_p90 > 0.3, "{r:?}");
    }
}
