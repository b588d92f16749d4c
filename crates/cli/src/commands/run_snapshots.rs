//! `run --snapshots node|java|go`: heap snapshots between load phases, diffed into the report.
//!
//! The three-snapshot method driven by our own load: the load plan is cut into phases (at least
//! `--snapshot-phases`; a single constant stage is split equally), each followed by a pause
//! without requests. Snapshot 0 is taken after the target is ready and before any load; snapshot
//! k at the start of the pause after phase k. The files go to `RUN_DIR/snapshots/`, the diff
//! (`leakhound diff` of them) goes into the run report (`heap_diff`) and the exit code.
//!
//! A snapshot that fails (inspector unreachable, `jcmd` missing) never stops the run: the
//! memory verdict is still written, and the failure is reported. Not for taking one snapshot of
//! a running process (`leakhound snapshot`) or reading snapshots (`leakhound-heap`).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use leakhound_core::{ExitCodes, HeapDiffRun, SnapshotTaken, Verdict, format_bytes};
use leakhound_heap::diff::{DiffReport, Verdict as HeapVerdict};
use leakhound_heap::run_snapshots::{
    DEFAULT_PPROF_BASE, PprofEndpoint, Runtime, SnapshotSource, find_in_tree,
};
use leakhound_heap::{DiffOptions, diff_snapshots};
use leakhound_load::{LoadPlan, Model, Stage};

use crate::args::{RunSnapshotArgs, SnapshotKind};
use crate::errors::ExpectedError;
use crate::output::Output;

/// After a phase's last request is sent, its responses get this long before the snapshot:
/// requests scheduled at the very end of the phase are still in flight for a few ms, and the
/// load thread starts its clock a little after ours.
const SETTLE: Duration = Duration::from_millis(400);

/// Findings kept per diff in the run report (`leakhound diff --top N` on the files for more).
const RUN_TOP: usize = 6;

/// How long a wrapper (`sh -c`, `npm start`) gets to start the runtime process after the
/// target answered `--ready`.
const FIND_RUNTIME_TIMEOUT: Duration = Duration::from_secs(5);

/// Validated `--snapshots` settings and the phase schedule, made before the target starts.
pub(crate) struct SnapshotPlan {
    runtime: Runtime,
    /// End of each load phase, counted from the start of the load.
    phase_ends: Vec<Duration>,
    /// The load phases (stages), in order.
    phases: Vec<Vec<Stage>>,
    /// The load's idle tail (kept last).
    tail: Option<Stage>,
    /// Pause without requests after each phase.
    pause: Duration,
    /// Whether `--snapshot-pause` was given (else it may grow to fit snapshot 0's time).
    pause_given: bool,
    /// Sampling length: all phases and pauses (the load's idle tail excluded).
    pub(crate) sampling: Duration,
    notes: Vec<String>,
    pprof: Option<PprofEndpoint>,
    inspector_port: Option<u16>,
    /// Environment for the target (Node: where SIGUSR1 opens the inspector).
    pub(crate) env: Vec<(OsString, OsString)>,
}

