//! Sampling another user's process without privileges: the parts `/proc` hides are reported in
//! `unreadable` and left `None`; the sample itself succeeds.

use std::process::Command;

use leakhound_sampler::{Metric, Sampler};

use crate::Actor;

const PROBE_ENV: &str = "LEAKHOUND_SAMPLER_PROBE_PID";

/// Helper run by [`another_users_process_has_its_hidden_parts_reported`] under `setpriv`: when
/// `LEAKHOUND_SAMPLER_PROBE_PID` is set, sample that PID and print what was read. Without the
/// variable it does nothing.
#[test]
fn probe_helper() {
    let Ok(pid) = std::env::var(PROBE_ENV) else {
        return;
    };
    let pid: u32 = pid.parse().expect("PID");
    let mut s = Sampler::new(pid).expect("another user's process is visible");
    let t = s
        .sample()
        .expect("sampling another user's process succeeds");
    for p in &t.processes {
        let c = &p.counters;
        println!(
            "PROBE proc {} rss={:?} anon={:?} pss={:?} fds={:?} tcp_listen={:?} threads={:?}",
            p.pid,
            c.get(Metric::RssBytes).is_some(),
            c.get(Metric::AnonBytes).is_some(),
            c.get(Metric::PssBytes).is_some(),
            c.get(Metric::Fds).is_some(),
            c.get(Metric::TcpListen).is_some(),
            c.get(Metric::Threads).is_some(),
        );
    }
    println!(
        "PROBE total pss={:?} rss={:?}",
        t.total.get(Metric::PssBytes).is_some(),
        t.total.get(Metric::RssBytes).is_some()
    );
    for (pid, e) in &t.unreadable {
        println!("PROBE unreadable {pid} {e}");
    }
}

#[test]
fn another_users_process_has_its_hidden_parts_reported() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root to run the probe as user nobody");
        return;
    }
    let mut a = Actor::start(); // runs as root
    a.cmd("listen");
    let exe = std::env::current_exe().expect("own test binary");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .args(["--exact", "unprivileged::probe_helper", "--nocapture"])
        .env(PROBE_ENV, a.pid().to_string())
        .output()
        .expect("setpriv runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "probe failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("PROBE "))
        .collect();
    let pid = a.pid();
    assert!(
        lines.contains(
            &format!(
                "proc {pid} rss=true anon=true pss=false fds=false tcp_listen=false threads=true"
            )
            .as_str()
        ),
        "{lines:#?}"
    );
    assert!(lines.contains(&"total pss=false rss=true"), "{lines:#?}");
    for file in ["smaps_rollup", "fd"] {
        let expected = format!("unreadable {pid} failed to read /proc/{pid}/{file}: ");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&expected) && l.contains("denied")),
            "no {expected:?} in {lines:#?}"
        );
    }
}
