//! In-process aggregation: interned call stacks, per-stack counters and the live map.
//!
//! * Stack table: open addressing over `AtomicU64` slots (`hash_hi32 << 32 | id + 1`), read
//!   without locks; inserts are serialised by one spin lock and published with release stores.
//! * Counters: 8 `u64` per stack id (one cache line): live bytes, live blocks, total bytes,
//!   total allocations, live samples.
//! * Live map: pointer -> (size, stack id), 64 shards each behind its own spin lock, linear
//!   probing with backward-shift deletion, grown by doubling into a fresh mapping.
//! * Mapping table: the program's own anonymous `mmap`s as sorted, disjoint
//!   `[start, end) -> stack id` ranges behind one spin lock, so a `munmap` of any part of a
//!   mapping (head, tail, middle: a split) or of several at once updates the right counters.
//!   Direct `mmap` calls are rare next to `malloc`, so a sorted array is enough.
//!
//! Everything lives in [`Region`]s, never in the target's heap. Stack id 0 is reserved for
//! "stack table full" so counting never stops.

use crate::arena::{Region, SpinLock};
use crate::tls::Tls;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Most distinct stacks tracked; further stacks are counted under id 0.
pub const MAX_STACKS: usize = 1 << 17;
const STACK_SLOTS: usize = MAX_STACKS * 2;
/// Frame storage shared by all stacks (u64 words).
const FRAME_WORDS: usize = 1 << 23;
/// Counter words per stack (one 64-byte line).
pub const COUNTER_STRIDE: usize = 8;
/// Counter shards: each of the first threads updates a shard of its own with plain loads and
/// stores, the others share shard 0 with atomic adds. perf on `allocbench server` (two
/// threads): the five `lock add`s of `add_alloc` were ~70 % of `malloc_slow`, ~11 % of the
/// run, whether or not the threads shared the cache line. Readers sum the shards (wrapping: a
/// shard alone goes "negative" when another thread frees what it allocated). Untouched shards
/// cost address space only (MAP_NORESERVE).
pub const COUNTER_SHARDS: usize = crate::tls::SHARDS;
/// Counter indices.
pub const LIVE_BYTES: usize = 0;
/// Live blocks.
pub const LIVE_BLOCKS: usize = 1;
/// Bytes ever allocated.
pub const TOTAL_BYTES: usize = 2;
/// Allocations ever made.
pub const TOTAL_ALLOCS: usize = 3;
/// Raw live samples (equals live blocks in exact mode).
pub const LIVE_SAMPLES: usize = 4;

const SHARDS: usize = 64;

