//! What to send, how fast and for how long: [`LoadPlan`] and its parts.
//!
//! A plan is plain data, validated by [`LoadPlan::validate`] before anything is sent. It is built
//! from command-line values ([`LoadPlan::open`], [`LoadPlan::closed`]) or from a scenario file
//! (see `scenario`). Not here: sockets, timing, statistics.

use std::path::PathBuf;
use std::time::Duration;

use crate::schedule::{Arrivals, Segment};
use crate::target::{RequestTemplate, Target};

/// Why a load test could not be prepared or run.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The URL is not an `http://host[:port][/path]` URL.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A header given as `K: V` is malformed.
    #[error("invalid header `{header}`: {reason}")]
    InvalidHeader {
        /// The header as given.
        header: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A plan value is out of range (rate <= 0 or above [`MAX_RATE`], zero duration…).
    #[error("invalid {field}: {reason}")]
    InvalidPlan {
        /// The option or field, e.g. `--rate` or `stage[2].rate`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The scenario file could not be read.
    #[error("failed to read scenario {path}")]
    ReadScenario {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        err: std::io::Error,
    },
    /// The scenario file is not valid.
    #[error("invalid scenario {path}, line {line}, field `{field}`: {reason}")]
    Scenario {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending value.
        line: usize,
        /// The field, e.g. `stage.rate` or `request.method`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The target's host name could not be resolved.
    #[error("failed to resolve {host}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The I/O error.
        #[source]
        err: std::io::Error,
    },
    /// The async runtime could not be started.
    #[error("failed to start the load driver's runtime")]
    Runtime(#[source] std::io::Error),
}

/// One stage of an open-model schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// A constant rate for a duration.
    Constant {
        /// Requests per second.
        rate: f64,
        /// Length.
        duration: Duration,
    },
    /// A rate changing linearly from `from` to `to` over `duration`.
    Ramp {
        /// Starting rate, requests/s (may be 0).
        from: f64,
        /// Final rate, requests/s (may be 0).
        to: f64,
        /// Length.
        duration: Duration,
    },
    /// A staircase: each rate in turn, `every` long.
    Steps {
        /// The rates, requests/s.
        rates: Vec<f64>,
        /// Length of each step.
        every: Duration,
    },
    /// `cycles` repetitions of a load phase at `rate` followed by an idle phase (no requests).
    Cycles {
        /// Rate of the load phases, requests/s.
        rate: f64,
        /// Length of each load phase.
        load: Duration,
        /// Length of each idle phase.
        idle: Duration,
        /// Number of load + idle repetitions.
        cycles: u32,
    },
    /// No requests for a while (a pause; connections stay open).
    Idle {
        /// Length.
        duration: Duration,
    },
}

impl Stage {
    /// The stage's kind as written in scenario files.
    pub fn kind(&self) -> &'static str {
        match self {
            Stage::Constant { .. } => "constant",
            Stage::Ramp { .. } => "ramp",
            Stage::Steps { .. } => "steps",
            Stage::Cycles { .. } => "cycles",
            Stage::Idle { .. } => "idle",
        }
    }

    /// Total length.
    pub fn duration(&self) -> Duration {
        match self {
            Stage::Constant { duration, .. }
            | Stage::Ramp { duration, .. }
            | Stage::Idle { duration } => *duration,
            Stage::Steps { rates, every } => *every * rates.len() as u32,
            Stage::Cycles {
                load, idle, cycles, ..
            } => (*load + *idle) * *cycles,
        }
    }
}

/// Open model (scheduled arrivals) or closed model (fixed connections, back-to-back).
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Requests at intended times from the stages.
    Open {
        /// The schedule.
        stages: Vec<Stage>,
        /// Spacing of arrivals.
        arrivals: Arrivals,
    },
    /// `concurrency` connections, each sending its next request when the last one is answered.
    Closed {
        /// Number of connections.
        concurrency: usize,
        /// How long to run.
        duration: Duration,
    },
}

