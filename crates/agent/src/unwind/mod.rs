//! Stack capture for allocation sites.
//!
//! `dwarf` (the default) keeps the frame-pointer step for functions that keep a frame pointer
//! and takes a cached `.eh_frame` step for the others. `fp` (`LEAKHOUND_UNWIND=fp`) is the
//! frame-pointer walker alone: frames compiled without frame pointers end or skip part of the
//! walk.

pub mod dwarf;
pub mod fp;

/// Most frames recorded per allocation. Deep recursion beyond this is cut (the analyzer groups
/// by the innermost frames, so the cut never splits a site).
pub const MAX_FRAMES: usize = 64;

/// Starting state of the stack hash (digits of pi: any odd constant would do).
pub const HASH_SEED: u64 = 0x243F_6A88_85A3_08D3;

/// Multiplier of the stack hash (the 64-bit golden ratio, Fibonacci hashing).
const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// One frame into the stack hash. The walkers hash the frames as they find them (the hash then
/// rides on the walk's own load chain instead of taking a second pass over the frames: a
/// second pass was ~80 instructions per allocation in callgrind on `allocbench synthetic`).
#[inline(always)]
pub fn hash_step(h: u64, frame: u64) -> u64 {
    let h = (h ^ frame).wrapping_mul(HASH_MUL);
    h ^ (h >> 29)
}

/// The stack hash of `n` frames from the state after them (never 0).
#[inline(always)]
pub fn hash_finish(h: u64, n: usize) -> u64 {
    hash_step(h, n as u64) | 1
}

/// The stack hash of `frames`, as the walkers compute it.
pub fn hash_frames(frames: &[u64]) -> u64 {
    hash_finish(
        frames.iter().fold(HASH_SEED, |h, &f| hash_step(h, f)),
        frames.len(),
    )
}
