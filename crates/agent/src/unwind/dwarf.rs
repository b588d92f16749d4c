//! Frame-pointer walk with a cached DWARF (`.eh_frame`) step for frames without frame pointers.
//!
//! On by default (`LEAKHOUND_UNWIND=fp` turns it off). The walk carries (pc, rsp, rbp). For each return
//! address it looks up a packed unwind rule in a lock-free per-pc cache (2048 one-word
//! slots in 4-way buckets); a function that keeps a frame pointer has the rule "CFA = rbp + 16, rbp saved at
//! CFA - 16", which is exactly the frame-pointer step. A function without a frame pointer gets
//! its real rule (CFA = rsp + off, rbp restored only if saved), so the walk recovers its caller
//! instead of skipping it.
//!
//! Per-pc probes on every frame cost ~10 % of exact mode's time, so the walk first follows the
//! frame-pointer chain, hashes its return addresses, and looks the whole raw stack up in a
//! second cache that remembers where its first non-frame-pointer frame is: a stack seen before
//! costs one probe, plus per-pc probes only for the frames after that point (typically the two
//! or three libc frames below `main` or a thread's start routine). Those last steps are
//! memoised per thread (`tail`): a walk that reaches the same frame with the same registers,
//! while every stack word the memoised steps read still holds its value, reuses their frames.
//!
//! On a cache miss the rule is computed on the calling thread (the hook's re-entrancy guard is
//! set, so anything the loader allocates passes through untraced): `dl_iterate_phdr` finds the
//! module and its `PT_GNU_EH_FRAME`, then gimli binary-searches `.eh_frame_hdr` and evaluates the
//! FDE's CFI with a fixed-size on-stack context (no allocation). Code without unwind info (JIT)
//! falls back to the plain frame-pointer step. Every stack read is bounded by the thread's live
//! stack `[lo, hi)`, and the walk stops unless the CFA strictly grows, so a wrong rule can only
//! shorten or garble a stack, never fault or loop.

use gimli::{
    BaseAddresses, CfaRule, EhFrame, EhFrameHdr, LittleEndian, Pointer, Register, RegisterRule,
    UnwindContext, UnwindContextStorage, UnwindSection, UnwindTableRow, X86_64,
};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Set at start-up unless `LEAKHOUND_UNWIND=fp`.
pub static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether the DWARF-assisted walk is on.
#[inline(always)]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Rule kind (low 2 bits of a packed rule): no unwind info, take the frame-pointer step.
const KIND_FP: u32 = 0;
/// CFA = rsp + offset.
const KIND_RSP: u32 = 1;
/// CFA = rbp + offset.
const KIND_RBP: u32 = 2;
/// Return address undefined: the outermost frame (`_start`, thread start).
const KIND_STOP: u32 = 3;

/// Cache slots (a power of two): 16 KiB, so the probes of a hot walk stay in L1. Slots form
/// 4-way buckets of one 32-byte line each, filled first-empty then round-robin, so up to four
/// hot return addresses that hash alike never evict each other (with ASLR, a direct-mapped
/// table made two hot pcs collide in some runs and recompute their rule on every walk).
const SLOTS: usize = 2048;
/// Slots per bucket.
const WAYS: usize = 4;

/// One slot per word: `pc << 16 | short rule` (user-space pcs fit in 48 bits), so a probe is a
/// single atomic load that can never pair one pc with another pc's rule. 0 is empty.
#[repr(align(32))]
struct Bucket([AtomicU64; WAYS]);

static CACHE: [Bucket; SLOTS / WAYS] =
    [const { Bucket([const { AtomicU64::new(0) }; WAYS]) }; SLOTS / WAYS];
/// Round-robin eviction cursor.
static EVICT: AtomicU64 = AtomicU64::new(0);

#[inline(always)]
fn bucket_of(pc: u64) -> &'static Bucket {
    let h = (pc ^ (pc >> 13)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55;
    &CACHE[h as usize % (SLOTS / WAYS)]
}

/// Forgets every cached rule and tail (after `dlclose`, a new module may reuse the addresses).
pub fn flush() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
    for b in CACHE.iter().chain(&STACKS) {
        for s in &b.0 {
            s.store(0, Ordering::Relaxed);
        }
    }
}

