//! Time series from delimited text: a run's `samples.csv`, a corpus file, a column exported from
//! Grafana, Prometheus or a spreadsheet.
//!
//! The first column is time and every further column one series. What the reader accepts,
//! beyond leakhound's own `t_seconds,<series>,…`:
//!
//! * real CSV: quoted cells (a Grafana header such as
//!   `"{__name__=""process_resident_memory_bytes"", job=""api""}"` holds commas and quotes), a
//!   UTF-8 byte-order mark, CRLF line ends, `#` comment lines; tab- or semicolon-separated
//!   files when the header has no comma;
//! * times as seconds, as milliseconds, microseconds or nanoseconds since 1970 (named by the
//!   column, `t_ms`, or told by their size when the name gives no unit: Grafana writes
//!   milliseconds under `Time`), or as date-times (`2026-12-05T09:00:00Z`,
//!   `2026-12-05 09:00:00`, taken as UTC when they carry no offset);
//! * a Prometheus series as a header (`name{label="v", …}` or Grafana's `{__name__="name", …}`):
//!   the unit comes from the metric's name, never from its labels;
//! * sizes as Grafana's "formatted data" writes them (`1.02 GiB`, `512 MB`): read as bytes;
//! * an empty cell, `NaN`, `null`, `NA`, `N/A`, `#N/A`, `None` or `<NA>` as a missing sample;
//! * a Prometheus query result saved as JSON (see [`crate::prom_json`]).
//!
//! Everything else is an error that names the line, the column and the cell. Parsing is pure:
//! the caller reads the file.

use crate::{Metric, Series, Unit};

/// Times at or after this many seconds (2001-09-09) are taken for a wall clock (seconds since
/// 1970) rather than seconds since a start: no run lasts 31 years.
pub const CLOCK_MIN_S: f64 = 1e9;

/// How the time column was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeKind {
    /// Numbers of seconds (`t_seconds`, or a column whose name gives no unit holding numbers
    /// below 1e11: seconds since a start, or since 1970 as Prometheus writes them).
    Seconds,
    /// Milliseconds: a column named `*_ms`, or numbers of 1e11 to 1e14 under a name that gives
    /// no unit (milliseconds since 1970, as Grafana's CSV export writes them).
    Millis,
    /// Microseconds (`*_us`, or numbers of 1e14 to 1e17).
    Micros,
    /// Nanoseconds (`*_ns`, or numbers of 1e17 and more).
    Nanos,
    /// Date-times; `offset` is false when they carried none and were taken as UTC.
    DateTime {
        /// Whether the date-times carried a UTC offset (`Z`, `+01:00`).
        offset: bool,
    },
}

impl TimeKind {
    /// Units of a numeric time column per second.
    pub(crate) fn per_second(self) -> f64 {
        match self {
            TimeKind::Millis => 1e3,
            TimeKind::Micros => 1e6,
            TimeKind::Nanos => 1e9,
            TimeKind::Seconds | TimeKind::DateTime { .. } => 1.0,
        }
    }
}

/// The series of one file, with how its times were read.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The time column's name as written.
    pub time_column: String,
    /// How its cells were read. Times in [`Table::series`] are always seconds (since 1970 for
    /// every kind but [`TimeKind::Seconds`]).
    pub time_kind: TimeKind,
    /// One series per further column that has at least one value, in column order.
    pub series: Vec<Series>,
    /// Columns whose cells carried a size unit (`1.02 GiB`): read as bytes, rounded as written.
    pub sized_columns: Vec<String>,
    /// Columns whose name gives the unit of their numbers (`rss_kb`, `heap_mib`), each with
    /// that unit: their plain numbers were multiplied into bytes.
    pub named_units: Vec<(String, &'static str)>,
    /// Data lines read.
    pub rows: usize,
    /// Whether the times are a wall clock (date-times, or numbers from [`CLOCK_MIN_S`] seconds
    /// since 1970 on), so a time can be shown as a date.
    pub clock: bool,
}

impl Table {
    /// How the times were read, in words ("milliseconds since 1970-01-01 UTC"), or `None` for
    /// plain seconds.
    pub fn time_read_as(&self) -> Option<String> {
        let unit = match self.time_kind {
            TimeKind::Seconds => return None,
            TimeKind::Millis => "milliseconds",
            TimeKind::Micros => "microseconds",
            TimeKind::Nanos => "nanoseconds",
            TimeKind::DateTime { offset: true } => return Some("date-times".to_string()),
            TimeKind::DateTime { offset: false } => {
                return Some("date-times without a UTC offset, taken as UTC".to_string());
            }
        };
        Some(if self.clock {
            format!("{unit} since 1970-01-01 UTC")
        } else {
            unit.to_string()
        })
    }
}

