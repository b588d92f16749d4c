//! Samples a process tree from `/proc`: memory, file descriptors, TCP sockets and threads.
//!
//! [`Sampler::new`] fixes the root process; each [`Sampler::sample`] finds the root's current
//! descendants (following children that appear, and processes reparented after their parent
//! exited) and reads, per process:
//!
//! * RSS and threads from `/proc/PID/stat`, anonymous and swapped memory from `status`;
//! * PSS and USS from `/proc/PID/smaps_rollup` (`None` if unreadable), read within a CPU budget
//!   because its cost grows with the process's size (see [`Sampler::set_smaps_budget`]);
//! * descriptors by kind from `/proc/PID/fd/*`;
//! * TCP sockets by state, matching socket inodes against a `NETLINK_SOCK_DIAG` dump of our own
//!   network namespace, or `/proc/PID/net/tcp` and `tcp6` for other namespaces (once per
//!   namespace per sample).
//!
//! A process that exits while being read is silently dropped from that sample. Everything here
//! is Linux-only and reads `/proc` with small hand-written parsers, which costs several times
//! less than a general-purpose `/proc` library for the few fields needed (the cost benchmark,
//! `cargo bench -p leakhound-sampler`, prints the figure). This crate does not schedule
//! samples, store them or judge them.
//!
//! Known limits: TIME_WAIT sockets belong to no descriptor, so `tcp_time_wait` is almost always
//! 0; named FIFOs count as files (their link is a path); a grandchild whose parent exited before
//! any sample saw it cannot be attributed to the tree.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod counters;
mod error;
mod fast;
mod fds;
mod net;
mod read;
mod sampler;
mod schedule;
mod tree;

pub use counters::Counters;
pub use error::SamplerError;
pub use leakhound_core::Metric;
pub use sampler::{ProcessSample, Sampler, TreeSample};
pub use schedule::DEFAULT_SMAPS_BUDGET;
