//! `leakhound report RUN_DIR`: show a saved run again.
//!
//! Reads `verdict.json` and `samples.csv`. When `verdict.json` is missing (leakhound itself was
//! killed before the end), the run is judged again from `samples.csv` with the options recorded
//! in `run.json`, so no recorded data is ever lost to a crash.

use std::path::Path;

use leakhound_core::{RunInfo, RunReport, TargetOutcome, Verdict, Warning};
use serde::Deserialize;

use super::present::print_report;
use crate::args::ReportArgs;
use crate::errors::ExpectedError;
use crate::orchestrate::limits::TargetLimits;
use crate::orchestrate::session::judge;
use crate::output::Output;

#[derive(Deserialize)]
struct RunJson {
    schema_version: u32,
    #[serde(flatten)]
    run: RunInfo,
}

pub(crate) fn run(args: &ReportArgs, out: &Output) -> anyhow::Result<u8> {
    let dir = &args.run_dir;
    let mut report = load(dir)?;
    // Where the run is now (it may have been moved, or recorded relative to another directory).
    report.run.run_dir = Some(dir.display().to_string());
    super::heap_native::export(dir, args.pprof.as_deref(), args.flamegraph.as_deref(), out)?;
    // `run --heap` left the native agent's files in heap/: analyze them again (runs made before
    // the heap section existed get one too).
    let heap_dir = dir.join("heap");
    let heap = if heap_dir.is_dir() {
        // The grouping the run used (`run --heap --group-by`), as its verdict.json recorded it.
        let group_by = report
            .heap
            .as_ref()
            .and_then(|h| h.processes.first())
            .and_then(|p| p.group_by.parse().ok())
            .unwrap_or_default();
        let h = super::heap_native::analyze_dir(&heap_dir, group_by, &report.data)?;
        report.heap = Some(h.run.clone());
        Some(h)
    } else {
        if let Some(gone) = super::heap_native::dangling_heap_link(dir) {
            eprintln!(
                "warning: heap/ links to {}, which no longer exists (leakhound was killed before moving \
                 the agent's files, and the temp dir was cleaned since): its heap data is gone{}",
                gone.display(),
                if report.heap.is_some() {
                    "; the heap section shown is the one the run saved"
                } else {
                    ""
                }
            );
        }
        None
    };
    // `run --snapshots`: the saved snapshots diffed again (also for a run whose leakhound was
    // killed before verdict.json: its snapshots are still in snapshots/).
    if report.heap_diff.is_none() && !dir.join("verdict.json").exists() {
        report.heap_diff = super::run_snapshots::saved_snapshots(dir);
    }
    let mut outcome = report
        .heap_diff
        .clone()
        .map(|d| super::run_snapshots::HeapOutcome::from_saved(d, dir));
    if let (Some(d), Some(o)) = (report.heap_diff.as_mut(), outcome.as_mut())
        && d.verdict.is_none()
    {
        d.verdict = o.rediffed_verdict();
        o.run.verdict = d.verdict;
    }
    report.fold_verdict();
    print_report(&report, args.json, out)?;
    // `run --load`: the load summary, as the run printed it.
    if let (Some(l), false) = (&report.load, args.json) {
        super::load::write_summary(&mut crate::output::stdout(), l, false)?;
    }
    // `run --snapshots`: the diff of the saved snapshots, as the run printed it.
    if let (Some(outcome), false) = (outcome, args.json) {
        outcome.print(
            out,
            &mut crate::output::stdout(),
            report.series_verdict().exit_code(),
        )?;
        // What failed during the run, and saved snapshots that could not be diffed again.
        for e in &outcome.run.errors {
            eprintln!("warning: run --snapshots: {e}");
        }
    }
    Ok(match &heap {
        // The heap report prints the overall line from the other parts' verdict.
        Some(h) => {
            let rest = report.heap_diff.as_ref().and_then(|d| d.verdict);
            let code = Verdict::combine(std::iter::once(report.series_verdict()).chain(rest));
            h.finish(code.exit_code(), args.json)
        }
        None => report.verdict.exit_code(),
    })
}

