//! A sampling session: the loop shared by `run`, `watch` and `demo`.
//!
//! Samples the process tree on a fixed schedule, appends every sample to the run directory,
//! watches for the target's exit, the end of `--duration` and Ctrl-C, and finally judges every
//! series and writes `verdict.json`. The loop never holds data only in memory: a killed
//! leakhound leaves `samples.csv` with everything sampled so far.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use leakhound_core::load::LoadSummary;
use leakhound_core::{
    HeapDiffRun, Metric, OnlineAlarm, ProcessChange, RunInfo, RunReport, Series, SeriesVerdict,
    TargetOutcome, Verdict, Warning, format_bytes,
};
use leakhound_detect::{DetectOptions, OnlineMonitor};
use leakhound_sampler::Sampler;

use super::child::Target;
use super::limits::TargetLimits;
use super::processes::ProcessTracker;
use super::signals::Interrupts;
use crate::output::Output;
use crate::props::SamplingProps;
use crate::rundir;
use crate::samples_csv::{SamplesWriter, SeriesSet};

/// Why sampling stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The target (and its whole tree) exited.
    Exited,
    /// `--duration` elapsed.
    Duration,
    /// Ctrl-C or SIGTERM.
    Interrupted(i32),
    /// A watched tree disappeared.
    Vanished,
    /// An online leak alarm was raised (`--stop-on-leak`).
    Alarm,
}

impl Ended {
    fn as_str(self) -> &'static str {
        match self {
            Ended::Exited => "exited",
            Ended::Duration => "duration",
            Ended::Interrupted(_) => "interrupted",
            Ended::Vanished => "vanished",
            Ended::Alarm => "leak alarm",
        }
    }
}

/// Everything recorded by [`record`].
pub(crate) struct Recording {
    pub(crate) series: Vec<Series>,
    pub(crate) samples: usize,
    pub(crate) ended: Ended,
    pub(crate) elapsed_s: f64,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) processes: Vec<ProcessChange>,
    /// What the processes sampled say of restarts (see
    /// [`super::processes::known_restarts`]).
    pub(crate) restarts: leakhound_detect::Restarts,
    /// Online leak alarms raised while sampling: the verdict each was raised with.
    pub(crate) alarms: Vec<SeriesVerdict>,
    /// Heap snapshots and their diff (`run --snapshots`), set by the caller before `conclude`.
    pub(crate) heap_diff: Option<HeapDiffRun>,
    /// Native heap agent analysis (`run --heap`), set by the caller before `conclude`.
    pub(crate) heap: Option<leakhound_core::NativeHeapRun>,
}

/// Requests served so far, as the load driver reports them each second: the covariate of the
/// online alarms while a load runs (the end of the run reads the same counts from the load
/// summary, see [`requests_served`]). Shared between the load thread and the sampling loop.
#[derive(Clone)]
pub(crate) struct LiveRequests(Arc<Mutex<Series>>);

impl LiveRequests {
    /// No request served at the load's start, as [`requests_served`] begins.
    pub(crate) fn new() -> LiveRequests {
        LiveRequests(Arc::new(Mutex::new(Series::from_parts(
            "requests_total",
            leakhound_core::Unit::Requests,
            vec![0.0],
            vec![0.0],
        ))))
    }

    /// Record one second of the load driver (its `on_tick`).
    pub(crate) fn record(&self, tick: &leakhound_load::TickStats) {
        if let Ok(mut s) = self.0.lock()
            && s.t.last().is_none_or(|&t| tick.second.t_s > t)
        {
            s.push(tick.second.t_s, tick.second.requests_total as f64);
        }
    }

    /// The counts so far, once there are two seconds of them.
    fn snapshot(&self) -> Option<Series> {
        let s = self.0.lock().ok()?;
        (s.len() >= 3).then(|| s.clone())
    }
}

