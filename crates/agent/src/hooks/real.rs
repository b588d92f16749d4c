//! The real allocator functions, resolved with `dlsym(RTLD_NEXT)` so allocator chains
//! (`LD_PRELOAD=libjemalloc.so:agent.so`) keep working. Until resolution (or when it finds
//! nothing, or finds us) calls go to glibc's exported `__libc_*` entry points.

use libc::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

unsafe extern "C" {
    fn __libc_malloc(n: usize) -> *mut c_void;
    fn __libc_calloc(n: usize, s: usize) -> *mut c_void;
    fn __libc_realloc(p: *mut c_void, n: usize) -> *mut c_void;
    fn __libc_free(p: *mut c_void);
    fn __libc_memalign(a: usize, n: usize) -> *mut c_void;
    fn __libc_valloc(n: usize) -> *mut c_void;
    fn __libc_pvalloc(n: usize) -> *mut c_void;
}

static MALLOC: AtomicUsize = AtomicUsize::new(0);
static CALLOC: AtomicUsize = AtomicUsize::new(0);
static REALLOC: AtomicUsize = AtomicUsize::new(0);
static REALLOCARRAY: AtomicUsize = AtomicUsize::new(0);
static FREE: AtomicUsize = AtomicUsize::new(0);
static POSIX_MEMALIGN: AtomicUsize = AtomicUsize::new(0);
static ALIGNED_ALLOC: AtomicUsize = AtomicUsize::new(0);
static MEMALIGN: AtomicUsize = AtomicUsize::new(0);
static VALLOC: AtomicUsize = AtomicUsize::new(0);
static PVALLOC: AtomicUsize = AtomicUsize::new(0);
static EXIT: AtomicUsize = AtomicUsize::new(0);

pub(super) fn lookup(name: &std::ffi::CStr, ours: usize, slot: &AtomicUsize) {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name; called only during
    // initialisation, with no agent lock held (its calloc is served by the bootstrap arena).
    let f = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    if f != 0 && f != ours {
        slot.store(f, Ordering::Release);
    }
}

/// Resolves every original. Safe to call more than once.
pub fn resolve() {
    use super::malloc as m;
    lookup(c"malloc", m::malloc as *const () as usize, &MALLOC);
    lookup(c"calloc", m::calloc as *const () as usize, &CALLOC);
    lookup(c"realloc", m::realloc as *const () as usize, &REALLOC);
    lookup(
        c"reallocarray",
        m::reallocarray as *const () as usize,
        &REALLOCARRAY,
    );
    lookup(c"free", m::free as *const () as usize, &FREE);
    lookup(
        c"posix_memalign",
        m::posix_memalign as *const () as usize,
        &POSIX_MEMALIGN,
    );
    lookup(
        c"aligned_alloc",
        m::aligned_alloc as *const () as usize,
        &ALIGNED_ALLOC,
    );
    lookup(c"memalign", m::memalign as *const () as usize, &MEMALIGN);
    lookup(c"valloc", m::valloc as *const () as usize, &VALLOC);
    lookup(c"pvalloc", m::pvalloc as *const () as usize, &PVALLOC);
    lookup(c"_exit", super::exit::_exit as *const () as usize, &EXIT);
    super::cxx::resolve();
    super::mmap::resolve();
    super::exec::resolve();
}

macro_rules! get {
    ($slot:ident, $ty:ty) => {{
        let f = $slot.load(Ordering::Relaxed);
        if f == 0 {
            None
        } else {
            // SAFETY: f was returned by dlsym for this symbol name, whose C signature is $ty.
            Some(unsafe { std::mem::transmute::<usize, $ty>(f) })
        }
    }};
}

/// Real `malloc`.
#[inline(always)]
pub(crate) fn malloc(n: usize) -> *mut c_void {
    match get!(MALLOC, unsafe extern "C" fn(usize) -> *mut c_void) {
        // SAFETY: calling the real allocator with the caller's arguments.
        Some(f) => unsafe { f(n) },
        // SAFETY: glibc's internal entry point, same contract as malloc.
        None => unsafe { __libc_malloc(n) },
    }
}

/// Real `calloc`.
#[inline(always)]
pub(crate) fn calloc(n: usize, s: usize) -> *mut c_void {
    match get!(CALLOC, unsafe extern "C" fn(usize, usize) -> *mut c_void) {
        // SAFETY: as in malloc.
        Some(f) => unsafe { f(n, s) },
        // SAFETY: as in malloc.
        None => unsafe { __libc_calloc(n, s) },
    }
}

