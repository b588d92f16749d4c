//! `leakhound-corpus`: generate the labelled corpus, or score the detector on it.
//!
//! ```text
//! leakhound-corpus generate --seed 7 --n 300 --out DIR [--with-load]
//! leakhound-corpus score --seed 7 --n 300 [--leakhound PATH] [--threads 2] [--families] [--with-load] [--list FAMILY|errors|all]
//! leakhound-corpus calibrate --dir DIR [--threads 2]
//! leakhound-corpus bench
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use leakhound_core::Verdict;
use leakhound_corpus::{evaluate_library, files, generate, summarize};

/// `print!` that ends the program quietly when standard output is a closed pipe
/// (`leakhound-corpus score … | head -1`, as `bench/detect-bench.sh` reads it), and with a clear
/// error (exit 2) on any other write error, rather than panicking as `print!` does.
macro_rules! out {
    ($($arg:tt)*) => {
        write_stdout(format_args!($($arg)*))
    };
}

/// `println!` with [`out!`]'s handling of a closed pipe.
macro_rules! outln {
    () => {
        out!("\n")
    };
    ($($arg:tt)*) => {
        out!("{}\n", format_args!($($arg)*))
    };
}

fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(2);
    }
}

/// The detector's labelled corpus (issue 4): write it to disk, or score `leakhound_detect` (or
/// a `leakhound` binary) on it.
#[derive(Parser)]
#[command(
    name = "leakhound-corpus",
    version,
    after_help = "Examples:\n  leakhound-corpus score --seed 101 --n 300 --families\n  \
                  leakhound-corpus score --seed 101 --list leak_go\n  \
                  python3 crates/corpus/independent/gen.py --seed 4 --n 300 --out /tmp/indep4\n  \
                  leakhound-corpus score --dir /tmp/indep4 --families\n  \
                  leakhound-corpus generate --seed 101 --out /tmp/corpus --with-load"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the series (CSV `t_seconds,<column>`) and labels.csv to a directory.
    Generate {
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Directory to write to (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
    /// Score the detector: recall, false-positive rate, time to detect, per mode and class.
    Score(ScoreArgs),
    /// Check "need about N more": cut each series at 25/40/55/70 % of its span and, where the
    /// end-of-run verdict is inconclusive with N seconds needed, judge it again at +N and +2N.
    #[command(after_help = "Example:\n  leakhound-corpus calibrate --seed 101\n  \
                            leakhound-corpus calibrate --dir /tmp/indep4 --dir /tmp/indep5")]
    Calibrate {
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Check the labelled corpus in this directory rather than a generated one (repeat to
        /// pool several).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "n"])]
        dir: Vec<PathBuf>,
        /// Worker threads (default: the available cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Check that a stronger leak is never less of a leak: judge each leaking series again with
    /// its leak scaled by --factor and list every leak verdict (end of run) or alarm (online)
    /// that is lost.
    #[command(
        after_help = "Example:\n  leakhound-corpus monotone --seed 101 --factor 2\n  \
                            leakhound-corpus monotone --dir /tmp/indep4 --dir /tmp/indep5 --factor 3"
    )]
    Monotone {
        #[command(flatten)]
        corpus: CorpusArgs,
        /// Check the labelled corpus in this directory rather than a generated one (repeat to
        /// pool several); its series files need a `leak_part` column.
        #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "n"])]
        dir: Vec<PathBuf>,
        /// How much stronger the leak is made (the leak's part of every sample times this).
        #[arg(long, default_value_t = 2.0, value_parser = parse_factor)]
        factor: f64,
        /// Write the series that lost their leak verdict to DIR/x1 and DIR/x<FACTOR> (each a
        /// labelled corpus, for `score --dir` and the `explain` example), numbered in the order
        /// listed.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Worker threads (default: the available cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Time analyze and analyze_online on 86,400-point series.
    Bench,
}

/// A leak scale factor: a finite number above 1.
fn parse_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 1.0 => Ok(x),
        _ => Err(format!("`{s}` is not a number above 1")),
    }
}

