//! The embedded heap agent and where it is written for `LD_PRELOAD`.
//!
//! `build.rs` builds `leakhound-agent` and embeds the shared object. At run time
//! [`agent_path`] writes it once to `$XDG_CACHE_HOME/leakhound/agent-<hash>.so` (or
//! `~/.cache/...`, or the temp dir), atomically through a rename, and returns that path. The
//! environment variable `LEAKHOUND_AGENT` overrides it with an existing file.

use std::path::PathBuf;

static AGENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/libleakhound_agent.so"));

/// Why the agent could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The build did not produce an agent.
    #[error(
        "failed to find the heap agent: it was not built with this binary (see the build warning; set LEAKHOUND_AGENT=/path/to/libleakhound_agent.so)"
    )]
    NotBuilt,
    /// `LEAKHOUND_AGENT` names a missing file.
    #[error("failed to find the heap agent at LEAKHOUND_AGENT={0}")]
    Missing(PathBuf),
    /// Writing the cache file failed.
    #[error("failed to write the heap agent to {path}")]
    Write {
        /// The cache path.
        path: PathBuf,
        /// The cause.
        #[source]
        err: std::io::Error,
    },
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("leakhound");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".cache/leakhound");
    }
    std::env::temp_dir().join("leakhound")
}

/// Agent copies of other leakhound builds older than this are removed when a new one is
/// written: one per build would otherwise pile up (~5 MB each). A week leaves any run of an
/// older build that is still going (its agent is mapped, and a deleted file stays readable
/// while mapped, but a process about to start with it needs the path).
const STALE_AGENT_AGE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Remove `agent-*.so` files in `dir` other than `keep` not modified for [`STALE_AGENT_AGE`].
/// Best effort: errors are ignored (another user's cache, a file in use elsewhere).
fn remove_stale_agents(dir: &std::path::Path, keep: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if p == keep || !(name.starts_with("agent-") && name.ends_with(".so")) {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AGENT_AGE);
        if old {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Path of a ready-to-preload agent shared object.
pub fn agent_path() -> Result<PathBuf, AgentError> {
    if let Some(p) = std::env::var_os("LEAKHOUND_AGENT") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(AgentError::Missing(p))
        };
    }
    if AGENT.is_empty() {
        return Err(AgentError::NotBuilt);
    }
    let dir = cache_dir();
    let path = dir.join(format!("agent-{:016x}.so", fnv1a(AGENT)));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == AGENT.len() as u64) {
        return Ok(path);
    }
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        // Unique per process and call: concurrent writers (test threads) must not share it.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".agent-{}-{seq}.tmp", std::process::id()));
        std::fs::write(&tmp, AGENT)?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|err| AgentError::Write {
        path: path.clone(),
        err,
    })?;
    remove_stale_agents(&dir, &path);
    Ok(path)
}
