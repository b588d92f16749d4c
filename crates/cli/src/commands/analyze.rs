//! `leakhound analyze FILE…`: judge time series from CSV files.

use std::io::{self, Write};

use leakhound_core::{SeriesVerdict, Verdict};
use leakhound_detect::DetectOptions;
use leakhound_report::json::{AnalyzeRecord, write_json_line};
use leakhound_report::terminal::{write_overall, write_verdict_table};

use crate::args::AnalyzeArgs;
use crate::output::Output;
use crate::samples_csv::read_series_csv;

pub(crate) fn run(args: &AnalyzeArgs, out: &Output) -> anyhow::Result<u8> {
    let opts = DetectOptions {
        warmup_s: args.warmup.as_secs_f64(),
        limit: args.limit,
        ..DetectOptions::default()
    };
    // Read and validate every file before printing anything, so bad input fails cleanly.
    let mut inputs = Vec::with_capacity(args.files.len());
    for f in &args.files {
        inputs.push(read_series_csv(f)?);
    }
    let mode = if args.online { "online" } else { "end_of_run" };
    let stdout = io::stdout();
    let mut w = stdout.lock();
    let mut all = Vec::new();
    for (path, series) in &inputs {
        let verdicts: Vec<SeriesVerdict> = series
            .iter()
            .map(|s| {
                let mut v = if args.online {
                    leakhound_detect::analyze_online(s, &opts)
                } else {
                    leakhound_detect::analyze(s, &opts)
                };
                if args.limit.is_some() {
                    v.limit = args.limit;
                    v.limit_source = Some("--limit".to_string());
                }
                v
            })
            .collect();
        let file = path.display().to_string();
        if args.json {
            for v in &verdicts {
                write_json_line(&AnalyzeRecord::new(&file, mode, v), &mut w)?;
            }
        } else {
            writeln!(w, "{} ({mode})", out.style.bold(&file))?;
            write_verdict_table(&verdicts, series, out.style, &mut w)?;
            writeln!(w)?;
        }
        all.extend(verdicts);
    }
    let overall = Verdict::combine(all.iter().map(|v| v.verdict));
    if !args.json {
        write_overall(overall, &all, out.style, &mut w)?;
    }
    w.flush()?;
    Ok(overall.exit_code())
}
