//! `leakhound load URL`: a standalone HTTP load test (open model at `--rate`, or closed model
//! with `--concurrency`), printed as a terminal summary or versioned JSON.
//!
//! The arguments become a [`LoadPlan`] (validated, clap-free) before anything is sent; the
//! `load` crate does the work on its own runtime. Ctrl-C stops the test and still prints the
//! summary of what was done. Also home of the terminal rendering of a [`LoadSummary`], which
//! `run --load` reuses.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use leakhound_core::ExitCodes;
use leakhound_core::load::{LoadModel, LoadSummary};
use leakhound_load::{
    Arrivals, LoadError, LoadPlan, MAX_RATE, Model, ReadyError, RequestTemplate, Stage, run_load,
};
use serde::Serialize;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::args::{ArrivalsArg, LoadArgs, LoadTargetArgs, RunLoadArgs};
use crate::errors::ExpectedError;
use crate::orchestrate::session::LiveRequests;
use crate::output::Output;

/// Default length of `leakhound load` without `--duration` or a scenario.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Per-second rows printed in the terminal summary; longer tests point to `--csv` instead.
const MAX_ROWS_SHOWN: usize = 30;

pub(crate) fn run(args: &LoadArgs, out: &Output) -> anyhow::Result<u8> {
    let plan = plan_from_args(args.url.as_deref(), &args.target, args.duration)?;
    fd_room(&plan, true)?;
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(SIGINT, Arc::clone(&stop)).context("failed to handle SIGINT")?;
    signal_hook::flag::register(SIGTERM, Arc::clone(&stop)).context("failed to handle SIGTERM")?;
    // Opened before any request is sent: a path that cannot be written fails now (exit 2),
    // not after the whole test, whose results would be lost. An existing file is emptied only
    // when the results are written, and a file made here is removed if the load cannot start.
    let mut csv = match &args.csv {
        Some(path) => Some(CsvOut::open(path)?),
        None => None,
    };
    out.status(&format!("leakhound load: {}", describe_plan(&plan)));
    let pb = out.progress(Some(plan.duration()));
    let summary = run_load(&plan, stop, &mut |t| {
        pb.set_position(t.elapsed_s as u64);
        pb.set_message(format!(
            "{} req/s · {} errors{}",
            t.second.achieved,
            t.errors_total,
            if t.dropped_total > 0 {
                format!(" · {} dropped", t.dropped_total)
            } else {
                String::new()
            }
        ));
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            if let Some(c) = csv {
                c.discard();
            }
            return Err(load_err(e));
        }
    };
    pb.finish_and_clear();
    // The CSV first, so the summary can say whether it was written; a failure to write it is
    // reported after the summary (which is never lost) and exits 2.
    let csv_written = csv.as_mut().map(|c| c.write(&summary.to_csv()));
    let mut w = crate::output::stdout();
    if args.json {
        // Serialize first, then write: a closed pipe is ignored (see `output::Stdout`).
        let mut text = serde_json::to_string_pretty(&LoadJson::new(&summary))?;
        text.push('\n');
        w.write_all(text.as_bytes())?;
    } else {
        write_summary(&mut w, &summary, true)?;
        if let (Some(Ok(())), Some(path)) = (&csv_written, &args.csv) {
            writeln!(w, "per-second series written to {}", path.display())?;
        }
    }
    w.flush()?;
    if let Some(Err(msg)) = csv_written {
        return Err(usage(msg));
    }
    if summary.completed == 0 && summary.scheduled > 0 {
        let e = &summary.errors;
        let secs = |t: f64| {
            if t < 1.0 {
                format!("{:.0} ms", t * 1e3)
            } else {
                leakhound_report::terminal::human_duration(t)
            }
        };
        // The most any request waited: the whole test and the drain after it, or --timeout.
        let drain = leakhound_load::DRAIN.as_secs_f64();
        let ran = (summary.elapsed_s - drain).max(0.0);
        let most = |k: u64| 2 * k >= e.total();
        let hint = if e.timeout > 0 && most(e.timeout) {
            // Every request timed out on connections that opened: the target is up but slow.
            let t = plan.timeout.as_secs_f64();
            if t < ran + drain {
                format!(
                    "{} of them timeouts: nothing was answered within --timeout ({}); is the \
                     target that slow (raise --timeout)?",
                    e.timeout,
                    secs(t)
                )
            } else {
                // The test ended first: those still out were given up after the drain, and a
                // longer --timeout would not have changed that.
                format!(
                    "{} of them timeouts: nothing was answered in the {} the test sent and the \
                     {} it waits for answers after that; is the target hung, or that slow (a \
                     longer --duration shows)?",
                    e.timeout,
                    secs(ran),
                    secs(drain)
                )
            }
        } else if e.other > 0 && most(e.other) {
            format!(
                "{} of them malformed or oversized answers: the target answers, but not in HTTP/1.1 \
                 the driver can read; is it an HTTP server?",
                e.other
            )
        } else if e.reset > 0 && most(e.reset) {
            format!(
                "{} of them connections closed without an answer: is the target an HTTP server, \
                 and does it survive a request?",
                e.reset
            )
        } else {
            "is the target up?".to_string()
        };
        eprintln!(
            "error: no request to {} got a response ({} errors); {hint}",
            summary.target,
            e.total()
        );
        return Ok(ExitCodes::TARGET_FAILED);
    }
    Ok(ExitCodes::OK)
}

