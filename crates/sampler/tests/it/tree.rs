//! Process-tree discovery: descendants, children that come and go, zombies, reparenting, exit.

use std::process::Command;
use std::time::{Duration, Instant};

use leakhound_sampler::{Metric, Sampler, SamplerError};

use crate::{Actor, pids, proc_of, sample, val};

#[test]
fn unknown_pid_is_no_such_process() {
    match Sampler::new(u32::MAX) {
        Err(e @ SamplerError::NoSuchProcess { pid: u32::MAX }) => {
            assert_eq!(e.to_string(), "no process with PID 4294967295");
        }
        other => panic!("expected NoSuchProcess, got {other:?}"),
    }
    // A PID that existed a moment ago.
    let mut c = Command::new("true").spawn().expect("true runs");
    let pid = c.id();
    c.wait().expect("true exits");
    assert!(matches!(
        Sampler::new(pid),
        Err(SamplerError::NoSuchProcess { pid: p }) if p == pid
    ));
}

#[test]
fn shell_tree_is_found_root_first_and_totals_add_up() {
    let mut sh = Command::new("sh")
        .args(["-c", "sleep 30 & sleep 30 & wait"])
        .spawn()
        .expect("sh runs");
    let mut s = Sampler::new(sh.id()).expect("sh exists");
    let deadline = Instant::now() + Duration::from_secs(10);
    let t = loop {
        let t = sample(&mut s);
        // A child is seen as `sh` between its fork and its exec of sleep: wait for both execs.
        let execd = t.processes.len() == 3 && t.processes[1..].iter().all(|p| p.comm == "sleep");
        if execd || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = sh.kill();
    let _ = sh.wait();
    for p in &t.processes[1..] {
        // The two sleeps we started (sampled a moment ago, so still ours).
        let _ = Command::new("kill").arg(p.pid.to_string()).status();
    }

    assert_eq!(pids(&t).len(), 3, "{:?}", t.processes);
    assert_eq!(t.processes[0].pid, sh.id());
    assert_eq!(t.processes[0].comm, "sh");
    for p in &t.processes[1..] {
        assert_eq!(p.comm, "sleep");
        assert_eq!(p.ppid, sh.id());
    }
    assert_eq!(val(&t.total, Metric::Processes), 3.0);
    for m in [
        Metric::RssBytes,
        Metric::Fds,
        Metric::Threads,
        Metric::PssBytes,
    ] {
        let sum: f64 = t.processes.iter().map(|p| val(&p.counters, m)).sum();
        assert_eq!(val(&t.total, m), sum, "{m:?}");
    }
    assert!(t.unreadable.is_empty(), "{:?}", t.unreadable);
}

#[test]
fn children_that_appear_and_exit_are_followed_then_dropped() {
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    assert_eq!(pids(&sample(&mut s)), vec![a.pid()]);

    let c1 = a.cmd_pids("spawn")[0];
    let c2 = a.cmd_pids("spawn")[0];
    let t = sample(&mut s);
    assert_eq!(t.processes[0].pid, a.pid(), "root first");
    let mut children = pids(&t)[1..].to_vec();
    children.sort_unstable();
    let mut expected = vec![c1, c2];
    expected.sort_unstable();
    assert_eq!(children, expected);
    assert_eq!(proc_of(&t, c1).ppid, a.pid());
    assert_eq!(proc_of(&t, c1).comm, "sleep");
    assert_eq!(val(&t.total, Metric::Processes), 3.0);

    a.cmd("reap");
    let t = sample(&mut s);
    assert_eq!(pids(&t), vec![a.pid()]);
    assert_eq!(val(&t.total, Metric::Processes), 1.0);
}

#[test]
fn zombie_children_count_as_exited() {
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    let z = a.cmd_pids("zombie")[0];
    let t = sample(&mut s);
    assert!(
        !pids(&t).contains(&z),
        "zombie {z} reported: {:?}",
        pids(&t)
    );
    assert_eq!(pids(&t), vec![a.pid()]);
}

#[test]
fn reparented_grandchild_is_still_followed_until_it_exits() {
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    let ids = a.cmd_pids("orphan");
    let (middle, grandchild) = (ids[0], ids[1]);
    let t = sample(&mut s);
    assert_eq!(proc_of(&t, middle).ppid, a.pid());
    assert_eq!(proc_of(&t, grandchild).ppid, middle);

    // The middle process exits; the grandchild is reparented away from our tree.
    a.cmd("release");
    let t = sample(&mut s);
    assert!(!pids(&t).contains(&middle), "{:?}", pids(&t));
    let g = proc_of(&t, grandchild);
    assert_ne!(g.ppid, middle);
    assert_ne!(
        g.ppid,
        a.pid(),
        "reparented to init or a subreaper, not to the actor"
    );
    assert_eq!(g.comm, "sleep");
    assert_eq!(val(&t.total, Metric::Processes), 2.0);

    a.cmd("reap");
    assert_eq!(pids(&sample(&mut s)), vec![a.pid()]);
}

#[test]
fn exited_root_gives_an_empty_sample_not_an_error() {
    let mut c = Command::new("sleep").arg("30").spawn().expect("sleep runs");
    let mut s = Sampler::new(c.id()).expect("sleep exists");
    assert_eq!(pids(&sample(&mut s)), vec![c.id()]);
    c.kill().expect("kill sleep");
    c.wait().expect("reap sleep");
    let t = sample(&mut s);
    assert!(t.processes.is_empty());
    assert_eq!(val(&t.total, Metric::Processes), 0.0);
}

#[test]
fn churning_short_lived_children_never_make_a_sample_fail() {
    let mut sh = Command::new("sh")
        .args(["-c", "while :; do /bin/true; sh -c 'exit 0'; done"])
        .spawn()
        .expect("sh runs");
    let mut s = Sampler::new(sh.id()).expect("sh exists");
    let mut max_seen = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut n = 0;
    while Instant::now() < deadline && n < 300 {
        let t = s.sample().expect("no error while children come and go");
        assert_eq!(t.processes.first().map(|p| p.pid), Some(sh.id()));
        max_seen = max_seen.max(t.processes.len());
        n += 1;
    }
    let _ = sh.kill();
    let _ = sh.wait();
    assert!(n >= 20, "only {n} samples in 3 s");
    assert!(max_seen >= 2, "never saw a child in {n} samples");
}

#[test]
fn a_tree_of_three_hundred_processes_is_sampled_whole() {
    // More members than the sampler keeps directories open for between its two steps.
    const N: usize = 300;
    let mut sh = Command::new("sh")
        .args([
            "-c",
            &format!("for i in $(seq {N}); do sleep 30 & done; wait"),
        ])
        .spawn()
        .expect("sh runs");
    let mut s = Sampler::new(sh.id()).expect("sh exists");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut t = sample(&mut s);
    while t.processes.len() < N + 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        t = sample(&mut s);
    }
    let again = sample(&mut s);
    let _ = sh.kill();
    let _ = sh.wait();
    for p in &again.processes[1..] {
        let _ = Command::new("kill").arg(p.pid.to_string()).status();
    }
    assert_eq!(t.processes.len(), N + 1);
    assert_eq!(
        again.processes.len(),
        N + 1,
        "all followed at the next sample"
    );
    assert_eq!(val(&again.total, Metric::Processes), (N + 1) as f64);
    assert!(again.processes[1..].iter().all(|p| p.comm == "sleep"));
}
