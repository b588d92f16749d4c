//! Thin, allocation-free wrappers over the libc and kernel calls the agent needs.

use crate::arena::Zeroable;
use std::ffi::CStr;

/// Reads an environment variable without allocating (libc `getenv`; call at init only).
pub fn getenv(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: NUL-terminated name; getenv returns a pointer into `environ` (or null) that stays
    // valid as long as nobody calls setenv on it, which we only read once at init.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: p is a valid NUL-terminated C string from environ.
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Wall-clock time in nanoseconds since the Unix epoch (vDSO, no allocation).
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Process id.
pub fn getpid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::getpid() as u32 }
}

/// Yields the CPU.
pub fn yield_now() {
    // SAFETY: no preconditions.
    unsafe { libc::sched_yield() };
}

/// Sleeps for `ms` milliseconds.
pub fn sleep_ms(ms: u64) {
    let ts = libc::timespec {
        tv_sec: (ms / 1000) as libc::time_t,
        tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: valid timespec; the remainder pointer may be null.
    unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
}

/// Current `errno`.
pub fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets `errno`.
pub fn set_errno(v: i32) {
    // SAFETY: as in errno().
    unsafe { *libc::__errno_location() = v };
}

/// Writes all of `buf` to `fd`, retrying on EINTR and short writes; errno is preserved.
/// Returns false on a write error.
pub fn write_all(fd: i32, mut buf: &[u8]) -> bool {
    let saved = errno();
    let mut ok = true;
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            ok = false;
            break;
        }
        buf = &buf[n as usize..];
    }
    set_errno(saved);
    ok
}

/// Creates the output file named by the NUL-terminated `path`, failing with the errno value
/// (e.g. `EEXIST`) when it exists already. errno is preserved.
pub fn create_new_file(path: &[u8]) -> Result<i32, i32> {
    let Ok(c) = CStr::from_bytes_until_nul(path) else {
        return Err(libc::EINVAL);
    };
    let saved = errno();
    // SAFETY: NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
            0o644,
        )
    };
    let err = errno();
    set_errno(saved);
    if fd < 0 { Err(err) } else { Ok(fd) }
}

/// Opens the existing file named by the NUL-terminated `path` for appending (close-on-exec).
/// errno is preserved.
pub fn open_append(path: &[u8]) -> Option<i32> {
    let c = CStr::from_bytes_until_nul(path).ok()?;
    let saved = errno();
    // SAFETY: NUL-terminated path.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC,
        )
    };
    set_errno(saved);
    (fd >= 0).then_some(fd)
}

/// Device and inode of the file open at `fd`, or `None` when `fd` is not open. errno is
/// preserved.
pub fn file_id(fd: i32) -> Option<(u64, u64)> {
    if fd < 0 {
        return None;
    }
    let saved = errno();
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: st is a valid out-pointer of the right type.
    let r = unsafe { libc::fstat(fd, st.as_mut_ptr()) };
    set_errno(saved);
    if r != 0 {
        return None;
    }
    // SAFETY: fstat succeeded and filled it (it was zeroed before in any case).
    let st = unsafe { st.assume_init() };
    Some((st.st_dev, st.st_ino))
}

/// Lowest descriptor the agent moves its files to: out of the range a program's own files
/// take (the kernel hands out the lowest free number), so a daemon that closes what it
/// inherited and opens a log does not get the agent's number back. Under a soft
/// RLIMIT_NOFILE of 1024 it is 992; with a lower limit, 32 under it.
const HIGH_FD: libc::rlim_t = 992;

/// Moves `fd` to a free descriptor from [`HIGH_FD`] up (close-on-exec) and closes the old one;
/// `fd` itself when that fails (a low RLIMIT_NOFILE, every high one taken). errno is preserved.
pub fn move_high(fd: i32) -> i32 {
    let saved = errno();
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid out-pointer.
    let from = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        HIGH_FD.min(lim.rlim_cur.saturating_sub(32))
    } else {
        0
    };
    let mut out = fd;
    if from > fd as libc::rlim_t {
        // SAFETY: duplicating a descriptor the agent opened.
        let high = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, from as libc::c_int) };
        if high >= 0 {
            close(fd);
            out = high;
        }
    }
    set_errno(saved);
    out
}

/// Closes a file descriptor.
pub fn close(fd: i32) {
    // SAFETY: closing a descriptor the agent opened.
    unsafe { libc::close(fd) };
}

unsafe extern "C" {
    static __libc_stack_end: *mut libc::c_void;
}

