//! Per-process bookkeeping during a session: how each process of the tree changed.
//!
//! The tree totals say *whether* something leaks; this says *where*, when a service runs as
//! several processes (pre-fork workers, a shell wrapper and its child). Only the first and last
//! sample of each process are kept, so the cost does not grow with the run's length.

use std::collections::{BTreeMap, HashMap};

use leakhound_core::{Metric, ProcessChange};
use leakhound_detect::Restarts;
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

    /// Each process's first and last sample time and its RSS at the last (see
    /// [`known_restarts`]).
    pub(crate) fn spans(&self) -> Vec<Span> {
        self.procs
            .values()
            .map(|p| Span {
                first_t: p.first_t,
                last_t: p.last_t,
                last_rss: p.last.get(Metric::RssBytes).unwrap_or(0.0),
            })
            .collect()
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

/// A process that ended before the last sample holding at most this share of the RSS of the
/// processes still there at the end is a helper, not a restart: a wrapper's short-lived
/// children (a pyenv shim runs a few `bash` and `readlink` processes before it execs python),
/// a health-check command. A restart of the process that holds the memory gives back far more.
/// (The detector itself calls a fall a restart only when it gives back a fifth of the level.)
pub(crate) const HELPER_RSS_SHARE: f64 = 0.1;

/// One process as [`known_restarts`] needs it: its first and last sample time (on the run's
/// clock) and its RSS at its last sample (0 when unreadable).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Span {
    pub(crate) first_t: f64,
    pub(crate) last_t: f64,
    pub(crate) last_rss: f64,
}

/// What the processes sampled say of restarts (`leakhound_detect::DetectOptions::restarts`):
/// [`Restarts::None`] when no process of the tree that held memory ended before the last
/// sample, [`Restarts::At`] the last sample of each that did (a supervisor restarting its
/// child, a pre-fork server recycling a worker), [`Restarts::Unknown`] with fewer than two
/// samples. Processes that started later (a wrapper's child, a worker spawned under load)
/// reset nothing, and one that ended holding little (see [`HELPER_RSS_SHARE`]) was a helper.
/// A process that replaced its own program (`exec`) keeps its PID and is not seen as a
/// restart.
pub(crate) fn known_restarts(spans: &[Span]) -> Restarts {
    let first = spans
        .iter()
        .map(|s| s.first_t)
        .fold(f64::INFINITY, f64::min);
    let last = spans
        .iter()
        .map(|s| s.last_t)
        .fold(f64::NEG_INFINITY, f64::max);
    if spans.is_empty() || last <= first {
        return Restarts::Unknown;
    }
    let survivors: f64 = spans
        .iter()
        .filter(|s| s.last_t == last)
        .map(|s| s.last_rss)
        .sum();
    Restarts::at(
        spans
            .iter()
            .filter(|s| s.last_t < last && s.last_rss > HELPER_RSS_SHARE * survivors)
            .map(|s| s.last_t)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_that_ended_holding_memory_is_a_known_restart() {
        let p = |first_t: f64, last_t: f64, mib: f64| Span {
            first_t,
            last_t,
            last_rss: mib * 1048576.0,
        };
        assert_eq!(known_restarts(&[p(0.0, 60.0, 200.0)]), Restarts::None);
        assert_eq!(
            known_restarts(&[p(0.0, 60.0, 200.0), p(0.0, 60.0, 50.0)]),
            Restarts::None
        );
        // A child that started later (a shell wrapper's service) and is still there.
        assert_eq!(
            known_restarts(&[p(0.0, 60.0, 3.0), p(1.0, 60.0, 200.0)]),
            Restarts::None
        );
        // A wrapper's helpers that ran for a moment at the start.
        assert_eq!(
            known_restarts(&[p(0.0, 60.0, 200.0), p(0.1, 0.1, 3.5), p(0.1, 0.1, 1.0)]),
            Restarts::None
        );
        // A child restarted by its supervisor at 30 s (the old one ended holding memory).
        assert_eq!(
            known_restarts(&[
                p(0.0, 60.0, 20.0),
                p(0.0, 29.0, 180.0),
                p(30.0, 60.0, 150.0)
            ]),
            Restarts::At(vec![29.0])
        );
        // One sample, or none: nothing is known.
        assert_eq!(known_restarts(&[p(0.0, 0.0, 200.0)]), Restarts::Unknown);
        assert_eq!(known_restarts(&[]), Restarts::Unknown);
    }
}
