//! Taking snapshots from running processes: Node through the inspector protocol, Java with
//! `jcmd PID GC.heap_dump`, Go from `net/http/pprof` endpoints. Only 127.0.0.1 is ever contacted.
//!
//! A PID is checked before anything is sent to it: `node` must name a Node process (SIGUSR1
//! kills most other programs) whose inspector socket is its own, `java` a JVM (jcmd would wait
//! 10 s for any other process to answer).
//!
//! Not for reading the files (see `v8`, `hprof`, `pprof`).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::procinfo;

/// Failure to take a snapshot; names the target.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The target could not be reached or refused.
    #[error("failed to take a snapshot of {target}: {what}")]
    Target {
        /// PID or address.
        target: String,
        /// What went wrong.
        what: String,
    },
    /// The target accepted the connection, then sent nothing for [`Wait::stall`].
    #[error("failed to take a snapshot of {target}: {what}")]
    Stalled {
        /// PID or address.
        target: String,
        /// What was waited for.
        what: String,
    },
    /// The output file could not be written.
    #[error("failed to write {path}: {err}")]
    Write {
        /// Output file.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        err: std::io::Error,
    },
}

fn stalled(target: &str, what: String) -> CaptureError {
    CaptureError::Stalled {
        target: target.to_owned(),
        what,
    }
}

fn target_err(target: &str, what: impl Into<String>) -> CaptureError {
    CaptureError::Target {
        target: target.to_owned(),
        what: what.into(),
    }
}

/// How long a target may send nothing before the snapshot is given up ([`Wait::stall`]): Go's
/// `heap?gc=1` collects before it answers, and V8 collects and walks the heap before its first
/// chunk, seconds for heaps of a few GiB; a port whose owner accepts connections and never
/// answers is not waited on for longer.
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);

/// Requests that any live inspector or pprof server answers at once (`/json/list`) wait at
/// most this long.
const METADATA_STALL: Duration = Duration::from_secs(10);

/// How long to wait, and what to tell the user meanwhile.
pub struct Wait<'a> {
    /// Nothing received from the target for this long fails the snapshot.
    pub stall: Duration,
    /// Told what the snapshot is waiting for ("GET /debug/pprof/heap?gc=1: 1.2 MiB received"),
    /// for a spinner.
    pub progress: &'a dyn Fn(&str),
}

impl Default for Wait<'_> {
    fn default() -> Self {
        Wait {
            stall: DEFAULT_STALL,
            progress: &|_| {},
        }
    }
}

impl Wait<'_> {
    fn at_most(&self, d: Duration) -> Wait<'_> {
        Wait {
            stall: self.stall.min(d),
            progress: self.progress,
        }
    }
}

/// Whether a read failed because nothing arrived within its timeout.
fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64().round().max(1.0))
}

/// Plain HTTP/1.0 GET against 127.0.0.1; returns the body. Gives up when nothing arrives for
/// [`DEFAULT_STALL`].
pub fn http_get(port: u16, path: &str, target: &str) -> Result<Vec<u8>, CaptureError> {
    http_get_within(port, path, target, &Wait::default())
}

/// [`http_get`] with `wait.stall` for the connection and for each read.
fn http_get_within(
    port: u16,
    path: &str,
    target: &str,
    wait: &Wait,
) -> Result<Vec<u8>, CaptureError> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, wait.stall)
        .map_err(|e| target_err(target, format!("cannot connect to 127.0.0.1:{port} ({e})")))?;
    s.set_read_timeout(Some(wait.stall))
        .map_err(|e| target_err(target, e.to_string()))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")
        .map_err(|e| target_err(target, e.to_string()))?;
    (wait.progress)(&format!(
        "GET {path} from 127.0.0.1:{port}: waiting for the answer"
    ));
    // Read until the body is complete: some servers (Node's inspector) keep the connection
    // open after the response, so end of stream cannot be relied on.
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let body = loop {
        let n = s.read(&mut buf).map_err(|e| {
            if timed_out(&e) {
                stalled(
                    target,
                    if out.is_empty() {
                        format!(
                            "GET {path}: nothing received for {} (127.0.0.1:{port} accepts \
                             connections but does not answer)",
                            secs(wait.stall)
                        )
                    } else {
                        format!(
                            "GET {path}: nothing more received for {} after {} bytes",
                            secs(wait.stall),
                            out.len()
                        )
                    },
                )
            } else {
                target_err(target, e.to_string())
            }
        })?;
        out.extend_from_slice(&buf[..n]);
        if n > 0 && out.len() >= 1 << 20 {
            (wait.progress)(&format!(
                "GET {path} from 127.0.0.1:{port}: {:.1} MiB received",
                out.len() as f64 / (1 << 20) as f64
            ));
        }
        if let Some(h) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..h]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if n == 0 || len.is_some_and(|len| out.len() >= h + 4 + len) {
                break h;
            }
        } else if n == 0 {
            return Err(target_err(target, "malformed HTTP response"));
        }
    };
    let head = String::from_utf8_lossy(&out[..body]);
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(target_err(
            target,
            format!("GET {path}: {}", head.lines().next().unwrap_or("")),
        ));
    }
    Ok(out[body + 4..].to_vec())
}

