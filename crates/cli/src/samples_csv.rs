//! `samples.csv`: written incrementally during a run, read back by `analyze`.
//!
//! Format: a header line `t_seconds,<series>,…`, then one line per sample. An empty cell is a
//! missing sample (e.g. PSS when `smaps_rollup` is unreadable). The writer flushes every line so
//! a killed run leaves every sample taken so far on disk. The reader validates strictly and names
//! the file, line, column and value of anything it rejects.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use leakhound_core::{Metric, Series, Unit};
use leakhound_sampler::{Counters, TreeSample};

use crate::errors::ExpectedError;

/// Appends samples to `samples.csv` (tree totals) and `processes.csv` (one line per process).
pub(crate) struct SamplesWriter {
    totals: BufWriter<File>,
    processes: BufWriter<File>,
    path: PathBuf,
}

impl SamplesWriter {
    pub(crate) fn create(dir: &Path) -> anyhow::Result<SamplesWriter> {
        let path = dir.join("samples.csv");
        let mut totals = BufWriter::new(
            File::create(&path).with_context(|| format!("failed to create {}", path.display()))?,
        );
        let ppath = dir.join("processes.csv");
        let mut processes = BufWriter::new(
            File::create(&ppath)
                .with_context(|| format!("failed to create {}", ppath.display()))?,
        );
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        writeln!(totals, "t_seconds,{}", names.join(","))?;
        writeln!(processes, "t_seconds,pid,ppid,comm,{}", names.join(","))?;
        totals.flush()?;
        processes.flush()?;
        Ok(SamplesWriter {
            totals,
            processes,
            path,
        })
    }

    /// Append one sample of the tree and flush it to disk.
    pub(crate) fn append(&mut self, t: f64, sample: &TreeSample) -> anyhow::Result<()> {
        let io = || format!("failed to write {}", self.path.display());
        write!(self.totals, "{t:.3}").with_context(io)?;
        write_counters(&mut self.totals, &sample.total).with_context(io)?;
        self.totals.flush().with_context(io)?;
        for p in &sample.processes {
            let comm = p.comm.replace([',', '\n', '\r'], "_");
            write!(self.processes, "{t:.3},{},{},{comm}", p.pid, p.ppid)?;
            write_counters(&mut self.processes, &p.counters)?;
        }
        self.processes.flush().with_context(io)?;
        Ok(())
    }
}

fn write_counters(out: &mut impl Write, c: &Counters) -> std::io::Result<()> {
    for m in Metric::ALL {
        match c.get(m) {
            Some(v) => write!(out, ",{v}")?,
            None => write!(out, ",")?,
        }
    }
    writeln!(out)
}

/// In-memory series of the tree totals, one per metric, filled as samples arrive.
pub(crate) struct SeriesSet {
    pub(crate) series: Vec<Series>,
}

impl SeriesSet {
    pub(crate) fn new() -> SeriesSet {
        SeriesSet {
            series: Metric::ALL
                .iter()
                .map(|m| Series::new(m.name(), m.unit()))
                .collect(),
        }
    }

    pub(crate) fn push(&mut self, t: f64, c: &Counters) {
        for (m, s) in Metric::ALL.iter().zip(&mut self.series) {
            if let Some(v) = c.get(*m) {
                s.push(t, v);
            }
        }
    }

    /// The series that have any data, in column order.
    pub(crate) fn into_non_empty(self) -> Vec<Series> {
        self.series.into_iter().filter(|s| !s.is_empty()).collect()
    }
}

/// Read a CSV of time series. `path` may be a run directory, meaning its `samples.csv`.
pub(crate) fn read_series_csv(path: &Path) -> anyhow::Result<(PathBuf, Vec<Series>)> {
    let file = if path.is_dir() {
        path.join("samples.csv")
    } else {
        path.to_path_buf()
    };
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(&file)
        .map_err(|e| ExpectedError::usage(format!("cannot read {shown}: {}", io_reason(&e))))?;
    let series = parse_series_csv(&text, &shown)?;
    Ok((file, series))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::InvalidData => "not UTF-8 text".to_string(),
        _ => e.to_string(),
    }
}