/// Why a table could not be read. Lines are counted from 1, as an editor shows them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    /// No line at all (or only comments and blank lines).
    #[error("the file is empty (expected a header line like t_seconds,value)")]
    Empty,
    /// The first line holds numbers.
    #[error("line {line}: expected a header line like t_seconds,value but found numbers")]
    NoHeader {
        /// Line of the would-be header.
        line: u64,
    },
    /// The header has a single column.
    #[error("line {line}: need at least two columns (t_seconds and one value column)")]
    OneColumn {
        /// Line of the header.
        line: u64,
    },
    /// Two columns share a name.
    #[error("line {line}: column `{name}` appears twice in the header")]
    DuplicateColumn {
        /// Line of the header.
        line: u64,
        /// The name.
        name: String,
    },
    /// A data line with more or fewer cells than the header.
    #[error("line {line}: {cells} cells, but the header has {columns} columns")]
    Ragged {
        /// Line.
        line: u64,
        /// Cells on it.
        cells: usize,
        /// Columns in the header.
        columns: usize,
    },
    /// A value cell that is not a number (nor a size, nor missing).
    #[error("line {line}, column {column}: `{cell}` is not a number")]
    NotANumber {
        /// Line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell as written.
        cell: String,
    },
    /// A negative value in a column whose name reads as a level that cannot be negative
    /// (memory, or a count of fds, sockets, threads, processes, requests).
    #[error(
        "line {line}, column {column}: `{cell}` is negative, and {what} cannot be (read from the \
         column's name); give the levels themselves, not their changes"
    )]
    Negative {
        /// Line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell as written.
        cell: String,
        /// What the column reads as: "memory" or "a count".
        what: &'static str,
    },
    /// A time cell that is not a time of the kind the column holds.
    #[error("line {line}, column {column}: `{cell}` is not {expected}")]
    NotATime {
        /// Line.
        line: u64,
        /// Column name.
        column: String,
        /// The cell as written.
        cell: String,
        /// What the column holds ("a number of seconds", "a date-time like …").
        expected: &'static str,
    },
    /// A time earlier than the line before.
    #[error("line {line}: time goes backwards (`{cell}` after `{prev}`)")]
    Backwards {
        /// Line.
        line: u64,
        /// The time as written.
        cell: String,
        /// The previous line's time as written.
        prev: String,
    },
    /// A header and no data line.
    #[error("the file has a header but no samples")]
    NoRows,
    /// Many lines repeat the time of the line before (a long-format export).
    #[error(
        "line {line}: {repeated} of {rows} lines repeat the time of the line before: one line per time is expected, one column per series (a long-format export, a line per instance and time, must be pivoted to a column per instance)"
    )]
    RepeatedTimes {
        /// The first line that repeats a time.
        line: u64,
        /// Lines that repeat the time of the line before.
        repeated: usize,
        /// Data lines.
        rows: usize,
    },
    /// A first column whose name says it holds values, not times.
    #[error(
        "line {line}: the first column, `{column}`, is named as a value ({unit}), but the first column is read as time{hint}"
    )]
    ValueAsTime {
        /// Line of the header.
        line: u64,
        /// The first column's name.
        column: String,
        /// The unit its name gives.
        unit: String,
        /// Where the time is, when a column is named so.
        hint: String,
    },
    /// Data lines whose value cells are all missing (empty, or a missing-value marker such as `NaN`).
    #[error(
        "{rows} lines but no values: every cell after {time_column} is empty or marks a missing value (NaN, null, NA, …)"
    )]
    NoValues {
        /// Data lines.
        rows: usize,
        /// Name of the time column.
        time_column: String,
    },
    /// A file that starts as JSON but is not a Prometheus query result.
    #[error("line {line}: not a Prometheus query result: {message}")]
    Json {
        /// Line where the JSON reader stopped.
        line: u64,
        /// What it said.
        message: String,
    },
    /// A JSON document that is not shaped like a Prometheus query result.
    #[error("not a Prometheus query result: {message}")]
    JsonShape {
        /// What is wrong with it.
        message: String,
    },
    /// Times no measurement has (see `check_times`).
    #[error(
        "series {series}: {what}; is the time column in the unit it was read in (name it t_seconds, t_ms, …)?"
    )]
    AbsurdTime {
        /// The series' name.
        series: String,
        /// What is wrong.
        what: String,
    },
    /// An instant query's answer: one sample per series.
    #[error(
        "an instant query's answer holds one sample per series; save a range: /api/v1/query_range"
    )]
    InstantVector,
    /// A Prometheus query result without a series.
    #[error("the query result holds no series (the query matched nothing in its time range)")]
    NoSeries,
    /// A Prometheus query result whose every sample is `NaN` or `±Inf`.
    #[error(
        "every sample of the {series} series in the query result is NaN or ±Inf (stale or a division by zero)"
    )]
    NoFiniteSamples {
        /// Series in the result.
        series: usize,
    },
    /// A negative sample of a Prometheus result whose metric is memory or a count.
    #[error(
        "series {series}: a sample of {value} is negative, and {what} cannot be (read from the metric's name); query the levels themselves, not their changes"
    )]
    NegativeSample {
        /// The series' name.
        series: String,
        /// The sample.
        value: f64,
        /// What the series reads as: "memory" or "a count".
        what: &'static str,
    },
    /// A sample of a Prometheus result that is not a number.
    #[error("series {series}: `{value}` is not a number")]
    BadSample {
        /// The series' name.
        series: String,
        /// The value as written.
        value: String,
    },
    /// A Prometheus result whose times go backwards.
    #[error("series {series}: time goes backwards ({t} s after {prev} s)")]
    SeriesBackwards {
        /// The series' name.
        series: String,
        /// The later time.
        t: f64,
        /// The one before.
        prev: f64,
    },
    /// A saved Prometheus response whose query failed.
    #[error("the query failed: {message}")]
    QueryFailed {
        /// Prometheus's `errorType: error`.
        message: String,
    },
    /// A Prometheus result that holds no series (a scalar or a string).
    #[error("a `{result_type}` result holds no series (query a range vector: /api/v1/query_range)")]
    NotSeries {
        /// The result's `resultType`.
        result_type: String,
    },
    /// Text the CSV reader rejects (not UTF-8).
    #[error("line {line}: {message}")]
    Malformed {
        /// Line where the reader stopped.
        line: u64,
        /// What it said.
        message: String,
    },
}