/// Where a snapshot is written until it is complete: `<out>.partial`, renamed to `out` at the
/// end, so an interrupted or failed snapshot never leaves a truncated file under the name asked
/// for.
fn partial_path(out: &Path) -> std::path::PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    std::path::PathBuf::from(p)
}

/// Run `write` against the partial file, then rename it to `out`; the partial file is removed
/// when `write` fails.
fn write_atomically(
    out: &Path,
    write: impl FnOnce(&Path) -> Result<(), CaptureError>,
) -> Result<(), CaptureError> {
    let partial = partial_path(out);
    let r = write(&partial).and_then(|()| {
        std::fs::rename(&partial, out).map_err(|err| CaptureError::Write {
            path: out.to_owned(),
            err,
        })
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    r
}

fn write_file(out: &Path, bytes: &[u8]) -> Result<(), CaptureError> {
    write_atomically(out, |p| {
        std::fs::write(p, bytes).map_err(|err| CaptureError::Write {
            path: out.to_owned(),
            err,
        })
    })
}

/// Go: `/debug/pprof/heap?gc=1` into `out`, and the goroutine profile next to it
/// (`<out>.goroutine.pb.gz`). `target` is `PORT` or `127.0.0.1:PORT`.
pub fn go(target: &str, out: &Path) -> Result<std::path::PathBuf, CaptureError> {
    go_with(target, out, &Wait::default())
}

/// [`go`], waiting and telling progress as `wait` says.
pub fn go_with(target: &str, out: &Path, wait: &Wait) -> Result<std::path::PathBuf, CaptureError> {
    let port = parse_port(target)?;
    check_out_dir(out)?;
    let heap = http_get_within(port, "/debug/pprof/heap?gc=1", target, wait)?;
    check_pprof(&heap, "/debug/pprof/heap", target)?;
    let goroutine = http_get_within(port, "/debug/pprof/goroutine", target, wait)?;
    check_pprof(&goroutine, "/debug/pprof/goroutine", target)?;
    write_file(out, &heap)?;
    let mut g = out.as_os_str().to_owned();
    g.push(".goroutine.pb.gz");
    let g = std::path::PathBuf::from(g);
    write_file(&g, &goroutine)?;
    Ok(g)
}

/// An answer of a pprof endpoint is a gzip-compressed `profile.proto` with sample types;
/// anything else (an HTML page, a proxy's error text) is not written as a profile.
fn check_pprof(bytes: &[u8], endpoint: &str, target: &str) -> Result<(), CaptureError> {
    let not = |why: &str| {
        target_err(
            target,
            format!(
                "{endpoint} did not answer with a pprof profile ({why}); is it a Go program importing net/http/pprof?"
            ),
        )
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(not("not gzip"));
    }
    let p = crate::pprof::decode(flate2::read::GzDecoder::new(bytes), Path::new(endpoint))
        .map_err(|_| not("not a profile.proto message"))?;
    if p.sample_type.is_empty() {
        return Err(not("no sample types"));
    }
    Ok(())
}

fn parse_port(target: &str) -> Result<u16, CaptureError> {
    let p = target
        .strip_prefix("127.0.0.1:")
        .or_else(|| target.strip_prefix("localhost:"))
        .unwrap_or(target);
    p.parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| target_err(target, "expected PORT (1-65535) or 127.0.0.1:PORT"))
}

/// Java: `jcmd PID GC.heap_dump OUT` (OUT made absolute: jcmd resolves it in the target's cwd).
/// The PID must be a JVM; when jcmd fails, the error is its first line that says why (not the
/// attach API's stack trace).
pub fn java(pid: &str, out: &Path) -> Result<(), CaptureError> {
    let n: u32 = pid
        .parse()
        .map_err(|_| target_err(pid, "expected the PID of a JVM"))?;
    if !procinfo::is_alive(n) {
        return Err(target_err(pid, format!("no process with PID {n}")));
    }
    let prog = procinfo::Program::read(n);
    if !procinfo::is_jvm(n, &prog) {
        return Err(target_err(
            pid,
            format!(
                "pid {n} is not a Java process (it runs {}); jcmd attaches to JVMs only",
                prog.describe()
            ),
        ));
    }
    let abs = std::path::absolute(out).map_err(|err| CaptureError::Write {
        path: out.to_owned(),
        err,
    })?;
    // The JVM writes the dump itself, and its reason for failing is far from the path: a
    // missing directory is named here, as node's and go's are.
    if let Some(dir) = abs.parent().filter(|d| !d.is_dir()) {
        return Err(CaptureError::Write {
            path: out.to_owned(),
            err: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not a directory", dir.display()),
            ),
        });
    }
    write_atomically(&abs, |partial| {
        // jcmd refuses to overwrite a file.
        let _ = std::fs::remove_file(partial);
        let o = Command::new("jcmd")
            .arg(pid)
            .arg("GC.heap_dump")
            .arg(partial)
            .output()
            .map_err(|e| target_err(pid, format!("cannot run jcmd ({e})")))?;
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        if !o.status.success() || !partial.exists() {
            return Err(target_err(
                pid,
                format!("jcmd GC.heap_dump failed: {}", jcmd_reason(&text)),
            ));
        }
        Ok(())
    })
}