/// Check the flags and rebuild `plan` into phases with pauses. `None` without `--snapshots`.
pub(crate) fn prepare(
    a: &RunSnapshotArgs,
    plan: Option<&mut LoadPlan>,
) -> anyhow::Result<Option<SnapshotPlan>> {
    let Some(kind) = a.snapshots else {
        if a.pprof_url.is_some() {
            return Err(ExpectedError::usage("--pprof-url needs --snapshots go"));
        }
        return Ok(None);
    };
    let runtime = match kind {
        SnapshotKind::Node => Runtime::Node,
        SnapshotKind::Java => Runtime::Java,
        SnapshotKind::Go => Runtime::Go,
    };
    if a.pprof_url.is_some() && runtime != Runtime::Go {
        return Err(ExpectedError::usage("--pprof-url is for --snapshots go"));
    }
    let Some(plan) = plan else {
        return Err(ExpectedError::usage(
            "--snapshots takes a snapshot after each load phase: give --load URL --rate N (or --scenario FILE)",
        ));
    };
    if a.snapshot_phases < 2 {
        return Err(ExpectedError::usage(
            "--snapshot-phases must be at least 2 (3 or more tell a leak from warm-up)",
        ));
    }
    if a.snapshot_pause.is_some_and(|p| p.is_zero()) {
        return Err(ExpectedError::usage(
            "--snapshot-pause must be longer than 0 s",
        ));
    }
    // Phases are fractions of the load's length: an open-ended load (no --duration) has none.
    if plan.duration() >= super::load::OPEN_ENDED {
        return Err(ExpectedError::usage(
            "--snapshots splits the load into phases: give --duration (e.g. --duration 3m) or a scenario with stages",
        ));
    }
    let Model::Open { stages, .. } = &mut plan.model else {
        return Err(ExpectedError::usage(
            "--snapshots needs load phases of the open model (--rate or a scenario with stages), not --concurrency",
        ));
    };
    // `run` appends an idle tail (the load keeps its connections through the last sample).
    let tail = match stages.last() {
        Some(Stage::Idle { .. }) => stages.pop(),
        _ => None,
    };
    let (phases, mut notes) = make_phases(stages, a.snapshot_phases);
    let pause = a.snapshot_pause.unwrap_or(DEFAULT_PAUSE);
    let (new_stages, phase_ends, t) = layout(&phases, pause, tail.as_ref());
    *stages = new_stages;
    let mut env = Vec::new();
    let mut inspector_port = None;
    let mut pprof = None;
    match runtime {
        Runtime::Node => {
            let port = free_port()?;
            let mut opts = std::env::var_os("NODE_OPTIONS").unwrap_or_default();
            if !opts.is_empty() {
                opts.push(" ");
            }
            opts.push(format!("--inspect-port=127.0.0.1:{port}"));
            env.push((OsString::from("NODE_OPTIONS"), opts));
            inspector_port = Some(port);
        }
        Runtime::Java => {}
        Runtime::Go => {
            let url = a
                .pprof_url
                .clone()
                .unwrap_or_else(|| format!("{}{DEFAULT_PPROF_BASE}", plan.target.base_url()));
            let e = PprofEndpoint::parse(&url).map_err(ExpectedError::usage)?;
            if a.pprof_url.is_none() {
                notes.push(format!(
                    "pprof endpoint {} (the load target's; set another with --pprof-url)",
                    e.url()
                ));
            }
            pprof = Some(e);
        }
    }
    Ok(Some(SnapshotPlan {
        runtime,
        phase_ends,
        phases,
        tail,
        pause,
        pause_given: a.snapshot_pause.is_some(),
        sampling: t,
        notes,
        pprof,
        inspector_port,
        env,
    }))
}

/// Pause after each phase without `--snapshot-pause`: a small service's snapshot takes well
/// under a second (Node 20 with ~10 MB of heap: 0.4-0.9 s; jcmd: 0.3 s; pprof: < 0.1 s).
const DEFAULT_PAUSE: Duration = Duration::from_secs(3);

/// The open-model stages for `phases`, each followed by a `pause`, then `tail`; with the end of
/// each phase and the length without the tail (counted from the start of the load).
fn layout(
    phases: &[Vec<Stage>],
    pause: Duration,
    tail: Option<&Stage>,
) -> (Vec<Stage>, Vec<Duration>, Duration) {
    let mut stages = Vec::new();
    let mut ends = Vec::new();
    let mut t = Duration::ZERO;
    for p in phases {
        t += p.iter().map(Stage::duration).sum::<Duration>();
        ends.push(t);
        stages.extend(p.iter().cloned());
        stages.push(Stage::Idle { duration: pause });
        t += pause;
    }
    stages.extend(tail.cloned());
    (stages, ends, t)
}

/// A port on 127.0.0.1 that is free now (for Node's `--inspect-port`).
fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| anyhow::anyhow!("failed to find a free port for the Node inspector: {e}"))?;
    Ok(l.local_addr()?.port())
}

