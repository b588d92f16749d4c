//! The corpus on disk (CSV series plus a labels file) and running the real `leakhound analyze`
//! binary over it.
//!
//! Series files are `t_seconds,<column>` CSV as `leakhound analyze` reads them (with a third
//! column `requests_total`, the requests served, when written for `--load`); `labels.csv`
//! holds one line per series: `file,family,class,unit,leak,onset_s,base,interval_s,samples,length_s`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use leakhound_core::Verdict;

use crate::families::Item;
use crate::score::Outcome;

/// File name of the `i`-th series.
pub fn file_name(it: &Item) -> String {
    format!("{:04}_{}.csv", it.id, it.family)
}

/// The column holding requests served in files written `with_load`.
pub const REQUESTS_COLUMN: &str = "requests_total";

/// Write every series and `labels.csv` into `dir` (created if missing); returns the series paths.
/// `with_load` adds each series' request counter as a [`REQUESTS_COLUMN`] column.
pub fn write_corpus(dir: &Path, items: &[Item], with_load: bool) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let mut labels =
        String::from("file,family,class,unit,leak,onset_s,base,interval_s,samples,length_s\n");
    let mut paths = Vec::with_capacity(items.len());
    for it in items {
        let name = file_name(it);
        let mut csv = if with_load {
            format!("t_seconds,{},{REQUESTS_COLUMN}\n", it.series.name)
        } else {
            format!("t_seconds,{}\n", it.series.name)
        };
        for (i, (t, v)) in it.series.t.iter().zip(&it.series.v).enumerate() {
            if with_load {
                // The counter is sampled at the series' own times.
                let r = it.requests.v.get(i).copied().unwrap_or(f64::NAN);
                let _ = writeln!(csv, "{t:.3},{v},{r}");
            } else {
                let _ = writeln!(csv, "{t:.3},{v}");
            }
        }
        let path = dir.join(&name);
        std::fs::write(&path, csv)
            .with_context(|| format!("failed to write {}", path.display()))?;
        let _ = writeln!(
            labels,
            "{name},{},{},{},{},{},{},{},{},{:.3}",
            it.family,
            it.class.as_str(),
            serde_json::to_value(it.series.unit)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            it.leak,
            it.onset_s.map(|o| format!("{o:.3}")).unwrap_or_default(),
            it.base,
            it.interval_s,
            it.series.len(),
            it.series.span_s()
        );
        paths.push(path);
    }
    let lp = dir.join("labels.csv");
    std::fs::write(&lp, labels).with_context(|| format!("failed to write {}", lp.display()))?;
    Ok(paths)
}

/// Run `leakhound analyze --json [--online] [--load requests_total] FILES…` and collect one
/// outcome per file name (`with_load`: the files were written with their request counters).
pub fn run_cli(
    leakhound: &Path,
    paths: &[PathBuf],
    online: bool,
    with_load: bool,
) -> anyhow::Result<HashMap<String, Outcome>> {
    let mut cmd = Command::new(leakhound);
    cmd.arg("analyze").arg("--json");
    if online {
        cmd.arg("--online");
    }
    if with_load {
        cmd.args(["--load", REQUESTS_COLUMN]);
    }
    cmd.args(paths);
    let out = cmd
        .output()
        .with_context(|| format!("failed to run {}", leakhound.display()))?;
    // Exit codes 0, 1 and 3 are verdicts; anything else is an error.
    if !matches!(out.status.code(), Some(0 | 1 | 3)) {
        bail!(
            "{} analyze failed ({}): {}",
            leakhound.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut map = HashMap::new();
    for (ln, line) in String::from_utf8_lossy(&out.stdout).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("failed to parse JSON line {} of analyze output", ln + 1))?;
        let file = v["file"].as_str().unwrap_or_default();
        let key = Path::new(file)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let verdict = match v["verdict"].as_str() {
            Some("leak") => Verdict::Leak,
            Some("no_leak") => Verdict::NoLeak,
            _ => Verdict::Inconclusive,
        };
        map.insert(
            key,
            Outcome {
                verdict,
                detected_at_s: v["detected_at_s"].as_f64(),
            },
        );
    }
    Ok(map)
}
