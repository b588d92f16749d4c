//! Limits the target will hit, read from the kernel, for time-to-limit estimates.
//!
//! Memory: the tightest `memory.max` of the target's cgroup (v2) and its ancestors; `--limit`
//! overrides it. File descriptors: the soft `RLIMIT_NOFILE` of the root process ("Max open
//! files" in `/proc/PID/limits`), which is per process, so it is only used while the tree is a
//! single process. Anything unreadable simply means "no known limit".

use std::fs;
use std::path::{Path, PathBuf};

use leakhound_core::{Metric, Series};

/// A limit and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limit {
    pub(crate) value: f64,
    pub(crate) source: &'static str,
}

/// The limits known for a target.
#[derive(Debug, Clone, Default)]
pub(crate) struct TargetLimits {
    pub(crate) memory: Option<Limit>,
    pub(crate) open_files: Option<Limit>,
}

impl TargetLimits {
    /// Read the limits of `pid`; `user_memory` (from `--limit`) wins over the cgroup's.
    pub(crate) fn read(pid: u32, user_memory: Option<f64>) -> TargetLimits {
        let memory = match user_memory {
            Some(v) => Some(Limit {
                value: v,
                source: "--limit",
            }),
            None => cgroup_memory_max(pid).map(|v| Limit {
                value: v,
                source: "cgroup memory.max",
            }),
        };
        TargetLimits {
            memory,
            open_files: nofile_soft(pid).map(|v| Limit {
                value: v,
                source: "RLIMIT_NOFILE",
            }),
        }
    }

    /// The limits a run recorded in its `run.json` (`report` judging it again): the user's
    /// `--limit` over the cgroup's, and the open-files limit.
    pub(crate) fn recorded(run: &leakhound_core::RunInfo) -> TargetLimits {
        let memory = match (run.limit, run.cgroup_memory_max) {
            (Some(v), _) => Some(Limit {
                value: v,
                source: "--limit",
            }),
            (None, Some(v)) => Some(Limit {
                value: v,
                source: "cgroup memory.max",
            }),
            (None, None) => None,
        };
        TargetLimits {
            memory,
            open_files: run.rlimit_nofile.map(|v| Limit {
                value: v,
                source: "RLIMIT_NOFILE",
            }),
        }
    }

    /// Only the user's `--limit` (for `analyze`, which has no process).
    pub(crate) fn user(user_memory: Option<f64>) -> TargetLimits {
        TargetLimits {
            memory: user_memory.map(|v| Limit {
                value: v,
                source: "--limit",
            }),
            open_files: None,
        }
    }

    /// The limit that applies to `series` of a tree that had at most `max_processes` processes.
    pub(crate) fn for_series(&self, series: &Series, max_processes: f64) -> Option<&Limit> {
        match Metric::from_name(&series.name) {
            Some(Metric::RssBytes | Metric::PssBytes | Metric::UssBytes | Metric::AnonBytes) => {
                self.memory.as_ref()
            }
            Some(Metric::Fds) if max_processes <= 1.0 => self.open_files.as_ref(),
            _ => None,
        }
    }
}

fn cgroup_memory_max(pid: u32) -> Option<f64> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    // cgroup v2: the single line "0::/path".
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim()
        .trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    let mut dir: PathBuf = root.join(rel);
    let mut best: Option<f64> = None;
    while dir.starts_with(root) {
        if let Some(v) = fs::read_to_string(dir.join("memory.max"))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
        {
            best = Some(best.map_or(v, |b: f64| b.min(v)));
        }
        if !dir.pop() {
            break;
        }
    }
    best
}

fn nofile_soft(pid: u32) -> Option<f64> {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_open_files_limit_is_read() {
        let l = TargetLimits::read(std::process::id(), None);
        let nofile = l.open_files.expect("/proc/self/limits has Max open files");
        assert!(nofile.value >= 64.0);
        assert_eq!(
            TargetLimits::read(std::process::id(), Some(5.0))
                .memory
                .unwrap()
                .source,
            "--limit"
        );
    }
}
