//! Exports of a traced run's heap for other tools: pprof ([`pprof`]) and a flame graph SVG
//! ([`flamegraph`]).
//!
//! Both read the last snapshot of every process: per call stack, the bytes and blocks still
//! live then (at exit when the process exited normally, else at its last periodic snapshot)
//! and the bytes and blocks ever allocated there. In sampled mode these are the agent's
//! estimates. Stacks are symbolized the same way as in the terminal report.

pub mod flamegraph;
pub mod pprof;

use crate::load::Profile;
use crate::symbolize::{self, Symbols};
use std::path::{Path, PathBuf};

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output file could not be created or written.
    #[error("failed to write {path}: {err}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// The cause.
        #[source]
        err: std::io::Error,
    },
    /// There is nothing to export.
    #[error("nothing to export: the heap agent recorded no stacks")]
    Empty,
}

impl ExportError {
    fn write(path: &Path, err: std::io::Error) -> Self {
        Self::Write {
            path: path.to_owned(),
            err,
        }
    }
}

/// One traced process, symbolized.
#[derive(Debug)]
pub struct ProcessHeap<'a> {
    /// What the agent wrote.
    pub profile: &'a Profile,
    /// Its return addresses, symbolized.
    pub symbols: Symbols,
}

impl<'a> ProcessHeap<'a> {
    /// Symbolizes `profile`'s stacks.
    pub fn new(profile: &'a Profile) -> Self {
        Self {
            profile,
            symbols: symbolize::symbolize(profile),
        }
    }
}

/// Counters of one stack at the last snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StackTotals<'p> {
    /// Return addresses, innermost first.
    pub frames: &'p [u64],
    pub live_bytes: u64,
    pub live_blocks: u64,
    pub total_bytes: u64,
    pub total_allocs: u64,
}

/// Every stack of `p` with a non-zero counter at the last snapshot, in stack-id order.
pub(crate) fn last_totals(p: &Profile) -> Vec<StackTotals<'_>> {
    let Some(last) = p.last() else {
        return Vec::new();
    };
    let mut ids: Vec<u32> = last.keys().copied().collect();
    ids.sort_unstable();
    ids.into_iter()
        .filter_map(|id| {
            let c = &last[&id];
            let frames = p.stacks.get(&id)?;
            let t = StackTotals {
                frames,
                live_bytes: c.live_bytes,
                live_blocks: c.live_blocks,
                total_bytes: c.total_bytes,
                total_allocs: c.total_allocs,
            };
            (t.live_bytes > 0 || t.total_bytes > 0).then_some(t)
        })
        .collect()
}

/// Creates `path` and writes `bytes` into it.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    std::fs::write(path, bytes).map_err(|e| ExportError::write(path, e))
}
