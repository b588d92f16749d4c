//! [`Sampler`]: one call of [`Sampler::sample`] reads the whole tree once.
//!
//! Order of work per sample, chosen so that each `/proc` file is read at most once:
//!
//! 1. list `/proc` and read every `PID/stat` (parent, start time, state) — [`crate::tree`]
//!    decides who is in the tree;
//! 2. for each live member, open `/proc/PID` once and read `stat` again through that descriptor
//!    (fresh values, and proof it is still the same process), `smaps_rollup` and `fd/*`;
//! 3. read `net/tcp` and `net/tcp6` once per network namespace that holds any of the tree's
//!    sockets, and look the sockets' inodes up in them.
//!
//! Buffers are kept in the `Sampler` and reused from one sample to the next.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::os::fd::{AsFd, OwnedFd};

use leakhound_core::Metric;
use rustix::fs::Dir;
use rustix::io::Errno;

use crate::counters::Counters;
use crate::error::SamplerError;
use crate::fast::{smaps_rollup, stat};
use crate::fds;
use crate::net::{self, TcpState};
use crate::read::{bracketed_inode, is_gone, open_dir_at, read_at};
use crate::tree::{Node, Tree};

/// One sample of a whole process tree.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TreeSample {
    /// Every live process of the tree, root first (when alive), then depth-first.
    pub processes: Vec<ProcessSample>,
    /// Summed over the tree. `Processes` is the number of live processes. A metric is `None`
    /// only when no process could report it. TCP states count distinct sockets (a listening
    /// socket shared by forked workers counts once); fds count descriptors per process.
    pub total: Counters,
    /// `(pid, error)` for files that exist but could not be read (permission), e.g.
    /// `smaps_rollup` or `fd` of another user's process. The matching counters are `None`.
    pub unreadable: Vec<(u32, String)>,
}

/// One process of the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessSample {
    /// Process ID.
    pub pid: u32,
    /// Parent process ID at the time of the sample (init or a subreaper after reparenting).
    pub ppid: u32,
    /// Command name (`/proc/PID/comm`, at most 15 bytes).
    pub comm: String,
    /// The process's own counters (`Processes` = 1).
    pub counters: Counters,
}

/// Samples a process tree from `/proc`.
#[derive(Debug)]
pub struct Sampler {
    root_pid: u32,
    tree: Tree,
    page_size: f64,
    /// `/proc`, for `openat`.
    proc_fd: OwnedFd,
    /// A directory stream over `/proc`, rewound at each sample.
    proc_dir: Dir,
    // Scratch space reused between samples.
    nodes: Vec<Node>,
    members: Vec<usize>,
    buf: Vec<u8>,
    path: String,
    /// Socket inodes of all sampled processes, concatenated (see `Found::sockets`).
    sockets: Vec<u64>,
    wanted: HashSet<u64>,
    states: HashMap<u64, TcpState>,
    seen: HashSet<u64>,
}

/// Where a process's network namespace could be told apart: by the namespace inode, or (when
/// `ns/net` is not readable) by the process itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NetKey {
    Ns(u64),
    Pid(u32),
}

/// A process read in step 2, waiting for its TCP states.
struct Found {
    sample: ProcessSample,
    /// Range of its socket inodes in `Sampler::sockets`; `None` when its fds were unreadable.
    sockets: Option<(usize, usize)>,
    net: Option<NetKey>,
}

const PROC: &str = "/proc";

impl Sampler {
    /// A sampler for `root_pid` and all its descendants.
    ///
    /// Fails with [`SamplerError::NoSuchProcess`] if the PID does not exist.
    pub fn new(root_pid: u32) -> Result<Sampler, SamplerError> {
        let proc_err = |path: &str, e: Errno| SamplerError::Proc {
            path: path.to_string(),
            err: e.into(),
        };
        let proc_fd = open_dir_at(rustix::fs::CWD, PROC).map_err(|e| proc_err(PROC, e))?;
        let proc_dir = Dir::read_from(&proc_fd).map_err(|e| proc_err(PROC, e))?;
        let mut buf = Vec::with_capacity(4096);
        let path = format!("{root_pid}/stat");
        match read_at(&proc_fd, &path, &mut buf) {
            Ok(()) => {}
            Err(e) if is_gone(e) || root_pid == 0 => {
                return Err(SamplerError::NoSuchProcess { pid: root_pid });
            }
            Err(e) => return Err(proc_err(&format!("{PROC}/{path}"), e)),
        }
        let st = stat::parse(&buf).ok_or_else(|| SamplerError::Proc {
            path: format!("{PROC}/{path}"),
            err: std::io::Error::new(std::io::ErrorKind::InvalidData, "unexpected format"),
        })?;
        Ok(Sampler {
            root_pid,
            tree: Tree::new(root_pid, st.starttime),
            page_size: rustix::param::page_size() as f64,
            proc_fd,
            proc_dir,
            nodes: Vec::new(),
            members: Vec::new(),
            buf,
            path: String::new(),
            sockets: Vec::new(),
            wanted: HashSet::new(),
            states: HashMap::new(),
            seen: HashSet::new(),
        })
    }