/// The short (16-bit) form of a packed rule, when it has one: kind, CFA offset / 8 (8 bits),
/// rbp slot (6 bits). Larger frames are recomputed at each walk (rare: > 2 KiB frames without a
/// frame pointer).
fn shorten(r: u32) -> Option<u64> {
    let off = (r >> 2) & 0xFFFF;
    let slot = r >> 18;
    (off.is_multiple_of(8) && off / 8 < 256 && slot < 64)
        .then(|| u64::from((r & 3) | ((off / 8) << 2) | (slot << 10)))
}

/// The packed rule of a short form.
#[inline(always)]
fn lengthen(v: u64) -> u32 {
    let v = v as u32;
    pack(v & 3, ((v >> 2) & 0xFF) * 8, (v >> 10) & 0x3F)
}

/// The packed rule for return address `pc`, from the cache or computed and cached.
#[inline(always)]
fn rule_for(pc: u64) -> u32 {
    let b = bucket_of(pc);
    for s in &b.0 {
        let e = s.load(Ordering::Relaxed);
        if e >> 16 == pc && pc >> 48 == 0 {
            return lengthen(e & 0xFFFF);
        }
    }
    let r = compute_rule(pc);
    if pc >> 48 == 0
        && let Some(short) = shorten(r)
    {
        let way =
            b.0.iter()
                .position(|s| s.load(Ordering::Relaxed) == 0)
                .unwrap_or_else(|| EVICT.fetch_add(1, Ordering::Relaxed) as usize % WAYS);
        b.0[way].store((pc << 16) | short, Ordering::Relaxed);
    }
    r
}

/// Packs a rule: kind, CFA offset (0..=65535), rbp save slot `n` (rbp at CFA - 8n; 0: not saved).
const fn pack(kind: u32, cfa_off: u32, rbp_slot: u32) -> u32 {
    kind | (cfa_off << 2) | (rbp_slot << 18)
}

/// Highest rbp save slot a packed rule holds (14 bits).
const MAX_RBP_SLOT: i64 = (1 << 14) - 1;

/// gimli's unwind context storage sized for the hook path: 24 register rules, 2 remembered
/// states (x86-64 CFI uses a handful of registers; more makes the lookup fail, and the walk then
/// takes the frame-pointer step).
struct Small;

impl<T: gimli::ReaderOffset> UnwindContextStorage<T> for Small {
    type Rules = [(Register, RegisterRule<T>); 24];
    type Stack = [UnwindTableRow<T, Self>; 2];
}

/// Most PT_LOAD segments remembered per module.
const MAX_LOADS: usize = 16;

/// What the `dl_iterate_phdr` callback found for one pc.
struct Found {
    pc: u64,
    hdr: u64,
    hdr_len: u64,
    loads: [(u64, u64); MAX_LOADS],
    n_loads: usize,
}

unsafe extern "C" fn find_cb(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: data is the &mut Found passed by compute_rule; info is valid for this call.
    let (f, info) = unsafe { (&mut *(data as *mut Found), &*info) };
    // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let base = info.dlpi_addr;
    let contains = phdrs.iter().any(|ph| {
        ph.p_type == libc::PT_LOAD
            && (base + ph.p_vaddr..base + ph.p_vaddr + ph.p_memsz).contains(&f.pc)
    });
    if !contains {
        return 0;
    }
    for ph in phdrs {
        if ph.p_type == libc::PT_LOAD && f.n_loads < MAX_LOADS {
            f.loads[f.n_loads] = (base + ph.p_vaddr, base + ph.p_vaddr + ph.p_memsz);
            f.n_loads += 1;
        } else if ph.p_type == libc::PT_GNU_EH_FRAME {
            f.hdr = base + ph.p_vaddr;
            f.hdr_len = ph.p_memsz;
        }
    }
    1
}

