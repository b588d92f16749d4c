//! Retained memory per request: the memory floor regressed on the cumulative request count.
//!
//! Under HTTP load, memory that follows the load (buffers, in-flight work, garbage waiting for
//! collection) rises and falls with it; memory that is retained grows with the number of
//! requests served. So the floor of a memory series is taken where load does not hold memory
//! up, and fitted against the requests completed so far: the slope is bytes retained per
//! request.
//!
//! * With idle phases (scenario `cycles`), one floor per idle phase: the minimum over its second
//!   half, when work in flight has drained. The first idle floor is left out when at least four
//!   exist, because the first load phase also pays one-off warm-up (caches filling, allocator
//!   arenas, connection buffers).
//! * Without idle phases, the run is cut into up to [`MAX_WINDOWS`] windows and each window's
//!   minimum is paired with the request count at that moment (the first window, which holds the
//!   start, is left out when at least six exist). When the request rate at those
//!   minima varies (a ramp, steps, bursts), memory that follows the rate would read as retained
//!   (the floors rise with the load, and so does the request count): the rate at each minimum
//!   then enters the fit as a second regressor, and the slope on requests is the one reported
//!   (method `windows_load_adjusted`, `n - 3` degrees of freedom).
//!
//! The slope is ordinary least squares with a Student-t 95 % interval on `n - 2` degrees of
//! freedom (the floors are few and roughly independent: each is a different idle phase or
//! window). Not here: deciding leak or not (see the caller), sampling, load.

use leakhound_core::Series;
use leakhound_core::load::{LoadSecond, RetainedPerRequest};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Windows used without idle phases: enough points for a slope, each window long enough to
/// contain a trough of a sawing (garbage-collected) memory series.
pub const MAX_WINDOWS: usize = 10;

/// Fewest floors a slope is fitted on (two points give no interval).
pub const MIN_FLOORS: usize = 3;

/// Two-sided 95 % interval.
const CI_LEVEL: f64 = 0.95;

/// Retained bytes per request of `memory` under the load described by `load`.
///
/// `load_offset_s` is the time of the load's start on the memory series' clock (the load's
/// per-second rows count from their own start). Returns `None` when fewer than [`MIN_FLOORS`]
/// floors exist or the requests do not vary between them.
pub fn retained_per_request(
    memory: &Series,
    load: &[LoadSecond],
    load_offset_s: f64,
) -> Option<RetainedPerRequest> {
    if memory.is_empty() || load.is_empty() {
        return None;
    }
    let requests_at = |t: f64| requests_at(load, load_offset_s, t);
    let idle = idle_intervals(load, load_offset_s);
    let (mut points, method) = if idle.len() >= MIN_FLOORS {
        let mut pts = Vec::new();
        for (a, b) in &idle {
            let from = a + (b - a) / 2.0;
            if let Some(floor) = min_in(memory, from, *b) {
                pts.push((requests_at(*b), floor));
            }
        }
        (pts, "idle_phases")
    } else {
        let start = load_offset_s;
        let end = load
            .last()
            .map_or(start, |r| r.t_s + load_offset_s)
            .min(memory.t.last().copied().unwrap_or(start));
        let in_load: Vec<usize> = (0..memory.len())
            .filter(|&i| memory.t[i] >= start && memory.t[i] <= end)
            .collect();
        let k = MAX_WINDOWS.min(in_load.len() / 3);
        let mut pts = Vec::new();
        let mut rates = Vec::new();
        for w in 0..k {
            let lo = w * in_load.len() / k;
            let hi = (w + 1) * in_load.len() / k;
            let Some(&i) = in_load[lo..hi]
                .iter()
                .min_by(|&&a, &&b| memory.v[a].total_cmp(&memory.v[b]))
            else {
                continue;
            };
            let ti = memory.t[i];
            pts.push((requests_at(ti), memory.v[i]));
            // The request rate at the minimum: the smaller of the rates over the second before
            // and the second after it (a minimum right after a burst sits at the quiet rate,
            // not at the average across the edge).
            let rate_over = |a: f64, b: f64| {
                let (a, b) = (a.max(start), b.min(end));
                (b > a).then(|| (requests_at(b) - requests_at(a)) / (b - a))
            };
            let before = rate_over(ti - RATE_WINDOW_S, ti);
            let after = rate_over(ti, ti + RATE_WINDOW_S);
            rates.push(match (before, after) {
                (Some(x), Some(y)) => x.min(y),
                (Some(x), None) | (None, Some(x)) => x,
                (None, None) => 0.0,
            });
        }
        // As with idle phases, the first window also holds the start (a fresh process, caches
        // and buffers not yet filled): left out when there are enough others.
        if pts.len() > MIN_FLOORS + 2 {
            pts.remove(0);
            rates.remove(0);
        }
        if varies(&rates)
            && let Some(fit) = ols_adjusted(&pts, &rates)
        {
            return Some(RetainedPerRequest {
                series: memory.name.clone(),
                bytes_per_request: fit.0,
                ci95: [fit.1, fit.2],
                floors: pts.len(),
                method: "windows_load_adjusted".to_string(),
            });
        }
        (pts, "windows")
    };
    if method == "idle_phases" && points.len() > MIN_FLOORS {
        points.remove(0);
    }
    let fit = ols(&points)?;
    Some(RetainedPerRequest {
        series: memory.name.clone(),
        bytes_per_request: fit.0,
        ci95: [fit.1, fit.2],
        floors: points.len(),
        method: method.to_string(),
    })
}

