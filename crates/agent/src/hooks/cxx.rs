//! C++ `operator new` hooks.
//!
//! libstdc++ is built without frame pointers, so a stack walked from inside `malloc` (called by
//! `operator new`) skips the function that said `new`: its frame pointer is still the one `rbp`
//! holds, but its own return address is only in `operator new`'s frame. Hooking `operator new`
//! itself starts the walk at the function that called it. The real `operator new` still runs
//! (new-handler, `std::bad_alloc`), its inner `malloc` passes through our guard untraced, and a
//! thrown exception unwinds through the `C-unwind` implementation, whose drop guard clears the
//! reentrancy flag. `operator delete` needs no hook: it calls `free`.

use super::malloc::{Route, record, route, trampoline};
use super::real::lookup;
use crate::tls::Tls;
use libc::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEW: AtomicUsize = AtomicUsize::new(0);
static NEW_ARRAY: AtomicUsize = AtomicUsize::new(0);
static NEW_NOTHROW: AtomicUsize = AtomicUsize::new(0);
static NEW_ARRAY_NOTHROW: AtomicUsize = AtomicUsize::new(0);
static NEW_ALIGNED: AtomicUsize = AtomicUsize::new(0);
static NEW_ARRAY_ALIGNED: AtomicUsize = AtomicUsize::new(0);

/// Resolves the real operators (absent in programs without libstdc++).
pub fn resolve() {
    lookup(c"_Znwm", _Znwm as *const () as usize, &NEW);
    lookup(c"_Znam", _Znam as *const () as usize, &NEW_ARRAY);
    lookup(
        c"_ZnwmRKSt9nothrow_t",
        _ZnwmRKSt9nothrow_t as *const () as usize,
        &NEW_NOTHROW,
    );
    lookup(
        c"_ZnamRKSt9nothrow_t",
        _ZnamRKSt9nothrow_t as *const () as usize,
        &NEW_ARRAY_NOTHROW,
    );
    lookup(
        c"_ZnwmSt11align_val_t",
        _ZnwmSt11align_val_t as *const () as usize,
        &NEW_ALIGNED,
    );
    lookup(
        c"_ZnamSt11align_val_t",
        _ZnamSt11align_val_t as *const () as usize,
        &NEW_ARRAY_ALIGNED,
    );
}

/// Clears the reentrancy guard when dropped, also while a C++ exception unwinds.
struct GuardReset(Tls);
impl Drop for GuardReset {
    fn drop(&mut self) {
        self.0.set_guard(0);
    }
}

/// The real operator in `slot` (resolved lazily for a libstdc++ loaded by `dlopen` later).
fn real_of(slot: &AtomicUsize) -> usize {
    let f = slot.load(Ordering::Acquire);
    if f != 0 {
        return f;
    }
    resolve();
    slot.load(Ordering::Acquire)
}

fn fallback(size: usize) -> *mut c_void {
    let p = super::real::malloc(size.max(1));
    if p.is_null() {
        // SAFETY: abort has no preconditions; a throwing operator new is unavailable here.
        unsafe { libc::abort() }
    }
    p
}

fn new_common(
    size: usize,
    arg: usize,
    two: bool,
    slot: &AtomicUsize,
    sp: u64,
    fpv: u64,
) -> *mut c_void {
    let f = real_of(slot);
    let call = || {
        if f == 0 {
            return fallback(size);
        }
        if two {
            // SAFETY: f is the real two-argument operator new (size, nothrow_t& / align_val_t).
            let g = unsafe {
                std::mem::transmute::<usize, extern "C-unwind" fn(usize, usize) -> *mut c_void>(f)
            };
            g(size, arg)
        } else {
            // SAFETY: f is the real one-argument operator new.
            let g = unsafe {
                std::mem::transmute::<usize, extern "C-unwind" fn(usize) -> *mut c_void>(f)
            };
            g(size)
        }
    };
    match route() {
        Route::Track(tls, t, c) => {
            let _reset = GuardReset(tls);
            let p = call();
            record(tls, t, c, p, size, sp, fpv);
            p
        }
        Route::Bootstrap | Route::Real => call(),
    }
}

extern "C-unwind" fn new_impl(size: usize, sp: u64, fpv: u64) -> *mut c_void {
    new_common(size, 0, false, &NEW, sp, fpv)
}
extern "C-unwind" fn new_array_impl(size: usize, sp: u64, fpv: u64) -> *mut c_void {
    new_common(size, 0, false, &NEW_ARRAY, sp, fpv)
}
extern "C-unwind" fn new_nothrow_impl(size: usize, a: usize, sp: u64, fpv: u64) -> *mut c_void {
    new_common(size, a, true, &NEW_NOTHROW, sp, fpv)
}
extern "C-unwind" fn new_array_nothrow_impl(
    size: usize,
    a: usize,
    sp: u64,
    fpv: u64,
) -> *mut c_void {
    new_common(size, a, true, &NEW_ARRAY_NOTHROW, sp, fpv)
}
extern "C-unwind" fn new_aligned_impl(size: usize, a: usize, sp: u64, fpv: u64) -> *mut c_void {
    new_common(size, a, true, &NEW_ALIGNED, sp, fpv)
}
extern "C-unwind" fn new_array_aligned_impl(
    size: usize,
    a: usize,
    sp: u64,
    fpv: u64,
) -> *mut c_void {
    new_common(size, a, true, &NEW_ARRAY_ALIGNED, sp, fpv)
}

trampoline!(
    /// Interposed `operator new(size_t)`.
    _Znwm(size: usize) -> *mut c_void, new_impl, "rsi", "rdx"
);
trampoline!(
    /// Interposed `operator new[](size_t)`.
    _Znam(size: usize) -> *mut c_void, new_array_impl, "rsi", "rdx"
);
trampoline!(
    /// Interposed `operator new(size_t, const std::nothrow_t&)`.
    _ZnwmRKSt9nothrow_t(size: usize, nothrow: usize) -> *mut c_void, new_nothrow_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `operator new[](size_t, const std::nothrow_t&)`.
    _ZnamRKSt9nothrow_t(size: usize, nothrow: usize) -> *mut c_void, new_array_nothrow_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `operator new(size_t, std::align_val_t)`.
    _ZnwmSt11align_val_t(size: usize, align: usize) -> *mut c_void, new_aligned_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `operator new[](size_t, std::align_val_t)`.
    _ZnamSt11align_val_t(size: usize, align: usize) -> *mut c_void, new_array_aligned_impl, "rdx", "rcx"
);
