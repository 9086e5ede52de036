//! Writing one member of a family: its parameters drawn from their ranges by a hash of
//! the seed, the family and the parameter's place, and its scenario text.

use std::fmt::Write as _;

use crate::scenario::unit_hash;

/// A range `[low, high]` a parameter is drawn from, uniformly.
pub type Range = [f64; 2];

/// The service every family runs: a 0.25 vCPU Fargate task of the search service.
pub const CAPACITY: f64 = 2100.0;

pub struct Member<'a> {
    name: &'a str,
    seed: u64,
    family_id: u64,
    param: u64,
    out: String,
}

impl<'a> Member<'a> {
    pub fn new(name: &'a str, seed: u64) -> Self {
        let family_id = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
        Self {
            name,
            seed,
            family_id,
            param: 0,
            out: String::new(),
        }
    }

    /// The next parameter, uniform in `r`.
    pub fn draw(&mut self, r: Range) -> f64 {
        self.param += 1;
        r[0] + (r[1] - r[0]) * unit_hash(self.seed, self.family_id, self.param)
    }

    /// The scenario's head: its length, the service and the traffic's noise.
    pub fn header(&mut self, duration_s: u64, tasks: u32, noise: f64, capacity: f64, extra: &str) {
        let _ = write!(
            self.out,
            "name = \"{name}-{seed}\"\nduration = \"{duration_s}s\"\nseed = {seed}\nslo_p99 = \"150ms\"\n\
             [service]\ninitial_tasks = {tasks}\ncapacity_rps = {capacity:.0}\nstartup = \"75s\"\nstartup_jitter = \"15s\"\n{extra}\n\
             [traffic]\nkind = \"rate\"\nnoise = {noise:.3}\n",
            name = self.name,
            seed = self.seed
        );
    }

    /// A phase of the load from `at`, reached over `ramp` seconds.
    pub fn phase(&mut self, at: u64, rate: f64, ramp: u64) {
        let _ = writeln!(
            self.out,
            "[[traffic.phase]]\nat = \"{at}s\"\nrate = {rate:.0}\nramp = \"{ramp}s\""
        );
    }

    /// Raw scenario text (a diurnal curve, failures, faults).
    pub fn push(&mut self, text: &str) {
        self.out.push_str(text);
    }

    pub fn into_text(self) -> String {
        self.out
    }
}

/// Tasks that serve `rate` at 60 % of their capacity, at least two.
pub fn tasks_for(rate: f64) -> u32 {
    ((rate / (CAPACITY * 0.6)).ceil() as u32).max(2)
}
