//! `leakhound run -- CMD`: start a command, sample it, judge it.

use leakhound_core::load::LoadSummary;
use leakhound_core::{ExitCodes, Warning};
use leakhound_sampler::Sampler;

use leakhound_report::terminal::display_command;

use super::load;
use super::present::print_report;
use crate::args::RunArgs;
use crate::errors::ExpectedError;
use crate::orchestrate::child::{ChildSpec, Target};
use crate::orchestrate::session::{self, Ended, SessionDir};
use crate::orchestrate::signals::Interrupts;
use crate::output::Output;
use crate::props::SamplingProps;
use crate::rundir;

/// Signal sent to the target when `--duration` is over.
const SIGTERM: i32 = 15;

pub(crate) fn run(args: &RunArgs, out: &Output) -> anyhow::Result<u8> {
    let mut props = SamplingProps::try_from(&args.sampling)?;
    // Load (issue #5): validated before the target starts; a scenario sets the duration.
    let mut load_plan = load::run_plan(&args.load, props.duration)?;
    if let Some(plan) = &load_plan {
        props.duration = load::sampling_duration(plan, props.duration);
    }
    // Heap snapshots between load phases (issue #7): phases and pauses go into the plan.
    let snapshots = super::run_snapshots::prepare(&args.snapshots, load_plan.as_mut())?;
    if let Some(s) = &snapshots {
        props.duration = Some(s.sampling);
    }
    let mut spec = ChildSpec::from_command(&args.command)?;
    spec.stdout_to_stderr = props.json;
    let heap = super::heap_native::prepare(&args.heap)?;
    if heap.is_some()
        && let Some(why) = super::heap_native::preload_blocker(&spec.program)
    {
        return Err(ExpectedError::usage(format!(
            "--heap cannot see the allocations of `{}`: {why}",
            spec.program
        )));
    }
    if let Some(h) = &heap {
        spec.env.extend(h.env.iter().cloned());
    }
    if let Some(s) = &snapshots {
        spec.env.extend(s.env.iter().cloned());
    }
    match &props.out {
        Some(d) => rundir::prepare_out(d)?,
        None => rundir::prepare_default()?,
    }
    let interrupts = Interrupts::register()?;
    let mut target = Target::spawn(&spec)?;
    let pid = target.pid();
    let session = SessionDir::create(
        "run",
        args.command.clone(),
        Some(pid),
        &props,
        props.out.as_deref(),
        "",
    )?;
    if let Some(h) = &heap {
        h.link_into(&session.dir);
    }
    out.status(&format!(
        "leakhound: running `{}` (pid {pid}), sampling every {:.3}s{} into {}",
        display_command(&args.command),
        props.interval.as_secs_f64(),
        props
            .duration
            .map(|d| format!(" for {:.0}s", d.as_secs_f64()))
            .unwrap_or_default(),
        session.dir.display()
    ));
    let mut sampler = match Sampler::new(pid) {
        Ok(s) => s,
        Err(e) => {
            target.poll();
            return Err(ExpectedError::target_failed(format!(
                "`{}` {} before it could be sampled ({e})",
                spec.program,
                target.describe_exit()
            )));
        }
    };
    let mut snaps = None;
    let running_load = match load_plan {
        // Interrupted while waiting for the target to be ready: no load, and the sampling
        // loop below takes the signal at once.
        Some(plan) if !load::wait_ready(&args.load, &plan, &mut target, &interrupts, out)? => None,
        Some(mut plan) => {
            let mut baseline = snapshots.map(|s| s.baseline(pid, &session.dir, out));
            if let Some(d) = baseline.as_mut().and_then(|b| b.fit_pause(&mut plan, out)) {
                props.duration = Some(d);
            }
            let started = std::time::Instant::now();
            let l = load::RunningLoad::start(plan, out, Some(&session.dir.join("load.csv")))?;
            snaps = baseline.map(|b| b.schedule(started, out));
            Some(l)
        }
        None => None,
    };
    let mut rec = session::record(
        &mut sampler,
        Some(&mut target),
        &props,
        &session.dir,
        out,
        &interrupts,
        running_load.as_ref().map(|l| &l.requests),
    )?;
    // Stop the load before the target, so its shutdown is not counted as load errors. A load
    // that failed after it started (its plan was checked before the target started) leaves
    // the recording to be judged without it, never lost.
    let load = match running_load.map(|l| l.finish(&rec.series, rec.ended == Ended::Duration)) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            eprintln!("error: the load failed: {e:#}; the series are judged without it");
            None
        }
        None => None,
    };
    // The snapshot in progress finishes before the target is stopped.
    let snaps = snaps.map(|s| s.join(rec.ended != Ended::Duration));
    match rec.ended {
        Ended::Interrupted(sig) => {
            out.status("leakhound: interrupted; stopping the target and judging what was recorded");
            out.status("leakhound: press Ctrl-C again to kill it at once");
            target.terminate(args.grace, sig, &|| interrupts.take().is_some());
        }
        Ended::Alarm => {
            out.status("leakhound: stopping the target at the leak alarm (--stop-on-leak)");
            target.terminate(args.grace, SIGTERM, &|| interrupts.take().is_some());
        }
        Ended::Duration => {
            target.terminate(args.grace, SIGTERM, &|| interrupts.take().is_some());
        }
        Ended::Exited | Ended::Vanished => {
            target.poll();
            target.stop_leftovers(args.grace, SIGTERM, &|| interrupts.take().is_some());
        }
    }
    let heap_diff = snaps.map(|s| s.diff(out));
    rec.heap_diff = heap_diff.as_ref().map(|h| h.run.clone());
    // Native heap agent (`--heap`): the target has ended, so its files are complete.
    let heap_out = heap
        .as_ref()
        .map(|h| super::heap_native::conclude(h, &session.dir, &rec.series))
        .transpose()?;
    rec.heap = heap_out.as_ref().map(|h| h.run.clone());
    let code = finish(&session, rec, &mut target, &props, out, &spec.program, load)?;
    let code = match &heap_diff {
        Some(h) => {
            if !props.json {
                h.print(out, &mut crate::output::stdout(), code)?;
            }
            for e in &h.run.errors {
                eprintln!("error: run --snapshots: {e}");
            }
            h.exit_code(code)
        }
        None => code,
    };
    Ok(match &heap_out {
        Some(h) => h.finish(code, props.json),
        None => code,
    })
}