/// Cut the load's stages into phases (each ends with a snapshot). Cycles and steps give one
/// phase per cycle/step; idle stages join the phase before them (an interval without load
/// would break "grows in every interval"); with fewer than `min` phases, single constant or
/// ramp phases are split into equal parts.
fn make_phases(stages: &[Stage], min: usize) -> (Vec<Vec<Stage>>, Vec<String>) {
    let mut phases: Vec<Vec<Stage>> = Vec::new();
    let mut leading_idle = Vec::new();
    for s in stages {
        match s {
            Stage::Cycles {
                rate,
                load,
                idle,
                cycles,
            } => {
                for _ in 0..*cycles {
                    let mut p = std::mem::take(&mut leading_idle);
                    p.push(Stage::Constant {
                        rate: *rate,
                        duration: *load,
                    });
                    p.push(Stage::Idle { duration: *idle });
                    phases.push(p);
                }
            }
            Stage::Steps { rates, every } => {
                for r in rates {
                    let mut p = std::mem::take(&mut leading_idle);
                    p.push(Stage::Constant {
                        rate: *r,
                        duration: *every,
                    });
                    phases.push(p);
                }
            }
            Stage::Idle { .. } => match phases.last_mut() {
                Some(p) => p.push(s.clone()),
                None => leading_idle.push(s.clone()),
            },
            Stage::Constant { .. } | Stage::Ramp { .. } => {
                let mut p = std::mem::take(&mut leading_idle);
                p.push(s.clone());
                phases.push(p);
            }
        }
    }
    let mut notes = Vec::new();
    if !phases.is_empty() && phases.len() < min {
        let parts = min.div_ceil(phases.len());
        let before = phases.len();
        let mut split = Vec::new();
        for p in phases {
            match p.as_slice() {
                [one @ (Stage::Constant { .. } | Stage::Ramp { .. })] => {
                    split.extend(split_stage(one, parts).into_iter().map(|s| vec![s]));
                }
                _ => split.push(p),
            }
        }
        phases = split;
        if phases.len() > before {
            let each = phases[0].iter().map(Stage::duration).sum::<Duration>();
            notes.push(format!(
                "the load has {before} {}: split into {} equal phases of {:.1} s so the leak can be told from warm-up",
                if before == 1 { "phase" } else { "phases" },
                phases.len(),
                each.as_secs_f64()
            ));
        }
    }
    (phases, notes)
}

/// `stage` as `parts` consecutive stages of equal length.
fn split_stage(stage: &Stage, parts: usize) -> Vec<Stage> {
    let n = parts.max(1) as u32;
    match *stage {
        Stage::Constant { rate, duration } => (0..n)
            .map(|_| Stage::Constant {
                rate,
                duration: duration / n,
            })
            .collect(),
        Stage::Ramp { from, to, duration } => (0..n)
            .map(|i| {
                let at = |k: u32| from + (to - from) * f64::from(k) / f64::from(n);
                Stage::Ramp {
                    from: at(i),
                    to: at(i + 1),
                    duration: duration / n,
                }
            })
            .collect(),
        _ => vec![stage.clone()],
    }
}

/// A status line that does not tear a progress bar drawn on the same terminal.
fn say(out: &Output, msg: &str) {
    if out.quiet {
        return;
    }
    let mut e = std::io::stderr().lock();
    if e.is_terminal() {
        let _ = write!(e, "\r\x1b[2K{msg}\n");
    } else {
        let _ = writeln!(e, "{msg}");
    }
}

/// Snapshots taken so far, shared with the snapshot thread.
struct Taken {
    attempts: Vec<SnapshotTaken>,
    files: Vec<Vec<PathBuf>>,
    /// Snapshots that ran into the next load phase.
    notes: Vec<String>,
    /// The target's root process: a snapshot that fails once it has exited is said to have
    /// failed for that reason (not for the refused connection that follows from it).
    root: u32,
    /// A snapshot failed because the target had exited.
    target_gone: bool,
}

impl Taken {
    fn take(
        &mut self,
        source: &SnapshotSource,
        dir: &Path,
        label: String,
        t_s: f64,
        out: &Output,
    ) -> bool {
        let index = self.attempts.len();
        let start = Instant::now();
        let res = source.take(dir, index);
        let took_s = start.elapsed().as_secs_f64();
        let (files, error) = match res {
            Ok(f) => (f, None),
            Err(e) => {
                // The process snapshotted (node, java), or for a pprof URL the target: a
                // wrapper that exits and leaves its node running is no reason.
                let watched = source.pid().unwrap_or(self.root);
                if leakhound_heap::process_is_alive(watched) {
                    (Vec::new(), Some(e.to_string()))
                } else {
                    self.target_gone = true;
                    let who = if watched == self.root {
                        "the target".to_string()
                    } else {
                        format!("{} (pid {watched})", source.runtime_name())
                    };
                    (
                        Vec::new(),
                        Some(format!("{who} had exited, nothing to snapshot ({e})")),
                    )
                }
            }
        };
        match &error {
            None => {
                let size: u64 = files
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum();
                say(
                    out,
                    &format!(
                        "leakhound: snapshot {index} ({label}): {} in {took_s:.1} s -> {}",
                        format_bytes(size as f64),
                        files[0].display()
                    ),
                );
            }
            Some(e) => say(
                out,
                &format!("leakhound: snapshot {index} ({label}) failed: {e}"),
            ),
        }
        let ok = error.is_none();
        self.attempts.push(SnapshotTaken {
            label,
            t_s,
            took_s,
            files: files.iter().map(|f| f.display().to_string()).collect(),
            error,
        });
        self.files.push(files);
        ok
    }
}

