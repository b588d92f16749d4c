//! TCP sockets by state, including the CLOSE_WAIT leak pattern.

use leakhound_sampler::{Metric, Sampler};

use crate::{Actor, proc_of, sample, val};

#[test]
fn listen_established_and_close_wait_are_told_apart() {
    let mut a = Actor::start();
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
