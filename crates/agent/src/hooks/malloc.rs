//! The interposed malloc family.
//!
//! Each allocating entry point is a naked trampoline that passes its entry stack pointer (the
//! address of the caller's return address) and the caller's frame pointer (`rbp` at entry) as
//! two extra arguments to its Rust
//! implementation, so the stack walk starts exactly at the allocating function whatever code
//! rustc generates for the hook itself.

use super::real;
use crate::aggregate::Tables;
use crate::arena;
use crate::init::{self, Config, INITIALIZING, READY};
use crate::tls::{FLAG_BOUNDS, Tls};
use crate::unwind::{MAX_FRAMES, dwarf, fp};
use leakhound_agent_format::events::EventKind;
use libc::c_void;
use std::mem::MaybeUninit;

/// What a hook should do with this call.
pub(super) enum Route {
    /// Serve from the bootstrap arena (the initialising thread, before resolution finished).
    Bootstrap,
    /// Pass through untraced (disabled, or re-entered from inside the agent).
    Real,
    /// Trace it; the guard is set and must be cleared with `leave`.
    Track(Tls, &'static Tables, &'static Config),
}

#[inline(always)]
pub(super) fn route() -> Route {
    match init::ensure() {
        READY => {
            let tls = Tls::current();
            if tls.guard() != 0 {
                return Route::Real;
            }
            match (init::tables(), init::config()) {
                (Some(t), Some(c)) => {
                    tls.set_guard(1);
                    Route::Track(tls, t, c)
                }
                _ => Route::Real,
            }
        }
        INITIALIZING => Route::Bootstrap,
        _ => Route::Real,
    }
}

/// Sampled mode's fast path for an allocation of `size` bytes: true when it is certainly not
/// sampled, after counting it against the thread's countdown. The caller then passes the call
/// straight to the real allocator: no guard, no lock, no stack walk. False sends the call down
/// the full path (which, for a sampled allocation, counts it itself).
#[inline(always)]
fn unsampled(size: usize) -> bool {
    if init::sampled_tables().is_none() {
        return false;
    }
    let tls = Tls::current();
    if tls.guard() != 0 || tls.rng() == 0 {
        return false;
    }
    let left = tls.until_sample() - size as i64;
    if left <= 0 {
        return false;
    }
    tls.set_until_sample(left);
    true
}

/// Sampled mode's fast path for a free of `p`: true when the live-map filter proves `p` was
/// never sampled.
#[inline(always)]
fn untracked(p: *mut c_void) -> bool {
    init::sampled_tables().is_some_and(|t| !t.may_be_live(p as usize))
}

#[inline(always)]
pub(super) fn leave(tls: Tls) {
    tls.set_guard(0);
}

#[inline(always)]
pub(super) fn weights(cfg: &Config, size: usize) -> (u64, u64) {
    if cfg.sampled {
        crate::sample::weights(size, cfg.mean)
    } else {
        (size as u64, 1)
    }
}

#[cold]
fn compute_stack_hi(tls: Tls) -> u64 {
    let hi = super::sys::thread_stack_hi();
    tls.set_stack_hi(hi);
    tls.assign_shard();
    tls.set_flags(tls.flags() | FLAG_BOUNDS);
    hi
}

/// Walks the caller's stack from (`sp`, `fpv`) and interns it; `sp` is the hook's entry stack
/// pointer (it points at the return address into the caller).
#[inline(always)]
pub(super) fn stack_id(tls: Tls, t: &Tables, sp: u64, fpv: u64) -> u32 {
    let hi = if tls.flags() & FLAG_BOUNDS != 0 {
        tls.stack_hi()
    } else {
        compute_stack_hi(tls)
    };
    // Left uninitialised: the walk writes the frames it returns (zeroing 512 bytes per
    // allocation was ~5 % of the agent's instructions in callgrind).
    let mut frames = [const { MaybeUninit::<u64>::uninit() }; MAX_FRAMES];
    let lo = &raw const frames as u64;
    let ra = fp::return_address(sp);
    let (n, h) = if dwarf::enabled() {
        dwarf::walk(ra, sp + 8, fpv, lo, hi, &mut frames, tls.shard())
    } else {
        fp::walk(ra, fpv, lo, hi, &mut frames)
    };
    // SAFETY: both walkers write frames[0..n] and return n <= MAX_FRAMES.
    t.intern_hashed(h, unsafe { &*(&raw const frames[..n] as *const [u64]) })
}

/// Records a new block `p` of `size` bytes allocated by the caller at (`sp`, `fp`).
#[inline(always)]
pub(super) fn record(
    tls: Tls,
    t: &Tables,
    cfg: &Config,
    p: *mut c_void,
    size: usize,
    sp: u64,
    fpv: u64,
) {
    if p.is_null() {
        return;
    }
    if cfg.sampled && !crate::sample::take(tls, size, cfg.mean, cfg.seed) {
        return;
    }
    t.live_prefetch(p as usize);
    let id = stack_id(tls, t, sp, fpv);
    let (b, k) = weights(cfg, size);
    t.add_alloc(id, b, k);
    // `cfg.events` first: a field of the config already at hand, not another OnceLock probe.
    if cfg.events
        && let Some(ev) = init::events()
    {
        ev.push(EventKind::Alloc, p as u64, size as u64, id);
    }
    if let Some((old_size, old_id)) = t.live_insert(p as usize, size, id) {
        let (b, k) = weights(cfg, old_size);
        t.sub_live(old_id, b, k);
    }
}

