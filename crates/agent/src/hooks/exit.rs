//! Library constructor, exit and fork hooks.
//!
//! The constructor finishes initialisation, registers an `atexit` handler (registered early,
//! so it runs late, after the program's own handlers; the same for `quick_exit`) and
//! `pthread_atfork` handlers, and starts
//! the writer. `_exit`/`_Exit` are hooked so programs that skip `exit` still get their final
//! snapshot. Fork: `prepare` takes every agent lock so the child never inherits a held one; the
//! child opens its own `<pid>.lhev` and starts its own writer. Terminating signals: see
//! [`super::signal`].

use crate::init::{self, READY};
use crate::tls::Tls;
use crate::writer;

extern "C" fn constructor() {
    if init::ensure() != READY {
        return;
    }
    // SAFETY: registering plain extern "C" functions with no captured state.
    unsafe {
        libc::atexit(at_exit);
        // `quick_exit` runs these instead of the `atexit` ones, then ends the process through
        // glibc's internal `_exit`, which the `_exit` hook below does not see.
        at_quick_exit(at_exit);
        libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
    }
    writer::start();
    if init::state() == READY {
        super::signal::install();
    }
}

unsafe extern "C" {
    /// C11 `at_quick_exit` (glibc 2.10 and later; not in the `libc` crate for Linux).
    fn at_quick_exit(f: extern "C" fn()) -> libc::c_int;
}

#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn() = constructor;

extern "C" fn at_exit() {
    finish();
}

fn finish() {
    let tls = Tls::current();
    let old = tls.guard();
    tls.set_guard(1);
    writer::finish();
    tls.set_guard(old);
}

/// Interposed `_exit`: writes the final snapshot, then exits.
#[unsafe(no_mangle)]
pub extern "C" fn _exit(status: i32) -> ! {
    if init::state() == READY {
        finish();
    }
    super::real::exit_now(status)
}

/// Interposed `_Exit` (same as `_exit`).
#[unsafe(no_mangle)]
pub extern "C" fn _Exit(status: i32) -> ! {
    _exit(status)
}

extern "C" fn prepare() {
    writer::lock_for_fork();
    if let Some(t) = init::tables() {
        t.lock_all();
    }
}

extern "C" fn parent() {
    if let Some(t) = init::tables() {
        t.unlock_all();
    }
    writer::unlock_after_fork();
}

extern "C" fn child() {
    if let Some(t) = init::tables() {
        t.unlock_all();
    }
    writer::unlock_after_fork();
    super::signal::set_owner();
    writer::restart_in_child();
}