/// Run directory and metadata of a session, created before the first sample.
pub(crate) struct SessionDir {
    pub(crate) dir: PathBuf,
    pub(crate) info: RunInfo,
    /// Limits of the target, read when the session starts.
    pub(crate) limits: TargetLimits,
}

impl SessionDir {
    pub(crate) fn create(
        mode: &str,
        command: Vec<String>,
        pid: Option<u32>,
        props: &SamplingProps,
        out_dir: Option<&Path>,
        suffix: &str,
    ) -> anyhow::Result<SessionDir> {
        let dir = rundir::create(out_dir, suffix)?;
        let limits = match pid {
            Some(p) => TargetLimits::read(p, props.limit),
            None => TargetLimits::user(props.limit),
        };
        let info = RunInfo {
            mode: mode.to_string(),
            command,
            pid,
            started_at: rundir::now_rfc3339(),
            host: rundir::hostname(),
            leakhound_version: env!("CARGO_PKG_VERSION").to_string(),
            interval_s: props.interval.as_secs_f64(),
            warmup_s: props.warmup.as_secs_f64(),
            duration_s: props.duration.map(|d| d.as_secs_f64()),
            run_dir: Some(dir.display().to_string()),
            limit: props.limit,
            alarm_after_s: Some(
                props
                    .alarm_after
                    .map_or(leakhound_detect::DEFAULT_ALARM_AFTER_S, |d| d.as_secs_f64()),
            ),
            cgroup_memory_max: limits
                .memory
                .as_ref()
                .filter(|l| l.source != "--limit")
                .map(|l| l.value),
            rlimit_nofile: limits.open_files.as_ref().map(|l| l.value),
        };
        rundir::write_run_json(&dir, &info)?;
        Ok(SessionDir { dir, info, limits })
    }
}