/// Parse a table of time series from the bytes of a delimited text file.
pub fn parse_table(bytes: &[u8]) -> Result<Table, TableError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // A Prometheus query result saved as JSON.
    if matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    ) {
        return crate::prom_json::parse_query_result(bytes);
    }
    let delimiter = sniff_delimiter(bytes);
    // Semicolons separate cells where the comma is the decimal mark.
    let decimal_comma = delimiter == b';';
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.records();
    // Line numbers from byte offsets: the reader's own count is one short after CRLF line ends.
    let line_at = |p: &csv::Position| {
        let mut end = usize::try_from(p.byte()).map_or(bytes.len(), |b| b.min(bytes.len()));
        // After a `\r`, a record's offset may point at the `\n` that ends the line before.
        while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
            end += 1;
        }
        1 + bytes[..end].iter().filter(|&&b| b == b'\n').count() as u64
    };
    let malformed = |e: csv::Error| TableError::Malformed {
        line: e.position().map_or(0, line_at),
        message: match e.kind() {
            csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".to_string(),
            _ => e.to_string(),
        },
    };
    let line_of = |r: &csv::StringRecord| r.position().map_or(0, line_at);
    // The header: the first record that is not blank.
    let header = loop {
        match records.next() {
            None => return Err(TableError::Empty),
            Some(r) => {
                let r = r.map_err(malformed)?;
                if r.iter().any(|c| !c.is_empty()) {
                    break r;
                }
            }
        }
    };
    let hline = line_of(&header);
    if header.iter().all(|c| c.parse::<f64>().is_ok()) {
        return Err(TableError::NoHeader { line: hline });
    }
    if header.len() < 2 {
        return Err(TableError::OneColumn { line: hline });
    }
    let cols: Vec<String> = header.iter().map(str::to_string).collect();
    let mut series: Vec<Series> = Vec::with_capacity(cols.len() - 1);
    // Per column, the size unit its name gives (`rss_mb`) and the bytes in one of it.
    let mut scale: Vec<Option<(&'static str, f64)>> = Vec::with_capacity(cols.len() - 1);
    for (i, c) in cols[1..].iter().enumerate() {
        let (name, unit, named) = column_name_and_unit(c, i + 2);
        if series.iter().any(|s| s.name == name) {
            return Err(TableError::DuplicateColumn { line: hline, name });
        }
        series.push(Series::new(name, unit));
        scale.push(named);
    }
    let explicit = time_kind_from_name(&cols[0]);
    // `rss_bytes,fds` (no time column) read the memory as seconds and judged fds over days;
    // `rss_bytes,t_seconds` judged the time as a series. A first column named as a size is no
    // time.
    if explicit.is_none() {
        let (_, unit, _) = column_name_and_unit(&cols[0], 1);
        if unit == Unit::Bytes {
            let timed = cols[1..]
                .iter()
                .find(|c| TIME_NAMES.contains(&c.to_ascii_lowercase().as_str()));
            return Err(TableError::ValueAsTime {
                line: hline,
                column: cols[0].clone(),
                unit: "bytes".to_string(),
                hint: match timed {
                    Some(t) => format!(": put `{t}` first"),
                    None => ": add a time column first (t_seconds, a Unix time or a date-time)"
                        .to_string(),
                },
            });
        }
    }
    let mut kind: Option<TimeKind> = explicit;
    let mut sized = vec![false; series.len()];
    let mut scaled = vec![false; series.len()];
    // The previous line's time, and its cell as written (for the error when time goes back).
    let mut prev: Option<f64> = None;
    let mut prev_cell = String::new();
    let mut rows = 0usize;
    // Lines whose time is the line before's, and the first of them.
    let mut repeated = 0usize;
    let mut repeated_line: Option<u64> = None;
    for r in records {
        let mut r = r.map_err(malformed)?;
        if r.iter().all(str::is_empty) {
            continue;
        }
        if decimal_comma && r.iter().any(|c| c.contains(',')) {
            let pos = r.position().cloned();
            r = r
                .iter()
                .map(|c| {
                    if c.contains('.') {
                        c.to_string()
                    } else {
                        c.replace(',', ".")
                    }
                })
                .collect();
            r.set_position(pos);
        }
        // Counted only for an error (a count from the start of the file).
        let line = || line_of(&r);
        if r.len() != cols.len() {
            return Err(TableError::Ragged {
                line: line(),
                cells: r.len(),
                columns: cols.len(),
            });
        }
        let cell = &r[0];
        let k = *kind.get_or_insert_with(|| guess_time_kind(cell));
        let t = parse_time(cell, k).ok_or_else(|| TableError::NotATime {
            line: line(),
            column: cols[0].clone(),
            cell: cell.to_string(),
            expected: match k {
                TimeKind::DateTime { .. } => "a date-time like 2026-12-05T09:00:00Z",
                TimeKind::Seconds if explicit.is_some() => "a number of seconds",
                TimeKind::Seconds => "a number of seconds or a date-time like 2026-12-05T09:00:00Z",
                _ => "a whole number of the column's unit since 1970",
            },
        })?;
        if prev == Some(t) {
            repeated += 1;
            repeated_line.get_or_insert_with(line);
        }
        if prev.is_some_and(|p| t < p) {
            return Err(TableError::Backwards {
                line: line(),
                cell: cell.to_string(),
                prev: prev_cell,
            });
        }
        prev = Some(t);
        prev_cell.clear();
        prev_cell.push_str(cell);
        for (i, cell) in r.iter().skip(1).enumerate() {
            match parse_value(cell) {
                Ok(None) => {}
                Ok(Some((v, with_unit))) => {
                    sized[i] |= with_unit;
                    // A cell's own unit wins over the one its column's name gives.
                    let v = match scale[i] {
                        Some((_, bytes)) if !with_unit => {
                            scaled[i] = true;
                            v * bytes
                        }
                        _ => v,
                    };
                    if v < 0.0 && (with_unit || series[i].unit != Unit::Count) {
                        return Err(TableError::Negative {
                            line: line(),
                            column: cols[i + 1].clone(),
                            cell: cell.to_string(),
                            what: if with_unit || series[i].unit == Unit::Bytes {
                                "memory"
                            } else {
                                "a count"
                            },
                        });
                    }
                    series[i].push(t, v);
                }
                Err(()) => {
                    return Err(TableError::NotANumber {
                        line: line(),
                        column: cols[i + 1].clone(),
                        cell: cell.to_string(),
                    });
                }
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(TableError::NoRows);
    }
    // A time on two lines now and then is a duplicated scrape (its lowest value is kept, see
    // `prep::clean`); on many lines it is a long-format export (a line per instance and time),
    // whose instances would be merged into one series by their minimum.
    if repeated > 0 && repeated as f64 >= REPEATED_TIMES * rows as f64 {
        return Err(TableError::RepeatedTimes {
            line: repeated_line.unwrap_or(0),
            repeated,
            rows,
        });
    }
    // A column left empty on every line is a metric that could not be read there (PSS
    // without access to smaps_rollup): nothing to judge.
    if series.iter().all(Series::is_empty) {
        return Err(TableError::NoValues {
            rows,
            time_column: cols[0].clone(),
        });
    }
    let mut sized_columns = Vec::new();
    for (s, &b) in series.iter_mut().zip(&sized) {
        if b {
            s.unit = Unit::Bytes;
            sized_columns.push(s.name.clone());
        }
    }
    let named_units = series
        .iter()
        .zip(scale.iter().zip(&scaled))
        .filter_map(|(s, (named, &scaled))| {
            named
                .filter(|_| scaled)
                .map(|(unit, _)| (s.name.clone(), unit))
        })
        .collect();
    series.retain(|s| !s.is_empty());
    check_times(&series)?;
    let time_kind = kind.unwrap_or(TimeKind::Seconds);
    let clock = matches!(time_kind, TimeKind::DateTime { .. })
        || series
            .iter()
            .filter_map(|s| s.t.first())
            .any(|&t| t >= CLOCK_MIN_S);
    Ok(Table {
        time_column: cols[0].clone(),
        time_kind,
        series,
        sized_columns,
        named_units,
        rows,
        clock,
    })
}

/// Commas unless the first line has none outside quotes and has tabs or semicolons there (a
/// spreadsheet's export in a locale whose decimal mark is the comma). A quoted Prometheus
/// label set (`"{job=""a,b""}"`) holds commas of its own, which do not count.
fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let first = bytes
        .split(|&b| b == b'\n')
        .find(|l| !l.iter().all(u8::is_ascii_whitespace) && !l.starts_with(b"#"))
        .unwrap_or(&[]);
    let mut quoted = false;
    let mut seen = [false; 3];
    for &b in first {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => seen[0] = true,
            b'\t' if !quoted => seen[1] = true,
            b';' if !quoted => seen[2] = true,
            _ => {}
        }
    }
    match seen {
        [false, true, _] => b'\t',
        [false, false, true] => b';',
        _ => b',',
    }
}

