//! `leakhound diff S1 S2 [S3 …]`: compare heap snapshots of one process (issue 7).
//!
//! Reading, dominators and classification live in `leakhound-heap`; this module only turns
//! the [`DiffReport`] into terminal text or JSON and an exit code.

use std::io::{self, Write};

use leakhound_core::{ExitCodes, format_bytes};
use leakhound_heap::diff::{DiffReport, Finding, GroupClass, Verdict};
use leakhound_heap::{DiffOptions, HeapError, diff_snapshots_with_progress};

use crate::args::DiffArgs;
use crate::errors::ExpectedError;
use crate::output::Output;

pub(crate) fn run(args: &DiffArgs, out: &Output) -> anyhow::Result<u8> {
    if args.snapshots.len() < 2 {
        return Err(ExpectedError::usage(
            "diff needs at least two snapshots (three to tell a leak from warm-up)",
        ));
    }
    // The same file given twice compares a snapshot with itself: nothing can grow there.
    let canon: Vec<Option<std::path::PathBuf>> = args
        .snapshots
        .iter()
        .map(|p| std::fs::canonicalize(p).ok())
        .collect();
    for (i, a) in canon.iter().enumerate() {
        if let Some(j) = canon[i + 1..].iter().position(|b| a.is_some() && b == a) {
            return Err(ExpectedError::usage(format!(
                "{} is given twice (as snapshots {} and {}): give snapshots taken at different times",
                args.snapshots[i].display(),
                i + 1,
                i + j + 2
            )));
        }
    }
    let opts = DiffOptions {
        top: args.top as usize,
    };
    // Big snapshots take seconds each to read: a spinner names the one being read (TTY only).
    let pb = out.progress(None);
    let n = args.snapshots.len();
    let result = diff_snapshots_with_progress(&args.snapshots, &opts, &mut |i, path| {
        let size = std::fs::metadata(path).map_or(String::new(), |m| {
            format!(", {}", format_bytes(m.len() as f64))
        });
        pb.set_message(format!(
            "reading {} ({} of {n}{size})",
            path.display(),
            i + 1
        ));
    });
    pb.finish_and_clear();
    let report = result.map_err(|e| match e {
        HeapError::Io { .. }
        | HeapError::Malformed { .. }
        | HeapError::Format { .. }
        | HeapError::Incompatible(_) => ExpectedError::usage(e.to_string()),
    })?;
    let mut w = crate::output::stdout();
    if args.json {
        serde_json::to_writer_pretty(&mut w, &report)?;
        writeln!(w)?;
    } else {
        write_text(&report, out, &mut w)?;
    }
    Ok(match report.verdict {
        Verdict::Leak => ExitCodes::LEAK,
        Verdict::NoLeak => ExitCodes::OK,
        Verdict::Inconclusive => ExitCodes::INCONCLUSIVE,
    })
}

fn signed_bytes(d: i64) -> String {
    if d < 0 {
        format!("-{}", format_bytes(d.unsigned_abs() as f64))
    } else {
        format!("+{}", format_bytes(d as f64))
    }
}

/// Frames of a stack shown in the terminal; the JSON has all of them.
const STACK_FRAMES_SHOWN: usize = 6;

/// Go findings reached through more than one call stack: one entry per stack (leaf first,
/// growing first) with its class and per-interval growth. With a single stack the `path` line
/// and the finding's own numbers already say it all.
fn write_stacks(f: &Finding, w: &mut dyn Write) -> io::Result<()> {
    let total = f.stacks_total.unwrap_or(f.stacks.len() as u64);
    if total < 2 {
        return Ok(());
    }
    writeln!(
        w,
        "   stacks: {} of {total}, leaf first, growing first",
        f.stacks.len()
    )?;
    for s in &f.stacks {
        let label = match s.class {
            Some(GroupClass::Leak) => "LEAK",
            Some(GroupClass::Growing) => "growing",
            Some(GroupClass::WarmUp) => "warm-up",
            Some(GroupClass::Intermittent) => "intermittent",
            None => "not growing",
        };
        let frames: Vec<&str> = s.stack.split(" <- ").collect();
        let mut shown = frames[..frames.len().min(STACK_FRAMES_SHOWN)].join(" <- ");
        if frames.len() > STACK_FRAMES_SHOWN {
            shown.push_str(" <- …");
        }
        writeln!(w, "   - [{label}] {shown}")?;
        let counts: Vec<String> = s.sizes.iter().map(|z| z.count.to_string()).collect();
        let cdeltas: Vec<String> = s.count_delta.iter().map(|d| format!("{d:+}")).collect();
        let count = format!("count {} ({})", counts.join(" → "), cdeltas.join(", "));
        if s.sizes.iter().any(|z| z.bytes > 0) || f.sizes.iter().any(|z| z.bytes > 0) {
            let bytes: Vec<String> = s
                .sizes
                .iter()
                .map(|z| format_bytes(z.bytes as f64))
                .collect();
            let deltas: Vec<String> = s.bytes_delta.iter().map(|&d| signed_bytes(d)).collect();
            writeln!(
                w,
                "       bytes {} ({}); {count}",
                bytes.join(" → "),
                deltas.join(", ")
            )?;
        } else {
            writeln!(w, "       {count}")?;
        }
    }
    Ok(())
}