/// The line of jcmd's output that says why it failed: not the `PID:` header, not a stack frame,
/// and without the exception's class name
/// (`com.sun.tools.attach.AttachNotSupportedException: The VM does not support …`).
fn jcmd_reason(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| {
            !l.strip_suffix(':')
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        })
        // jcmd's progress line comes before its reason ("Unable to create …: No such file").
        .filter(|l| !l.starts_with("Dumping heap to "))
        .find(|l| !l.starts_with("at ") && !l.starts_with("..."));
    let Some(line) = line else {
        return "no output".into();
    };
    match line.split_once(": ") {
        Some((class, why))
            if class.contains('.')
                && !class.contains(char::is_whitespace)
                && (class.ends_with("Exception") || class.ends_with("Error")) =>
        {
            why.trim().to_owned()
        }
        _ => line.to_owned(),
    }
}

/// What `leakhound snapshot node` is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeTarget {
    /// A Node process: its inspector is found (or opened with SIGUSR1) and checked to be its.
    Pid(u32),
    /// An inspector that is already open on `127.0.0.1:PORT`.
    Inspector(u16),
}

impl NodeTarget {
    /// `PID` or `127.0.0.1:PORT`.
    pub fn parse(target: &str) -> Result<NodeTarget, CaptureError> {
        if let Some(p) = target.strip_prefix("127.0.0.1:") {
            return p
                .parse()
                .map(NodeTarget::Inspector)
                .map_err(|_| target_err(target, "bad port"));
        }
        target
            .parse()
            .map(NodeTarget::Pid)
            .map_err(|_| target_err(target, "expected a PID or 127.0.0.1:PORT"))
    }

    fn name(self) -> String {
        match self {
            NodeTarget::Pid(pid) => pid.to_string(),
            NodeTarget::Inspector(port) => format!("127.0.0.1:{port}"),
        }
    }
}

/// How long a Node inspector gets to open its port after SIGUSR1 (it opens in well under a
/// second; the margin is for a loaded machine).
const INSPECTOR_STARTUP: Duration = Duration::from_secs(10);

/// How often the listening sockets are looked at while an inspector starts.
const INSPECTOR_POLL: Duration = Duration::from_millis(50);

/// The port Node's inspector uses when no `--inspect…` option names one.
pub const DEFAULT_INSPECTOR_PORT: u16 = 9229;

/// Node, as the user names it: streams `HeapProfiler.takeHeapSnapshot` chunks into `out`.
///
/// For a PID, the process must run `node` (nothing else is signalled). Its inspector port comes
/// from its `--inspect`, `--inspect-brk`, `--inspect-wait` or `--inspect-port` options (on the
/// command line or in `NODE_OPTIONS`), 9229 by default; SIGUSR1 is sent only when the inspector
/// is not open yet, and the socket listening on the port must be one of the PID's descriptors,
/// so another process's inspector is never snapshotted in its place. For `127.0.0.1:PORT` the
/// inspector must be open: a refused connection fails at once.
pub fn node_snapshot(target: NodeTarget, out: &Path) -> Result<(), CaptureError> {
    node_snapshot_with(target, out, &Wait::default())
}

