//! Theil-Sen slope with Sen's distribution-free confidence interval, over one or several blocks
//! (only pairs within a block are used, so level shifts between blocks do not count as slope).
//!
//! References: Theil (1950); Sen (1968), "Estimates of the regression coefficient based on
//! Kendall's tau", JASA 63, which gives the interval from the variance of Kendall's S.

use crate::mann_kendall::Z_975;
use crate::util::median_in_place;

/// A Theil-Sen fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SenFit {
    /// Median pairwise slope (value units per second).
    pub(crate) slope: f64,
    /// 95 % confidence interval of the slope.
    pub(crate) ci95: [f64; 2],
}

/// Sen slope against the index 0, 1, 2… (used for detrending in the Hamed-Rao correction).
pub(crate) fn sen_slope_index(y: &[f64]) -> f64 {
    let n = y.len();
    let mut s = Vec::with_capacity(n * (n.saturating_sub(1)) / 2);
    for i in 0..n {
        for j in i + 1..n {
            s.push((y[j] - y[i]) / (j - i) as f64);
        }
    }
    median_in_place(&mut s)
}

/// Theil-Sen over blocks of `(t, y)`; `var_s` is the (corrected) variance of Kendall's S over the
/// same blocks, which sets the width of Sen's interval. `None` with fewer than two pairs.
pub(crate) fn theil_sen_blocks(blocks: &[(&[f64], &[f64])], var_s: f64) -> Option<SenFit> {
    let mut slopes = Vec::new();
    for (t, y) in blocks {
        for i in 0..t.len() {
            for j in i + 1..t.len() {
                let dt = t[j] - t[i];
                if dt > 0.0 {
                    slopes.push((y[j] - y[i]) / dt);
                }
            }
        }
    }
    let n = slopes.len();
    if n < 2 {
        return None;
    }
    let c = Z_975 * var_s.max(0.0).sqrt();
    let nf = n as f64;
    // Sen (1968): the bounds are the M1-th and (M2+1)-th ordered slopes, 1-based.
    let m1 = ((nf - c) / 2.0).floor().clamp(1.0, nf) as usize;
    let m2 = ((nf + c) / 2.0).floor().clamp(0.0, nf - 1.0) as usize + 1;
    // Only four order statistics are needed: selected, not sorted (the same values).
    let mut ranks = [m1 - 1, (n - 1) / 2, n / 2, m2.min(n) - 1];
    ranks.sort_unstable();
    let mut at = [0.0; 4];
    let mut lo = 0;
    for (slot, &r) in at.iter_mut().zip(&ranks) {
        let (_, &mut v, _) = slopes[lo..].select_nth_unstable_by(r - lo, f64::total_cmp);
        *slot = v;
        lo = r;
    }
    let value = |r: usize| at[ranks.iter().position(|&x| x == r).expect("a selected rank")];
    let slope = if n % 2 == 1 {
        value(n / 2)
    } else {
        0.5 * (value(n / 2 - 1) + value(n / 2))
    };
    Some(SenFit {
        slope,
        ci95: [value(m1 - 1), value(m2.min(n) - 1)],
    })
}

/// Theil-Sen on one series.
pub(crate) fn theil_sen(t: &[f64], y: &[f64], var_s: f64) -> Option<SenFit> {
    theil_sen_blocks(&[(t, y)], var_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_is_exact_with_a_tight_interval() {
        let t: Vec<f64> = (0..20).map(|i| i as f64 * 2.0).collect();
        let y: Vec<f64> = t.iter().map(|x| 5.0 + 0.25 * x).collect();
        let fit = theil_sen(&t, &y, 950.0).expect("20 points give pairs");
        assert_eq!(fit.slope, 0.25);
        assert_eq!(fit.ci95, [0.25, 0.25]);
    }

    #[test]
    fn blocks_ignore_level_shifts() {
        let t: Vec<f64> = (0..10).map(f64::from).collect();
        let a = vec![1.0; 10];
        let b = vec![50.0; 10];
        let fit = theil_sen_blocks(&[(&t, &a), (&t, &b)], 10.0).expect("pairs");
        assert_eq!(fit.slope, 0.0);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Theil-Sen of a + b·t is b, whatever the spacing of t.
        #[test]
        fn slope_of_a_plus_bt_is_b(
            a in -1e6f64..1e6,
            b in -1e3f64..1e3,
            gaps in proptest::collection::vec(0.1f64..100.0, 3..60),
        ) {
            let mut t = vec![0.0];
            for g in &gaps {
                t.push(t[t.len() - 1] + g);
            }
            let y: Vec<f64> = t.iter().map(|x| a + b * x).collect();
            let fit = theil_sen(&t, &y, 1.0).expect("at least 4 points");
            prop_assert!((fit.slope - b).abs() <= 1e-6 * (1.0 + b.abs()), "{} vs {}", fit.slope, b);
            prop_assert!(fit.ci95[0] <= fit.slope && fit.slope <= fit.ci95[1]);
        }
    }
}