/// Sample `sampler`'s tree until the target exits, the duration passes or a signal arrives.
///
/// With a `target`, its exit ends the session once no process of its tree is left, or at once
/// when it failed; a signal is forwarded to its process group.
pub(crate) fn record(
    sampler: &mut Sampler,
    mut target: Option<&mut Target>,
    props: &SamplingProps,
    dir: &Path,
    out: &Output,
    interrupts: &Interrupts,
    requests: Option<&LiveRequests>,
) -> anyhow::Result<Recording> {
    let mut writer = Some(SamplesWriter::create(dir)?);
    let mut set = SeriesSet::new();
    let mut tracker = ProcessTracker::default();
    let mut alarms = Alarms::new(props);
    let pb = out.progress(props.duration);
    let start = Instant::now();
    // A target just started is still in `exec` and its dynamic loader (RSS 0 to 2 MB, where a
    // Python program holds 55 MB a second later): a sample then is no reading of the program,
    // and its jump to the program's size read as a step up (a Node service's start counted as
    // one step of a staircase, a leak) or as the start of the rise (a leak after 2 min flat
    // averaged over the whole run: 1.55 MiB/min for 2.17). The first sample of a started
    // target is one interval in; a process being watched is sampled at once.
    let mut next = if target.is_some() {
        start + props.interval.min(props.duration.unwrap_or(props.interval))
    } else {
        start
    };
    let mut samples = 0usize;
    let mut late = 0usize;
    let mut worst_late = 0.0f64;
    let mut unreadable_warned: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    let poll = Duration::from_millis(20).min(props.interval);
    // The target's own exit was seen (and the tree sampled at once for what it left running).
    let mut exit_seen = false;

    let ended = 'outer: loop {
        // Wait for the next tick, reacting to signals and the target's exit meanwhile.
        loop {
            if let Some(sig) = interrupts.take() {
                break 'outer Ended::Interrupted(sig);
            }
            if let Some(t) = target.as_deref_mut()
                && t.poll().is_some()
            {
                if t.failed() {
                    break 'outer Ended::Exited;
                }
                if !exit_seen {
                    // Sample now rather than at the next tick: with nothing left running the
                    // session ends when the target did, not up to an interval later.
                    exit_seen = true;
                    break;
                }
            }
            let now = Instant::now();
            if now >= next {
                break;
            }
            thread::sleep(poll.min(next - now));
        }
        let now = Instant::now();
        // A sample taken early, at the target's exit, keeps the schedule of the others.
        let on_tick = now >= next;
        let lateness = now.saturating_duration_since(next).as_secs_f64();
        if lateness > props.interval.as_secs_f64() / 2.0 {
            late += 1;
            worst_late = worst_late.max(lateness);
        }
        let t = (now - start).as_secs_f64();
        let sample = sampler.sample()?;
        if sample.processes.is_empty() {
            break if target.is_some() {
                Ended::Exited
            } else {
                Ended::Vanished
            };
        }
        // One warning per kind of file that could not be read (smaps_rollup, fd, status).
        for (pid, error) in &sample.unreadable {
            let kind = error
                .split(": ")
                .next()
                .and_then(|path| path.rsplit('/').next())
                .unwrap_or("")
                .to_string();
            if !unreadable_warned.contains(&kind) {
                warnings.push(Warning::SmapsUnreadable {
                    pid: *pid,
                    error: error.clone(),
                });
                unreadable_warned.push(kind);
            }
        }
        // A disk that fills (or a run directory removed) stops the files, not the run: the
        // samples are judged from memory and the verdict still printed, with a warning.
        if let Some(w) = writer.as_mut()
            && let Err(e) = w.append(t, &sample)
        {
            warnings.push(Warning::Note {
                message: format!(
                    "{e:#} at {t:.1} s; samples.csv and processes.csv stop there, the verdict \
                     is of every sample (held in memory)"
                ),
            });
            writer = None;
        }
        set.push(t, &sample.total);
        tracker.observe(t, &sample);
        samples += 1;
        pb.set_position(t as u64);
        pb.set_message(progress_message(&sample.total));
        if alarms.update(&set, &tracker, requests, out) && props.stop_on_leak {
            break Ended::Alarm;
        }
        if let Some(d) = props.duration
            && t + 1e-6 >= d.as_secs_f64()
        {
            break Ended::Duration;
        }
        if !on_tick {
            continue;
        }
        next += props.interval;
        if next < now {
            // Fell behind (suspended machine, huge tree): skip the missed ticks.
            next = now + props.interval;
        }
        if let Some(d) = props.duration {
            // Make the last sample land on the end of the duration.
            next = next.min(start + d);
        }
    };
    pb.finish_and_clear();
    let elapsed_s = start.elapsed().as_secs_f64();
    if late > 0 {
        warnings.push(Warning::SamplingLate {
            late,
            worst_s: worst_late,
        });
    }
    if let Ended::Interrupted(_) = ended {
        warnings.push(Warning::Interrupted { after_s: elapsed_s });
    }
    Ok(Recording {
        series: set.into_non_empty(),
        samples,
        ended,
        elapsed_s,
        warnings,
        restarts: super::processes::known_restarts(&tracker.spans()),
        processes: tracker.into_changes(),
        alarms: alarms.raised,
        heap_diff: None,
        heap: None,
    })
}

/// The online detector run on every judged series as samples arrive (see
/// [`leakhound_detect::OnlineMonitor`]): an alarm is printed when it is raised and kept for
/// the report.
struct Alarms {
    /// One per column of [`SeriesSet`], `None` for a series not judged.
    monitors: Vec<Option<OnlineMonitor>>,
    opts: DetectOptions,
    raised: Vec<SeriesVerdict>,
}

impl Alarms {
    fn new(props: &SamplingProps) -> Alarms {
        Alarms {
            monitors: Metric::ALL
                .iter()
                .map(|m| (!NOT_JUDGED.contains(m)).then(OnlineMonitor::new))
                .collect(),
            opts: props.detect_options(),
            raised: Vec::new(),
        }
    }