/// [`node_snapshot`], waiting and telling progress as `wait` says.
pub fn node_snapshot_with(target: NodeTarget, out: &Path, wait: &Wait) -> Result<(), CaptureError> {
    check_out_dir(out)?;
    let port = match target {
        NodeTarget::Pid(pid) => open_node_inspector(pid)?,
        NodeTarget::Inspector(port) => port,
    };
    snapshot_inspector(port, &target.name(), out, wait)
}

/// The directory `out` goes in must exist before a snapshot is taken: the target's work (a
/// collection, a walk of its heap) is not spent for a file that cannot be written.
fn check_out_dir(out: &Path) -> Result<(), CaptureError> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        return Ok(());
    }
    Err(CaptureError::Write {
        path: out.to_owned(),
        err: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a directory", dir.display()),
        ),
    })
}

/// Node, for a caller that has just sent SIGUSR1 to `pid` itself (`run --snapshots`, on the
/// port it chose): a refused connection to the inspector on `port` is retried for
/// [`INSPECTOR_STARTUP`] while the inspector starts, and only while `pid` runs (a process that
/// has exited opens nothing). A user-given address goes to [`node_snapshot`], which does not
/// wait.
pub fn node_signalled(
    pid: Option<u32>,
    port: u16,
    target: &str,
    out: &Path,
) -> Result<(), CaptureError> {
    let start = Instant::now();
    while let Err(e) = TcpStream::connect(("127.0.0.1", port)) {
        let gone = pid.is_some_and(|p| !procinfo::is_alive(p));
        if gone || start.elapsed() > INSPECTOR_STARTUP {
            return Err(target_err(
                target,
                format!("cannot connect to 127.0.0.1:{port} ({e})"),
            ));
        }
        std::thread::sleep(INSPECTOR_POLL);
    }
    snapshot_inspector(port, target, out, &Wait::default())
}

/// Who holds the listening socket a connection to `127.0.0.1:PORT` reaches.
enum PortHolder {
    Nobody,
    /// The process being snapshotted.
    Target,
    /// Another process (its PID when this user can see its descriptors).
    Other(Option<u32>),
    /// Nobody for 127.0.0.1, but the target listens on the port at an address 127.0.0.1 does
    /// not reach (`--inspect=[::1]:PORT`, `--inspect=192.0.2.7:PORT`).
    TargetElsewhere(std::net::IpAddr),
}

fn port_holder(pid: u32, port: u16) -> Result<PortHolder, CaptureError> {
    let all = procinfo::listeners().map_err(|e| {
        target_err(
            &pid.to_string(),
            format!("cannot read /proc/net/tcp to check who holds port {port} ({e})"),
        )
    })?;
    let reached = procinfo::loopback_listeners(&all, port);
    let mine = procinfo::socket_inodes(pid);
    if reached.is_empty() {
        return Ok(
            match all
                .iter()
                .find(|l| l.port == port && mine.contains(&l.inode))
            {
                Some(l) => PortHolder::TargetElsewhere(l.addr),
                None => PortHolder::Nobody,
            },
        );
    }
    Ok(match reached.iter().find(|l| !mine.contains(&l.inode)) {
        None => PortHolder::Target,
        Some(l) => PortHolder::Other(procinfo::socket_owner(l.inode).filter(|&o| o != pid)),
    })
}

/// Whether the PID's inspector listens on `127.0.0.1:port`; an error when another process holds
/// the port or the PID listens on it where 127.0.0.1 does not reach.
fn inspector_is_open(pid: u32, port: u16) -> Result<bool, CaptureError> {
    match port_holder(pid, port)? {
        PortHolder::Target => Ok(true),
        PortHolder::Nobody => Ok(false),
        PortHolder::Other(holder) => Err(port_held(pid, port, holder)),
        PortHolder::TargetElsewhere(addr) => Err(inspector_elsewhere(pid, port, addr)),
    }
}

/// The error for an inspector that 127.0.0.1 does not reach.
fn inspector_elsewhere(pid: u32, port: u16, addr: std::net::IpAddr) -> CaptureError {
    let at = std::net::SocketAddr::new(addr, port);
    target_err(
        &pid.to_string(),
        format!(
            "its inspector listens on {at}, which 127.0.0.1 does not reach (leakhound only contacts 127.0.0.1): start it with --inspect=127.0.0.1:{port}"
        ),
    )
}