/// The live-map shard of pointer `p`: chosen by its 64 MiB region and 3 bits of its page
/// number, not by its hash. glibc gives each thread its own arena (64 MiB heaps) and most
/// blocks are freed by the thread that allocated them, so two threads mostly lock different
/// shards; with shards picked by hash, every insert and remove locked a line the other thread
/// had just written (perf, `allocbench server` with both cores free: `live_insert` and
/// `live_remove_locked` ~55 % of all samples, nearly all on the lock byte's load). The page
/// bits keep threads that share one region (`M_ARENA_MAX=1`, other allocators) spread over 8
/// shards instead of serialised on one.
#[inline(always)]
fn shard_of(p: u64) -> usize {
    (((p >> 26) ^ (((p >> 12) & 7) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize
}
/// Most live anonymous mappings tracked (further ones are counted as dropped).
pub const MAX_MAPS: usize = 1 << 16;
/// Words per mapping-table entry: start, end, stack id.
const MAP_WORDS: usize = 3;
/// Slots of the live-map filter (sampled mode): one bit each in the 16 KiB bitmap the free path
/// reads, small enough to stay in L1/L2 next to the program's own data (a 256 KiB filter made
/// its own load the most expensive instruction of `free`: a cache miss per call). With a few
/// hundred live samples (a 512 KiB mean over a heap of 100 MB) about 0.2 % of unsampled frees
/// see a set bit and take the shard lock for nothing (each such false positive is a live-map
/// cache miss, so the bitmap holds 8 slots per byte rather than a counter per byte).
const FILTER_LEN: usize = 1 << 17;
/// A slot's key count that reached this value sticks there (its bit then stays set).
const FILTER_STUCK: u16 = u16::MAX;
const SHARD_INITIAL_SLOTS: usize = 1 << 12;
/// Stack ids need 20 bits in a live-map value; sizes get the other 44 (16 TiB).
const ID_BITS: u32 = 20;
const ID_MASK: u64 = (1 << ID_BITS) - 1;

/// Entries of the stack-id cache (a power of two): 128 KiB.
const ID_CACHE_LEN: usize = 1 << 14;
/// Low bits of an id-cache entry holding the stack id (ids are below `MAX_STACKS` = 2^17); the
/// other 46 hold the stack hash's bits 18..63, 14 of which also chose the entry.
const ID_CACHE_ID_BITS: u32 = 18;

/// One live-map shard: `[key, value]` pairs, key 0 = empty.
#[derive(Debug)]
struct Shard {
    table: Option<Region<u64>>,
    len: usize,
}

/// All aggregation state of the process.
#[derive(Debug)]
pub struct Tables {
    slots: Region<AtomicU64>,
    meta: Region<AtomicU64>,
    frames: Region<AtomicU64>,
    counters: Region<AtomicU64>,
    /// Stack hash -> id, direct-mapped, one word per entry (see [`Self::intern`]).
    id_cache: Region<AtomicU64>,
    count: AtomicU32,
    frames_top: AtomicU64,
    insert_lock: SpinLock<()>,
    live: [SpinLock<Shard>; SHARDS],
    /// Each live-map shard's table address and slot mask, published after every grow, read
    /// without the lock only to prefetch (see [`Self::live_prefetch`]).
    live_hint: [(AtomicU64, AtomicU64); SHARDS],
    /// Filter over live-map keys: a clear bit proves a pointer is not in the map, so sampled
    /// mode skips the shard lock for the (vast majority of) unsampled frees. Unused in exact
    /// mode, where nearly every freed pointer is in the map.
    filter: Region<AtomicU64>,
    /// Keys per filter slot; a bit is set while its count is nonzero. Updated only when a
    /// sampled block enters or leaves the live map (rare), under this lock, so a bit is never
    /// cleared while a key still maps to it.
    filter_counts: SpinLock<Region<u16>>,
    /// Whether `filter` is maintained (sampled mode).
    filtered: bool,
    /// Allocations that could not be put in the live map (mapping failed).
    pub dropped: AtomicU64,
    /// Tracked anonymous mappings (see the module docs).
    maps: SpinLock<Maps>,
}

/// Sorted, disjoint `[start, end, id]` triples.
#[derive(Debug)]
pub struct Maps {
    table: Region<u64>,
    len: usize,
}

impl Maps {
    fn entry(&self, i: usize) -> (u64, u64, u32) {
        let e = &self.table[i * MAP_WORDS..][..MAP_WORDS];
        (e[0], e[1], e[2] as u32)
    }

    fn set(&mut self, i: usize, (start, end, id): (u64, u64, u32)) {
        self.table[i * MAP_WORDS..][..MAP_WORDS].copy_from_slice(&[start, end, u64::from(id)]);
    }

    /// Index of the first entry whose end lies above `addr`.
    fn first_above(&self, addr: u64) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entry(mid).1 <= addr {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Inserts an entry at index `i`, shifting the rest up; false when full.
    fn insert_at(&mut self, i: usize, e: (u64, u64, u32)) -> bool {
        if self.len >= MAX_MAPS {
            return false;
        }
        self.table
            .copy_within(i * MAP_WORDS..self.len * MAP_WORDS, (i + 1) * MAP_WORDS);
        self.len += 1;
        self.set(i, e);
        true
    }

    fn remove_at(&mut self, i: usize) {
        self.table
            .copy_within((i + 1) * MAP_WORDS..self.len * MAP_WORDS, i * MAP_WORDS);
        self.len -= 1;
    }

    /// Stack id of the mapping containing `addr`.
    pub fn find(&self, addr: u64) -> Option<u32> {
        let i = self.first_above(addr);
        (i < self.len && self.entry(i).0 <= addr).then(|| self.entry(i).2)
    }

    /// Records mapping `[start, end)` of stack `id` (the range must be free in the table:
    /// callers remove it first). False when the table is full.
    pub fn insert(&mut self, start: u64, end: u64, id: u32) -> bool {
        let i = self.first_above(start);
        self.insert_at(i, (start, end, id))
    }

    /// Forgets `[start, end)`. For each tracked mapping it touched, calls
    /// `f(id, old_len, [left_len, right_len])` with the lengths of what stays mapped on either
    /// side (0 when nothing), so the caller can move the counters.
    pub fn remove_range(&mut self, start: u64, end: u64, f: &mut dyn FnMut(u32, u64, [u64; 2])) {
        let mut i = self.first_above(start);
        while i < self.len {
            let (s, e, id) = self.entry(i);
            if s >= end {
                break;
            }
            let left = start.saturating_sub(s);
            let right = e.saturating_sub(end);
            f(id, e - s, [left, right]);
            match (left > 0, right > 0) {
                (false, false) => self.remove_at(i),
                (true, false) => {
                    self.set(i, (s, start, id));
                    i += 1;
                }
                (false, true) => {
                    self.set(i, (end, e, id));
                    i += 1;
                }
                (true, true) => {
                    self.set(i, (s, start, id));
                    if !self.insert_at(i + 1, (end, e, id)) {
                        // Table full: stop tracking the right part (report it as unmapped)
                        // rather than keep a wrong range.
                        f(id, right, [0, 0]);
                    }
                    i += 2;
                }
            }
        }
    }
}

/// Adds `v` (wrapping) to counter `c`: a plain load and store when the calling thread owns the
/// shard (only it writes there, and a hook re-entered on the same thread takes the untraced
/// path, so no update interleaves), an atomic add on the shared shard.
#[inline(always)]
fn add(c: &AtomicU64, v: u64, own: bool) {
    if own {
        c.store(c.load(Ordering::Relaxed).wrapping_add(v), Ordering::Relaxed);
    } else {
        c.fetch_add(v, Ordering::Relaxed);
    }
}

#[inline]
fn hash_ptr(p: u64) -> u64 {
    (p >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Tables {
    /// Maps all tables; `None` when the kernel refuses a mapping. `sampled` turns on the
    /// live-map filter.
    pub fn new(sampled: bool) -> Option<Self> {
        let t = Self {
            slots: Region::new(STACK_SLOTS)?,
            meta: Region::new(MAX_STACKS)?,
            frames: Region::new(FRAME_WORDS)?,
            counters: Region::new(COUNTER_SHARDS * MAX_STACKS * COUNTER_STRIDE)?,
            id_cache: Region::new(ID_CACHE_LEN)?,
            count: AtomicU32::new(1),
            frames_top: AtomicU64::new(0),
            insert_lock: SpinLock::new(()),
            live: std::array::from_fn(|_| {
                SpinLock::new(Shard {
                    table: None,
                    len: 0,
                })
            }),
            live_hint: std::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0))),
            filter: Region::new(FILTER_LEN / 64)?,
            filter_counts: SpinLock::new(Region::new(if sampled { FILTER_LEN } else { 1 })?),
            filtered: sampled,
            dropped: AtomicU64::new(0),
            maps: SpinLock::new(Maps {
                table: Region::new(MAX_MAPS * MAP_WORDS)?,
                len: 0,
            }),
        };
        Some(t)
    }

    /// Number of stack ids handed out (ids `0..n`; 0 is the overflow stack with no frames).
    pub fn stack_count(&self) -> u32 {
        self.count.load(Ordering::Acquire)
    }

    /// Frames of stack `id` (for ids below [`Self::stack_count`]).
    pub fn frames_of(&self, id: u32, out: &mut [u64]) -> usize {
        let m = self.meta[id as usize].load(Ordering::Acquire);
        let (off, len) = ((m >> 16) as usize, (m & 0xffff) as usize);
        let n = len.min(out.len());
        for (i, o) in out[..n].iter_mut().enumerate() {
            *o = self.frames[off + i].load(Ordering::Relaxed);
        }
        n
    }

    fn same_frames(&self, id: u32, frames: &[u64]) -> bool {
        let m = self.meta[id as usize].load(Ordering::Acquire);
        let (off, len) = ((m >> 16) as usize, (m & 0xffff) as usize);
        len == frames.len()
            && frames
                .iter()
                .enumerate()
                .all(|(i, &f)| self.frames[off + i].load(Ordering::Relaxed) == f)
    }

    fn probe(&self, h: u64, frames: &[u64]) -> Result<u32, usize> {
        let mask = STACK_SLOTS - 1;
        // Not from bit 0: `hash_finish` makes every stack hash odd.
        let mut i = (h >> 1) as usize & mask;
        loop {
            let v = self.slots[i].load(Ordering::Acquire);
            if v == 0 {
                return Err(i);
            }
            if v >> 32 == h >> 32 {
                let id = (v as u32).wrapping_sub(1);
                if self.same_frames(id, frames) {
                    return Ok(id);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The id of `frames`, interning it on first sight (id 0 when the table is full).
    #[inline]
    ///
    /// A stack seen before is usually answered by the id cache, keyed by 46 bits of the stack's
    /// 64-bit hash, without comparing its frames (callgrind on `allocbench synthetic`: the
    /// probe's frame-by-frame compare was ~190 instructions per allocation, more than the
    /// walk itself). A false hit needs two distinct stacks to agree on those 46 bits (about
    /// 2^-46 per new stack) and would only count one stack's allocations under another.
    pub fn intern(&self, frames: &[u64]) -> u32 {
        self.intern_hashed(crate::unwind::hash_frames(frames), frames)
    }

    /// [`Self::intern`] for frames whose [`crate::unwind::hash_frames`] hash the walk already
    /// computed.
    #[inline]
    pub fn intern_hashed(&self, h: u64, frames: &[u64]) -> u32 {
        let tag = h & !((1 << ID_CACHE_ID_BITS) - 1);
        let entry = &self.id_cache[(h >> ID_CACHE_ID_BITS) as usize & (ID_CACHE_LEN - 1)];
        let e = entry.load(Ordering::Relaxed);
        if e & !((1 << ID_CACHE_ID_BITS) - 1) == tag && e != 0 {
            return (e & ((1 << ID_CACHE_ID_BITS) - 1)) as u32;
        }
        let id = self.intern_slow(h, frames);
        if id != 0 {
            entry.store(tag | u64::from(id), Ordering::Relaxed);
        }
        id
    }

    /// [`Self::intern`] past the id cache: the hash table, comparing frames.
    #[inline(never)]
    fn intern_slow(&self, h: u64, frames: &[u64]) -> u32 {
        if let Ok(id) = self.probe(h, frames) {
            return id;
        }
        let _g = self.insert_lock.lock();
        let slot = match self.probe(h, frames) {
            Ok(id) => return id,
            Err(slot) => slot,
        };
        let id = self.count.load(Ordering::Relaxed);
        let off = self.frames_top.load(Ordering::Relaxed) as usize;
        if id as usize >= MAX_STACKS || off + frames.len() > FRAME_WORDS {
            return 0;
        }
        for (i, &f) in frames.iter().enumerate() {
            self.frames[off + i].store(f, Ordering::Relaxed);
        }
        self.frames_top
            .store((off + frames.len()) as u64, Ordering::Relaxed);
        self.meta[id as usize].store(
            ((off as u64) << 16) | frames.len() as u64,
            Ordering::Release,
        );
        self.count.store(id + 1, Ordering::Release);
        self.slots[slot].store(((h >> 32) << 32) | u64::from(id + 1), Ordering::Release);
        id
    }

    /// Counter `which` of stack `id` (the sum over the threads' shards; a shard alone can be
    /// "negative" when blocks are freed by another thread than the one that allocated them).
    #[inline]
    pub fn counter(&self, id: u32, which: usize) -> u64 {
        (0..COUNTER_SHARDS).fold(0u64, |sum, s| {
            sum.wrapping_add(self.counters[Self::counter_at(s, id) + which].load(Ordering::Relaxed))
        })
    }

    /// Index of the first counter of stack `id` in shard `shard`.
    #[inline(always)]
    fn counter_at(shard: usize, id: u32) -> usize {
        (shard * MAX_STACKS + id as usize) * COUNTER_STRIDE
    }

    /// The calling thread's counters of stack `id`, and whether they are its own (see
    /// [`COUNTER_SHARDS`]).
    #[inline(always)]
    fn mine(&self, id: u32) -> (&[AtomicU64], bool) {
        let shard = Tls::current().shard();
        (
            &self.counters[Self::counter_at(shard, id)..][..COUNTER_STRIDE],
            shard != 0,
        )
    }

    /// Adds one allocation of weight (`bytes`, `blocks`) to stack `id`.
    #[inline]
    pub fn add_alloc(&self, id: u32, bytes: u64, blocks: u64) {
        let (c, own) = self.mine(id);
        add(&c[LIVE_BYTES], bytes, own);
        add(&c[LIVE_BLOCKS], blocks, own);
        add(&c[TOTAL_BYTES], bytes, own);
        add(&c[TOTAL_ALLOCS], blocks, own);
        add(&c[LIVE_SAMPLES], 1, own);
    }

    /// Removes one allocation of weight (`bytes`, `blocks`) from stack `id`'s live counters.
    #[inline]
    pub fn sub_live(&self, id: u32, bytes: u64, blocks: u64) {
        let (c, own) = self.mine(id);
        add(&c[LIVE_BYTES], bytes.wrapping_neg(), own);
        add(&c[LIVE_BLOCKS], blocks.wrapping_neg(), own);
        add(&c[LIVE_SAMPLES], 1u64.wrapping_neg(), own);
    }

    /// Adds live weight (`bytes`, `blocks`) to stack `id` without counting a new allocation
    /// (the surviving parts of a partly unmapped mapping).
    #[inline]
    pub fn add_live(&self, id: u32, bytes: u64, blocks: u64) {
        let (c, own) = self.mine(id);
        add(&c[LIVE_BYTES], bytes, own);
        add(&c[LIVE_BLOCKS], blocks, own);
        add(&c[LIVE_SAMPLES], 1, own);
    }

    /// The mapping table, locked.
    pub fn maps(&self) -> crate::arena::SpinGuard<'_, Maps> {
        self.maps.lock()
    }

    /// Starts loading the live-map slot where [`Self::live_insert`] will look for `p`, so the
    /// cache miss (the map is megabytes, the pointer random) overlaps the stack walk instead of
    /// stalling the insert. The table address may be stale (a grow in between): a prefetch
    /// never faults, it only wastes a load.
    #[inline(always)]
    pub fn live_prefetch(&self, p: usize) {
        let h = hash_ptr(p as u64);
        let hint = &self.live_hint[shard_of(p as u64)];
        let base = hint.0.load(Ordering::Relaxed);
        let mask = hint.1.load(Ordering::Relaxed);
        if base != 0 {
            let at = base.wrapping_add(16 * (((h >> 16) as usize as u64) & mask));
            crate::arena::prefetch(at);
        }
    }

    /// Records live block `p` of `size` bytes from stack `id`. Returns a stale entry that was
    /// already stored under `p` (a free the agent missed), which the caller must un-count.
    #[inline]
    pub fn live_insert(&self, p: usize, size: usize, id: u32) -> Option<(usize, u32)> {
        let key = p as u64;
        let h = hash_ptr(key);
        let mut shard = self.live[shard_of(key)].lock();
        let needs_grow = match &shard.table {
            None => true,
            Some(t) => (shard.len + 1) * 4 > t.len(), // load factor 1/2 (2 words per slot)
        };
        if needs_grow {
            if !grow(&mut shard) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            if let Some(t) = &shard.table {
                let hint = &self.live_hint[shard_of(key)];
                hint.0.store(t.as_ptr() as u64, Ordering::Relaxed);
                hint.1.store((t.len() / 2 - 1) as u64, Ordering::Relaxed);
            }
        }
        let val = ((size as u64) << ID_BITS) | (u64::from(id) & ID_MASK);
        let Shard { table, len } = &mut *shard;
        let t = table.as_mut()?;
        let mask = t.len() / 2 - 1;
        let mut i = ((h >> 16) as usize) & mask;
        loop {
            let k = t[2 * i];
            if k == 0 {
                t[2 * i] = key;
                t[2 * i + 1] = val;
                *len += 1;
                if self.filtered {
                    self.filter_add(h);
                }
                return None;
            }
            if k == key {
                let old = t[2 * i + 1];
                t[2 * i + 1] = val;
                return Some(((old >> ID_BITS) as usize, (old & ID_MASK) as u32));
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn filter_slot(h: u64) -> usize {
        (h >> 40) as usize & (FILTER_LEN - 1)
    }

    /// Counts one more key in `h`'s filter slot, setting its bit.
    fn filter_add(&self, h: u64) {
        let slot = Self::filter_slot(h);
        let mut counts = self.filter_counts.lock();
        let c = counts[slot];
        if c == 0 {
            self.filter[slot / 64].fetch_or(1 << (slot % 64), Ordering::Release);
        }
        if c < FILTER_STUCK {
            counts[slot] = c + 1;
        }
    }

    /// Counts one key less in `h`'s filter slot, clearing its bit at zero (a stuck slot stays).
    fn filter_sub(&self, h: u64) {
        let slot = Self::filter_slot(h);
        let mut counts = self.filter_counts.lock();
        let c = counts[slot];
        if c == 0 || c == FILTER_STUCK {
            return;
        }
        counts[slot] = c - 1;
        if c == 1 {
            self.filter[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::Release);
        }
    }

    #[inline(always)]
    fn filter_has(&self, h: u64) -> bool {
        let slot = Self::filter_slot(h);
        self.filter[slot / 64].load(Ordering::Acquire) & (1 << (slot % 64)) != 0
    }

    /// False when `p` is certainly not in the live map (sampled mode's filter says so); always
    /// true in exact mode.
    #[inline(always)]
    pub fn may_be_live(&self, p: usize) -> bool {
        !self.filtered || self.filter_has(hash_ptr(p as u64))
    }

    /// Removes live block `p`, returning its (size, stack id) if it was recorded.
    #[inline(always)]
    pub fn live_remove(&self, p: usize) -> Option<(usize, u32)> {
        let h = hash_ptr(p as u64);
        if self.filtered && !self.filter_has(h) {
            return None;
        }
        self.live_remove_locked(p as u64, h)
    }

    #[inline(never)]
    fn live_remove_locked(&self, key: u64, h: u64) -> Option<(usize, u32)> {
        let mut shard = self.live[shard_of(key)].lock();
        let Shard { table, len } = &mut *shard;
        let t = table.as_mut()?;
        let mask = t.len() / 2 - 1;
        let mut i = ((h >> 16) as usize) & mask;
        loop {
            let k = t[2 * i];
            if k == 0 {
                return None;
            }
            if k == key {
                break;
            }
            i = (i + 1) & mask;
        }
        let val = t[2 * i + 1];
        *len -= 1;
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let k = t[2 * j];
            if k == 0 {
                break;
            }
            let home = ((hash_ptr(k) >> 16) as usize) & mask;
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                t[2 * hole] = k;
                t[2 * hole + 1] = t[2 * j + 1];
                hole = j;
            }
        }
        t[2 * hole] = 0;
        t[2 * hole + 1] = 0;
        if self.filtered {
            self.filter_sub(h);
        }
        Some(((val >> ID_BITS) as usize, (val & ID_MASK) as u32))
    }

    /// Takes every agent lock in a fixed order (before `fork`).
    pub fn lock_all(&self) {
        self.insert_lock.raw_lock();
        for s in &self.live {
            s.raw_lock();
        }
        self.maps.raw_lock();
        self.filter_counts.raw_lock();
    }

    /// Releases what [`Self::lock_all`] took (after `fork`, in parent and child).
    pub fn unlock_all(&self) {
        self.filter_counts.raw_unlock();
        self.maps.raw_unlock();
        for s in self.live.iter().rev() {
            s.raw_unlock();
        }
        self.insert_lock.raw_unlock();
    }
}

/// Doubles a shard's table (or creates it); false when the mapping fails.
fn grow(shard: &mut Shard) -> bool {
    let old_slots = shard.table.as_ref().map_or(0, |t| t.len() / 2);
    let slots = (old_slots * 2).max(SHARD_INITIAL_SLOTS);
    let Some(mut new) = Region::<u64>::new(slots * 2) else {
        return false;
    };
    let mask = slots - 1;
    if let Some(old) = shard.table.take() {
        for pair in old.chunks_exact(2) {
            if pair[0] == 0 {
                continue;
            }
            let mut i = ((hash_ptr(pair[0]) >> 16) as usize) & mask;
            while new[2 * i] != 0 {
                i = (i + 1) & mask;
            }
            new[2 * i] = pair[0];
            new[2 * i + 1] = pair[1];
        }
    }
    shard.table = Some(new);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_the_shards_of_threads_that_allocate_and_free_each_others_blocks() {
        let t = Tables::new(false).unwrap();
        let id = t.intern(&[7, 8, 9]);
        // 16 threads, each given a shard of its own while any is left (the last ones share
        // shard 0): 8 allocate 1000 x 16 B, 8 free 300 x 16 B allocated by another.
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    Tls::current().assign_shard();
                    for _ in 0..1000 {
                        t.add_alloc(id, 16, 1);
                    }
                });
                s.spawn(|| {
                    Tls::current().assign_shard();
                    for _ in 0..300 {
                        t.sub_live(id, 16, 1);
                    }
                });
            }
        });
        assert_eq!(t.counter(id, LIVE_BLOCKS), 8 * 700);
        assert_eq!(t.counter(id, LIVE_BYTES), 8 * 700 * 16);
        assert_eq!(t.counter(id, TOTAL_ALLOCS), 8 * 1000);
        assert_eq!(t.counter(id, LIVE_SAMPLES), 8 * 700);
    }

    #[test]
    fn interning_is_stable_and_distinct() {
        let t = Tables::new(true).unwrap();
        let a = t.intern(&[1, 2, 3]);
        let b = t.intern(&[1, 2, 4]);
        assert_ne!(a, b);
        assert_eq!(t.intern(&[1, 2, 3]), a);
        let mut out = [0u64; 8];
        assert_eq!(t.frames_of(b, &mut out), 3);
        assert_eq!(&out[..3], &[1, 2, 4]);
    }

    #[test]
    fn partial_unmaps_trim_and_split_mappings() {
        let t = Tables::new(true).unwrap();
        let mut m = t.maps();
        assert!(m.insert(0x10000, 0x14000, 7));
        assert!(m.insert(0x20000, 0x21000, 8));
        let mut seen = Vec::new();
        // Middle page of the first mapping: a split.
        m.remove_range(0x11000, 0x12000, &mut |id, old, rest| {
            seen.push((id, old, rest))
        });
        assert_eq!(seen, [(7, 0x4000, [0x1000, 0x2000])]);
        assert_eq!(m.find(0x10fff), Some(7));
        assert_eq!(m.find(0x11000), None);
        assert_eq!(m.find(0x12000), Some(7));
        seen.clear();
        // One call covering the tail piece, a gap and the whole second mapping.
        m.remove_range(0x13000, 0x30000, &mut |id, old, rest| {
            seen.push((id, old, rest))
        });
        assert_eq!(seen, [(7, 0x2000, [0x1000, 0]), (8, 0x1000, [0, 0])]);
        assert_eq!(m.find(0x12000), Some(7));
        assert_eq!(m.find(0x13000), None);
        assert_eq!(m.find(0x20000), None);
        assert_eq!(m.find(0x10000), Some(7));
    }

    #[test]
    fn filter_bits_follow_the_live_map_exactly() {
        let t = Tables::new(true).unwrap();
        // Many keys share filter slots: a bit must stay set while any of them is live.
        let keys: Vec<usize> = (1..=50_000usize).map(|i| i * 48).collect();
        for &k in &keys {
            assert!(!t.may_be_live(k) || t.live_remove(k).is_none());
            t.live_insert(k, 48, 1);
            assert!(t.may_be_live(k));
        }
        for &k in keys.iter().step_by(2) {
            assert_eq!(t.live_remove(k), Some((48, 1)));
        }
        for &k in keys.iter().skip(1).step_by(2) {
            assert!(t.may_be_live(k), "live key {k} hidden by the filter");
        }
        for &k in keys.iter().skip(1).step_by(2) {
            assert_eq!(t.live_remove(k), Some((48, 1)));
        }
        assert!(keys.iter().all(|&k| !t.may_be_live(k)), "all bits cleared");
    }

    #[test]
    fn live_map_survives_growth_and_deletes() {
        let t = Tables::new(true).unwrap();
        let n = 200_000usize;
        for i in 1..=n {
            assert_eq!(t.live_insert(i * 16, i, (i % 1000) as u32), None);
        }
        for i in (1..=n).step_by(2) {
            assert_eq!(t.live_remove(i * 16), Some((i, (i % 1000) as u32)));
        }
        for i in 1..=n {
            let got = t.live_remove(i * 16);
            if i % 2 == 1 {
                assert_eq!(got, None, "{i}");
            } else {
                assert_eq!(got, Some((i, (i % 1000) as u32)), "{i}");
            }
        }
    }
}