/// Forgets block `p` (about to be freed or moved).
#[inline(always)]
fn unrecord(t: &Tables, cfg: &Config, p: *mut c_void) -> Option<(usize, u32)> {
    let (size, id) = t.live_remove(p as usize)?;
    let (b, k) = weights(cfg, size);
    t.sub_live(id, b, k);
    if cfg.events
        && let Some(ev) = init::events()
    {
        ev.push(EventKind::Free, p as u64, size as u64, id);
    }
    Some((size, id))
}

/// Defines a naked exported entry point that appends (entry stack pointer, frame pointer) to the
/// arguments and jumps to the implementation.
macro_rules! trampoline {
    ($(#[$m:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty, $imp:ident, $ra:literal, $fp:literal) => {
        $(#[$m])*
        #[unsafe(naked)]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> $ret {
            core::arch::naked_asm!(
                concat!("mov ", $ra, ", rsp"),
                concat!("mov ", $fp, ", rbp"),
                "jmp {f}",
                f = sym $imp,
            )
        }
    };
}

pub(super) use trampoline;

trampoline!(
    /// Interposed `malloc`.
    malloc(size: usize) -> *mut c_void, malloc_impl, "rsi", "rdx"
);
trampoline!(
    /// Interposed `calloc`.
    calloc(n: usize, size: usize) -> *mut c_void, calloc_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `realloc`.
    realloc(p: *mut c_void, size: usize) -> *mut c_void, realloc_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `reallocarray`.
    reallocarray(p: *mut c_void, n: usize, size: usize) -> *mut c_void, reallocarray_impl, "rcx", "r8"
);
trampoline!(
    /// Interposed `posix_memalign`.
    posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> i32, posix_memalign_impl, "rcx", "r8"
);
trampoline!(
    /// Interposed `aligned_alloc`.
    aligned_alloc(align: usize, size: usize) -> *mut c_void, aligned_alloc_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `memalign`.
    memalign(align: usize, size: usize) -> *mut c_void, memalign_impl, "rdx", "rcx"
);
trampoline!(
    /// Interposed `valloc`.
    valloc(size: usize) -> *mut c_void, valloc_impl, "rsi", "rdx"
);
trampoline!(
    /// Interposed `pvalloc`.
    pvalloc(size: usize) -> *mut c_void, pvalloc_impl, "rsi", "rdx"
);

// The fast paths below stay small (a tail call into the real allocator, no register saves):
// everything that needs a stack frame lives in the `#[inline(never)]` slow halves.

extern "C" fn malloc_impl(size: usize, sp: u64, fpv: u64) -> *mut c_void {
    if unsampled(size) {
        return real::malloc(size);
    }
    malloc_slow(size, sp, fpv)
}

#[inline(never)]
fn malloc_slow(size: usize, sp: u64, fpv: u64) -> *mut c_void {
    match route() {
        Route::Bootstrap => arena::bootstrap_alloc(size, 16).cast(),
        Route::Real => real::malloc(size),
        Route::Track(tls, t, c) => {
            let p = real::malloc(size);
            record(tls, t, c, p, size, sp, fpv);
            leave(tls);
            p
        }
    }
}

extern "C" fn calloc_impl(n: usize, size: usize, sp: u64, fpv: u64) -> *mut c_void {
    if n.checked_mul(size).is_some_and(unsampled) {
        return real::calloc(n, size);
    }
    calloc_slow(n, size, sp, fpv)
}

#[inline(never)]
fn calloc_slow(n: usize, size: usize, sp: u64, fpv: u64) -> *mut c_void {
    match route() {
        Route::Bootstrap => match n.checked_mul(size) {
            Some(total) => arena::bootstrap_alloc(total, 16).cast(),
            None => std::ptr::null_mut(),
        },
        Route::Real => real::calloc(n, size),
        Route::Track(tls, t, c) => {
            let p = real::calloc(n, size);
            record(tls, t, c, p, n.wrapping_mul(size), sp, fpv);
            leave(tls);
            p
        }
    }
}

/// Moves a bootstrap-arena block into a fresh real block of `size` bytes.
#[cold]
fn realloc_from_bootstrap(p: *mut c_void, size: usize) -> *mut c_void {
    let q = malloc_impl(size, 0, 0);
    if !q.is_null() {
        let n = size.min(arena::bootstrap_tail(p as usize));
        // SAFETY: p has at least n readable bytes up to the arena end, q has `size` >= n bytes,
        // and the regions are distinct (q does not come from the arena unless bootstrapping,
        // where the bump allocator hands out fresh, non-overlapping ranges).
        unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), q.cast::<u8>(), n) };
    }
    q
}

