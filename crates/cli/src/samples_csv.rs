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
use leakhound_core::{Metric, Series, Table, parse_table};
use leakhound_sampler::{Counters, TreeSample};

use crate::errors::ExpectedError;
use crate::orchestrate::processes::Span;

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

/// Read a CSV of time series (see [`leakhound_core::table`] for what is accepted; gzip
/// compressed too). `path` may be a run directory, meaning its `samples.csv`, or `-` for
/// standard input.
pub(crate) fn read_series_csv(path: &Path) -> anyhow::Result<(PathBuf, Table)> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).map_err(|e| {
            ExpectedError::usage(format!("cannot read standard input: {}", io_reason(&e)))
        })?;
        return Ok((
            PathBuf::from("-"),
            parse_series_csv(&bytes, "standard input")?,
        ));
    }
    let file = if path.is_dir() {
        path.join("samples.csv")
    } else {
        path.to_path_buf()
    };
    let shown = file.display().to_string();
    let mut bytes = std::fs::read(&file)
        .map_err(|e| ExpectedError::usage(format!("cannot read {shown}: {}", io_reason(&e))))?;
    if path.is_dir() {
        cut_torn_line(&mut bytes);
    }
    let table = parse_series_csv(&bytes, &shown)?;
    Ok((file, table))
}

/// A run directory's `samples.csv` whose last line has no line end was cut short (leakhound
/// was killed while writing it; every complete line was flushed): that line is left out, the
/// samples before it kept. Returns whether a line was cut.
pub(crate) fn cut_torn_line(bytes: &mut Vec<u8>) -> bool {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return false;
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    // The header alone, torn, is no header at all: left as it is for the reader to reject.
    if keep == 0 {
        return false;
    }
    bytes.truncate(keep);
    true
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

/// Parse CSV (or Prometheus JSON) bytes, gzip-compressed or not; `name` is used in error
/// messages.
pub(crate) fn parse_series_csv(bytes: &[u8], name: &str) -> anyhow::Result<Table> {
    let bad = |e: String| ExpectedError::usage(format!("{name}: {e}"));
    let mut plain = Vec::new();
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(bytes), &mut plain)
            .map_err(|e| bad(format!("not a readable gzip file: {e}")))?;
        &plain[..]
    } else {
        bytes
    };
    parse_table(bytes).map_err(|e| bad(e.to_string()))
}

/// Each process's first and last sample time and last RSS in a run directory's
/// `processes.csv` (see [`SamplesWriter`]), for
/// [`crate::orchestrate::processes::known_restarts`]. `None` when the file is missing or
/// unreadable, has no `rss_bytes` column, or a line (other than an unfinished last one, from a
/// run killed mid-write) does not start with a time and a PID.
pub(crate) fn process_spans(run_dir: &Path) -> Option<Vec<Span>> {
    let text = std::fs::read_to_string(run_dir.join("processes.csv")).ok()?;
    // Complete lines only: a run killed mid-write may leave the last one unfinished.
    let complete = &text[..text.rfind('\n')?];
    let mut lines = complete.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    if header.get(..2) != Some(&["t_seconds", "pid"][..]) {
        return None;
    }
    let rss = header.iter().position(|&h| h == Metric::RssBytes.name())?;
    let mut spans: std::collections::HashMap<u32, Span> = std::collections::HashMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let t: f64 = cells.first()?.parse().ok()?;
        let pid: u32 = cells.get(1)?.parse().ok()?;
        let last_rss = cells.get(rss).and_then(|c| c.parse().ok()).unwrap_or(0.0);
        let e = spans.entry(pid).or_insert(Span {
            first_t: t,
            last_t: t,
            last_rss,
        });
        e.first_t = e.first_t.min(t);
        if t >= e.last_t {
            e.last_t = t;
            e.last_rss = last_rss;
        }
    }
    Some(spans.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_then_the_line_column_and_value() {
        let e = parse_series_csv(b"t_seconds,v\n0,1\n1,abc\n", "x.csv")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "x.csv: line 3, column v: `abc` is not a number");
        let e = parse_series_csv(b"", "x.csv").unwrap_err();
        assert!(e.downcast_ref::<ExpectedError>().is_some(), "{e}");
    }

    #[test]
    fn a_gzip_compressed_file_is_read_as_the_plain_one() {
        use std::io::Write as _;
        let text = b"t_seconds,rss_bytes\n0,100\n1,120\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        let gz = gz.finish().unwrap();
        let plain = parse_series_csv(text, "x.csv").unwrap();
        assert_eq!(parse_series_csv(&gz, "x.csv.gz").unwrap(), plain);
        let e = parse_series_csv(&gz[..gz.len() / 2], "cut.csv.gz")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cut.csv.gz: not a readable gzip file"), "{e}");
    }

    #[test]
    fn process_spans_are_read_from_what_the_writer_writes() {
        use leakhound_sampler::ProcessSample;
        let dir = tempfile::tempdir().unwrap();
        let mut w = SamplesWriter::create(dir.path()).unwrap();
        let proc_ = |pid: u32, rss: f64| {
            let mut counters = Counters::default();
            counters.set(Metric::RssBytes, rss);
            ProcessSample {
                pid,
                ppid: 1,
                comm: "svc, v2".into(),
                counters,
            }
        };
        let mut sample = TreeSample {
            processes: vec![proc_(10, 100.0), proc_(11, 5.0)],
            ..TreeSample::default()
        };
        w.append(0.0, &sample).unwrap();
        sample.processes = vec![proc_(10, 120.0), proc_(11, 6.0)];
        w.append(1.0, &sample).unwrap();
        sample.processes = vec![proc_(10, 130.0), proc_(12, 7.0)];
        w.append(2.0, &sample).unwrap();
        drop(w);
        let mut spans: Vec<(f64, f64, f64)> = process_spans(dir.path())
            .unwrap()
            .iter()
            .map(|s| (s.first_t, s.last_t, s.last_rss))
            .collect();
        spans.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            spans,
            vec![(0.0, 1.0, 6.0), (0.0, 2.0, 130.0), (2.0, 2.0, 7.0)]
        );
        // A line cut short by a kill is left out; a missing file is unknown.
        let path = dir.path().join("processes.csv");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("3.0,1");
        std::fs::write(&path, text).unwrap();
        assert_eq!(process_spans(dir.path()).unwrap().len(), 3);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(process_spans(dir.path()), None);
    }

    #[test]
    fn reads_what_the_writer_writes() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SamplesWriter::create(dir.path()).unwrap();
        let mut sample = TreeSample::default();
        sample.total.set(Metric::RssBytes, 1000.0);
        sample.total.set(Metric::Fds, 7.0);
        w.append(0.5, &sample).unwrap();
        sample.total.set(Metric::RssBytes, 2000.0);
        w.append(1.5, &sample).unwrap();
        drop(w);
        let (path, t) = read_series_csv(dir.path()).unwrap();
        assert!(path.ends_with("samples.csv"));
        let rss = t.series.iter().find(|s| s.name == "rss_bytes").unwrap();
        assert_eq!(
            (rss.t.clone(), rss.v.clone()),
            (vec![0.5, 1.5], vec![1000.0, 2000.0])
        );
        let fds = t.series.iter().find(|s| s.name == "fds").unwrap();
        assert_eq!(fds.v, vec![7.0, 7.0]);
    }
}
