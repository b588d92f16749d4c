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

/// One frame into the stack hash: an xor and a multiply (the walkers hash the frames as they
/// find them, so the hash rides on the walk's own load chain instead of taking a second pass
/// over the frames; a second pass was ~80 instructions per allocation in callgrind on
/// `allocbench synthetic`). Each step is a bijection of the state for a given frame, so two
/// stacks of one length that differ in a single frame never collide; a multiply moves
/// information only upwards, which [`hash_finish`] repairs once per stack.
#[inline(always)]
pub fn hash_step(h: u64, frame: u64) -> u64 {
    (h ^ frame).wrapping_mul(HASH_MUL)
}

/// The stack hash of `n` frames from the state after them (never 0): folds in the length and
/// mixes the high bits back into the low ones (the tables index and tag with both).
#[inline(always)]
pub fn hash_finish(h: u64, n: usize) -> u64 {
    let h = hash_step(h, n as u64);
    let h = (h ^ (h >> 32)).wrapping_mul(HASH_MUL);
    (h ^ (h >> 29)) | 1
}

/// The stack hash of `frames`, as the walkers compute it.
pub fn hash_frames(frames: &[u64]) -> u64 {
    hash_finish(
        frames.iter().fold(HASH_SEED, |h, &f| hash_step(h, f)),
        frames.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Stacks shaped like real ones (recursion depths, call sites a few bytes apart in one
    /// module, shared prefixes and suffixes) get distinct hashes in the bits the tables use as
    /// tags (18..64 for the id cache, 32..64 for the stack table) and spread over their indices.
    #[test]
    fn real_shaped_stacks_get_distinct_tags_and_spread() {
        let base = 0x5555_5555_4000u64;
        let (leaf, rec, main) = (base + 0x1a3, base + 0x2c7, base + 0x9f1);
        let mut tags = HashSet::new();
        let mut hi = HashSet::new();
        let mut load = vec![0u32; 1 << 14];
        let mut n = 0;
        for site in 0..64u64 {
            for depth in 0..64usize {
                for variant in 0..4u64 {
                    let mut f = vec![leaf + 5 * variant];
                    f.extend(std::iter::repeat_n(rec, depth));
                    f.push(base + 0x500 + 8 * site);
                    f.push(main);
                    let h = hash_frames(&f);
                    tags.insert(h >> 18);
                    hi.insert(h >> 32);
                    load[(h >> 18) as usize & 0x3FFF] += 1;
                    n += 1;
                }
            }
        }
        assert_eq!(tags.len(), n, "id-cache tags collide");
        assert_eq!(hi.len(), n, "stack-table tags collide");
        // 16384 stacks over the id cache's 16384 slots: 1 on average (the most in one slot is
        // about 7 for a uniform hash); a weak mix piles them up.
        let max = *load.iter().max().unwrap();
        assert!(
            max <= 10,
            "id-cache slots pile up: {max} stacks in one slot"
        );
    }

    #[test]
    fn one_frame_apart_or_swapped_never_collide() {
        let a = [0x40_1000u64, 0x40_2000, 0x40_3000];
        let mut b = a;
        b[1] += 8;
        let c = [a[1], a[0], a[2]];
        let h = [hash_frames(&a), hash_frames(&b), hash_frames(&c)];
        assert!(h[0] != h[1] && h[0] != h[2] && h[1] != h[2], "{h:x?}");
        assert_ne!(hash_frames(&a[..2]), hash_frames(&a));
    }
}
