//! Monte Carlo checks that the statistics mean what their constants say: the trend test's
//! false-positive rate on trendless noise is its nominal level, the serial-correlation
//! corrections hold it there under autocorrelated noise (where the plain test does not), its
//! power grows with the trend, and Sen's 95 % interval covers the true slope about 95 % of the
//! time. Tests only: deterministic seeds, a few thousand short series each.

use crate::mann_kendall::{MkResult, Serial, mann_kendall};
use crate::theil_sen::theil_sen;

/// Deterministic standard normal draws: SplitMix64 into Box-Muller.
struct Gauss {
    state: u64,
    spare: Option<f64>,
}

impl Gauss {
    fn new(seed: u64) -> Gauss {
        Gauss {
            state: seed,
            spare: None,
        }
    }

    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // (0, 1]: never 0, so the logarithm below is finite.
        ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        if let Some(x) = self.spare.take() {
            return x;
        }
        let r = (-2.0 * self.uniform().ln()).sqrt();
        let a = std::f64::consts::TAU * self.uniform();
        self.spare = Some(r * a.sin());
        r * a.cos()
    }

    /// `n` values of `slope · i` plus AR(1) noise of coefficient `phi` and unit innovations,
    /// started from its stationary distribution.
    fn series(&mut self, n: usize, slope: f64, phi: f64) -> Vec<f64> {
        let mut e = self.normal() / (1.0 - phi * phi).sqrt();
        (0..n)
            .map(|i| {
                if i > 0 {
                    e = phi * e + self.normal();
                }
                slope * i as f64 + e
            })
            .collect()
    }
}

const TRIALS: usize = 4000;
const LEVEL: f64 = 0.05;

/// Share of `TRIALS` series (from `make`) whose one-sided test rejects at [`LEVEL`].
fn rejection_rate(seed: u64, serial: Serial, mut make: impl FnMut(&mut Gauss) -> Vec<f64>) -> f64 {
    let mut g = Gauss::new(seed);
    let hits = (0..TRIALS)
        .filter(|_| {
            let r: MkResult = mann_kendall(&make(&mut g), serial);
            r.p_increasing < LEVEL
        })
        .count();
    hits as f64 / TRIALS as f64
}

/// The binomial standard error of a rate near `p` over [`TRIALS`] draws, for the bounds below:
/// 0.0034 at 5 %.
fn se(p: f64) -> f64 {
    (p * (1.0 - p) / TRIALS as f64).sqrt()
}

#[test]
fn the_plain_test_rejects_trendless_independent_noise_at_its_level() {
    for n in [12, 40, 100] {
        let rate = rejection_rate(11 + n as u64, Serial::None, |g| g.series(n, 0.0, 0.0));
        // The continuity correction makes the test slightly conservative on few values; it
        // must never be liberal. Measured: 4.4 % (n = 12), 4.6 % (40), 5.1 % (100).
        assert!(
            rate <= LEVEL + 4.0 * se(LEVEL) && rate >= LEVEL - 0.02,
            "n = {n}: rejected {:.1} % of trendless series at the 5 % level",
            100.0 * rate
        );
    }
}

#[test]
fn the_corrections_cost_little_size_on_independent_noise() {
    // Hamed-Rao counts only significant autocorrelations and the lag-one widening only
    // positive ones: on independent noise each can only widen the variance, so the test stays
    // at or under its level, and by not much under it (no power thrown away). Measured:
    // Hamed-Rao 4.2 %, lag-one 3.7 %.
    for serial in [Serial::HamedRao, Serial::LagOne] {
        let rate = rejection_rate(23, serial, |g| g.series(40, 0.0, 0.0));
        assert!(
            (LEVEL - 0.025..=LEVEL + 4.0 * se(LEVEL)).contains(&rate),
            "{serial:?}: rejected {:.1} % of trendless independent series",
            100.0 * rate
        );
    }
}

