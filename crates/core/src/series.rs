//! Time series: timestamps in seconds since the start of a run, one value per timestamp.
//!
//! A [`Series`] is what the sampler produces, what `analyze` reads from CSV and what the
//! detector judges. Timestamps are seconds as `f64` on the series' own clock; values are in the
//! series' [`Unit`].

use serde::{Deserialize, Serialize};

use crate::Unit;

/// A named series of `(t_seconds, value)` samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// Column name, e.g. `rss_bytes` or `fds_socket`.
    pub name: String,
    /// What the values measure.
    pub unit: Unit,
    /// Sample times in seconds, non-decreasing.
    pub t: Vec<f64>,
    /// Sample values, same length as `t`.
    pub v: Vec<f64>,
}

/// Why a series is not usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SeriesError {
    /// `t` and `v` differ in length.
    #[error("series `{name}` has {t} timestamps but {v} values")]
    LengthMismatch {
        /// Series name.
        name: String,
        /// Number of timestamps.
        t: usize,
        /// Number of values.
        v: usize,
    },
    /// A timestamp or value is NaN or infinite.
    #[error("series `{name}` has a non-finite number at sample {index}")]
    NotFinite {
        /// Series name.
        name: String,
        /// Zero-based sample index.
        index: usize,
    },
    /// Time goes backwards.
    #[error("series `{name}`: time goes backwards at sample {index} ({prev} s then {next} s)")]
    TimeBackwards {
        /// Series name.
        name: String,
        /// Zero-based index of the later sample.
        index: usize,
        /// Previous timestamp.
        prev: f64,
        /// Offending timestamp.
        next: f64,
    },
}

impl Series {
    /// An empty series.
    pub fn new(name: impl Into<String>, unit: Unit) -> Self {
        Series {
            name: name.into(),
            unit,
            t: Vec::new(),
            v: Vec::new(),
        }
    }

    /// A series from parallel vectors (not validated; call [`Series::validate`]).
    pub fn from_parts(name: impl Into<String>, unit: Unit, t: Vec<f64>, v: Vec<f64>) -> Self {
        Series {
            name: name.into(),
            unit,
            t,
            v,
        }
    }

    /// Append one sample.
    pub fn push(&mut self, t: f64, v: f64) {
        self.t.push(t);
        self.v.push(v);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Time between the first and the last sample, 0 for fewer than two samples.
    pub fn span_s(&self) -> f64 {
        match (self.t.first(), self.t.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }

    /// Check lengths, finiteness and time order.
    pub fn validate(&self) -> Result<(), SeriesError> {
        if self.t.len() != self.v.len() {
            return Err(SeriesError::LengthMismatch {
                name: self.name.clone(),
                t: self.t.len(),
                v: self.v.len(),
            });
        }
        for (i, (&t, &v)) in self.t.iter().zip(&self.v).enumerate() {
            if !t.is_finite() || !v.is_finite() {
                return Err(SeriesError::NotFinite {
                    name: self.name.clone(),
                    index: i,
                });
            }
            if i > 0 && t < self.t[i - 1] {
                return Err(SeriesError::TimeBackwards {
                    name: self.name.clone(),
                    index: i,
                    prev: self.t[i - 1],
                    next: t,
                });
            }
        }
        Ok(())
    }

    /// The prefix of samples with `t <= until` (used to check that online alarms are causal).
    pub fn prefix_until(&self, until: f64) -> Series {
        let n = self.t.partition_point(|&t| t <= until);
        Series {
            name: self.name.clone(),
            unit: self.unit,
            t: self.t[..n].to_vec(),
            v: self.v[..n].to_vec(),
        }
    }

    /// Downsample to at most `buckets` points by taking each bucket's minimum (the floor is what
    /// a leak raises; peaks are mostly garbage waiting for collection). Used for sparklines.
    pub fn floor_buckets(&self, buckets: usize) -> Vec<f64> {
        if self.v.is_empty() || buckets == 0 {
            return Vec::new();
        }
        let n = self.v.len();
        let b = buckets.min(n);
        (0..b)
            .map(|i| {
                let lo = i * n / b;
                let hi = ((i + 1) * n / b).max(lo + 1);
                self.v[lo..hi].iter().copied().fold(f64::INFINITY, f64::min)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_time_going_backwards() {
        let s = Series::from_parts("x", Unit::Count, vec![0.0, 2.0, 1.0], vec![1.0, 2.0, 3.0]);
        assert!(matches!(
            s.validate(),
            Err(SeriesError::TimeBackwards { index: 2, .. })
        ));
    }

    #[test]
    fn prefix_keeps_samples_up_to_and_including_the_cut() {
        let s = Series::from_parts("x", Unit::Count, vec![0.0, 1.0, 2.0, 3.0], vec![0.0; 4]);
        assert_eq!(s.prefix_until(2.0).len(), 3);
        assert_eq!(s.prefix_until(-1.0).len(), 0);
    }

    #[test]
    fn floor_buckets_take_minima() {
        let s = Series::from_parts(
            "x",
            Unit::Count,
            (0..6).map(f64::from).collect(),
            vec![5.0, 1.0, 7.0, 3.0, 9.0, 8.0],
        );
        assert_eq!(s.floor_buckets(3), vec![1.0, 3.0, 8.0]);
    }
}
