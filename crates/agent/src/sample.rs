//! Poisson sampling by bytes (sampled mode), as jemalloc, tcmalloc, Go and heapprofd do.
//!
//! Sample points fall on the stream of allocated bytes as a Poisson process with mean interval
//! `M` bytes: each thread counts down an exponentially distributed number of bytes and samples
//! the allocation that crosses zero. A block of `s` bytes is then sampled with probability
//! `p(s) = 1 - exp(-s / M)`, so weighting it by `s / p(s)` bytes and `1 / p(s)` blocks gives
//! unbiased (Horvitz-Thompson) estimates of live bytes and blocks. The weights are recomputed
//! from the size at free time, so nothing extra is stored per block.

use crate::tls::Tls;

/// Default mean sampling interval: 512 KiB, jemalloc's `lg_prof_sample` default (2^19).
pub const DEFAULT_MEAN: u64 = 512 * 1024;

/// Advances the thread's xorshift64 generator (seeding it on first use).
#[inline]
fn next_u64(tls: Tls, seed: u64) -> u64 {
    let mut x = tls.rng();
    if x == 0 {
        // Distinct per thread (stack bounds differ between threads), and mixed (splitmix64's
        // finaliser) so that seeds differing in one bit give unrelated streams: a plain
        // `(seed ^ ..) | 1` made seeds 2 and 3 identical.
        let mut z = seed ^ tls.stack_hi().rotate_left(17) ^ 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x = (z ^ (z >> 31)) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    tls.set_rng(x);
    x
}

/// An exponentially distributed interval with mean `mean` bytes (at least 1).
pub fn next_interval(tls: Tls, mean: u64, seed: u64) -> i64 {
    // 53 random bits -> u in (0, 1]; -ln(u) is Exp(1).
    let u = ((next_u64(tls, seed) >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let v = -u.ln() * mean as f64;
    (v as i64).max(1)
}

/// Horvitz-Thompson weights (bytes, blocks) of a sampled block of `size` bytes.
#[inline]
pub fn weights(size: usize, mean: u64) -> (u64, u64) {
    let s = size.max(1) as f64;
    let p = -(-s / mean as f64).exp_m1();
    ((s / p).round() as u64, (1.0 / p).round().max(1.0) as u64)
}

/// Counts `size` bytes against the thread's countdown; true when this allocation is sampled.
#[inline]
pub fn take(tls: Tls, size: usize, mean: u64, seed: u64) -> bool {
    let mut left = tls.until_sample();
    if tls.rng() == 0 {
        left = next_interval(tls, mean, seed);
    }
    left -= size as i64;
    if left > 0 {
        tls.set_until_sample(left);
        return false;
    }
    // Memoryless: the distance to the next sample point, counted from this block's end, is a
    // fresh exponential draw (further points inside this block add no information).
    tls.set_until_sample(next_interval(tls, mean, seed));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_size_over_probability() {
        let (b, n) = weights(128, DEFAULT_MEAN);
        // p = 1 - exp(-128/524288) ~ 2.4411e-4, so 1/p ~ 4096.5 and s/p ~ 524352.
        assert!((4096..=4097).contains(&n), "{n}");
        assert!((524_300..524_420).contains(&b), "{b}");
        // Huge blocks are always sampled: weight = size.
        assert_eq!(weights(64 << 20, DEFAULT_MEAN), (64 << 20, 1));
    }
}