/// Computes the packed rule for return address `pc` (looked up at `pc - 1`, the call). Kept out
/// of line: its ~3 KiB gimli context must not enlarge the hook's frame on the cached path.
#[cold]
#[inline(never)]
fn compute_rule(pc: u64) -> u32 {
    let mut f = Found {
        pc: pc - 1,
        hdr: 0,
        hdr_len: 0,
        loads: [(0, 0); MAX_LOADS],
        n_loads: 0,
    };
    let saved = crate::hooks::sys::errno();
    // SAFETY: the callback only touches `f` and the loader-provided info, and allocates nothing.
    unsafe { libc::dl_iterate_phdr(Some(find_cb), (&mut f as *mut Found).cast()) };
    crate::hooks::sys::set_errno(saved);
    if f.hdr == 0 || f.hdr_len == 0 {
        return KIND_FP;
    }
    let segment_end = |a: u64| {
        f.loads[..f.n_loads]
            .iter()
            .find(|(s, e)| (*s..*e).contains(&a))
            .map(|&(_, e)| e)
    };
    if segment_end(f.hdr).is_none_or(|e| f.hdr + f.hdr_len > e) {
        return KIND_FP;
    }
    // SAFETY: [hdr, hdr + hdr_len) is the module's PT_GNU_EH_FRAME segment, inside one of its
    // PT_LOAD segments (checked), mapped readable while the module is loaded, and the module
    // is loaded: `pc` is a return address on this thread's live stack.
    let hdr = unsafe { std::slice::from_raw_parts(f.hdr as *const u8, f.hdr_len as usize) };
    let bases = BaseAddresses::default().set_eh_frame_hdr(f.hdr);
    let Ok(parsed) = EhFrameHdr::new(hdr, LittleEndian).parse(&bases, 8) else {
        return KIND_FP;
    };
    let Pointer::Direct(eh_at) = parsed.eh_frame_ptr() else {
        return KIND_FP;
    };
    let Some(eh_end) = segment_end(eh_at) else {
        return KIND_FP;
    };
    // SAFETY: [eh_at, eh_end) lies inside one PT_LOAD segment of the loaded module (found above).
    let eh = unsafe { std::slice::from_raw_parts(eh_at as *const u8, (eh_end - eh_at) as usize) };
    let eh_frame = EhFrame::new(eh, LittleEndian);
    let bases = bases.set_eh_frame(eh_at);
    let Some(table) = parsed.table() else {
        return KIND_FP;
    };
    let mut ctx = UnwindContext::<usize, Small>::new_in();
    match table.unwind_info_for_address(
        &eh_frame,
        &bases,
        &mut ctx,
        pc - 1,
        EhFrame::cie_from_offset,
    ) {
        Ok(row) => decode(row),
        Err(_) => KIND_FP,
    }
}

/// Packs one CFI row, or `KIND_FP` when it is not a shape the walker handles.
fn decode<S: UnwindContextStorage<usize>>(row: &UnwindTableRow<usize, S>) -> u32 {
    match row.register(X86_64::RA) {
        Some(RegisterRule::Offset(-8)) => {}
        Some(RegisterRule::Undefined) => return KIND_STOP,
        _ => return KIND_FP,
    }
    let (kind, off) = match *row.cfa() {
        CfaRule::RegisterAndOffset { register, offset } if (8..=0xFFFF).contains(&offset) => {
            if register == X86_64::RSP {
                (KIND_RSP, offset as u32)
            } else if register == X86_64::RBP {
                (KIND_RBP, offset as u32)
            } else {
                return KIND_FP;
            }
        }
        _ => return KIND_FP,
    };
    let slot = match row.register(X86_64::RBP) {
        None | Some(RegisterRule::Undefined | RegisterRule::SameValue) => 0,
        Some(RegisterRule::Offset(k)) if k < 0 && k % 8 == 0 && -k / 8 <= MAX_RBP_SLOT => {
            (-k / 8) as u32
        }
        _ => return KIND_FP,
    };
    pack(kind, off, slot)
}

/// Reads the 8-aligned word at `a` if `[a, a + 8)` lies in `[lo, hi)`.
#[inline(always)]
fn read(a: u64, lo: u64, hi: u64) -> Option<u64> {
    if a < lo || a > hi.saturating_sub(8) || a & 7 != 0 {
        return None;
    }
    // SAFETY: a lies in [lo, hi - 8], the mapped, live part of this thread's stack, 8-aligned.
    Some(unsafe { (a as *const u64).read() })
}

