//! The corpus on disk (CSV series plus a labels file) and running the real `leakhound analyze`
//! binary over it.
//!
//! Series files are `t_seconds,<column>` CSV as `leakhound analyze` reads them (with a third
//! column `requests_total`, the requests served, when written for `--load`); `labels.csv`
//! holds one line per series: `file,family,class,unit,leak,onset_s,base,interval_s,samples,length_s`.
//!
//! [`read_corpus`] reads such a directory back, whoever wrote it (another generator, or series
//! you labelled by hand), so the scorer can judge the detector on a corpus it was not tuned on.
//! Only `file` and `leak` are required in its labels; the other columns are read from the
//! series when missing or empty. `onset_s` is a time on the series' clock (on a Unix-time clock,
//! one before the first sample counts from it).
//! A series file may carry a `leak_part` column (the leak's own contribution at each sample,
//! for the growth at detection) and a `requests_total` column (for `--with-load`).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use leakhound_core::Verdict;

use crate::families::{Class, Item};
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

/// The column of a series file holding the leak's own contribution at each sample.
pub const LEAK_PART_COLUMN: &str = "leak_part";

/// Read a labelled corpus from `dir` (`labels.csv` plus the series files it names, in the
/// format [`write_corpus`] writes). Errors name the file and line.
pub fn read_corpus(dir: &Path) -> anyhow::Result<Vec<Item>> {
    let lp = dir.join("labels.csv");
    let labels =
        std::fs::read_to_string(&lp).with_context(|| format!("failed to read {}", lp.display()))?;
    let mut lines = labels.lines().enumerate();
    let header: Vec<&str> = match lines.next() {
        Some((_, h)) => h.trim().split(',').map(str::trim).collect(),
        None => bail!("{} is empty", lp.display()),
    };
    let col = |name: &str| header.iter().position(|h| *h == name);
    let need = |name: &str| -> anyhow::Result<usize> {
        col(name).with_context(|| format!("{}: no `{name}` column in the header", lp.display()))
    };
    // `file` and `leak` are all a label needs; the rest is read from the series when missing.
    let (c_file, c_leak) = (need("file")?, need("leak")?);
    let (c_family, c_class, c_unit, c_onset, c_base, c_interval) = (
        col("family"),
        col("class"),
        col("unit"),
        col("onset_s"),
        col("base"),
        col("interval_s"),
    );
    // Family names live as long as the process (a scorer's handful of names).
    let mut names: HashMap<String, &'static str> = HashMap::new();
    let mut items = Vec::new();
    for (ln, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let at = || format!("{} line {}", lp.display(), ln + 1);
        let field = |c: usize| -> anyhow::Result<&str> {
            f.get(c)
                .copied()
                .with_context(|| format!("{}: too few fields", at()))
        };
        // An optional column: `None` when the header has none or the cell is empty.
        let opt = |c: Option<usize>| -> anyhow::Result<Option<&str>> {
            c.map(field)
                .transpose()
                .map(|s| s.filter(|s| !s.is_empty()))
        };
        let num = |c: Option<usize>, what: &str| -> anyhow::Result<Option<f64>> {
            opt(c)?
                .map(|s| {
                    s.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .with_context(|| format!("{}: {what} `{s}` is not a number", at()))
                })
                .transpose()
        };
        let file = field(c_file)?;
        let family = opt(c_family)?.unwrap_or("unlabelled");
        let family: &'static str = match names.get(family) {
            Some(&n) => n,
            None => {
                let n: &'static str = Box::leak(family.to_string().into_boxed_str());
                names.insert(family.to_string(), n);
                n
            }
        };
        let class = match opt(c_class)? {
            None => None,
            Some("memory") => Some(Class::Memory),
            Some("resources") => Some(Class::Resource),
            Some(other) => bail!("{}: class `{other}` is not `memory` or `resources`", at()),
        };
        let unit = opt(c_unit)?
            .map(|u| {
                serde_json::from_value::<leakhound_core::Unit>(serde_json::Value::String(
                    u.to_string(),
                ))
                .with_context(|| format!("{}: unit `{u}` is not one leakhound knows", at()))
            })
            .transpose()?;
        let leak = match field(c_leak)?.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "leak" => true,
            "false" | "0" | "no" | "no_leak" => false,
            other => bail!("{}: leak `{other}` is not `true` or `false`", at()),
        };
        let onset_s = num(c_onset, "onset_s")?;
        if !leak && onset_s.is_some() {
            bail!("{}: a healthy series has no onset_s", at());
        }
        let base = num(c_base, "base")?;
        let interval_s = num(c_interval, "interval_s")?;
        let path = dir.join(file);
        let (series, leak_part, requests) = read_series(&path, unit)?;
        let class = class.unwrap_or(if leakhound_detect::judged_as_memory(&series) {
            Class::Memory
        } else {
            Class::Resource
        });
        // `onset_s` is a time on the series' clock, which usually starts near 0; on a clock
        // far from 0 (Unix times: the first sample lies further from 0 than the series spans)
        // an onset before the first sample counts from it, as a corpus written with Unix times
        // may give it. A leak without an onset leaks from the start.
        let t0 = series.t.first().copied().unwrap_or(0.0);
        let far = t0 > series.t.last().copied().unwrap_or(t0) - t0;
        let onset_s = leak.then_some(match onset_s {
            Some(o) if far && o < t0 => t0 + o,
            Some(o) => o,
            None if far => t0,
            None => 0.0,
        });
        let base = base.unwrap_or_else(|| start_level(&series.v));
        let interval_s = interval_s.unwrap_or_else(|| median_spacing(&series.t));
        items.push(Item {
            id: items.len(),
            family,
            class,
            leak,
            onset_s,
            base,
            interval_s,
            series,
            leak_part,
            requests,
        });
    }
    if items.is_empty() {
        bail!("{} lists no series", lp.display());
    }
    Ok(items)
}