/// Upper bound of the calling thread's stack, 0 when unknown. No lock, no allocation, no system
/// call besides `gettid`.
///
/// Main thread: `__libc_stack_end`. Other threads: the thread pointer (`pthread_self()`, which is
/// `%fs:0` on x86-64 glibc). glibc places the thread descriptor and the static TLS block at the
/// top of every thread's stack block (its own stacks and user-supplied ones alike), so every
/// frame lies below the thread pointer and everything between a frame and it is mapped.
/// `pthread_getattr_np` is not an option here: it holds the thread's descriptor lock while it
/// `realloc`s its CPU set, so a program calling it (the JVM does, at every thread start) would
/// enter this hook and deadlock on that lock.
///
/// The thread pointer is used whenever it lies above the current frame, which is what tells a
/// thread on its own glibc stack apart from the main thread (whose TLS block is mapped elsewhere,
/// below its stack) — also in a child forked from a non-main thread, whose tid equals its pid.
/// A frame above the thread pointer on a thread other than the main one (a signal handler on an
/// alternate stack) gets 0: only the first frame is recorded, nothing is read.
pub fn thread_stack_hi() -> u64 {
    let here = 0u8;
    let sp = &raw const here as u64;
    // SAFETY: pthread_self has no preconditions and only reads the thread pointer.
    let tp = unsafe { libc::pthread_self() as u64 };
    if tp > sp {
        return tp;
    }
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
    if tid == getpid() {
        // SAFETY: ld.so exports __libc_stack_end, set before any user code runs; every frame of
        // the main thread lies below it.
        let end = unsafe { __libc_stack_end } as u64;
        if end > sp {
            return end;
        }
    }
    0
}

extern "C" fn thread_trampoline(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: arg is the `fn()` passed to spawn_detached, smuggled as a pointer.
    let f = unsafe { std::mem::transmute::<*mut libc::c_void, fn()>(arg) };
    f();
    std::ptr::null_mut()
}

/// Starts a detached thread running `f` with every signal blocked (the host may expect only its
/// own threads to receive signals). Returns false on failure. What `pthread_create` allocates
/// (the new thread's TLS blocks) is the agent's, not the target's: it passes untraced.
pub fn spawn_detached(f: fn()) -> bool {
    let tls = crate::tls::Tls::current();
    let old_guard = tls.guard();
    tls.set_guard(1);
    let ok = spawn_detached_untraced(f);
    tls.set_guard(old_guard);
    ok
}

fn spawn_detached_untraced(f: fn()) -> bool {
    // SAFETY: sigset and attr are initialised by their init functions before use; the old mask
    // is restored so the calling thread's mask is unchanged.
    unsafe {
        let mut all = std::mem::zeroed::<libc::sigset_t>();
        let mut old = std::mem::zeroed::<libc::sigset_t>();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut attr = std::mem::zeroed::<libc::pthread_attr_t>();
        libc::pthread_attr_init(&mut attr);
        libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
        let mut th: libc::pthread_t = 0;
        let rc = libc::pthread_create(&mut th, &attr, thread_trampoline, f as *mut libc::c_void);
        libc::pthread_attr_destroy(&mut attr);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        rc == 0
    }
}

/// Longest module path kept.
pub const MODULE_PATH: usize = 512;
/// Longest build id kept.
pub const BUILD_ID: usize = 64;

/// One loaded module as seen by `dl_iterate_phdr`.
#[derive(Debug)]
#[repr(C)]
pub struct ModuleInfo {
    /// Load bias.
    pub base: u64,
    /// Lowest mapped address of its PT_LOAD segments.
    pub start: u64,
    /// End of its highest PT_LOAD segment.
    pub end: u64,
    /// Build id bytes.
    pub build_id: [u8; BUILD_ID],
    /// Used length of `build_id`.
    pub build_id_len: usize,
    /// Path bytes.
    pub path: [u8; MODULE_PATH],
    /// Used length of `path`.
    pub path_len: usize,
}

// SAFETY: integers and byte arrays are valid at zero and have no drop glue.
unsafe impl Zeroable for ModuleInfo {}

struct Collect<'a> {
    out: &'a mut [ModuleInfo],
    n: usize,
}

fn read_build_id(base: u64, ph: &libc::Elf64_Phdr, m: &mut ModuleInfo) {
    let mut p = base + ph.p_vaddr;
    let end = p + ph.p_memsz;
    while p + 12 <= end {
        // SAFETY: [p, end) is a PT_NOTE segment of a loaded module, mapped readable by ld.so.
        let (namesz, descsz, ty) = unsafe {
            let w = p as *const u32;
            (
                w.read_unaligned(),
                w.add(1).read_unaligned(),
                w.add(2).read_unaligned(),
            )
        };
        let name_at = p + 12;
        let desc_at = name_at + u64::from(namesz).next_multiple_of(4);
        let next = desc_at + u64::from(descsz).next_multiple_of(4);
        if next > end {
            return;
        }
        if ty == 3 && namesz == 4 {
            // SAFETY: name and desc lie inside the note segment (checked: next <= end).
            let name = unsafe { std::slice::from_raw_parts(name_at as *const u8, 4) };
            if name == b"GNU\0" {
                let n = (descsz as usize).min(BUILD_ID);
                // SAFETY: as above.
                let desc = unsafe { std::slice::from_raw_parts(desc_at as *const u8, n) };
                m.build_id[..n].copy_from_slice(desc);
                m.build_id_len = n;
                return;
            }
        }
        p = next;
    }
}

