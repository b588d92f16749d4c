//! [`Sampler`]: one call of [`Sampler::sample`] reads the whole tree once.
//!
//! Order of work per sample, chosen so that each `/proc` file is read at most once:
//!
//! 1. list `/proc` and read `PID/stat` (parent, start time, state) of every process not yet
//!    known to be outside the tree — [`crate::tree`] decides who is in it. A process outside the
//!    tree stays outside for its whole life (reparenting only moves a process to an ancestor or
//!    to init), so it is remembered by PID and the inode number `/proc` lists for its directory
//!    (a new process under a reused PID gets a new inode) and not read again;
//! 2. for each live member, read `status`, `fd/*` and, within the CPU budget of
//!    [`crate::schedule`], `smaps_rollup` through one descriptor of `/proc/PID`. Reads through
//!    that descriptor fail once the process has exited, even if its PID is reused, so they cannot
//!    mix two processes up. For members of earlier samples the scan already opened it and read
//!    `stat` through it; a new member's directory is opened in this step and its `stat` read again
//!    to check the start time;
//! 3. once per network namespace that holds any of the tree's sockets, get the TCP states of
//!    all its sockets (a sock_diag dump for our own namespace, `net/tcp` and `net/tcp6` for
//!    others, see [`crate::net`]) and look the tree's socket inodes up in them.
//!
//! Buffers are kept in the `Sampler` and reused from one sample to the next.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use leakhound_core::Metric;
use rustix::fs::Dir;
use rustix::io::Errno;

use crate::counters::Counters;
use crate::error::SamplerError;
use crate::fast::{smaps_rollup, stat, status};
use crate::fds;
use crate::net::{self, TcpState};
use crate::read::{bracketed_inode, is_gone, open_dir_at, read_at, read_record_at};
use crate::schedule::{self, Budget, DEFAULT_SMAPS_BUDGET};
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
    /// Inode of our own network namespace, where sock_diag works.
    own_netns: Option<u64>,
    page_size: f64,
    /// `/proc`, for `openat`.
    proc_fd: OwnedFd,
    /// A directory stream over `/proc`, rewound at each sample.
    proc_dir: Dir,
    // Scratch space reused between samples.
    nodes: Vec<Node>,
    /// What the scan learnt besides the [`Node`], parallel to `nodes`.
    scanned: Vec<Scanned>,
    /// Command names of the scanned processes, see `Scanned::comm`.
    comms: Vec<u8>,
    /// Processes known to be outside the tree: PID -> inode of `/proc/PID`.
    outside: HashMap<u32, u64>,
    outside_next: HashMap<u32, u64>,
    members: Vec<usize>,
    buf: Vec<u8>,
    path: String,
    /// Socket inodes of all sampled processes, concatenated (see `Found::sockets`).
    sockets: Vec<u64>,
    wanted: HashSet<u64>,
    states: HashMap<u64, TcpState>,
    seen: HashSet<u64>,
    /// CPU budget for `smaps_rollup`; `None` reads it for every process at every sample.
    budget: Option<Budget>,
    /// Last `smaps_rollup` figures per PID.
    memos: HashMap<u32, SmapsMemo>,
    sample_no: u64,
    /// Per member (same order as `members`): read `smaps_rollup` in this sample?
    refresh: Vec<bool>,
    /// Network namespace per PID: (start time, namespace, sample number when read).
    netns_memo: HashMap<u32, (u64, NetKey, u64)>,
}

/// The last `smaps_rollup` reading of one process.
#[derive(Debug, Clone)]
struct SmapsMemo {
    starttime: u64,
    pss: Option<f64>,
    uss: Option<f64>,
    /// CPU seconds the last read took.
    cost_s: f64,
    /// Sample number of the last read.
    last_read: u64,
    /// Why it could not be read, if so.
    denied: Option<String>,
}

/// Where a process's network namespace could be told apart: by the namespace inode, or (when
/// `ns/net` is not readable) by the process itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NetKey {
    Ns(u64),
    Pid(u32),
}

