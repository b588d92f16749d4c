//! Memory and locks the agent uses instead of the target's allocator.
//!
//! * [`Region`]: an owned, zero-filled anonymous mapping (`MAP_NORESERVE`, named "leakhound" via
//!   `PR_SET_VMA_ANON_NAME` so RSS accounting can subtract it). Tables are sized for the worst
//!   case up front; only touched pages cost memory.
//! * [`SpinLock`]: a tiny lock with no allocation and no TLS; fork handlers can take and release
//!   it without a guard object.
//! * The bootstrap arena: a static bump buffer that serves `dlsym`'s own `calloc` while the real
//!   allocator is being resolved. Its blocks are never freed.
//! * The crate's `#[global_allocator]`, which calls glibc's `__libc_*` entry points directly:
//!   inside this cdylib `malloc` resolves to our own hook.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Types for which the all-zero bit pattern is a valid value.
///
/// # Safety
/// Implementors must be valid when zero-filled and must not need dropping.
pub unsafe trait Zeroable {}
// SAFETY: integers and atomics are valid at zero and have no drop glue.
unsafe impl Zeroable for u8 {}
// SAFETY: as above.
unsafe impl Zeroable for u16 {}
// SAFETY: as above.
unsafe impl Zeroable for u32 {}
// SAFETY: as above.
unsafe impl Zeroable for u64 {}
// SAFETY: as above.
unsafe impl Zeroable for AtomicU64 {}
// SAFETY: as above.
unsafe impl Zeroable for AtomicU32 {}
// SAFETY: as above.
unsafe impl Zeroable for std::sync::atomic::AtomicU8 {}

/// An owned anonymous mapping of `len` zeroed `T`s, unmapped on drop.
#[derive(Debug)]
pub struct Region<T: Zeroable> {
    ptr: NonNull<T>,
    len: usize,
    _own: PhantomData<T>,
}

// SAFETY: a Region owns its memory exclusively, like a Box<[T]>.
unsafe impl<T: Zeroable + Send> Send for Region<T> {}
// SAFETY: shared access only hands out &[T], which is Sync when T is.
unsafe impl<T: Zeroable + Sync> Sync for Region<T> {}

const VMA_NAME: &[u8] = b"leakhound\0";

/// Asks the CPU to start loading the cache line at `addr` (any address: a prefetch never
/// faults and has no effect the program can observe besides timing).
#[inline(always)]
pub fn prefetch(addr: u64) {
    // SAFETY: PREFETCHT0 only hints the cache; it does not access memory architecturally, so
    // an unmapped or stale address is fine. SSE is part of the x86-64 baseline.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    };
}

impl<T: Zeroable> Region<T> {
    /// Maps `len` zeroed elements; `None` when the kernel refuses.
    pub fn new(len: usize) -> Option<Self> {
        let bytes = len.checked_mul(size_of::<T>())?.max(1);
        // The hooks must not change the target's errno (prctl fails with EINVAL on old kernels).
        let saved = crate::hooks::sys::errno();
        let region = Self::map(len, bytes);
        crate::hooks::sys::set_errno(saved);
        region
    }

    fn map(len: usize, bytes: usize) -> Option<Self> {
        // A raw system call, not libc's `mmap`: inside this library `mmap` resolves to the
        // agent's own hook, and the agent's memory must never show up as the program's.
        // SAFETY: an anonymous private mapping with no address hint has no preconditions.
        let p = unsafe {
            libc::syscall(
                libc::SYS_mmap,
                0usize,
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1i64,
                0usize,
            )
        };
        if p < 0 {
            return None;
        }
        let p = p as *mut libc::c_void;
        // SAFETY: naming a mapping we own; failure (old kernels) is harmless and ignored.
        unsafe {
            libc::prctl(
                libc::PR_SET_VMA,
                libc::PR_SET_VMA_ANON_NAME,
                p as libc::c_ulong,
                bytes as libc::c_ulong,
                VMA_NAME.as_ptr() as libc::c_ulong,
            );
        }
        Some(Self {
            ptr: NonNull::new(p.cast())?,
            len,
            _own: PhantomData,
        })
    }
}

