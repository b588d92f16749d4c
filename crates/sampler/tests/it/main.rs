//! Integration tests of leakhound-sampler against real processes.
//!
//! Each test starts its own `actor.py` (a python3 program driven line by line over stdin, see
//! that file), changes its resources and checks what the sampler reads from `/proc`. Nothing is
//! mocked; every server listens on 127.0.0.1.

mod fds;
mod memory;
mod tcp;
mod tree;
mod unprivileged;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use leakhound_sampler::{Counters, Metric, ProcessSample, Sampler, TreeSample};

/// A running `actor.py`.
pub(crate) struct Actor {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Actor {
    pub(crate) fn start() -> Actor {
        let mut cmd = Command::new("python3");
        cmd.arg(ACTOR);
        Actor::start_with(cmd)
    }

    /// Start the actor in a new network namespace whose loopback is up, when this machine
    /// allows it (`unshare -n` needs CAP_SYS_ADMIN); `None` otherwise.
    pub(crate) fn start_in_new_netns() -> Option<Actor> {
        let allowed = Command::new("unshare")
            .args(["-n", "ip", "link", "set", "lo", "up"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !allowed {
            return None;
        }
        let mut cmd = Command::new("unshare");
        // unshare and sh exec, so the actor keeps the PID we spawned.
        cmd.args([
            "-n",
            "sh",
            "-c",
            "ip link set lo up && exec python3 \"$0\"",
            ACTOR,
        ]);
        Some(Actor::start_with(cmd))
    }

    fn start_with(mut cmd: Command) -> Actor {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut a = Actor {
            child,
            stdin,
            stdout,
        };
        // Wait until python has finished starting (it holds files open while importing).
        a.cmd("ping");
        a
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send one command and return the words of the answer after `ok`.
    pub(crate) fn cmd(&mut self, line: &str) -> Vec<String> {
        writeln!(self.stdin, "{line}").expect("actor reads commands");
        self.stdin.flush().expect("actor reads commands");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("actor answers");
        let mut words = answer.split_whitespace().map(str::to_string);
        assert_eq!(
            words.next().as_deref(),
            Some("ok"),
            "actor answered {answer:?} to {line:?}"
        );
        words.collect()
    }

    /// Send a command whose answer is PIDs.
    pub(crate) fn cmd_pids(&mut self, line: &str) -> Vec<u32> {
        self.cmd(line)
            .iter()
            .map(|w| w.parse().expect("actor answers PIDs"))
            .collect()
    }
}

impl Drop for Actor {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "reap");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample, which must succeed.
pub(crate) fn sample(s: &mut Sampler) -> TreeSample {
    s.sample().expect("sampling succeeds")
}

/// The sample of `pid` within a tree sample.
pub(crate) fn proc_of(t: &TreeSample, pid: u32) -> &ProcessSample {
    t.processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("PID {pid} missing from {:?}", pids(t)))
}

pub(crate) fn pids(t: &TreeSample) -> Vec<u32> {
    t.processes.iter().map(|p| p.pid).collect()
}

/// A metric that must have been measured.
pub(crate) fn val(c: &Counters, m: Metric) -> f64 {
    c.get(m).unwrap_or_else(|| panic!("{m:?} not measured"))
}

/// `after - before` for metric `m`.
pub(crate) fn delta(before: &Counters, after: &Counters, m: Metric) -> f64 {
    val(after, m) - val(before, m)
}

const ACTOR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/actor.py");

pub(crate) const MIB: f64 = 1024.0 * 1024.0;

/// The CLI may sample from a thread of its own.
#[test]
fn sampler_and_samples_can_move_between_threads() {
    fn send<T: Send>() {}
    send::<Sampler>();
    send::<TreeSample>();
}
