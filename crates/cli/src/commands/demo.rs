//! `leakhound demo`: catch a leak in a real service, then confirm the fix.
//!
//! Starts the bundled demo service (`leakhound demo-service`, a child process of its own) in its
//! leaky variant, drives open-model HTTP load at it over 127.0.0.1 (the `load` crate), samples and judges it exactly as
//! `run` does, then does the same with the fixed variant. Success (exit 0) means: the leaky
//! variant leaks memory and fds, the fixed one (which still has a bounded cache that fills at
//! start) shows no leak at all.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::Context;
use leakhound_core::{ExitCodes, Metric, RunReport, Verdict, format_rate};
use leakhound_load::LoadPlan;
use leakhound_sampler::Sampler;

use super::present::print_report;
use crate::args::DemoArgs;
use crate::errors::ExpectedError;
use crate::orchestrate::child::{ChildSpec, Target};
use crate::orchestrate::session::{self, Ended, LiveRequests, SessionDir};
use crate::orchestrate::signals::Interrupts;
use crate::output::Output;
use crate::props::SamplingProps;
use crate::rundir;

/// Sampling interval of the demo: 2 samples a second gives the detector ~40 points per variant.
const DEMO_INTERVAL: Duration = Duration::from_millis(500);
/// Requests in flight at most (one connection each), see `run_variant`.
const DEMO_MAX_IN_FLIGHT: usize = 4;
/// Start-up excluded from the verdict: process start and the first connections.
const DEMO_WARMUP: Duration = Duration::from_secs(2);
/// Online alarms may come after this much of a variant was sampled (after [`DEMO_WARMUP`]):
/// the demo's service is known to be warm within seconds, and a variant runs for 40 s, while
/// `run` and `watch` wait 4 minutes by default (`--alarm-after`) for a service whose warm-up is
/// not known.
const DEMO_ALARM_AFTER: Duration = Duration::from_secs(20);

struct VariantResult {
    name: &'static str,
    report: RunReport,
    requests: u64,
    errors: u64,
}

pub(crate) fn run(args: &DemoArgs, out: &Output) -> anyhow::Result<u8> {
    // Below 15 s per variant the detector cannot reach a verdict on either (too few samples
    // after the warm-up): the demo would only ever say "not as expected".
    if args.duration < Duration::from_secs(30) {
        return Err(ExpectedError::usage(
            "--duration must be at least 30s (15 s per variant; shorter runs cannot reach a verdict)",
        ));
    }
    if args.rate == 0 || args.rate > 20_000 {
        return Err(ExpectedError::usage(
            "--rate must be between 1 and 20000 requests per second",
        ));
    }
    let half = args.duration / 2;
    let exe = std::env::current_exe().context("failed to find the leakhound executable")?;
    let interrupts = Interrupts::register()?;
    let base = args.out.clone();
    if let Some(b) = &base {
        for variant in ["leaky", "fixed"] {
            rundir::prepare_out(&b.join(variant))?;
        }
    }
    // The introduction and the progress lines are status: `--quiet` leaves the verdicts.
    let say = |msg: &str| {
        if !out.quiet {
            println!("{msg}");
        }
    };
    say(&format!(
        "leakhound demo: two runs of a small HTTP service on 127.0.0.1, {} req/s for {:.0} s each.\n\
         Both variants have a bounded LRU cache that fills in the first seconds (not a leak).\n\
         The leaky one also keeps every request's session data and leaks a socket every 10th request.\n",
        args.rate,
        half.as_secs_f64()
    ));
    let mut results = Vec::new();
    for (i, variant) in ["leaky", "fixed"].into_iter().enumerate() {
        say(&format!(
            "[{}/2] {variant} variant: starting the service and sending requests…",
            i + 1
        ));
        let r = run_variant(
            variant,
            &exe,
            half,
            args.rate,
            base.as_ref(),
            out,
            &interrupts,
        )?;
        let interrupted = r.report.target.ended_by == "interrupted";
        results.push(r);
        if interrupted {
            println!("interrupted; skipping the rest of the demo");
            break;
        }
        println!();
    }
    print_comparison(&results, out);
    if results
        .iter()
        .any(|r| r.report.target.ended_by == "interrupted")
    {
        println!(
            "\n{}",
            out.style
                .warn("demo: interrupted before both variants were judged; nothing to compare.")
        );
        return Ok(ExitCodes::INCONCLUSIVE);
    }
    let ok = results.len() == 2 && expected(&results[0], true) && expected(&results[1], false);
    if ok {
        println!(
            "\n{}",
            out.style.good("demo: as expected — the leak was caught, the fix was confirmed, the cache was not flagged.")
        );
        Ok(ExitCodes::OK)
    } else {
        println!(
            "\n{}",
            out.style
                .bad("demo: NOT as expected (see the verdicts above).")
        );
        Ok(ExitCodes::LEAK)
    }
}

