//! Flame graph SVG of live heap bytes (inferno).
//!
//! One folded line per call stack with live bytes at the last snapshot, outermost frame first,
//! inlined frames as frames of their own. The innermost frame and the allocating one (the first
//! outside allocator plumbing) carry their `file:line`, so two allocation sites in one function
//! stay apart; outer frames are function names only, so that
//! callers merge; directly recursive frames are folded into one, so recursion depth does not
//! split one site into many towers. With several processes (fork children) each gets a
//! `pid N` root frame.

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
            // The allocating frame (the first outside allocator plumbing: `liballoc`'s
            // `RawVec` under a Rust `vec!`, `operator new`) carries its line as the innermost
            // does, so two sites in one function are two towers.
            let site = crate::sites::site_index(&frames);
            let mut names: Vec<String> = Vec::with_capacity(frames.len() + 1);
            if several {
                names.push(format!("pid {}", ph.profile.pid));
            }
            let mut last: Option<&str> = None;
            for (i, f) in frames.iter().enumerate().rev() {
                // Recursion (middleware chains of any depth): one frame, so depth does not
                // split one allocation site into many towers.
                if i > 0 && i != site && last == Some(f.function.as_str()) {
                    continue;
                }
                last = Some(f.function.as_str());
                names.push(clean(&if i == 0 || i == site {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Profile;
    use crate::symbolize::{Frame, Symbols};
    use leakhound_agent_format::{Config, MODE_EXACT, SnapshotEntry, StackId};
    use rustc_hash::FxHashMap;

    fn frame(function: &str, line: u32) -> Frame {
        Frame {
            function: function.into(),
            file: Some("/src/app/server.c".into()),
            line: Some(line),
            inlined: false,
            module: "/app/server".into(),
        }
    }

    #[test]
    fn recursion_depth_does_not_split_a_site() {
        // Two stacks of one leak: handle_error <- middleware x2 / x5 <- main.
        let mut stacks = FxHashMap::default();
        stacks.insert(1, vec![10, 20, 20, 30]);
        stacks.insert(2, vec![10, 20, 20, 20, 20, 20, 30]);
        let mut last = FxHashMap::default();
        for (id, live) in [(1u32, 128u64), (2, 256)] {
            last.insert(
                id,
                SnapshotEntry {
                    stack: StackId(id),
                    live_bytes: live,
                    live_blocks: live / 128,
                    total_bytes: live,
                    total_allocs: live / 128,
                    live_samples: live / 128,
                },
            );
        }
        let profile = Profile {
            path: "1.lhev".into(),
            pid: 1,
            config: Config {
                mode: MODE_EXACT,
                sample_mean_bytes: 0,
                interval_ms: 1000,
                start_ns: 0,
            },
            modules: Vec::new(),
            stacks,
            times: vec![1.0],
            snapshots: vec![last],
            at_exit: true,
            truncated_at: None,
            dropped: 0,
        };
        let mut symbols = Symbols::default();
        symbols.insert(10, vec![frame("handle_error", 265)]);
        symbols.insert(20, vec![frame("middleware", 332)]);
        symbols.insert(30, vec![frame("main", 400)]);
        let procs = [ProcessHeap {
            profile: &profile,
            symbols,
        }];
        let lines = folded(&procs);
        let leak = "main;middleware;handle_error (app/server.c:265)";
        assert_eq!(lines, [format!("{leak} 128"), format!("{leak} 256")]);
    }
}
