//! The human summary printed at the end of `run`, `watch`, `analyze` and `demo`.
//!
//! One line per series: verdict, growth rate ± 95 % CI in human units, growth over the judged
//! window, and a sparkline of the series floor. Leak lines are highlighted and followed by the
//! detector's one-sentence reason. Series that stayed at zero the whole time are counted, not
//! listed, so the table stays readable.

use std::io::{self, Write};

use leakhound_core::{
    RunReport, Series, SeriesVerdict, TargetOutcome, Verdict, Warning, format_quantity,
    format_rate, units::rate_base,
};

use crate::{Renderer, Style, sparkline::sparkline};

/// Points in a sparkline.
const SPARK_POINTS: usize = 24;

/// Terminal renderer of a whole run.
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalRenderer {
    /// Colour policy.
    pub style: Style,
}

impl Renderer for TerminalRenderer {
    fn render(&self, report: &RunReport, out: &mut dyn Write) -> io::Result<()> {
        let s = self.style;
        let cmd = display_command(&report.run.command);
        let pid = report
            .run
            .pid
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {}{} · {:.1} s · {} sample{} · ended: {}",
            s.bold(&format!("leakhound {}", report.run.mode)),
            truncate(&cmd, 60),
            pid,
            report.target.elapsed_s,
            report.target.samples,
            if report.target.samples == 1 { "" } else { "s" },
            ended_words(&report.target)
        )?;
        if let Some(dir) = &report.run.run_dir {
            writeln!(out, "{}", s.dim(&format!("run directory: {dir}")))?;
        }
        writeln!(out)?;
        write_verdict_table(&report.series, &report.data, s, out)?;
        write_top_growers(report, s, out)?;
        write_alarms(report, s, out)?;
        write_warnings(&report.warnings, s, out)?;
        writeln!(out)?;
        write_overall(report.series_verdict(), &report.series, s, out)
    }
}

/// How the target ended, as the header says it: `duration`, `interrupted`, `exited with code
/// 3`, `killed by signal 9 (SIGKILL)`.
fn ended_words(t: &TargetOutcome) -> String {
    match (t.ended_by.as_str(), t.exit_code, t.signal) {
        ("exited", _, Some(sig)) => format!("killed by signal {sig}{}", signal_suffix(sig)),
        ("exited", Some(code), None) if code != 0 => format!("exited with code {code}"),
        ("leak alarm", _, _) => "leak alarm (--stop-on-leak)".to_string(),
        (other, _, _) => other.to_string(),
    }
}

/// A series that is no leak but grew by at least this much (in % of its start) has its
/// reason printed under the table, as leaks and inconclusive series do: 3 %, the growth the
/// detector counts as a leak by default.
const NOTABLE_GROWTH_PCT: f64 = 3.0;