/// The error for an inspector port held by another process.
fn port_held(pid: u32, port: u16, holder: Option<u32>) -> CaptureError {
    let who = match holder {
        Some(h) => {
            let prog = procinfo::Program::read(h);
            let whose = if procinfo::is_node_name(&prog.name()) {
                format!("that process's inspector would be snapshotted, not {pid}'s")
            } else {
                format!("{pid}'s inspector cannot open there")
            };
            format!(
                "port {port} is held by pid {h} ({}); {whose}",
                prog.describe()
            )
        }
        None => format!(
            "port {port} is held by another process (not visible to this user); {pid}'s inspector cannot open there"
        ),
    };
    target_err(
        &pid.to_string(),
        format!(
            "{who}: start {pid}'s node with --inspect-port=PORT (SIGUSR1 then opens its inspector there) or --inspect=PORT, then snapshot it by PID or as 127.0.0.1:PORT"
        ),
    )
}

/// Check that `pid` runs Node, find or open its inspector (SIGUSR1), and check that the socket
/// listening on the inspector port is the PID's; returns the port.
fn open_node_inspector(pid: u32) -> Result<u16, CaptureError> {
    let target = pid.to_string();
    if !procinfo::is_alive(pid) {
        return Err(target_err(&target, format!("no process with PID {pid}")));
    }
    let prog = procinfo::Program::read(pid);
    if !procinfo::is_node_name(&prog.name()) {
        return Err(target_err(
            &target,
            format!(
                "pid {pid} is not a Node process (it runs {}); only node opens an inspector on SIGUSR1, so no signal was sent",
                prog.describe()
            ),
        ));
    }
    if let Some(tool) = procinfo::node_launcher(&prog) {
        return Err(launcher_error(pid, tool, &prog));
    }
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let port = node_inspector_port(&prog.argv, &procinfo::nul_separated(&environ));
    if port == 0 {
        return open_node_inspector_on_any_port(pid);
    }
    // Already open (started with --inspect, or an earlier snapshot): no signal.
    if inspector_is_open(pid, port)? {
        return Ok(port);
    }
    send_sigusr1(pid)?;
    let start = Instant::now();
    loop {
        if inspector_is_open(pid, port)? {
            return Ok(port);
        }
        if !procinfo::is_alive(pid) {
            return Err(target_err(&target, "the process exited after SIGUSR1"));
        }
        if start.elapsed() > INSPECTOR_STARTUP {
            return Err(target_err(
                &target,
                format!(
                    "its inspector did not open on 127.0.0.1:{port} within {} s of SIGUSR1 (started with --disable-sigusr1, handles SIGUSR1 itself, or opened its inspector elsewhere with inspector.open()?); open it with --inspect=PORT and snapshot 127.0.0.1:PORT",
                    INSPECTOR_STARTUP.as_secs()
                ),
            ));
        }
        std::thread::sleep(INSPECTOR_POLL);
    }
}

/// `npm start` and the like run the service as a child process: name the Node processes below.
fn launcher_error(pid: u32, tool: &str, prog: &procinfo::Program) -> CaptureError {
    /// Enough to recognise the service; `pgrep` finds the rest.
    const SHOWN: usize = 3;
    let nodes: Vec<String> = procinfo::descendants(pid)
        .into_iter()
        .map(|p| (p, procinfo::Program::read(p)))
        .filter(|(_, c)| procinfo::is_node_name(&c.name()) && procinfo::node_launcher(c).is_none())
        .take(SHOWN)
        .map(|(p, c)| format!("{p} ({})", c.describe()))
        .collect();
    let which = if nodes.is_empty() {
        "the node process it started (none is running now)".to_owned()
    } else {
        format!("the node process it started: {}", nodes.join(", "))
    };
    target_err(
        &pid.to_string(),
        format!(
            "pid {pid} is {tool} ({}), not the service it runs; snapshot the PID of {which}",
            prog.describe()
        ),
    )
}