/// Parse CSV text; `name` is used in error messages.
pub(crate) fn parse_series_csv(text: &str, name: &str) -> anyhow::Result<Vec<Series>> {
    let bad = |msg: String| ExpectedError::usage(format!("{name}: {msg}"));
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((hline, header)) = lines.next() else {
        return Err(bad(
            "the file is empty (expected a header line like t_seconds,value)".into(),
        ));
    };
    let cols: Vec<&str> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    if cols.iter().all(|c| c.parse::<f64>().is_ok()) {
        return Err(bad(format!(
            "line {}: expected a header line like t_seconds,value but found numbers",
            hline + 1
        )));
    }
    if cols.len() < 2 {
        return Err(bad(format!(
            "line {}: need at least two columns (t_seconds and one value column)",
            hline + 1
        )));
    }
    let mut series: Vec<Series> = cols[1..]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = if c.is_empty() {
                format!("column{}", i + 2)
            } else {
                c.to_string()
            };
            let unit = Metric::from_name(&name)
                .map(Metric::unit)
                .unwrap_or_else(|| Unit::guess_from_name(&name));
            Series::new(name, unit)
        })
        .collect();
    // Two columns of one name would be judged apart but shown and reported under one name.
    for (i, s) in series.iter().enumerate() {
        if series[..i].iter().any(|p| p.name == s.name) {
            return Err(bad(format!(
                "line {}: column `{}` appears twice in the header",
                hline + 1,
                s.name
            )));
        }
    }
    let mut prev_t = f64::NEG_INFINITY;
    let mut rows = 0usize;
    for (idx, line) in lines {
        let lineno = idx + 1;
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != cols.len() {
            return Err(bad(format!(
                "line {lineno}: {} cells, but the header has {} columns",
                cells.len(),
                cols.len()
            )));
        }
        let t = parse_cell(cells[0]).ok_or_else(|| {
            bad(format!(
                "line {lineno}, column {}: `{}` is not a number",
                cols[0], cells[0]
            ))
        })?;
        if t < prev_t {
            return Err(bad(format!(
                "line {lineno}: time goes backwards ({t} s after {prev_t} s)"
            )));
        }
        prev_t = t;
        for (i, cell) in cells[1..].iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let v = parse_cell(cell).ok_or_else(|| {
                bad(format!(
                    "line {lineno}, column {}: `{cell}` is not a number",
                    cols[i + 1]
                ))
            })?;
            series[i].push(t, v);
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(bad("the file has a header but no samples".into()));
    }
    // A column left empty on every line is a metric the sampler could not read on that
    // machine (PSS without access to smaps_rollup, swap on a kernel without it): nothing to
    // judge, and judged it would be an "inconclusive" that holds back every other verdict.
    if series.iter().all(Series::is_empty) {
        return Err(bad(format!(
            "{rows} lines but no values: every cell after {} is empty",
            cols[0]
        )));
    }
    series.retain(|s| !s.is_empty());
    Ok(series)
}

fn parse_cell(cell: &str) -> Option<f64> {
    cell.trim_matches('"')
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_and_skips_empty_cells() {
        let s =
            parse_series_csv("t_seconds,rss_bytes,fds\n0,100,3\n1,,4\n2,120,5\n", "x.csv").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].t, vec![0.0, 2.0]);
        assert_eq!(s[0].unit, Unit::Bytes);
        assert_eq!(s[1].v, vec![3.0, 4.0, 5.0]);
        assert_eq!(s[1].unit, Unit::Fds);
    }

    #[test]
    fn a_column_with_no_value_at_all_is_left_out_and_no_values_anywhere_is_an_error() {
        let s =
            parse_series_csv("t_seconds,rss_bytes,pss_bytes\n0,100,\n1,120,\n", "x.csv").unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "rss_bytes");
        let e = parse_series_csv("t_seconds,rss_bytes,pss_bytes\n0,,\n1,,\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "x.csv: 2 lines but no values: every cell after t_seconds is empty"
        );
    }

    #[test]
    fn errors_name_line_column_and_value() {
        let e = parse_series_csv("t_seconds,v\n0,1\n1,abc\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "x.csv: line 3, column v: `abc` is not a number");
        let e = parse_series_csv("t_seconds,v\n5,1\n4,1\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3: time goes backwards"), "{e}");
        let e = parse_series_csv("", "x.csv").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = parse_series_csv("t_seconds,rss_bytes,rss_bytes\n0,1,2\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`rss_bytes` appears twice"), "{e}");
        let e = parse_series_csv("0,1\n1,2\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("header"), "{e}");
        let e = parse_series_csv("t,v\n", "x.csv").unwrap_err().to_string();
        assert!(e.contains("no samples"), "{e}");
    }
}