#[test]
fn autocorrelated_noise_needs_the_correction_and_lag_one_holds_the_level() {
    // AR(1) noise at φ = 0.6 (a floor read from overlapping bins, a slowly draining cache):
    // without a correction the test calls a trend in about a fifth of trendless series.
    // Measured: plain 19.0 %, Hamed-Rao 14.6 % (it counts only lags significant on 60
    // values), lag-one 8.3 %. The lag-one correction (used for memory) still rejects a little
    // more than its level: r₁ read from 60 detrended values is biased low, and the hinge
    // detrending takes some of the noise's wander as shape. A small-sample bias correction of
    // r₁ (r₁ + (1 + 3 r₁)/n) only brought it to 7.5 %; the verdict's own level (2 % at the
    // end of a run) and the corpora's false-alarm rates are measured on noise like this.
    let n = 60;
    let plain = rejection_rate(31, Serial::None, |g| g.series(n, 0.0, 0.6));
    let hamed_rao = rejection_rate(31, Serial::HamedRao, |g| g.series(n, 0.0, 0.6));
    let lag_one = rejection_rate(31, Serial::LagOne, |g| g.series(n, 0.0, 0.6));
    assert!(
        plain > 0.12,
        "plain: {:.1} % (AR(1) noise should fool it)",
        100.0 * plain
    );
    assert!(
        hamed_rao < plain && lag_one <= hamed_rao,
        "plain {:.1} %, Hamed-Rao {:.1} %, lag-one {:.1} %: each correction should reject less",
        100.0 * plain,
        100.0 * hamed_rao,
        100.0 * lag_one
    );
    assert!(
        lag_one <= 0.10,
        "lag-one: {:.1} % of trendless AR(1) series rejected at the 5 % level",
        100.0 * lag_one
    );
}

#[test]
fn power_grows_with_the_trend_and_reaches_one() {
    // 40 values, unit noise: a trend of 0.1 per value is 4 noise deviations over the window.
    // Measured: 3.7 %, 15.9 %, 50.3 %, 94.9 %, 100 % (the lag-one correction, as for memory).
    let rates: Vec<f64> = [0.0, 0.01, 0.025, 0.05, 0.1]
        .iter()
        .map(|&b| rejection_rate(47, Serial::LagOne, |g| g.series(40, b, 0.0)))
        .collect();
    assert!(
        rates.windows(2).all(|w| w[1] > w[0]),
        "rejection rates by trend: {rates:?}"
    );
    assert!(rates[4] > 0.99, "rejection rates by trend: {rates:?}");
}

/// Share of `TRIALS` series whose Sen interval (from the test's variance under `serial`)
/// holds the true slope.
fn coverage(seed: u64, serial: Serial, n: usize, slope: f64, phi: f64) -> f64 {
    let mut g = Gauss::new(seed);
    let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let hits = (0..TRIALS)
        .filter(|_| {
            let y = g.series(n, slope, phi);
            let r = mann_kendall(&y, serial);
            let fit = theil_sen(&t, &y, r.var_s).expect("pairs");
            fit.ci95[0] <= slope && slope <= fit.ci95[1]
        })
        .count();
    hits as f64 / TRIALS as f64
}

#[test]
fn sens_interval_covers_the_true_slope_95_percent_of_the_time() {
    // Measured: 95.9 % (n = 20), 95.8 % (40), 95.2 % (100).
    for (n, slope) in [(20, 0.0), (40, 0.05), (100, -0.02)] {
        let c = coverage(59 + n as u64, Serial::None, n, slope, 0.0);
        assert!(
            (0.95 - 4.0 * se(0.05)..=0.985).contains(&c),
            "n = {n}, slope {slope}: the 95 % interval held the slope {:.1} % of the time",
            100.0 * c
        );
    }
}

#[test]
fn under_autocorrelated_noise_the_lag_one_interval_keeps_its_coverage() {
    // AR(1) at φ = 0.6, 60 values. Measured: plain 68.2 %, lag-one 89.5 % (the figure
    // `Serial::LagOne` quotes for the independent corpus's leaks in noise).
    let plain = coverage(67, Serial::None, 60, 0.05, 0.6);
    let lag_one = coverage(67, Serial::LagOne, 60, 0.05, 0.6);
    assert!(
        plain < 0.85,
        "plain: {:.1} % (AR(1) noise should make it too narrow)",
        100.0 * plain
    );
    assert!(
        lag_one >= 0.87,
        "lag-one: the 95 % interval held the slope {:.1} % of the time",
        100.0 * lag_one
    );
}