/// Completed requests by time `t` (memory clock), interpolated within each second.
fn requests_at(load: &[LoadSecond], offset: f64, t: f64) -> f64 {
    let mut prev_t = offset;
    let mut prev_n = 0.0;
    for r in load {
        let rt = r.t_s + offset;
        let n = r.requests_total as f64;
        if t <= rt {
            if rt <= prev_t {
                return n;
            }
            let f = ((t - prev_t) / (rt - prev_t)).clamp(0.0, 1.0);
            return prev_n + f * (n - prev_n);
        }
        prev_t = rt;
        prev_n = n;
    }
    prev_n
}

/// `[start, end]` of each run of idle seconds, on the memory clock.
fn idle_intervals(load: &[LoadSecond], offset: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut cur: Option<(f64, f64)> = None;
    let mut prev_end = 0.0;
    for r in load {
        let start = prev_end;
        prev_end = r.t_s;
        if r.phase == "idle" {
            cur = Some(match cur {
                Some((a, _)) => (a, r.t_s),
                None => (start, r.t_s),
            });
        } else if let Some(iv) = cur.take() {
            out.push(iv);
        }
    }
    if let Some(iv) = cur {
        out.push(iv);
    }
    out.into_iter()
        .filter(|(a, b)| b > a)
        .map(|(a, b)| (a + offset, b + offset))
        .collect()
}

fn min_in(s: &Series, from: f64, to: f64) -> Option<f64> {
    s.t.iter()
        .zip(&s.v)
        .filter(|(t, _)| **t >= from && **t <= to)
        .map(|(_, v)| *v)
        .min_by(f64::total_cmp)
}

/// The request rate at a floor is read over this long before it and after it.
const RATE_WINDOW_S: f64 = 1.0;

/// The request rate at the floors varies enough to be fitted: coefficient of variation above
/// 0.2 (an open-model constant rate measured over 2 s varies by a few per cent; a ramp or steps
/// by tens of per cent).
const RATE_CV: f64 = 0.2;

