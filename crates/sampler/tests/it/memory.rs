//! Memory counters: RSS, PSS, USS and anonymous memory follow a real allocation.

use leakhound_sampler::{Metric, Sampler};

use crate::{Actor, MIB, delta, proc_of, sample, val};

#[test]
fn allocation_raises_rss_pss_uss_and_anon_by_its_size() {
    const SIZE_MIB: f64 = 64.0;
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    s.set_smaps_budget(None); // PSS and USS fresh at every sample
    let before = proc_of(&sample(&mut s), a.pid()).counters.clone();
    for m in [Metric::PssBytes, Metric::UssBytes, Metric::AnonBytes] {
        assert!(val(&before, m) > 0.0, "{m:?} is measured before");
    }
    assert_eq!(
        val(&before, Metric::SwapBytes),
        0.0,
        "this machine does not swap"
    );

    a.cmd(&format!("alloc {SIZE_MIB}"));
    let after = proc_of(&sample(&mut s), a.pid()).counters.clone();
    // 15 % slack below: the kernel may drop a few clean pages of the interpreter meanwhile. A
    // unit mistake (pages vs KiB vs bytes) would be off by a factor of 4 or more.
    for m in [
        Metric::RssBytes,
        Metric::PssBytes,
        Metric::UssBytes,
        Metric::AnonBytes,
    ] {
        let d = delta(&before, &after, m) / MIB;
        assert!(
            (0.85 * SIZE_MIB..1.25 * SIZE_MIB).contains(&d),
            "{m:?} rose by {d:.1} MiB for a {SIZE_MIB} MiB allocation"
        );
    }
    // Internal consistency: USS <= PSS <= RSS.
    assert!(val(&after, Metric::UssBytes) <= val(&after, Metric::PssBytes));
    assert!(val(&after, Metric::PssBytes) <= val(&after, Metric::RssBytes));
}

#[test]
fn without_smaps_budget_pss_repeats_while_anon_stays_fresh() {
    const SIZE_MIB: f64 = 32.0;
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    // No budget at all: smaps_rollup is read only for processes seen for the first time.
    s.set_smaps_budget(Some(0.0));
    let before = proc_of(&sample(&mut s), a.pid()).counters.clone();
    a.cmd(&format!("alloc {SIZE_MIB}"));
    let stale = proc_of(&sample(&mut s), a.pid()).counters.clone();
    assert_eq!(
        stale.get(Metric::PssBytes),
        before.get(Metric::PssBytes),
        "PSS repeats its last value"
    );
    assert_eq!(stale.get(Metric::UssBytes), before.get(Metric::UssBytes));
    let anon = delta(&before, &stale, Metric::AnonBytes) / MIB;
    assert!(anon > 0.85 * SIZE_MIB, "anon is fresh: +{anon:.1} MiB");
    let rss = delta(&before, &stale, Metric::RssBytes) / MIB;
    assert!(rss > 0.85 * SIZE_MIB, "RSS is fresh: +{rss:.1} MiB");

    // Unlimited again: the next sample reads smaps_rollup.
    s.set_smaps_budget(None);
    let fresh = proc_of(&sample(&mut s), a.pid()).counters.clone();
    let pss = delta(&before, &fresh, Metric::PssBytes) / MIB;
    assert!(pss > 0.85 * SIZE_MIB, "PSS caught up: +{pss:.1} MiB");
}
