//! TCP sockets by state, including the CLOSE_WAIT leak pattern.

use leakhound_sampler::{Metric, Sampler};

use crate::{Actor, proc_of, sample, val};

#[test]
fn listen_established_and_close_wait_are_told_apart() {
    // Our own network namespace: states come from a sock_diag dump.
    listen_connect_close(Actor::start());
}

#[test]
fn states_in_another_network_namespace_come_from_its_proc_tables() {
    // Another namespace: sock_diag cannot see it, /proc/PID/net/tcp{,6} is read instead.
    match Actor::start_in_new_netns() {
        Some(mut a) => {
            let ours = std::fs::read_link("/proc/self/ns/net").expect("own netns");
            let theirs =
                std::fs::read_link(format!("/proc/{}/ns/net", a.pid())).expect("actor netns");
            assert_ne!(ours, theirs, "actor runs in a new network namespace");
            a.cmd("ping");
            listen_connect_close(a);
        }
        None => eprintln!("skipped: unshare -n is not permitted here"),
    }
}

#[test]
fn a_listener_shared_by_two_processes_counts_once_in_the_total() {
    let mut a = Actor::start();
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    a.cmd("listen");
    let child = a.cmd_pids("share_listener")[0];
    let t = sample(&mut s);
    assert_eq!(val(&proc_of(&t, a.pid()).counters, Metric::TcpListen), 1.0);
    assert_eq!(val(&proc_of(&t, child).counters, Metric::TcpListen), 1.0);
    assert_eq!(val(&proc_of(&t, child).counters, Metric::FdsSocket), 1.0);
    assert_eq!(val(&t.total, Metric::FdsSocket), 2.0, "descriptors add up");
    assert_eq!(
        val(&t.total, Metric::TcpListen),
        1.0,
        "sockets are counted once"
    );
}

fn listen_connect_close(mut a: Actor) {
    let mut s = Sampler::new(a.pid()).expect("actor exists");
    let t = sample(&mut s);
    let c = &proc_of(&t, a.pid()).counters;
    for m in [
        Metric::TcpListen,
        Metric::TcpEstablished,
        Metric::TcpCloseWait,
        Metric::TcpTimeWait,
        Metric::TcpOther,
    ] {
        assert_eq!(val(c, m), 0.0, "{m:?} before any socket");
    }

    a.cmd("listen");
    let t = sample(&mut s);
    let c = &proc_of(&t, a.pid()).counters;
    assert_eq!(val(c, Metric::TcpListen), 1.0);
    assert_eq!(val(c, Metric::FdsSocket), 1.0);

    // Client and accepted server side, both in this process.
    a.cmd("connect");
    let t = sample(&mut s);
    let c = &proc_of(&t, a.pid()).counters;
    assert_eq!(val(c, Metric::TcpListen), 1.0);
    assert_eq!(val(c, Metric::TcpEstablished), 2.0);
    assert_eq!(val(c, Metric::FdsSocket), 3.0);
    assert_eq!(val(&t.total, Metric::TcpEstablished), 2.0);

    // The peer closes, we never do: CLOSE_WAIT. The client's closed socket has no fd any more.
    a.cmd("peer_close");
    let t = sample(&mut s);
    let c = &proc_of(&t, a.pid()).counters;
    assert_eq!(val(c, Metric::TcpCloseWait), 1.0);
    assert_eq!(val(c, Metric::TcpEstablished), 0.0);
    assert_eq!(val(c, Metric::TcpListen), 1.0);
    assert_eq!(val(c, Metric::FdsSocket), 2.0);
    assert_eq!(val(&t.total, Metric::TcpCloseWait), 1.0);
}
