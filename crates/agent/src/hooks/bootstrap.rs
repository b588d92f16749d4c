//! Static bump arena for allocations made while the originals are being resolved.
//!
//! `dlsym` calls `calloc` (for its error state) before we know the real `calloc`. Those few
//! blocks come from here; they are never reused. `free` ignores them, `realloc` copies out of
//! them (each block carries its size in a 16-byte header).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Arena size: glibc's dlsym needs well under 1 KiB; 256 KiB leaves room for other libraries'
/// constructors that might allocate before resolution finishes.
const ARENA_BYTES: usize = 256 * 1024;
const HEADER: usize = 16;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: disjoint ranges are handed out through the atomic bump pointer `NEXT`.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_BYTES]));
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn base() -> usize {
    ARENA.0.get() as usize
}

/// Whether `p` was handed out by the arena.
pub(crate) fn contains(p: *mut libc::c_void) -> bool {
    let a = p as usize;
    a >= base() && a < base() + ARENA_BYTES
}

/// A zeroed block of `size` bytes aligned to `align` (a power of two), or null when exhausted.
pub(crate) fn alloc(size: usize, align: usize) -> *mut libc::c_void {
    let align = align.max(HEADER);
    let mut cur = NEXT.load(Ordering::Relaxed);
    loop {
        let start = (base() + cur + HEADER).next_multiple_of(align);
        let Some(end) = start.checked_add(size) else {
            return std::ptr::null_mut();
        };
        if end > base() + ARENA_BYTES {
            crate::log::line("bootstrap arena exhausted while resolving the allocator");
            return std::ptr::null_mut();
        }
        match NEXT.compare_exchange_weak(cur, end - base(), Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => {
                // SAFETY: [start - HEADER, end) lies inside the arena and was reserved for this
                // call alone by the compare-exchange; the header slot is 8-aligned.
                unsafe { ((start - HEADER) as *mut usize).write(size) };
                return start as *mut libc::c_void;
            }
            Err(now) => cur = now,
        }
    }
}

/// The size recorded for an arena block.
pub(crate) fn size_of_block(p: *mut libc::c_void) -> usize {
    // SAFETY: `p` came from `alloc` (callers check `contains`), which wrote the size just below.
    unsafe { ((p as usize - HEADER) as *const usize).read() }
}
