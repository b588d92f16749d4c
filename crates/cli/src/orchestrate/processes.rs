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
