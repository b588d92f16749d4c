//! Cleaning a series before any statistics: warm-up cut, non-finite samples, duplicate
//! timestamps, and the scale used to make every threshold relative.
//!
//! Not for judging anything: this module only decides which samples are looked at.

use leakhound_core::Series;

/// A cleaned series: strictly increasing times, finite values.
#[derive(Debug, Clone)]
pub(crate) struct Clean {
    pub(crate) t: Vec<f64>,
    pub(crate) v: Vec<f64>,
}

impl Clean {
    pub(crate) fn len(&self) -> usize {
        self.t.len()
    }

    pub(crate) fn span(&self) -> f64 {
        match (self.t.first(), self.t.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }

    /// Median spacing between samples (0 for fewer than two samples).
    pub(crate) fn median_dt(&self) -> f64 {
        if self.t.len() < 2 {
            return 0.0;
        }
        let mut d: Vec<f64> = self.t.windows(2).map(|w| w[1] - w[0]).collect();
        crate::util::median_in_place(&mut d)
    }

    /// The samples with `t <= until` (a prefix, for online evaluation).
    pub(crate) fn prefix(&self, n: usize) -> Clean {
        Clean {
            t: self.t[..n].to_vec(),
            v: self.v[..n].to_vec(),
        }
    }
}

/// Drop non-finite samples and samples before `first_t + warmup_s`; merge samples that share a
/// timestamp into their minimum (the floor is what a leak raises, so a duplicate never lifts it).
/// Samples whose time goes backwards are dropped (callers validate input; the detector must not
/// panic on it either).
pub(crate) fn clean(series: &Series, warmup_s: f64) -> Clean {
    let n = series.t.len().min(series.v.len());
    let first = series.t[..n].iter().copied().find(|t| t.is_finite());
    let mut t = Vec::with_capacity(n);
    let mut v: Vec<f64> = Vec::with_capacity(n);
    let Some(first) = first else {
        return Clean { t, v };
    };
    let start = first + warmup_s.max(0.0);
    for i in 0..n {
        let (ti, vi) = (series.t[i], series.v[i]);
        if !ti.is_finite() || !vi.is_finite() || ti < start {
            continue;
        }
        match t.last() {
            Some(&last) if ti == last => {
                let lv = v
                    .last_mut()
                    .expect("v has as many items as t, which is non-empty");
                *lv = lv.min(vi);
            }
            Some(&last) if ti < last => {}
            _ => {
                t.push(ti);
                v.push(vi);
            }
        }
    }
    Clean { t, v }
}