/// Snapshot 0 is taken; the rest follow the load (see [`Baseline::schedule`]).
pub(crate) struct Baseline {
    plan: SnapshotPlan,
    dir: PathBuf,
    source: Option<SnapshotSource>,
    taken: Taken,
    errors: Vec<String>,
}

impl SnapshotPlan {
    /// Find the process (or endpoint) to snapshot in the tree of `root` and take snapshot 0
    /// into `run_dir/snapshots/`. Failures are recorded, never returned: the run goes on.
    pub(crate) fn baseline(self, root: u32, run_dir: &Path, out: &Output) -> Baseline {
        let dir = run_dir.join("snapshots");
        let mut errors = Vec::new();
        let mut taken = Taken {
            attempts: Vec::new(),
            files: Vec::new(),
            notes: Vec::new(),
            root,
            target_gone: false,
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            errors.push(format!("failed to create {}: {e}", dir.display()));
        }
        let source = match (self.runtime.process_name(), &self.pprof) {
            (_, Some(e)) => Some(SnapshotSource::Go(e.clone())),
            (Some(name), None) => {
                let start = Instant::now();
                let pid = loop {
                    if let Some(p) = find_in_tree(root, name) {
                        break Some(p);
                    }
                    if start.elapsed() > FIND_RUNTIME_TIMEOUT {
                        break None;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                };
                match pid {
                    None => {
                        errors.push(format!(
                            "no `{name}` process in the target's tree (root pid {root}): nothing to snapshot; is this a {} service?",
                            self.runtime.as_str()
                        ));
                        None
                    }
                    Some(pid) => Some(match self.inspector_port {
                        Some(port) => SnapshotSource::Node {
                            pid,
                            inspector_port: port,
                        },
                        None => SnapshotSource::Java { pid },
                    }),
                }
            }
            (None, None) => None,
        };
        if let Some(s) = &source
            && errors.is_empty()
        {
            say(
                out,
                &format!(
                    "leakhound: heap snapshots of {} into {}",
                    s.describe(),
                    dir.display()
                ),
            );
            taken.take(s, &dir, "before load".into(), 0.0, out);
        }
        Baseline {
            plan: self,
            dir,
            source,
            taken,
            errors,
        }
    }
}

impl Baseline {
    /// Without `--snapshot-pause`, lengthen the pauses when snapshot 0 was slow: a pause must
    /// hold [`SETTLE`] plus twice snapshot 0's time (later snapshots are of a bigger heap).
    /// Rewrites `plan`'s stages and returns the new sampling duration when it changed.
    pub(crate) fn fit_pause(&mut self, plan: &mut LoadPlan, out: &Output) -> Option<Duration> {
        let p = &mut self.plan;
        let took = self
            .taken
            .attempts
            .first()
            .filter(|a| a.error.is_none())?
            .took_s;
        let needed = (SETTLE.as_secs_f64() + 2.0 * took).ceil();
        if p.pause_given || needed <= p.pause.as_secs_f64() {
            return None;
        }
        let Model::Open { stages, .. } = &mut plan.model else {
            return None;
        };
        p.pause = Duration::from_secs_f64(needed);
        let (new_stages, ends, sampling) = layout(&p.phases, p.pause, p.tail.as_ref());
        *stages = new_stages;
        p.phase_ends = ends;
        p.sampling = sampling;
        let note = format!(
            "snapshot 0 took {took:.1} s: the pauses are {needed:.0} s instead of {:.0} s (--snapshot-pause sets them)",
            DEFAULT_PAUSE.as_secs_f64()
        );
        say(
            out,
            &format!(
                "leakhound: {note}; sampling now lasts {:.0} s",
                sampling.as_secs_f64()
            ),
        );
        p.notes.push(note);
        Some(sampling)
    }

