//! Memory counters: RSS, PSS, USS and anonymous memory follow a real allocation.

use leakhound_sampler::{Metric, Sampler};

use crate::{Actor, MIB, delta, proc_of, sample, val};

#[test]
fn allocation_raises_rss_pss_uss_and_anon_by_its_size() {
    const SIZE_MIB: f64 = 64.0;
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
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
    for m in [
        Metric::RssBytes,
        Metric::PssBytes,
        Metric::UssBytes,
        Metric::AnonBytes,
    ] {
        let d = delta(&before, &after, m) / MIB;
        assert!(
            (0.95 * SIZE_MIB..1.25 * SIZE_MIB).contains(&d),
            "{m:?} rose by {d:.1} MiB for a {SIZE_MIB} MiB allocation"
        );
    }
    // Internal consistency: USS <= PSS <= RSS.
    assert!(val(&after, Metric::UssBytes) <= val(&after, Metric::PssBytes));
    assert!(val(&after, Metric::PssBytes) <= val(&after, Metric::RssBytes));
}
