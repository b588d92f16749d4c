//! Exported symbols (the interposed allocator API, C++ `operator new`, constructor, exit and fork hooks) and the
//! thin OS wrappers the rest of the agent uses. All `unsafe` of the agent outside `tls`, `arena`
//! and `unwind::fp` lives here.

pub mod cxx;
pub mod exec;
pub mod exit;
pub mod malloc;
pub mod mmap;
pub mod real;
pub mod signal;
pub mod sys;