#[derive(Args)]
struct CorpusArgs {
    /// Seed of the corpus (the same seed gives the same series).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Number of series.
    #[arg(long, default_value_t = 300)]
    n: usize,
    /// Use each series' request counter (a `requests_total` column in the files; load as a
    /// covariate when scoring).
    #[arg(long)]
    with_load: bool,
}

#[derive(Args)]
struct ScoreArgs {
    #[command(flatten)]
    corpus: CorpusArgs,
    /// Score the labelled corpus in this directory (`labels.csv` and the series files it
    /// names, as `generate` writes them or another generator does) instead of generating one.
    /// The labels need only `file` and `leak` columns; unit, class, onset (0 for a leak), base
    /// and interval are otherwise read from the series.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "n"])]
    dir: Option<PathBuf>,
    /// Score this `leakhound` binary (`analyze --json [--online]` over the files) rather than
    /// the library in-process.
    #[arg(long, value_name = "PATH")]
    leakhound: Option<PathBuf>,
    /// With --leakhound: where to write the files (default: a directory under the temp dir).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Score a yardstick instead of the detector, on the same series and scoring: the usual
    /// Prometheus alert rules (`deriv`, `predict-linear`) or the textbook trend test
    /// (`mann-kendall`); their parameters are in `crates/corpus/src/baseline.rs`.
    #[arg(long, value_name = "RULE", conflicts_with = "leakhound",
          value_parser = ["deriv", "predict-linear", "mann-kendall"])]
    baseline: Option<String>,
    /// Worker threads for the in-process scorer (default: the available cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Add the per-family table.
    #[arg(long)]
    families: bool,
    /// List one family's series (or `errors`, or `all`) with the detector's sentences;
    /// EXPLAIN=1 adds the evidence dump.
    #[arg(long, value_name = "FAMILY|errors|all")]
    list: Option<String>,
}