fn realloc_common(
    p: *mut c_void,
    size: usize,
    sp: u64,
    fpv: u64,
    call: impl FnOnce() -> *mut c_void,
) -> *mut c_void {
    if !p.is_null() && arena::in_bootstrap(p as usize) {
        return realloc_from_bootstrap(p, size);
    }
    if (p.is_null() || untracked(p)) && unsampled(size) {
        return call();
    }
    match route() {
        Route::Bootstrap => {
            if p.is_null() {
                arena::bootstrap_alloc(size, 16).cast()
            } else {
                call()
            }
        }
        Route::Real => call(),
        Route::Track(tls, t, c) => {
            let old = if p.is_null() {
                None
            } else {
                t.live_remove(p as usize)
            };
            let q = call();
            if q.is_null() && size != 0 {
                // Failed: the old block is still live and unchanged.
                if let Some((osize, oid)) = old {
                    t.live_insert(p as usize, osize, oid);
                }
            } else {
                if let Some((osize, oid)) = old {
                    let (b, k) = weights(c, osize);
                    t.sub_live(oid, b, k);
                    if c.events
                        && let Some(ev) = init::events()
                    {
                        ev.push(EventKind::Free, p as u64, osize as u64, oid);
                    }
                }
                record(tls, t, c, q, size, sp, fpv);
            }
            leave(tls);
            q
        }
    }
}

extern "C" fn realloc_impl(p: *mut c_void, size: usize, sp: u64, fpv: u64) -> *mut c_void {
    realloc_common(p, size, sp, fpv, || real::realloc(p, size))
}

extern "C" fn reallocarray_impl(
    p: *mut c_void,
    n: usize,
    size: usize,
    sp: u64,
    fpv: u64,
) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        super::sys::set_errno(libc::ENOMEM);
        return std::ptr::null_mut();
    };
    realloc_common(p, total, sp, fpv, || real::reallocarray(p, n, size))
}

fn aligned_common(
    size: usize,
    align: usize,
    sp: u64,
    fpv: u64,
    call: impl FnOnce() -> *mut c_void,
) -> *mut c_void {
    match route() {
        Route::Bootstrap => arena::bootstrap_alloc(size, align).cast(),
        Route::Real => call(),
        Route::Track(tls, t, c) => {
            let p = call();
            record(tls, t, c, p, size, sp, fpv);
            leave(tls);
            p
        }
    }
}

extern "C" fn posix_memalign_impl(
    out: *mut *mut c_void,
    align: usize,
    size: usize,
    sp: u64,
    fpv: u64,
) -> i32 {
    match route() {
        Route::Bootstrap => {
            let p = arena::bootstrap_alloc(size, align);
            if p.is_null() {
                return libc::ENOMEM;
            }
            // SAFETY: `out` is the caller's out-pointer, which posix_memalign must write.
            unsafe { out.write(p.cast()) };
            0
        }
        Route::Real => real::posix_memalign(out, align, size),
        Route::Track(tls, t, c) => {
            let rc = real::posix_memalign(out, align, size);
            if rc == 0 {
                // SAFETY: on success the real posix_memalign wrote the block into *out.
                let p = unsafe { out.read() };
                record(tls, t, c, p, size, sp, fpv);
            }
            leave(tls);
            rc
        }
    }
}

extern "C" fn aligned_alloc_impl(align: usize, size: usize, sp: u64, fpv: u64) -> *mut c_void {
    aligned_common(size, align, sp, fpv, || real::aligned_alloc(align, size))
}

extern "C" fn memalign_impl(align: usize, size: usize, sp: u64, fpv: u64) -> *mut c_void {
    aligned_common(size, align, sp, fpv, || real::memalign(align, size))
}

/// Page size assumed for `valloc`/`pvalloc` in the bootstrap arena only.
const BOOTSTRAP_PAGE: usize = 4096;

extern "C" fn valloc_impl(size: usize, sp: u64, fpv: u64) -> *mut c_void {
    aligned_common(size, BOOTSTRAP_PAGE, sp, fpv, || real::valloc(size))
}

extern "C" fn pvalloc_impl(size: usize, sp: u64, fpv: u64) -> *mut c_void {
    aligned_common(size, BOOTSTRAP_PAGE, sp, fpv, || real::pvalloc(size))
}

/// Interposed `free`.
#[unsafe(no_mangle)]
pub extern "C" fn free(p: *mut c_void) {
    if p.is_null() || arena::in_bootstrap(p as usize) {
        return;
    }
    if untracked(p) {
        real::free(p);
        return;
    }
    free_slow(p);
}

#[inline(never)]
fn free_slow(p: *mut c_void) {
    match route() {
        Route::Bootstrap | Route::Real => real::free(p),
        Route::Track(tls, t, c) => {
            // The allocator's own first loads in `free` are the block's header word and its
            // first words (the size, then the free-list link it writes): start them now so their
            // cache miss overlaps the live-map lookup's instead of following it.
            arena::prefetch((p as u64).wrapping_sub(8));
            unrecord(t, c, p);
            real::free(p);
            leave(tls);
        }
    }
}