/// The rule of a function that keeps a frame pointer: CFA = rbp + 16, rbp saved at CFA - 16.
/// For such frames the DWARF step is exactly the frame-pointer step.
const FP_STANDARD: u32 = pack(KIND_RBP, 16, 2);

/// Whole-stack cache slots (a power of two): 32 KiB. A slot maps the hash of a raw
/// frame-pointer walk (its return addresses) to the index of its first frame whose rule is not
/// the frame-pointer one, so a stack seen before costs one probe instead of one rule probe per
/// frame (perf put those probes at ~10 % of exact mode's time on `allocbench synthetic`). Both
/// benchmark workloads have a few hundred distinct stacks.
const STACK_SLOTS: usize = 4096;

/// Low bits of a whole-stack slot holding `k + 1` (k in 0..=MAX_FRAMES); the others hold the
/// stack hash's high bits. 0 is empty.
const K_BITS: u32 = 7;

/// Whole-stack cache: `hash & !0x7F | (k + 1)`, 4-way buckets like [`CACHE`].
static STACKS: [Bucket; STACK_SLOTS / WAYS] =
    [const { Bucket([const { AtomicU64::new(0) }; WAYS]) }; STACK_SLOTS / WAYS];

#[inline(always)]
fn stack_bucket(key: u64) -> &'static Bucket {
    &STACKS[(key >> K_BITS) as usize % (STACK_SLOTS / WAYS)]
}

/// The cached first-non-FP index of the raw walk hashed to `key`.
#[inline(always)]
fn stack_lookup(key: u64) -> Option<usize> {
    let tag = key & !((1 << K_BITS) - 1);
    for s in &stack_bucket(key).0 {
        let e = s.load(Ordering::Relaxed);
        if e & !((1 << K_BITS) - 1) == tag && e != 0 {
            return Some((e & ((1 << K_BITS) - 1)) as usize - 1);
        }
    }
    None
}

fn stack_store(key: u64, k: usize) {
    let b = stack_bucket(key);
    let e = (key & !((1 << K_BITS) - 1)) | (k as u64 + 1);
    let way =
        b.0.iter()
            .position(|s| s.load(Ordering::Relaxed) == 0)
            .unwrap_or_else(|| EVICT.fetch_add(1, Ordering::Relaxed) as usize % WAYS);
    b.0[way].store(e, Ordering::Relaxed);
}