    /// Start taking the remaining snapshots, timed from `load_start` (just before the load
    /// thread was started). Without a usable snapshot 0 nothing more is attempted.
    pub(crate) fn schedule(self, load_start: Instant, out: &Output) -> RunningSnapshots {
        let cancel = Arc::new(AtomicBool::new(false));
        let usable = self.errors.is_empty()
            && self.source.is_some()
            && self
                .taken
                .attempts
                .first()
                .is_some_and(|a| a.error.is_none());
        let Baseline {
            plan,
            dir,
            source,
            mut taken,
            mut errors,
        } = self;
        let target = source
            .as_ref()
            .map(SnapshotSource::describe)
            .unwrap_or_default();
        let (handle, early) = match source {
            Some(source) if usable => {
                let flag = Arc::clone(&cancel);
                let ends = plan.phase_ends.clone();
                let pause = plan.pause;
                let out = *out;
                let dir2 = dir.clone();
                let handle = Some(std::thread::spawn(move || {
                    let n = ends.len();
                    for (k, end) in ends.iter().enumerate() {
                        let due = load_start + *end + SETTLE;
                        while Instant::now() < due {
                            if flag.load(Ordering::SeqCst) {
                                return taken;
                            }
                            std::thread::sleep(
                                (due - Instant::now()).min(Duration::from_millis(50)),
                            );
                        }
                        let label = format!("after phase {}/{n}", k + 1);
                        let t_s = load_start.elapsed().as_secs_f64();
                        taken.take(&source, &dir2, label, t_s, &out);
                        let next_phase = load_start + *end + pause;
                        if let Some(over) = Instant::now().checked_duration_since(next_phase) {
                            taken.notes.push(format!(
                                "snapshot {} ran {:.1} s past the {:.1} s pause after its phase (into the next phase or the end of the run): raise --snapshot-pause",
                                k + 1,
                                over.as_secs_f64(),
                                pause.as_secs_f64()
                            ));
                        }
                    }
                    taken
                }));
                (handle, None)
            }
            _ => {
                if errors.is_empty()
                    && let Some(e) = taken.attempts.first().and_then(|a| a.error.clone())
                {
                    errors.push(format!(
                        "snapshot 0 (before load) failed, no further snapshots taken: {e}"
                    ));
                }
                (None, Some(taken))
            }
        };
        let mut plan_notes = plan.notes;
        plan_notes.insert(
            usize::from(!plan_notes.is_empty() && plan_notes[0].contains("split")),
            format!(
                "{} snapshots: before the load and after each of {} load phases (each followed by a {:.1} s pause without requests)",
                plan.phase_ends.len() + 1,
                plan.phase_ends.len(),
                plan.pause.as_secs_f64()
            ),
        );
        RunningSnapshots {
            planned: plan.phase_ends.len() + 1,
            plan_notes,
            runtime: plan.runtime,
            dir,
            target,
            cancel,
            handle,
            early,
            errors,
        }
    }
}

/// Snapshots being taken while the load runs.
pub(crate) struct RunningSnapshots {
    /// Snapshots the schedule has (snapshot 0 included).
    planned: usize,
    plan_notes: Vec<String>,
    runtime: Runtime,
    dir: PathBuf,
    target: String,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<Taken>>,
    early: Option<Taken>,
    errors: Vec<String>,
}

/// The heap side of the run, ready for the report.
pub(crate) struct HeapOutcome {
    pub(crate) run: HeapDiffRun,
    reports: Vec<(&'static str, DiffReport)>,
}

impl RunningSnapshots {
    /// Wait for the snapshot in progress (call before the target is stopped). With
    /// `interrupted`, snapshots not yet begun are skipped.
    pub(crate) fn join(mut self, interrupted: bool) -> JoinedSnapshots {
        if interrupted {
            self.cancel.store(true, Ordering::SeqCst);
        }
        let planned = self.planned;
        let empty = Taken {
            attempts: Vec::new(),
            files: Vec::new(),
            notes: Vec::new(),
            root: 0,
            target_gone: false,
        };
        // Without a usable snapshot 0 the schedule never started: the run's end cut nothing.
        let scheduled = self.handle.is_some();
        let taken = match self.handle.take() {
            Some(h) => h.join().unwrap_or_else(|_| {
                self.errors.push("the snapshot thread panicked".into());
                empty
            }),
            None => self.early.take().unwrap_or(empty),
        };
        if interrupted && scheduled && taken.attempts.len() < planned {
            self.plan_notes.push(format!(
                "the run ended early: {} of {planned} snapshots were taken",
                taken.attempts.iter().filter(|a| a.error.is_none()).count()
            ));
        }
        JoinedSnapshots { s: self, taken }
    }
}

/// All snapshots are taken; the diff is next.
pub(crate) struct JoinedSnapshots {
    s: RunningSnapshots,
    taken: Taken,
}

impl JoinedSnapshots {
    /// Diff the snapshots that were taken (Go: heap and goroutine profiles separately).
    pub(crate) fn diff(self, out: &Output) -> HeapOutcome {
        let JoinedSnapshots { s, taken } = self;
        let mut errors = s.errors;
        let mut notes = s.plan_notes;
        notes.extend(taken.notes.iter().cloned());
        let good: Vec<&Vec<PathBuf>> = taken.files.iter().filter(|f| !f.is_empty()).collect();
        let failed = taken.attempts.iter().filter(|a| a.error.is_some()).count();
        // Snapshot 0's failure is already one of `errors`.
        if failed > 0 && errors.is_empty() {
            let first = taken
                .attempts
                .iter()
                .find_map(|a| a.error.as_deref())
                .unwrap_or("");
            errors.push(format!(
                "{failed} of {} snapshots failed (first: {first})",
                taken.attempts.len()
            ));
        }
        let kinds: &[(&'static str, usize)] = match s.runtime {
            Runtime::Go => &[("heap", 0), ("goroutines", 1)],
            Runtime::Node | Runtime::Java => &[("heap", 0)],
        };
        let mut reports = Vec::new();
        if good.len() >= 2 {
            say(
                out,
                &format!(
                    "leakhound: comparing {} snapshots in {}",
                    good.len(),
                    s.dir.display()
                ),
            );
            for &(name, i) in kinds {
                let paths: Vec<PathBuf> = good.iter().filter_map(|f| f.get(i).cloned()).collect();
                match diff_snapshots(&paths, &DiffOptions { top: RUN_TOP }) {
                    Ok(r) => reports.push((name, r)),
                    Err(e) => errors.push(format!("failed to diff the {name} snapshots: {e}")),
                }
            }
        } else if errors.is_empty() {
            errors.push(format!(
                "only {} snapshot(s) could be taken: nothing to compare",
                good.len()
            ));
        }
        if good.len() == 2 {
            notes.push("only two snapshots: a leak cannot be told apart from warm-up".to_string());
        }
        let verdict = (!reports.is_empty()).then(|| {
            Verdict::combine(reports.iter().map(|(_, r)| match r.verdict {
                HeapVerdict::Leak => Verdict::Leak,
                HeapVerdict::NoLeak => Verdict::NoLeak,
                HeapVerdict::Inconclusive => Verdict::Inconclusive,
            }))
        });
        let diffs = reports
            .iter()
            .filter_map(|(_, r)| serde_json::to_value(r).ok())
            .collect();
        HeapOutcome {
            run: HeapDiffRun {
                target_exited: taken.target_gone,
                runtime: s.runtime.as_str().to_string(),
                target: s.target,
                verdict,
                planned: Some(s.planned),
                snapshots: taken.attempts,
                diffs,
                notes,
                errors,
            },
            reports,
        }
    }
}

impl HeapOutcome {
    /// Rebuild the outcome of a saved run (`leakhound report RUN_DIR`) by diffing its snapshot
    /// files again from `RUN_DIR/snapshots/` (where the run wrote them, whatever directory it was
    /// started from). Files that are gone, or a diff that fails, become errors of the outcome.
    pub(crate) fn from_saved(mut run: HeapDiffRun, run_dir: &Path) -> HeapOutcome {
        let dir = run_dir.join("snapshots");
        let good: Vec<Vec<PathBuf>> = run
            .snapshots
            .iter()
            .filter(|s| s.error.is_none() && !s.files.is_empty())
            .map(|s| {
                s.files
                    .iter()
                    .map(|f| match Path::new(f).file_name() {
                        Some(name) => dir.join(name),
                        None => PathBuf::from(f),
                    })
                    .collect()
            })
            .collect();
        let kinds: &[(&'static str, usize)] = if run.runtime == "go" {
            &[("heap", 0), ("goroutines", 1)]
        } else {
            &[("heap", 0)]
        };
        let mut reports = Vec::new();
        if good.len() >= 2 {
            for &(name, i) in kinds {
                let paths: Vec<PathBuf> = good.iter().filter_map(|f| f.get(i).cloned()).collect();
                match diff_snapshots(&paths, &DiffOptions { top: RUN_TOP }) {
                    Ok(r) => reports.push((name, r)),
                    Err(e) => run.errors.push(format!(
                        "failed to diff the saved {name} snapshots again: {e}"
                    )),
                }
            }
        }
        HeapOutcome { run, reports }
    }

    /// The verdict of the diffs made again, for a run rebuilt from its saved snapshots (its
    /// `verdict.json`, which held the run's own, is missing).
    pub(crate) fn rediffed_verdict(&self) -> Option<Verdict> {
        (!self.reports.is_empty()).then(|| {
            Verdict::combine(self.reports.iter().map(|(_, r)| match r.verdict {
                HeapVerdict::Leak => Verdict::Leak,
                HeapVerdict::NoLeak => Verdict::NoLeak,
                HeapVerdict::Inconclusive => Verdict::Inconclusive,
            }))
        })
    }

    /// The terminal summary (after the memory verdict).
    pub(crate) fn print(
        &self,
        out: &Output,
        w: &mut dyn Write,
        memory_code: u8,
    ) -> std::io::Result<()> {
        let r = &self.run;
        writeln!(w)?;
        writeln!(
            w,
            "{} ({}): {} of {} snapshots taken",
            out.style.bold("heap snapshots"),
            if r.target.is_empty() {
                r.runtime.as_str()
            } else {
                &r.target
            },
            r.snapshots.iter().filter(|s| s.error.is_none()).count(),
            r.planned
                .unwrap_or(r.snapshots.len())
                .max(r.snapshots.len())
        )?;
        for n in &r.notes {
            writeln!(w, "  {n}")?;
        }
        for (name, report) in &self.reports {
            if self.reports.len() > 1 {
                writeln!(w, "\n{name}:")?;
            } else {
                writeln!(w)?;
            }
            super::diff::write_text(report, out, w)?;
        }
        if let Some(first) = r.snapshots.iter().find_map(|s| s.files.first()) {
            let dir = Path::new(first).parent().unwrap_or(Path::new("."));
            let ext = match r.runtime.as_str() {
                "node" => "heapsnapshot",
                "java" => "hprof",
                _ => "heap.pb.gz",
            };
            writeln!(
                w,
                "(all findings: leakhound diff --top 50 {}/s*.{ext})",
                dir.display()
            )?;
        }
        let heap = r.verdict.map_or("no heap diff", Verdict::words);
        let memory = match memory_code {
            ExitCodes::LEAK => "leak",
            ExitCodes::OK => "no leak",
            ExitCodes::INCONCLUSIVE => "inconclusive",
            _ => "target failed",
        };
        let code = self.exit_code(memory_code);
        let overall = match code {
            ExitCodes::LEAK => "LEAK",
            ExitCodes::OK => "no leak",
            ExitCodes::INCONCLUSIVE => "inconclusive",
            ExitCodes::TARGET_FAILED => "target failed",
            _ => "heap snapshots failed",
        };
        writeln!(
            w,
            "\n{} {overall} (memory: {memory}, heap: {heap}) · exit {code}",
            out.style.bold("overall:")
        )?;
        Ok(())
    }

    /// Fold the heap verdict into the run's exit code: a leak from either side is 1; the
    /// target's failure (4) stays; no heap diff at all is 2 unless memory already found a leak.
    pub(crate) fn exit_code(&self, memory_code: u8) -> u8 {
        if memory_code == ExitCodes::TARGET_FAILED || memory_code == ExitCodes::LEAK {
            return memory_code;
        }
        let Some(heap) = self.run.verdict else {
            // Snapshots of a target that exited: its exit decides (4 when it failed).
            if self.run.target_exited {
                return memory_code;
            }
            return ExitCodes::USAGE;
        };
        let memory = match memory_code {
            ExitCodes::OK => Verdict::NoLeak,
            _ => Verdict::Inconclusive,
        };
        Verdict::combine([memory, heap]).exit_code()
    }
}

/// The snapshots a `run --snapshots` saved in `RUN_DIR/snapshots` (`s00.heap.pb.gz`,
/// `s00.goroutine.pb.gz`, `s01.heapsnapshot`, `s02.hprof`…), as a [`HeapDiffRun`] for
/// [`HeapOutcome::from_saved`] to diff again: for a run whose leakhound was killed before it
/// wrote `verdict.json`. `None` without at least two of them.
pub(crate) fn saved_snapshots(run_dir: &Path) -> Option<HeapDiffRun> {
    let dir = run_dir.join("snapshots");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with('s') && !n.ends_with(".partial"))
        .collect();
    names.sort();
    let runtime = if names.iter().any(|n| n.ends_with(".heap.pb.gz")) {
        "go"
    } else if names.iter().any(|n| n.ends_with(".heapsnapshot")) {
        "node"
    } else if names.iter().any(|n| n.ends_with(".hprof")) {
        "java"
    } else {
        return None;
    };
    let mut snapshots: Vec<SnapshotTaken> = Vec::new();
    for n in &names {
        let Some((label, rest)) = n.split_once('.') else {
            continue;
        };
        let main = match runtime {
            "go" => rest == "heap.pb.gz",
            "node" => rest == "heapsnapshot",
            _ => rest == "hprof",
        };
        if !main {
            continue;
        }
        let mut files = vec![dir.join(n).display().to_string()];
        let goroutines = dir.join(format!("{label}.goroutine.pb.gz"));
        if runtime == "go" && goroutines.exists() {
            files.push(goroutines.display().to_string());
        }
        snapshots.push(SnapshotTaken {
            label: label.to_string(),
            t_s: 0.0,
            took_s: 0.0,
            files,
            error: None,
        });
    }
    (snapshots.len() >= 2).then(|| HeapDiffRun {
        runtime: runtime.to_string(),
        target: String::new(),
        verdict: None,
        snapshots,
        planned: None,
        target_exited: false,
        diffs: Vec::new(),
        notes: vec![
            "diffed again from the snapshots saved in snapshots/ (leakhound stopped before the end of the run)"
                .to_string(),
        ],
        errors: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn one_constant_stage_is_split_into_equal_phases() {
        let (p, notes) = make_phases(
            &[Stage::Constant {
                rate: 100.0,
                duration: secs(30),
            }],
            3,
        );
        assert_eq!(p.len(), 3);
        for ph in &p {
            assert_eq!(
                ph,
                &vec![Stage::Constant {
                    rate: 100.0,
                    duration: secs(10)
                }]
            );
        }
        assert!(notes[0].contains("split into 3"), "{notes:?}");
    }

    #[test]
    fn cycles_give_one_phase_each_and_idle_joins_the_phase_before() {
        let (p, notes) = make_phases(
            &[
                Stage::Idle { duration: secs(1) },
                Stage::Cycles {
                    rate: 50.0,
                    load: secs(4),
                    idle: secs(2),
                    cycles: 3,
                },
                Stage::Idle { duration: secs(5) },
            ],
            3,
        );
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].len(), 3, "leading idle, load, idle: {:?}", p[0]);
        assert_eq!(p[2].len(), 3, "load, idle, trailing idle: {:?}", p[2]);
        assert!(notes.is_empty());
    }