/// `--inspect=0` / `--inspect-port=0`: the inspector takes a random port, so it is recognised
/// among the PID's own listening sockets by its `/json/version` answer.
fn open_node_inspector_on_any_port(pid: u32) -> Result<u16, CaptureError> {
    let mut probed = HashSet::new();
    if let Some(p) = find_inspector_of(pid, &mut probed) {
        return Ok(p);
    }
    send_sigusr1(pid)?;
    let start = Instant::now();
    loop {
        if let Some(p) = find_inspector_of(pid, &mut probed) {
            return Ok(p);
        }
        if !procinfo::is_alive(pid) {
            return Err(target_err(
                &pid.to_string(),
                "the process exited after SIGUSR1",
            ));
        }
        if start.elapsed() > INSPECTOR_STARTUP {
            return Err(target_err(
                &pid.to_string(),
                format!(
                    "no inspector of this process listens on 127.0.0.1 within {} s of SIGUSR1 (its inspector port is 0, chosen at random)",
                    INSPECTOR_STARTUP.as_secs()
                ),
            ));
        }
        std::thread::sleep(INSPECTOR_POLL);
    }
}

/// The first port, not in `probed` yet, that is the PID's own listening socket for 127.0.0.1 and
/// answers like an inspector; every port looked at is added to `probed`.
fn find_inspector_of(pid: u32, probed: &mut HashSet<u16>) -> Option<u16> {
    let all = procinfo::listeners().ok()?;
    let mine = procinfo::socket_inodes(pid);
    let ports: Vec<u16> = all
        .iter()
        .filter(|l| mine.contains(&l.inode))
        .map(|l| l.port)
        .collect();
    ports.into_iter().find(|&p| {
        let reached = procinfo::loopback_listeners(&all, p);
        !reached.is_empty()
            && reached.iter().all(|l| mine.contains(&l.inode))
            && probed.insert(p)
            && is_inspector(p)
    })
}

/// Whether 127.0.0.1:port answers `/json/version` like a Node inspector (short timeouts: the
/// port may be the service's own, speaking anything).
fn is_inspector(port: u16) -> bool {
    const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
    let probe = Wait {
        stall: PROBE_TIMEOUT,
        progress: &|_| {},
    };
    http_get_within(port, "/json/version", "", &probe)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("Protocol-Version").is_some())
}

fn send_sigusr1(pid: u32) -> Result<(), CaptureError> {
    let o = Command::new("kill")
        .arg("-USR1")
        .arg(pid.to_string())
        .output()
        .map_err(|e| target_err(&pid.to_string(), format!("cannot run kill ({e})")))?;
    if !o.status.success() {
        let why = String::from_utf8_lossy(&o.stderr);
        return Err(target_err(
            &pid.to_string(),
            format!(
                "kill -USR1 failed ({})",
                why.lines().next().unwrap_or("").trim()
            ),
        ));
    }
    Ok(())
}

/// The inspector port Node would use, from its options: `NODE_OPTIONS` first, then the command
/// line up to the script (the last option wins, as in Node). `--inspect[-brk|-wait][=[HOST:]PORT]`
/// and `--inspect-port=[HOST:]PORT` (also `--debug-port`, and with the value after a space);
/// 9229 when none names a port; 0 means a random port.
fn node_inspector_port(argv: &[String], environ: &[String]) -> u16 {
    let node_options = environ
        .iter()
        .find_map(|e| e.strip_prefix("NODE_OPTIONS="))
        .unwrap_or("");
    let from_env: Vec<&str> = node_options.split_whitespace().collect();
    let mut cmdline: Vec<&str> = Vec::new();
    let mut takes_value = false;
    for a in argv.iter().skip(1).map(String::as_str) {
        if a == "--" || (!takes_value && !a.starts_with('-')) {
            break; // the script and its own arguments
        }
        takes_value = matches!(
            a,
            "--inspect-port" | "--debug-port" | "-r" | "--require" | "--import" | "--loader"
        );
        cmdline.push(a);
    }
    let mut port = DEFAULT_INSPECTOR_PORT;
    let mut args = from_env.into_iter().chain(cmdline);
    while let Some(a) = args.next() {
        let (flag, value) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (a, None),
        };
        let value = match flag {
            "--inspect" | "--inspect-brk" | "--inspect-wait" => value,
            "--inspect-port" | "--debug-port" => value.or_else(|| args.next()),
            _ => continue,
        };
        if let Some(p) = value.and_then(host_port) {
            port = p;
        }
    }
    port
}