/// Fills `out` with `ra` followed by the caller chain, starting from the caller's stack pointer
/// `sp` (just above the return address slot) and frame pointer `fp`; returns the frames
/// written and their [`super::hash_frames`] hash. `[lo, hi)` bounds every read as in
/// [`super::fp::walk`].
///
/// First a plain frame-pointer walk (one dependent load per frame) records each frame's rbp
/// and hashes the return addresses. Up to the first frame whose rule is not the frame-pointer
/// one the result stands; from that frame on the walk continues with DWARF-assisted steps.
/// That index depends only on the raw walk's return addresses, so it is cached per raw walk
/// (whole-stack cache); on a miss the rules of all its return addresses are probed
/// (independent loads the CPU overlaps). A hash collision (about 2^-57 per probe) can only
/// garble a stack, as a wrong rule can.
///
/// The raw walk hashes its frames with the stack hash and keeps the state after each frame, so
/// the final stack's hash continues from the state at the first non-frame-pointer frame over
/// the DWARF-walked tail only.
pub fn walk(
    ra: u64,
    sp: u64,
    fp: u64,
    lo: u64,
    hi: u64,
    out: &mut [MaybeUninit<u64>],
    shard: usize,
) -> (usize, u64) {
    let cap = out.len().min(super::MAX_FRAMES);
    if cap == 0 {
        return (0, super::hash_finish(super::HASH_SEED, 0));
    }
    // Each frame's rbp and the hash state after it; only `[..n]` is ever written before it is
    // read, so both are left uninitialised (zeroing 512 bytes per walk showed up as ~10 % of
    // the walk in callgrind).
    let mut fps = [const { MaybeUninit::<u64>::uninit() }; super::MAX_FRAMES];
    let mut hs = [const { MaybeUninit::<u64>::uninit() }; super::MAX_FRAMES];
    out[0].write(ra);
    fps[0].write(fp);
    let mut h = super::hash_step(super::HASH_SEED, ra);
    hs[0].write(h);
    let mut n = 1;
    let mut f = fp;
    while n < cap {
        if f < lo || f > hi.saturating_sub(16) || f & 7 != 0 {
            break;
        }
        // SAFETY: f lies in [lo, hi - 16] (checked above), the mapped, live part of this
        // thread's stack, and is 8-aligned, so both words are readable.
        let (next, ret) = unsafe {
            let p = f as *const u64;
            (p.read(), p.add(1).read())
        };
        if ret == 0 {
            break;
        }
        out[n].write(ret);
        fps[n].write(next);
        h = super::hash_step(h, ret);
        hs[n].write(h);
        n += 1;
        if next <= f {
            break;
        }
        f = next;
    }
    // SAFETY: the loop above wrote out[0..n].
    let raw = unsafe { &*(&raw const out[..n] as *const [u64]) };
    let key = super::hash_finish(h, n);
    let k = match stack_lookup(key) {
        Some(k) => k,
        None => {
            let k = (0..n)
                .find(|&i| {
                    let r = rule_for(raw[i]);
                    r != FP_STANDARD && r != KIND_FP
                })
                .unwrap_or(n);
            stack_store(key, k);
            k
        }
    };
    if k >= n {
        return (n, super::hash_finish(h, n));
    }
    // SAFETY: k < n, and the loop above wrote fps[0..n] and hs[0..n].
    let (sp_k, fp_k, h_k) = unsafe {
        (
            if k == 0 {
                sp
            } else {
                fps[k - 1].assume_init() + 16
            },
            fps[k].assume_init(),
            hs[k].assume_init(),
        )
    };
    let (m, h) = tail(
        k + 1,
        raw[k],
        sp_k,
        fp_k,
        h_k,
        lo,
        hi,
        &mut out[..cap],
        shard,
    );
    (m, super::hash_finish(h, m))
}

/// Stack reads a memoised tail may depend on (its frames' return-address and rbp slots).
const MEMO_READS: usize = 12;
/// Frames a memoised tail may hold. The tails seen in practice are the two to four libc frames
/// below `main` (`__libc_start_call_main`, `__libc_start_main`, `_start`) or below a thread's
/// start routine (`start_thread`, `clone3`); longer ones are walked every time.
const MEMO_FRAMES: usize = 8;

/// The last DWARF-walked tail of one thread: the walk's starting registers, the stack words it
/// read and the frames it produced.
#[repr(C, align(64))]
struct Memo {
    /// [`GENERATION`] when recorded (0: empty or being written), pc, sp, fp.
    key: [AtomicU64; 4],
    /// Frames (low byte) and reads (next byte).
    counts: AtomicU64,
    addr: [AtomicU64; MEMO_READS],
    val: [AtomicU64; MEMO_READS],
    frames: [AtomicU64; MEMO_FRAMES],
}

/// One memo per counter shard. Shards 1.. each belong to one thread for its whole life (see
/// `tls::SHARDS`), and a hook re-entered on the same thread (a signal handler) is untraced, so
/// each memo has a single reader and writer; shard 0, shared by threads past the first 15,
/// has none.
static MEMOS: [Memo; crate::tls::SHARDS] = [const {
    Memo {
        key: [const { AtomicU64::new(0) }; 4],
        counts: AtomicU64::new(0),
        addr: [const { AtomicU64::new(0) }; MEMO_READS],
        val: [const { AtomicU64::new(0) }; MEMO_READS],
        frames: [const { AtomicU64::new(0) }; MEMO_FRAMES],
    }
}; crate::tls::SHARDS];

/// Bumped by [`flush`]: a memo recorded under an older generation may hold rules of an
/// unloaded module.
static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The stack reads of one tail walk, for its memo.
struct Reads {
    at: [(u64, u64); MEMO_READS],
    n: usize,
    /// The walk's starting stack pointer: a memo only holds reads at or above it.
    floor: u64,
    /// False when the walk's result depends on more than the recorded reads and its starting
    /// registers (a read out of bounds or below `floor`, more reads than fit, the frame limit
    /// reached).
    exact: bool,
}

