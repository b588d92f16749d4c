//! Yardsticks scored on the same corpus as the detector: the alert rules services usually
//! carry, and the textbook trend test, as issue 4 describes them. They are run here, not in
//! Prometheus, with the parameters written below, so the comparison is on the same series
//! and the same scoring.
//!
//! - [`Baseline::Deriv`]: `deriv(v[1h]) > 0.02 * avg_over_time(v[1h]) / 3600` for 15 min: the
//!   least-squares slope over the last hour's samples above 2 % of that hour's mean per hour
//!   (memory growing faster than about half its size a day), at every sample for 15 minutes.
//! - [`Baseline::PredictLinear`]: `predict_linear(v[1h], 4 * 3600) > limit` for 15 min, the
//!   limit 1.5 × the run's median: a container limit with 50 % headroom over typical usage.
//! - [`Baseline::MannKendall`]: Mann-Kendall (normal approximation, no tie or autocorrelation
//!   correction, one-sided 5 %) and a positive Theil-Sen slope on a lower envelope: the
//!   minimum of each of 20 equal-time bins. Online at the detector's checkpoints (every 2 % of
//!   the elapsed time, from the 18th sample), the first significant one alarms; at the end of
//!   a run, the whole series.
//!
//! An alert rule has no end-of-run verdict of its own: its end-of-run verdict is whether it
//! fired at all during the run, with the run's last timestamp as the detection time.

use leakhound_core::{Series, Verdict};

use crate::families::Item;
use crate::score::Outcome;

/// Which yardstick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// `deriv(v[1h]) > 2 % of the hour's mean per hour`, for 15 min.
    Deriv,
    /// `predict_linear(v[1h], 4h) > 1.5 × the run's median`, for 15 min.
    PredictLinear,
    /// Mann-Kendall + Theil-Sen on a lower envelope of 20 bins.
    MannKendall,
}

impl Baseline {
    /// Parse a name as `--baseline` takes it.
    pub fn from_name(s: &str) -> Option<Baseline> {
        match s {
            "deriv" => Some(Baseline::Deriv),
            "predict-linear" => Some(Baseline::PredictLinear),
            "mann-kendall" => Some(Baseline::MannKendall),
            _ => None,
        }
    }

    /// The rule in one line, for the scorer's header.
    pub fn describe(self) -> &'static str {
        match self {
            Baseline::Deriv => "deriv(v[1h]) > 0.02 * avg_over_time(v[1h]) / 3600, for 15m",
            Baseline::PredictLinear => {
                "predict_linear(v[1h], 4 * 3600) > 1.5 * median of the run, for 15m"
            }
            Baseline::MannKendall => {
                "Mann-Kendall (one-sided 5 %, no correction) + Theil-Sen > 0 on 20-bin minima"
            }
        }
    }
}

/// The hour a Prometheus range vector `[1h]` covers.
const RANGE_S: f64 = 3600.0;
/// The `for:` clause of the alert rules.
const FOR_S: f64 = 15.0 * 60.0;
/// `deriv` threshold: this fraction of the hour's mean, per hour.
const DERIV_PER_H: f64 = 0.02;
/// `predict_linear` horizon.
const HORIZON_S: f64 = 4.0 * 3600.0;
/// `predict_linear` limit: this multiple of the run's median.
const LIMIT_OVER_MEDIAN: f64 = 1.5;
/// Envelope bins of the textbook test.
const MK_BINS: usize = 20;
/// One-sided 5 % critical value of the standard normal.
const Z_95: f64 = 1.644_853_6;
/// Samples before the first online checkpoint (as the detector's `MIN_SAMPLES`).
const MK_MIN_SAMPLES: usize = 18;
/// Checkpoint spacing as a fraction of the elapsed time (as the detector's).
const CHECK_FRACTION: f64 = 0.02;

/// Every item judged by `b`, end of run and online.
pub fn evaluate(items: &[Item], b: Baseline) -> Vec<(Outcome, Outcome)> {
    items.iter().map(|it| judge(&it.series, b)).collect()
}

fn outcome(at: Option<f64>) -> Outcome {
    Outcome {
        verdict: if at.is_some() {
            Verdict::Leak
        } else {
            Verdict::NoLeak
        },
        detected_at_s: at,
    }
}

