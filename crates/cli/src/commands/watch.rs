//! `leakhound watch PID`: sample a running process tree and judge it.

use leakhound_sampler::{Sampler, SamplerError};

use leakhound_report::terminal::display_command;

use super::present::print_report;
use crate::args::WatchArgs;
use crate::errors::ExpectedError;
use crate::orchestrate::session::{self, SessionDir};
use crate::orchestrate::signals::Interrupts;
use crate::output::Output;
use crate::props::SamplingProps;

pub(crate) fn run(args: &WatchArgs, out: &Output) -> anyhow::Result<u8> {
    let props = SamplingProps::try_from(&args.sampling)?;
    let pid: u32 = args
        .pid
        .trim()
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            ExpectedError::usage(format!(
                "invalid PID `{}`: expected a positive number",
                args.pid
            ))
        })?;
    // A zombie has exited and holds no memory or descriptors: nothing to watch.
    if std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|st| {
            st.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_owned))
        })
        .is_some_and(|state| state == "Z")
    {
        return Err(ExpectedError::usage(format!(
            "PID {pid} has exited (a zombie its parent has not reaped yet): nothing to watch"
        )));
    }
    // A thread's ID opens /proc/TID too, but the process is its thread group.
    if let Some(tgid) = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|st| {
            st.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse::<u32>().ok())
        })
        .filter(|&tgid| tgid != pid)
    {
        return Err(ExpectedError::usage(format!(
            "{pid} is a thread of process {tgid}; watch {tgid}"
        )));
    }
    let mut sampler = Sampler::new(pid).map_err(|e| match e {
        SamplerError::NoSuchProcess { .. } => {
            ExpectedError::usage(format!("no process with PID {pid}"))
        }
        other => ExpectedError::usage(format!("cannot watch PID {pid}: {other}")),
    })?;
    let command = read_cmdline(pid);
    let interrupts = Interrupts::register()?;
    let session = SessionDir::create(
        "watch",
        command.clone(),
        Some(pid),
        &props,
        props.out.as_deref(),
        "",
    )?;
    out.status(&format!(
        "leakhound: watching pid {pid} (`{}`) and its children every {:.3}s; Ctrl-C ends the watch",
        display_command(&command),
        props.interval.as_secs_f64()
    ));
    let rec = session::record(
        &mut sampler,
        None,
        &props,
        &session.dir,
        out,
        &interrupts,
        None,
    )?;
    let outcome = session::watch_outcome(&rec);
    let report = session::conclude(&session, rec, outcome, &props, None)?;
    print_report(&report, props.json, out)?;
    Ok(report.verdict.exit_code())
}

fn read_cmdline(pid: u32) -> Vec<String> {
    let args: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .unwrap_or_default();
    if !args.is_empty() {
        return args;
    }
    // A kernel thread, or a process caught as it execs, has no command line: its name, as
    // `ps` shows it.
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| vec![format!("[{}]", c.trim_end())])
        .unwrap_or_default()
}