fn main() -> ExitCode {
    // Usage errors exit 2 (clap's own convention, and leakhound's).
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Generate { corpus, out } => generate_cmd(&corpus, &out),
        Cmd::Score(a) => score(&a),
        Cmd::Calibrate {
            corpus,
            dir,
            threads,
        } => calibrate(&corpus, &dir, threads),
        Cmd::Monotone {
            corpus,
            dir,
            factor,
            out,
            threads,
        } => monotone(&corpus, &dir, factor, out.as_deref(), threads),
        Cmd::Bench => {
            bench();
            Ok(())
        }
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn generate_cmd(c: &CorpusArgs, out: &std::path::Path) -> anyhow::Result<()> {
    let items = generate(c.seed, c.n);
    let paths = files::write_corpus(out, &items, c.with_load)?;
    outln!(
        "wrote {} series and labels.csv to {}",
        paths.len(),
        out.display()
    );
    Ok(())
}

fn score(a: &ScoreArgs) -> anyhow::Result<()> {
    use leakhound_corpus::families::{
        MEMORY_HEALTHY, MEMORY_LEAKS, RESOURCE_HEALTHY, RESOURCE_LEAKS,
    };
    let c = &a.corpus;
    let t0 = Instant::now();
    let items = match &a.dir {
        Some(dir) => files::read_corpus(dir)?,
        None => generate(c.seed, c.n),
    };
    let gen_s = t0.elapsed().as_secs_f64();
    if c.with_load {
        need_requests(&items)?;
    }
    if let Some(f) = &a.list {
        let mut families: Vec<&str> = [
            &MEMORY_HEALTHY[..],
            &MEMORY_LEAKS[..],
            &RESOURCE_HEALTHY[..],
            &RESOURCE_LEAKS[..],
        ]
        .concat();
        if a.dir.is_some() {
            families = items.iter().map(|it| it.family).collect();
            families.sort_unstable();
            families.dedup();
        }
        if f != "all" && f != "errors" && !families.contains(&f.as_str()) {
            anyhow::bail!(
                "--list {f}: not a family (families: {}; or `errors`, `all`)",
                families.join(", ")
            );
        }
    }
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let t1 = Instant::now();
    let baseline = a
        .baseline
        .as_deref()
        .and_then(leakhound_corpus::baseline::Baseline::from_name);
    let outcomes = match (&a.leakhound, baseline) {
        (None, Some(b)) => leakhound_corpus::baseline::evaluate(&items, b),
        (None, None) => evaluate_library(&items, threads, c.with_load),
        (Some(bin), _) => {
            let dir = a.out.clone().unwrap_or_else(|| {
                std::env::temp_dir().join(match &a.dir {
                    Some(_) => "leakhound-corpus-dir".to_string(),
                    None => format!("leakhound-corpus-{}", c.seed),
                })
            });
            let paths = files::write_corpus(&dir, &items, c.with_load)?;
            let t2 = Instant::now();
            let end = files::run_cli(bin, &paths, false, c.with_load)?;
            let onl = files::run_cli(bin, &paths, true, c.with_load)?;
            eprintln!(
                "cli analyze (both modes): {:.2} s",
                t2.elapsed().as_secs_f64()
            );
            items
                .iter()
                .map(|it| {
                    let k = files::file_name(it);
                    let missing = leakhound_corpus::Outcome {
                        verdict: Verdict::Inconclusive,
                        detected_at_s: None,
                    };
                    (
                        end.get(&k).cloned().unwrap_or(missing.clone()),
                        onl.get(&k).cloned().unwrap_or(missing),
                    )
                })
                .collect()
        }
    };
    let det_s = t1.elapsed().as_secs_f64();
    let report = summarize(&items, &outcomes);
    let points: usize = items.iter().map(|i| i.series.len()).sum();
    let source = match &a.dir {
        Some(d) => format!("corpus {}", d.display()),
        None => format!("seed {}", c.seed),
    };
    outln!(
        "{source} · {} series · {} points · {} in {:.2} s · analysed (both modes) in {:.2} s{}",
        items.len(),
        points,
        if a.dir.is_some() { "read" } else { "generated" },
        gen_s,
        det_s,
        match (a.leakhound.is_some(), c.with_load) {
            _ if baseline.is_some() => " by a yardstick, not the detector",
            (true, true) => " via leakhound analyze --load",
            (true, false) => " via leakhound analyze",
            (false, true) => " in-process, with load",
            (false, false) => " in-process",
        }
    );
    if let Some(b) = baseline {
        outln!("yardstick: {}", b.describe());
    }
    out!("{}", report.summary_table());
    if a.families {
        outln!();
        out!("{}", report.family_table());
    }
    let Some(f) = &a.list else {
        return Ok(());
    };
    for (it, (e, o)) in items.iter().zip(&outcomes) {
        if !(it.family == f.as_str() || f == "all" || f == "errors" && is_error(it, e, o)) {
            continue;
        }
        // The leak's own growth at the online alarm, in % of base (when the corpus has it).
        let grown = o
            .detected_at_s
            .filter(|_| it.leak)
            .and_then(|at| it.grown_pct_at(at))
            .map_or_else(String::new, |g| format!(" grown={g:.1}%"));
        outln!(
            "{:4} {:<20} leak={} onset={:?} n={} span={:.0}s dt={:.1}s  end={} online={} at={:?}{grown}",
            it.id,
            it.family,
            it.leak,
            it.onset_s.map(|x| x.round()),
            it.series.len(),
            it.series.span_s(),
            it.interval_s,
            e.verdict,
            o.verdict,
            o.detected_at_s.map(|x| x.round())
        );
        // The detector's sentences say nothing about a yardstick's verdicts.
        if baseline.is_some() {
            continue;
        }
        let opts = leakhound_detect::DetectOptions::default();
        if std::env::var_os("EXPLAIN").is_some() {
            out!("{}", leakhound_detect::explain(&it.series, &opts));
            // …and the evidence as it stood at the online alarm.
            let on = leakhound_detect::analyze_online(&it.series, &opts);
            if let Some(at) = on.detected_at_s {
                out!(
                    "at the online alarm ({at:.0} s):\n{}",
                    leakhound_detect::explain(&it.series.prefix_until(at), &opts)
                );
            }
        }
        let (end, onl) = if c.with_load {
            (
                leakhound_detect::analyze_with_load(&it.series, &it.requests, &opts),
                leakhound_detect::analyze_online_with_load(&it.series, &it.requests, &opts),
            )
        } else {
            (
                leakhound_detect::analyze(&it.series, &opts),
                leakhound_detect::analyze_online(&it.series, &opts),
            )
        };
        outln!("       end: {}\n       onl: {}", end.reason, onl.reason);
    }
    Ok(())
}

/// With `--with-load`, every series needs its request counter at every sample.
fn need_requests(items: &[leakhound_corpus::Item]) -> anyhow::Result<()> {
    match items.iter().find(|it| it.requests.len() != it.series.len()) {
        Some(it) => anyhow::bail!(
            "--with-load: series {} ({}) has no `{}` value at every sample",
            it.id,
            it.family,
            files::REQUESTS_COLUMN
        ),
        None => Ok(()),
    }
}

/// The labelled corpora in `dirs`, pooled, or the corpus `c` generates when none is given.
fn pooled_or_generated(
    c: &CorpusArgs,
    dirs: &[PathBuf],
) -> anyhow::Result<Vec<leakhound_corpus::Item>> {
    if dirs.is_empty() {
        return Ok(generate(c.seed, c.n));
    }
    let mut items = Vec::new();
    for d in dirs {
        items.extend(files::read_corpus(d)?);
    }
    Ok(items)
}

/// The available cores (1 when unknown).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn calibrate(c: &CorpusArgs, dirs: &[PathBuf], threads: Option<usize>) -> anyhow::Result<()> {
    if c.with_load {
        anyhow::bail!("calibrate judges the series without their load; leave out --with-load");
    }
    let items = pooled_or_generated(c, dirs)?;
    let threads = threads.unwrap_or_else(cores);
    let t0 = Instant::now();
    let opts = leakhound_detect::DetectOptions::default();
    let checks = leakhound_corpus::calibrate::run(&items, &opts, threads);
    outln!(
        "{} series cut at {:?} of their span · {} inconclusive verdicts with a time needed · {:.1} s",
        items.len(),
        leakhound_corpus::calibrate::CUTS,
        checks.len(),
        t0.elapsed().as_secs_f64()
    );
    out!("{}", leakhound_corpus::calibrate::table(&checks));
    Ok(())
}

