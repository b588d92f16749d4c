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

/// A line on top of a warm-up, `a + b·(1 − exp(−(t − t0)/τ)) + c·(t − t0)`: a leak that goes on
/// under a warm-up that levels off. The line's slope `c` is the leak's own rate, which the
/// warm-up's early climb inflates in any slope of the whole window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LineUnderWarmUp {
    /// The line's slope (value units per second).
    pub(crate) rate: f64,
    /// Its standard error, widened for lag-1 autocorrelation of the residuals.
    pub(crate) rate_se: f64,
    /// The warm-up's time constant (seconds) and amplitude (`b`).
    pub(crate) tau: f64,
    pub(crate) amplitude: f64,
    /// Residual sums of squares: this model, and the straight line.
    pub(crate) sse: f64,
    pub(crate) sse_linear: f64,
}

/// Fit [`LineUnderWarmUp`] on `(t, y)`: τ from a geometric grid of [`WARM_LINE_GRID`] points
/// between [`WARM_LINE_TAU_MIN_FRAC`] and half the window, refined by golden-section search on
/// log τ; `None` with fewer than 8 points or a singular fit.
pub(crate) fn line_under_warm_up(t: &[f64], y: &[f64]) -> Option<LineUnderWarmUp> {
    let n = t.len();
    if n < 8 {
        return None;
    }
    let t0 = t[0];
    let w = t[n - 1] - t0;
    if w <= 0.0 {
        return None;
    }
    let rel: Vec<f64> = t.iter().map(|x| (x - t0) / w).collect();
    let (_, _, sse_linear) = fit2(&rel, y);
    let frac = best_frac(|frac| fit_warm_line(&rel, y, frac).map_or(f64::INFINITY, |f| f.1))?;
    let (beta, sse, se, resid) = fit_warm_line(&rel, y, frac)?;
    // Serially correlated residuals (an envelope's bins) carry less information than their
    // number: the variance of a slope grows by about (1 + ρ)/(1 − ρ) for lag-1 correlation ρ.
    let rho = lag1(&resid).clamp(0.0, 0.9);
    Some(LineUnderWarmUp {
        rate: beta[2] / w,
        rate_se: se * ((1.0 + rho) / (1.0 - rho)).sqrt() / w,
        tau: frac * w,
        amplitude: beta[1],
        sse,
        sse_linear,
    })
}

