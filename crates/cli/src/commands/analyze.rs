//! `leakhound analyze FILE…`: judge time series from CSV files.

use std::io::Write;
use std::path::PathBuf;

use leakhound_core::{Series, SeriesVerdict, Table, Unit, Verdict, format_quantity};
use leakhound_detect::{
    DetectOptions, GenericReading, Restarts, generic_reading, judged_as_memory,
};
use leakhound_report::json::{AnalyzeRecord, write_json_line};
use leakhound_report::terminal::{
    human_duration, verdict_word, write_overall, write_verdict_table,
};

use crate::args::AnalyzeArgs;
use crate::errors::ExpectedError;
use crate::orchestrate::session::NOT_JUDGED;
use crate::output::Output;
use crate::samples_csv::read_series_csv;

pub(crate) fn run(args: &AnalyzeArgs, out: &Output) -> anyhow::Result<u8> {
    let opts = DetectOptions {
        warmup_s: args.warmup.as_secs_f64(),
        alarm_after_s: args.alarm_after.map(|d| d.as_secs_f64()),
        restarts: if args.no_restarts {
            Restarts::None
        } else {
            Restarts::Unknown
        },
        ..DetectOptions::default()
    };
    // A size limit is for memory (and columns of unknown unit judged as memory); a plain
    // number for any series, in its own unit. A size on an fd or thread count is meaningless.
    let limit_for = |s: &Series| {
        let l = args.limit?;
        if !l.size {
            return Some(l.value);
        }
        judged_as_memory(s).then_some(l.value)
    };
    // Read and validate every file before printing anything, so bad input fails cleanly.
    let mut inputs = Vec::with_capacity(args.files.len());
    // Per file, the columns of unknown unit read as memory in KiB, now in bytes.
    let mut kib_columns: Vec<Vec<String>> = Vec::with_capacity(args.files.len());
    for f in &args.files {
        let (path, mut table) = read_series_csv(f)?;
        kib_columns.push(kib_to_bytes(&mut table));
        // A run directory is judged as `run` and `report` judge it (PSS is recorded, not
        // judged: see `session::NOT_JUDGED`).
        if f.is_dir() {
            table
                .series
                .retain(|s| !NOT_JUDGED.iter().any(|m| m.name() == s.name));
        }
        inputs.push((path, table));
    }
    // A warm-up that covers a whole file leaves nothing to judge: say so rather than "only 0
    // samples".
    let warm = args.warmup.as_secs_f64();
    if warm > 0.0 {
        for (path, table) in &inputs {
            if let Some(s) = table.series.first()
                && !s.t.is_empty()
                && s.t[s.t.len() - 1] <= s.t[0] + warm
            {
                // Up to the last sample: one sample left is no series either.
                return Err(ExpectedError::usage(format!(
                    "{}: --warmup {} leaves no samples to judge (the data spans {})",
                    path.display(),
                    leakhound_report::terminal::human_duration(warm),
                    leakhound_report::terminal::human_duration(s.span_s())
                )));
            }
        }
    }
    // A file whose only columns are counters (or the covariate) has nothing to judge.
    for (path, table) in &inputs {
        let covariate = args.requests.as_deref().or(args.load.as_deref());
        let judged = table
            .series
            .iter()
            .filter(|s| !not_judged(s) && covariate.is_none_or(|c| !names_column(&s.name, c)));
        let judged = judged.count();
        if judged == 0
            && let Some(start) = table.series.iter().find(|s| is_start_time(s))
            && !table.series.iter().any(is_counter)
        {
            return Err(ExpectedError::usage(format!(
                "{}: nothing to judge: {} is the process's start time, which tells restarts \
                 and does not leak; judge a gauge (memory, open fds, threads…) with it",
                path.display(),
                start.name
            )));
        }
        if judged == 0 && table.series.iter().any(is_counter) {
            let counters: Vec<&str> = table
                .series
                .iter()
                .filter(|s| is_counter(s))
                .map(|s| s.name.as_str())
                .collect();
            return Err(ExpectedError::usage(format!(
                "{}: nothing to judge: {} {} (named `…_total`: it counts up and never falls), \
                 not a level that can leak; judge a gauge (memory, open fds, threads…), with a \
                 counter as --load or --requests",
                path.display(),
                counters.join(", "),
                if counters.len() == 1 {
                    "is a counter"
                } else {
                    "are counters"
                }
            )));
        }
    }
    if let Some(col) = &args.requests {
        return per_request(&inputs, col, &opts, args.json, out);
    }
    // With --load, every file must have the column (checked before printing anything).
    let mut loads: Vec<Option<Series>> = Vec::with_capacity(inputs.len());
    for (path, table) in &inputs {
        let Some(col) = &args.load else {
            loads.push(None);
            continue;
        };
        loads.push(Some(
            covariate_column(path, &table.series, col, "--load")?.clone(),
        ));
    }
    let mode = if args.online { "online" } else { "end_of_run" };
    let mut w = crate::output::stdout();
    let mut all = Vec::new();
    for ((((path, table), load), f), kib) in
        inputs.iter().zip(&loads).zip(&args.files).zip(&kib_columns)
    {
        // A run directory knows whether its processes changed (see `processes.csv`), and a
        // Prometheus export may carry the process's start time.
        let opts = DetectOptions {
            restarts: file_restarts(&opts.restarts, table, f),
            ..opts.clone()
        };
        let series: Vec<Series> = table
            .series
            .iter()
            .filter(|s| load.as_ref().is_none_or(|l| l.name != s.name) && !not_judged(s))
            .cloned()
            .collect();
        let series = &series;
        let verdicts: Vec<SeriesVerdict> = series
            .iter()
            .map(|s| {
                let limit = limit_for(s);
                let opts = DetectOptions {
                    limit,
                    ..opts.clone()
                };
                let opts = &opts;
                let mut v = match (load, args.online) {
                    (Some(l), true) => leakhound_detect::analyze_online_with_load(s, l, opts),
                    (Some(l), false) => leakhound_detect::analyze_with_load(s, l, opts),
                    (None, true) => leakhound_detect::analyze_online(s, opts),
                    (None, false) => leakhound_detect::analyze(s, opts),
                };
                if limit.is_some() {
                    v.limit = limit;
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
            if args.online {
                write_alarm_times(&verdicts, series, table.clock, &mut w)?;
            }
            write_how_read(table, &mut w)?;
            write_generic_columns(series, kib, &mut w)?;
            let load_name = load.as_ref().map(|l| l.name.as_str());
            write_counters(table, load_name, &mut w)?;
            write_start_times(table, &mut w)?;
            writeln!(w)?;
        }
        all.extend(with_file(verdicts, &file, inputs.len()));
    }
    let overall = Verdict::combine(all.iter().map(|v| v.verdict));
    if !args.json {
        write_overall(overall, &all, out.style, &mut w)?;
    }
    w.flush()?;
    Ok(overall.exit_code())
}

/// The verdicts of one of `files` files, for the closing line: with several, each series
/// named with its file (`a.csv: rss_bytes`), which the per-file tables above also show.
fn with_file(verdicts: Vec<SeriesVerdict>, file: &str, files: usize) -> Vec<SeriesVerdict> {
    if files < 2 {
        return verdicts;
    }
    verdicts
        .into_iter()
        .map(|mut v| {
            v.series = format!("{file}: {}", v.series);
            v
        })
        .collect()
}

/// Online, when each alarm was raised: the sample's own time (the JSON's `detected_at_s`; as a
/// date when the times are a wall clock) and how far into the series it came.
fn write_alarm_times(
    verdicts: &[SeriesVerdict],
    series: &[Series],
    clock: bool,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    for v in verdicts.iter().filter(|v| v.verdict == Verdict::Leak) {
        let (Some(at), Some(s)) = (v.detected_at_s, series.iter().find(|s| s.name == v.series))
        else {
            continue;
        };
        let first = s.t.first().copied().unwrap_or(at);
        let n = s.t.partition_point(|&t| t <= at);
        let when = match clock_time(at).filter(|_| clock) {
            Some(date) => date,
            None => format!("t = {at} s"),
        };
        writeln!(
            w,
            "  {}: alarm raised at {when}, {} after the first sample (sample {n} of {})",
            v.series,
            human_duration(at - first),
            s.t.len()
        )?;
    }
    Ok(())
}

/// Seconds since 1970 as an RFC 3339 time in UTC, to the millisecond.
fn clock_time(t: f64) -> Option<String> {
    jiff::Timestamp::from_millisecond((t * 1e3).round() as i64)
        .ok()
        .map(|ts| ts.to_string())
}

/// How the file's cells were read when it was not leakhound's own format: times on a clock
/// (milliseconds since 1970, date-times) and sizes written with units.
fn write_how_read(table: &Table, w: &mut dyn Write) -> std::io::Result<()> {
    if let Some(how) = table.time_read_as() {
        writeln!(w, "  {}: times read as {how}", table.time_column)?;
    }
    for (c, unit) in &table.named_units {
        writeln!(
            w,
            "  {c}: numbers in {unit}, as the column's name says, read as bytes"
        )?;
    }
    for c in &table.sized_columns {
        writeln!(
            w,
            "  {c}: values written with size units (as Grafana's \"formatted data\" writes them) \
             read as bytes, rounded as written; export raw values for the full precision"
        )?;
    }
    Ok(())
}

/// A Prometheus counter: the metric's name ends in `_total` (the naming convention for
/// counters, which OpenMetrics requires) and the values never fall, but for a reset now and
/// then (at most one fall per hundred samples, or one). Requests served, errors, CPU seconds:
/// a counter only ever rises, so judging it for a leak says nothing; it is left out (and can be
/// the covariate of `--load` or `--requests`). A gauge misnamed `…_total` falls often and is
/// judged, and so are the gauges Node's `prom-client` exports under such names
/// ([`GAUGES_NAMED_TOTAL`]) whatever they do: a handle leak makes them rise and never fall.
fn is_counter(s: &Series) -> bool {
    let metric = metric_name(&s.name);
    if !metric.ends_with("_total") || GAUGES_NAMED_TOTAL.contains(&metric) {
        return false;
    }
    let falls = s.v.windows(2).filter(|w| w[1] < w[0]).count();
    falls <= (s.v.len() / 100).max(1)
}

/// Gauges named like counters by Node's `prom-client` default metrics (`# TYPE … gauge`): the
/// libuv handles (sockets, timers, servers, child processes) and requests alive, and the async
/// resources keeping the event loop alive. A leak of sockets or timers shows in them.
const GAUGES_NAMED_TOTAL: [&str; 3] = [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
];

/// A process's start time (`process_start_time_seconds`, which every Prometheus client
/// library's process collector exports, in seconds since 1970): it tells when the process
/// restarted and does not leak, so it is not judged.
fn is_start_time(s: &Series) -> bool {
    metric_name(&s.name) == "process_start_time_seconds"
}

/// Columns left out of the judgement: counters and start times.
fn not_judged(s: &Series) -> bool {
    is_counter(s) || is_start_time(s)
}

/// What the file's process start times (`process_start_time_seconds`, every series of it
/// when there are several) say of restarts (`DetectOptions::restarts`): none when none
/// changed over at least two samples, else the time of each sample where one changed (the
/// first of the new process); `Unknown` without one.
fn start_time_restarts(table: &Table) -> Restarts {
    let starts: Vec<&Series> = table.series.iter().filter(|s| is_start_time(s)).collect();
    if starts.is_empty() || starts.iter().any(|s| s.len() < 2) {
        return Restarts::Unknown;
    }
    Restarts::at(
        starts
            .iter()
            .flat_map(|s| {
                (1..s.len())
                    .filter(|&i| s.v[i] != s.v[i - 1])
                    .map(|i| s.t[i])
            })
            .collect(),
    )
}

/// What is known of restarts for one file: `--no-restarts` (in `given`) first, then the
/// file's own process start times, then a run directory's `processes.csv`.
fn file_restarts(given: &Restarts, table: &Table, path: &std::path::Path) -> Restarts {
    if *given != Restarts::Unknown {
        return given.clone();
    }
    match start_time_restarts(table) {
        Restarts::Unknown if path.is_dir() => crate::samples_csv::process_spans(path)
            .map_or(Restarts::Unknown, |s| {
                crate::orchestrate::processes::known_restarts(&s)
            }),
        known => known,
    }
}

/// What the process start times of a file say of restarts (see [`start_time_restarts`]).
fn write_start_times(table: &Table, w: &mut dyn Write) -> std::io::Result<()> {
    for s in table.series.iter().filter(|s| is_start_time(s)) {
        let changes = s.v.windows(2).filter(|p| p[1] != p[0]).count();
        let said = match changes {
            0 if s.len() >= 2 => {
                "it never changed, so no fall of memory is read as a restart".to_string()
            }
            0 => "one sample says nothing of restarts".to_string(),
            1 => "it changed once: a fall there is a restart, any other is memory given back"
                .to_string(),
            k => format!(
                "it changed {k} times: a fall there is a restart, any other is memory given back"
            ),
        };
        writeln!(
            w,
            "  {}: the process's start time, not judged; {said}",
            s.name
        )?;
    }
    Ok(())
}

/// The metric's name of a column: `lh_requests_total` for `lh_requests_total{job="api"}` (a
/// Prometheus series as a saved query result names it), the column's name otherwise.
fn metric_name(name: &str) -> &str {
    name.split_once('{').map_or(name, |(m, _)| m)
}

/// Whether the column `name` is the one `col` names on the command line: in full, or as the
/// metric of a Prometheus series (see [`covariate_column`]).
fn names_column(name: &str, col: &str) -> bool {
    name == col || metric_name(name) == col
}

/// The counters left out of the judgement (see [`is_counter`]), but the one given as `--load`.
fn write_counters(table: &Table, load: Option<&str>, w: &mut dyn Write) -> std::io::Result<()> {
    for s in table
        .series
        .iter()
        .filter(|s| is_counter(s) && Some(s.name.as_str()) != load)
    {
        writeln!(
            w,
            "  {}: a counter (named `…_total`: it counts up and never falls), not judged; give \
             it as --load to take out memory that follows load, or as --requests to judge per \
             request",
            s.name
        )?;
    }
    Ok(())
}

/// Columns whose name gives no unit (`value`) that read as memory in KiB
/// (`leakhound_detect::generic_reading`: whole 4 KiB pages from 10,000 KiB up, as
/// `/proc/PID/status` and `ps -o rss` give them): multiplied into bytes, so rates, growth and a
/// size `--limit` are those of memory. Returns their names.
fn kib_to_bytes(table: &mut Table) -> Vec<String> {
    let mut names = Vec::new();
    for s in &mut table.series {
        if s.unit == Unit::Count && generic_reading(s) == GenericReading::MemoryKib {
            for v in &mut s.v {
                *v *= 1024.0;
            }
            s.unit = Unit::Bytes;
            names.push(s.name.clone());
        }
    }
    names
}

/// How each column whose name gives no unit (`value`) was judged, since its values decided it
/// (see `leakhound_detect::judged_as_memory`); `kib`: those read as KiB (see [`kib_to_bytes`]).
fn write_generic_columns(
    series: &[Series],
    kib: &[String],
    w: &mut dyn Write,
) -> std::io::Result<()> {
    for s in series {
        let how = if kib.contains(&s.name) {
            "memory in KiB (its samples are whole 4 KiB pages, 10,000 KiB and up), shown in bytes"
        } else if s.unit != Unit::Count {
            continue;
        } else {
            match generic_reading(s) {
                GenericReading::Memory | GenericReading::MemoryKib => {
                    "memory (its samples are not all whole numbers under a million); its numbers \
                     are shown as written, in the column's own unit"
                }
                GenericReading::Count => {
                    "a count, as fds or threads are (its samples are whole numbers under a million)"
                }
            }
        };
        writeln!(w, "  {}: the name gives no unit; judged as {how}", s.name)?;
    }
    Ok(())
}

/// The column `col` of one file, named by `flag` (`--load`, `--requests`): the series of that
/// name, or else the one Prometheus series of that metric (`lh_requests_total` for
/// `lh_requests_total{job="api"}`, as a saved query result names it). A usage error when the
/// file has none (listing the columns it has), several of that metric, or no other column to
/// judge.
fn covariate_column<'a>(
    path: &std::path::Path,
    series: &'a [Series],
    col: &str,
    flag: &str,
) -> anyhow::Result<&'a Series> {
    let names = || {
        series
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let of_metric: Vec<&Series> = series
        .iter()
        .filter(|s| metric_name(&s.name) == col)
        .collect();
    let requests: &Series = match (series.iter().find(|s| s.name == col), &of_metric[..]) {
        (Some(s), _) => s,
        (None, [s]) => s,
        (None, []) => {
            return Err(ExpectedError::usage(format!(
                "{}: no column `{col}` for {flag} (columns: {})",
                path.display(),
                names()
            )));
        }
        (None, _) => {
            return Err(ExpectedError::usage(format!(
                "{}: {flag} {col} names {} series; give one in full (columns: {})",
                path.display(),
                of_metric.len(),
                names()
            )));
        }
    };
    if series.len() < 2 {
        return Err(ExpectedError::usage(format!(
            "{}: {flag} {col} leaves no other column to judge",
            path.display()
        )));
    }
    // A column of memory is no count of requests: taken for one, the series that grows with it
    // was never judged (a leak in `rss_bytes` vanished behind `--requests rss_bytes`).
    if requests.unit == leakhound_core::Unit::Bytes {
        return Err(ExpectedError::usage(format!(
            "{}: {flag} {} holds bytes (memory), not a count of requests served so far (a \
             counter such as http_requests_total)",
            path.display(),
            requests.name
        )));
    }
    // A count of requests served so far only falls when it is reset (a restart); one that
    // falls again and again is a gauge, most likely a rate (Grafana's `rate(…)` panel), which
    // read as a counter gives nonsense per request.
    let falls = requests.v.windows(2).filter(|w| w[1] < w[0]).count();
    if falls > MAX_COUNTER_RESETS.max(requests.v.len() / 20) {
        return Err(ExpectedError::usage(format!(
            "{}: {flag} {} falls at {falls} of its {} samples: not a count of requests served \
             so far (a counter such as http_requests_total, not a rate per second)",
            path.display(),
            requests.name,
            requests.v.len()
        )));
    }
    Ok(requests)
}

/// Falls a request counter may show and still be one (restarts of the process or the load
/// driver reset it), at least; or one in 20 samples.
const MAX_COUNTER_RESETS: usize = 3;

/// `analyze --requests COLUMN`: every other column judged against the cumulative requests in
/// `col` (see `leakhound_detect::analyze_per_request`). In the verdicts (and the JSON, whose
/// `mode` is `per_request`), `rate_per_s` and `rate_ci95` are per request served.
fn per_request(
    inputs: &[(PathBuf, Table)],
    col: &str,
    opts: &DetectOptions,
    json: bool,
    out: &Output,
) -> anyhow::Result<u8> {
    // Check every file has the column before printing anything.
    let mut jobs = Vec::with_capacity(inputs.len());
    for (path, table) in inputs {
        let requests = covariate_column(path, &table.series, col, "--requests")?;
        jobs.push((path, table, requests));
    }
    let mut w = crate::output::stdout();
    let mut all = Vec::new();
    for (path, table, requests) in jobs {
        let file = path.display().to_string();
        let opts = &DetectOptions {
            restarts: file_restarts(&opts.restarts, table, path),
            ..opts.clone()
        };
        let verdicts: Vec<SeriesVerdict> = table
            .series
            .iter()
            .filter(|s| s.name != requests.name && !not_judged(s))
            .map(|s| leakhound_detect::analyze_per_request(s, requests, opts))
            .collect();
        if json {
            for v in &verdicts {
                write_json_line(&AnalyzeRecord::new(&file, "per_request", v), &mut w)?;
            }
        } else {
            writeln!(w, "{} (per request of `{col}`)", out.style.bold(&file))?;
            for v in &verdicts {
                let rate = match (v.rate_per_s, v.rate_ci95) {
                    (Some(r), Some([lo, hi])) => format!(
                        "{} per request (95 % CI {} .. {})",
                        format_quantity(v.unit, r),
                        format_quantity(v.unit, lo),
                        format_quantity(v.unit, hi)
                    ),
                    (Some(r), None) => format!("{} per request", format_quantity(v.unit, r)),
                    _ => "-".to_string(),
                };
                let word = verdict_word(v.verdict, out.style);
                writeln!(w, "  {:<18} {word}  {rate}", v.series)?;
                writeln!(w, "  {:<18} {}", "", v.reason)?;
            }
            write_how_read(table, &mut w)?;
            write_counters(table, Some(requests.name.as_str()), &mut w)?;
            writeln!(w)?;
        }
        all.extend(with_file(verdicts, &file, inputs.len()));
    }
    let overall = Verdict::combine(all.iter().map(|v| v.verdict));
    if !json {
        write_overall(overall, &all, out.style, &mut w)?;
    }
    w.flush()?;
    Ok(overall.exit_code())
}
