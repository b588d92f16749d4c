//! Integration tests of the `leakhound` binary: real child processes, real files.
//!
//! Each module covers one command. Targets are small python3 programs (python3 is on every
//! machine this project builds on), so the leaks are real allocations and real descriptors.

mod analyze;
mod demo;
mod diff;
mod heap_native;
mod load;
mod prometheus;
mod run;
mod snapshot;
mod snapshots;
mod support;
mod watch;
