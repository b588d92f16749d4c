//! leakhound's LD_PRELOAD heap agent.
//!
//! Loaded into a target with `LD_PRELOAD`, it interposes the glibc malloc family, C++
//! `operator new`, and the program's own anonymous `mmap`/`munmap`/`mremap`, attributes every
//! allocation (exact mode) or a Poisson-by-bytes sample of them (sampled mode) to its call
//! stack, keeps per-stack live bytes/blocks in process, and streams periodic delta snapshots to
//! `$LEAKHOUND_OUT/<pid>.lhev` from a writer thread. The last snapshot and an end record are
//! written at `exit`, `_exit`, before `exec`, and when a terminating signal (SIGTERM, SIGINT,
//! `abort`, faults) kills the process; fork children and exec'd images write their own files.
//! It never stops the target: on any internal failure it disables itself, says so once on
//! stderr, and passes calls straight through.
//!
//! Module map: `hooks/` (exported symbols: `malloc`, `cxx`, `mmap`, `exec` (+ `dlclose`),
//! `exit` (constructor, fork), `signal` (terminating signals); `real` (the next definitions),
//! `sys` (OS wrappers)), `init` (state machine and config), `tls` (C-shim thread state), `arena`
//! (mmap-backed memory and locks), `unwind/fp` (frame-pointer walker), `unwind/dwarf` (`.eh_frame` fallback, on by default), `aggregate` (stack table,
//! counters, live map, mapping table), `sample` (Poisson sampler), `writer` (snapshot thread),
//! `events` (optional full event log ring), `log` (raw stderr). Unsafe code is confined to `hooks/`, `tls`, `arena`, `unwind/fp` and `unwind/dwarf`.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

pub mod aggregate;
pub mod arena;
pub mod events;
pub mod hooks;
pub mod init;
pub mod log;
pub mod sample;
pub mod tls;
pub mod unwind;
pub mod writer;
