//! Versioned JSON output.
//!
//! Every document carries `"schema_version": 1` ([`SCHEMA_VERSION`]). `verdict.json` and
//! `run --json` are a serialized [`RunReport`]; `analyze --json` writes one [`AnalyzeRecord`] per
//! series, one per line (JSON lines), so many files stream well.

use std::io::{self, Write};

use leakhound_core::{RunReport, SCHEMA_VERSION, SeriesVerdict};
use serde::Serialize;

use crate::Renderer;

/// Pretty-printed JSON of the whole run.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)
    }
}

/// One line of `analyze --json`: the verdict of one series of one file.
#[derive(Debug, Clone, Serialize)]
pub struct AnalyzeRecord<'a> {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The file the series came from.
    pub file: &'a str,
    /// `end_of_run` or `online`.
    pub mode: &'a str,
    /// The verdict, flattened into this object.
    #[serde(flatten)]
    pub verdict: &'a SeriesVerdict,
}

impl<'a> AnalyzeRecord<'a> {
    /// A record for `verdict` of a series in `file`.
    pub fn new(file: &'a str, mode: &'a str, verdict: &'a SeriesVerdict) -> Self {
        AnalyzeRecord {
            schema_version: SCHEMA_VERSION,
            file,
            mode,
            verdict,
        }
    }
}

/// Write one JSON line.
pub fn write_json_line<T: Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out)
}
