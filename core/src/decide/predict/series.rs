//! The demand a policy has seen, one value per minute (requests per second, or whatever
//! load the predicting rule measures), for as long as the policy keeps history. Stored as
//! one base64 string of 16-bit log-scaled values: 14 days are 54 KB, well within a
//! DynamoDB item, and precise to 0.05 %.

use std::collections::VecDeque;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Steps per unit of ln(1 + x): 2,048 keeps values up to about 10^7 in 16 bits.
const SCALE: f64 = 2048.0;

/// A minute since the Unix epoch.
pub type Minute = i64;

pub fn minute_of(t: DateTime<Utc>) -> Minute {
    t.timestamp().div_euclid(60)
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// The minute of `values[0]`.
    start: Minute,
    /// None: nothing was seen in that minute.
    values: VecDeque<Option<f32>>,
    /// Readings averaged into the last minute so far.
    last_count: u32,
}

impl Series {
    /// The oldest minute held.
    pub fn start(&self) -> Minute {
        self.start
    }

    /// The first minute after the newest one with a value (where the future starts).
    pub fn end(&self) -> Minute {
        self.start + self.values.len() as Minute
    }

    /// Minutes held, with or without a value.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Minutes that have a value.
    pub fn known(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }

    pub fn get(&self, m: Minute) -> Option<f64> {
        let i = usize::try_from(m - self.start).ok()?;
        self.values.get(i).copied().flatten().map(f64::from)
    }

    /// Adds a reading of `value` for minute `m`, keeping at most `keep` minutes. A reading
    /// older than the newest minute is ignored (the series only grows forward).
    pub fn add(&mut self, m: Minute, value: f64, keep: usize) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        if self.values.is_empty() {
            self.start = m;
        }
        let last = self.end() - 1;
        if m < last {
            return;
        }
        if m == last {
            if let Some(Some(v)) = self.values.back_mut() {
                let n = f64::from(self.last_count);
                *v = quantized((f64::from(*v) * n + value) / (n + 1.0));
                self.last_count += 1;
                return;
            }
            self.values.pop_back();
        }
        // A gap longer than the whole history starts it again.
        let gap = usize::try_from(m - self.end()).unwrap_or(0);
        if gap >= keep {
            self.values.clear();
            self.start = m;
        } else {
            self.values.extend(std::iter::repeat_n(None, gap));
        }
        self.values.push_back(Some(quantized(value)));
        self.last_count = 1;
        while self.values.len() > keep.max(1) {
            self.values.pop_front();
            self.start += 1;
        }
    }
}

/// Values are held as they are stored, so a history restored from the state store
/// forecasts exactly what the one saved did.
fn quantized(value: f64) -> f32 {
    decode(encode(Some(value as f32))).unwrap_or(0.0)
}

fn encode(v: Option<f32>) -> u16 {
    v.map_or(0, |x| {
        (1.0 + (f64::from(x)).ln_1p() * SCALE).round().min(f64::from(u16::MAX)) as u16
    })
}

fn decode(code: u16) -> Option<f32> {
    (code != 0).then(|| ((f64::from(code) - 1.0) / SCALE).exp_m1() as f32)
}

#[derive(Serialize, Deserialize)]
struct Stored {
    start: Minute,
    last_count: u32,
    /// Little-endian u16 per minute, base64.
    values: String,
}

impl Serialize for Series {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = self.values.iter().flat_map(|v| encode(*v).to_le_bytes()).collect();
        Stored {
            start: self.start,
            last_count: self.last_count,
            values: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Series {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(stored.values)
            .map_err(serde::de::Error::custom)?;
        if bytes.len() % 2 != 0 {
            return Err(serde::de::Error::custom("demand series: odd byte count"));
        }
        Ok(Series {
            start: stored.start,
            values: bytes
                .chunks_exact(2)
                .map(|c| decode(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            last_count: stored.last_count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(v: Option<f64>, want: f64) -> bool {
        v.is_some_and(|v| (v - want).abs() <= want * 5e-4)
    }

    #[test]
    fn a_minute_averages_its_readings_and_gaps_stay_unknown() {
        let mut s = Series::default();
        s.add(100, 10.0, 60);
        s.add(100, 20.0, 60);
        s.add(103, 5.0, 60);
        s.add(101, 99.0, 60); // older than the newest minute: ignored
        assert!(near(s.get(100), 15.0), "{:?}", s.get(100));
        assert_eq!((s.get(101), s.get(102)), (None, None));
        assert!(near(s.get(103), 5.0));
        assert_eq!((s.end(), s.known()), (104, 2));
    }

    #[test]
    fn it_keeps_only_the_history_asked_for() {
        let mut s = Series::default();
        for m in 0..100 {
            s.add(m, m as f64, 30);
        }
        assert_eq!(s.len(), 30);
        assert_eq!(s.get(69), None);
        assert!(near(s.get(70), 70.0) && near(s.get(99), 99.0));
        s.add(1000, 1.0, 30);
        assert_eq!(s.len(), 1);
        assert!(near(s.get(1000), 1.0));
    }

    #[test]
    fn it_round_trips_compactly_within_a_twentieth_of_a_percent() {
        let mut s = Series::default();
        for m in 0..20_160 {
            if m % 97 != 0 {
                s.add(m, 50.0 + (m as f64 * 0.37).sin().abs() * 12_000.0, 20_160);
            }
        }
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.len() < 56_000, "{} bytes", json.len());
        let back: Series = serde_json::from_str(&json).unwrap();
        assert_eq!((back.start, back.len(), back.known()), (s.start, s.len(), s.known()));
        assert_eq!(back.values, s.values, "held as stored");
        for m in [1, 96, 97, 5000, 20_159] {
            match (s.get(m), back.get(m)) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= a * 5e-4 + 1e-3, "{a} {b}"),
                (a, b) => assert_eq!(a, b),
            }
        }
    }
}