/// A series' name and unit from its header cell, and the size unit its name gives, if any
/// (see [`size_unit_in_name`]). leakhound's own columns keep their units; a Prometheus series
/// (`name{label="v"}`, or `{__name__="name", …}` as Grafana writes it) is named `name{labels}`
/// and gets its unit from the metric's name alone (a label such as
/// `instance="memcached:11211"` says nothing about the values); anything else is guessed from
/// its name.
fn column_name_and_unit(cell: &str, number: usize) -> (String, Unit, Option<(&'static str, f64)>) {
    if cell.is_empty() {
        return (format!("column{number}"), Unit::Count, None);
    }
    if let Some(m) = Metric::from_name(cell) {
        return (cell.to_string(), m.unit(), None);
    }
    let sized = |metric: &str, unit: Unit| match size_unit_in_name(metric) {
        Some(named) => (Unit::Bytes, Some(named)),
        None => (unit, None),
    };
    if let Some((metric, labels)) = prometheus_series(cell) {
        let (unit, named) = if metric.is_empty() {
            (Unit::Count, None)
        } else {
            sized(&metric, Unit::guess_from_name(&metric))
        };
        let name = if labels.is_empty() {
            metric
        } else {
            format!("{metric}{{{}}}", labels.join(", "))
        };
        return (name, unit, named);
    }
    let (unit, named) = sized(cell, Unit::guess_from_name(cell));
    (cell.to_string(), unit, named)
}

/// The size unit a column's name gives its numbers, as a word of its own in the name
/// (`rss_kb`, `heap_used_MiB`, `memory (MB)`), and the bytes in one: `kb`, `mb`, `gb` (also
/// `kbytes`, `kilobytes`…) in powers of 1000 and `kib`, `mib`, `gib` in powers of 1024, as
/// [`parse_size`] reads a unit written in a cell. Without it a column of megabytes was judged
/// as bytes and said "rises 18 B/h". `ps -o rss` and `/proc` write kibibytes as "kB": name such
/// a column `…_kib` for exact sizes (the verdict does not depend on the unit).
fn size_unit_in_name(name: &str) -> Option<(&'static str, f64)> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|word| match word.to_ascii_lowercase().as_str() {
            "kb" | "kbytes" | "kilobytes" => Some(("kB", 1e3)),
            "mb" | "mbytes" | "megabytes" => Some(("MB", 1e6)),
            "gb" | "gbytes" | "gigabytes" => Some(("GB", 1e9)),
            "kib" => Some(("KiB", 1024.0)),
            "mib" => Some(("MiB", 1024.0 * 1024.0)),
            "gib" => Some(("GiB", 1024.0 * 1024.0 * 1024.0)),
            _ => None,
        })
}

