//! The run directory: `run.json` at the start, `samples.csv` as it goes, `verdict.json` at the end.
//!
//! Written so that a run killed at any point leaves readable files: `run.json` is complete
//! before the first sample, samples are flushed per line, and `verdict.json` is written to a
//! temporary name and renamed into place.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use leakhound_core::load::LoadSummary;
use leakhound_core::{RunInfo, RunReport, SCHEMA_VERSION};
use serde::Serialize;

use crate::errors::ExpectedError;

/// Check a run directory the user named (`--out`) before anything starts, and create it: it
/// must be new or empty. An earlier run's files left in it (a heap profile, load.csv) would be
/// read back as part of the new run by `report`, so a used directory is refused rather than
/// mixed or silently overwritten.
pub(crate) fn prepare_out(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(ExpectedError::usage(format!(
                "--out {}: exists and is not a directory",
                dir.display()
            )));
        }
        let used = fs::read_dir(dir)
            .map_err(|e| ExpectedError::usage(format!("--out {}: {e}", dir.display())))?
            .next()
            .is_some();
        if used {
            let what = if dir.join("run.json").exists() {
                "holds an earlier run"
            } else {
                "is not empty"
            };
            return Err(ExpectedError::usage(format!(
                "--out {}: {what}; choose a new directory or remove it first",
                dir.display()
            )));
        }
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| {
        ExpectedError::usage(format!(
            "--out {}: cannot create the run directory: {e}",
            dir.display()
        ))
    })
}

/// Check, before anything starts, that the default place of run directories
/// (`leakhound-runs/` in the current directory) can be written: a target started first and
/// then left without a run directory may have done its side effects for nothing.
pub(crate) fn prepare_default() -> anyhow::Result<()> {
    let base = Path::new("leakhound-runs");
    let probe = base.join(format!(".write-check-{}", std::process::id()));
    fs::create_dir_all(base)
        .and_then(|()| fs::File::create(&probe).map(drop))
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|e| {
            ExpectedError::usage(format!(
                "cannot write run directories under {}: {e} (choose one with --out)",
                base.display()
            ))
        })
}

/// Create `dir` (see [`prepare_out`]), or a fresh `leakhound-runs/<timestamp>[-N]` when none
/// is given.
pub(crate) fn create(dir: Option<&Path>, suffix: &str) -> anyhow::Result<PathBuf> {
    let path = match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let stamp = jiff::Timestamp::now()
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            let base = PathBuf::from("leakhound-runs").join(format!("{stamp}{suffix}"));
            let mut candidate = base.clone();
            let mut n = 2;
            while candidate.exists() {
                candidate = PathBuf::from(format!("{}-{n}", base.display()));
                n += 1;
            }
            candidate
        }
    };
    if dir.is_some() {
        // Already checked and created by `prepare_out` before the target started, unless the
        // caller has nothing to start first; an empty directory passes again.
        prepare_out(&path)?;
    } else {
        fs::create_dir_all(&path).map_err(|e| {
            ExpectedError::usage(format!(
                "cannot create the run directory {}: {e} (or choose one with --out)",
                path.display()
            ))
        })?;
    }
    Ok(path)
}

/// The host name, from the kernel.
pub(crate) fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Current time, RFC 3339.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

#[derive(Serialize)]
struct RunJson<'a> {
    schema_version: u32,
    #[serde(flatten)]
    run: &'a RunInfo,
}

/// Write `run.json`.
pub(crate) fn write_run_json(dir: &Path, run: &RunInfo) -> anyhow::Result<()> {
    write_json_atomic(
        &dir.join("run.json"),
        &RunJson {
            schema_version: SCHEMA_VERSION,
            run,
        },
    )
}

/// Write `verdict.json`.
pub(crate) fn write_verdict_json(dir: &Path, report: &RunReport) -> anyhow::Result<()> {
    write_json_atomic(&dir.join("verdict.json"), report)
}

/// Write `load.csv` (one line per second of load).
pub(crate) fn write_load_csv(dir: &Path, load: &LoadSummary) -> anyhow::Result<()> {
    let path = dir.join("load.csv");
    fs::write(&path, load.to_csv()).with_context(|| format!("failed to write {}", path.display()))
}

fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(value).context("failed to serialize JSON")?;
    // A failed write leaves no torn temporary file behind.
    let written = fs::write(&tmp, text + "\n")
        .with_context(|| format!("failed to write {}", path.display()))
        .and_then(|()| {
            fs::rename(&tmp, path).with_context(|| format!("failed to write {}", path.display()))
        });
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