/// Real `realloc`. `p` must come from the real allocator (or be null).
#[inline(always)]
pub(crate) fn realloc(p: *mut c_void, n: usize) -> *mut c_void {
    match get!(
        REALLOC,
        unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void
    ) {
        // SAFETY: p is the target's pointer from the real allocator, passed through.
        Some(f) => unsafe { f(p, n) },
        // SAFETY: as above.
        None => unsafe { __libc_realloc(p, n) },
    }
}

/// Real `reallocarray` (emulated with an overflow check when absent).
#[inline(always)]
pub(crate) fn reallocarray(p: *mut c_void, n: usize, s: usize) -> *mut c_void {
    match get!(
        REALLOCARRAY,
        unsafe extern "C" fn(*mut c_void, usize, usize) -> *mut c_void
    ) {
        // SAFETY: as in realloc.
        Some(f) => unsafe { f(p, n, s) },
        None => match n.checked_mul(s) {
            Some(total) => realloc(p, total),
            None => {
                super::sys::set_errno(libc::ENOMEM);
                std::ptr::null_mut()
            }
        },
    }
}

/// Real `free`. `p` must come from the real allocator (or be null).
#[inline(always)]
pub(crate) fn free(p: *mut c_void) {
    match get!(FREE, unsafe extern "C" fn(*mut c_void)) {
        // SAFETY: p is the target's pointer, passed through.
        Some(f) => unsafe { f(p) },
        // SAFETY: as above.
        None => unsafe { __libc_free(p) },
    }
}

/// Real `posix_memalign`.
#[inline(always)]
pub(crate) fn posix_memalign(out: *mut *mut c_void, align: usize, n: usize) -> i32 {
    match get!(
        POSIX_MEMALIGN,
        unsafe extern "C" fn(*mut *mut c_void, usize, usize) -> i32
    ) {
        // SAFETY: arguments passed through from the target's call.
        Some(f) => unsafe { f(out, align, n) },
        None => {
            if !align.is_power_of_two() || !align.is_multiple_of(size_of::<usize>()) {
                return libc::EINVAL;
            }
            // SAFETY: valid power-of-two alignment.
            let p = unsafe { __libc_memalign(align, n) };
            if p.is_null() {
                return libc::ENOMEM;
            }
            // SAFETY: `out` is the target's out-pointer, which posix_memalign writes.
            unsafe { out.write(p) };
            0
        }
    }
}

/// Real `aligned_alloc`.
#[inline(always)]
pub(crate) fn aligned_alloc(align: usize, n: usize) -> *mut c_void {
    match get!(
        ALIGNED_ALLOC,
        unsafe extern "C" fn(usize, usize) -> *mut c_void
    ) {
        // SAFETY: arguments passed through.
        Some(f) => unsafe { f(align, n) },
        None => {
            if !align.is_power_of_two() {
                super::sys::set_errno(libc::EINVAL);
                return std::ptr::null_mut();
            }
            // SAFETY: valid alignment.
            unsafe { __libc_memalign(align, n) }
        }
    }
}

/// Real `memalign`.
#[inline(always)]
pub(crate) fn memalign(align: usize, n: usize) -> *mut c_void {
    match get!(MEMALIGN, unsafe extern "C" fn(usize, usize) -> *mut c_void) {
        // SAFETY: arguments passed through.
        Some(f) => unsafe { f(align, n) },
        // SAFETY: glibc's memalign accepts any alignment (it rounds up).
        None => unsafe { __libc_memalign(align, n) },
    }
}

/// Real `valloc`.
#[inline(always)]
pub(crate) fn valloc(n: usize) -> *mut c_void {
    match get!(VALLOC, unsafe extern "C" fn(usize) -> *mut c_void) {
        // SAFETY: arguments passed through.
        Some(f) => unsafe { f(n) },
        // SAFETY: as above.
        None => unsafe { __libc_valloc(n) },
    }
}

/// Real `pvalloc`.
#[inline(always)]
pub(crate) fn pvalloc(n: usize) -> *mut c_void {
    match get!(PVALLOC, unsafe extern "C" fn(usize) -> *mut c_void) {
        // SAFETY: arguments passed through.
        Some(f) => unsafe { f(n) },
        // SAFETY: as above.
        None => unsafe { __libc_pvalloc(n) },
    }
}

/// Real `_exit`.
pub(crate) fn exit_now(status: i32) -> ! {
    if let Some(f) = get!(EXIT, unsafe extern "C" fn(i32) -> !) {
        // SAFETY: terminating the process with the target's status.
        unsafe { f(status) }
    }
    // SAFETY: exit_group never returns and has no preconditions.
    unsafe {
        libc::syscall(libc::SYS_exit_group, status);
    }
    loop {
        std::hint::spin_loop();
    }
}