/// The port of `[HOST:]PORT`; `None` for a host alone.
fn host_port(v: &str) -> Option<u16> {
    v.parse()
        .ok()
        .or_else(|| v.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
}

/// `/json/list` of the inspector on 127.0.0.1:port, then the snapshot over its WebSocket.
fn snapshot_inspector(
    port: u16,
    target: &str,
    out: &Path,
    wait: &Wait,
) -> Result<(), CaptureError> {
    // An inspector lists its targets at once: a longer wait would not help here.
    let list = http_get_within(port, "/json/list", target, &wait.at_most(METADATA_STALL)).map_err(
        |e| match e {
            CaptureError::Stalled { target, what } => CaptureError::Target {
                target,
                what: what + "; is it a Node inspector's port?",
            },
            e => e,
        },
    )?;
    let list: serde_json::Value = serde_json::from_slice(&list)
        .map_err(|e| target_err(target, format!("bad /json/list ({e})")))?;
    let url = list
        .get(0)
        .and_then(|t| t.get("webSocketDebuggerUrl"))
        .and_then(|u| u.as_str())
        .ok_or_else(|| target_err(target, "inspector lists no debugger URL"))?
        .to_owned();
    // Always talk to 127.0.0.1:port ourselves; only the path of the advertised URL is used.
    let rest = url.strip_prefix("ws://").unwrap_or("");
    let (host, ws_path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = host.split(':').next().unwrap_or("");
    if host != "127.0.0.1" && host != "localhost" {
        return Err(target_err(
            target,
            format!("inspector is not on 127.0.0.1: {url}"),
        ));
    }
    let url = format!("ws://127.0.0.1:{port}{ws_path}");
    let stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| target_err(target, e.to_string()))?;
    stream
        .set_read_timeout(Some(wait.stall.min(METADATA_STALL)))
        .map_err(|e| target_err(target, e.to_string()))?;
    let (mut ws, _) = tungstenite::client::client(url.as_str(), stream).map_err(|e| match &e {
        tungstenite::HandshakeError::Failure(tungstenite::Error::Io(io)) if timed_out(io) => {
            stalled(
                target,
                format!(
                    "WebSocket handshake: nothing received for {} (127.0.0.1:{port} accepts \
                     connections but does not answer)",
                    secs(wait.stall.min(METADATA_STALL))
                ),
            )
        }
        _ => target_err(target, format!("WebSocket handshake failed ({e})")),
    })?;
    ws.get_ref()
        .set_read_timeout(Some(wait.stall))
        .map_err(|e| target_err(target, e.to_string()))?;
    let send = |ws: &mut tungstenite::WebSocket<TcpStream>, m: String| {
        ws.send(tungstenite::Message::Text(m.into()))
            .map_err(|e| target_err(target, e.to_string()))
    };
    send(&mut ws, r#"{"id":1,"method":"HeapProfiler.enable"}"#.into())?;
    send(
        &mut ws,
        r#"{"id":2,"method":"HeapProfiler.takeHeapSnapshot","params":{"reportProgress":true}}"#
            .into(),
    )?;
    (wait.progress)("V8 is collecting garbage before the snapshot");
    write_atomically(out, |partial| {
        stream_chunks(&mut ws, target, out, partial, wait)
    })?;
    let _ = ws.close(None);
    Ok(())
}

/// Read the inspector's `addHeapSnapshotChunk` messages into `partial` until the snapshot
/// request (id 2) is answered.
fn stream_chunks(
    ws: &mut tungstenite::WebSocket<TcpStream>,
    target: &str,
    out: &Path,
    partial: &Path,
    wait: &Wait,
) -> Result<(), CaptureError> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(partial).map_err(|err| {
        CaptureError::Write {
            path: out.to_owned(),
            err,
        }
    })?);
    let mut written = 0usize;
    loop {
        let msg = ws.read().map_err(|e| match &e {
            tungstenite::Error::Io(io) if timed_out(io) => stalled(
                target,
                format!(
                    "the inspector sent nothing for {}{}",
                    secs(wait.stall),
                    if written > 0 {
                        format!(" after {written} bytes of the snapshot")
                    } else {
                        " after the snapshot was asked for".to_string()
                    }
                ),
            ),
            _ => target_err(target, format!("inspector connection: {e}")),
        })?;
        let tungstenite::Message::Text(text) = msg else {
            continue;
        };
        let v: serde_json::Value =
            serde_json::from_str(text.as_str()).map_err(|e| target_err(target, e.to_string()))?;
        if v.get("method").and_then(|m| m.as_str()) == Some("HeapProfiler.addHeapSnapshotChunk") {
            if let Some(c) = v.pointer("/params/chunk").and_then(|c| c.as_str()) {
                written += c.len();
                (wait.progress)(&format!(
                    "receiving the snapshot: {:.1} MiB",
                    written as f64 / (1 << 20) as f64
                ));
                file.write_all(c.as_bytes())
                    .map_err(|err| CaptureError::Write {
                        path: out.to_owned(),
                        err,
                    })?;
            }
        } else if v.get("method").and_then(|m| m.as_str())
            == Some("HeapProfiler.reportHeapSnapshotProgress")
        {
            let done = v.pointer("/params/done").and_then(|d| d.as_u64());
            let total = v.pointer("/params/total").and_then(|d| d.as_u64());
            if let (Some(d), Some(t)) = (done, total) {
                (wait.progress)(&format!("V8 is walking the heap: {d} of {t} objects"));
            }
        } else if v.get("id").and_then(|i| i.as_u64()) == Some(2) {
            if let Some(e) = v.get("error") {
                return Err(target_err(target, format!("takeHeapSnapshot: {e}")));
            }
            break;
        }
    }
    file.flush().map_err(|err| CaptureError::Write {
        path: out.to_owned(),
        err,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn inspector_port_comes_from_node_options_and_the_command_line() {
        let port = |argv: &[&str], env: &[&str]| node_inspector_port(&args(argv), &args(env));
        assert_eq!(port(&["node", "server.js"], &[]), 9229);
        assert_eq!(port(&["node", "--inspect", "server.js"], &[]), 9229);
        assert_eq!(port(&["node", "--inspect=9300", "server.js"], &[]), 9300);
        assert_eq!(port(&["node", "--inspect=0", "s.js"], &[]), 0);
        assert_eq!(
            port(&["node", "--inspect-brk=0.0.0.0:9301", "s.js"], &[]),
            9301
        );
        assert_eq!(port(&["node", "--inspect=127.0.0.1", "s.js"], &[]), 9229);
        assert_eq!(port(&["node", "--inspect-port", "9302", "s.js"], &[]), 9302);
        assert_eq!(
            port(
                &["node", "-r", "dotenv/config", "--inspect-port=9303", "s.js"],
                &[]
            ),
            9303
        );
        // The script's own arguments are not Node's.
        assert_eq!(port(&["node", "s.js", "--inspect=9304"], &[]), 9229);
        // NODE_OPTIONS first, the command line wins.
        let env = [
            "PATH=/bin",
            "NODE_OPTIONS=--max-old-space-size=512 --inspect-port=127.0.0.1:9305",
        ];
        assert_eq!(port(&["node", "s.js"], &env), 9305);
        assert_eq!(port(&["node", "--inspect=9306", "s.js"], &env), 9306);
    }

    #[test]
    fn node_targets() {
        assert_eq!(NodeTarget::parse("4242").unwrap(), NodeTarget::Pid(4242));
        assert_eq!(
            NodeTarget::parse("127.0.0.1:9229").unwrap(),
            NodeTarget::Inspector(9229)
        );
        assert!(NodeTarget::parse("127.0.0.1:x").is_err());
        assert!(NodeTarget::parse("example.com:9229").is_err());
    }

    #[test]
    fn jcmd_failures_are_told_by_their_reason() {
        let not_attachable = "17644:\ncom.sun.tools.attach.AttachNotSupportedException: The VM does not support the attach mechanism\n\tat jdk.attach/sun.tools.attach.HotSpotAttachProvider.testAttachable(HotSpotAttachProvider.java:154)\n\tat jdk.jcmd/sun.tools.jcmd.JCmd.main(JCmd.java:97)\n";
        assert_eq!(
            jcmd_reason(not_attachable),
            "The VM does not support the attach mechanism"
        );
        let timeout = "17514:\ncom.sun.tools.attach.AttachNotSupportedException: Unable to open socket file /tmp/.java_pid17514: target process 17514 doesn't respond within 10500ms or HotSpot VM not loaded\n\tat jdk.attach/sun.tools.attach.VirtualMachineImpl.<init>(VirtualMachineImpl.java:104)\n";
        assert!(jcmd_reason(timeout).starts_with("Unable to open socket file"));
        assert_eq!(jcmd_reason("30490:\nFile exists\n"), "File exists");
        assert_eq!(
            jcmd_reason(
                "30490:\nDumping heap to /data/j.hprof.partial ...\nUnable to create /data/j.hprof.partial: Permission denied\n"
            ),
            "Unable to create /data/j.hprof.partial: Permission denied"
        );
        assert_eq!(
            jcmd_reason("java.io.IOException: Permission denied\n\tat x.y(Z.java:1)"),
            "Permission denied"
        );
        assert_eq!(jcmd_reason("\n"), "no output");
    }
}
