//! Scenario families: parametrised generators of load shapes, so a policy is judged on a
//! class of inputs rather than on one hand-made scenario. `scenarios/families.toml` sets
//! each family's parameter ranges; a seed picks one member: its parameters (drawn from the
//! ranges by a hash of the seed, family and parameter) and its random streams. Members are
//! generated as scenario files and read by the ordinary scenario parser, so they can be
//! written out, read and re-run on their own.

use std::path::Path;

use serde::Deserialize;

mod member;
mod shapes;

use member::Member;
pub use member::Range;

use super::scenario::{self, Scenario};
use autoscaler_core::policy::diagnostic::{Diagnostic, FileErrors, from_toml_error};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamiliesFile {
    /// Upper bound on the count for every scaler in a family run, so bounds never decide
    /// a comparison (the fleets family needs 200 tasks and more).
    pub max_tasks: u32,
    #[serde(rename = "family")]
    pub families: Vec<Family>,
}

// No deny_unknown_fields here: serde cannot combine it with flatten. The shape denies them.
#[derive(Debug, Clone, Deserialize)]
pub struct Family {
    pub name: String,
    /// What a predicting policy must achieve on this family (the prediction families).
    #[serde(default)]
    pub goal: Option<crate::prediction::Goal>,
    #[serde(flatten)]
    pub shape: Shape,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// A sudden step to `factor` × the base rate, held, then back.
    Spike {
        base_rate: Range,
        factor: Range,
        /// Minutes held.
        hold_min: Range,
    },
    /// A linear rise to `factor` × the base over `ramp_min` minutes, held, then a fall as slow.
    Ramp {
        base_rate: Range,
        factor: Range,
        ramp_min: Range,
    },
    /// High and low phases around a base rate (± `swing`), each `half_period_min` long,
    /// with per-second noise.
    Oscillation {
        base_rate: Range,
        swing: Range,
        half_period_min: Range,
        noise: Range,
        hours: f64,
    },
    /// `count` spikes `gap_min` apart; during every other one a task crashes.
    RepeatedSpikes {
        base_rate: Range,
        factor: Range,
        count: Range,
        gap_min: Range,
        length_min: Range,
    },
    /// A fleet of `tasks` (drawn log-uniformly) at 55 % load, uneven tasks, then a step.
    Fleet { tasks: Range, factor: Range },
    /// A week of days: `min` at night, `max` at 14:00, weekends lighter.
    DiurnalWeek {
        min_rate: Range,
        max_rate: Range,
        weekend: Range,
    },
    /// A spike on a service whose tasks serve `capacity` × what the policy was written
    /// for (a heavier query mix, a new build): the policy's demand target is wrong.
    UnknownCapacity {
        base_rate: Range,
        factor: Range,
        capacity: Range,
    },
    /// A new build `capacity` × as fast as the old (a slower one: below 1), rolled out
    /// mid-run under a wandering load, then a spike of `factor` × the base on it.
    Deploy {
        base_rate: Range,
        factor: Range,
        capacity: Range,
    },
    /// A spike met with the world's faults: a CloudWatch outage, late and missing
    /// datapoints, throttled updates, failed starts and another writer.
    Faults { base_rate: Range, factor: Range },
    /// Days of load that recur (or, to test the guards, do not), scored over the last
    /// `scored_days` after the rest has been the service's history. See
    /// [`shapes::Pattern`] for the patterns.
    Recurring {
        pattern: shapes::Pattern,
        days: Range,
        #[serde(default = "default_scored_days")]
        scored_days: f64,
        /// Requests per second at night, and the day's peak as a multiple of it.
        night_rate: Range,
        peak_factor: Range,
        noise: Range,
    },
}

fn default_scored_days() -> f64 {
    2.0
}

