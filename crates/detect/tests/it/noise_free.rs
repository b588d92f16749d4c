//! Windows that never fall: a heap site's live bytes in the agent's exact mode, an object count.
//! There is no noise to see past, so the trend test takes no serial-correlation correction and
//! a rise that bends like a warm-up is judged by the line under it (see
//! `policy::noise_free_warm_up`).

use leakhound_core::{Series, Unit, Verdict};
use leakhound_detect::{DetectOptions, analyze};

const KIB: f64 = 1024.0;

/// A heap timeline: `n` snapshots about 43 ms apart (a deterministic ±20 % jitter, as a loaded
/// machine takes them), live bytes `f(progress)` rounded down to 4 KiB, where progress runs
/// from 0 to 1 with the snapshot's index.
fn timeline(n: usize, f: impl Fn(f64) -> f64) -> Series {
    let mut t = Vec::with_capacity(n);
    let mut now = 0.0;
    for i in 0..n {
        t.push(now);
        // A fixed pattern of gaps: 0.8, 1.0, 1.2, 0.9, 1.1 × 43 ms.
        now += 0.043 * [0.8, 1.0, 1.2, 0.9, 1.1][i % 5];
    }
    let v = (0..n)
        .map(|i| (f(i as f64 / (n - 1) as f64) / (4.0 * KIB)).floor() * 4.0 * KIB)
        .collect();
    Series::from_parts("heap:leaky_site", Unit::Bytes, t, v)
}

/// A site that leaks 120 KiB per unit of progress from 1 MiB, at a rate that drops to `slow` of
/// itself between `from` and `to` (the program descheduled, or busy elsewhere for a while).
fn leak_with_pause(n: usize, from: f64, to: f64, slow: f64) -> Series {
    // The integral of the rate up to x: the time at full rate less what the slow stretch lost.
    timeline(n, |x| {
        let done = x - (x.min(to) - from).max(0.0) * (1.0 - slow);
        1024.0 * KIB + 1200.0 * KIB * done
    })
}

#[test]
fn a_noise_free_leak_that_slows_for_a_while_is_still_a_leak() {
    // Every snapshot at or above the one before, and the whole run up 15-120 %: with the
    // lag-one correction of memory's trend test, the smooth bend where the rate dropped read as
    // strongly correlated noise, and the 15 bins of a 47-snapshot run had less than one
    // effective sample ("may be rising, not yet significant; need about 0 s more").
    for (n, from, to, slow) in [
        (47, 0.2, 0.5, 0.3),
        (47, 0.33, 0.66, 0.0),
        (80, 0.3, 0.55, 0.0),
        (120, 0.4, 0.6, 0.0),
        (120, 0.1, 0.45, 0.2),
    ] {
        let v = analyze(
            &leak_with_pause(n, from, to, slow),
            &DetectOptions::default(),
        );
        assert_eq!(
            v.verdict,
            Verdict::Leak,
            "n {n}, rate × {slow} over {from}-{to}: {}",
            v.reason
        );
    }
}

/// A cache that warms up exponentially from 1 MiB by `amp` MiB, watched for `k` time constants,
/// with a line under it adding `leak` MiB over the run.
fn warm_up(n: usize, k: f64, amp: f64, leak: f64) -> Series {
    timeline(n, |x| {
        1024.0 * KIB + 1024.0 * KIB * (amp * (1.0 - (-k * x).exp()) + leak * x)
    })
}

#[test]
fn a_noise_free_warm_up_watched_for_a_few_time_constants_is_no_leak() {
    // Every rise of a noise-free series is significant, so the recent half of a warm-up still
    // "rises on its own" however far it has bent: watched for three to four time constants,
    // these were leaks "with no sign of levelling off". Judged as noise-free, they have levelled
    // off: a plateau model fits them as well as a plateau with a line under it, and what is
    // still to come is under 3 % of the level. The same warm-ups with a line under them adding 0.1 MiB over the run
    // (3-7 % of the level) are still leaks.
    let o = DetectOptions::default();
    for (n, k, amp) in [
        (60, 3.0, 1.0),
        (60, 3.5, 2.0),
        (120, 3.0, 1.0),
        (120, 4.0, 0.5),
        (200, 4.0, 1.0),
    ] {
        let v = analyze(&warm_up(n, k, amp, 0.0), &o);
        assert_eq!(
            v.verdict,
            Verdict::NoLeak,
            "n {n}, {k} time constants, +{amp} MiB: {}",
            v.reason
        );
        assert!(v.reason.contains("levelled off"), "{}", v.reason);
        let v = analyze(&warm_up(n, k, amp, 0.1), &o);
        assert_eq!(
            v.verdict,
            Verdict::Leak,
            "n {n}, {k} time constants, +{amp} MiB, leak 0.1 MiB: {}",
            v.reason
        );
    }
}

#[test]
fn a_noise_free_warm_up_with_much_still_to_come_asks_for_more_time() {
    // Three time constants into a warm-up that triples the site: 5 % of its amplitude is still
    // to come, more than 3 % of the level, so it is too early to tell it from a leak that
    // slowed; the verdict says how long to wait for the rest to fall under 3 %.
    for n in [60, 120, 400] {
        let v = analyze(&warm_up(n, 3.0, 2.0, 0.0), &DetectOptions::default());
        assert_eq!(v.verdict, Verdict::Inconclusive, "n {n}: {}", v.reason);
        assert!(v.reason.contains("slowing like a warm-up"), "{}", v.reason);
        let more = v.needs_more_s.expect("how much more");
        assert!(more >= 1.0, "{more}");
        assert!(
            v.reason.contains(&format!("need about {more:.0} s more")),
            "{more}: {}",
            v.reason
        );
        if n == 120 {
            // A third of the 5.1 s window, in tenths (it read "2 s").
            assert!(v.reason.contains("time constant 1.7 s"), "{}", v.reason);
        }
    }
}

#[test]
fn a_noise_free_leak_under_a_warm_up_is_still_a_leak() {
    // Warm-ups with a line under them adding 10-40 % of the base over the run: the line
    // carries what a plateau alone cannot follow.
    for (n, k, amp, leak) in [
        (120, 4.0, 1.0, 0.2),
        (120, 5.0, 2.0, 0.4),
        (400, 5.0, 1.0, 0.1),
        (200, 3.0, 2.0, 0.3),
    ] {
        let v = analyze(&warm_up(n, k, amp, leak), &DetectOptions::default());
        assert_eq!(
            v.verdict,
            Verdict::Leak,
            "n {n}, {k} time constants, +{amp} MiB, leak {leak} MiB: {}",
            v.reason
        );
    }
}

#[test]
fn a_sub_second_timeline_is_not_told_it_needs_0_s_more() {
    // Ten snapshots over 0.4 s: too few, and the sentence gives the same whole seconds as
    // `needs_more_s` (it said "need about 0 s more" for a 2-second timeline).
    let v = analyze(
        &timeline(10, |x| 1024.0 * KIB * (1.0 + x)),
        &DetectOptions::default(),
    );
    assert_eq!(v.verdict, Verdict::Inconclusive, "{}", v.reason);
    let more = v.needs_more_s.expect("how much more");
    assert!(more >= 1.0, "{more}");
    assert!(!v.reason.contains(" 0 s"), "{}", v.reason);
    assert!(
        v.reason.contains(&format!("{more:.0} s more")),
        "{}",
        v.reason
    );
}