    /// Look at the newest sample of every series; whether an alarm was raised on it. With
    /// `requests` (a load is running), memory that follows it is taken out as at the end of the
    /// run.
    fn update(
        &mut self,
        set: &SeriesSet,
        tracker: &ProcessTracker,
        requests: Option<&LiveRequests>,
        out: &Output,
    ) -> bool {
        // Restarts seen so far, as the end of the run judges them (a process of the tree that
        // ended), and the requests served so far: read only when some series is at a
        // checkpoint.
        let mut opts: Option<(DetectOptions, Option<Series>)> = None;
        let mut any = false;
        for (series, monitor) in set.series.iter().zip(&mut self.monitors) {
            let Some(monitor) = monitor else { continue };
            let Some(&t) = series.t.last() else { continue };
            if !monitor.due(t) {
                continue;
            }
            let (o, served) = opts.get_or_insert_with(|| {
                let o = DetectOptions {
                    restarts: super::processes::known_restarts(&tracker.spans()),
                    ..self.opts.clone()
                };
                (o, requests.and_then(LiveRequests::snapshot))
            });
            let raised = match served {
                Some(r) => monitor.update_with_load(series, r, o),
                None => monitor.update(series, o),
            };
            let Some(v) = raised else {
                continue;
            };
            if let Some(alarm) = online_alarm(v) {
                out.status(&format!(
                    "leakhound: leak alarm at {:.*} s: {}: {}",
                    usize::from(alarm.at_s < 60.0),
                    alarm.at_s,
                    alarm.series,
                    alarm.reason
                ));
            }
            self.raised.push(v.clone());
            any = true;
        }
        any
    }
}

/// The report's record of an alarm verdict (which always has its time).
fn online_alarm(v: &SeriesVerdict) -> Option<OnlineAlarm> {
    Some(OnlineAlarm {
        series: v.series.clone(),
        at_s: v.detected_at_s?,
        rate_per_s: v.rate_per_s,
        reason: v.reason.clone(),
    })
}

fn progress_message(total: &leakhound_sampler::Counters) -> String {
    let rss = total
        .get(Metric::RssBytes)
        .map(format_bytes)
        .unwrap_or_else(|| "-".into());
    let fds = total
        .get(Metric::Fds)
        .map(|v| format!("{v:.0}"))
        .unwrap_or_else(|| "-".into());
    let procs = total.get(Metric::Processes).unwrap_or(0.0);
    format!("rss {rss} · fds {fds} · {procs:.0} procs")
}

/// Series recorded but not judged. PSS moves when *other* processes that share pages with the
/// target start or exit (another instance of the same binary, a forked sibling), so its trend
/// says nothing about the target's own memory; USS and anon judge private memory instead.
pub(crate) const NOT_JUDGED: [Metric; 1] = [Metric::PssBytes];

/// The load driver's requests served as a cumulative series on the recording's clock (the
/// recording starts as the load starts, see `commands::run`), for judging with load as a
/// covariate. `None` without at least two seconds of load.
pub(crate) fn requests_served(load: &LoadSummary) -> Option<Series> {
    if load.per_second.len() < 2 {
        return None;
    }
    let mut t = Vec::with_capacity(load.per_second.len() + 1);
    let mut v = Vec::with_capacity(load.per_second.len() + 1);
    t.push(0.0);
    v.push(0.0);
    for r in &load.per_second {
        if r.t_s > t[t.len() - 1] {
            t.push(r.t_s);
            v.push(r.requests_total as f64);
        }
    }
    Some(Series::from_parts(
        "requests_total",
        leakhound_core::Unit::Requests,
        t,
        v,
    ))
}