impl Family {
    /// The member of the family for `seed`, as scenario-file text.
    pub fn generate(&self, seed: u64) -> String {
        let mut m = Member::new(&self.name, seed);
        match &self.shape {
            Shape::Spike {
                base_rate,
                factor,
                hold_min,
            } => shapes::spike(&mut m, *base_rate, *factor, *hold_min),
            Shape::Ramp {
                base_rate,
                factor,
                ramp_min,
            } => shapes::ramp(&mut m, *base_rate, *factor, *ramp_min),
            Shape::Oscillation {
                base_rate,
                swing,
                half_period_min,
                noise,
                hours,
            } => shapes::oscillation(&mut m, *base_rate, *swing, *half_period_min, *noise, *hours),
            Shape::RepeatedSpikes {
                base_rate,
                factor,
                count,
                gap_min,
                length_min,
            } => shapes::repeated_spikes(&mut m, *base_rate, *factor, *count, *gap_min, *length_min),
            Shape::Fleet { tasks, factor } => shapes::fleet(&mut m, *tasks, *factor),
            Shape::DiurnalWeek {
                min_rate,
                max_rate,
                weekend,
            } => shapes::diurnal_week(&mut m, *min_rate, *max_rate, *weekend),
            Shape::UnknownCapacity {
                base_rate,
                factor,
                capacity,
            } => shapes::unknown_capacity(&mut m, *base_rate, *factor, *capacity),
            Shape::Faults { base_rate, factor } => shapes::faults(&mut m, *base_rate, *factor),
            Shape::Deploy {
                base_rate,
                factor,
                capacity,
            } => shapes::deploy(&mut m, *base_rate, *factor, *capacity),
            Shape::Recurring {
                pattern,
                days,
                scored_days,
                night_rate,
                peak_factor,
                noise,
            } => shapes::recurring(&mut m, *pattern, *days, *scored_days, *night_rate, *peak_factor, *noise),
        }
        m.into_text()
    }

    /// The member for `seed`, parsed.
    pub fn scenario(&self, seed: u64) -> Scenario {
        let text = self.generate(seed);
        // The generator writes what the parser reads; a failure here is a bug in it.
        scenario::parse(Path::new(&format!("{}-{seed}.toml", self.name)), &text)
            .unwrap_or_else(|e| panic!("family {} generated an invalid scenario: {e}\n{text}", self.name))
    }
}

pub fn parse(file: &Path, source: &str) -> Result<FamiliesFile, FileErrors> {
    let families: FamiliesFile =
        toml::from_str(source).map_err(|e| FileErrors(vec![from_toml_error(file, source, &e)]))?;
    let mut errors = Vec::new();
    for f in &families.families {
        if !ranges_ok(&f.shape) {
            errors.push(Diagnostic::at(
                file,
                source,
                None,
                format!(
                    "family {}: every range must be [low, high] with 0 < low <= high, within the limits \
                     (rates up to 10,000,000/s, factors up to 100, up to 5,000 tasks and 100 spikes, a week at most)",
                    f.name
                ),
            ));
        }
    }
    if families.max_tasks == 0 || families.max_tasks > autoscaler_core::policy::MAX_TASKS {
        errors.push(Diagnostic::at(
            file,
            source,
            None,
            format!("max_tasks must be between 1 and {}", autoscaler_core::policy::MAX_TASKS),
        ));
    }
    if errors.is_empty() {
        Ok(families)
    } else {
        Err(FileErrors(errors))
    }
}

/// Upper ends of the ranges: every member stays a scenario the parser accepts (at most 30
/// days, at most 5,000 tasks) and a run that ends in seconds.
const MAX_RATE: f64 = 10_000_000.0;
const MAX_FACTOR: f64 = 100.0;
const MAX_MINUTES: f64 = 7.0 * 24.0 * 60.0;
const MAX_COUNT: f64 = 100.0;
const MAX_TASKS: f64 = 5_000.0;