fn varies(rates: &[f64]) -> bool {
    let n = rates.len() as f64;
    if rates.len() < MIN_FLOORS + 2 {
        return false;
    }
    let m = rates.iter().sum::<f64>() / n;
    let sd = (rates.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    m > 0.0 && sd / m > RATE_CV
}

/// OLS slope of y on x with z as a second regressor (Frisch-Waugh: x and y each residualised
/// on `[1, z]`), with its 95 % interval on `n - 3` degrees of freedom: `(slope, lo, hi)`.
/// `None` when x is nearly collinear with z (less than 1 % of its variance left).
fn ols_adjusted(points: &[(f64, f64)], z: &[f64]) -> Option<(f64, f64, f64)> {
    let n = points.len().min(z.len());
    if n < MIN_FLOORS + 2 {
        return None;
    }
    let nf = n as f64;
    let resid = |v: &dyn Fn(usize) -> f64| -> Option<Vec<f64>> {
        let mz = z[..n].iter().sum::<f64>() / nf;
        let mv = (0..n).map(v).sum::<f64>() / nf;
        let szz: f64 = z[..n].iter().map(|zi| (zi - mz).powi(2)).sum();
        if szz <= 0.0 {
            return None;
        }
        let szv: f64 = (0..n).map(|i| (z[i] - mz) * (v(i) - mv)).sum();
        let b = szv / szz;
        Some((0..n).map(|i| v(i) - mv - b * (z[i] - mz)).collect())
    };
    let ex = resid(&|i| points[i].0)?;
    let ey = resid(&|i| points[i].1)?;
    let mx = points[..n].iter().map(|p| p.0).sum::<f64>() / nf;
    let sxx_raw: f64 = points[..n].iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxx: f64 = ex.iter().map(|e| e * e).sum();
    if sxx_raw <= 0.0 || sxx < 0.01 * sxx_raw || !sxx.is_finite() {
        return None;
    }
    let b = ex.iter().zip(&ey).map(|(a, c)| a * c).sum::<f64>() / sxx;
    let ssr: f64 = ex.iter().zip(&ey).map(|(a, c)| (c - b * a).powi(2)).sum();
    let se = (ssr / (nf - 3.0) / sxx).sqrt();
    let t = StudentsT::new(0.0, 1.0, nf - 3.0)
        .ok()?
        .inverse_cdf(1.0 - (1.0 - CI_LEVEL) / 2.0);
    Some((b, b - t * se, b + t * se))
}

/// OLS slope of y on x with its 95 % interval: `(slope, lo, hi)`.
fn ols(points: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let n = points.len();
    if n < MIN_FLOORS {
        return None;
    }
    let nf = n as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let ssr: f64 = points.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
    let se = (ssr / (nf - 2.0) / sxx).sqrt();
    let t = StudentsT::new(0.0, 1.0, nf - 2.0)
        .ok()?
        .inverse_cdf(1.0 - (1.0 - CI_LEVEL) / 2.0);
    Some((b, b - t * se, b + t * se))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakhound_core::Unit;

    fn cycles_load(cycles: usize, load_s: usize, idle_s: usize, rate: u64) -> Vec<LoadSecond> {
        let mut rows = Vec::new();
        let mut total = 0;
        let mut t = 0.0;
        for _ in 0..cycles {
            for (n, phase) in [(load_s, "load"), (idle_s, "idle")] {
                for _ in 0..n {
                    t += 1.0;
                    if phase == "load" {
                        total += rate;
                    }
                    rows.push(LoadSecond {
                        t_s: t,
                        offered: 0,
                        achieved: 0,
                        errors: 0,
                        p99_ms: 0.0,
                        requests_total: total,
                        phase: phase.to_string(),
                    });
                }
            }
        }
        rows
    }

    /// Memory = base + retained × requests + a load-following part while load runs.
    fn memory(load: &[LoadSecond], offset: f64, retained: f64, following: f64) -> Series {
        let mut s = Series::new("rss_bytes", Unit::Bytes);
        s.push(0.0, 50e6);
        for r in load {
            for k in 0..4 {
                let t = r.t_s - 1.0 + 0.25 * (k as f64 + 1.0);
                let n = requests_at(load, 0.0, t);
                let busy = if r.phase == "load" { following } else { 0.0 };
                // A little deterministic noise.
                let noise = ((t * 7.3).sin()) * 20_000.0;
                s.push(t + offset, 50e6 + retained * n + busy + noise);
            }
        }
        s
    }

    #[test]
    fn idle_floors_recover_the_retained_bytes_and_ignore_load_following_memory() {
        let load = cycles_load(6, 10, 5, 200);
        let mem = memory(&load, 3.0, 4096.0, 30e6);
        let r = retained_per_request(&mem, &load, 3.0).unwrap();
        assert_eq!(r.method, "idle_phases");
        assert_eq!(r.floors, 5);
        assert!((r.bytes_per_request - 4096.0).abs() < 100.0, "{r:?}");
        assert!(r.ci95[0] < 4096.0 && r.ci95[1] > 4096.0, "{r:?}");
    }

    #[test]
    fn bounded_memory_has_an_interval_around_zero() {
        let load = cycles_load(6, 10, 5, 200);
        let mem = memory(&load, 0.0, 0.0, 30e6);
        let r = retained_per_request(&mem, &load, 0.0).unwrap();
        assert!(r.ci95[0] <= 0.0 && r.ci95[1] >= 0.0, "{r:?}");
        assert!(r.bytes_per_request.abs() < 50.0, "{r:?}");
    }

    #[test]
    fn constant_load_uses_windows() {
        let mut load = cycles_load(1, 60, 0, 100);
        for r in &mut load {
            r.phase = "constant".into();
        }
        let mem = memory(&load, 0.0, 1000.0, 0.0);
        let r = retained_per_request(&mem, &load, 0.0).unwrap();
        assert_eq!(r.method, "windows");
        assert!((r.bytes_per_request - 1000.0).abs() < 50.0, "{r:?}");
    }

    /// A ramp from 20 to 400 req/s over 100 s, as `LoadSecond` rows.
    fn ramp_load() -> Vec<LoadSecond> {
        let mut rows = Vec::new();
        let mut total = 0;
        for s in 1..=100u64 {
            let rate = 20 + (380 * s) / 100;
            total += rate;
            rows.push(LoadSecond {
                t_s: s as f64,
                offered: rate,
                achieved: rate,
                errors: 0,
                p99_ms: 1.0,
                requests_total: total,
                phase: "ramp".into(),
            });
        }
        rows
    }

    /// Memory = base + retained × requests + `per_rate` × the request rate, sampled 4× a second.
    fn ramp_memory(load: &[LoadSecond], retained: f64, per_rate: f64) -> Series {
        let mut s = Series::new("rss_bytes", Unit::Bytes);
        for r in load {
            for k in 0..4 {
                let t = r.t_s - 1.0 + 0.25 * (k as f64 + 1.0);
                let n = requests_at(load, 0.0, t);
                let rate = 20.0 + 3.8 * t;
                let noise = ((t * 7.3).sin()) * 20_000.0;
                s.push(t, 50e6 + retained * n + per_rate * rate + noise);
            }
        }
        s
    }

    #[test]
    fn memory_following_a_load_ramp_is_not_read_as_retained() {
        let load = ramp_load();
        // 100 KiB per req/s of load, nothing retained: the floors rise 38 MiB with the ramp.
        let r = retained_per_request(&ramp_memory(&load, 0.0, 102_400.0), &load, 0.0).unwrap();
        assert_eq!(r.method, "windows_load_adjusted");
        assert!(r.ci95[0] <= 0.0 && r.ci95[1] >= 0.0, "{r:?}");
        // …and 2 KiB per request retained under the same ramp is found.
        let r = retained_per_request(&ramp_memory(&load, 2048.0, 102_400.0), &load, 0.0).unwrap();
        assert_eq!(r.method, "windows_load_adjusted");
        assert!((r.bytes_per_request - 2048.0).abs() < 150.0, "{r:?}");
        assert!(r.ci95[0] > 0.0, "{r:?}");
    }

    #[test]
    fn too_little_data_gives_none() {
        let load = cycles_load(1, 1, 0, 100);
        let mem = memory(&load, 0.0, 1000.0, 0.0);
        assert!(retained_per_request(&mem, &load, 0.0).is_none());
    }
}