    /// The PID the tree is rooted at.
    pub fn root_pid(&self) -> u32 {
        self.root_pid
    }

    /// One sample of the whole tree. `processes` is empty once everything has exited.
    pub fn sample(&mut self) -> Result<TreeSample, SamplerError> {
        self.scan()?;
        self.tree.update(&self.nodes, &mut self.members);

        let mut unreadable = Vec::new();
        self.sockets.clear();
        let mut found = Vec::with_capacity(self.members.len());
        for k in 0..self.members.len() {
            let node = self.nodes[self.members[k]];
            if let Some(f) = self.read_process(node, &mut unreadable) {
                found.push(f);
            }
        }

        let tcp_ok = self.read_tcp_tables(&found);
        Ok(self.finish(found, &tcp_ok, unreadable))
    }

    /// Step 1: one [`Node`] per process in `/proc`.
    fn scan(&mut self) -> Result<(), SamplerError> {
        self.nodes.clear();
        self.proc_dir.rewind();
        while let Some(entry) = self.proc_dir.read() {
            let entry = entry.map_err(|e| SamplerError::Proc {
                path: PROC.to_string(),
                err: e.into(),
            })?;
            let Some(pid) = crate::fast::parse_u64(entry.file_name().to_bytes())
                .and_then(|p| u32::try_from(p).ok())
            else {
                continue;
            };
            self.path.clear();
            let _ = write!(self.path, "{pid}/stat");
            // Any failure here means the process is gone or not ours to see: skip it.
            if read_at(&self.proc_fd, &self.path, &mut self.buf).is_err() {
                continue;
            }
            if let Some(st) = stat::parse(&self.buf) {
                self.nodes.push(Node {
                    pid: st.pid,
                    ppid: st.ppid,
                    starttime: st.starttime,
                    exited: st.has_exited(),
                });
            }
        }
        Ok(())
    }

    /// Step 2 for one process. `None` when it exited (or its PID was reused) meanwhile.
    fn read_process(&mut self, node: Node, unreadable: &mut Vec<(u32, String)>) -> Option<Found> {
        let pid = node.pid;
        self.path.clear();
        let _ = write!(self.path, "{pid}");
        let dir = open_dir_at(&self.proc_fd, &self.path).ok()?;

        // Through the directory descriptor every later read refers to this very process: if it
        // exits, reads fail with ENOENT/ESRCH even when the PID is reused.
        read_at(&dir, "stat", &mut self.buf).ok()?;
        let st = stat::parse(&self.buf)?;
        if st.starttime != node.starttime || st.has_exited() {
            return None;
        }
        let comm = String::from_utf8_lossy(&self.buf[st.comm.0..st.comm.1]).into_owned();
        let mut c = Counters::default();
        c.set(Metric::RssBytes, st.rss_pages as f64 * self.page_size);
        c.set(Metric::Threads, st.threads as f64);
        c.set(Metric::Processes, 1.0);

        match read_at(&dir, "smaps_rollup", &mut self.buf) {
            Ok(()) => {
                let r = smaps_rollup::parse(&self.buf);
                let f = |v: Option<u64>| v.map(|b| b as f64);
                c.set_opt(Metric::PssBytes, f(r.pss));
                c.set_opt(Metric::UssBytes, f(r.uss));
                c.set_opt(Metric::AnonBytes, f(r.anon));
                c.set_opt(Metric::SwapBytes, f(r.swap));
            }
            // ESRCH also means "no address space" (kernel thread); only drop it if it exited.
            Err(e) if is_gone(e) => {
                if !self.alive(&dir, node.starttime) {
                    return None;
                }
            }
            Err(e) => unreadable.push((pid, failed(pid, "smaps_rollup", e))),
        }

        let start = self.sockets.len();
        let mut sockets = None;
        match fds::count(dir.as_fd(), &mut self.sockets) {
            Ok(n) => {
                c.set(Metric::Fds, f64::from(n.total));
                c.set(Metric::FdsFile, f64::from(n.file));
                c.set(Metric::FdsSocket, f64::from(n.socket));
                c.set(Metric::FdsPipe, f64::from(n.pipe));
                c.set(Metric::FdsAnonInode, f64::from(n.anon_inode));
                c.set(Metric::FdsOther, f64::from(n.other));
                sockets = Some((start, self.sockets.len()));
            }
            Err(e) => {
                self.sockets.truncate(start);
                if is_gone(e) {
                    if !self.alive(&dir, node.starttime) {
                        return None;
                    }
                } else {
                    unreadable.push((pid, failed(pid, "fd", e)));
                }
            }
        }

        let has_sockets = matches!(sockets, Some((a, b)) if b > a);
        let net = has_sockets.then(|| {
            let mut link = [0u8; 64];
            rustix::fs::readlinkat_raw(&dir, "ns/net", &mut link[..])
                .ok()
                .and_then(|n| bracketed_inode(&link[..n.min(link.len())], b"net:"))
                .map_or(NetKey::Pid(pid), NetKey::Ns)
        });

        Some(Found {
            sample: ProcessSample {
                pid,
                ppid: st.ppid,
                comm,
                counters: c,
            },
            sockets,
            net,
        })
    }