/// The `--csv` file, opened (and created if needed) before the load starts.
struct CsvOut<'a> {
    file: std::fs::File,
    path: &'a Path,
    created: bool,
}

impl<'a> CsvOut<'a> {
    fn open(path: &'a Path) -> anyhow::Result<CsvOut<'a>> {
        let existed = path.exists();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| {
                usage(format!(
                    "failed to create the CSV file {}: {e}",
                    path.display()
                ))
            })?;
        Ok(CsvOut {
            file,
            path,
            created: !existed,
        })
    }

    /// Replace the file's contents with `text` (a device such as /dev/stdout is written as is).
    fn write(&mut self, text: &str) -> Result<(), String> {
        let regular = self.file.metadata().is_ok_and(|m| m.is_file());
        let truncated = if regular {
            self.file.set_len(0)
        } else {
            Ok(())
        };
        truncated
            .and_then(|()| self.file.write_all(text.as_bytes()))
            .and_then(|()| self.file.flush())
            .map_err(|e| format!("failed to write the CSV file {}: {e}", self.path.display()))
    }

    /// The load never ran: remove the file if it was made for it.
    fn discard(self) {
        if self.created {
            drop(self.file);
            let _ = std::fs::remove_file(self.path);
        }
    }
}

/// `leakhound load --json`: the summary with the document's schema version.
#[derive(Serialize)]
pub(crate) struct LoadJson<'a> {
    schema_version: u32,
    #[serde(flatten)]
    summary: &'a LoadSummary,
}