/// Split `name{a="x", b="y"}` (or `{__name__="name", a="x"}`) into the metric name and its
/// other labels as written (`a="x"`); `None` when the cell is not of that shape.
fn prometheus_series(cell: &str) -> Option<(String, Vec<String>)> {
    let open = cell.find('{')?;
    let inner = cell.strip_suffix('}')?.get(open + 1..)?;
    let mut metric = cell[..open].trim().to_string();
    let mut labels = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        let after = rest[eq + 1..].trim_start().strip_prefix('"')?;
        // The value runs to the first quote not escaped by a backslash.
        let mut end = None;
        let mut escaped = false;
        for (i, ch) in after.char_indices() {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end?;
        let value = &after[..end];
        if key == "__name__" {
            metric = value.to_string();
        } else {
            labels.push(format!("{key}=\"{value}\""));
        }
        rest = after[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some((metric, labels))
}

/// Share of lines that may repeat the time of the line before (duplicated scrapes) before the
/// file is taken for a long-format export and refused: 5 %.
const REPEATED_TIMES: f64 = 0.05;

/// Names of a time column, to point at one that is not first.
const TIME_NAMES: &[&str] = &[
    "t",
    "t_seconds",
    "t_s",
    "t_ms",
    "time",
    "timestamp",
    "date",
    "datetime",
    "seconds",
    "ts",
];

/// The time unit a column's name gives (`t_seconds`, `t_ms`, `timestamp_ns`), if any.
fn time_kind_from_name(name: &str) -> Option<TimeKind> {
    let n = name.to_ascii_lowercase();
    let ends = |s: &[&str]| s.iter().any(|x| n.ends_with(x));
    if ends(&["_ms", "millis", "milliseconds"]) {
        Some(TimeKind::Millis)
    } else if ends(&["_us", "micros", "microseconds"]) {
        Some(TimeKind::Micros)
    } else if ends(&["_ns", "nanos", "nanoseconds"]) {
        Some(TimeKind::Nanos)
    } else if ends(&["seconds", "_s", "_secs", "_sec"]) || n == "s" || n == "t" {
        Some(TimeKind::Seconds)
    } else {
        None
    }
}

/// The time unit told by the first time cell under a name that gives none: a number's size
/// (1e11 seconds would be 3,000 years, so it is milliseconds since 1970, as Grafana writes), or
/// a date-time.
fn guess_time_kind(cell: &str) -> TimeKind {
    if let Ok(x) = cell.parse::<f64>() {
        time_kind_of_number(x)
    } else if let Some((_, offset)) = parse_datetime(cell) {
        TimeKind::DateTime { offset }
    } else {
        // Not a time at all: the caller reports the cell as not a number of seconds.
        TimeKind::Seconds
    }
}

/// Latest time accepted, in seconds: 10000-01-01 UTC.
const LATEST_S: f64 = 253_402_300_800.0;

/// Longest span of one series accepted: 100 years.
const LONGEST_SPAN_S: f64 = 100.0 * 365.25 * 86_400.0;

/// Times no measurement has (past the year 9999, or a series spanning over a century): a time
/// column in another unit than it was read in, or not a time at all.
pub(crate) fn check_times(series: &[Series]) -> Result<(), TableError> {
    for s in series {
        let (Some(&first), Some(&last)) = (s.t.first(), s.t.last()) else {
            continue;
        };
        if first.abs() > LATEST_S || last.abs() > LATEST_S {
            return Err(TableError::AbsurdTime {
                series: s.name.clone(),
                what: format!(
                    "a time of {:.3e} s lies past the year 9999",
                    first.abs().max(last.abs())
                ),
            });
        }
        if last - first > LONGEST_SPAN_S {
            return Err(TableError::AbsurdTime {
                series: s.name.clone(),
                what: format!(
                    "its times span {:.0} years",
                    (last - first) / (365.25 * 86_400.0)
                ),
            });
        }
    }
    Ok(())
}

/// The unit of a first time `x` under a name that gives none, told by its size.
pub(crate) fn time_kind_of_number(x: f64) -> TimeKind {
    let a = x.abs();
    if a >= 1e17 {
        TimeKind::Nanos
    } else if a >= 1e14 {
        TimeKind::Micros
    } else if a >= 1e11 {
        TimeKind::Millis
    } else {
        TimeKind::Seconds
    }
}

/// One time cell in seconds, read as `kind` says.
fn parse_time(cell: &str, kind: TimeKind) -> Option<f64> {
    match kind {
        TimeKind::DateTime { .. } => parse_datetime(cell).map(|(t, _)| t),
        _ => cell
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(|x| x / kind.per_second()),
    }
}

/// A date-time in seconds since 1970, and whether it carried an offset: RFC 3339
/// (`2026-12-05T09:00:00Z`, `2026-12-05 09:00:00+01:00`) or a civil date-time
/// (`2026-12-05 09:00:00`, `2026-12-05T09:00:00.250`), the latter taken as UTC.
fn parse_datetime(cell: &str) -> Option<(f64, bool)> {
    let secs = |ts: jiff::Timestamp| ts.as_second() as f64 + ts.subsec_nanosecond() as f64 / 1e9;
    if let Ok(ts) = cell.parse::<jiff::Timestamp>() {
        return Some((secs(ts), true));
    }
    let dt = cell.parse::<jiff::civil::DateTime>().ok()?;
    let ts = jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()?;
    Some((secs(ts), false))
}

/// The words that tools write for a missing value, matched ignoring case: pandas and NumPy
/// (`NaN`, `<NA>`, `None` from Python's `str`), JSON and SQL exports (`null`), R (`NA`),
/// spreadsheets (`#N/A`) and hand-made files (`N/A`).
const MISSING: [&str; 7] = ["nan", "null", "na", "n/a", "#n/a", "none", "<na>"];

/// A value cell: `Ok(None)` for a missing sample (empty, or one of [`MISSING`]), the number
/// and whether it carried a size unit, or `Err` for anything else (infinities included).
fn parse_value(cell: &str) -> Result<Option<(f64, bool)>, ()> {
    if cell.is_empty() || MISSING.iter().any(|m| cell.eq_ignore_ascii_case(m)) {
        return Ok(None);
    }
    if let Ok(v) = cell.parse::<f64>() {
        return if v.is_finite() {
            Ok(Some((v, false)))
        } else {
            Err(())
        };
    }
    parse_size(cell).map(|v| Some((v, true))).ok_or(())
}

/// A size as dashboards write it: a number, optional spaces, then `B`, an SI unit (`kB`, `MB`,
/// `GB`, `TB`, `PB`: powers of 1000, as Grafana's "bytes(SI)") or an IEC one (`KiB`, `MiB`,
/// `GiB`, `TiB`, `PiB`: powers of 1024).
fn parse_size(cell: &str) -> Option<f64> {
    let split = cell
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .or_else(|| {
            cell.rfind(|c: char| c.is_ascii_digit() || c == '.')
                .map(|i| i + 1)
        })?;
    let (num, unit) = cell.split_at(split);
    let x: f64 = num.trim().parse().ok().filter(|x: &f64| x.is_finite())?;
    let factor = match unit.trim() {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "PB" => 1e15,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024f64.powi(4),
        "PiB" => 1024f64.powi(5),
        _ => return None,
    };
    Some(x * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> Table {
        parse_table(text.as_bytes()).unwrap()
    }

    fn err(text: &str) -> String {
        parse_table(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn leakhounds_own_format_keeps_its_units_and_skips_empty_cells() {
        let t = table("t_seconds,rss_bytes,fds\n0,100,3\n1,,4\n2,120,5\n");
        assert_eq!(t.time_kind, TimeKind::Seconds);
        assert!(!t.clock);
        assert_eq!(t.rows, 3);
        assert_eq!(t.series.len(), 2);
        assert_eq!(t.series[0].t, vec![0.0, 2.0]);
        assert_eq!(t.series[0].unit, Unit::Bytes);
        assert_eq!(t.series[1].v, vec![3.0, 4.0, 5.0]);
        assert_eq!(t.series[1].unit, Unit::Fds);
    }

    #[test]
    fn a_grafana_export_reads_its_quoted_label_sets_and_millisecond_times() {
        let text = "\u{feff}\"Time\",\"{__name__=\"\"process_resident_memory_bytes\"\", instance=\"\"memcached:9150\"\", job=\"\"api\"\"}\",\"{__name__=\"\"process_open_fds\"\", job=\"\"api\"\"}\"\r\n\
                    1764892800000,104857600,12\r\n\
                    1764892815000,,13\r\n\
                    1764892830000,105906176,null\r\n";
        let t = table(text);
        assert_eq!(t.time_kind, TimeKind::Millis);
        assert!(t.clock);
        assert_eq!(
            t.time_read_as().as_deref(),
            Some("milliseconds since 1970-01-01 UTC")
        );
        assert_eq!(t.time_column, "Time");
        let mem = &t.series[0];
        assert_eq!(
            mem.name,
            "process_resident_memory_bytes{instance=\"memcached:9150\", job=\"api\"}"
        );
        assert_eq!(mem.unit, Unit::Bytes);
        assert_eq!(mem.t, vec![1764892800.0, 1764892830.0]);
        let fds = &t.series[1];
        assert_eq!(fds.name, "process_open_fds{job=\"api\"}");
        assert_eq!(fds.unit, Unit::Fds);
        assert_eq!(fds.v, vec![12.0, 13.0]);
    }

    #[test]
    fn a_labelled_series_takes_its_unit_from_the_metric_name_alone() {
        // `instance` mentions memory, the metric counts goroutines.
        let t =
            table("t,go_goroutines{instance=\"mem-cache:1\"},{pod=\"a\"}\n0,10,1.5\n1,11,2.5\n");
        assert_eq!(t.series[0].unit, Unit::Threads);
        assert_eq!(t.series[0].name, "go_goroutines{instance=\"mem-cache:1\"}");
        // No metric name: the unit is unknown (judged by the values later).
        assert_eq!(t.series[1].unit, Unit::Count);
        assert_eq!(t.series[1].name, "{pod=\"a\"}");
    }

    #[test]
    fn times_are_read_in_the_unit_the_name_or_their_size_gives() {
        let secs = |text: &str| table(text).series[0].t.clone();
        assert_eq!(secs("t_ms,v\n1500,1\n2500,2\n"), vec![1.5, 2.5]);
        // Milliseconds since a start are no clock.
        let t = table("t_ms,v\n1500,1\n");
        assert!(!t.clock);
        assert_eq!(t.time_read_as().as_deref(), Some("milliseconds"));
        assert_eq!(secs("ts_us,v\n1500000,1\n"), vec![1.5]);
        assert_eq!(secs("time_ns,v\n1500000000,1\n"), vec![1.5]);
        assert_eq!(
            secs("timestamp,v\n1764892800123456,1\n"),
            vec![1764892800.123456]
        );
        assert_eq!(secs("timestamp,v\n1764892800,1\n"), vec![1764892800.0]);
        // A name in seconds is believed, up to times no measurement has: milliseconds of
        // today read as seconds lie in the year 57,900.
        assert!(err("t_seconds,v\n1764892800000,1\n").contains("past the year 9999"));
        assert!(table("timestamp,v\n1764892800,1\n").clock);
        assert!(!table("time,v\n0,1\n").clock);
    }

    #[test]
    fn date_times_with_and_without_an_offset() {
        let t = table("time,rss\n2026-12-05T09:00:00Z,1\n2026-12-05T10:00:00.5+01:00,2\n");
        assert_eq!(t.time_kind, TimeKind::DateTime { offset: true });
        assert_eq!(t.series[0].t, vec![1796461200.0, 1796461200.5]);
        let t = table("Time;mem\n2026-12-05 09:00:00;1,5\n2026-12-05 09:00:15;2\n");
        assert_eq!(t.series[0].v, vec![1.5, 2.0]);
        assert_eq!(t.time_kind, TimeKind::DateTime { offset: false });
        assert_eq!(t.series[0].t, vec![1796461200.0, 1796461215.0]);
        assert!(t.clock);
        let e = err("time,v\n2026-12-05 09:00:00,1\n17,2\n");
        assert_eq!(
            e,
            "line 3, column time: `17` is not a date-time like 2026-12-05T09:00:00Z"
        );
        let e = err("t_seconds,v\n2026-12-05 09:00:00,1\n");
        assert_eq!(
            e,
            "line 2, column t_seconds: `2026-12-05 09:00:00` is not a number of seconds"
        );
    }

    #[test]
    fn a_size_unit_in_the_columns_name_makes_its_numbers_bytes() {
        let t = table(
            "t_seconds,rss_mb,heap used (MiB),Memory_KB,fds,mem{job=\"db_mb\"},node_memory_bytes\n\
             0,512,1.5,100,7,2,3\n15,513,1 GiB,101,8,2,3\n",
        );
        let mib = 1024.0 * 1024.0;
        let by_name = |n: &str| t.series.iter().find(|s| s.name == n).expect(n);
        assert_eq!(by_name("rss_mb").v, vec![512e6, 513e6]);
        assert_eq!(by_name("rss_mb").unit, Unit::Bytes);
        // A cell's own unit wins.
        assert_eq!(by_name("heap used (MiB)").v, vec![1.5 * mib, 1024.0 * mib]);
        assert_eq!(by_name("Memory_KB").v, vec![1e5, 1.01e5]);
        assert_eq!(by_name("fds").v, vec![7.0, 8.0]);
        // A label says nothing about the values; `bytes` needs no scaling.
        assert_eq!(by_name("mem{job=\"db_mb\"}").v, vec![2.0, 2.0]);
        assert_eq!(by_name("node_memory_bytes").v, vec![3.0, 3.0]);
        assert_eq!(
            t.named_units,
            vec![
                ("rss_mb".to_string(), "MB"),
                ("heap used (MiB)".to_string(), "MiB"),
                ("Memory_KB".to_string(), "kB")
            ]
        );
        assert_eq!(t.sized_columns, vec!["heap used (MiB)".to_string()]);
    }

    #[test]
    fn a_long_format_export_is_refused_a_duplicated_scrape_is_not() {
        let mut long = String::from("t_seconds,rss_bytes\n");
        let mut once = String::from("t_seconds,rss_bytes\n");
        for i in 0..100 {
            long.push_str(&format!("{i},100\n{i},{}\n", 200 + i));
            once.push_str(&format!("{i},{}\n", 200 + i));
        }
        let e = err(&long);
        assert!(
            e.starts_with("line 3: 100 of 200 lines repeat the time"),
            "{e}"
        );
        once.push_str("99,300\n");
        assert_eq!(table(&once).series[0].len(), 101);
    }

    #[test]
    fn a_first_column_named_as_a_size_is_no_time() {
        let e = err("rss_bytes,fds\n1000,3\n2000,4\n");
        assert!(
            e.contains("the first column, `rss_bytes`, is named as a value"),
            "{e}"
        );
        assert!(e.contains("add a time column first"), "{e}");
        let e = err("rss_bytes,t_seconds\n1000,0\n2000,1\n");
        assert!(e.contains("put `t_seconds` first"), "{e}");
        // A name that says nothing is still read as time, and a time-named one always.
        assert_eq!(table("when,rss_bytes\n0,1\n1,2\n").series.len(), 1);
        assert_eq!(table("t_seconds,rss_bytes\n0,1\n1,2\n").series.len(), 1);
    }

    #[test]
    fn negative_memory_or_counts_are_bad_input_other_columns_may_be_negative() {
        assert_eq!(
            err("t,rss_bytes\n0,100\n1,-50\n"),
            "line 3, column rss_bytes: `-50` is negative, and memory cannot be (read from the \
             column's name); give the levels themselves, not their changes"
        );
        assert!(err("t,open_fds\n0,-1\n").contains("`-1` is negative, and a count cannot be"));
        assert!(err("t,heap\n0,-2 MiB\n").contains("and memory cannot be"));
        let t = table("t,temperature\n0,-5\n1,-6.5\n");
        assert_eq!(t.series[0].v, vec![-5.0, -6.5]);
    }

    #[test]
    fn sizes_with_units_are_bytes_and_the_column_says_so() {
        let t = table("\"Time\"\t\"{job=\"\"a,b\"\"}\"\n0\t1\n");
        assert_eq!(t.series[0].name, "{job=\"a,b\"}");
        let t = table("Time;{job=\"a,b\"}\n0;1,5\n");
        assert_eq!(t.series[0].v, vec![1.5]);
        let t = table("Time\tapi\n0\t1.5 GiB\n15\t1.51GiB\n30\t1600 MB\n45\t0 B\n60\t2e3 kB\n");
        assert_eq!(t.series[0].unit, Unit::Bytes);
        assert_eq!(t.sized_columns, vec!["api".to_string()]);
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert_eq!(t.series[0].v, vec![1.5 * gib, 1.51 * gib, 1.6e9, 0.0, 2e6]);
        assert_eq!(
            err("t,v\n0,1.5 Gb\n"),
            "line 2, column v: `1.5 Gb` is not a number"
        );
        assert_eq!(
            err("t,v\n0,inf\n"),
            "line 2, column v: `inf` is not a number"
        );
        assert_eq!(
            err("t,v\n0,12 %\n"),
            "line 2, column v: `12 %` is not a number"
        );
    }

    #[test]
    fn errors_name_the_line_the_column_and_the_cell() {
        assert_eq!(
            err("t_seconds,v\n0,1\n1,abc\n"),
            "line 3, column v: `abc` is not a number"
        );
        assert_eq!(
            err("t_seconds,v\n5,1\n4,1\n"),
            "line 3: time goes backwards (`4` after `5`)"
        );
        assert_eq!(
            err(""),
            "the file is empty (expected a header line like t_seconds,value)"
        );
        assert_eq!(err("# only a comment\n\n"), TableError::Empty.to_string());
        assert_eq!(
            err("t_seconds,rss_bytes,rss_bytes\n0,1,2\n"),
            "line 1: column `rss_bytes` appears twice in the header"
        );
        assert!(err("0,1\n1,2\n").contains("header"));
        assert_eq!(err("t,v\n"), "the file has a header but no samples");
        assert_eq!(
            err("t,v\n0,1,2\n"),
            "line 2: 3 cells, but the header has 2 columns"
        );
        assert_eq!(
            err("t_seconds,rss_bytes,pss_bytes\n0,,\n1,,\n"),
            "2 lines but no values: every cell after t_seconds is empty or marks a missing value (NaN, null, NA, …)"
        );
        assert_eq!(
            parse_table(b"t,v\n0,\xff\n").unwrap_err().to_string(),
            "line 2: not UTF-8 text"
        );
    }

    #[test]
    fn times_no_measurement_has_are_refused() {
        assert_eq!(
            err("t_seconds,v\n0,1\n1e300,2\n"),
            "series v: a time of 1.000e300 s lies past the year 9999; is the time column in the \
             unit it was read in (name it t_seconds, t_ms, …)?"
        );
        assert!(err("t,v\n0,1\n1e10,2\n").starts_with("series v: its times span 317 years"));
        // Years of seconds since a start, or epoch milliseconds of today, are fine.
        table("t_seconds,v\n0,1\n1e9,2\n");
        table("timestamp,v\n1764892800000,1\n1764892815000,2\n");
    }

    #[test]
    fn errors_name_the_right_line_after_crlf_line_ends() {
        // Written by Windows tools and Python's csv module; the lines are counted as with `\n`.
        assert_eq!(
            err("t_seconds,v\r\n0,1\r\n1,2\r\n2,abc\r\n"),
            "line 4, column v: `abc` is not a number"
        );
        assert_eq!(
            err("# c\r\nt_seconds,v\r\n\r\n5,1\r\n4,1\r\n"),
            "line 5: time goes backwards (`4` after `5`)"
        );
        assert_eq!(
            err("t,v\r\n0,1\r\n1,2,3\r\n"),
            "line 3: 3 cells, but the header has 2 columns"
        );
    }

    #[test]
    fn what_tools_write_for_a_missing_value_is_a_missing_sample() {
        for m in [
            "NaN", "nan", "null", "NULL", "NA", "N/A", "n/a", "#N/A", "None", "<NA>",
        ] {
            let t = table(&format!("t_seconds,v\n0,1\n1,{m}\n2,3\n"));
            assert_eq!(t.series[0].len(), 2, "{m}");
        }
        // …and a word that is no such marker is still bad input.
        let e = err("t_seconds,v\n0,1\n1,missing\n2,3\n");
        assert!(e.contains("`missing` is not a number"), "{e}");
    }

    #[test]
    fn comments_blank_lines_and_missing_values() {
        let t = table("# leakhound\nt_seconds,v\n\n0,1\n# pause\n1,NaN\n2,3\n");
        assert_eq!(t.series[0].t, vec![0.0, 2.0]);
        assert_eq!(t.rows, 3);
        let t = table("t_seconds,a,\n0,1,\n1,2,\n");
        assert_eq!(t.series.len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_table_or_an_error_never_a_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
        ) {
            let _ = parse_table(&bytes);
        }

        #[test]
        fn what_leakhound_writes_reads_back_exactly(
            mut rows in proptest::collection::vec(
                (0.0f64..1e6, proptest::option::of(0.0f64..1e12), 0u32..5000),
                1..40,
            )
        ) {
            rows.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut text = String::from("t_seconds,rss_bytes,fds\n");
            for (t, v, n) in &rows {
                let v = v.map(|v| v.to_string()).unwrap_or_default();
                text.push_str(&format!("{t},{v},{n}\n"));
            }
            let table = parse_table(text.as_bytes()).unwrap();
            let fds = table.series.last().unwrap();
            proptest::prop_assert_eq!(&fds.t, &rows.iter().map(|r| r.0).collect::<Vec<_>>());
            proptest::prop_assert_eq!(&fds.v, &rows.iter().map(|r| f64::from(r.2)).collect::<Vec<_>>());
            let rss: Vec<f64> = rows.iter().filter_map(|r| r.1).collect();
            if rss.is_empty() {
                proptest::prop_assert_eq!(table.series.len(), 1);
            } else {
                proptest::prop_assert_eq!(&table.series[0].v, &rss);
            }
        }
    }
}