impl<T: Zeroable> Deref for Region<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: ptr..ptr+len is our live mapping, zero-initialised (valid for T: Zeroable).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroable> DerefMut for Region<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref; &mut self guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroable> Drop for Region<T> {
    fn drop(&mut self) {
        let saved = crate::hooks::sys::errno();
        // SAFETY: unmapping exactly the mapping created in `new`; no borrow outlives self.
        unsafe {
            libc::syscall(
                libc::SYS_munmap,
                self.ptr.as_ptr(),
                (self.len * size_of::<T>()).max(1),
            );
        }
        crate::hooks::sys::set_errno(saved);
    }
}

/// A test-and-test-and-set spin lock that yields the CPU while contended.
#[derive(Debug)]
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock serialises all access to `value`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Access to a [`SpinLock`]'s value; unlocks on drop.
#[derive(Debug)]
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> SpinLock<T> {
    /// An unlocked lock.
    pub const fn new(value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock.
    #[inline]
    pub fn lock(&self) -> SpinGuard<'_, T> {
        self.raw_lock();
        SpinGuard { lock: self }
    }

    /// Takes the lock without a guard (fork handlers); pair with [`Self::raw_unlock`].
    pub fn raw_lock(&self) {
        let mut spins = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed)
                && self
                    .locked
                    .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                // SAFETY: sched_yield has no preconditions and does not allocate.
                unsafe {
                    libc::sched_yield();
                }
            }
        }
    }

    /// Releases a lock taken with [`Self::raw_lock`] (or inherited locked across fork).
    pub fn raw_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no other access exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref; &mut self makes this the only reference.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw_unlock();
    }
}

/// Size of the bootstrap arena. `dlsym`'s error buffer and glibc's early allocations need a few
/// hundred bytes; 256 KiB leaves room for a whole allocator chain to bootstrap through it.
const BOOTSTRAP_LEN: usize = 256 * 1024;

#[repr(C, align(64))]
struct Bootstrap(UnsafeCell<[u8; BOOTSTRAP_LEN]>);
// SAFETY: disjoint ranges are handed out by an atomic bump pointer; nothing is shared.
unsafe impl Sync for Bootstrap {}

static BOOTSTRAP: Bootstrap = Bootstrap(UnsafeCell::new([0; BOOTSTRAP_LEN]));
static BOOTSTRAP_TOP: AtomicUsize = AtomicUsize::new(0);

/// Serves `size` bytes aligned to `align` (a power of two, at most 4096) from the bootstrap
/// arena; null when it is exhausted. Memory is zeroed and never reused.
pub fn bootstrap_alloc(size: usize, align: usize) -> *mut u8 {
    let align = align.clamp(16, 4096);
    let base = BOOTSTRAP.0.get() as usize;
    let mut top = BOOTSTRAP_TOP.load(Ordering::Relaxed);
    loop {
        let start = (base + top).next_multiple_of(align) - base;
        let Some(end) = start.checked_add(size.max(1)) else {
            return std::ptr::null_mut();
        };
        if end > BOOTSTRAP_LEN {
            return std::ptr::null_mut();
        }
        match BOOTSTRAP_TOP.compare_exchange(top, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return (base + start) as *mut u8,
            Err(t) => top = t,
        }
    }
}

/// Whether `p` points into the bootstrap arena (such blocks are never passed to the real free).
#[inline]
pub fn in_bootstrap(p: usize) -> bool {
    let base = BOOTSTRAP.0.get() as usize;
    p >= base && p < base + BOOTSTRAP_LEN
}

/// Bytes from `p` to the end of the bootstrap arena (bounds a `realloc` copy out of it).
pub fn bootstrap_tail(p: usize) -> usize {
    let base = BOOTSTRAP.0.get() as usize;
    (base + BOOTSTRAP_LEN).saturating_sub(p)
}

unsafe extern "C" {
    fn __libc_memalign(align: usize, size: usize) -> *mut libc::c_void;
    fn __libc_free(p: *mut libc::c_void);
}

/// The agent's own allocator: glibc's internal entry points, never our hooks.
#[derive(Debug)]
pub struct AgentAlloc;

// SAFETY: forwards to glibc's allocator, which satisfies the GlobalAlloc contract for the
// requested alignment (memalign accepts any power of two).
unsafe impl GlobalAlloc for AgentAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: glibc's memalign accepts any power-of-two alignment and size.
        unsafe { __libc_memalign(layout.align().max(16), layout.size()).cast() }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: ptr came from __libc_memalign in `alloc`.
        unsafe { __libc_free(ptr.cast()) }
    }
}

#[global_allocator]
static GLOBAL: AgentAlloc = AgentAlloc;