fn monotone(
    c: &CorpusArgs,
    dirs: &[PathBuf],
    factor: f64,
    out: Option<&std::path::Path>,
    threads: Option<usize>,
) -> anyhow::Result<()> {
    use leakhound_corpus::monotone;
    let items = pooled_or_generated(c, dirs)?;
    if c.with_load {
        need_requests(&items)?;
    }
    let threads = threads.unwrap_or_else(cores);
    let t0 = Instant::now();
    let opts = leakhound_detect::DetectOptions::default();
    let pairs = monotone::run(&items, factor, &opts, threads, c.with_load);
    if pairs.is_empty() {
        anyhow::bail!("no leaking series with a leak part (a `leak_part` column) to scale");
    }
    outln!(
        "{} leaking series judged as they are and with their leak ×{factor}{} · {:.1} s",
        pairs.len(),
        if c.with_load { ", with their load" } else { "" },
        t0.elapsed().as_secs_f64()
    );
    out!("{}", monotone::table(&pairs, factor));
    let lost: Vec<&monotone::Pair> = pairs
        .iter()
        .filter(|p| p.end_lost() || p.online_lost())
        .collect();
    for p in &lost {
        outln!("{:4} {:<24} {}", p.id, p.family, p.class.as_str());
        for (mode, (a, b), lost) in [
            ("end", &p.end, p.end_lost()),
            ("onl", &p.online, p.online_lost()),
        ] {
            if lost {
                outln!("       {mode} ×1: {}: {}", a.verdict, a.reason);
                outln!("       {mode} ×{factor}: {}: {}", b.verdict, b.reason);
            }
        }
    }
    if let Some(dir) = out {
        // Numbered in the order listed (ids repeat when corpora are pooled).
        let as_is: Vec<leakhound_corpus::Item> = lost
            .iter()
            .enumerate()
            .map(|(k, p)| leakhound_corpus::Item {
                id: k,
                ..items[p.index].clone()
            })
            .collect();
        let stronger: Vec<leakhound_corpus::Item> = as_is
            .iter()
            .filter_map(|it| {
                let mut s = it.clone();
                s.series = monotone::scaled(it, factor)?;
                Some(s)
            })
            .collect();
        files::write_corpus(&dir.join("x1"), &as_is, c.with_load)?;
        files::write_corpus(&dir.join(format!("x{factor}")), &stronger, c.with_load)?;
        outln!(
            "wrote {} series to {} and their stronger leaks to {} (numbered in the order listed)",
            as_is.len(),
            dir.join("x1").display(),
            dir.join(format!("x{factor}")).display()
        );
    }
    Ok(())
}