impl<'a> LoadJson<'a> {
    pub(crate) fn new(summary: &'a LoadSummary) -> LoadJson<'a> {
        LoadJson {
            schema_version: leakhound_core::SCHEMA_VERSION,
            summary,
        }
    }
}

fn usage(msg: impl std::fmt::Display) -> anyhow::Error {
    ExpectedError::usage(msg.to_string())
}

/// A usage error from a load error, with its causes ("failed to read x: No such file…").
pub(crate) fn load_err(e: LoadError) -> anyhow::Error {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(cause) = src {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
        src = cause.source();
    }
    usage(msg)
}

/// Build a validated plan from a URL and the shared load flags (also used by `run --load`).
pub(crate) fn plan_from_args(
    url: Option<&str>,
    a: &LoadTargetArgs,
    duration: Option<Duration>,
) -> anyhow::Result<LoadPlan> {
    if let Some(r) = a.rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(usage(format!("--rate must be a number > 0 (got {r})")));
    }
    if let Some(r) = a.rate.filter(|r| *r > MAX_RATE) {
        return Err(usage(format!(
            "--rate must be at most {MAX_RATE} req/s (got {r}): one process cannot send more; run several for more load"
        )));
    }
    if a.rate.is_some() && a.concurrency.is_some() {
        return Err(usage(
            "use either --rate (open model) or --concurrency (closed model), not both",
        ));
    }
    if a.concurrency == Some(0) {
        return Err(usage("--concurrency must be at least 1"));
    }
    if a.max_in_flight == Some(0) {
        return Err(usage("--max-in-flight must be at least 1"));
    }
    if duration.is_some_and(|d| d.is_zero()) {
        return Err(usage("--duration must be longer than 0 s"));
    }
    let mut plan = match &a.scenario {
        Some(path) => {
            let mut plan = LoadPlan::from_file_with_target(path, url).map_err(load_err)?;
            if let Some(c) = a.concurrency {
                plan.model = Model::Closed {
                    concurrency: c,
                    duration: duration.unwrap_or(plan.duration()),
                };
                plan.max_in_flight = c;
            } else if a.rate.is_some() || duration.is_some() {
                let rate = a.rate.or_else(|| mean_rate(&plan)).unwrap_or(1.0);
                plan.set_constant_rate(rate, duration.unwrap_or(plan.duration()));
            }
            plan
        }
        None => {
            let Some(url) = url else {
                return Err(usage(
                    "give a target URL (http://127.0.0.1:PORT/path) or --scenario FILE",
                ));
            };
            let d = duration.unwrap_or(DEFAULT_DURATION);
            match a.concurrency {
                Some(c) => LoadPlan::closed(url, c, d).map_err(load_err)?,
                None => {
                    let Some(rate) = a.rate else {
                        return Err(usage(
                            "give --rate N (open model, requests/s) or --concurrency N (closed model)",
                        ));
                    };
                    LoadPlan::open(url, rate, d).map_err(load_err)?
                }
            }
        }
    };
    if let Some(arr) = a.arrivals {
        if let Model::Open { arrivals, .. } = &mut plan.model {
            *arrivals = match arr {
                ArrivalsArg::Constant => Arrivals::Constant,
                ArrivalsArg::Poisson => Arrivals::Poisson,
            };
        } else {
            return Err(usage(
                "--arrivals applies to the open model (--rate), not --concurrency",
            ));
        }
    }
    if let Some(m) = a.max_in_flight {
        plan.max_in_flight = m;
    }
    if let Some(t) = a.timeout {
        plan.timeout = t;
    }
    if let Some(t) = a.threads {
        plan.threads = t.max(1);
    }
    if a.method.is_some() || !a.headers.is_empty() || a.body.is_some() {
        let mut t = match (&a.scenario, plan.requests.first()) {
            (Some(_), _) => {
                return Err(usage(
                    "-X/-H/--body describe a single request; with --scenario put them in the file's [[request]]",
                ));
            }
            (None, Some(first)) => first.clone(),
            (None, None) => RequestTemplate::get("/"),
        };
        if let Some(m) = &a.method {
            t.method = m.to_ascii_uppercase();
        }
        for h in &a.headers {
            t.add_header(h).map_err(load_err)?;
        }
        if let Some(b) = &a.body {
            t.body = Some(read_body(b)?);
        }
        plan.requests = vec![t];
    }
    // Everything that can fail before a request is sent (a method that is no HTTP token, a
    // host name that does not resolve): `run` checks it before it starts the target.
    leakhound_load::check(&plan).map_err(load_err)?;
    Ok(plan)
}

/// File descriptors the load needs beside its connections (the runtime's, the standard
/// streams, load.csv; in `run` the sampler's and the target's pipes).
const FD_MARGIN: u64 = 64;

/// Check that this process may open a connection for each request in flight: past the limit
/// of open files every connect fails, and the target would be blamed ("is the target up?").
/// `may_raise`: lift the soft limit up to the hard one when that is enough.
fn fd_room(plan: &LoadPlan, may_raise: bool) -> anyhow::Result<()> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let need = plan.max_in_flight as u64 + FD_MARGIN;
    let lim = getrlimit(Resource::Nofile);
    let soft = lim.current.unwrap_or(u64::MAX);
    if soft >= need {
        return Ok(());
    }
    let hard = lim.maximum.unwrap_or(u64::MAX);
    if may_raise && hard >= need {
        let raised = rustix::process::Rlimit {
            current: Some(need),
            maximum: lim.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return Ok(());
        }
    }
    Err(usage(format!(
        "{} requests in flight need about {need} open files, but this process may open only {soft}{}: lower --max-in-flight{}, or raise the limit (ulimit -n {need})",
        plan.max_in_flight,
        if hard > soft && hard != u64::MAX {
            format!(" (hard limit {hard})")
        } else {
            String::new()
        },
        if matches!(plan.model, Model::Closed { .. }) {
            " / --concurrency"
        } else {
            ""
        }
    )))
}