impl Reads {
    #[inline(always)]
    fn read(&mut self, a: u64, lo: u64, hi: u64) -> Option<u64> {
        let v = read(a, lo, hi);
        match v {
            Some(x) if self.n < MEMO_READS && a >= self.floor => {
                self.at[self.n] = (a, x);
                self.n += 1;
            }
            _ => self.exact = false,
        }
        v
    }
}

/// [`hybrid`] through the calling thread's tail memo.
///
/// A tail walk is a pure function of its starting registers (`pc`, `sp`, `fp`), the unwind
/// rules (fixed until a module is unloaded: [`GENERATION`]) and the stack words it reads. So
/// when the registers match the memo's and every recorded word still holds its recorded value,
/// the walk would produce the memo's frames, and those are returned without the rule probes
/// and bounds checks (callgrind, `allocbench synthetic`: the three libc frames below `main`
/// cost ~115 instructions per allocation walked, a memo hit ~60). A stack seen with a
/// different tail misses the memo and is walked as before.
#[allow(clippy::too_many_arguments)]
fn tail(
    n: usize,
    pc: u64,
    sp: u64,
    fp: u64,
    mut h: u64,
    lo: u64,
    hi: u64,
    out: &mut [MaybeUninit<u64>],
    shard: usize,
) -> (usize, u64) {
    let memo = MEMOS.get(shard).filter(|_| shard != 0);
    let generation = GENERATION.load(Ordering::Relaxed);
    if let Some(m) = memo
        && m.key[0].load(Ordering::Relaxed) == generation
        && m.key[1].load(Ordering::Relaxed) == pc
        && m.key[2].load(Ordering::Relaxed) == sp
        && m.key[3].load(Ordering::Relaxed) == fp
    {
        let c = m.counts.load(Ordering::Relaxed) as usize;
        let (nf, nr) = ((c & 0xFF).min(MEMO_FRAMES), (c >> 8).min(MEMO_READS));
        if n + nf <= out.len() {
            let mut same = true;
            for i in 0..nr {
                let (a, v) = (&m.addr[i], &m.val[i]);
                // SAFETY: the address passed `read`'s checks when it was recorded (inside
                // [lo, hi) of this thread's stack, 8-aligned) and lies at or above the sp it was
                // recorded with (`Reads::floor`), which equals `sp` here; `sp` is a frame this
                // walk reached above the current frame `lo`, and `hi`, the thread's stack top,
                // has not moved, so the word is still inside [lo, hi), mapped and live.
                same &= unsafe { (a.load(Ordering::Relaxed) as *const u64).read() }
                    == v.load(Ordering::Relaxed);
            }
            if same {
                for i in 0..nf {
                    let f = m.frames[i].load(Ordering::Relaxed);
                    out[n + i].write(f);
                    h = super::hash_step(h, f);
                }
                return (n + nf, h);
            }
        }
    }
    let mut reads = Reads {
        at: [(0, 0); MEMO_READS],
        n: 0,
        floor: sp,
        exact: true,
    };
    let (end, h) = hybrid(n, pc, sp, fp, h, lo, hi, out, &mut reads);
    if let Some(m) = memo
        && reads.exact
        && end - n <= MEMO_FRAMES
    {
        m.key[0].store(0, Ordering::Relaxed);
        m.key[1].store(pc, Ordering::Relaxed);
        m.key[2].store(sp, Ordering::Relaxed);
        m.key[3].store(fp, Ordering::Relaxed);
        m.counts
            .store(((end - n) | (reads.n << 8)) as u64, Ordering::Relaxed);
        for (i, &(a, v)) in reads.at[..reads.n].iter().enumerate() {
            m.addr[i].store(a, Ordering::Relaxed);
            m.val[i].store(v, Ordering::Relaxed);
        }
        for (slot, o) in m.frames.iter().zip(&out[n..end]) {
            // SAFETY: hybrid wrote out[..end].
            slot.store(unsafe { o.assume_init() }, Ordering::Relaxed);
        }
        m.key[0].store(generation, Ordering::Relaxed);
    }
    (end, h)
}