    #[test]
    fn every_phase_is_followed_by_a_pause_and_the_tail_comes_last() {
        let phases = vec![
            vec![Stage::Constant {
                rate: 10.0,
                duration: secs(4),
            }];
            3
        ];
        let tail = Stage::Idle { duration: secs(10) };
        let (stages, ends, sampling) = layout(&phases, secs(2), Some(&tail));
        assert_eq!(ends, vec![secs(4), secs(10), secs(16)]);
        assert_eq!(sampling, secs(18));
        assert_eq!(stages.len(), 7);
        assert_eq!(stages[1], Stage::Idle { duration: secs(2) });
        assert_eq!(stages[6], tail);
    }

    #[test]
    fn a_ramp_is_split_into_consecutive_ramps() {
        let s = split_stage(
            &Stage::Ramp {
                from: 0.0,
                to: 300.0,
                duration: secs(30),
            },
            3,
        );
        assert_eq!(
            s[1],
            Stage::Ramp {
                from: 100.0,
                to: 200.0,
                duration: secs(10)
            }
        );
    }

    #[test]
    fn heap_and_memory_verdicts_combine_into_one_exit_code() {
        let outcome = |v: Option<Verdict>| HeapOutcome {
            run: HeapDiffRun {
                runtime: "node".into(),
                target: String::new(),
                verdict: v,
                snapshots: Vec::new(),
                planned: None,
                target_exited: false,
                diffs: Vec::new(),
                notes: Vec::new(),
                errors: Vec::new(),
            },
            reports: Vec::new(),
        };
        assert_eq!(outcome(Some(Verdict::Leak)).exit_code(ExitCodes::OK), 1);
        assert_eq!(
            outcome(Some(Verdict::Leak)).exit_code(ExitCodes::INCONCLUSIVE),
            1
        );
        assert_eq!(outcome(Some(Verdict::NoLeak)).exit_code(ExitCodes::LEAK), 1);
        assert_eq!(outcome(Some(Verdict::NoLeak)).exit_code(ExitCodes::OK), 0);
        assert_eq!(
            outcome(Some(Verdict::NoLeak)).exit_code(ExitCodes::INCONCLUSIVE),
            3
        );
        assert_eq!(outcome(None).exit_code(ExitCodes::OK), 2);
        assert_eq!(outcome(None).exit_code(ExitCodes::LEAK), 1);
        assert_eq!(
            outcome(Some(Verdict::Leak)).exit_code(ExitCodes::TARGET_FAILED),
            4
        );
    }
}