/// Judge every series (end of run), each against the limit that applies to it. With
/// `requests` (requests served, from the load driver), what follows the request rate is taken
/// out first (`leakhound_detect::analyze_with_load`).
pub(crate) fn judge(
    series: &[Series],
    requests: Option<&Series>,
    opts: &DetectOptions,
    limits: &TargetLimits,
) -> (Vec<SeriesVerdict>, Verdict) {
    let max_processes = series
        .iter()
        .find(|s| s.name == Metric::Processes.name())
        .map(|s| s.v.iter().copied().fold(0.0, f64::max))
        .unwrap_or(1.0);
    let verdicts: Vec<SeriesVerdict> = series
        .iter()
        .filter(|s| !NOT_JUDGED.iter().any(|m| m.name() == s.name))
        .map(|s| {
            let limit = limits.for_series(s, max_processes);
            let o = DetectOptions {
                limit: limit.map(|l| l.value),
                ..opts.clone()
            };
            let mut v = match requests {
                Some(r) => leakhound_detect::analyze_with_load(s, r, &o),
                None => leakhound_detect::analyze(s, &o),
            };
            if let Some(l) = limit {
                v.limit = Some(l.value);
                v.limit_source = Some(l.source.to_string());
            }
            v
        })
        .collect();
    let overall = Verdict::combine(verdicts.iter().map(|v| v.verdict));
    (verdicts, overall)
}

/// Judge the recording, write `verdict.json` (and `load.csv` when load was driven), and build
/// the report.
pub(crate) fn conclude(
    session: &SessionDir,
    rec: Recording,
    target: TargetOutcome,
    props: &SamplingProps,
    load: Option<LoadSummary>,
) -> anyhow::Result<RunReport> {
    let requests = load.as_ref().and_then(requests_served);
    let opts = DetectOptions {
        restarts: rec.restarts.clone(),
        ..props.detect_options()
    };
    let (mut verdicts, mut overall) = judge(&rec.series, requests.as_ref(), &opts, &session.limits);
    if rec.ended == Ended::Alarm && alarm_verdicts(&mut verdicts, &rec.alarms) {
        overall = Verdict::combine(verdicts.iter().map(|v| v.verdict));
    }
    if let Some(l) = &load
        && apply_idle_phase_evidence(&mut verdicts, l)
    {
        overall = Verdict::combine(verdicts.iter().map(|v| v.verdict));
    }
    let mut warnings = rec.warnings;
    if let Some(l) = &load {
        let of_series = l.retained.as_ref().and_then(|r| {
            verdicts
                .iter()
                .find(|v| v.series == r.series)
                .map(|v| v.verdict)
        });
        warnings.extend(crate::commands::load::retained_note(l, of_series));
    }
    warnings.extend(young_heap_note(
        &session.info.mode,
        &rec.processes,
        &verdicts,
        rec.elapsed_s,
        props.warmup.as_secs_f64(),
    ));
    if overall == Verdict::Inconclusive {
        let warm = props.warmup.as_secs_f64();
        let after_warmup = rec
            .series
            .first()
            .map(|s| s.t.iter().filter(|&&t| t >= s.t[0] + warm).count())
            .unwrap_or(0);
        let more = verdicts
            .iter()
            .filter_map(|v| v.needs_more_s)
            .fold(0.0, f64::max);
        let per_sample = props.interval.as_secs_f64();
        warnings.push(Warning::TooFewSamples {
            after_warmup,
            // Under the detector's minimum, that minimum (as its verdicts say); else as many as
            // the time any verdict still needs holds.
            needed: if after_warmup < leakhound_detect::MIN_SAMPLES {
                leakhound_detect::MIN_SAMPLES
            } else {
                after_warmup + (more / per_sample).round() as usize
            },
            // A target that ended (or vanished) before the duration was not cut short by it:
            // a longer --duration would not have helped.
            duration_s: props
                .duration
                .filter(|_| !matches!(rec.ended, Ended::Exited | Ended::Vanished))
                .map(|d| d.as_secs_f64()),
        });
    }
    let mut report = RunReport {
        schema_version: leakhound_core::SCHEMA_VERSION,
        run: session.info.clone(),
        target,
        verdict: overall,
        series: verdicts,
        warnings,
        processes: rec.processes,
        alarms: rec.alarms.iter().filter_map(online_alarm).collect(),
        load,
        heap_diff: rec.heap_diff,
        heap: rec.heap,
        data: rec.series,
    };
    // The heap agent's and the heap diff's verdicts count too: verdict.json's `verdict` is the
    // one the exit code follows.
    report.fold_verdict();
    // The verdict is made: a file that cannot be written is a warning beside it, not a lost
    // verdict (exit 101 "a bug" on a full disk).
    if let Some(l) = &report.load
        && let Err(e) = rundir::write_load_csv(&session.dir, l)
    {
        report.warnings.push(Warning::Note {
            message: format!("{e:#}"),
        });
    }
    if let Err(e) = rundir::write_verdict_json(&session.dir, &report) {
        report.warnings.push(Warning::Note {
            message: format!(
                "{e:#}: the verdict is printed here only (`leakhound report` judges the run \
                 directory again from samples.csv)"
            ),
        });
    }
    Ok(report)
}

