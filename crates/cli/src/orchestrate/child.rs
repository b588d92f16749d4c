//! The target process: spawn it in its own process group, watch it, stop it.
//!
//! The target gets its own process group so that the whole tree it starts (shell wrappers,
//! workers) can be signalled at once, and so a terminal Ctrl-C reaches leakhound first; we
//! forward it. Stopping is SIGTERM to the group, a grace period, then SIGKILL.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::errors::ExpectedError;

/// How to start the target.
#[derive(Debug, Clone)]
pub(crate) struct ChildSpec {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    /// Extra environment variables (e.g. `LD_PRELOAD` for the heap agent).
    pub(crate) env: Vec<(OsString, OsString)>,
    /// Pipe the target's stdout to us instead of inheriting it.
    pub(crate) capture_stdout: bool,
    /// Send the target's stdout to our stderr (with `--json`, stdout carries only our JSON).
    pub(crate) stdout_to_stderr: bool,
}

impl ChildSpec {
    pub(crate) fn from_command(command: &[String]) -> anyhow::Result<ChildSpec> {
        let (program, args) = command
            .split_first()
            .ok_or_else(|| ExpectedError::usage("no command given after `--`"))?;
        Ok(ChildSpec {
            program: program.clone(),
            args: args.to_vec(),
            env: Vec::new(),
            capture_stdout: false,
            stdout_to_stderr: false,
        })
    }
}

/// A running (or finished) target.
pub(crate) struct Target {
    child: Child,
    pid: u32,
    status: Option<ExitStatus>,
    signalled_by_us: bool,
}

impl Target {
    pub(crate) fn spawn(spec: &ChildSpec) -> anyhow::Result<Target> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0);
        if spec.capture_stdout {
            cmd.stdout(Stdio::piped());
        } else if spec.stdout_to_stderr {
            let err = std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| ExpectedError::usage(format!("cannot duplicate stderr: {e}")))?;
            cmd.stdout(Stdio::from(err));
        }
        let child = cmd.spawn().map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                ExpectedError::usage(format!("command not found: `{}`", spec.program))
            }
            io::ErrorKind::PermissionDenied => ExpectedError::usage(format!(
                "cannot execute `{}`: permission denied",
                spec.program
            )),
            _ => ExpectedError::usage(format!("failed to start `{}`: {e}", spec.program)),
        })?;
        let pid = child.id();
        Ok(Target {
            child,
            pid,
            status: None,
            signalled_by_us: false,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The exit status if the target has exited (reaps it).
    pub(crate) fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(st)) = self.child.try_wait()
        {
            self.status = Some(st);
        }
        self.status
    }

    /// Send `sig` to the target's whole process group.
    pub(crate) fn signal_group(&mut self, sig: i32) {
        self.signalled_by_us = true;
        let (Some(pgid), Some(sig)) = (Pid::from_raw(self.pid as i32), Signal::from_named_raw(sig))
        else {
            return;
        };
        // ESRCH (the group is gone) is the expected outcome late in shutdown.
        let _ = rustix::process::kill_process_group(pgid, sig);
    }

    /// SIGTERM the group, wait up to `grace`, then SIGKILL. Returns the exit status. When the
    /// target itself has already exited, what it left running in its group (a worker started
    /// with `&`) is stopped the same way: leakhound started those processes, so it does not
    /// leave them behind.
    /// `hurry` is polled while waiting: when it says so (a second Ctrl-C), the grace ends.
    pub(crate) fn terminate(
        &mut self,
        grace: Duration,
        first: i32,
        hurry: &dyn Fn() -> bool,
    ) -> Option<ExitStatus> {
        if self.poll().is_none() {
            self.signal_group(first);
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && !hurry() {
                if self.poll().is_some() {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        // Whatever is left of the group (workers that ignored SIGTERM) goes now.
        if self.poll().is_none() {
            self.signal_group(libc_sigkill());
            if let Ok(st) = self.child.wait() {
                self.status = Some(st);
            }
        } else {
            self.stop_leftovers(grace, first, hurry);
        }
        self.status
    }

    /// Stop what is left in the target's process group after the target itself exited:
    /// `first`, up to `grace` for it to work, then SIGKILL. The target's own exit status
    /// stays as it was (it was not signalled by us).
    pub(crate) fn stop_leftovers(&mut self, grace: Duration, first: i32, hurry: &dyn Fn() -> bool) {
        let Some(pgid) = Pid::from_raw(self.pid as i32) else {
            return;
        };
        let alive = || rustix::process::test_kill_process_group(pgid).is_ok();
        if !alive() {
            return;
        }
        if let Some(sig) = Signal::from_named_raw(first) {
            let _ = rustix::process::kill_process_group(pgid, sig);
        }
        let deadline = Instant::now() + grace;
        while alive() && Instant::now() < deadline && !hurry() {
            thread::sleep(Duration::from_millis(20));
        }
        if alive() {
            let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        }
    }

    /// Whether the target exited on its own with a failure (not because we signalled it).
    pub(crate) fn failed(&self) -> bool {
        match self.status {
            Some(st) if !self.signalled_by_us => !st.success(),
            _ => false,
        }
    }

    pub(crate) fn signalled_by_us(&self) -> bool {
        self.signalled_by_us
    }

    pub(crate) fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub(crate) fn exit_signal(&self) -> Option<i32> {
        self.status.and_then(|s| s.signal())
    }

    /// Describe how the target ended, for messages.
    pub(crate) fn describe_exit(&self) -> String {
        match (self.exit_code(), self.exit_signal()) {
            (Some(c), _) => format!("exited with code {c}"),
            (_, Some(s)) => format!("was killed by signal {s}{}", signal_name(s)),
            _ => "is still running".to_string(),
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // Never leave the target behind, whatever path we leave by.
        if self.poll().is_none() {
            self.signal_group(libc_sigkill());
            let _ = self.child.wait();
        } else if let Some(pgid) = Pid::from_raw(self.pid as i32) {
            // The target exited, but processes it started in its group may still run.
            let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
        }
    }
}

const fn libc_sigkill() -> i32 {
    9
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        2 => " (SIGINT)",
        7 => " (SIGBUS)",
        8 => " (SIGFPE)",
        _ => "",
    }
}