/// Default request timeout; a response slower than this is counted as a timeout error.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default bound on outstanding requests (and connections, all opened at the start) of the
/// open model. Enough for 20,000 req/s at 3 ms per response (Little's law: in flight = rate ×
/// latency); a slower target makes requests wait (late, counted in their latency), and more
/// connections can be asked for. 64 stays far below common fd and connection limits.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// Highest rate accepted anywhere in a plan (`--rate`, every stage's rate), requests/s in
/// total.
///
/// What one process can really send over loopback: every request costs the client at least a
/// write and a read system call (about a microsecond each) plus HTTP framing, so a million a
/// second already takes several cores doing nothing else; wrk, in C, tops out around there on
/// large machines, and this driver sent about 53,000 req/s on two cores shared with the test
/// server. A higher rate would not be sent: the schedule would only record drops. It is also
/// a guard: the schedule's arithmetic and per-second counts stay cheap (the ticker counts each
/// scheduled time once), whatever the rate's magnitude. Run several processes for more.
pub const MAX_RATE: f64 = 1_000_000.0;

/// Everything the driver needs to run a load test.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Where requests go.
    pub target: Target,
    /// Requests to send, chosen by weight (at least one).
    pub requests: Vec<RequestTemplate>,
    /// Open or closed model.
    pub model: Model,
    /// Open model: at most this many requests outstanding (one per connection).
    pub max_in_flight: usize,
    /// A request without a full response after this long is a timeout error.
    pub timeout: Duration,
    /// Worker threads of the driver's runtime (default: the number of CPUs).
    pub threads: usize,
    /// Seed of the Poisson arrivals and `{{random}}` (fixed by default: runs are repeatable).
    pub seed: u64,
}

impl LoadPlan {
    /// An open-model plan: `rate` requests/s to `url` for `duration`, `GET`.
    pub fn open(url: &str, rate: f64, duration: Duration) -> Result<LoadPlan, LoadError> {
        let (target, path) = Target::parse(url)?;
        let plan = LoadPlan {
            target,
            requests: vec![RequestTemplate::get(&path)],
            model: Model::Open {
                stages: vec![Stage::Constant { rate, duration }],
                arrivals: Arrivals::Constant,
            },
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            timeout: DEFAULT_TIMEOUT,
            threads: default_threads(),
            seed: 1,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// A closed-model plan: `concurrency` connections to `url` for `duration`, `GET`.
    pub fn closed(
        url: &str,
        concurrency: usize,
        duration: Duration,
    ) -> Result<LoadPlan, LoadError> {
        let (target, path) = Target::parse(url)?;
        let plan = LoadPlan {
            target,
            requests: vec![RequestTemplate::get(&path)],
            model: Model::Closed {
                concurrency,
                duration,
            },
            max_in_flight: concurrency,
            timeout: DEFAULT_TIMEOUT,
            threads: default_threads(),
            seed: 1,
        };
        plan.validate()?;
        Ok(plan)
    }

    /// Read a scenario file (TOML; see `docs/load.md` and `examples/`). Errors name the line
    /// and the field.
    pub fn from_scenario_file(path: &std::path::Path) -> Result<LoadPlan, LoadError> {
        crate::scenario::from_file(path)
    }

    /// Read a scenario file whose target is replaced by `url` when given (the command line's
    /// URL wins over the file's `target`).
    pub fn from_file_with_target(
        path: &std::path::Path,
        url: Option<&str>,
    ) -> Result<LoadPlan, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|err| LoadError::ReadScenario {
            path: path.to_path_buf(),
            err,
        })?;
        crate::scenario::from_str(&text, path, url)
    }

    /// Parse scenario text; `path` is only used in error messages. Without a `target` in the
    /// text, `default_target` is used (an error if both are missing).
    pub fn from_scenario_str(
        text: &str,
        path: &std::path::Path,
        default_target: Option<&str>,
    ) -> Result<LoadPlan, LoadError> {
        crate::scenario::from_str(text, path, default_target)
    }

    /// Replace the stages with one constant stage (command-line `--rate`/`--duration`).
    pub fn set_constant_rate(&mut self, rate: f64, duration: Duration) {
        let arrivals = match &self.model {
            Model::Open { arrivals, .. } => *arrivals,
            Model::Closed { concurrency, .. } => {
                // A closed model's connections bound nothing in an open one: unless the
                // scenario set `max_in_flight` itself, the open model's default applies.
                if self.max_in_flight == *concurrency {
                    self.max_in_flight = DEFAULT_MAX_IN_FLIGHT;
                }
                Arrivals::Constant
            }
        };
        self.model = Model::Open {
            stages: vec![Stage::Constant { rate, duration }],
            arrivals,
        };
    }