fn run_variant(
    variant: &'static str,
    exe: &std::path::Path,
    duration: Duration,
    rate: u32,
    base: Option<&PathBuf>,
    out: &Output,
    interrupts: &Interrupts,
) -> anyhow::Result<VariantResult> {
    let exe_s = exe.display().to_string();
    let command = vec![
        exe_s,
        "demo-service".into(),
        "--variant".into(),
        variant.into(),
    ];
    let mut spec = ChildSpec::from_command(&command)?;
    spec.capture_stdout = true;
    let mut target = Target::spawn(&spec)?;
    let stdout = target.take_stdout().context("demo service has no stdout")?;
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .context("failed to read the demo service's address")?;
    let addr = first
        .strip_prefix("listening on ")
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
        .ok_or_else(|| {
            ExpectedError::target_failed(format!("demo service did not start: {first:?}"))
        })?;
    if !out.quiet {
        println!("      service pid {} listening on {addr}", target.pid());
    }

    let props = SamplingProps {
        duration: Some(duration),
        interval: DEMO_INTERVAL,
        warmup: DEMO_WARMUP,
        limit: None,
        out: None,
        json: false,
        stop_on_leak: false,
        alarm_after: Some(DEMO_ALARM_AFTER),
    };
    let dir = base.map(|b| b.join(variant));
    let suffix = format!("-demo-{variant}");
    let session = SessionDir::create(
        "demo",
        command,
        Some(target.pid()),
        &props,
        dir.as_deref(),
        &suffix,
    )?;
    // Open-model load for a little longer than the sampling, so every sample sees load.
    let mut plan = LoadPlan::open(
        &format!("http://{addr}/item"),
        f64::from(rate),
        duration + Duration::from_secs(5),
    )
    .map_err(|e| ExpectedError::usage(e.to_string()))?;
    // The service runs a thread per connection: if it stalls (a loaded machine), a large pool
    // would open more connections and grow threads and memory that follow load, not a leak.
    // Requests beyond this many in flight are counted as dropped instead.
    plan.max_in_flight = DEMO_MAX_IN_FLIGHT;
    let stop = Arc::new(AtomicBool::new(false));
    let load_stop = Arc::clone(&stop);
    let requests = LiveRequests::new();
    let served = requests.clone();
    let load = thread::spawn(move || {
        leakhound_load::run_load(&plan, load_stop, &mut |tick| served.record(tick))
    });
    let mut sampler = Sampler::new(target.pid())
        .map_err(|e| ExpectedError::target_failed(format!("demo service vanished: {e}")))?;
    let rec = session::record(
        &mut sampler,
        Some(&mut target),
        &props,
        &session.dir,
        out,
        interrupts,
        Some(&requests),
    );
    stop.store(true, Ordering::SeqCst);
    let load = match load.join() {
        Ok(Ok(summary)) => Some(summary),
        Ok(Err(e)) => return Err(ExpectedError::usage(format!("load driver failed: {e}"))),
        Err(_) => anyhow::bail!("the load driver thread panicked"),
    };
    let rec = rec?;
    // The load runs a little past the sampling and is stopped when sampling ends: that is its
    // planned end, not an interruption (unless Ctrl-C ended the sampling).
    let load = load.map(|mut l| {
        l.interrupted = matches!(rec.ended, Ended::Interrupted(_));
        l
    });
    let sig = match rec.ended {
        Ended::Interrupted(s) => s,
        _ => 15,
    };
    target.terminate(Duration::from_secs(2), sig, &|| interrupts.take().is_some());
    let outcome = session::child_outcome(&rec, &target);
    let (requests, errors) = load
        .as_ref()
        .map(|l| (l.completed, l.errors.total()))
        .unwrap_or((0, 0));
    let report = session::conclude(&session, rec, outcome, &props, load)?;
    print_report(&report, false, out)?;
    Ok(VariantResult {
        name: variant,
        report,
        requests,
        errors,
    })
}

fn verdict_of(r: &VariantResult, m: Metric) -> Option<&leakhound_core::SeriesVerdict> {
    r.report.series.iter().find(|v| v.series == m.name())
}

/// Leaky: memory and fds both leak. Fixed: no leak anywhere.
fn expected(r: &VariantResult, leaky: bool) -> bool {
    if leaky {
        let leak = |m| verdict_of(r, m).is_some_and(|v| v.verdict == Verdict::Leak);
        leak(Metric::RssBytes) && leak(Metric::Fds)
    } else {
        r.report.verdict == Verdict::NoLeak
    }
}

fn print_comparison(results: &[VariantResult], out: &Output) {
    println!("{}", out.style.bold("comparison"));
    println!(
        "  {:<8} {:<14} {:<24} {:<20} {:>9} {:>7}  run directory",
        "variant", "verdict", "memory (rss)", "fds", "requests", "errors"
    );
    for r in results {
        let cell = |m: Metric| match verdict_of(r, m) {
            Some(v) if v.verdict == Verdict::Leak => {
                format!(
                    "leak {}",
                    v.rate_per_s
                        .map(|x| format!("+{}", format_rate(v.unit, x)))
                        .unwrap_or_default()
                )
            }
            Some(v) => v.verdict.as_str().replace('_', " "),
            None => "-".into(),
        };
        let verdict = match r.report.verdict {
            Verdict::Leak => out.style.bad(&format!("{:<14}", "LEAK")),
            Verdict::NoLeak => out.style.good(&format!("{:<14}", "no leak")),
            Verdict::Inconclusive => out.style.warn(&format!("{:<14}", "inconclusive")),
        };
        println!(
            "  {:<8} {verdict} {:<24} {:<20} {:>9} {:>7}  {}",
            r.name,
            cell(Metric::RssBytes),
            cell(Metric::Fds),
            r.requests,
            r.errors,
            r.report.run.run_dir.as_deref().unwrap_or("-")
        );
    }
}