/// A run stopped by an online alarm (`--stop-on-leak`) is judged on what was recorded up to
/// it. Where the end-of-run rules do not call the alarmed series a leak on those samples (they
/// judge the whole window at once, the online rules every checkpoint with persistence), the
/// alarm's own verdict stands, so the run ends with the leak that stopped it. Returns whether
/// any verdict changed.
fn alarm_verdicts(verdicts: &mut [SeriesVerdict], alarms: &[SeriesVerdict]) -> bool {
    let mut changed = false;
    for alarm in alarms {
        if let Some(v) = verdicts
            .iter_mut()
            .find(|v| v.series == alarm.series && v.verdict != Verdict::Leak)
        {
            *v = alarm.clone();
            changed = true;
        }
    }
    changed
}

/// Runtimes whose heap grows for minutes under new load before it settles, by the process's
/// `comm`: measured on our test services (`bench/runtimes.sh`, docs/run.md) for Node (steps at
/// 55 s and 105-120 s, settled after about 3 minutes at 200 req/s) and Java (300 MiB in the
/// first 36 s).
const GROWING_HEAP_RUNTIMES: [&str; 2] = ["node", "java"];

/// Runs shorter than this, from the target's start, get the note of [`young_heap_note`].
const YOUNG_HEAP_S: f64 = 300.0;

/// A note for a memory leak found in a `run` of a Node or Java service shorter than
/// [`YOUNG_HEAP_S`] without `--warmup`: such a runtime grows its heap for the first minutes
/// under new load, and that growth has the shape of a leak (docs/run.md, "Garbage-collected
/// runtimes"). The verdict and the exit code stay as they are: a leak in the first minutes is
/// a leak too, and only a longer run tells the two apart.
fn young_heap_note(
    mode: &str,
    processes: &[leakhound_core::ProcessChange],
    verdicts: &[SeriesVerdict],
    elapsed_s: f64,
    warmup_s: f64,
) -> Option<Warning> {
    if mode != "run" || warmup_s > 0.0 || elapsed_s >= YOUNG_HEAP_S {
        return None;
    }
    let memory_leak = verdicts
        .iter()
        .any(|v| v.unit == leakhound_core::Unit::Bytes && v.verdict == Verdict::Leak);
    let runtime = processes
        .iter()
        .map(|p| p.comm.as_str())
        .find(|c| GROWING_HEAP_RUNTIMES.contains(c))?;
    memory_leak.then(|| Warning::Note {
        message: format!(
            "a {runtime} process grows its heap for the first minutes under new load, and that \
             growth looks like a leak; this run lasted {elapsed_s:.0} s: run for several minutes \
             and leave the start out (--duration 10m --warmup 2m), or use a scenario with idle \
             phases, to tell the two apart (docs/run.md, \"Garbage-collected runtimes\")"
        ),
    })
}

