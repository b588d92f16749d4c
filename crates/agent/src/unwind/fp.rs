//! Frame-pointer stack walker with stack-bounds checks and no syscalls.
//!
//! On x86-64 with `-fno-omit-frame-pointer`, `[rbp]` holds the caller's `rbp` and `[rbp + 8]` the
//! return address. The walk only dereferences addresses inside `[lo, hi - 16]`, the live part of
//! the current thread's stack, so a garbage `rbp` (a frame without frame pointers) ends the walk
//! instead of faulting.

use std::mem::MaybeUninit;

/// Fills `out` with `ra` followed by the return addresses found by walking from frame pointer
/// `fp`; returns the number of frames written and their [`super::hash_frames`] hash. `lo` is an
/// address in the current frame (the stack's live low end) and `hi` the stack's upper bound
/// (exclusive).
#[inline]
pub fn walk(ra: u64, mut fp: u64, lo: u64, hi: u64, out: &mut [MaybeUninit<u64>]) -> (usize, u64) {
    if out.is_empty() {
        return (0, super::hash_finish(super::HASH_SEED, 0));
    }
    out[0].write(ra);
    let mut h = super::hash_step(super::HASH_SEED, ra);
    let mut n = 1;
    while n < out.len() {
        if fp < lo || fp > hi.saturating_sub(16) || fp & 7 != 0 {
            break;
        }
        // SAFETY: fp lies in [lo, hi - 16] (checked above), the mapped, live part of this
        // thread's stack, and is 8-aligned, so both words are readable.
        let (next, ret) = unsafe {
            let p = fp as *const u64;
            (p.read(), p.add(1).read())
        };
        if ret == 0 {
            break;
        }
        out[n].write(ret);
        h = super::hash_step(h, ret);
        n += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    (n, super::hash_finish(h, n))
}

/// The return address stored at `slot`, the stack pointer a hook trampoline saw at entry.
#[inline(always)]
pub fn return_address(slot: u64) -> u64 {
    // SAFETY: `slot` is the hook's own entry stack pointer (passed by its trampoline): it points
    // at the hook's return address, a live, aligned word of this thread's stack for the whole
    // call.
    unsafe { (slot as *const u64).read() }
}
