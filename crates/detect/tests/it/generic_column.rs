//! A column whose name gives no unit (`value`, as a Prometheus export or another tool writes
//! it) is judged by what its values are: whole numbers of modest size are a count of resources,
//! anything else memory. The verdict must not depend on the column's name.

use leakhound_core::{Series, Unit, Verdict};
use leakhound_detect::{DetectOptions, analyze, analyze_online};

/// A deterministic jitter of whole units in −1..=2 (xorshift).
struct Jitter(u64);
impl Jitter {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 4) as f64 - 1.0
    }
}

/// A socket count of about 22 that strands 3.5 sockets over 44 min (a scrape every 15 s),
/// jittering by a socket or two: 17 % of its level, the size of a slow count leak.
fn small_socket_leak(unit: Unit, name: &str) -> Series {
    let mut j = Jitter(0x2545_F491_4F6C_DD1D);
    let n = 176;
    let t: Vec<f64> = (0..n).map(|i| i as f64 * 15.0).collect();
    let v = t
        .iter()
        .map(|&x| (22.0 + 3.5 * x / 2625.0 + j.next()).round())
        .collect();
    Series::from_parts(name, unit, t, v)
}

/// The same values in bytes (a service of 30 MB rising 10 % in steps of whole pages): memory.
fn rising_memory(unit: Unit, name: &str) -> Series {
    let mut j = Jitter(0x9E37_79B9_7F4A_7C15);
    let n = 240;
    let t: Vec<f64> = (0..n).map(|i| i as f64 * 15.0).collect();
    let v = t
        .iter()
        .map(|&x| (30e6 * (1.0 + 0.1 * x / 3600.0) / 4096.0 + 40.0 * j.next()).round() * 4096.0)
        .collect();
    Series::from_parts(name, unit, t, v)
}

#[test]
fn a_count_in_a_column_named_value_is_judged_as_the_count_it_is() {
    let o = DetectOptions::default();
    let named = analyze(&small_socket_leak(Unit::Sockets, "tcp_established"), &o);
    let generic = analyze(&small_socket_leak(Unit::Count, "value"), &o);
    assert_eq!(named.verdict, Verdict::Leak, "{}", named.reason);
    assert_eq!(generic.verdict, Verdict::Leak, "{}", generic.reason);
    assert_eq!(generic.rate_per_s, named.rate_per_s);
    // Judged as memory (no grain of whole units), the same values are no leak: the column's
    // guess is what this test is about.
    let as_memory = analyze(&small_socket_leak(Unit::Bytes, "rss_bytes"), &o);
    assert_ne!(as_memory.verdict, Verdict::Leak, "{}", as_memory.reason);
    for online in [false, true] {
        let f = if online { analyze_online } else { analyze };
        let a = f(&small_socket_leak(Unit::Sockets, "tcp_established"), &o);
        let b = f(&small_socket_leak(Unit::Count, "value"), &o);
        assert_eq!(
            (a.verdict, a.detected_at_s),
            (b.verdict, b.detected_at_s),
            "online {online}"
        );
    }
}

#[test]
fn memory_in_a_column_named_value_is_judged_as_memory() {
    let o = DetectOptions::default();
    for online in [false, true] {
        let f = if online { analyze_online } else { analyze };
        let a = f(&rising_memory(Unit::Bytes, "rss_bytes"), &o);
        let b = f(&rising_memory(Unit::Count, "value"), &o);
        assert_eq!(a.verdict, Verdict::Leak, "online {online}: {}", a.reason);
        assert_eq!(
            (a.verdict, a.detected_at_s, a.rate_per_s),
            (b.verdict, b.detected_at_s, b.rate_per_s),
            "online {online}"
        );
    }
    // Memory in bytes that is not whole (an average over a scrape interval) is memory too.
    let mut avg = rising_memory(Unit::Count, "value");
    for x in &mut avg.v {
        *x += 0.5;
    }
    let named = analyze(&rising_memory(Unit::Bytes, "rss_bytes"), &o);
    assert_eq!(analyze(&avg, &o).verdict, named.verdict);
}

#[test]
fn memory_in_kib_in_a_column_named_value_is_judged_as_memory() {
    // `VmRSS` or `ps -o rss` copied into a generic column: whole KiB, multiples of a 4 KiB page,
    // about 29,000 for a 30 MB service. Whole and under a million, they were a count.
    let o = DetectOptions::default();
    let bytes = rising_memory(Unit::Bytes, "rss_bytes");
    let mut kib = rising_memory(Unit::Count, "value");
    for x in &mut kib.v {
        *x /= 1024.0;
    }
    assert!(kib.v.iter().all(|x| x.fract() == 0.0 && x % 4.0 == 0.0));
    assert!(leakhound_detect::judged_as_memory(&kib));
    for online in [false, true] {
        let f = if online { analyze_online } else { analyze };
        let (a, b) = (f(&bytes, &o), f(&kib, &o));
        assert_eq!(a.verdict, Verdict::Leak, "online {online}: {}", a.reason);
        assert_eq!(
            (a.verdict, a.detected_at_s),
            (b.verdict, b.detected_at_s),
            "online {online}: {}",
            b.reason
        );
        let (ra, rb) = (a.rate_per_s.unwrap(), b.rate_per_s.unwrap());
        assert!(
            (ra / 1024.0 - rb).abs() <= 1e-9 * ra,
            "{ra} B/s, {rb} KiB/s"
        );
    }
    // A count whose samples all happen to be multiples of 4 stays a count while it is small
    // (a pool of 4-thread workers), and so does a large count that is not.
    let workers = Series::from_parts(
        "value",
        Unit::Count,
        (0..100).map(f64::from).collect(),
        (0..100).map(|i| f64::from(4 * (10 + i % 3))).collect(),
    );
    assert!(!leakhound_detect::judged_as_memory(&workers));
    let goroutines = Series::from_parts(
        "value",
        Unit::Count,
        (0..100).map(f64::from).collect(),
        (0..100).map(|i| f64::from(50_000 + i)).collect(),
    );
    assert!(!leakhound_detect::judged_as_memory(&goroutines));
}