fn signal_suffix(sig: i32) -> &'static str {
    match sig {
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// Write the per-series table followed by the reasons of leak and inconclusive lines.
pub fn write_verdict_table(
    verdicts: &[SeriesVerdict],
    data: &[Series],
    s: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    let series_data = |name: &str| data.iter().find(|d| d.name == name);
    let shown: Vec<&SeriesVerdict> = verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Leak || !series_data(&v.series).is_some_and(all_zero))
        .collect();
    let hidden = verdicts.len() - shown.len();
    let rows: Vec<[String; 4]> = shown
        .iter()
        .map(|v| {
            let spark = series_data(&v.series)
                .map(|d| sparkline(&d.floor_buckets(SPARK_POINTS)))
                .unwrap_or_default();
            [v.series.clone(), rate_cell(v), growth_cell(v), spark]
        })
        .collect();
    let w0 = rows
        .iter()
        .map(|r| r[0].chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    let w1 = rows
        .iter()
        .map(|r| r[1].chars().count())
        .max()
        .unwrap_or(0)
        .max("rate (95% CI)".len());
    let w2 = rows
        .iter()
        .map(|r| r[2].chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(
        out,
        "{}",
        s.dim(&format!(
            "  {:<w0$}  {:<12}  {:<w1$}  {:<w2$}  trend (floor)",
            "series", "verdict", "rate (95% CI)", "growth"
        ))
    )?;
    for (v, r) in shown.iter().zip(&rows) {
        let word = verdict_word(v.verdict, s);
        let name = format!("{:<w0$}", r[0]);
        let name = if v.verdict == Verdict::Leak {
            s.bad(&name)
        } else {
            name
        };
        writeln!(
            out,
            "  {name}  {word}  {:<w1$}  {:<w2$}  {}",
            r[1], r[2], r[3]
        )?;
    }
    if hidden > 0 {
        writeln!(
            out,
            "{}",
            s.dim(&format!("  ({hidden} series stayed at zero; not shown)"))
        )?;
    }
    // Leaks and inconclusive series say why; so does a series that grew visibly but is no
    // leak (levelled off, steps, a restart's warm-up, memory that follows load), or whose rate
    // is above zero with 95 % confidence (a rise too small to count): the table's growth or
    // rate column alone would contradict its verdict.
    let explained: Vec<&&SeriesVerdict> = shown
        .iter()
        .filter(|v| {
            v.verdict != Verdict::NoLeak
                || v.growth_pct.is_some_and(|g| g >= NOTABLE_GROWTH_PCT)
                || v.rate_ci95.is_some_and(|[lo, _]| lo > 0.0)
        })
        .collect();
    if !explained.is_empty() {
        writeln!(out)?;
        // Series inconclusive for the same reason (a run too short for any of them) share one
        // line rather than repeating it for every column.
        let mut done = vec![false; explained.len()];
        for (i, v) in explained.iter().enumerate() {
            if done[i] {
                continue;
            }
            let same: Vec<usize> = (i..explained.len())
                .filter(|&j| {
                    !done[j]
                        && explained[j].verdict == Verdict::Inconclusive
                        && v.verdict == Verdict::Inconclusive
                        && explained[j].reason == v.reason
                })
                .collect();
            if same.len() >= 3 {
                for &j in &same {
                    done[j] = true;
                }
                let names: Vec<&str> = same.iter().map(|&j| explained[j].series.as_str()).collect();
                let label = format!("{} series ({}):", names.len(), list_names(&names));
                writeln!(out, "  {} {}", s.warn(&label), v.reason)?;
                continue;
            }
            done[i] = true;
            let label = format!("{}:", v.series);
            let label = match v.verdict {
                Verdict::Leak => s.bad(&label),
                Verdict::Inconclusive => s.warn(&label),
                Verdict::NoLeak => label,
            };
            writeln!(out, "  {label} {}{}", v.reason, limit_note(v))?;
        }
    }
    Ok(())
}

/// For each leaking series of a multi-process tree, the process where it grew most.
fn write_top_growers(report: &RunReport, s: Style, out: &mut dyn Write) -> io::Result<()> {
    let lines: Vec<String> = report
        .series
        .iter()
        .filter(|v| v.verdict == Verdict::Leak)
        .filter_map(|v| {
            let (p, change) = report.top_grower(&v.series)?;
            Some(format!(
                "  {} grew most in pid {} ({}): +{}",
                v.series,
                p.pid,
                p.comm,
                format_quantity(v.unit, change)
            ))
        })
        .collect();
    if !lines.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            s.dim(&format!(
                "  by process ({} processes seen):",
                report.processes.len()
            ))
        )?;
        for l in lines {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// The online leak alarms raised while sampling: when each was raised, and where the whole
/// run's verdict of its series differs (a rise that levelled off after the alarm), that verdict.
fn write_alarms(report: &RunReport, s: Style, out: &mut dyn Write) -> io::Result<()> {
    if report.alarms.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    for a in &report.alarms {
        let now = report
            .series
            .iter()
            .find(|v| v.series == a.series)
            .map(|v| v.verdict);
        let tail = match now {
            Some(Verdict::Leak) | None => String::new(),
            Some(Verdict::NoLeak) => "; over the whole run it is no leak".to_string(),
            Some(Verdict::Inconclusive) => "; over the whole run it is inconclusive".to_string(),
        };
        writeln!(
            out,
            "  {} {} at {}{tail}",
            s.bad("leak alarm:"),
            a.series,
            run_moment(a.at_s)
        )?;
    }
    Ok(())
}

/// Write the warnings block, if any.
pub fn write_warnings(warnings: &[Warning], s: Style, out: &mut dyn Write) -> io::Result<()> {
    if warnings.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    for w in warnings {
        writeln!(out, "  {} {w}", s.warn("warning:"))?;
    }
    Ok(())
}

/// Write the closing one-line verdict.
pub fn write_overall(
    verdict: Verdict,
    series: &[SeriesVerdict],
    s: Style,
    out: &mut dyn Write,
) -> io::Result<()> {
    match verdict {
        Verdict::Leak => {
            let names: Vec<&str> = series
                .iter()
                .filter(|v| v.verdict == Verdict::Leak)
                .map(|v| v.series.as_str())
                .collect();
            writeln!(
                out,
                "{} {}",
                s.bad("verdict: LEAK in"),
                s.bad(&names.join(", "))
            )
        }
        Verdict::NoLeak => writeln!(out, "{}", s.good("verdict: no leak")),
        Verdict::Inconclusive => {
            let more = series
                .iter()
                .filter_map(|v| v.needs_more_s)
                .fold(0.0, f64::max);
            if more > 0.0 {
                writeln!(
                    out,
                    "{}",
                    s.warn(&format!(
                        "verdict: inconclusive (need about {} more of data)",
                        human_duration(more)
                    ))
                )
            } else {
                writeln!(out, "{}", s.warn("verdict: inconclusive"))
            }
        }
    }
}

/// `; at this rate it reaches the 2.00 GiB limit (cgroup memory.max) in about 3.5 h`
fn limit_note(v: &SeriesVerdict) -> String {
    match (v.verdict, v.time_to_limit_s, v.limit) {
        (Verdict::Leak, Some(tt), Some(limit)) => {
            let source = v
                .limit_source
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            if tt <= 0.0 {
                format!(
                    "; it is already at or above the {} limit{source}",
                    format_quantity(v.unit, limit)
                )
            } else {
                format!(
                    "; at this rate it reaches the {} limit{source} in about {}",
                    format_quantity(v.unit, limit),
                    human_duration(tt)
                )
            }
        }
        _ => String::new(),
    }
}

/// `a, b, c and 4 more`: the first three names of a group.
fn list_names(names: &[&str]) -> String {
    const SHOWN: usize = 3;
    if names.len() <= SHOWN + 1 {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

fn all_zero(d: &Series) -> bool {
    d.v.iter().all(|&x| x == 0.0)
}

/// `+3.10 MiB/min ± 0.21` (the ± in the rate's own time base), or `-` when not estimated.
fn rate_cell(v: &SeriesVerdict) -> String {
    let Some(rate) = v.rate_per_s else {
        return "-".to_string();
    };
    let sign = if rate > 0.0 { "+" } else { "" };
    let main = format!("{sign}{}", format_rate(v.unit, rate));
    match v.rate_ci95 {
        Some([lo, hi]) => {
            let (scale, _) = rate_base(v.unit, rate);
            let half = (hi - lo).abs() / 2.0 * scale;
            let half = match v.unit {
                leakhound_core::Unit::Bytes => format_quantity(v.unit, half),
                // Beyond any real count, no 300-digit number (as the rate itself reads).
                _ if half.abs() >= 1e15 => format!("{half:.2e}"),
                _ => format!("{half:.2}"),
            };
            format!("{main} ± {half}")
        }
        None => main,
    }
}

/// A growth of more than this many per cent (a hundredfold) is shown against where it started
/// rather than as a percentage: a series sampled from the moment its process starts begins on
/// the tiny footprint of a program that has not loaded yet, and "+228 MiB (+76680%)" says less
/// than "+228 MiB (from 297 KiB)".
const GROWTH_PCT_SHOWN_MAX: f64 = 10_000.0;

/// `+41.0 MiB (+560%)`, `+228 MiB (from 297 KiB)`, or `-`.
fn growth_cell(v: &SeriesVerdict) -> String {
    match (v.growth_abs, v.growth_pct) {
        (Some(abs), Some(pct)) if pct > GROWTH_PCT_SHOWN_MAX => format!(
            "+{} (from {})",
            format_quantity(v.unit, abs),
            format_quantity(v.unit, abs * 100.0 / pct)
        ),
        (Some(abs), Some(pct)) => {
            let sign = if abs > 0.0 { "+" } else { "" };
            format!("{sign}{} ({sign}{pct:.0}%)", format_quantity(v.unit, abs))
        }
        (Some(abs), None) => {
            let sign = if abs > 0.0 { "+" } else { "" };
            format!("{sign}{}", format_quantity(v.unit, abs))
        }
        _ => "-".to_string(),
    }
}

/// A moment of the run (`alarm at 9.6 s`): to the tenth of a second under a minute, as the
/// run's own length is shown (a 9.6 s watch whose alarm read "at 10 s" ended before it), then
/// as [`human_duration`].
pub fn run_moment(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        human_duration(secs)
    }
}

/// `45 s`, `12 min`, `2.5 h`, `12 days`, `3.4 years`, `centuries`: each reads after "about".
pub fn human_duration(secs: f64) -> String {
    const HOUR: f64 = 3600.0;
    const DAY: f64 = 24.0 * HOUR;
    const YEAR: f64 = 365.25 * DAY;
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else if secs < 90.0 * 60.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 48.0 * HOUR {
        format!("{:.1} h", secs / HOUR)
    } else if secs < 365.0 * DAY {
        format!("{:.0} days", secs / DAY)
    } else if secs < 10.0 * YEAR {
        format!("{:.1} years", secs / YEAR)
    } else if secs < 100.0 * YEAR {
        format!("{:.0} years", secs / YEAR)
    } else {
        "centuries".to_string()
    }
}

/// The command line as a shell would need it typed: arguments with spaces or quotes are
/// single-quoted, and control characters (newlines of a `-c` program) are escaped, so the
/// command always fits on one line.
pub fn display_command(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            // Inside single quotes only `'` itself and control characters need care; `"`, `\`
            // and non-ASCII text are shown as typed.
            let escaped: String = a
                .chars()
                .flat_map(|c| {
                    if c == '\'' {
                        "'\\''".chars().collect::<Vec<_>>()
                    } else if c.is_control() {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    }
                })
                .collect();
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{escaped}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The verdict as the tables show it, padded to 12 columns and coloured: `LEAK`, `no leak`,
/// `inconclusive`.
pub fn verdict_word(v: Verdict, s: Style) -> String {
    match v {
        Verdict::Leak => s.bad(&format!("{:<12}", "LEAK")),
        Verdict::NoLeak => s.good(&format!("{:<12}", "no leak")),
        Verdict::Inconclusive => s.warn(&format!("{:<12}", "inconclusive")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_display_on_one_line_and_quoted() {
        let args: Vec<String> = ["python3", "-c", "import time\nl=[]", "--port=80"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            display_command(&args),
            "python3 -c 'import time\\nl=[]' --port=80"
        );
        // Double quotes and backslashes stay as typed inside single quotes; a single quote
        // closes, escapes and reopens.
        let args: Vec<String> = ["sh", "-c", r#"trap "" INT; echo it's \ok"#]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            display_command(&args),
            r#"sh -c 'trap "" INT; echo it'\''s \ok'"#
        );
    }

    #[test]
    fn an_absurd_rate_keeps_its_interval_short() {
        let mut v = SeriesVerdict::empty("v", leakhound_core::Unit::Count, Verdict::Leak, "");
        v.rate_per_s = Some(1e300);
        v.rate_ci95 = Some([0.5e300, 1.5e300]);
        assert_eq!(rate_cell(&v), "+1.00e300/s ± 5.00e299");
        v.rate_per_s = Some(2.0);
        v.rate_ci95 = Some([1.5, 2.5]);
        assert_eq!(rate_cell(&v), "+2.00/s ± 0.50");
    }

    #[test]
    fn a_growth_from_a_tiny_start_reads_against_where_it_started() {
        let mut v =
            SeriesVerdict::empty("rss_bytes", leakhound_core::Unit::Bytes, Verdict::Leak, "");
        v.growth_abs = Some(228.0 * 1048576.0);
        v.growth_pct = Some(76_680.0);
        assert_eq!(growth_cell(&v), "+228 MiB (from 304 KiB)");
        v.growth_pct = Some(5600.0);
        assert_eq!(growth_cell(&v), "+228 MiB (+5600%)");
        v.growth_abs = Some(-1048576.0);
        v.growth_pct = Some(-20.0);
        assert_eq!(growth_cell(&v), "-1.00 MiB (-20%)");
    }

    #[test]
    fn a_moment_of_a_short_run_is_not_rounded_past_its_end() {
        assert_eq!(run_moment(9.6), "9.6 s");
        assert_eq!(run_moment(59.96), "60.0 s");
        assert_eq!(run_moment(242.0), "4 min");
    }

    #[test]
    fn long_durations_read_in_days() {
        assert_eq!(human_duration(30.0), "30 s");
        assert_eq!(human_duration(3.0 * 3600.0), "3.0 h");
        assert_eq!(human_duration(5.0 * 86_400.0), "5 days");
        assert_eq!(human_duration(1e15), "centuries");
        assert_eq!(human_duration(4e8), "13 years");
        assert_eq!(human_duration(5e7), "1.6 years");
    }
}
