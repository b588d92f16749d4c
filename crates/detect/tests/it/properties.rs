//! Properties of the public verdicts: invariance to the scale of the values and causality of
//! online alarms (cut the series at the alarm, run again, get the same alarm). See: issue #4.

use leakhound_core::{Series, Unit, Verdict};
use leakhound_detect::{
    DetectOptions, OnlineMonitor, analyze, analyze_online, analyze_online_with_load,
    analyze_with_load,
};
use proptest::prelude::*;

/// A random but plausible series: base, linear growth, a saturating part, a sawtooth, noise.
fn arb_series() -> impl Strategy<Value = Series> {
    (
        40usize..400,
        1.0f64..30.0,
        1e6f64..1e9,
        -0.2f64..0.6,
        0.0f64..0.5,
        0.0f64..0.3,
        0.0f64..0.02,
        any::<u64>(),
    )
        .prop_map(|(n, dt, base, growth, warm, saw, noise, seed)| {
            let mut x = seed | 1;
            let mut rnd = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            };
            let len = n as f64 * dt;
            let t: Vec<f64> = (0..n).map(|i| i as f64 * dt).collect();
            let v = t
                .iter()
                .map(|&s| {
                    base * (1.0
                        + growth * s / len
                        + warm * (1.0 - (-s / (0.1 * len)).exp())
                        + saw * ((s / (7.3 * dt)) % 1.0)
                        + noise * rnd())
                })
                .collect();
            Series::from_parts("rss_bytes", Unit::Bytes, t, v)
        })
}

