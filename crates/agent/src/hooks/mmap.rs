//! Anonymous `mmap`/`munmap`/`mremap` hooks.
//!
//! Programs (and allocators they link statically) that take memory straight from the kernel
//! with `mmap(MAP_PRIVATE | MAP_ANONYMOUS)` get sites like `malloc` callers: the mapping is
//! attributed to the caller's stack, counted in page-rounded bytes, and kept in the mapping table
//! ([`crate::aggregate::Maps`]) until unmapped. `munmap` of part of a mapping trims or splits
//! it; `mremap` moves it (the site stays the one that mapped it); `MAP_FIXED` over a tracked
//! range ends the old mapping. Not tracked: file and shared mappings (not heap), `PROT_NONE`
//! reservations (address space, not memory), and glibc's own `mmap`s inside `malloc`, which use
//! its internal entry point and never reach this hook (the blocks are counted as `malloc`s).
//! The agent maps its own memory with raw system calls, so it never appears here either.
//!
//! `mmap` has six arguments, so its trampoline cannot pass the return address and frame
//! pointer in registers; it builds a frame and passes them on the stack instead.

use super::malloc::{Route, leave, route, stack_id, weights};
use super::real::lookup;
use crate::aggregate::Tables;
use crate::init::Config;
use crate::tls::Tls;
use leakhound_agent_format::events::EventKind;
use libc::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};

static MMAP: AtomicUsize = AtomicUsize::new(0);
static MUNMAP: AtomicUsize = AtomicUsize::new(0);
static MREMAP: AtomicUsize = AtomicUsize::new(0);

/// Kernel page size on x86-64 Linux; lengths are rounded up to it as the kernel does.
const PAGE: u64 = 4096;

fn page_up(len: usize) -> u64 {
    (len as u64).next_multiple_of(PAGE)
}

/// Resolves the real functions (raw system calls until then).
pub fn resolve() {
    lookup(c"mmap", mmap as *const () as usize, &MMAP);
    lookup(c"munmap", munmap as *const () as usize, &MUNMAP);
    lookup(c"mremap", mremap as *const () as usize, &MREMAP);
}

type MmapFn = unsafe extern "C" fn(*mut c_void, usize, i32, i32, i32, i64) -> *mut c_void;
type MunmapFn = unsafe extern "C" fn(*mut c_void, usize) -> i32;
type MremapFn = unsafe extern "C" fn(*mut c_void, usize, usize, i32, *mut c_void) -> *mut c_void;

fn real_mmap(
    addr: *mut c_void,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    off: i64,
) -> *mut c_void {
    let f = MMAP.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: f is libc's (or the next library's) mmap; arguments passed through.
        return unsafe { std::mem::transmute::<usize, MmapFn>(f)(addr, len, prot, flags, fd, off) };
    }
    // SAFETY: the mmap system call with the caller's arguments; libc's syscall() sets errno.
    let r = unsafe { libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd, off) };
    r as *mut c_void
}

fn real_munmap(addr: *mut c_void, len: usize) -> i32 {
    let f = MUNMAP.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: as in real_mmap.
        return unsafe { std::mem::transmute::<usize, MunmapFn>(f)(addr, len) };
    }
    // SAFETY: the munmap system call with the caller's arguments.
    unsafe { libc::syscall(libc::SYS_munmap, addr, len) as i32 }
}

fn real_mremap(
    old: *mut c_void,
    old_len: usize,
    len: usize,
    flags: i32,
    new: *mut c_void,
) -> *mut c_void {
    let f = MREMAP.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: as in real_mmap; `new` is read by mremap only with MREMAP_FIXED.
        return unsafe { std::mem::transmute::<usize, MremapFn>(f)(old, old_len, len, flags, new) };
    }
    // SAFETY: the mremap system call with the caller's arguments.
    unsafe { libc::syscall(libc::SYS_mremap, old, old_len, len, flags, new) as *mut c_void }
}

/// Forgets `[start, start + len)` and moves the counters of the mappings it touched.
fn unrecord_range(t: &Tables, cfg: &Config, start: u64, len: u64) {
    let mut maps = t.maps();
    maps.remove_range(start, start + len, &mut |id, old, rest| {
        let (b, k) = weights(cfg, old as usize);
        t.sub_live(id, b, k);
        if let Some(ev) = crate::init::events() {
            ev.push(EventKind::Unmap, start, old - rest[0] - rest[1], id);
        }
        for piece in rest {
            if piece > 0 {
                let (b, k) = weights(cfg, piece as usize);
                t.add_live(id, b, k);
            }
        }
    });
}

