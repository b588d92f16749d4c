//! Agent files -> [`Profile`]: modules, stacks and the per-stack counter timeline.

use leakhound_agent_format::{Config, ModuleMap, Record, SnapshotEntry, read_stream};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// Why agent output could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// I/O error reading a file or directory.
    #[error("failed to read {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        err: std::io::Error,
    },
    /// The file is not a readable agent file.
    #[error("failed to decode {path}: {err}")]
    Decode {
        /// The path.
        path: PathBuf,
        /// The cause.
        err: leakhound_agent_format::ReadError,
    },
}

/// Counters of one stack at one snapshot.
pub type Counters = SnapshotEntry;

/// Everything one traced process wrote.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The file it came from.
    pub path: PathBuf,
    /// Process id.
    pub pid: u32,
    /// Agent configuration (exact mode when the record is missing).
    pub config: Config,
    /// Loaded modules.
    pub modules: Vec<ModuleMap>,
    /// Frames of each stack id, innermost first.
    pub stacks: FxHashMap<u32, Vec<u64>>,
    /// Snapshot times, seconds since the agent started.
    pub times: Vec<f64>,
    /// For each snapshot, the full (delta-applied) counters of every stack seen so far.
    pub snapshots: Vec<FxHashMap<u32, Counters>>,
    /// Whether the last snapshot was written at process exit.
    pub at_exit: bool,
    /// Byte offset of a cut-off tail (SIGKILL, crash), if any.
    pub truncated_at: Option<usize>,
    /// Allocations the agent could not record.
    pub dropped: u64,
}

impl Profile {
    /// Counters of every stack at the last snapshot.
    pub fn last(&self) -> Option<&FxHashMap<u32, Counters>> {
        self.snapshots.last()
    }

    /// Whether the agent sampled (estimates) rather than traced every allocation.
    pub fn sampled(&self) -> bool {
        self.config.mode == leakhound_agent_format::MODE_SAMPLED
    }
}

/// Loads one `<pid>.lhev` file.
pub fn load_file(path: &Path) -> Result<Profile, LoadError> {
    let bytes = std::fs::read(path).map_err(|err| LoadError::Read {
        path: path.to_owned(),
        err,
    })?;
    let stream = read_stream(&bytes).map_err(|err| LoadError::Decode {
        path: path.to_owned(),
        err,
    })?;
    let mut p = Profile {
        path: path.to_owned(),
        pid: stream.header.map_or(0, |h| h.pid),
        config: Config {
            mode: leakhound_agent_format::MODE_EXACT,
            sample_mean_bytes: 0,
            interval_ms: 1000,
            start_ns: 0,
        },
        modules: Vec::new(),
        stacks: FxHashMap::default(),
        times: Vec::new(),
        snapshots: Vec::new(),
        at_exit: false,
        truncated_at: stream.truncated_at,
        dropped: 0,
    };
    let mut current: FxHashMap<u32, Counters> = FxHashMap::default();
    let mut first_ns = None;
    for r in stream.records {
        match r {
            Record::Config(c) => p.config = c,
            Record::ModuleMap(m) => p.modules.push(m),
            Record::StackDef(s) => {
                p.stacks.insert(s.stack.0, s.frames);
            }
            Record::Snapshot(s) => {
                for e in s.entries {
                    current.insert(e.stack.0, e);
                }
                let origin = if p.config.start_ns > 0 {
                    p.config.start_ns
                } else {
                    *first_ns.get_or_insert(s.timestamp_ns)
                };
                p.times
                    .push(s.timestamp_ns.saturating_sub(origin) as f64 / 1e9);
                p.snapshots.push(current.clone());
            }
            Record::EndOfProcess(e) => {
                p.at_exit = true;
                p.dropped = e.dropped;
            }
        }
    }
    Ok(p)
}

/// Loads every `*.lhev` file in `dir` (sorted by file name).
pub fn load_dir(dir: &Path) -> Result<Vec<Profile>, LoadError> {
    load_dir_each(dir)?.into_iter().collect()
}

/// Loads every `*.lhev` file in `dir` (sorted by file name), one result per file, so that one
/// unreadable file does not hide the others. Fails only when `dir` cannot be listed.
pub fn load_dir_each(dir: &Path) -> Result<Vec<Result<Profile, LoadError>>, LoadError> {
    let rd = std::fs::read_dir(dir).map_err(|err| LoadError::Read {
        path: dir.to_owned(),
        err,
    })?;
    let mut paths: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lhev"))
        .collect();
    paths.sort();
    Ok(paths.iter().map(|p| load_file(p)).collect())
}