/// Idle phases needed before their floors may overrule the detector.
const MIN_IDLE_FLOORS: usize = 3;

/// Use the floors at the end of idle phases (`run --scenario` with `cycles`) to tell memory that
/// follows load from memory that is retained. A memory series the detector called a leak becomes
/// `no_leak` when the idle-phase floors bound the retention tightly: even at the upper end of the
/// 95 % interval of bytes retained per request, the requests served would have retained less
/// than the detector's smallest meaningful growth ([`leakhound_detect::DEFAULT_MIN_GROWTH`] of
/// the memory level). A wide interval (few or noisy floors) changes nothing: it could hide a
/// real leak.
///
/// The other direction (floors rising, detector silent) is not used to raise a leak: allocators
/// keep their high-water mark after a burst, so floors can rise with the highest load seen
/// without anything being retained. Returns whether any verdict changed.
pub(crate) fn apply_idle_phase_evidence(
    verdicts: &mut [SeriesVerdict],
    load: &LoadSummary,
) -> bool {
    let Some(r) = &load.retained else {
        return false;
    };
    if r.method != "idle_phases" || r.floors < MIN_IDLE_FLOORS {
        return false;
    }
    let retained_max = r.ci95[1].max(0.0) * load.completed as f64;
    let mut changed = false;
    for v in verdicts.iter_mut().filter(|v| v.verdict == Verdict::Leak) {
        let memory = Metric::from_name(&v.series).is_some_and(Metric::is_memory);
        // The memory level the growth is relative to, from the verdict's own growth figures.
        let level = match (v.growth_abs, v.growth_pct) {
            (Some(abs), Some(pct)) if pct > 0.0 => abs * 100.0 / pct,
            _ => continue,
        };
        if !memory || retained_max >= leakhound_detect::DEFAULT_MIN_GROWTH * level {
            continue;
        }
        v.verdict = Verdict::NoLeak;
        v.leak_detected = false;
        v.detected_at_s = None;
        v.time_to_limit_s = None;
        v.reason = format!(
            "memory rises while load is applied, but the floors after the {} idle phases bound what \
             is retained to at most {} per request ({} over {} requests, under {:.0} % of the level): \
             it follows load and is given back",
            r.floors,
            format_bytes(r.ci95[1].max(0.0)),
            format_bytes(retained_max),
            load.completed,
            leakhound_detect::DEFAULT_MIN_GROWTH * 100.0
        );
        changed = true;
    }
    changed
}

/// Outcome of a session without a child of ours (`watch`).
pub(crate) fn watch_outcome(rec: &Recording) -> TargetOutcome {
    TargetOutcome {
        ended_by: rec.ended.as_str().to_string(),
        exit_code: None,
        signal: None,
        failed: false,
        elapsed_s: rec.elapsed_s,
        samples: rec.samples,
    }
}

/// Outcome of a session with our own child.
pub(crate) fn child_outcome(rec: &Recording, target: &Target) -> TargetOutcome {
    TargetOutcome {
        ended_by: rec.ended.as_str().to_string(),
        exit_code: target.exit_code(),
        signal: target.exit_signal(),
        failed: target.failed(),
        elapsed_s: rec.elapsed_s,
        samples: rec.samples,
    }
}

#[cfg(test)]
mod tests {
    use leakhound_core::Unit;
    use leakhound_core::load::RetainedPerRequest;

    use super::*;

