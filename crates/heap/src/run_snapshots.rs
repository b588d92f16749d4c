//! Snapshots of a target that leakhound started itself (`leakhound run --snapshots`): which
//! process of the tree to ask, how to reach it, and where the files go.
//!
//! Node is asked through its inspector on a port chosen by leakhound (the target is started
//! with `--inspect-port=127.0.0.1:PORT` in `NODE_OPTIONS`, and SIGUSR1 opens the inspector
//! only when the first snapshot is due), Java with `jcmd PID GC.heap_dump`, Go through its
//! `net/http/pprof` endpoint. Only 127.0.0.1 is contacted. Not for scheduling snapshots between
//! load phases (the CLI does that) nor for reading or comparing them (see [`crate::diff`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::capture::{self, CaptureError};

/// Runtime of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Node.js (V8 `.heapsnapshot`).
    Node,
    /// A JVM (HPROF).
    Java,
    /// Go (`net/http/pprof` heap and goroutine profiles).
    Go,
}

impl Runtime {
    /// Lowercase name, as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Node => "node",
            Runtime::Java => "java",
            Runtime::Go => "go",
        }
    }

    /// The `comm` of the process that holds the heap (`None` for Go: it is reached by URL).
    pub fn process_name(self) -> Option<&'static str> {
        match self {
            Runtime::Node => Some("node"),
            Runtime::Java => Some("java"),
            Runtime::Go => None,
        }
    }
}

/// A `net/http/pprof` endpoint on 127.0.0.1: port and the path prefix of its handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PprofEndpoint {
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// Path prefix without a trailing slash, normally `/debug/pprof`.
    pub base: String,
}

/// The path prefix `net/http/pprof` registers its handlers under.
pub const DEFAULT_PPROF_BASE: &str = "/debug/pprof";

impl PprofEndpoint {
    /// Parse `http://127.0.0.1:PORT[/PREFIX]` (or `localhost`); without a path the prefix is
    /// [`DEFAULT_PPROF_BASE`]. Other hosts are refused: leakhound only talks to 127.0.0.1.
    pub fn parse(url: &str) -> Result<PprofEndpoint, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!(
                "pprof URL `{url}` must start with http:// (like http://127.0.0.1:6060/debug/pprof)"
            )
        })?;
        let (host_port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = host_port
            .rsplit_once(':')
            .ok_or_else(|| format!("pprof URL `{url}` has no port"))?;
        if host != "127.0.0.1" && host != "localhost" {
            return Err(format!(
                "pprof URL `{url}`: only 127.0.0.1 is contacted, not {host}"
            ));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| format!("pprof URL `{url}`: bad port `{port}`"))?;
        let path = path.split(['?', '#']).next().unwrap_or("");
        let base = path.trim_end_matches('/');
        Ok(PprofEndpoint {
            port,
            base: if base.is_empty() {
                DEFAULT_PPROF_BASE.to_string()
            } else {
                base.to_string()
            },
        })
    }

    /// `http://127.0.0.1:PORT/PREFIX`, for messages.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.base)
    }
}

/// Where the snapshots of one run are taken from.
#[derive(Debug, Clone)]
pub enum SnapshotSource {
    /// A Node process; the inspector opens on `inspector_port` after SIGUSR1.
    Node {
        /// PID of the node process.
        pid: u32,
        /// Port given with `--inspect-port`.
        inspector_port: u16,
    },
    /// A JVM, dumped with `jcmd`.
    Java {
        /// PID of the java process.
        pid: u32,
    },
    /// A Go service with `net/http/pprof`.
    Go(PprofEndpoint),
}

impl SnapshotSource {
    /// The process snapshots are taken of, when it is known by PID (node, java).
    pub fn pid(&self) -> Option<u32> {
        match self {
            SnapshotSource::Node { pid, .. } | SnapshotSource::Java { pid } => Some(*pid),
            SnapshotSource::Go(_) => None,
        }
    }

