//! Per-process bookkeeping during a session: how each process of the tree changed.
//!
//! The tree totals say *whether* something leaks; this says *where*, when a service runs as
//! several processes (pre-fork workers, a shell wrapper and its child). Only the first and last
//! sample of each process are kept, so the cost does not grow with the run's length.

use std::collections::{BTreeMap, HashMap};

use leakhound_core::{Metric, ProcessChange};
use leakhound_sampler::{Counters, TreeSample};

struct Tracked {
    ppid: u32,
    comm: String,
    first_t: f64,
    last_t: f64,
    first: Counters,
    last: Counters,
}

/// First and last counters of every process seen.
#[derive(Default)]
pub(crate) struct ProcessTracker {
    procs: HashMap<u32, Tracked>,
}

impl ProcessTracker {
    pub(crate) fn observe(&mut self, t: f64, sample: &TreeSample) {
        for p in &sample.processes {
            let e = self.procs.entry(p.pid).or_insert_with(|| Tracked {
                ppid: p.ppid,
                comm: p.comm.clone(),
                first_t: t,
                last_t: t,
                first: p.counters.clone(),
                last: p.counters.clone(),
            });
            // A metric that was unreadable at first (smaps during exec) starts when it appears.
            for m in Metric::ALL {
                if let (None, Some(v)) = (e.first.get(m), p.counters.get(m)) {
                    e.first.set(m, v);
                }
            }
            e.last_t = t;
            e.last = p.counters.clone();
            if e.comm != p.comm {
                // exec: the name that did the work is the later one.
                e.comm = p.comm.clone();
            }
        }
    }

    /// Changes per process, largest RSS growth first.
    pub(crate) fn into_changes(self) -> Vec<ProcessChange> {
        let mut out: Vec<ProcessChange> = self
            .procs
            .into_iter()
            .map(|(pid, p)| {
                let change: BTreeMap<String, f64> = Metric::ALL
                    .iter()
                    .filter(|&&m| m != Metric::Processes)
                    .filter_map(|&m| Some((m.name().to_string(), p.last.get(m)? - p.first.get(m)?)))
                    .collect();
                ProcessChange {
                    pid,
                    ppid: p.ppid,
                    comm: p.comm,
                    first_t: p.first_t,
                    last_t: p.last_t,
                    change,
                }
            })
            .collect();
        let rss = |p: &ProcessChange| {
            p.change
                .get(Metric::RssBytes.name())
                .copied()
                .unwrap_or(0.0)
        };
        out.sort_by(|a, b| rss(b).total_cmp(&rss(a)).then(a.pid.cmp(&b.pid)));
        out
    }
}

/// Whether every process sampled was still there at the last sample (`spans`: each process's
/// first and last sample time, on one clock): none ended, so none restarted, and a large fall of
/// memory is memory given back rather than a restart
/// (`leakhound_detect::DetectOptions::no_restarts`). Processes that started later (a wrapper's
/// child, a worker spawned under load) reset nothing. False for fewer than two samples, and
/// whenever a process ended before the end: a pre-fork server recycling its workers, a
/// supervisor restarting its child, a short-lived helper (then restarts are inferred from the
/// data, as for any CSV). A process that replaced its own program (`exec`) keeps its PID and
/// is not seen as a restart.
pub(crate) fn no_process_ended(spans: impl IntoIterator<Item = (f64, f64)>) -> bool {
    let spans: Vec<(f64, f64)> = spans.into_iter().collect();
    let first = spans.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let last = spans.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
    !spans.is_empty() && last > first && spans.iter().all(|&(_, b)| b == last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_ended_means_restarts_are_not_known_absent() {
        assert!(no_process_ended([(0.0, 60.0)]));
        assert!(no_process_ended([(0.0, 60.0), (0.0, 60.0)]));
        // A child that started later (a shell wrapper's service) and is still there.
        assert!(no_process_ended([(0.0, 60.0), (1.0, 60.0)]));
        // A worker replaced at 30 s (the old one ended, a new one started).
        assert!(!no_process_ended([(0.0, 60.0), (0.0, 29.0), (30.0, 60.0)]));
        // A helper that lived for one sample.
        assert!(!no_process_ended([(0.0, 60.0), (12.0, 12.0)]));
        // One sample, or none: nothing is known.
        assert!(!no_process_ended([(0.0, 0.0)]));
        assert!(!no_process_ended([]));
    }
}