/// One process of the scan, besides its [`Node`].
#[derive(Debug)]
struct Scanned {
    /// Inode of its `/proc/PID` directory.
    ino: u64,
    rss_pages: u64,
    threads: u64,
    /// Range of its command name in `Sampler::comms`.
    comm: (usize, usize),
    /// `/proc/PID`, opened when the process was already in the tree: its `stat` was read
    /// through this descriptor, which pins the process's identity for step 2.
    dir: Option<OwnedFd>,
}

/// A process read in step 2, waiting for its TCP states.
struct Found {
    sample: ProcessSample,
    /// Range of its socket inodes in `Sampler::sockets`; `None` when its fds were unreadable.
    sockets: Option<(usize, usize)>,
    net: Option<NetKey>,
}

const PROC: &str = "/proc";

/// At most this many `/proc/PID` descriptors are held open between the scan and step 2, well
/// under the usual soft limit of 1024 descriptors; members beyond it are opened in step 2 (one
/// extra read of `stat` each).
const MAX_HELD_DIRS: usize = 256;

/// Samples between two reads of a process's `ns/net` link.
const NETNS_REFRESH: u64 = 10;

/// `/proc` reports inode 1 for an entry it could not instantiate; such an entry proves nothing
/// about the process's identity.
const UNSTABLE_INO: u64 = 1;

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
        let own_netns = netns_of(&proc_fd, "self/ns/net");
        Ok(Sampler {
            root_pid,
            own_netns,
            tree: Tree::new(root_pid, st.starttime),
            page_size: rustix::param::page_size() as f64,
            proc_fd,
            proc_dir,
            nodes: Vec::new(),
            scanned: Vec::new(),
            comms: Vec::new(),
            outside: HashMap::new(),
            outside_next: HashMap::new(),
            members: Vec::new(),
            buf,
            path: String::new(),
            sockets: Vec::new(),
            wanted: HashSet::new(),
            states: HashMap::new(),
            seen: HashSet::new(),
            budget: Some(Budget::new(DEFAULT_SMAPS_BUDGET)),
            memos: HashMap::new(),
            sample_no: 0,
            refresh: Vec::new(),
            netns_memo: HashMap::new(),
        })
    }

    /// Limit the CPU time spent reading `smaps_rollup` (PSS, USS) to `fraction` of one core
    /// (default [`DEFAULT_SMAPS_BUDGET`]); `None` reads it for every process at every sample.
    /// Processes that do not fit in a sample's budget repeat their last PSS/USS values.
    pub fn set_smaps_budget(&mut self, fraction: Option<f64>) {
        self.budget = fraction.map(Budget::new);
    }

    /// The PID the tree is rooted at.
    pub fn root_pid(&self) -> u32 {
        self.root_pid
    }

    /// One sample of the whole tree. `processes` is empty once everything has exited.
    pub fn sample(&mut self) -> Result<TreeSample, SamplerError> {
        self.scan()?;
        self.tree.update(&self.nodes, &mut self.members);
        // Remember who is outside. Only when the parent was seen too (or is known outside): a
        // parent missing from this scan could be a member we failed to read.
        for (n, ino) in self.nodes.iter().zip(self.scanned.iter().map(|s| s.ino)) {
            let parent_known = n.ppid == 0
                || self.tree.has_node(n.ppid)
                || self.outside_next.contains_key(&n.ppid);
            if ino != UNSTABLE_INO && parent_known && !self.tree.is_member(n) {
                self.outside_next.insert(n.pid, ino);
            }
        }
        std::mem::swap(&mut self.outside, &mut self.outside_next);
        self.plan_smaps();

        let mut unreadable = Vec::new();
        self.sockets.clear();
        let mut found = Vec::with_capacity(self.members.len());
        for k in 0..self.members.len() {
            if let Some(f) = self.read_process(self.members[k], self.refresh[k], &mut unreadable) {
                found.push(f);
            }
        }
        let live: HashSet<u32> = found.iter().map(|f| f.sample.pid).collect();
        self.memos.retain(|pid, _| live.contains(pid));
        self.netns_memo.retain(|pid, _| live.contains(pid));

        let tcp_ok = self.read_tcp_tables(&found);
        Ok(self.finish(found, &tcp_ok, unreadable))
    }

    /// Step 1: one [`Node`] per process in `/proc`.
    fn scan(&mut self) -> Result<(), SamplerError> {
        self.nodes.clear();
        self.scanned.clear();
        self.comms.clear();
        self.outside_next.clear();
        self.proc_dir.rewind();
        let mut held = 0;
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
            let ino = entry.ino();
            if ino != UNSTABLE_INO && self.outside.get(&pid) == Some(&ino) {
                self.outside_next.insert(pid, ino);
                continue;
            }
            // Any failure here means the process is gone or not ours to see: skip it.
            self.path.clear();
            let dir = if self.tree.may_follow(pid) && held < MAX_HELD_DIRS {
                held += 1;
                let _ = write!(self.path, "{pid}");
                let Ok(dir) = open_dir_at(&self.proc_fd, &self.path) else {
                    continue;
                };
                if read_record_at(&dir, "stat", &mut self.buf).is_err() {
                    continue;
                }
                Some(dir)
            } else {
                let _ = write!(self.path, "{pid}/stat");
                if read_record_at(&self.proc_fd, &self.path, &mut self.buf).is_err() {
                    continue;
                }
                None
            };
            if let Some(st) = stat::parse(&self.buf) {
                self.nodes.push(Node {
                    pid: st.pid,
                    ppid: st.ppid,
                    pgrp: st.pgrp,
                    starttime: st.starttime,
                    exited: st.has_exited(),
                });
                let from = self.comms.len();
                self.comms
                    .extend_from_slice(&self.buf[st.comm.0..st.comm.1]);
                self.scanned.push(Scanned {
                    ino,
                    rss_pages: st.rss_pages,
                    threads: st.threads,
                    comm: (from, self.comms.len()),
                    dir,
                });
            }
        }
        Ok(())
    }

    /// Decide, per member, whether this sample reads its `smaps_rollup` (see [`crate::schedule`]).
    fn plan_smaps(&mut self) {
        self.sample_no += 1;
        self.refresh.clear();
        self.refresh.resize(self.members.len(), true);
        let Some(budget) = &mut self.budget else {
            return;
        };
        budget.refill(Instant::now());
        let mut candidates = Vec::new();
        let mut member_of = Vec::new();
        for (k, &i) in self.members.iter().enumerate() {
            let node = &self.nodes[i];
            if let Some(m) = self.memos.get(&node.pid)
                && m.starttime == node.starttime
            {
                candidates.push((m.last_read, m.cost_s));
                member_of.push(k);
                self.refresh[k] = false;
            }
        }
        let mut chosen = Vec::new();
        schedule::choose(&candidates, budget.available(), &mut chosen);
        for c in chosen {
            self.refresh[member_of[c]] = true;
        }
    }

    /// Read `smaps_rollup` through `dir` and remember the result. `None` when the process
    /// turned out to have exited.
    fn read_smaps(&mut self, dir: &OwnedFd, pid: u32, starttime: u64) -> Option<()> {
        let cpu0 = thread_cpu_s();
        let res = read_record_at(dir, "smaps_rollup", &mut self.buf);
        let cost_s = thread_cpu_s() - cpu0;
        if let Some(b) = &mut self.budget {
            b.spend(cost_s);
        }
        let mut memo = SmapsMemo {
            starttime,
            pss: None,
            uss: None,
            cost_s,
            last_read: self.sample_no,
            denied: None,
        };
        match res {
            Ok(()) => {
                let r = smaps_rollup::parse(&self.buf);
                memo.pss = r.pss.map(|b| b as f64);
                memo.uss = r.uss.map(|b| b as f64);
            }
            // ESRCH also means "no address space" (kernel thread); only drop it if it exited.
            Err(e) if is_gone(e) => {
                if !self.alive(dir, starttime) {
                    return None;
                }
            }
            Err(e) => memo.denied = Some(failed(pid, "smaps_rollup", e)),
        }
        self.memos.insert(pid, memo);
        Some(())
    }

    /// Step 2 for one process. `None` when it exited (or its PID was reused) meanwhile.
    fn read_process(
        &mut self,
        i: usize,
        refresh_smaps: bool,
        unreadable: &mut Vec<(u32, String)>,
    ) -> Option<Found> {
        let node = self.nodes[i];
        let pid = node.pid;
        // Through the directory descriptor every later read refers to this very process: if it
        // exits, reads fail with ENOENT/ESRCH even when the PID is reused.
        let (dir, rss_pages, threads, comm) = match self.scanned[i].dir.take() {
            // Opened by the scan, which read `stat` through it.
            Some(dir) => {
                let s = &self.scanned[i];
                let comm = String::from_utf8_lossy(&self.comms[s.comm.0..s.comm.1]).into_owned();
                (dir, s.rss_pages, s.threads, comm)
            }
            // New in the tree: open it now and check it is still the process the scan saw.
            None => {
                self.path.clear();
                let _ = write!(self.path, "{pid}");
                let dir = open_dir_at(&self.proc_fd, &self.path).ok()?;
                read_record_at(&dir, "stat", &mut self.buf).ok()?;
                let st = stat::parse(&self.buf)?;
                if st.starttime != node.starttime || st.has_exited() {
                    return None;
                }
                let comm = String::from_utf8_lossy(&self.buf[st.comm.0..st.comm.1]).into_owned();
                (dir, st.rss_pages, st.threads, comm)
            }
        };
        if node.exited {
            return None;
        }
        let st_ppid = node.ppid;
        let mut c = Counters::default();
        c.set(Metric::RssBytes, rss_pages as f64 * self.page_size);
        c.set(Metric::Threads, threads as f64);
        c.set(Metric::Processes, 1.0);

        match read_record_at(&dir, "status", &mut self.buf) {
            Ok(()) => {
                let m = status::parse(&self.buf);
                c.set_opt(Metric::AnonBytes, m.anon.map(|b| b as f64));
                c.set_opt(Metric::SwapBytes, m.swap.map(|b| b as f64));
            }
            Err(e) if is_gone(e) => return None,
            Err(e) => unreadable.push((pid, failed(pid, "status", e))),
        }

        if refresh_smaps {
            self.read_smaps(&dir, pid, node.starttime)?;
        }
        if let Some(m) = self.memos.get(&pid) {
            c.set_opt(Metric::PssBytes, m.pss);
            c.set_opt(Metric::UssBytes, m.uss);
            if let Some(why) = &m.denied {
                unreadable.push((pid, why.clone()));
            }
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
        let net = has_sockets.then(|| self.netns(&dir, pid, node.starttime));

        Some(Found {
            sample: ProcessSample {
                pid,
                ppid: st_ppid,
                comm,
                counters: c,
            },
            sockets,
            net,
        })
    }

    /// The network namespace of a process with sockets, re-read every [`NETNS_REFRESH`]
    /// samples (moving to another namespace is rare: `setns`, `unshare`).
    fn netns(&mut self, dir: &OwnedFd, pid: u32, starttime: u64) -> NetKey {
        if let Some(&(start, key, at)) = self.netns_memo.get(&pid)
            && start == starttime
            && self.sample_no - at < NETNS_REFRESH
        {
            return key;
        }
        let key = netns_of(dir, "ns/net").map_or(NetKey::Pid(pid), NetKey::Ns);
        self.netns_memo
            .insert(pid, (starttime, key, self.sample_no));
        key
    }

    /// Whether the process behind `dir` is still the one that started at `starttime` and has not
    /// exited.
    fn alive(&mut self, dir: &OwnedFd, starttime: u64) -> bool {
        read_record_at(dir, "stat", &mut self.buf).is_ok()
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
            if key == NetKey::Ns(self.own_netns.unwrap_or(0))
                && net::diag_dump(&self.wanted, &mut self.states, &mut self.buf).is_ok()
            {
                ok.insert(key);
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

/// CPU time of the calling thread, in seconds.
fn thread_cpu_s() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

/// The network namespace inode behind the `ns/net` link at `path` (relative to `dir`).
fn netns_of<Fd: AsFd>(dir: Fd, path: &str) -> Option<u64> {
    let mut link = [0u8; 64];
    let n = rustix::fs::readlinkat_raw(dir, path, &mut link[..]).ok()?;
    bracketed_inode(&link[..n.min(link.len())], b"net:")
}

/// The message for a file we could not read.
fn failed(pid: u32, what: &str, e: Errno) -> String {
    format!(
        "failed to read {PROC}/{pid}/{what}: {}",
        std::io::Error::from(e)
    )
}
