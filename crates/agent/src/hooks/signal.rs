//! Final snapshot when the process dies by a signal.
//!
//! `leakhound run --duration` ends the target with SIGTERM, users press Ctrl-C, programs
//! `abort()` or crash. None of these run `atexit` handlers, so without help the file would end at
//! the last periodic snapshot, up to one `--heap-interval` early and without the end record.
//!
//! Design (chaining, never swallowing a signal):
//!
//! 1. At start-up (library constructor, after the writer thread runs) the agent installs
//!    [`on_signal`] for each signal of [`WATCHED`] whose disposition is still `SIG_DFL`, i.e.
//!    whose delivery would kill the process. Signals the program ignores or handles itself are
//!    left alone: a program's own handler (installed later, or earlier) replaces ours, and its
//!    `exit()`/`_exit()` is covered by the `atexit` and `_exit` hooks.
//! 2. The handler does only async-signal-safe things: it sets the writer's wake word and wakes it
//!    with `FUTEX_WAKE` ([`crate::writer::request_final`]), then polls with `nanosleep` until the
//!    writer has written the final snapshot and the end record, bounded by [`WAIT_MS`]. It never
//!    takes an agent lock, so a signal that lands inside a hook (holding a live-map shard lock) or
//!    inside the exit path (holding the writer lock) cannot deadlock; at worst it waits out the
//!    bound. The writer thread blocks every signal, so the handler never runs on it.
//! 3. It then restores the original disposition (`SIG_DFL`) and re-raises the signal on the same
//!    thread (`tgkill`). The signal stays blocked until the handler returns, so the process then
//!    dies by the same signal, with the same wait status (and core dump) as without the agent.
//!    For a hardware fault, the faulting instruction would also fault again.
//!
//! A `vfork`ed child shares memory with the parent: the handler checks the pid and does not wake
//! the parent's writer from there. `LEAKHOUND_SIGNALS=0` turns the handlers off.

use super::sys;
use crate::writer;
use std::sync::atomic::{AtomicU32, Ordering};

/// Signals whose default action terminates the process and that a dying program commonly
/// receives: termination requests, `abort()`, faults, broken pipes and timers.
pub const WATCHED: [i32; 12] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGABRT,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGPIPE,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Longest time the handler waits for the final snapshot. Writing it takes milliseconds; the
/// bound only matters when the writer cannot run (e.g. the loader lock is held by the thread the
/// signal interrupted), and then the process dies a little later instead of never.
pub const WAIT_MS: u64 = 2000;

/// Pid that installed the handlers (a `vfork` child has another pid and the same memory).
static OWNER_PID: AtomicU32 = AtomicU32::new(0);

/// Installs [`on_signal`] for every watched signal still at `SIG_DFL`. Call once, from the
/// constructor, after the writer thread started.
pub fn install() {
    if sys::getenv(c"LEAKHOUND_SIGNALS").is_some_and(|v| v == b"0") {
        return;
    }
    OWNER_PID.store(sys::getpid(), Ordering::Relaxed);
    let saved = sys::errno();
    for sig in WATCHED {
        // SAFETY: `old` and `sa` are zero-initialised then filled by sigaction/sigfillset before
        // use; the handler is an `extern "C"` function with the SA_SIGINFO signature.
        unsafe {
            let mut old = std::mem::zeroed::<libc::sigaction>();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut sa = std::mem::zeroed::<libc::sigaction>();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigfillset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    sys::set_errno(saved);
}

/// In a forked child: the handlers (inherited) now serve this process and its new writer.
pub fn set_owner() {
    OWNER_PID.store(sys::getpid(), Ordering::Relaxed);
}

/// Restores `SIG_DFL` for `sig` and raises it again on the calling thread.
fn reraise_default(sig: i32) {
    // SAFETY: sigaction with a zeroed (SIG_DFL, empty mask) action; tgkill to our own thread.
    // All are async-signal-safe system calls.
    unsafe {
        let mut sa = std::mem::zeroed::<libc::sigaction>();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
        let tid = libc::syscall(libc::SYS_gettid);
        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig);
    }
}

extern "C" fn on_signal(sig: i32, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let saved = sys::errno();
    if sys::getpid() == OWNER_PID.load(Ordering::Relaxed) && writer::request_final() {
        let mut waited = 0;
        while !writer::final_written() && waited < WAIT_MS {
            sys::sleep_ms(1);
            waited += 1;
        }
    }
    reraise_default(sig);
    sys::set_errno(saved);
}