    /// `node`, `java` or `go`.
    pub fn runtime_name(&self) -> &'static str {
        match self {
            SnapshotSource::Node { .. } => "node",
            SnapshotSource::Java { .. } => "java",
            SnapshotSource::Go(_) => "go",
        }
    }

    /// PID or URL, for messages.
    pub fn describe(&self) -> String {
        match self {
            SnapshotSource::Node {
                pid,
                inspector_port,
            } => format!("node pid {pid} (inspector 127.0.0.1:{inspector_port})"),
            SnapshotSource::Java { pid } => format!("java pid {pid} (jcmd)"),
            SnapshotSource::Go(e) => e.url(),
        }
    }

    /// Take snapshot number `index` into `dir` (`s00.heapsnapshot`, `s01.hprof`,
    /// `s02.heap.pb.gz` + `s02.goroutine.pb.gz`: two digits, so a shell glob lists them in
    /// order); returns the files written (Go: the heap profile, then the goroutine profile).
    pub fn take(&self, dir: &Path, index: usize) -> Result<Vec<PathBuf>, CaptureError> {
        match self {
            SnapshotSource::Node {
                pid,
                inspector_port,
            } => {
                let target = pid.to_string();
                // SIGUSR1 opens the inspector on the port given in NODE_OPTIONS; it is
                // harmless once the inspector is open.
                let st = Command::new("kill")
                    .arg("-USR1")
                    .arg(&target)
                    .stderr(std::process::Stdio::null())
                    .status()
                    .map_err(|e| CaptureError::Target {
                        target: target.clone(),
                        what: format!("cannot run kill ({e})"),
                    })?;
                if !st.success() {
                    return Err(CaptureError::Target {
                        target,
                        what: "kill -USR1 failed (the process is gone?)".into(),
                    });
                }
                let out = dir.join(format!("s{index:02}.heapsnapshot"));
                let at = format!("127.0.0.1:{inspector_port}");
                capture::node_signalled(Some(*pid), *inspector_port, &at, &out).map_err(
                    |e| match e {
                        CaptureError::Target { what, .. } => CaptureError::Target {
                            target: format!(
                                "node pid {pid} (inspector 127.0.0.1:{inspector_port})"
                            ),
                            what: what + &inspect_hint(*pid),
                        },
                        other => other,
                    },
                )?;
                Ok(vec![out])
            }
            SnapshotSource::Java { pid } => {
                let out = dir.join(format!("s{index:02}.hprof"));
                capture::java(&pid.to_string(), &out)?;
                Ok(vec![out])
            }
            SnapshotSource::Go(e) => {
                let target = e.url();
                let heap = dir.join(format!("s{index:02}.heap.pb.gz"));
                let body = capture::http_get(e.port, &format!("{}/heap?gc=1", e.base), &target)
                    .map_err(|err| match err {
                        CaptureError::Target { target, what } if what.contains(" 404") => {
                            CaptureError::Target {
                                target,
                                what: what
                                    + "; the service does not serve net/http/pprof there \
                                       (import _ \"net/http/pprof\", or give --pprof-url)",
                            }
                        }
                        other => other,
                    })?;
                write(&heap, &body)?;
                let gor = dir.join(format!("s{index:02}.goroutine.pb.gz"));
                let body = capture::http_get(e.port, &format!("{}/goroutine", e.base), &target)?;
                write(&gor, &body)?;
                Ok(vec![heap, gor])
            }
        }
    }
}

/// When a node process was started with its own `--inspect…`, SIGUSR1 does not open the port
/// leakhound chose: say so.
fn inspect_hint(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let own = cmdline
        .split(|&b| b == 0)
        .any(|a| a.starts_with(b"--inspect") && !a.starts_with(b"--inspect-port"));
    if own {
        "; the process was started with its own --inspect option, so its inspector is not on the port leakhound chose: remove that option".into()
    } else {
        String::new()
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), CaptureError> {
    std::fs::write(path, bytes).map_err(|err| CaptureError::Write {
        path: path.to_owned(),
        err,
    })
}

/// The process of the tree rooted at `root` whose `comm` is `name`: the root itself, else the
/// first such descendant in breadth-first order (a shell or `npm` wrapper starts the runtime
/// as a child). `None` when there is none (yet).
pub fn find_in_tree(root: u32, name: &str) -> Option<u32> {
    let mut queue = std::collections::VecDeque::from([root]);
    let mut seen = 0usize;
    while let Some(pid) = queue.pop_front() {
        if comm(pid).as_deref() == Some(name) {
            return Some(pid);
        }
        queue.extend(children(pid));
        seen += 1;
        if seen > MAX_TREE {
            break;
        }
    }
    None
}

/// Processes looked at by [`find_in_tree`] at most: a bound against a fork bomb under the root.
const MAX_TREE: usize = 4096;

fn comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Children of every thread of `pid` (`/proc/PID/task/TID/children`).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pprof_urls_default_to_debug_pprof_and_stay_local() {
        assert_eq!(
            PprofEndpoint::parse("http://127.0.0.1:6060").unwrap(),
            PprofEndpoint {
                port: 6060,
                base: "/debug/pprof".into()
            }
        );
        assert_eq!(
            PprofEndpoint::parse("http://localhost:8080/internal/pprof/").unwrap(),
            PprofEndpoint {
                port: 8080,
                base: "/internal/pprof".into()
            }
        );
        assert!(PprofEndpoint::parse("http://10.0.0.1:6060").is_err());
        assert!(PprofEndpoint::parse("127.0.0.1:6060").is_err());
        assert!(PprofEndpoint::parse("http://127.0.0.1:x/").is_err());
    }

    #[test]
    fn the_tree_search_finds_our_own_process() {
        let me = std::process::id();
        let name = comm(me).expect("our own comm is readable");
        assert_eq!(find_in_tree(me, &name), Some(me));
        assert_eq!(find_in_tree(me, "no-such-comm-xyz"), None);
    }
}