/// Load (or rebuild) the report of the run in `dir`.
pub(crate) fn load(dir: &Path) -> anyhow::Result<RunReport> {
    let shown = dir.display();
    let run_json = dir.join("run.json");
    let text = std::fs::read_to_string(&run_json).map_err(|_| {
        ExpectedError::usage(format!(
            "{shown} is not a run directory (no readable run.json)"
        ))
    })?;
    let run: RunJson = serde_json::from_str(&text).map_err(|e| {
        ExpectedError::usage(format!(
            "{}: not a leakhound run.json: {e}",
            run_json.display()
        ))
    })?;
    check_schema(&run_json, run.schema_version)?;
    let samples_csv = dir.join("samples.csv");
    let verdict_json = dir.join("verdict.json");
    let mut notes = Vec::new();
    // The samples: none when the run stopped before the first (its verdict says so), a torn
    // last line left out (leakhound killed while writing it).
    let data = match std::fs::read(&samples_csv) {
        Ok(mut bytes) => {
            if crate::samples_csv::cut_torn_line(&mut bytes) {
                notes.push(
                    "the last line of samples.csv was cut short (leakhound was killed while \
                     writing it) and is left out"
                        .to_string(),
                );
            }
            let shown_csv = samples_csv.display().to_string();
            match crate::samples_csv::parse_series_csv(&bytes, &shown_csv) {
                Ok(t) => t.series,
                // A header and no sample: the run's own verdict tells why.
                Err(_)
                    if verdict_json.exists()
                        && bytes.iter().filter(|&&b| b == b'\n').count() <= 1 =>
                {
                    Vec::new()
                }
                Err(e) => return Err(e),
            }
        }
        Err(_) if verdict_json.exists() => {
            notes.push(
                "samples.csv is missing: the saved verdict is shown without its data".to_string(),
            );
            Vec::new()
        }
        Err(_) => return Err(no_samples(dir)),
    };
    // The saved verdict; one that cannot be read (a torn or empty file, a directory in its
    // place) is judged again from samples.csv, as a missing one is, rather than lost with them.
    let mut why =
        "verdict.json is missing (leakhound stopped before the end of the run)".to_string();
    if verdict_json.exists() {
        let saved = std::fs::read_to_string(&verdict_json)
            .map_err(|e| format!("cannot be read: {e}"))
            .and_then(|text| {
                serde_json::from_str::<RunReport>(&text)
                    .map_err(|e| format!("is not a leakhound verdict: {e}"))
            });
        match saved {
            Ok(mut report) => {
                check_schema(&verdict_json, report.schema_version)?;
                report.data = data;
                report
                    .warnings
                    .extend(notes.into_iter().map(|message| Warning::Note { message }));
                return Ok(report);
            }
            Err(e) if data.is_empty() => {
                return Err(ExpectedError::usage(format!(
                    "{}: {e}; and there are no samples to judge again",
                    verdict_json.display()
                )));
            }
            Err(e) => why = format!("verdict.json {e}"),
        }
    }
    if data.is_empty() {
        return Err(no_samples(dir));
    }
    // leakhound was killed before writing the verdict: judge what was recorded.
    let opts = leakhound_detect::DetectOptions {
        warmup_s: run.run.warmup_s,
        restarts: crate::samples_csv::process_spans(dir)
            .map_or(leakhound_detect::Restarts::Unknown, |s| {
                crate::orchestrate::processes::known_restarts(&s)
            }),
        ..leakhound_detect::DetectOptions::default()
    };
    // A run under load wrote load.csv a second at a time: its requests served are the
    // covariate the run would have judged with.
    let requests = requests_from_load_csv(&dir.join("load.csv"));
    if requests.is_some() {
        notes.push(
            "judged with the requests served from load.csv as the load covariate, as the run \
             would have"
                .to_string(),
        );
    }
    let (series, verdict) = judge(
        &data,
        requests.as_ref(),
        &opts,
        &TargetLimits::recorded(&run.run),
    );
    let samples = data.first().map(|s| s.len()).unwrap_or(0);
    let elapsed_s = data.first().map(|s| s.span_s()).unwrap_or(0.0);
    Ok(RunReport {
        schema_version: leakhound_core::SCHEMA_VERSION,
        run: run.run,
        target: TargetOutcome {
            ended_by: "unknown".into(),
            exit_code: None,
            signal: None,
            failed: false,
            elapsed_s,
            samples,
        },
        verdict,
        series,
        warnings: std::iter::once(format!(
            "{why}; this verdict was computed now from samples.csv"
        ))
        .chain(notes)
        .map(|message| Warning::Note { message })
        .collect(),
        processes: Vec::new(),
        alarms: Vec::new(),
        load: None,
        heap_diff: None,
        heap: None,
        data,
    })
}

/// The requests served by each second of a run's `load.csv` as a cumulative series on the
/// recording's clock (from 0 at the load's start, as `session::requests_served` makes it from
/// the load summary); `None` without the file or two seconds of it. A line cut short (the run
/// killed while writing it) ends the series.
fn requests_from_load_csv(path: &Path) -> Option<leakhound_core::Series> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let ti = header.iter().position(|&h| h == "t_seconds")?;
    let ri = header.iter().position(|&h| h == "requests_total")?;
    let (mut t, mut v) = (vec![0.0], vec![0.0]);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != header.len() {
            break;
        }
        let (Ok(x), Ok(r)) = (cells[ti].parse::<f64>(), cells[ri].parse::<f64>()) else {
            break;
        };
        if x > t[t.len() - 1] {
            t.push(x);
            v.push(r);
        }
    }
    (t.len() >= 3).then(|| {
        leakhound_core::Series::from_parts("requests_total", leakhound_core::Unit::Requests, t, v)
    })
}

/// A run file of a `schema_version` this leakhound does not read: a usage error.
fn check_schema(path: &Path, version: u32) -> anyhow::Result<()> {
    if version == leakhound_core::SCHEMA_VERSION {
        return Ok(());
    }
    Err(ExpectedError::usage(format!(
        "{}: schema_version {version} is not supported by this leakhound (it reads {})",
        path.display(),
        leakhound_core::SCHEMA_VERSION
    )))
}

/// The error for a run directory without any sample and without a verdict.
fn no_samples(dir: &Path) -> anyhow::Error {
    ExpectedError::usage(format!(
        "{}: the run recorded no samples (it stopped before the first one: the target failed to \
         start or never became ready)",
        dir.display()
    ))
}