/// The time constant (a fraction of the window) that minimises `sse_at`: a coarse geometric grid
/// of [`WARM_LINE_GRID`] points between [`WARM_LINE_TAU_MIN_FRAC`] and [`TAU_MAX_FRAC`], then
/// golden-section search on log τ between the best point's neighbours (a model's slope under a
/// warm-up is sensitive to τ, and a grid step of 1.35× biased it by up to half). `None` when
/// no point of the grid can be fitted.
fn best_frac(sse_at: impl Fn(f64) -> f64) -> Option<f64> {
    let lo = (WARM_LINE_TAU_MIN_FRAC).ln();
    let hi = (TAU_MAX_FRAC).ln();
    let step = (hi - lo) / (WARM_LINE_GRID - 1) as f64;
    let sse_ln = |ln_frac: f64| sse_at(ln_frac.exp());
    let (k_best, best) = (0..WARM_LINE_GRID)
        .map(|k| (k, sse_ln(lo + step * k as f64)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    if !best.is_finite() {
        return None;
    }
    let (a, b) = (
        lo + step * (k_best.max(1) - 1) as f64,
        lo + step * (k_best + 1).min(WARM_LINE_GRID - 1) as f64,
    );
    Some(golden_section(sse_ln, a, b, 30).exp())
}

/// Golden-section search for the minimum of `f` on `[a, b]`, `rounds` steps (each keeps one of
/// the two inner points and evaluates only the new one, shrinking the bracket by 0.618): the
/// middle of the last bracket.
fn golden_section(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64, rounds: usize) -> f64 {
    let g = 0.5 * (5.0_f64.sqrt() - 1.0);
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..rounds {
        if fc <= fd {
            (b, d, fd) = (d, c, fc);
            c = b - g * (b - a);
            fc = f(c);
        } else {
            (a, c, fc) = (c, d, fd);
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    0.5 * (a + b)
}

/// Whether a rise needs a line under its warm-up: the plateau model `a + b·(1 − exp(−t/τ))` and
/// [`LineUnderWarmUp`], both with τ refined ([`best_frac`]), on the same points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NestedWarmUp {
    /// The plateau model alone: residual sum of squares, time constant (s), amplitude.
    pub(crate) sse_plateau: f64,
    pub(crate) tau: f64,
    pub(crate) amplitude: f64,
    /// The warm-up with a line under it.
    pub(crate) with_line: LineUnderWarmUp,
    /// Points fitted.
    pub(crate) n: usize,
}

impl NestedWarmUp {
    /// The line's share of the fit: the F statistic of the line's one extra parameter,
    /// `(sse_plateau − sse) / (sse / (n − 4))` (∞ when the richer model fits exactly and the
    /// plateau does not).
    pub(crate) fn line_f(&self) -> f64 {
        let gain = (self.sse_plateau - self.with_line.sse).max(0.0);
        let s2 = self.with_line.sse / (self.n - 4) as f64;
        if s2 > 0.0 {
            gain / s2
        } else if gain > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    }
}

/// Fit [`NestedWarmUp`] on `(t, y)`; `None` with fewer than 8 points or a singular fit.
pub(crate) fn nested_warm_up(t: &[f64], y: &[f64]) -> Option<NestedWarmUp> {
    let with_line = line_under_warm_up(t, y)?;
    let n = t.len();
    let t0 = t[0];
    let w = t[n - 1] - t0;
    let rel: Vec<f64> = t.iter().map(|x| (x - t0) / w).collect();
    let plateau = |frac: f64| {
        let x: Vec<f64> = rel.iter().map(|r| 1.0 - (-r / frac).exp()).collect();
        fit2(&x, y)
    };
    let frac = best_frac(|frac| plateau(frac).2)?;
    let (_, amplitude, sse_plateau) = plateau(frac);
    Some(NestedWarmUp {
        sse_plateau,
        tau: frac * w,
        amplitude,
        with_line,
        n,
    })
}

/// A warm-up in two stages, `a + b1·(1 − exp(−t/τ1)) + b2·(1 − exp(−t/τ2))` with τ1 < τ2: a
/// JIT or pools warm within minutes, caches over tens of minutes, and once the fast stage is
/// over the slow one rises almost in a line for a while. The same number of parameters as
/// [`LineUnderWarmUp`] (a warm-up with a leak under it), so their residual sums of squares
/// compare directly: one bends where the other keeps a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TwoStage {
    /// Residual sum of squares.
    pub(crate) sse: f64,
    /// The fast stage: time constant (seconds) and amplitude.
    pub(crate) tau_fast: f64,
    pub(crate) amp_fast: f64,
    /// The slow stage: time constant (seconds) and amplitude.
    pub(crate) tau_slow: f64,
    pub(crate) amp_slow: f64,
    /// Residual sum of squares of the best two-stage warm-up with a line under it (one
    /// parameter more): how much a leak under both stages would add to the fit.
    pub(crate) sse_with_line: f64,
    /// That line's rise over the window (value units).
    pub(crate) line_rise: f64,
}

impl TwoStage {
    /// What both stages have still to add after `w` seconds from the window's start.
    pub(crate) fn left_after(&self, w: f64) -> f64 {
        self.amp_fast.max(0.0) * (-w / self.tau_fast).exp()
            + self.amp_slow.max(0.0) * (-w / self.tau_slow).exp()
    }
}

/// Longest slow-stage time constant tried for [`two_stage`], as a fraction of the window: 1.
/// A stage watched for less than one time constant still rises at over a third of its first
/// rate at the end, close enough to a line that a line under the fast stage fits it about as
/// well; the two-stage model only wins where the window shows the slow stage bend.
const TWO_STAGE_TAU_MAX_FRAC: f64 = 1.0;

/// Fit [`TwoStage`] on `(t, y)`: both time constants on one geometric grid of
/// [`WARM_LINE_GRID`] points from [`WARM_LINE_TAU_MIN_FRAC`] to [`TWO_STAGE_TAU_MAX_FRAC`] of
/// the window (ratio about 1.26 between neighbours), τ1 < τ2, the amplitudes by least squares
/// for each pair (276 pairs); the best pair then refined ([`refine_pair`]), for the two stages
/// and for the two stages with a line under them each. `None` with fewer than 8 points or no
/// pair fitted.
pub(crate) fn two_stage(t: &[f64], y: &[f64]) -> Option<TwoStage> {
    let n = t.len();
    if n < 8 {
        return None;
    }
    let t0 = t[0];
    let w = t[n - 1] - t0;
    if w <= 0.0 {
        return None;
    }
    let rel: Vec<f64> = t.iter().map(|x| (x - t0) / w).collect();
    let mean = y.iter().sum::<f64>() / n as f64;
    let yc: Vec<f64> = y.iter().map(|v| v - mean).collect();
    let lo = WARM_LINE_TAU_MIN_FRAC.ln();
    let step = (TWO_STAGE_TAU_MAX_FRAC.ln() - lo) / (WARM_LINE_GRID - 1) as f64;
    let frac = |k: usize| (lo + step * k as f64).exp();
    // Each stage's basis once per grid point rather than once per pair.
    let bases: Vec<Vec<f64>> = (0..WARM_LINE_GRID)
        .map(|k| {
            let f = frac(k);
            rel.iter().map(|r| 1.0 - (-r / f).exp()).collect()
        })
        .collect();
    let mut plain = (f64::INFINITY, 0, 0);
    let mut lined = (f64::INFINITY, 0, 0);
    for fast in 0..WARM_LINE_GRID {
        for slow in fast + 1..WARM_LINE_GRID {
            let (bf, bs) = (&bases[fast], &bases[slow]);
            if let Some((sse, _)) = least_squares_rows(&yc, |i| [1.0, bf[i], bs[i], rel[i]])
                && sse < lined.0
            {
                lined = (sse, fast, slow);
            }
            if let Some((sse, _)) = least_squares_rows(&yc, |i| [1.0, bf[i], bs[i]])
                && sse < plain.0
            {
                plain = (sse, fast, slow);
            }
        }
    }
    if !plain.0.is_finite() {
        return None;
    }
    // Both time constants refined between the grid's neighbours (a step of 1.26× leaves a
    // curvature that a line under the stages would take up).
    let hi = TWO_STAGE_TAU_MAX_FRAC.ln();
    let basis = |ln_frac: f64| -> Vec<f64> {
        let f = ln_frac.exp();
        rel.iter().map(|r| 1.0 - (-r / f).exp()).collect()
    };
    let fit_plain = |lf: f64, ls: f64| {
        let (bf, bs) = (basis(lf), basis(ls));
        least_squares_rows(&yc, |i| [1.0, bf[i], bs[i]])
    };
    let fit_lined = |lf: f64, ls: f64| {
        let (bf, bs) = (basis(lf), basis(ls));
        least_squares_rows(&yc, |i| [1.0, bf[i], bs[i], rel[i]])
    };
    let grid = |k: usize| lo + step * k as f64;
    let (lf, ls) = refine_pair(
        |lf, ls| fit_plain(lf, ls).map_or(f64::INFINITY, |f| f.0),
        (grid(plain.1), grid(plain.2)),
        step,
        (lo, hi),
    );
    let (sse, beta) = fit_plain(lf, ls)?;
    let (mut sse_with_line, mut line_rise) = (f64::INFINITY, 0.0);
    if lined.0.is_finite() {
        let (lf, ls) = refine_pair(
            |lf, ls| fit_lined(lf, ls).map_or(f64::INFINITY, |f| f.0),
            (grid(lined.1), grid(lined.2)),
            step,
            (lo, hi),
        );
        if let Some((s, beta)) = fit_lined(lf, ls) {
            (sse_with_line, line_rise) = (s, beta[3]);
        }
    }
    Some(TwoStage {
        sse,
        tau_fast: lf.exp() * w,
        amp_fast: beta[1],
        tau_slow: ls.exp() * w,
        amp_slow: beta[2],
        // The richer model can do no worse than the one it contains.
        sse_with_line: sse_with_line.min(sse),
        line_rise: if sse_with_line < sse { line_rise } else { 0.0 },
    })
}

/// Refine a pair of log time constants `(fast, slow)` from a grid point: golden-section search
/// on each in turn within one grid `step` either side (and within `bounds`, fast < slow), three
/// rounds. Returns the pair; `sse` is infinite where the fit fails.
fn refine_pair(
    sse: impl Fn(f64, f64) -> f64,
    (mut fast, mut slow): (f64, f64),
    step: f64,
    bounds: (f64, f64),
) -> (f64, f64) {
    // The search's end point, unless the start was better (the bracket need not hold one
    // minimum only).
    let golden = |f: &dyn Fn(f64) -> f64, a: f64, b: f64, start: f64| -> f64 {
        let x = golden_section(f, a, b, 16);
        if f(x) <= f(start) { x } else { start }
    };
    for _ in 0..3 {
        let lo = (fast - step).max(bounds.0);
        let hi = (fast + step).min(slow - 1e-6);
        if hi > lo {
            fast = golden(&|x| sse(x, slow), lo, hi, fast);
        }
        let lo = (slow - step).max(fast + 1e-6);
        let hi = (slow + step).min(bounds.1);
        if hi > lo {
            slow = golden(&|x| sse(fast, x), lo, hi, slow);
        }
    }
    (fast, slow)
}

/// Least squares of `y` on `K` regressors given per row, through the normal equations solved
/// by Gaussian elimination with partial pivoting: the residual sum of squares and the
/// coefficients; `None` when the equations are singular. `y` is best centred (the first
/// regressor a constant): the normal equations then stay well conditioned for values in the
/// billions.
fn least_squares_rows<const K: usize>(
    y: &[f64],
    row: impl Fn(usize) -> [f64; K],
) -> Option<(f64, [f64; K])> {
    let mut m = [[0.0_f64; K]; K];
    let mut r = [0.0_f64; K];
    for (i, yi) in y.iter().enumerate() {
        let p = row(i);
        for a in 0..K {
            for b in 0..K {
                m[a][b] += p[a] * p[b];
            }
            r[a] += p[a] * yi;
        }
    }
    let scale = (0..K).map(|a| m[a][a].abs()).fold(0.0, f64::max);
    for col in 0..K {
        let piv = (col..K).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[piv][col].abs() <= 1e-12 * scale {
            return None;
        }
        m.swap(col, piv);
        r.swap(col, piv);
        let pivot = m[col];
        for below in col + 1..K {
            let f = m[below][col] / pivot[col];
            for (x, p) in m[below].iter_mut().zip(pivot).skip(col) {
                *x -= f * p;
            }
            r[below] -= f * r[col];
        }
    }
    let mut beta = [0.0; K];
    for a in (0..K).rev() {
        let known: f64 = (a + 1..K).map(|c| m[a][c] * beta[c]).sum();
        beta[a] = (r[a] - known) / m[a][a];
    }
    let sse = y
        .iter()
        .enumerate()
        .map(|(i, yi)| {
            let p = row(i);
            (yi - (0..K).map(|a| beta[a] * p[a]).sum::<f64>()).powi(2)
        })
        .sum();
    Some((sse, beta))
}

/// Shortest warm-up time constant tried for [`line_under_warm_up`], as a fraction of the window:
/// 1/200 (a warm-up over within the first bin or two of a long window still bends them).
const WARM_LINE_TAU_MIN_FRAC: f64 = 1.0 / 200.0;
/// Grid points before the golden-section refinement.
const WARM_LINE_GRID: usize = 24;

/// Least squares of `y` on 1, `1 − exp(−x/frac)` and `x` (`x` in window units): the
/// coefficients, the residual sum of squares, the slope's standard error (window units) and
/// the residuals.
fn fit_warm_line(x: &[f64], y: &[f64], frac: f64) -> Option<([f64; 3], f64, f64, Vec<f64>)> {
    let f = least_squares3(x, y, |xi| [1.0, 1.0 - (-xi / frac).exp(), xi])?;
    let s2 = f.sse / (x.len() - 3) as f64;
    Some((f.beta, f.sse, (s2 * f.inv[2][2]).max(0.0).sqrt(), f.resid))
}

/// A least-squares fit of `y` on three functions of `x`.
struct Fit3 {
    beta: [f64; 3],
    /// Inverse of the normal matrix: `s² · inv[k][k]` is coefficient k's variance.
    inv: [[f64; 3]; 3],
    resid: Vec<f64>,
    sse: f64,
}

/// Least squares of `y` on `basis(x)` through the 3×3 normal equations; `None` when they are
/// singular.
fn least_squares3(x: &[f64], y: &[f64], basis: impl Fn(f64) -> [f64; 3]) -> Option<Fit3> {
    let mut m = [[0.0_f64; 3]; 3];
    let mut r = [0.0_f64; 3];
    for (&xi, yi) in x.iter().zip(y) {
        let p = basis(xi);
        for a in 0..3 {
            for b in 0..3 {
                m[a][b] += p[a] * p[b];
            }
            r[a] += p[a] * yi;
        }
    }
    let inv = invert3(&m)?;
    let mut beta = [0.0; 3];
    for (a, v) in beta.iter_mut().enumerate() {
        *v = (0..3).map(|b| inv[a][b] * r[b]).sum();
    }
    let resid: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(&xi, yi)| {
            let p = basis(xi);
            yi - beta[0] * p[0] - beta[1] * p[1] - beta[2] * p[2]
        })
        .collect();
    let sse = resid.iter().map(|e| e * e).sum();
    Some(Fit3 {
        beta,
        inv,
        resid,
        sse,
    })
}

/// Lag-1 autocorrelation of `e` (0 when it has no variance).
pub(crate) fn lag1(e: &[f64]) -> f64 {
    let den: f64 = e.iter().map(|x| x * x).sum();
    if den <= 0.0 {
        return 0.0;
    }
    e.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / den
}

/// Curvature of `(t, y)` from a least-squares parabola: the t-statistic of the quadratic term
/// and the parabola's slope at the last point (value units per second). `None` with fewer than 6 points.
pub(crate) fn curvature(t: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = t.len();
    if n < 6 {
        return None;
    }
    let (t0, t1) = (t[0], t[n - 1]);
    if t1 <= t0 {
        return None;
    }
    // Centred, scaled x in [-1, 1] keeps the normal equations well conditioned.
    let x: Vec<f64> = t.iter().map(|v| 2.0 * (v - t0) / (t1 - t0) - 1.0).collect();
    let Fit3 { beta, inv, sse, .. } = least_squares3(&x, y, |xi| [1.0, xi, xi * xi])?;
    let s2 = sse / (n - 3) as f64;
    let se_c = (s2 * inv[2][2]).max(0.0).sqrt();
    let t_c = if se_c > 0.0 {
        beta[2] / se_c
    } else if beta[2] == 0.0 {
        0.0
    } else {
        beta[2].signum() * f64::INFINITY
    };
    // Slope at the end (x = 1) is beta1 + 2·beta2 per x unit; one x unit is (t1 − t0)/2 s.
    Some((t_c, (beta[1] + 2.0 * beta[2]) * 2.0 / (t1 - t0)))
}

fn invert3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if det.abs() < 1e-300 {
        return None;
    }
    let c = |a: usize, b: usize| {
        let (r0, r1) = ((a + 1) % 3, (a + 2) % 3);
        let (c0, c1) = ((b + 1) % 3, (b + 2) % 3);
        m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
    };
    let mut inv = [[0.0; 3]; 3];
    for (a, row) in inv.iter_mut().enumerate() {
        for (b, v) in row.iter_mut().enumerate() {
            *v = c(b, a) / det;
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curvature_sees_a_concave_rise_and_not_a_line() {
        let t: Vec<f64> = (0..40).map(f64::from).collect();
        let line: Vec<f64> = t
            .iter()
            .map(|x| 3.0 + 0.5 * x + 0.01 * (x * 7.0).sin())
            .collect();
        let (tc, end) = curvature(&t, &line).expect("40 points");
        assert!(tc.abs() < 5.0 && (end - 0.5).abs() < 0.02, "{tc} {end}");
        let warm: Vec<f64> = t.iter().map(|x| 10.0 * (1.0 - (-x / 30.0).exp())).collect();
        let (tc, end) = curvature(&t, &warm).expect("40 points");
        // True end slope is e^(-39/30)/3 ≈ 0.09; mean slope ≈ 0.18.
        assert!(tc < -10.0 && end < 0.12, "{tc} {end}");
    }

    #[test]
    fn two_stages_fit_a_warm_up_in_two_stages_and_a_line_under_them_shows() {
        // 2 h every minute: 300 MB with a time constant of 2 min, 300 MB more with one of 40.
        let t: Vec<f64> = (0..120).map(|i| f64::from(i) * 60.0).collect();
        let w = t[119];
        let warm: Vec<f64> = t
            .iter()
            .map(|x| 1e9 + 3e8 * (1.0 - (-x / 120.0).exp()) + 3e8 * (1.0 - (-x / 2400.0).exp()))
            .collect();
        let two = two_stage(&t, &warm).expect("120 points");
        let line = line_under_warm_up(&t, &warm).expect("120 points");
        assert!(two.sse < 0.01 * line.sse, "{two:?} {line:?}");
        // Within one grid step (×1.26) of the truth.
        assert!((two.tau_fast / 120.0).ln().abs() < 0.26, "{two:?}");
        assert!((two.tau_slow / 2400.0).ln().abs() < 0.26, "{two:?}");
        assert!(two.amp_fast > 0.0 && two.amp_slow > 0.0, "{two:?}");
        assert!(
            two.sse_with_line <= two.sse && two.line_rise.abs() < 1e7,
            "{two:?}"
        );
        let left = two.left_after(w);
        let truth = 3e8 * (-w / 2400.0_f64).exp();
        assert!((left / truth - 1.0).abs() < 0.5, "{left} vs {truth}");
        // A line of 100 MB over the window under the same stages: the richer model takes it.
        let leak: Vec<f64> = t.iter().zip(&warm).map(|(x, y)| y + 1e8 * x / w).collect();
        let two = two_stage(&t, &leak).expect("120 points");
        assert!(two.sse_with_line < 0.2 * two.sse, "{two:?}");
        assert!((two.line_rise / 1e8 - 1.0).abs() < 0.3, "{two:?}");
    }

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

    #[test]
    fn nested_fits_tell_a_plain_warm_up_from_one_with_a_line_under_it() {
        // A warm-up rounded to whole units (as a heap timeline is to pages), with and without a
        // line under it adding 10 % of its amplitude over the window.
        let t: Vec<f64> = (0..120).map(|i| f64::from(i) * 0.05).collect();
        let w = t[t.len() - 1];
        let warm = |line: f64| -> Vec<f64> {
            t.iter()
                .map(|x| (1000.0 + 400.0 * (1.0 - (-x / (w / 3.5)).exp()) + line * x / w).floor())
                .collect()
        };
        let plain = nested_warm_up(&t, &warm(0.0)).expect("120 points");
        assert!((plain.tau / (w / 3.5) - 1.0).abs() < 0.1, "{plain:?}");
        assert!((plain.amplitude / 400.0 - 1.0).abs() < 0.05, "{plain:?}");
        assert!(plain.line_f() < 10.0, "{}: {plain:?}", plain.line_f());
        let leak = nested_warm_up(&t, &warm(40.0)).expect("120 points");
        assert!(leak.line_f() > 100.0, "{}: {leak:?}", leak.line_f());
        assert!(
            (leak.with_line.rate * w / 40.0 - 1.0).abs() < 0.2,
            "{leak:?}"
        );
    }

    #[test]
    fn the_line_under_a_warm_up_is_the_slope_after_it_whatever_its_time_constant() {
        // τ between grid points and below the plateau model's shortest one, with a ±0.2 % wobble.
        let t: Vec<f64> = (0..80).map(|i| f64::from(i) * 15.0).collect();
        for tau in [9.0, 47.0, 130.0, 333.0] {
            let y: Vec<f64> = t
                .iter()
                .map(|x| 500.0 - 200.0 * (-x / tau).exp() + 0.02 * x + 1.0 * (x * 0.37).sin())
                .collect();
            let m = line_under_warm_up(&t, &y).expect("80 points");
            assert!((m.rate / 0.02 - 1.0).abs() < 0.05, "tau {tau}: {m:?}");
            assert!(
                m.amplitude > 150.0 && m.sse < 0.01 * m.sse_linear,
                "tau {tau}: {m:?}"
            );
            assert!(m.rate_se > 0.0 && m.rate_se < 0.005, "tau {tau}: {m:?}");
        }
        // A plain line gains nothing from a warm-up term.
        let y: Vec<f64> = t
            .iter()
            .map(|x| 100.0 + 0.1 * x + (x * 0.37).sin())
            .collect();
        let m = line_under_warm_up(&t, &y).expect("80 points");
        assert!(
            (m.rate / 0.1 - 1.0).abs() < 0.01 && m.sse > 0.8 * m.sse_linear,
            "{m:?}"
        );
    }
}
