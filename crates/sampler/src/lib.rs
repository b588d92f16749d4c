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
//! * TCP sockets by state, matching socket inodes with `net/tcp` and `net/tcp6` of the
//!   process's network namespace (read once per namespace per sample).
//!
//! A process that exits while being read is silently dropped from that sample. Everything here
//! is Linux-only and reads plain text from `/proc` with hand-written parsers (see [`fast`]
//! modules), which is several times cheaper than general-purpose `/proc` libraries for the
//! fields we need. This crate does not schedule samples, store them or judge them.

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