fn scaled(s: &Series, k: f64) -> Series {
    Series::from_parts(
        s.name.clone(),
        s.unit,
        s.t.clone(),
        s.v.iter().map(|v| v * k).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Scaling by a power of two is exact in floating point, so any dependence of a verdict on
    /// the magnitude of the values (an absolute threshold) shows up as a different verdict.
    #[test]
    fn verdicts_do_not_depend_on_the_scale(s in arb_series(), k in -20i32..20) {
        let o = DetectOptions::default();
        let f = 2f64.powi(k);
        let a = analyze(&s, &o);
        let b = analyze(&scaled(&s, f), &o);
        prop_assert_eq!(a.verdict, b.verdict);
        prop_assert_eq!(a.detected_at_s, b.detected_at_s);
        let a = analyze_online(&s, &o);
        let b = analyze_online(&scaled(&s, f), &o);
        prop_assert_eq!(a.verdict, b.verdict);
        prop_assert_eq!(a.detected_at_s, b.detected_at_s);
    }

    /// Only time since the first sample counts, not the clock it is read on: the same series on
    /// a Unix-time clock (a Prometheus export) gets the same verdicts, its alarm at the same
    /// sample. Sample times on a 1/1024 s grid keep the moved clock exact in floating point.
    #[test]
    fn verdicts_do_not_depend_on_the_clocks_origin(s in arb_series(), origin in 1.0e9f64..2.0e9) {
        let o = DetectOptions::default();
        let origin = origin.round();
        let grid = |t: f64| (t * 1024.0).round() / 1024.0;
        let here = Series::from_parts(
            s.name.clone(),
            s.unit,
            s.t.iter().map(|&t| grid(t)).collect(),
            s.v.clone(),
        );
        let moved = Series::from_parts(
            s.name.clone(),
            s.unit,
            here.t.iter().map(|&t| t + origin).collect(),
            s.v.clone(),
        );
        for (a, b) in [
            (analyze(&here, &o), analyze(&moved, &o)),
            (analyze_online(&here, &o), analyze_online(&moved, &o)),
        ] {
            prop_assert_eq!(a.verdict, b.verdict);
            prop_assert_eq!(a.detected_at_s.map(|t| t + origin), b.detected_at_s);
            prop_assert_eq!(a.rate_per_s, b.rate_per_s);
            prop_assert_eq!(a.reason, b.reason);
        }
    }

    /// An online alarm uses no sample after it: the prefix up to the alarm alarms at the same time.
    #[test]
    fn online_alarm_is_causal(s in arb_series()) {
        let o = DetectOptions::default();
        let v = analyze_online(&s, &o);
        if let Some(at) = v.detected_at_s {
            prop_assert_eq!(v.verdict, Verdict::Leak);
            let cut = analyze_online(&s.prefix_until(at), &o);
            prop_assert_eq!(cut.verdict, Verdict::Leak);
            prop_assert_eq!(cut.detected_at_s, Some(at));
            prop_assert_eq!(cut.rate_per_s, v.rate_per_s);
        } else {
            prop_assert_ne!(v.verdict, Verdict::Leak);
        }
    }

    /// The monitor `run` and `watch` feed a sample at a time raises the alarm of
    /// `analyze_online` on the whole series, at the same sample and in the same words (the whole
    /// series' last sample aside: `analyze_online` judges it as the end, the monitor waits for
    /// more), and none when it has none.
    #[test]
    fn the_monitor_fed_sample_by_sample_alarms_as_the_online_mode(s in arb_series()) {
        let o = DetectOptions::default();
        let whole = analyze_online(&s, &o);
        let mut monitor = OnlineMonitor::new();
        let mut grown = Series::new(s.name.clone(), s.unit);
        let mut raised = None;
        for (&t, &v) in s.t.iter().zip(&s.v) {
            grown.push(t, v);
            if let Some(a) = monitor.update(&grown, &o) {
                raised = Some(a.clone());
            }
        }
        prop_assert_eq!(monitor.alarm().cloned(), raised.clone());
        let last = s.t.last().copied();
        match (whole.detected_at_s, raised) {
            (Some(at), Some(r)) => {
                prop_assert_eq!(r.detected_at_s, Some(at));
                prop_assert_eq!(r.verdict, Verdict::Leak);
                prop_assert_eq!(r.reason, whole.reason);
                prop_assert_eq!(r.rate_per_s, whole.rate_per_s);
            }
            (Some(at), None) => prop_assert_eq!(Some(at), last),
            (None, Some(r)) => prop_assert!(false, "monitor alarmed at {:?}, the online mode never", r.detected_at_s),
            (None, None) => {}
        }
    }
}

#[test]
fn a_decimal_scale_keeps_clear_verdicts() {
    let o = DetectOptions::default();
    let t: Vec<f64> = (0..300).map(|i| i as f64 * 10.0).collect();
    let leak: Vec<f64> = t
        .iter()
        .map(|x| 5e8 + 2e4 * x + 1e6 * (x * 0.37).sin())
        .collect();
    let flat: Vec<f64> = t.iter().map(|x| 5e8 + 1e6 * (x * 0.37).sin()).collect();
    for (v, want) in [(leak, Verdict::Leak), (flat, Verdict::NoLeak)] {
        let s = Series::from_parts("rss_bytes", Unit::Bytes, t.clone(), v);
        for k in [1.0, 1e-3, 7.0, 1e3] {
            assert_eq!(analyze(&scaled(&s, k), &o).verdict, want, "scale {k}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Odd input never panics: duplicate and gapped timestamps, zeros, negatives, integer counts,
    /// non-finite values; every verdict carries a sentence.
    #[test]
    fn odd_series_never_panic(
        steps in proptest::collection::vec(prop_oneof![Just(0.0f64), 0.5f64..5.0, 100.0f64..1000.0], 0..150),
        vals in proptest::collection::vec(prop_oneof![
            Just(0.0f64), Just(1.0f64), -5.0f64..5.0, 0.0f64..1e12, Just(f64::NAN)
        ], 0..150),
        counts in any::<bool>(),
    ) {
        let n = steps.len().min(vals.len());
        let mut t = Vec::with_capacity(n);
        let mut x = 0.0;
        for s in &steps[..n] {
            x += s;
            t.push(x);
        }
        let v: Vec<f64> = vals[..n]
            .iter()
            .map(|v| if counts { v.round() } else { *v })
            .collect();
        let unit = if counts { Unit::Fds } else { Unit::Bytes };
        let s = Series::from_parts("x", unit, t, v);
        let o = DetectOptions { limit: Some(1e9), ..DetectOptions::default() };
        for verdict in [analyze(&s, &o), analyze_online(&s, &o)] {
            prop_assert!(!verdict.reason.is_empty());
            prop_assert_eq!(verdict.leak_detected, verdict.verdict == Verdict::Leak);
            if let Some(r) = verdict.rate_per_s {
                prop_assert!(r.is_finite());
            }
        }
    }
}

/// A request counter (cumulative) and memory for `rate(t)`: `held` bytes per req/s of load in
/// flight, `retained` bytes per request served, a deterministic ripple.
fn with_load(
    n: usize,
    dt: f64,
    rate: impl Fn(f64) -> f64,
    held: f64,
    retained: f64,
) -> (Series, Series) {
    loaded_by(n, dt, rate, |_, r, s| 4e8 + held * r + retained * s)
}

/// Every 10 s for `n` samples: `busy` req/s for the first third of every `period` samples,
/// 100 req/s otherwise; 300 kB held per req/s and `retained` bytes per request served.
fn bursts_of_load(n: usize, period: usize, busy: f64, retained: f64) -> (Series, Series) {
    let dt = 10.0;
    let p = period as f64 * dt;
    with_load(
        n,
        dt,
        |x| if x % p < p / 3.0 { busy } else { 100.0 },
        3e5,
        retained,
    )
}

/// Memory and a request counter for `rate(t)`: memory `mem(t, rate, served)` plus a
/// deterministic ripple.
fn loaded_by(
    n: usize,
    dt: f64,
    rate: impl Fn(f64) -> f64,
    mem: impl Fn(f64, f64, f64) -> f64,
) -> (Series, Series) {
    let t: Vec<f64> = (0..n).map(|i| i as f64 * dt).collect();
    let mut served = 0.0;
    let mut c = Vec::with_capacity(n);
    let mut v = Vec::with_capacity(n);
    for &x in &t {
        served += rate(x) * dt;
        c.push(served.round());
        v.push(mem(x, rate(x), served) + 2e6 * (x * 0.21).sin());
    }
    (
        Series::from_parts("rss_bytes", Unit::Bytes, t.clone(), v),
        Series::from_parts("requests_total", Unit::Count, t, c),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// With load as a covariate the online alarm is causal too: the load-following part is
    /// fitted on the samples and requests seen so far.
    #[test]
    fn online_alarm_with_load_is_causal(
        n in 200usize..700,
        period in 20usize..120,
        busy in 200.0f64..2000.0,
        retained in prop_oneof![Just(0.0f64), 200.0f64..4000.0],
    ) {
        let (mem, req) = bursts_of_load(n, period, busy, retained);
        let o = DetectOptions::default();
        let v = analyze_online_with_load(&mem, &req, &o);
        if let Some(at) = v.detected_at_s {
            let cut = analyze_online_with_load(&mem.prefix_until(at), &req.prefix_until(at), &o);
            prop_assert_eq!(cut.verdict, Verdict::Leak);
            prop_assert_eq!(cut.detected_at_s, Some(at));
            prop_assert_eq!(cut.rate_per_s, v.rate_per_s);
        } else {
            prop_assert_ne!(v.verdict, Verdict::Leak);
        }
    }

    /// The monitor with load, fed memory and requests a sample at a time (as `run --load`
    /// feeds it), raises the alarm of `analyze_online_with_load` at the same sample.
    #[test]
    fn the_monitor_with_load_alarms_as_the_online_mode(
        n in 200usize..600,
        period in 20usize..120,
        busy in 200.0f64..2000.0,
        retained in prop_oneof![Just(0.0f64), 200.0f64..4000.0],
    ) {
        let (mem, req) = bursts_of_load(n, period, busy, retained);
        let o = DetectOptions::default();
        let whole = analyze_online_with_load(&mem, &req, &o);
        let mut monitor = OnlineMonitor::new();
        let mut m = Series::new(mem.name.clone(), mem.unit);
        let mut r = Series::new(req.name.clone(), req.unit);
        for i in 0..mem.t.len() {
            m.push(mem.t[i], mem.v[i]);
            r.push(req.t[i], req.v[i]);
            if monitor.update_with_load(&m, &r, &o).is_some() {
                break;
            }
        }
        let raised = monitor.alarm().and_then(|a| a.detected_at_s);
        match whole.detected_at_s {
            Some(at) if Some(at) != mem.t.last().copied() => prop_assert_eq!(raised, Some(at)),
            Some(_) => {}
            None => prop_assert_eq!(raised, None),
        }
    }
}

#[test]
fn memory_that_follows_a_load_ramp_is_no_leak_with_the_load() {
    let o = DetectOptions::default();
    // Quiet, then a ramp from 100 to 600 req/s, then busy: 1 MB held per req/s.
    let ramp = |x: f64| 100.0 + 500.0 * ((x - 1500.0) / 1500.0).clamp(0.0, 1.0);
    let (mem, req) = with_load(450, 10.0, ramp, 1e6, 0.0);
    assert_eq!(analyze_online(&mem, &o).verdict, Verdict::Leak);
    let v = analyze_online_with_load(&mem, &req, &o);
    assert_eq!(v.verdict, Verdict::NoLeak, "{}", v.reason);
    assert_eq!(analyze_with_load(&mem, &req, &o).verdict, Verdict::NoLeak);
    // The same ramp with 2 kB retained per request is a leak, with the load or without.
    let (mem, req) = with_load(450, 10.0, ramp, 1e6, 2e3);
    assert_eq!(analyze(&mem, &o).verdict, Verdict::Leak);
    let v = analyze_with_load(&mem, &req, &o);
    assert_eq!(v.verdict, Verdict::Leak, "{}", v.reason);
    // Constant load: the load cannot be told from the intercept and changes nothing.
    let (mem, req) = with_load(300, 10.0, |_| 250.0, 1e6, 1e3);
    assert_eq!(
        analyze_online_with_load(&mem, &req, &o).detected_at_s,
        analyze_online(&mem, &o).detected_at_s
    );
}

#[test]
fn a_rise_while_the_load_climbs_waits_for_the_load_to_stop() {
    let o = DetectOptions::default();
    // The morning of a daily cycle, 8 h from the night's 100 req/s towards the afternoon's
    // 1100, sampled every minute; the memory held for the work in flight grows with the load
    // but less than in proportion (pools and buffers are shared): 40 MB per √(req/s).
    let day = |x: f64| 100.0 + 1000.0 * (0.5 - 0.5 * (std::f64::consts::TAU * x / 86_400.0).cos());
    let (mem, req) = loaded_by(480, 60.0, day, |_, r, _| 4e8 + 4e7 * r.sqrt());
    // Without the load it is a leak; with it, no alarm and no leak verdict: the load climbed
    // with the memory all along.
    assert_eq!(analyze_online(&mem, &o).verdict, Verdict::Leak);
    let v = analyze_online_with_load(&mem, &req, &o);
    assert_ne!(v.verdict, Verdict::Leak, "{}", v.reason);
    let v = analyze_with_load(&mem, &req, &o);
    assert_eq!(v.verdict, Verdict::Inconclusive, "{}", v.reason);
    assert!(
        v.reason.contains("the load is still climbing"),
        "{}",
        v.reason
    );
    // A leak of 2 kB per request under a ramp from 100 to 600 req/s over the first 40 min,
    // then a steady 600 req/s for 3 h 20 min: no alarm while the load climbs, an alarm once
    // it has held for a while.
    let ramp = |x: f64| 100.0 + 500.0 * (x / 2400.0).min(1.0);
    let (mem, req) = loaded_by(1440, 10.0, ramp, |_, r, s| 4e8 + 1e6 * r + 2e3 * s);
    let v = analyze_online_with_load(&mem, &req, &o);
    assert_eq!(v.verdict, Verdict::Leak, "{}", v.reason);
    let at = v.detected_at_s.expect("an alarm");
    assert!(at > 2400.0, "alarm at {at} s, while the load still climbed");
    assert_eq!(
        analyze_with_load(&mem.prefix_until(2400.0), &req.prefix_until(2400.0), &o).verdict,
        Verdict::Inconclusive
    );
}