    fn load_with(retained: Option<RetainedPerRequest>) -> LoadSummary {
        let mut l: LoadSummary = serde_json::from_value(serde_json::json!({
            "target": "http://127.0.0.1:1/", "model": "open", "arrivals": "constant",
            "connections": 4, "elapsed_s": 60.0, "interrupted": false, "offered_rate": 100.0,
            "achieved_rate": 100.0, "scheduled": 6000, "sent": 6000, "completed": 6000,
            "late": 0, "late_threshold_ms": 10.0, "dropped": 0, "status_counts": {},
            "errors": {"connect": 0, "timeout": 0, "reset": 0, "http": 0, "other": 0},
            "latency": {"count": 0, "mean_ms": 0.0, "p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0,
                        "p999_ms": 0.0, "max_ms": 0.0},
            "per_second": []
        }))
        .expect("a valid load summary");
        l.retained = retained;
        l
    }

    fn retained(lo: f64, hi: f64, floors: usize, method: &str) -> Option<RetainedPerRequest> {
        Some(RetainedPerRequest {
            series: "rss_bytes".into(),
            bytes_per_request: (lo + hi) / 2.0,
            ci95: [lo, hi],
            floors,
            method: method.into(),
        })
    }

    /// A memory leak verdict of +20 MB over a 100 MB level, and an fd leak.
    fn verdicts() -> Vec<SeriesVerdict> {
        let mut rss = SeriesVerdict::empty("rss_bytes", Unit::Bytes, Verdict::Leak, "rises");
        rss.growth_abs = Some(20e6);
        rss.growth_pct = Some(20.0);
        let mut fds = SeriesVerdict::empty("fds", Unit::Fds, Verdict::Leak, "rises");
        fds.growth_abs = Some(100.0);
        fds.growth_pct = Some(500.0);
        vec![rss, fds]
    }

    /// The retained-per-request note agrees with the series' verdict: a warm-up under a
    /// constant rate also rises with the requests served (bench/runtimes.sh, Node fixed: 1.16 KiB
    /// per request "retained" by a service the detector rightly called no leak).
    #[test]
    fn the_retained_note_follows_the_verdict_of_its_series() {
        let note = |lo: f64, v: Option<Verdict>| {
            let l = load_with(retained(lo, 2000.0, 9, "windows"));
            match crate::commands::load::retained_note(&l, v) {
                Some(Warning::Note { message }) => message,
                other => panic!("expected a note, got {other:?}"),
            }
        };
        assert!(
            note(800.0, Some(Verdict::Leak))
                .ends_with("memory grows with the number of requests served")
        );
        let warm = note(800.0, Some(Verdict::NoLeak));
        assert!(warm.contains("but rss_bytes is no leak"), "{warm}");
        assert!(!warm.contains("grows with the number"), "{warm}");
        assert!(note(800.0, Some(Verdict::Inconclusive)).contains("not yet clear"));
        assert!(note(-100.0, Some(Verdict::Leak)).contains("told from zero"));
        assert!(crate::commands::load::retained_note(&load_with(None), None).is_none());
    }

    #[test]
    fn flat_idle_floors_make_a_memory_rise_load_following() {
        let mut v = verdicts();
        assert!(apply_idle_phase_evidence(
            &mut v,
            &load_with(retained(-50.0, 40.0, 5, "idle_phases"))
        ));
        assert_eq!(v[0].verdict, Verdict::NoLeak);
        assert!(v[0].reason.contains("follows load"), "{}", v[0].reason);
        // Resource counts are not memory: the floors of rss say nothing about them.
        assert_eq!(v[1].verdict, Verdict::Leak);
    }

    #[test]
    fn retention_or_weak_evidence_changes_nothing() {
        for r in [
            retained(3900.0, 4200.0, 5, "idle_phases"),
            // Can't be told from zero, but too wide to rule out 3 % (1 kB x 6000 = 6 MB).
            retained(-900.0, 1000.0, 5, "idle_phases"),
            retained(-50.0, 40.0, 2, "idle_phases"),
            retained(-50.0, 40.0, 8, "windows"),
            None,
        ] {
            let mut v = verdicts();
            assert!(!apply_idle_phase_evidence(&mut v, &load_with(r)));
            assert_eq!(v[0].verdict, Verdict::Leak);
        }
    }
}