/// End-of-run and online outcomes of one series.
pub fn judge(s: &Series, b: Baseline) -> (Outcome, Outcome) {
    let (t, v): (Vec<f64>, Vec<f64>) =
        s.t.iter()
            .zip(&s.v)
            .filter(|(t, v)| t.is_finite() && v.is_finite())
            .map(|(t, v)| (*t, *v))
            .unzip();
    let last = t.last().copied();
    match b {
        Baseline::Deriv | Baseline::PredictLinear => {
            let fired = alert_rule(&t, &v, b);
            (outcome(fired.and(last)), outcome(fired))
        }
        Baseline::MannKendall => {
            let end = (t.len() >= MK_MIN_SAMPLES && mk_rises(&t, &v))
                .then_some(last)
                .flatten();
            let mut next = f64::NEG_INFINITY;
            let mut online = None;
            for i in MK_MIN_SAMPLES..=t.len() {
                let now = t[i - 1];
                if now < next && i < t.len() {
                    continue;
                }
                next = now + CHECK_FRACTION * (now - t[0]);
                if mk_rises(&t[..i], &v[..i]) {
                    online = Some(now);
                    break;
                }
            }
            (outcome(end), outcome(online))
        }
    }
}

/// The first time an alert rule has held for [`FOR_S`], evaluated at every sample over the
/// samples of the last [`RANGE_S`] (at least two).
fn alert_rule(t: &[f64], v: &[f64], b: Baseline) -> Option<f64> {
    let n = t.len();
    if n < 2 {
        return None;
    }
    let limit = {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        LIMIT_OVER_MEDIAN * s[n / 2]
    };
    // Sliding least squares, on times and values taken from the first sample (precision).
    let (t0, v0) = (t[0], v[0]);
    let (mut st, mut sv, mut stt, mut stv) = (0.0, 0.0, 0.0, 0.0);
    let mut lo = 0;
    let mut since: Option<f64> = None;
    for hi in 0..n {
        let (x, y) = (t[hi] - t0, v[hi] - v0);
        st += x;
        sv += y;
        stt += x * x;
        stv += x * y;
        while t[hi] - t[lo] > RANGE_S {
            let (x, y) = (t[lo] - t0, v[lo] - v0);
            st -= x;
            sv -= y;
            stt -= x * x;
            stv -= x * y;
            lo += 1;
        }
        let k = (hi - lo + 1) as f64;
        let den = k * stt - st * st;
        let holds = if k >= 2.0 && den > 0.0 {
            let slope = (k * stv - st * sv) / den;
            let (mt, mv) = (st / k, sv / k + v0);
            match b {
                Baseline::Deriv => slope > DERIV_PER_H * mv / 3600.0,
                _ => mv + slope * (t[hi] - t0 - mt) + slope * HORIZON_S > limit,
            }
        } else {
            false
        };
        if !holds {
            since = None;
            continue;
        }
        let from = *since.get_or_insert(t[hi]);
        if t[hi] - from >= FOR_S {
            return Some(t[hi]);
        }
    }
    None
}

