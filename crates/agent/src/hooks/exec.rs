//! `exec` and `dlclose` hooks.
//!
//! `exec` replaces the process image without running `atexit` handlers: the hooks write the
//! image's final snapshot and end record first. The new image keeps the pid and, through the
//! inherited `LD_PRELOAD`, gets its own agent, which writes `<pid>-1.lhev` next to `<pid>.lhev`
//! (see `writer::open_file`). When `exec` fails the program goes on, and so does tracing, in the
//! same file after the end record (readers use the last snapshot). Hooked: `execve`, `execv`, `execvp`, `execvpe` here, and the variadic `execl`,
//! `execlp`, `execle` in `csrc/exec.c` (Rust cannot define C-variadic functions), which call
//! these. glibc's `posix_spawn` and `system` exec in a child through internal calls, which is
//! fine: the child has its own pid and file.
//!
//! `dlclose` may unmap a module whose code allocated between two snapshots; the hook writes a
//! snapshot (with the module map) before the real `dlclose`, so those stacks stay symbolizable.

use super::real::lookup;
use crate::init::{self, READY};
use crate::tls::Tls;
use crate::writer;
use libc::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};

static EXECVE: AtomicUsize = AtomicUsize::new(0);
static EXECV: AtomicUsize = AtomicUsize::new(0);
static EXECVP: AtomicUsize = AtomicUsize::new(0);
static EXECVPE: AtomicUsize = AtomicUsize::new(0);
static DLCLOSE: AtomicUsize = AtomicUsize::new(0);

type Argv = *const *const c_char;

/// Resolves the real functions.
pub fn resolve() {
    lookup(c"execve", execve as *const () as usize, &EXECVE);
    lookup(c"execv", execv as *const () as usize, &EXECV);
    lookup(c"execvp", execvp as *const () as usize, &EXECVP);
    lookup(c"execvpe", execvpe as *const () as usize, &EXECVPE);
    lookup(c"dlclose", dlclose as *const () as usize, &DLCLOSE);
}

/// Runs `call` (the real exec) with the image's data written first; restarts tracing if it
/// returns (exec failed), keeping its errno.
fn around_exec(call: impl FnOnce() -> i32) -> i32 {
    let wrote = if init::state() == READY {
        let tls = Tls::current();
        let old = tls.guard();
        tls.set_guard(1);
        let wrote = writer::before_exec();
        tls.set_guard(old);
        wrote
    } else {
        false
    };
    let r = call();
    if wrote {
        let saved = super::sys::errno();
        let tls = Tls::current();
        let old = tls.guard();
        tls.set_guard(1);
        writer::after_failed_exec();
        tls.set_guard(old);
        super::sys::set_errno(saved);
    }
    r
}

fn missing() -> i32 {
    super::sys::set_errno(libc::ENOSYS);
    -1
}

/// Interposed `execve`.
#[unsafe(no_mangle)]
pub extern "C" fn execve(path: *const c_char, argv: Argv, envp: Argv) -> i32 {
    around_exec(|| match EXECVE.load(Ordering::Acquire) {
        0 => missing(),
        // SAFETY: the real execve; arguments passed through from the program.
        f => unsafe {
            std::mem::transmute::<usize, extern "C" fn(*const c_char, Argv, Argv) -> i32>(f)(
                path, argv, envp,
            )
        },
    })
}

/// Interposed `execv`.
#[unsafe(no_mangle)]
pub extern "C" fn execv(path: *const c_char, argv: Argv) -> i32 {
    around_exec(|| match EXECV.load(Ordering::Acquire) {
        0 => missing(),
        // SAFETY: as in execve.
        f => unsafe {
            std::mem::transmute::<usize, extern "C" fn(*const c_char, Argv) -> i32>(f)(path, argv)
        },
    })
}

/// Interposed `execvp`.
#[unsafe(no_mangle)]
pub extern "C" fn execvp(file: *const c_char, argv: Argv) -> i32 {
    around_exec(|| match EXECVP.load(Ordering::Acquire) {
        0 => missing(),
        // SAFETY: as in execve.
        f => unsafe {
            std::mem::transmute::<usize, extern "C" fn(*const c_char, Argv) -> i32>(f)(file, argv)
        },
    })
}

/// Interposed `execvpe`.
#[unsafe(no_mangle)]
pub extern "C" fn execvpe(file: *const c_char, argv: Argv, envp: Argv) -> i32 {
    around_exec(|| match EXECVPE.load(Ordering::Acquire) {
        0 => missing(),
        // SAFETY: as in execve.
        f => unsafe {
            std::mem::transmute::<usize, extern "C" fn(*const c_char, Argv, Argv) -> i32>(f)(
                file, argv, envp,
            )
        },
    })
}

/// Interposed `dlclose`.
#[unsafe(no_mangle)]
pub extern "C" fn dlclose(handle: *mut libc::c_void) -> i32 {
    if init::state() == READY {
        let saved = super::sys::errno();
        let tls = Tls::current();
        let old = tls.guard();
        tls.set_guard(1);
        writer::before_dlclose();
        tls.set_guard(old);
        super::sys::set_errno(saved);
    }
    let r = match DLCLOSE.load(Ordering::Acquire) {
        0 => -1,
        // SAFETY: the real dlclose with the program's handle.
        f => unsafe {
            std::mem::transmute::<usize, extern "C" fn(*mut libc::c_void) -> i32>(f)(handle)
        },
    };
    if crate::unwind::dwarf::enabled() {
        crate::unwind::dwarf::flush();
    }
    r
}

unsafe extern "C" {
    fn lh_execl();
    fn lh_execlp();
    fn lh_execle();
}

macro_rules! variadic_jump {
    ($(#[$m:meta])* $name:ident => $target:ident) => {
        $(#[$m])*
        #[unsafe(naked)]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name() {
            // Registers, stack arguments and `al` (the vector-register count of a variadic
            // call) are untouched by the jump.
            core::arch::naked_asm!("jmp {f}", f = sym $target)
        }
    };
}

variadic_jump!(
    /// Interposed `execl` (C-variadic; implemented in `csrc/exec.c`).
    execl => lh_execl
);
variadic_jump!(
    /// Interposed `execlp` (C-variadic; implemented in `csrc/exec.c`).
    execlp => lh_execlp
);
variadic_jump!(
    /// Interposed `execle` (C-variadic; implemented in `csrc/exec.c`).
    execle => lh_execle
);