unsafe extern "C" fn phdr_cb(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: data is the &mut Collect passed by collect_modules; info is valid for this call.
    let (c, info) = unsafe { (&mut *(data as *mut Collect<'_>), &*info) };
    if c.n >= c.out.len() {
        return 1;
    }
    let m = &mut c.out[c.n];
    m.base = info.dlpi_addr;
    m.start = u64::MAX;
    m.end = 0;
    m.build_id_len = 0;
    m.path_len = 0;
    // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    for ph in phdrs {
        if ph.p_type == libc::PT_LOAD {
            m.start = m.start.min(info.dlpi_addr + ph.p_vaddr);
            m.end = m.end.max(info.dlpi_addr + ph.p_vaddr + ph.p_memsz);
        } else if ph.p_type == libc::PT_NOTE && m.build_id_len == 0 {
            read_build_id(info.dlpi_addr, ph, m);
        }
    }
    if m.end == 0 {
        return 0;
    }
    let name = if info.dlpi_name.is_null() {
        &[][..]
    } else {
        // SAFETY: dlpi_name is a NUL-terminated string owned by the loader.
        unsafe { CStr::from_ptr(info.dlpi_name) }.to_bytes()
    };
    if name.is_empty() {
        // The main executable: ask the kernel for its path.
        // SAFETY: the output buffer is valid for MODULE_PATH bytes.
        let n = unsafe {
            libc::readlink(
                c"/proc/self/exe".as_ptr(),
                m.path.as_mut_ptr().cast(),
                MODULE_PATH,
            )
        };
        m.path_len = n.max(0) as usize;
    } else {
        let n = name.len().min(MODULE_PATH);
        m.path[..n].copy_from_slice(&name[..n]);
        m.path_len = n;
    }
    c.n += 1;
    0
}

/// Lists loaded modules into `out`; returns how many were written. Takes the loader lock: call
/// only from the writer thread or at exit, never holding an agent lock the hooks need.
pub fn collect_modules(out: &mut [ModuleInfo]) -> usize {
    let saved = errno();
    let mut c = Collect { out, n: 0 };
    // SAFETY: the callback only touches `c` and the loader-provided info.
    unsafe { libc::dl_iterate_phdr(Some(phdr_cb), (&mut c as *mut Collect<'_>).cast()) };
    set_errno(saved);
    c.n
}

/// Sleeps until `word` no longer holds `expected`, a [`futex_wake`], or `timeout_ms` passed.
pub fn futex_wait(word: &std::sync::atomic::AtomicU32, expected: u32, timeout_ms: u64) {
    let saved = errno();
    let ts = libc::timespec {
        tv_sec: (timeout_ms / 1000) as libc::time_t,
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned 32-bit atomic; the timeout is a valid relative timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        );
    }
    set_errno(saved);
}

/// Wakes one thread sleeping in [`futex_wait`] on `word` (async-signal-safe).
pub fn futex_wake(word: &std::sync::atomic::AtomicU32) {
    let saved = errno();
    // SAFETY: `word` is a live, aligned 32-bit atomic.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
    set_errno(saved);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_stack_lies_below_its_thread_pointer_and_inside_its_stack_block() {
        let (hi, local, top) = std::thread::spawn(|| {
            let local = 0u64;
            let hi = thread_stack_hi();
            // SAFETY: attr is initialised by pthread_getattr_np and destroyed after use.
            let top = unsafe {
                let mut attr = std::mem::zeroed::<libc::pthread_attr_t>();
                assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
                let mut addr = std::ptr::null_mut();
                let mut size = 0usize;
                assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
                libc::pthread_attr_destroy(&mut attr);
                addr as u64 + size as u64
            };
            (hi, &raw const local as u64, top)
        })
        .join()
        .unwrap();
        assert!(
            local < hi,
            "frame {local:#x} below the thread pointer {hi:#x}"
        );
        assert!(
            hi <= top,
            "thread pointer {hi:#x} inside the stack block (top {top:#x})"
        );
    }

    #[test]
    fn a_spawned_thread_never_gets_the_main_stacks_end() {
        // A child forked from a non-main thread has tid == pid; the bound must still be its own
        // stack's. The rule is position-based: on any thread whose frame lies below its thread
        // pointer (every glibc thread), that pointer is the bound.
        let (hi, frame) = std::thread::spawn(|| {
            let here = 0u8;
            (thread_stack_hi(), &raw const here as u64)
        })
        .join()
        .unwrap();
        assert!(hi > frame);
        // SAFETY: reading the loader-exported symbol.
        let end = unsafe { __libc_stack_end } as u64;
        assert_ne!(hi, end);
    }
}
