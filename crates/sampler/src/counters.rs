//! [`Counters`]: one optional value per [`Metric`], for one process or a whole tree.

use leakhound_core::Metric;

/// One value per [`Metric`]; `None` when it could not be measured (e.g. `smaps_rollup` not
/// readable for another user's process).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    values: [Option<f64>; Metric::ALL.len()],
}

impl Counters {
    /// The value of `m`, if measured.
    pub fn get(&self, m: Metric) -> Option<f64> {
        self.values[slot(m)]
    }

    /// Set the value of `m`.
    pub fn set(&mut self, m: Metric, v: f64) {
        self.values[slot(m)] = Some(v);
    }

    /// Set `m` to `v` when it is `Some`, leave it unmeasured otherwise.
    pub fn set_opt(&mut self, m: Metric, v: Option<f64>) {
        self.values[slot(m)] = v;
    }

    /// Add `v` to `m` (treating an unmeasured value as 0 before the addition).
    pub fn add(&mut self, m: Metric, v: f64) {
        let s = &mut self.values[slot(m)];
        *s = Some(s.unwrap_or(0.0) + v);
    }

    /// All metrics with their values, in [`Metric::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Metric, Option<f64>)> + '_ {
        Metric::ALL.into_iter().map(|m| (m, self.get(m)))
    }
}

/// Position of `m` in [`Metric::ALL`], which lists the variants in declaration order (checked by
/// the `slots_follow_metric_all` test).
fn slot(m: Metric) -> usize {
    m as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_metric_all() {
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(slot(m), i, "{m:?}");
        }
    }

    #[test]
    fn every_metric_has_its_own_slot() {
        let mut c = Counters::default();
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(c.get(m), None);
            c.set(m, i as f64);
        }
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(c.get(m), Some(i as f64));
        }
        c.add(Metric::Fds, 2.0);
        assert_eq!(c.get(Metric::Fds), Some(7.0));
        assert_eq!(c.iter().count(), Metric::ALL.len());
    }
}