    /// Check every value; called by `run_load` too.
    pub fn validate(&self) -> Result<(), LoadError> {
        let bad = |field: &str, reason: String| LoadError::InvalidPlan {
            field: field.to_string(),
            reason,
        };
        if self.requests.is_empty() {
            return Err(bad("requests", "at least one request is needed".into()));
        }
        if self.requests.iter().all(|r| r.weight == 0) {
            return Err(bad(
                "weight",
                "at least one request needs a weight > 0".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(bad("timeout", "must be longer than 0 s".into()));
        }
        if self.max_in_flight == 0 {
            return Err(bad("max_in_flight", "must be at least 1".into()));
        }
        match &self.model {
            Model::Closed {
                concurrency,
                duration,
            } => {
                if *concurrency == 0 {
                    return Err(bad("concurrency", "must be at least 1".into()));
                }
                if duration.is_zero() {
                    return Err(bad("duration", "must be longer than 0 s".into()));
                }
            }
            Model::Open { stages, .. } => {
                if stages.is_empty() {
                    return Err(bad("stages", "at least one stage is needed".into()));
                }
                for (i, s) in stages.iter().enumerate() {
                    validate_stage(s).map_err(|(f, r)| bad(&format!("stage[{i}].{f}"), r))?;
                }
            }
        }
        Ok(())
    }

    /// The open model's segments (empty for the closed model).
    pub(crate) fn segments(&self) -> Vec<Segment> {
        let Model::Open { stages, .. } = &self.model else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut t = 0.0;
        let mut push = |len: Duration, r0: f64, r1: f64, phase: &'static str| {
            let len = len.as_secs_f64();
            out.push(Segment {
                start: t,
                len,
                r0,
                r1,
                phase,
            });
            t += len;
        };
        for s in stages {
            match s {
                Stage::Constant { rate, duration } => push(*duration, *rate, *rate, "constant"),
                Stage::Ramp { from, to, duration } => push(*duration, *from, *to, "ramp"),
                Stage::Steps { rates, every } => {
                    for r in rates {
                        push(*every, *r, *r, "steps");
                    }
                }
                Stage::Idle { duration } => push(*duration, 0.0, 0.0, "idle"),
                Stage::Cycles {
                    rate,
                    load,
                    idle,
                    cycles,
                } => {
                    for _ in 0..*cycles {
                        push(*load, *rate, *rate, "load");
                        if !idle.is_zero() {
                            push(*idle, 0.0, 0.0, "idle");
                        }
                    }
                }
            }
        }
        out
    }

    /// Planned length of the whole test.
    pub fn duration(&self) -> Duration {
        match &self.model {
            Model::Closed { duration, .. } => *duration,
            Model::Open { stages, .. } => stages.iter().map(Stage::duration).sum(),
        }
    }

    /// Expected number of scheduled requests (open model), `None` for the closed model.
    pub fn expected_requests(&self) -> Option<f64> {
        match self.model {
            Model::Closed { .. } => None,
            Model::Open { .. } => Some(self.segments().iter().map(Segment::expected).sum()),
        }
    }
}

fn validate_stage(s: &Stage) -> Result<(), (&'static str, String)> {
    let pos = |name: &'static str, v: f64| {
        if !(v.is_finite() && v > 0.0) {
            Err((name, format!("must be a number > 0 (got {v})")))
        } else {
            check_max_rate(v).map_err(|r| (name, r))
        }
    };
    let non_neg = |name: &'static str, v: f64| {
        if !(v.is_finite() && v >= 0.0) {
            Err((name, format!("must be a number >= 0 (got {v})")))
        } else {
            check_max_rate(v).map_err(|r| (name, r))
        }
    };
    let dur = |name: &'static str, d: &Duration| {
        if d.is_zero() {
            Err((name, "must be longer than 0 s".to_string()))
        } else {
            Ok(())
        }
    };
    match s {
        Stage::Constant { rate, duration } => {
            pos("rate", *rate)?;
            dur("duration", duration)
        }
        Stage::Ramp { from, to, duration } => {
            non_neg("from", *from)?;
            non_neg("to", *to)?;
            if *from == 0.0 && *to == 0.0 {
                return Err(("to", "a ramp from 0 to 0 sends nothing".into()));
            }
            dur("duration", duration)
        }
        Stage::Steps { rates, every } => {
            if rates.is_empty() {
                return Err(("rates", "needs at least one rate".into()));
            }
            for r in rates {
                pos("rates", *r)?;
            }
            dur("every", every)
        }
        Stage::Idle { duration } => dur("duration", duration),
        Stage::Cycles {
            rate, load, cycles, ..
        } => {
            pos("rate", *rate)?;
            dur("load", load)?;
            if *cycles == 0 {
                return Err(("cycles", "must be at least 1".into()));
            }
            Ok(())
        }
    }
}

