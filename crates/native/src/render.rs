//! Terminal rendering of a [`HeapReport`].

use crate::analyze::{HeapReport, SiteReport};
use leakhound_core::{Unit, format_bytes, format_rate, format_rate_like};
use std::fmt::Write;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Characters in a sparkline.
const SPARK_WIDTH: usize = 24;

/// A sparkline of `v` (resampled to [`SPARK_WIDTH`] points, scaled from 0 to the maximum).
pub fn sparkline(v: &[f64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    let max = v.iter().copied().fold(0.0f64, f64::max);
    let n = v.len().min(SPARK_WIDTH);
    (0..n)
        .map(|i| {
            let x = v[(i * v.len() / n)
                .min(v.len() - 1)
                .max(((i + 1) * v.len() / n).saturating_sub(1))];
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((x / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// `1 block`, `2 blocks`: `n` with `noun`, plural unless `n` is 1.
pub(crate) fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A probability as a percentage with two decimals, `< 0.01 %` below that.
fn percent(p: f64) -> String {
    let pct = p * 100.0;
    if pct > 0.0 && pct < 0.005 {
        "< 0.01 %".into()
    } else {
        format!("{pct:.2} %")
    }
}

fn site_block(out: &mut String, rank: usize, s: &SiteReport, sampled: bool) {
    let est = if sampled { "~" } else { "" };
    let _ = writeln!(out, "  #{rank} {}", s.site);
    let rate = match (s.verdict.rate_per_s, s.verdict.rate_ci95) {
        (Some(r), Some([lo, hi])) => format!(
            "{} (95% CI {} .. {})",
            format_rate(Unit::Bytes, r),
            format_rate_like(Unit::Bytes, lo, r),
            format_rate_like(Unit::Bytes, hi, r)
        ),
        (Some(r), None) => format_rate(Unit::Bytes, r),
        _ => "-".into(),
    };
    let _ = writeln!(out, "     growth   {est}{rate}");
    // Exact mode: the byte count too, so it can be compared with what the program reports.
    let exact = if sampled || s.live_bytes < 1024 {
        String::new()
    } else {
        format!(" ({} B)", s.live_bytes)
    };
    let _ = write!(
        out,
        "     live     {est}{}{exact} in {est}{} ({est}{}, {est}{} total)",
        format_bytes(s.live_bytes as f64),
        count(s.live_blocks, "block"),
        count(s.total_allocs, "allocation"),
        format_bytes(s.total_bytes as f64)
    );
    if let (Some([lo, hi]), Some(miss)) = (s.live_bytes_ci95, s.miss_probability) {
        let _ = write!(
            out,
            "; 95% CI {} .. {}, P(miss) {:.2e}",
            format_bytes(lo),
            format_bytes(hi),
            miss
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "     timeline {}", sparkline(&s.series.v));
    let _ = writeln!(out, "     stack");
    // Recursion and middleware chains: one line per run of identical frames.
    let mut runs: Vec<(&crate::symbolize::Frame, usize)> = Vec::new();
    for f in &s.call_stack {
        match runs.last_mut() {
            Some((g, n)) if *g == f => *n += 1,
            _ => runs.push((f, 1)),
        }
    }
    for (f, n) in runs.iter().take(10) {
        let _ = writeln!(
            out,
            "       {}{}{}",
            f.display(),
            if f.inlined { " [inlined]" } else { "" },
            if *n > 1 {
                format!(" x{n}")
            } else {
                String::new()
            }
        );
    }
    if runs.len() > 10 {
        let _ = writeln!(out, "       ... {} more frames", runs.len() - 10);
    }
    let _ = writeln!(out, "     hint     {}", s.hint);
}

/// Renders the report for a terminal.
pub fn render_terminal(r: &HeapReport) -> String {
    let sampled = r.mode == "sampled";
    let mut out = String::new();
    let _ = writeln!(
        out,
        "heap profile of pid {} ({} mode{}, {} snapshot{} over {:.1} s, grouped by {}){}",
        r.pid,
        r.mode,
        r.sample_mean_bytes
            .map(|m| format!(", mean sample interval {}", format_bytes(m as f64)))
            .unwrap_or_default(),
        r.snapshots,
        if r.snapshots == 1 { "" } else { "s" },
        r.duration_s,
        r.group_by,
        if r.complete {
            ""
        } else {
            " [no exit record: killed or still running; data up to the last snapshot]"
        }
    );
    if let Some(mean) = r.sample_mean_bytes {
        // Poisson sampling by bytes: P(no sample in B bytes) = exp(-B / mean).
        let miss = |b: f64| percent((-b / mean as f64).exp());
        let _ = writeln!(
            out,
            "  sampled: values marked ~ are estimates; a leak totalling 256 KiB / 1 MiB / 4 MiB goes unsampled with probability {} / {} / {}",
            miss(262_144.0),
            miss(1_048_576.0),
            miss(4_194_304.0)
        );
    }
    if r.dropped > 0 {
        let _ = writeln!(
            out,
            "  warning: {} allocations could not be recorded",
            r.dropped
        );
    }
    if r.suspects.is_empty() {
        match r.inconclusive_reason() {
            Some(why) => {
                let _ = writeln!(
                    out,
                    "growing while running: cannot be judged yet (inconclusive): {why}"
                );
            }
            None => {
                let _ = writeln!(out, "growing while running: none");
            }
        }
    } else {
        let _ = writeln!(
            out,
            "growing while running ({} suspect{}, fastest first):",
            r.suspects.len(),
            if r.suspects.len() == 1 { "" } else { "s" }
        );
        for (i, s) in r.suspects.iter().enumerate() {
            site_block(&mut out, i + 1, s, sampled);
        }
    }
    if r.complete && r.live_at_exit.is_empty() {
        let _ = writeln!(out, "still live at exit: none");
    } else if r.complete {
        let _ = writeln!(
            out,
            "still live at exit ({}{}):",
            count(r.live_at_exit.len() as u64, "site"),
            if r.live_at_exit.len() > 10 {
                ", largest 10 shown"
            } else {
                ""
            }
        );
        let est = if sampled { "~" } else { "" };
        for s in r.live_at_exit.iter().take(10) {
            let _ = writeln!(
                out,
                "  {:>13} in {:>9} {:<6}  {}",
                format!("{est}{}", format_bytes(s.live_bytes as f64)),
                format!("{est}{}", s.live_blocks),
                if s.live_blocks == 1 {
                    "block"
                } else {
                    "blocks"
                },
                s.site
            );
        }
    }
    out
}