    /// Whether the process behind `dir` is still the one that started at `starttime` and has not
    /// exited.
    fn alive(&mut self, dir: &OwnedFd, starttime: u64) -> bool {
        read_at(dir, "stat", &mut self.buf).is_ok()
            && stat::parse(&self.buf).is_some_and(|s| s.starttime == starttime && !s.has_exited())
    }

    /// Step 3: fill `self.states` for the tree's sockets; returns the namespaces whose tables
    /// were read.
    fn read_tcp_tables(&mut self, found: &[Found]) -> HashSet<NetKey> {
        let mut ok = HashSet::new();
        self.states.clear();
        self.wanted.clear();
        self.wanted
            .extend(self.sockets.iter().copied().filter(|&i| i != 0));
        if self.wanted.is_empty() {
            return ok;
        }
        for f in found {
            let Some(key) = f.net else { continue };
            if ok.contains(&key) {
                continue;
            }
            // Read through this process; if it exited meanwhile, a later one of the same
            // namespace gets its turn.
            let pid = f.sample.pid;
            self.path.clear();
            let _ = write!(self.path, "{pid}/net/tcp");
            if read_at(&self.proc_fd, &self.path, &mut self.buf).is_err() {
                continue;
            }
            net::scan_table(&self.buf, &self.wanted, &mut self.states);
            self.path.push('6');
            match read_at(&self.proc_fd, &self.path, &mut self.buf) {
                Ok(()) => net::scan_table(&self.buf, &self.wanted, &mut self.states),
                // No tcp6 table: IPv6 is disabled, so there are no TCP6 sockets to match.
                Err(e) if is_gone(e) => {}
                Err(_) => continue,
            }
            ok.insert(key);
        }
        ok
    }

    /// Per-process TCP states and the tree totals.
    fn finish(
        &mut self,
        mut found: Vec<Found>,
        tcp_ok: &HashSet<NetKey>,
        unreadable: Vec<(u32, String)>,
    ) -> TreeSample {
        const TCP: [Metric; 5] = [
            Metric::TcpEstablished,
            Metric::TcpCloseWait,
            Metric::TcpTimeWait,
            Metric::TcpListen,
            Metric::TcpOther,
        ];
        let mut total = Counters::default();
        self.seen.clear();
        for f in &mut found {
            let Some((a, b)) = f.sockets else { continue };
            // No sockets: zero in every state, no table needed.
            let known = a == b || f.net.is_some_and(|k| tcp_ok.contains(&k));
            if !known {
                continue;
            }
            for m in TCP {
                f.sample.counters.set(m, 0.0);
                total.add(m, 0.0);
            }
            for &ino in &self.sockets[a..b] {
                let Some(&state) = self.states.get(&ino) else {
                    continue; // UDP, Unix or other non-TCP socket
                };
                let m = match state {
                    TcpState::Established => Metric::TcpEstablished,
                    TcpState::CloseWait => Metric::TcpCloseWait,
                    TcpState::TimeWait => Metric::TcpTimeWait,
                    TcpState::Listen => Metric::TcpListen,
                    TcpState::Other => Metric::TcpOther,
                };
                f.sample.counters.add(m, 1.0);
                if self.seen.insert(ino) {
                    total.add(m, 1.0);
                }
            }
        }
        for f in &found {
            for (m, v) in f.sample.counters.iter() {
                if let Some(v) = v
                    && !TCP.contains(&m)
                {
                    total.add(m, v);
                }
            }
        }
        total.set(Metric::Processes, found.len() as f64);
        TreeSample {
            processes: found.into_iter().map(|f| f.sample).collect(),
            total,
            unreadable,
        }
    }
}

/// The message for a file we could not read.
fn failed(pid: u32, what: &str, e: Errno) -> String {
    format!(
        "failed to read {PROC}/{pid}/{what}: {}",
        std::io::Error::from(e)
    )
}