/// `Err(reason)` when `rate` is above [`MAX_RATE`].
pub(crate) fn check_max_rate(rate: f64) -> Result<(), String> {
    if rate > MAX_RATE {
        Err(format!(
            "must be at most {MAX_RATE} req/s (got {rate}): one process cannot send more; run several for more load"
        ))
    } else {
        Ok(())
    }
}

/// Worker threads by default: one per CPU.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_given_to_a_closed_plan_lifts_its_connection_bound() {
        let d = Duration::from_secs(5);
        let mut p = LoadPlan::closed("http://127.0.0.1:1/", 2, d).unwrap();
        p.set_constant_rate(10.0, d);
        assert!(matches!(p.model, Model::Open { .. }));
        assert_eq!(p.max_in_flight, DEFAULT_MAX_IN_FLIGHT);
        // A bound the scenario set itself stays.
        let mut p = LoadPlan::closed("http://127.0.0.1:1/", 2, d).unwrap();
        p.max_in_flight = 7;
        p.set_constant_rate(10.0, d);
        assert_eq!(p.max_in_flight, 7);
    }

    #[test]
    fn rate_must_be_positive() {
        let e = LoadPlan::open("http://127.0.0.1:1/", 0.0, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("stage[0].rate"), "{e}");
        assert!(LoadPlan::open("http://127.0.0.1:1/", -5.0, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn rate_above_the_ceiling_is_rejected_in_every_stage_kind() {
        let url = "http://127.0.0.1:1/";
        let second = Duration::from_secs(1);
        let e = LoadPlan::open(url, 1e12, second).unwrap_err();
        assert!(
            e.to_string().contains("stage[0].rate") && e.to_string().contains("at most 1000000"),
            "{e}"
        );
        assert!(LoadPlan::open(url, MAX_RATE, second).is_ok());
        let stages = [
            Stage::Ramp {
                from: 0.0,
                to: 2e6,
                duration: second,
            },
            Stage::Steps {
                rates: vec![10.0, 2e6],
                every: second,
            },
            Stage::Cycles {
                rate: 2e6,
                load: second,
                idle: second,
                cycles: 1,
            },
        ];
        for s in stages {
            let mut plan = LoadPlan::open(url, 1.0, second).unwrap();
            plan.model = Model::Open {
                stages: vec![Stage::Idle { duration: second }, s.clone()],
                arrivals: Arrivals::Constant,
            };
            let e = plan.validate().unwrap_err().to_string();
            assert!(
                e.contains("stage[1]") && e.contains("at most"),
                "{s:?}: {e}"
            );
        }
    }

    #[test]
    fn cycles_flatten_into_load_and_idle_segments() {
        let mut plan = LoadPlan::open("http://127.0.0.1:1/", 1.0, Duration::from_secs(1)).unwrap();
        plan.model = Model::Open {
            stages: vec![Stage::Cycles {
                rate: 100.0,
                load: Duration::from_secs(10),
                idle: Duration::from_secs(5),
                cycles: 3,
            }],
            arrivals: Arrivals::Constant,
        };
        let segs = plan.segments();
        assert_eq!(segs.len(), 6);
        assert_eq!(segs[1].phase, "idle");
        assert_eq!(segs[2].start, 15.0);
        assert_eq!(plan.duration(), Duration::from_secs(45));
        assert_eq!(plan.expected_requests(), Some(3000.0));
    }
}