/// The scenario's average rate, used when only `--duration` overrides it.
fn mean_rate(plan: &LoadPlan) -> Option<f64> {
    let n = plan.expected_requests()?;
    let d = plan.duration().as_secs_f64();
    (d > 0.0 && n > 0.0).then(|| n / d)
}

/// `--body @FILE` reads a file; anything else is the body itself.
fn read_body(b: &str) -> anyhow::Result<Vec<u8>> {
    match b.strip_prefix('@') {
        Some(path) => std::fs::read(Path::new(path))
            .map_err(|e| usage(format!("failed to read the body file {path}: {e}"))),
        None => Ok(b.as_bytes().to_vec()),
    }
}

/// One line saying what will be sent.
pub(crate) fn describe_plan(plan: &LoadPlan) -> String {
    let length = format!("for {:.0} s", plan.duration().as_secs_f64());
    describe_plan_for(plan, &length)
}

/// A rate as the start line writes it: whole above 10 req/s, else to two decimals without
/// trailing zeros (`0.5`, not `0`).
fn rate_words(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0} req/s")
    } else if rate > 0.0 && rate < 0.01 {
        // Two decimals would read "0 req/s".
        format!("1 request every {} s", whole_or_tenths(1.0 / rate))
    } else {
        let s = format!("{rate:.2}");
        format!("{} req/s", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

fn whole_or_tenths(x: f64) -> String {
    let s = format!("{x:.1}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// [`describe_plan`] with the length written as `length` ("for 10 s", "until the run ends").
fn describe_plan_for(plan: &LoadPlan, length: &str) -> String {
    let url = format!("{}{}", plan.target.base_url(), plan.requests[0].path);
    let more = if plan.requests.len() > 1 {
        format!(" (+{} more request kinds)", plan.requests.len() - 1)
    } else {
        String::new()
    };
    match &plan.model {
        Model::Closed { concurrency, .. } => {
            format!("{url}{more} · closed model, {concurrency} connections {length}")
        }
        Model::Open { stages, arrivals } => {
            let what = match stages.as_slice() {
                [Stage::Constant { rate, .. }] => rate_words(*rate),
                _ => format!(
                    "{} stage{} ({}), {:.0} requests",
                    stages.len(),
                    if stages.len() == 1 { "" } else { "s" },
                    stages
                        .iter()
                        .map(|s| s.kind())
                        .collect::<Vec<_>>()
                        .join(", "),
                    plan.expected_requests().unwrap_or(0.0)
                ),
            };
            format!(
                "{url}{more} · open model, {} arrivals, {what} {length}, at most {} in flight",
                arrivals.as_str(),
                plan.max_in_flight
            )
        }
    }
}

/// What `run` will send: the plan from [`run_plan`] without the idle tail it adds (the load is
/// stopped when sampling ends, before that tail), and "until the run ends" for an open-ended
/// `--load URL --rate N`.
pub(crate) fn describe_run_plan(plan: &LoadPlan) -> String {
    let mut shown = plan.clone();
    if let Model::Open { stages, .. } = &mut shown.model
        && stages.len() > 1
        && matches!(stages.last(), Some(Stage::Idle { duration }) if *duration == LINGER)
    {
        stages.pop();
    }
    if shown.duration() >= OPEN_ENDED {
        describe_plan_for(&shown, "until the run ends")
    } else {
        describe_plan(&shown)
    }
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

/// The terminal summary of a load test.
pub(crate) fn write_summary(
    w: &mut dyn Write,
    s: &LoadSummary,
    per_second: bool,
) -> std::io::Result<()> {
    let model = match s.model {
        LoadModel::Open => format!(
            "open model, {} arrivals",
            s.arrivals.as_deref().unwrap_or("constant")
        ),
        LoadModel::Closed => format!("closed model, {} connections", s.connections),
    };
    writeln!(
        w,
        "load: {} · {model} · {:.1} s{}",
        s.target,
        s.elapsed_s,
        if s.interrupted { " (interrupted)" } else { "" }
    )?;
    let rate = match s.offered_rate {
        Some(o) => format!(
            "offered {o:.1}/s · achieved {:.1}/s ({:.1} %)",
            s.achieved_rate,
            if o > 0.0 {
                100.0 * s.achieved_rate / o
            } else {
                0.0
            }
        ),
        None => format!("achieved {:.1}/s", s.achieved_rate),
    };
    writeln!(w, "  rate      {rate}")?;
    writeln!(
        w,
        "  requests  scheduled {} · sent {} · completed {} · late {} (> {:.0} ms) · dropped {}",
        s.scheduled, s.sent, s.completed, s.late, s.late_threshold_ms, s.dropped
    )?;
    let status = if s.status_counts.is_empty() {
        "none".to_string()
    } else {
        s.status_counts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    writeln!(w, "  status    {status}")?;
    let e = &s.errors;
    writeln!(
        w,
        "  errors    {} (connect {} · timeout {} · reset {} · http {} · other {})",
        e.total(),
        e.connect,
        e.timeout,
        e.reset,
        e.http,
        e.other
    )?;
    let l = &s.latency;
    if l.count == 0 {
        writeln!(w, "  latency   no responses")?;
    } else {
        writeln!(
            w,
            "  latency   p50 {} · p90 {} · p99 {} · p99.9 {} · max {}{}",
            ms(l.p50_ms),
            ms(l.p90_ms),
            ms(l.p99_ms),
            ms(l.p999_ms),
            ms(l.max_ms),
            if s.model == LoadModel::Open {
                " (from intended send times)"
            } else {
                ""
            }
        )?;
    }
    if let Some(r) = &s.retained {
        writeln!(
            w,
            "  retained  {:.0} bytes/request (95 % CI {:.0} .. {:.0}) from the {} floors of {} {}",
            r.bytes_per_request,
            r.ci95[0],
            r.ci95[1],
            r.series,
            r.floors,
            r.method.replace('_', " ")
        )?;
    }
    if per_second && !s.per_second.is_empty() {
        if s.per_second.len() <= MAX_ROWS_SHOWN {
            writeln!(
                w,
                "  {:>7} {:>8} {:>8} {:>7} {:>10}  phase",
                "t (s)", "offered", "achieved", "errors", "p99"
            )?;
            for r in &s.per_second {
                writeln!(
                    w,
                    "  {:>7.1} {:>8} {:>8} {:>7} {:>10}  {}",
                    r.t_s,
                    r.offered,
                    r.achieved,
                    r.errors,
                    // No latency was recorded that second (only refused connections): none.
                    if r.achieved == 0 && r.p99_ms == 0.0 {
                        "-".to_string()
                    } else {
                        ms(r.p99_ms)
                    },
                    r.phase
                )?;
            }
        } else {
            writeln!(
                w,
                "  ({} per-second rows; write them with --csv FILE or see --json)",
                s.per_second.len()
            )?;
        }
    }
    Ok(())
}

/// How long `run --load` waits for `--ready` by default.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Length of an open-ended `run --load URL --rate N` without `--duration`: the load runs
/// until the session ends (target exit, Ctrl-C) and is stopped then.
pub(crate) const OPEN_ENDED: Duration = Duration::from_secs(7 * 24 * 3600);

/// In `run`, the load plan gets an idle tail of this length: sampling ends with the plan's
/// last stage and the load is stopped then, so the target's connections stay open through the
/// last sample (a drop of sockets at the very end would look like a restart).
const LINGER: Duration = Duration::from_secs(10);

/// The load plan of `run --load URL | --scenario FILE`, validated before the target starts.
/// `None` when no load was asked for.
pub(crate) fn run_plan(
    a: &RunLoadArgs,
    sampling_duration: Option<Duration>,
) -> anyhow::Result<Option<LoadPlan>> {
    let t = &a.load;
    if a.url.is_none() && t.scenario.is_none() {
        // Each option of the load, given without a load, would be ignored in silence.
        let given: Vec<&str> = [
            (t.rate.is_some(), "--rate"),
            (t.concurrency.is_some(), "--concurrency"),
            (a.ready.is_some(), "--ready"),
            (a.ready_timeout.is_some(), "--ready-timeout"),
            (t.arrivals.is_some(), "--arrivals"),
            (t.max_in_flight.is_some(), "--max-in-flight"),
            (t.method.is_some(), "--method"),
            (!t.headers.is_empty(), "--header"),
            (t.body.is_some(), "--body"),
            (t.timeout.is_some(), "--timeout"),
            (t.threads.is_some(), "--threads"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        if !given.is_empty() {
            return Err(usage(format!(
                "{} {} the load: give --load URL or --scenario FILE",
                given.join(", "),
                if given.len() == 1 {
                    "describes"
                } else {
                    "describe"
                }
            )));
        }
        return Ok(None);
    }
    // A scenario keeps its own stages (cut where the run ends, with --duration), or with --rate
    // sends that rate for --duration or, without it, for the scenario's length; a plain URL
    // runs for the sampling duration, or until the run ends.
    let duration = match (t.scenario.is_some(), t.rate.is_some()) {
        (true, false) => None,
        (true, true) => sampling_duration,
        (false, _) => Some(sampling_duration.unwrap_or(OPEN_ENDED)),
    };
    let mut plan = plan_from_args(a.url.as_deref(), t, duration)?;
    // The target inherits the limit, so `run` never raises it: a service under test for an fd
    // leak must meet its own limit.
    fd_room(&plan, false)?;
    // The readiness URL too, before the target starts.
    if let Some(r) = &a.ready {
        leakhound_load::Target::parse(r).map_err(load_err)?;
    }
    if let Model::Open { stages, .. } = &mut plan.model {
        stages.push(Stage::Idle { duration: LINGER });
    }
    Ok(Some(plan))
}

/// The sampling duration to use with `plan` (from [`run_plan`]): the user's, or the plan's
/// length without its idle tail.
pub(crate) fn sampling_duration(plan: &LoadPlan, given: Option<Duration>) -> Option<Duration> {
    given.or_else(|| {
        let d = planned_without_linger(plan);
        (d < OPEN_ENDED).then_some(d)
    })
}

fn planned_without_linger(plan: &LoadPlan) -> Duration {
    match &plan.model {
        Model::Open { .. } => plan.duration().saturating_sub(LINGER),
        Model::Closed { .. } => plan.duration(),
    }
}

/// Wait for `--ready` (default: the load's first URL) to answer 2xx; exit 4 on timeout or
/// when the target exits first. `Ok(false)` when a signal (Ctrl-C) came first: the caller
/// starts no load and its sampling loop takes the signal.
pub(crate) fn wait_ready(
    a: &RunLoadArgs,
    plan: &LoadPlan,
    target: &mut crate::orchestrate::child::Target,
    interrupts: &crate::orchestrate::signals::Interrupts,
    out: &Output,
) -> anyhow::Result<bool> {
    let ready_timeout = a.ready_timeout.unwrap_or(DEFAULT_READY_TIMEOUT);
    let url = a
        .ready
        .clone()
        .unwrap_or_else(|| format!("{}{}", plan.target.base_url(), plan.requests[0].path));
    out.status(&format!(
        "leakhound: waiting for {url} to answer 2xx (up to {:.0} s)",
        ready_timeout.as_secs_f64()
    ));
    let mut give_up = || interrupts.pending() || target.poll().is_some();
    match leakhound_load::wait_ready(&url, ready_timeout, &mut give_up) {
        Ok(_) => Ok(true),
        Err(ReadyError::Url(e)) => Err(load_err(e)),
        Err(_) if interrupts.pending() => Ok(false),
        Err(ReadyError::GaveUp { last, .. }) => Err(ExpectedError::target_failed(format!(
            "the target {} before {url} answered (last probe: {last})",
            target.describe_exit()
        ))),
        Err(e @ ReadyError::TimedOut { .. }) => Err(ExpectedError::target_failed(format!(
            "the target was not ready: {e}; raise --ready-timeout or check --ready"
        ))),
    }
}

/// Load running in its own thread during a `run` session.
pub(crate) struct RunningLoad {
    planned: Duration,
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Result<LoadSummary, LoadError>>,
    /// Requests served so far, for the online alarms while sampling.
    pub(crate) requests: LiveRequests,
}

impl RunningLoad {
    /// Start the load in its own thread; `csv`: a run directory's `load.csv`, written a line
    /// per second as the load goes (flushed, so a killed run keeps it; the run's end writes it
    /// whole again).
    pub(crate) fn start(
        plan: LoadPlan,
        out: &Output,
        csv: Option<&Path>,
    ) -> anyhow::Result<RunningLoad> {
        out.status(&format!("leakhound: load {}", describe_run_plan(&plan)));
        let planned = planned_without_linger(&plan);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let requests = LiveRequests::new();
        let served = requests.clone();
        let mut file = match csv {
            Some(p) => {
                let mut f = std::fs::File::create(p)
                    .with_context(|| format!("failed to create {}", p.display()))?;
                writeln!(f, "{}", LoadSummary::CSV_HEADER)
                    .with_context(|| format!("failed to write {}", p.display()))?;
                Some(f)
            }
            None => None,
        };
        let handle = std::thread::Builder::new()
            .name("leakhound-load".into())
            .spawn(move || {
                run_load(&plan, flag, &mut |tick| {
                    served.record(tick);
                    // A line lost to a full disk is written at the end with the rest.
                    if let Some(f) = file.as_mut() {
                        let _ = f.write_all(tick.second.csv_row().as_bytes());
                    }
                })
            })
            .context("failed to start the load thread")?;
        Ok(RunningLoad {
            planned,
            stop,
            handle,
            requests,
        })
    }

    /// Stop the load (if still running), and add retained bytes per request from `series`
    /// (the session's memory series, whose clock starts with the load). `run_done`: the run
    /// ended at its `--duration`, which ends the load with it (a scenario longer than the run
    /// is cut there), not an interruption.
    pub(crate) fn finish(
        self,
        series: &[leakhound_core::Series],
        run_done: bool,
    ) -> anyhow::Result<LoadSummary> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut summary = match self.handle.join() {
            Ok(r) => r.map_err(load_err)?,
            Err(_) => anyhow::bail!("the load thread panicked"),
        };
        // Stopping in the idle tail is the normal end, not an interruption.
        if run_done || summary.elapsed_s + 0.5 >= self.planned.as_secs_f64() {
            summary.interrupted = false;
        }
        let memory = series
            .iter()
            .find(|s| s.name == leakhound_core::Metric::RssBytes.name());
        if let Some(m) = memory {
            summary.retained =
                leakhound_detect::covariate::retained_per_request(m, &summary.per_second, 0.0);
        }
        Ok(summary)
    }
}

/// One sentence on retained memory per request, for the run's warnings. `verdict` is the
/// detector's verdict on the memory series the floors were taken from: a warm-up also rises
/// with the requests served (they grow with time under a constant rate), so a positive slope
/// is called retention only when the series did not level off.
pub(crate) fn retained_note(
    s: &LoadSummary,
    verdict: Option<leakhound_core::Verdict>,
) -> Option<leakhound_core::Warning> {
    use leakhound_core::Verdict;
    let r = s.retained.as_ref()?;
    let b = leakhound_core::format_bytes;
    let conclusion = if r.ci95[0] <= 0.0 {
        "no memory retained per request can be told from zero".to_string()
    } else {
        match verdict {
            Some(Verdict::NoLeak) => format!(
                "memory rose with the requests served, but {} is no leak (it levelled off or is given \
                 back: warm-up or memory that follows load), so this is not counted as retention",
                r.series
            ),
            Some(Verdict::Leak) | None => {
                "memory grows with the number of requests served".to_string()
            }
            Some(_) => "memory grows with the requests served so far; whether it levels off is not yet clear"
                .to_string(),
        }
    };
    Some(leakhound_core::Warning::Note {
        message: format!(
            "retained {} per request (95 % CI {} .. {}), from the {} floors of {} {} over {} requests: {conclusion}",
            b(r.bytes_per_request),
            b(r.ci95[0]),
            b(r.ci95[1]),
            r.series,
            r.floors,
            r.method.replace('_', " "),
            s.completed
        ),
    })
}
