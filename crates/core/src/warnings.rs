//! Typed, actionable warnings (after hyperfine's `Warnings`).
//!
//! Each variant carries what is needed to tell the user what to do next, including what they
//! already tried (`--duration`, `--warmup`), so the message can suggest a concrete change.

use serde::{Deserialize, Serialize};

/// Something the user should know about a run that does not change its verdict by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// Too few samples after warm-up to judge.
    TooFewSamples {
        /// Samples left after warm-up.
        after_warmup: usize,
        /// Samples the detector needs.
        needed: usize,
        /// Current `--duration` in seconds, if one was given.
        duration_s: Option<f64>,
    },
    /// A file of `/proc/PID` could not be read (`smaps_rollup`: PSS and USS missing; `fd`: fd
    /// counts and sockets; `status`: anon and swap). The name is kept for the JSON's sake.
    SmapsUnreadable {
        /// The process whose file was unreadable.
        pid: u32,
        /// The OS error text.
        error: String,
    },
    /// The target exited before the requested duration.
    TargetExitedEarly {
        /// Seconds after start.
        after_s: f64,
        /// Exit code, if it exited normally.
        code: Option<i32>,
        /// Signal number, if it was killed.
        signal: Option<i32>,
    },
    /// The run was interrupted by the user (Ctrl-C).
    Interrupted {
        /// Seconds after start.
        after_s: f64,
    },
    /// Sampling fell behind its interval (machine overloaded, huge process tree).
    SamplingLate {
        /// Number of late samples.
        late: usize,
        /// Worst lateness in seconds.
        worst_s: f64,
    },
    /// Free-form advisory from a later stage (load driver, heap agent…).
    Note {
        /// The message.
        message: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::TooFewSamples {
                after_warmup,
                needed,
                duration_s,
            } => {
                write!(
                    f,
                    "only {after_warmup} {} after warm-up (need {needed}); ",
                    if *after_warmup == 1 {
                        "sample"
                    } else {
                        "samples"
                    }
                )?;
                match duration_s {
                    Some(d) => write!(
                        f,
                        "use a longer --duration (now {:.0} s), a shorter --interval or a lower --warmup",
                        d
                    ),
                    None => write!(
                        f,
                        "run longer, sample more often (--interval) or lower --warmup"
                    ),
                }
            }
            Warning::SmapsUnreadable { pid, error } => {
                // The file named in the error says which series are missing.
                let missing = if error.contains("/smaps_rollup") {
                    "PSS and USS are missing"
                } else if error.contains("/fd") {
                    "open fds (by type) and TCP sockets are missing"
                } else if error.contains("/status") {
                    "anon and swap are missing"
                } else {
                    "some series are missing"
                };
                write!(
                    f,
                    "process {pid}: {error}: {missing}; run as the target's user or as root"
                )
            }
            Warning::TargetExitedEarly {
                after_s,
                code,
                signal,
            } => match (code, signal) {
                (_, Some(sig)) => write!(
                    f,
                    "the target was killed by signal {sig} after {after_s:.1} s; only that much data was judged"
                ),
                (Some(c), _) => write!(
                    f,
                    "the target exited with code {c} after {after_s:.1} s; only that much data was judged"
                ),
                _ => write!(
                    f,
                    "the target ended after {after_s:.1} s; only that much data was judged"
                ),
            },
            Warning::Interrupted { after_s } => write!(
                f,
                "interrupted after {after_s:.1} s; the verdict covers the data recorded until then"
            ),
            Warning::SamplingLate { late, worst_s } => {
                write!(
                    f,
                    "{late} samples were taken late (worst {worst_s:.2} s); the machine may be overloaded, consider a longer --interval"
                )
            }
            Warning::Note { message } => f.write_str(message),
        }
    }
}
