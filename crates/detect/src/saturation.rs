//! Saturating versus unbounded growth: least-squares fits of a line and of an exponential
//! approach to a plateau, `a + b·(1 − exp(−(t − t0)/τ))`, on an envelope.
//!
//! A bounded cache, a warm-up or any growth that levels off is fitted better by the plateau
//! model with a time constant well inside the window; a leak is not. τ is searched on a
//! geometric grid (the model is linear in `a`, `b` for fixed τ). Not a trend test.

/// Time constants tried, as fractions of the window: 1/50 … 1/2 on a geometric grid of 14 values
/// (each ~1.35× the last). Above W/2 the curve is indistinguishable from a line inside the window,
/// so such a fit says nothing about levelling off.
const TAU_MIN_FRAC: f64 = 1.0 / 50.0;
const TAU_MAX_FRAC: f64 = 0.5;
const TAU_STEPS: usize = 14;

/// Outcome of the model comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Saturation {
    /// Residual sum of squares of the straight line.
    pub(crate) sse_linear: f64,
    /// Residual sum of squares of the best plateau model.
    pub(crate) sse_plateau: f64,
    /// Its time constant (seconds).
    pub(crate) tau: f64,
    /// Its amplitude (`b`); positive means rising towards a plateau.
    pub(crate) amplitude: f64,
    /// The plateau model's slope at the end of the window (value units per second).
    pub(crate) end_slope: f64,
}

fn fit2(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    // Least squares y = a + b x; returns (a, b, sse).
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let mut sxx = 0.0;
    let mut sxy = 0.0;
    for (xi, yi) in x.iter().zip(y) {
        sxx += (xi - mx) * (xi - mx);
        sxy += (xi - mx) * (yi - my);
    }
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let a = my - b * mx;
    let sse = x
        .iter()
        .zip(y)
        .map(|(xi, yi)| (yi - a - b * xi).powi(2))
        .sum();
    (a, b, sse)
}

/// Compare a line with a plateau model on `(t, y)`; `None` with fewer than 6 points.
pub(crate) fn compare(t: &[f64], y: &[f64]) -> Option<Saturation> {
    if t.len() < 6 {
        return None;
    }
    let t0 = t[0];
    let w = t[t.len() - 1] - t0;
    if w <= 0.0 {
        return None;
    }
    let rel: Vec<f64> = t.iter().map(|x| x - t0).collect();
    let (_, _, sse_linear) = fit2(&rel, y);
    let ratio = (TAU_MAX_FRAC / TAU_MIN_FRAC).powf(1.0 / (TAU_STEPS - 1) as f64);
    let mut best: Option<Saturation> = None;
    let mut x = vec![0.0; t.len()];
    for k in 0..TAU_STEPS {
        let tau = w * TAU_MIN_FRAC * ratio.powi(k as i32);
        for (xi, ri) in x.iter_mut().zip(&rel) {
            *xi = 1.0 - (-ri / tau).exp();
        }
        let (_, b, sse) = fit2(&x, y);
        if best.is_none_or(|s| sse < s.sse_plateau) {
            best = Some(Saturation {
                sse_linear,
                sse_plateau: sse,
                tau,
                amplitude: b,
                end_slope: b / tau * (-w / tau).exp(),
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_prefers_plateau_and_line_prefers_line() {
        let t: Vec<f64> = (0..60).map(|i| i as f64 * 10.0).collect();
        let warm: Vec<f64> = t
            .iter()
            .map(|x| 100.0 + 40.0 * (1.0 - (-x / 80.0).exp()))
            .collect();
        let s = compare(&t, &warm).expect("60 points");
        assert!(s.sse_plateau < 0.1 * s.sse_linear);
        assert!(s.end_slope < 1e-3);
        let line: Vec<f64> = t.iter().map(|x| 100.0 + 0.1 * x).collect();
        let s = compare(&t, &line).expect("60 points");
        assert!(s.sse_linear < 1e-9);
        assert!(s.sse_plateau > 1e-3);
    }
}