/// Time `analyze` and `analyze_online` on 86,400-point series (24 h at 1 s): a leak, a flat
/// series with GC sawtooth, and a warm-up (issue 3's speed acceptance).
fn bench() {
    use leakhound_core::{Series, Unit};
    let opts = leakhound_detect::DetectOptions::default();
    let mut rng = leakhound_corpus::rng::Rng::new(42, 0);
    let t: Vec<f64> = (0..86_400).map(f64::from).collect();
    type Shape = Box<dyn Fn(f64) -> f64>;
    let shapes: [(&str, Shape); 3] = [
        (
            "leak 10 %/day",
            Box::new(|x| 1e9 * (1.0 + 0.1 * x / 86_400.0)),
        ),
        (
            "flat + GC sawtooth",
            Box::new(|x| 1e9 * (1.0 + 0.2 * ((x / 37.0) % 1.0))),
        ),
        (
            "warm-up",
            Box::new(|x| 1e9 * (1.3 - 0.3 * (-x / 3_000.0).exp())),
        ),
    ];
    for (name, f) in shapes {
        let v: Vec<f64> = t.iter().map(|&x| f(x) + 5e6 * rng.normal()).collect();
        let s = Series::from_parts("rss_bytes", Unit::Bytes, t.clone(), v);
        let t0 = Instant::now();
        let e = leakhound_detect::analyze(&s, &opts);
        let te = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let o = leakhound_detect::analyze_online(&s, &opts);
        let to = t1.elapsed().as_secs_f64();
        outln!(
            "{name:<20} 86400 points: end-of-run {:>7.1} ms ({}), online {:>7.1} ms ({}, at {:?})",
            te * 1e3,
            e.verdict,
            to * 1e3,
            o.verdict,
            o.detected_at_s
        );
        // What `watch` pays per series: the online monitor fed one sample at a time, in all and
        // at its slowest sample (the time a sample may be held up).
        let mut monitor = leakhound_detect::OnlineMonitor::new();
        let mut grown = Series::new("rss_bytes", Unit::Bytes);
        let (mut total, mut worst) = (0.0f64, 0.0f64);
        for (&x, &y) in s.t.iter().zip(&s.v) {
            grown.push(x, y);
            let t2 = Instant::now();
            let alarm = monitor.update(&grown, &opts).is_some();
            let dt = t2.elapsed().as_secs_f64();
            total += dt;
            worst = worst.max(dt);
            if alarm {
                break;
            }
        }
        outln!(
            "{:<20} fed a sample at a time: {:>7.1} ms in all, {:>5.1} ms at the slowest sample (alarm at {:?})",
            "",
            total * 1e3,
            worst * 1e3,
            monitor.alarm().and_then(|a| a.detected_at_s)
        );
    }
}

fn is_error(
    it: &leakhound_corpus::Item,
    e: &leakhound_corpus::Outcome,
    o: &leakhound_corpus::Outcome,
) -> bool {
    let alarm = |x: &leakhound_corpus::Outcome| x.verdict == Verdict::Leak;
    if it.leak {
        !alarm(e) || !alarm(o)
    } else {
        alarm(e) || alarm(o)
    }
}
