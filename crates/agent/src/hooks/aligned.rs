//! `posix_memalign`, `aligned_alloc`, `memalign`, `valloc` and `pvalloc`.

use super::{bootstrap, record_alloc, trampoline};
use crate::init;
use std::ffi::{c_int, c_void};

/// Page size assumed while resolving (x86_64 Linux base pages).
const BOOTSTRAP_PAGE: usize = 4096;

trampoline!(
    /// Interposed `posix_memalign(3)`.
    posix_memalign => posix_memalign_impl, "rcx", (out: *mut *mut c_void, align: usize, size: usize) -> c_int
);
trampoline!(
    /// Interposed `aligned_alloc(3)`.
    aligned_alloc => aligned_alloc_impl, "rdx", (align: usize, size: usize) -> *mut c_void
);
trampoline!(
    /// Interposed `memalign(3)`.
    memalign => memalign_impl, "rdx", (align: usize, size: usize) -> *mut c_void
);
trampoline!(
    /// Interposed `valloc(3)`.
    valloc => valloc_impl, "rsi", (size: usize) -> *mut c_void
);
trampoline!(
    /// Interposed `pvalloc(3)`.
    pvalloc => pvalloc_impl, "rsi", (size: usize) -> *mut c_void
);

extern "C" fn posix_memalign_impl(
    out: *mut *mut c_void,
    align: usize,
    size: usize,
    fp: usize,
) -> c_int {
    let Some(real) = init::originals() else {
        if !align.is_power_of_two() || align % size_of::<*mut c_void>() != 0 {
            return libc::EINVAL;
        }
        let p = bootstrap::alloc(size, align);
        if p.is_null() {
            return libc::ENOMEM;
        }
        // SAFETY: `out` is the caller's result slot.
        unsafe { *out = p };
        return 0;
    };
    // SAFETY: forwarding the caller's arguments to the original posix_memalign.
    let rc = unsafe { (real.posix_memalign)(out, align, size) };
    if rc == 0 {
        // SAFETY: on success the original stored the block in `*out`.
        record_alloc(unsafe { *out }, size, fp);
    }
    rc
}

fn bootstrap_aligned(align: usize, size: usize) -> *mut c_void {
    if align.is_power_of_two() {
        bootstrap::alloc(size, align)
    } else {
        std::ptr::null_mut()
    }
}

extern "C" fn aligned_alloc_impl(align: usize, size: usize, fp: usize) -> *mut c_void {
    let Some(real) = init::originals() else {
        return bootstrap_aligned(align, size);
    };
    // SAFETY: forwarding the caller's arguments to the original aligned_alloc.
    let p = unsafe { (real.aligned_alloc)(align, size) };
    record_alloc(p, size, fp);
    p
}

extern "C" fn memalign_impl(align: usize, size: usize, fp: usize) -> *mut c_void {
    let Some(real) = init::originals() else {
        return bootstrap_aligned(align, size);
    };
    // SAFETY: forwarding the caller's arguments to the original memalign.
    let p = unsafe { (real.memalign)(align, size) };
    record_alloc(p, size, fp);
    p
}

extern "C" fn valloc_impl(size: usize, fp: usize) -> *mut c_void {
    let Some(real) = init::originals() else {
        return bootstrap::alloc(size, BOOTSTRAP_PAGE);
    };
    // SAFETY: forwarding the caller's argument to the original valloc.
    let p = unsafe { (real.valloc)(size) };
    record_alloc(p, size, fp);
    p
}

extern "C" fn pvalloc_impl(size: usize, fp: usize) -> *mut c_void {
    let Some(real) = init::originals() else {
        return bootstrap::alloc(size.next_multiple_of(BOOTSTRAP_PAGE), BOOTSTRAP_PAGE);
    };
    // SAFETY: forwarding the caller's argument to the original pvalloc.
    let p = unsafe { (real.pvalloc)(size) };
    record_alloc(p, size, fp);
    p
}
