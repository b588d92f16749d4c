//! Descriptor counts by kind, and threads.

use leakhound_sampler::{Metric, Sampler};

use crate::{Actor, delta, proc_of, sample, val};

#[test]
fn descriptors_are_counted_by_kind() {
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    let before = proc_of(&sample(&mut s), a.pid()).counters.clone();
    assert_eq!(val(&before, Metric::FdsSocket), 0.0);

    a.cmd("files 5");
    a.cmd("pipes 3");
    a.cmd("epoll");
    let after = proc_of(&sample(&mut s), a.pid()).counters.clone();

    assert_eq!(delta(&before, &after, Metric::FdsFile), 5.0);
    assert_eq!(delta(&before, &after, Metric::FdsPipe), 6.0);
    assert_eq!(delta(&before, &after, Metric::FdsAnonInode), 1.0);
    assert_eq!(delta(&before, &after, Metric::FdsSocket), 0.0);
    assert_eq!(delta(&before, &after, Metric::FdsOther), 0.0);
    assert_eq!(delta(&before, &after, Metric::Fds), 12.0);
    // The kinds add up to the total.
    let kinds = [
        Metric::FdsFile,
        Metric::FdsSocket,
        Metric::FdsPipe,
        Metric::FdsAnonInode,
        Metric::FdsOther,
    ];
    let sum: f64 = kinds.iter().map(|&m| val(&after, m)).sum();
    assert_eq!(sum, val(&after, Metric::Fds));
}

#[test]
fn threads_are_counted() {
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    let before = proc_of(&sample(&mut s), a.pid()).counters.clone();
    assert!(val(&before, Metric::Threads) >= 1.0);
    a.cmd("threads 3");
    let after = sample(&mut s);
    assert_eq!(
        delta(&before, &proc_of(&after, a.pid()).counters, Metric::Threads),
        3.0
    );
    assert_eq!(
        val(&after.total, Metric::Threads),
        val(&proc_of(&after, a.pid()).counters, Metric::Threads)
    );
}
