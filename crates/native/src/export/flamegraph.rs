//! Flame graph SVG of live heap bytes (inferno).
//!
//! One folded line per call stack with live bytes at the last snapshot, outermost frame first,
//! inlined frames as frames of their own. The innermost frame carries its `file:line`, so two
//! allocation sites in one function stay apart; outer frames are function names only, so that
//! callers merge. With several processes (fork children) each gets a `pid N` root frame.

use super::{ExportError, ProcessHeap, last_totals, write_file};
use inferno::flamegraph::color::{BasicPalette, Palette};
use inferno::flamegraph::{self, Options};
use std::path::Path;

/// Frame names must not contain the folded format's separator.
fn clean(name: &str) -> String {
    name.replace(';', ":")
}

/// The folded-stack lines (`root;...;leaf BYTES`) of `procs`' live bytes.
pub fn folded(procs: &[ProcessHeap<'_>]) -> Vec<String> {
    let several = procs.len() > 1;
    let mut lines = Vec::new();
    for ph in procs {
        for t in last_totals(ph.profile) {
            if t.live_bytes == 0 {
                continue;
            }
            let frames = crate::sites::expand(t.frames, &ph.symbols);
            let mut names: Vec<String> = Vec::with_capacity(frames.len() + 1);
            if several {
                names.push(format!("pid {}", ph.profile.pid));
            }
            for (i, f) in frames.iter().enumerate().rev() {
                names.push(clean(&if i == 0 {
                    f.display()
                } else {
                    f.function.clone()
                }));
            }
            if names.is_empty() {
                names.push("<unknown stack>".into());
            }
            lines.push(format!("{} {}", names.join(";"), t.live_bytes));
        }
    }
    lines
}

/// Writes a flame graph of `procs`' live bytes to `path`.
pub fn write(procs: &[ProcessHeap<'_>], path: &Path) -> Result<(), ExportError> {
    let lines = folded(procs);
    if lines.is_empty() {
        return Err(ExportError::Empty);
    }
    let pids: Vec<String> = procs.iter().map(|p| p.profile.pid.to_string()).collect();
    let mut opts = Options::default();
    opts.title = "Live heap bytes".into();
    opts.subtitle = Some(format!(
        "leakhound native heap agent, pid {}: bytes still allocated at the last snapshot",
        pids.join(", ")
    ));
    opts.count_name = "bytes".into();
    opts.colors = Palette::Basic(BasicPalette::Mem);
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), &mut svg)
        .map_err(|e| ExportError::write(path, e))?;
    write_file(path, &svg)
}