/// Mann-Kendall and Theil-Sen on the minima of [`MK_BINS`] equal-time bins.
fn mk_rises(t: &[f64], v: &[f64]) -> bool {
    let (t0, t1) = (t[0], t[t.len() - 1]);
    if t1 <= t0 {
        return false;
    }
    let w = (t1 - t0) / MK_BINS as f64;
    let mut env: Vec<(f64, f64)> = Vec::with_capacity(MK_BINS);
    let mut cur: Option<(usize, f64, f64)> = None;
    for (&x, &y) in t.iter().zip(v) {
        let b = (((x - t0) / w) as usize).min(MK_BINS - 1);
        match &mut cur {
            Some((cb, _, m)) if *cb == b => *m = m.min(y),
            _ => {
                if let Some((cb, _, m)) = cur {
                    env.push((t0 + (cb as f64 + 0.5) * w, m));
                }
                cur = Some((b, x, y));
            }
        }
    }
    if let Some((cb, _, m)) = cur {
        env.push((t0 + (cb as f64 + 0.5) * w, m));
    }
    let m = env.len();
    if m < 4 {
        return false;
    }
    let mut s = 0i64;
    let mut slopes = Vec::with_capacity(m * (m - 1) / 2);
    for i in 0..m {
        for j in i + 1..m {
            let d = env[j].1 - env[i].1;
            s += (d > 0.0) as i64 - (d < 0.0) as i64;
            slopes.push(d / (env[j].0 - env[i].0));
        }
    }
    let mf = m as f64;
    let var = mf * (mf - 1.0) * (2.0 * mf + 5.0) / 18.0;
    let z = (s - s.signum()) as f64 / var.sqrt();
    slopes.sort_by(f64::total_cmp);
    z > Z_95 && slopes[slopes.len() / 2] > 0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakhound_core::Unit;

    fn series(n: usize, dt: f64, f: impl Fn(f64) -> f64) -> Series {
        let t: Vec<f64> = (0..n).map(|i| i as f64 * dt).collect();
        let v = t.iter().map(|&x| f(x)).collect();
        Series::from_parts("rss_bytes", Unit::Bytes, t, v)
    }

    #[test]
    fn the_rules_fire_on_a_fast_rise_and_not_on_a_flat_line() {
        // 10 % an hour for 6 h at 15 s, and a flat line that flips between two values.
        let rise = series(1440, 15.0, |x| 1e9 * (1.0 + 0.1 * x / 3600.0));
        let flat = series(1440, 15.0, |x| 1e9 + 1e6 * ((x / 15.0) as u64 % 2) as f64);
        for b in [
            Baseline::Deriv,
            Baseline::PredictLinear,
            Baseline::MannKendall,
        ] {
            let (end, onl) = judge(&rise, b);
            assert_eq!(
                (end.verdict, onl.verdict),
                (Verdict::Leak, Verdict::Leak),
                "{b:?}"
            );
            let (end, onl) = judge(&flat, b);
            assert_eq!(
                (end.verdict, onl.verdict),
                (Verdict::NoLeak, Verdict::NoLeak),
                "{b:?}"
            );
        }
        // deriv: the slope (10 %/h) is over 2 %/h from the second sample; the alarm comes when
        // the `for:` clause has held, 15 min later.
        let at = |b| judge(&rise, b).1.detected_at_s.expect("an alarm");
        assert_eq!(at(Baseline::Deriv), FOR_S + 15.0);
        // predict_linear: the limit is 1.5 × the median (1.30e9), crossed 4 h ahead once the
        // value passes 1.55e9, at 5.50 h; then 15 min of `for:`.
        let crossing = (1.5 * 1.2998e9 - 0.4e9 - 1e9) / 1e8 * 3600.0;
        let p = at(Baseline::PredictLinear);
        assert!((p - (crossing + FOR_S)).abs() < 60.0, "{p} vs {crossing}");
        // The textbook test alarms within its first checkpoints.
        assert!(at(Baseline::MannKendall) < 600.0);
    }

    #[test]
    fn a_slow_leak_escapes_deriv_but_not_the_trend_test() {
        // 5 % over a day: far under deriv's 2 %/h, plain for Mann-Kendall at the end.
        let slow = series(1440, 60.0, |x| 1e9 * (1.0 + 0.05 * x / 86400.0));
        assert_eq!(judge(&slow, Baseline::Deriv).0.verdict, Verdict::NoLeak);
        assert_eq!(judge(&slow, Baseline::MannKendall).0.verdict, Verdict::Leak);
    }

    #[test]
    fn the_textbook_test_fires_online_on_a_wave_and_not_at_the_end() {
        // A 1 % wave of an hour's period, for 6 h: what repeated testing without persistence
        // does to the textbook test. The limit rule, 50 % above, stays quiet.
        let wave = series(1440, 15.0, |x| 1e9 * (1.0 + 0.01 * (x / 600.0).sin()));
        let (end, onl) = judge(&wave, Baseline::MannKendall);
        assert_eq!((end.verdict, onl.verdict), (Verdict::NoLeak, Verdict::Leak));
        assert_eq!(
            judge(&wave, Baseline::PredictLinear).1.verdict,
            Verdict::NoLeak
        );
    }
}