/// Judge, write and print a run with our own child; returns the exit code.
pub(crate) fn finish(
    session: &SessionDir,
    mut rec: session::Recording,
    target: &mut Target,
    props: &SamplingProps,
    out: &Output,
    program: &str,
    load: Option<LoadSummary>,
) -> anyhow::Result<u8> {
    let early = rec.ended == Ended::Exited
        && props
            .duration
            .is_some_and(|d| rec.elapsed_s + 0.5 < d.as_secs_f64());
    if early && !target.signalled_by_us() {
        rec.warnings.push(Warning::TargetExitedEarly {
            after_s: rec.elapsed_s,
            code: target.exit_code(),
            signal: target.exit_signal(),
        });
    }
    let outcome = session::child_outcome(&rec, target);
    let failed = outcome.failed;
    let report = session::conclude(session, rec, outcome, props, load)?;
    print_report(&report, props.json, out)?;
    if let (Some(l), false) = (&report.load, props.json) {
        load::write_summary(&mut crate::output::stdout(), l, false)?;
    }
    if failed {
        eprintln!(
            "error: the target `{program}` {} after {:.1} s; the verdict {} covers only that part",
            target.describe_exit(),
            report.target.elapsed_s,
            if props.json { "in the JSON" } else { "above" }
        );
        return Ok(ExitCodes::TARGET_FAILED);
    }
    // The series' own verdict: the heap agent and the heap diff fold theirs in afterwards,
    // printing one overall line.
    Ok(report.series_verdict().exit_code())
}
