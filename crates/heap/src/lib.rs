//! Heap dumps for leakhound: read snapshots, build a compact graph, find what grows.
//!
//! It reads V8 `.heapsnapshot` files (plain or gzip) with a streaming reader ([`v8`]), turns
//! them into a CSR graph ([`graph`]) with dominators ([`dominators`]) and retained sizes
//! ([`retained`]), and compares two or more snapshots of one process ([`diff`]). Go pprof heap
//! and goroutine profiles are compared per function / blocking site ([`pprof`]). It does no
//! terminal output and knows nothing about the CLI; rendering lives in the `leakhound` binary.
//! Java HPROF dumps are read into the same graph ([`hprof`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capture;
pub mod diff;
pub mod dominators;
pub mod error;
pub mod fuzzing;
pub mod graph;
pub mod hprof;
pub mod pprof;
mod procinfo;
pub mod retained;
pub mod run_snapshots;
pub mod v8;
mod window;

pub use diff::{
    DiffOptions, DiffReport, Finding, GroupClass, diff_snapshots, diff_snapshots_with_progress,
};
pub use error::HeapError;
pub use graph::HeapGraph;
/// Whether a process runs (not gone, not a zombie waiting to be reaped).
pub use procinfo::is_alive as process_is_alive;

/// Formats a heap dump can have, detected from the first bytes of the (decompressed) content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// A V8 `.heapsnapshot` (JSON whose first key is `snapshot`).
    V8,
    /// A Java HPROF dump (`JAVA PROFILE 1.0.x`).
    Hprof,
    /// A Go pprof profile (gzip-compressed protobuf).
    Pprof,
}

impl DumpFormat {
    /// The format as users know it: "a V8 heap snapshot", "an HPROF dump", "a Go pprof profile".
    pub fn described(self) -> &'static str {
        match self {
            DumpFormat::V8 => "a V8 heap snapshot",
            DumpFormat::Hprof => "an HPROF dump",
            DumpFormat::Pprof => "a Go pprof profile",
        }
    }
}

/// Loads one heap dump of any supported format into a graph.
pub fn load(path: &std::path::Path) -> Result<HeapGraph, HeapError> {
    v8::read_path(path)
}