/// Every range of a shape must be `[low, high]` with `0 < low <= high` and `high` within
/// its limit; oscillation adds its own bounds.
fn ranges_ok(shape: &Shape) -> bool {
    let within = |r: &Range, most: f64| r[0] > 0.0 && r[0] <= r[1] && r[1].is_finite() && r[1] <= most;
    let (limits, extra): (Vec<(&Range, f64)>, bool) = match shape {
        Shape::Spike {
            base_rate,
            factor,
            hold_min,
        } => (
            vec![(base_rate, MAX_RATE), (factor, MAX_FACTOR), (hold_min, MAX_MINUTES)],
            true,
        ),
        Shape::Ramp {
            base_rate,
            factor,
            ramp_min,
        } => (
            vec![(base_rate, MAX_RATE), (factor, MAX_FACTOR), (ramp_min, MAX_MINUTES)],
            true,
        ),
        Shape::Oscillation {
            base_rate,
            swing,
            half_period_min,
            noise,
            hours,
        } => (
            vec![
                (base_rate, MAX_RATE),
                (swing, f64::INFINITY),
                (half_period_min, MAX_MINUTES),
                (noise, 0.5),
            ],
            swing[1] < 1.0 && *hours > 0.0 && *hours <= MAX_MINUTES / 60.0,
        ),
        Shape::RepeatedSpikes {
            base_rate,
            factor,
            count,
            gap_min,
            length_min,
        } => (
            vec![
                (base_rate, MAX_RATE),
                (factor, MAX_FACTOR),
                (count, MAX_COUNT),
                (gap_min, MAX_MINUTES / MAX_COUNT),
                (length_min, MAX_MINUTES / MAX_COUNT),
            ],
            true,
        ),
        Shape::Fleet { tasks, factor } => (vec![(tasks, MAX_TASKS), (factor, MAX_FACTOR)], true),
        Shape::UnknownCapacity {
            base_rate,
            factor,
            capacity,
        } => (
            vec![(base_rate, MAX_RATE), (factor, MAX_FACTOR), (capacity, MAX_FACTOR)],
            true,
        ),
        Shape::DiurnalWeek {
            min_rate,
            max_rate,
            weekend,
        } => (
            vec![(min_rate, MAX_RATE), (max_rate, MAX_RATE), (weekend, f64::INFINITY)],
            true,
        ),
        Shape::Faults { base_rate, factor } => (vec![(base_rate, MAX_RATE), (factor, MAX_FACTOR)], true),
        Shape::Deploy {
            base_rate,
            factor,
            capacity,
        } => (
            vec![(base_rate, MAX_RATE), (factor, MAX_FACTOR), (capacity, MAX_FACTOR)],
            true,
        ),
        Shape::Recurring {
            days,
            scored_days,
            night_rate,
            peak_factor,
            noise,
            ..
        } => (
            vec![
                (days, 28.0),
                (night_rate, MAX_RATE),
                (peak_factor, MAX_FACTOR),
                (noise, 0.5),
            ],
            *scored_days > 0.0 && *scored_days <= days[0],
        ),
    };
    extra && limits.iter().all(|(r, most)| within(r, *most))
}

pub fn load(path: &Path) -> Result<FamiliesFile, FileErrors> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| FileErrors(vec![Diagnostic::at(path, "", None, format!("cannot read file: {e}"))]))?;
    parse(path, &source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> FamiliesFile {
        load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../scenarios/families.toml"
        )))
        .unwrap()
    }

    #[test]
    fn every_shipped_family_generates_valid_members_on_many_seeds() {
        for f in &shipped().families {
            for seed in 1..=25 {
                let s = f.scenario(seed);
                assert_eq!(s.seed, seed);
            }
        }
    }

    #[test]
    fn a_seed_picks_one_member_and_other_seeds_differ() {
        let families = shipped();
        let f = &families.families[0];
        assert_eq!(f.generate(3), f.generate(3));
        assert_ne!(f.generate(3), f.generate(4));
    }

    #[test]
    fn fleets_span_small_to_large() {
        let families = shipped();
        let fleet = families
            .families
            .iter()
            .find(|f| matches!(f.shape, Shape::Fleet { .. }))
            .unwrap();
        let sizes: Vec<u32> = (1..=40).map(|s| fleet.scenario(s).service.initial_tasks).collect();
        assert!(
            sizes.iter().any(|&n| n <= 5) && sizes.iter().any(|&n| n >= 100),
            "{sizes:?}"
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let refused = |text: &str| parse(Path::new("f.toml"), text).unwrap_err().to_string();
        let head = "max_tasks = 10\n[[family]]\nname = \"x\"\n";
        let e = refused(&format!(
            "{head}kind = \"spike\"\nbase_rate = [5, 1]\nfactor = [2, 3]\nhold_min = [1, 2]\n"
        ));
        assert!(e.contains("family x"), "{e}");
        let huge = format!(
            "{head}kind = \"oscillation\"\nbase_rate = [1, 5]\nswing = [0.1, 0.2]\nhalf_period_min = [1, 2]\nnoise = [0.1, 0.2]\nhours = 1e9\n"
        );
        assert!(refused(&huge).contains("within the limits"));
        let many = format!("{head}kind = \"fleet\"\ntasks = [2, 1e9]\nfactor = [2, 3]\n");
        assert!(refused(&many).contains("within the limits"));
        let typo = format!("{head}kind = \"spike\"\nbase_rate = [1, 5]\nfactor = [2, 3]\nhold_minutes = [1, 2]\n");
        assert!(refused(&typo).contains("hold_minutes"));
        assert!(refused(&format!("{head}kind = \"tsunami\"\n")).contains("f.toml:"));
    }
}