/// Continues a walk whose frame `n - 1` (return address `pc`) had stack pointer `sp` and frame
/// pointer `fp`, with DWARF-assisted steps; `h` is the stack hash state after frame `n - 1`.
/// Returns the total frames in `out` and the hash state after the last; every stack read goes
/// through `reads`.
#[allow(clippy::too_many_arguments)]
fn hybrid(
    mut n: usize,
    mut pc: u64,
    mut sp: u64,
    mut fp: u64,
    mut h: u64,
    lo: u64,
    hi: u64,
    out: &mut [MaybeUninit<u64>],
    reads: &mut Reads,
) -> (usize, u64) {
    loop {
        if n >= out.len() {
            // The frame limit, not the stack, ended the walk.
            reads.exact = false;
            break;
        }
        let r = rule_for(pc);
        let kind = r & 3;
        let (ret, next_sp, next_fp) = if kind == KIND_STOP {
            break;
        } else if kind == KIND_FP {
            if fp < sp {
                break;
            }
            let Some(next) = reads.read(fp, lo, hi) else {
                break;
            };
            let Some(ret) = reads.read(fp.wrapping_add(8), lo, hi) else {
                break;
            };
            (ret, fp + 16, next)
        } else {
            let base = if kind == KIND_RSP { sp } else { fp };
            let cfa = base.wrapping_add(u64::from((r >> 2) & 0xFFFF));
            if cfa <= sp {
                break;
            }
            let Some(ret) = reads.read(cfa - 8, lo, hi) else {
                break;
            };
            let slot = u64::from(r >> 18);
            let next_fp = if slot == 0 {
                fp
            } else {
                match reads.read(cfa.wrapping_sub(8 * slot), lo, hi) {
                    Some(v) => v,
                    None => break,
                }
            };
            (ret, cfa, next_fp)
        };
        if ret == 0 {
            break;
        }
        out[n].write(ret);
        h = super::hash_step(h, ret);
        n += 1;
        pc = ret;
        sp = next_sp;
        fp = next_fp;
    }
    (n, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_code_has_rules_and_the_cache_returns_them() {
        // A return address inside this test binary: the caller of this function.
        let pc = own_pc as *const () as usize as u64 + 1;
        let r = rule_for(pc);
        assert!(matches!(r & 3, KIND_RSP | KIND_RBP), "rule {r:#x}");
        assert_eq!(rule_for(pc), r);
    }

    #[inline(never)]
    fn own_pc() {}

    #[test]
    fn unknown_code_takes_the_frame_pointer_step() {
        assert_eq!(compute_rule(0x10), KIND_FP);
    }

    #[test]
    fn short_forms_round_trip() {
        for r in [
            pack(KIND_RSP, 216, 0),
            pack(KIND_RBP, 16, 2),
            KIND_STOP,
            KIND_FP,
        ] {
            assert_eq!(lengthen(shorten(r).unwrap()), r);
        }
        assert_eq!(shorten(pack(KIND_RSP, 4096, 0)), None);
    }

    #[test]
    fn whole_stack_cache_returns_what_was_stored_and_forgets_on_flush() {
        // Keys that share a bucket but not a tag, and an index of 0 and of MAX_FRAMES.
        let a = super::super::hash_frames(&[0x1234]);
        let b = a ^ 0x8000_0000_0000_0000;
        assert_eq!(stack_lookup(a), None);
        stack_store(a, 0);
        stack_store(b, super::super::MAX_FRAMES);
        assert_eq!(stack_lookup(a), Some(0));
        assert_eq!(stack_lookup(b), Some(super::super::MAX_FRAMES));
        assert_eq!(stack_lookup(a ^ 0x100), None);
        flush();
        assert_eq!(stack_lookup(a), None);
    }

    #[test]
    fn pack_round_trips() {
        let r = pack(KIND_RSP, 40, 3);
        assert_eq!(r & 3, KIND_RSP);
        assert_eq!((r >> 2) & 0xFFFF, 40);
        assert_eq!(r >> 18, 3);
    }
}
