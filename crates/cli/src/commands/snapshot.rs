//! `leakhound snapshot node|java|go TARGET -o FILE`: take a heap snapshot of a running process.
//!
//! The work is in `leakhound_heap::capture` (which checks that a PID runs the runtime named
//! before it signals or attaches to it); this maps failures to exit 2 and prints the file.

use leakhound_core::ExitCodes;
use leakhound_heap::capture::{self, NodeTarget};

use crate::args::{SnapshotArgs, SnapshotKind};
use crate::errors::ExpectedError;
use crate::output::Output;

pub(crate) fn run(args: &SnapshotArgs, out: &Output) -> anyhow::Result<u8> {
    // A PID must name a live process; say so plainly rather than through kill/jcmd messages.
    if args.kind != SnapshotKind::Go
        && let Ok(pid) = args.target.parse::<u32>()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        return Err(ExpectedError::usage(format!(
            "failed to take a snapshot of {pid}: no process with PID {pid}"
        )));
    }
    if args.timeout.is_zero() {
        return Err(ExpectedError::usage("--timeout must be more than 0"));
    }
    // Collecting and walking a big heap takes seconds to minutes: a spinner says what the
    // snapshot waits for (TTY only).
    let pb = out.progress(None);
    pb.set_message(format!("taking a snapshot of {}", args.target));
    let progress = |m: &str| pb.set_message(m.to_owned());
    let wait = capture::Wait {
        stall: args.timeout,
        progress: &progress,
    };
    let res = match args.kind {
        // Not `capture::node_signalled`: a user-given address must not be waited for.
        SnapshotKind::Node => NodeTarget::parse(&args.target)
            .and_then(|t| capture::node_snapshot_with(t, &args.out, &wait))
            .map(|()| None),
        SnapshotKind::Java => capture::java(&args.target, &args.out).map(|()| None),
        SnapshotKind::Go => capture::go_with(&args.target, &args.out, &wait).map(Some),
    };
    pb.finish_and_clear();
    let extra = res.map_err(|e| match e {
        capture::CaptureError::Stalled { .. } => ExpectedError::usage(format!(
            "{e}; a target busy with a very large heap may need a longer --timeout (now {})",
            leakhound_report::terminal::human_duration(args.timeout.as_secs_f64())
        )),
        e => ExpectedError::usage(e.to_string()),
    })?;
    out.status(&format!("wrote {}", args.out.display()));
    if let Some(g) = extra {
        out.status(&format!("wrote {}", g.display()));
    }
    Ok(ExitCodes::OK)
}