pub(crate) fn write_text(r: &DiffReport, out: &Output, w: &mut dyn Write) -> io::Result<()> {
    for (i, s) in r.snapshots.iter().enumerate() {
        let size = match s.goroutines {
            Some(g) => format!("{g} goroutines"),
            None => format!("{} reachable", format_bytes(s.reachable_bytes as f64)),
        };
        writeln!(
            w,
            "S{}: {} ({} nodes, {} edges, {size})",
            i + 1,
            s.path.display(),
            s.nodes,
            s.edges,
        )?;
    }
    writeln!(w)?;
    if r.findings.is_empty() {
        writeln!(w, "nothing grew between the snapshots")?;
    }
    for (i, f) in r.findings.iter().enumerate() {
        let label = match f.class {
            GroupClass::Leak => "LEAK (grows in every interval)",
            GroupClass::Growing if f.sizes.len() == 2 => "GROWING (2 snapshots: leak or warm-up?)",
            GroupClass::Growing => {
                "GROWING (first to last, beyond the sampling error; not every interval alone)"
            }
            GroupClass::WarmUp => "warm-up / saturating (first interval only), not a leak",
            GroupClass::Intermittent => "intermittent (not every interval), not a leak",
        };
        writeln!(w, "{}. {} — {}", i + 1, out.style.bold(&f.type_name), label)?;
        let counts: Vec<String> = f.sizes.iter().map(|s| s.count.to_string()).collect();
        let bytes: Vec<String> = f
            .sizes
            .iter()
            .map(|s| format_bytes(s.bytes as f64))
            .collect();
        let deltas: Vec<String> = f.bytes_delta.iter().map(|&d| signed_bytes(d)).collect();
        let cdeltas: Vec<String> = f.count_delta.iter().map(|d| format!("{d:+}")).collect();
        writeln!(
            w,
            "   count:  {}  (per interval {})",
            counts.join(" → "),
            cdeltas.join(", ")
        )?;
        // Goroutine profiles count goroutines only: no bytes line of zeros.
        if f.sizes.iter().any(|s| s.bytes > 0) {
            writeln!(
                w,
                "   bytes:  {}  (per interval {})",
                bytes.join(" → "),
                deltas.join(", ")
            )?;
        }
        if f.sample_retained > 0 {
            writeln!(
                w,
                "   retained by one instance: {}",
                format_bytes(f.sample_retained as f64)
            )?;
        }
        if let Some(p) = &f.retainer_path {
            writeln!(w, "   path:   {p}")?;
        }
        if let Some(l) = &f.location {
            writeln!(w, "   at:     {l}")?;
        }
        if let Some(g) = &f.grows_via {
            writeln!(w, "   holds:  {g}")?;
        }
        if !f.hint.is_empty() {
            writeln!(w, "   hint:   {}", f.hint)?;
        }
        write_stacks(f, w)?;
    }
    writeln!(w)?;
    match r.verdict {
        Verdict::Leak => writeln!(w, "verdict: LEAK")?,
        Verdict::NoLeak => writeln!(w, "verdict: no leak (nothing grew in every interval)")?,
        Verdict::Inconclusive => writeln!(w, "verdict: inconclusive")?,
    }
    if let Some(c) = &r.caveat {
        writeln!(w, "note: {c}")?;
    }
    Ok(())
}