/// One series file: `t_seconds,<value column>[,leak_part][,requests_total]`, read as
/// `leakhound analyze` reads a file (quoted cells, times in milliseconds or as date-times, see
/// `leakhound_core::table`). The series is the first column that is neither `leak_part` nor
/// `requests_total`. Without a `leak_part` column the leak part is empty (no growth at
/// detection); without `requests_total` the request series is empty.
fn read_series(
    path: &Path,
    unit: Option<leakhound_core::Unit>,
) -> anyhow::Result<(leakhound_core::Series, Vec<f64>, leakhound_core::Series)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
    let table = leakhound_core::parse_table(&bytes)
        .with_context(|| format!("{}: not a table of samples", path.display()))?;
    let mut series = None;
    let mut leak_part = None;
    let mut requests = None;
    for s in table.series {
        match s.name.as_str() {
            LEAK_PART_COLUMN => leak_part = Some(s),
            REQUESTS_COLUMN => requests = Some(s),
            _ if series.is_none() => series = Some(s),
            _ => {}
        }
    }
    let Some(mut series) = series else {
        bail!("{}: no value column besides its time", path.display());
    };
    if let Some(u) = unit {
        series.unit = u;
    }
    // The leak part is read per sample of the series: it must be on the same lines.
    let leak_part = match leak_part {
        None => Vec::new(),
        Some(l) if l.t == series.t => l.v,
        Some(_) => bail!(
            "{}: `{LEAK_PART_COLUMN}` is not given on the lines the series is",
            path.display()
        ),
    };
    let mut requests = requests.unwrap_or_else(|| {
        leakhound_core::Series::new(REQUESTS_COLUMN, leakhound_core::Unit::Requests)
    });
    requests.unit = leakhound_core::Unit::Requests;
    series
        .validate()
        .with_context(|| format!("{}: not a usable series", path.display()))?;
    Ok((series, leak_part, requests))
}

/// The level a series starts from when its labels give no `base`: the median of its first
/// twentieth (at least its first sample), the same for a leak and a healthy series.
fn start_level(v: &[f64]) -> f64 {
    let k = (v.len() / 20).max(1).min(v.len());
    let mut head: Vec<f64> = v[..k].iter().copied().filter(|x| x.is_finite()).collect();
    head.sort_by(f64::total_cmp);
    head.get(head.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median spacing of a series' samples when its labels give no `interval_s`.
fn median_spacing(t: &[f64]) -> f64 {
    let mut d: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    d.sort_by(f64::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(1.0)
}