/// Interposed `mmap` (and `mmap64`, the same function on 64-bit glibc): builds a frame, passes
/// the address of the return address (entry stack pointer) and the caller's frame pointer as
/// stack arguments 7 and 8.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    off: i64,
) -> *mut c_void {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "sub rsp, 16",
        "lea rax, [rbp + 8]",
        "mov [rsp], rax",
        "mov rax, [rbp]",
        "mov [rsp + 8], rax",
        "call {f}",
        "leave",
        "ret",
        f = sym mmap_impl,
    )
}

/// Interposed `mmap64`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub extern "C" fn mmap64(
    addr: *mut c_void,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    off: i64,
) -> *mut c_void {
    core::arch::naked_asm!(
        "push rbp",
        "mov rbp, rsp",
        "sub rsp, 16",
        "lea rax, [rbp + 8]",
        "mov [rsp], rax",
        "mov rax, [rbp]",
        "mov [rsp + 8], rax",
        "call {f}",
        "leave",
        "ret",
        f = sym mmap_impl,
    )
}

extern "C" fn mmap_impl(
    addr: *mut c_void,
    len: usize,
    prot: i32,
    flags: i32,
    fd: i32,
    off: i64,
    sp: u64,
    fpv: u64,
) -> *mut c_void {
    let anon_private = flags & libc::MAP_ANONYMOUS != 0
        // The mapping type is a 2-bit field: MAP_SHARED 1, MAP_PRIVATE 2, MAP_SHARED_VALIDATE 3.
        && flags & libc::MAP_SHARED_VALIDATE == libc::MAP_PRIVATE
        && prot != libc::PROT_NONE
        && len > 0;
    let fixed = flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0;
    if !anon_private && !fixed {
        return real_mmap(addr, len, prot, flags, fd, off);
    }
    match route() {
        Route::Track(tls, t, c) => {
            if fixed && flags & libc::MAP_FIXED_NOREPLACE == 0 {
                unrecord_range(t, c, addr as u64, page_up(len));
            }
            let p = real_mmap(addr, len, prot, flags, fd, off);
            if anon_private && p != libc::MAP_FAILED {
                record_map(tls, t, c, p as u64, page_up(len), sp, fpv);
            }
            leave(tls);
            p
        }
        Route::Bootstrap | Route::Real => real_mmap(addr, len, prot, flags, fd, off),
    }
}

fn record_map(tls: Tls, t: &Tables, cfg: &Config, p: u64, len: u64, sp: u64, fpv: u64) {
    if cfg.sampled && !crate::sample::take(tls, len as usize, cfg.mean, cfg.seed) {
        return;
    }
    let id = stack_id(tls, t, sp, fpv);
    let (b, k) = weights(cfg, len as usize);
    if t.maps().insert(p, p + len, id) {
        t.add_alloc(id, b, k);
        if let Some(ev) = crate::init::events() {
            ev.push(EventKind::Map, p, len, id);
        }
    } else {
        t.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Interposed `munmap`.
#[unsafe(no_mangle)]
pub extern "C" fn munmap(addr: *mut c_void, len: usize) -> i32 {
    match route() {
        Route::Track(tls, t, c) => {
            // Before the real call: once unmapped, another thread may get the range back.
            unrecord_range(t, c, addr as u64, page_up(len));
            let r = real_munmap(addr, len);
            leave(tls);
            r
        }
        Route::Bootstrap | Route::Real => real_munmap(addr, len),
    }
}

/// Interposed `mremap` (the optional fifth argument is passed through as is).
#[unsafe(no_mangle)]
pub extern "C" fn mremap(
    old: *mut c_void,
    old_len: usize,
    len: usize,
    flags: i32,
    new: *mut c_void,
) -> *mut c_void {
    match route() {
        Route::Track(tls, t, c) => {
            // The table lock is held across the call so no other thread's mmap of the freed
            // range is recorded before the move.
            let mut maps = t.maps();
            let id = maps.find(old as u64);
            let p = real_mremap(old, old_len, len, flags, new);
            if let (Some(id), true) = (id, p != libc::MAP_FAILED) {
                let mut gone = |id: u32, old: u64, rest: [u64; 2]| {
                    let (b, k) = weights(c, old as usize);
                    t.sub_live(id, b, k);
                    for piece in rest {
                        if piece > 0 {
                            let (b, k) = weights(c, piece as usize);
                            t.add_live(id, b, k);
                        }
                    }
                };
                maps.remove_range(old as u64, old as u64 + page_up(old_len), &mut gone);
                let new_len = page_up(len);
                maps.remove_range(p as u64, p as u64 + new_len, &mut gone);
                if maps.insert(p as u64, p as u64 + new_len, id) {
                    let (b, k) = weights(c, new_len as usize);
                    t.add_live(id, b, k);
                }
            }
            drop(maps);
            leave(tls);
            p
        }
        Route::Bootstrap | Route::Real => real_mremap(old, old_len, len, flags, new),
    }
}
