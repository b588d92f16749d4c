//! Small order statistics shared by the tests (median, quantile, MAD), and the bit-for-bit
//! comparison the memos use.

/// Median of a slice (reorders it). `0.0` for an empty slice.
pub(crate) fn median_in_place(x: &mut [f64]) -> f64 {
    quantile_in_place(x, 0.5)
}

/// The `q` quantile (linear interpolation between order statistics; reorders the slice).
pub(crate) fn quantile_in_place(x: &mut [f64], q: f64) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    let (_, &mut a, rest) = x.select_nth_unstable_by(lo, f64::total_cmp);
    if frac == 0.0 || rest.is_empty() {
        return a;
    }
    let b = rest.iter().copied().fold(f64::INFINITY, f64::min);
    a + frac * (b - a)
}

/// Whether two slices hold the same values bit for bit (so `-0.0` and `0.0` differ, and a NaN
/// equals itself): what a memo must check before it returns an earlier result.
pub(crate) fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// 1.4826 converts a median absolute deviation into a normal-consistent standard deviation
/// (Rousseeuw & Croux 1993).
pub(crate) const MAD_TO_SIGMA: f64 = 1.4826;

/// Robust standard deviation: 1.4826 × MAD around the median.
pub(crate) fn robust_sigma(x: &[f64]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    let mut a = x.to_vec();
    let m = median_in_place(&mut a);
    for v in a.iter_mut() {
        *v = (*v - m).abs();
    }
    MAD_TO_SIGMA * median_in_place(&mut a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let mut x = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(median_in_place(&mut x), 2.5);
        assert_eq!(quantile_in_place(&mut x, 0.0), 1.0);
        assert_eq!(quantile_in_place(&mut x, 1.0), 4.0);
    }

    #[test]
    fn robust_sigma_ignores_one_outlier() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 1000.0];
        assert!(robust_sigma(&x) < 4.0);
    }
}
