//! `leakhound-corpus`: generate the labelled corpus, or score the detector on it.
//!
//! ```text
//! leakhound-corpus generate --seed 7 --n 300 --out DIR
//! leakhound-corpus score --seed 7 --n 300 [--leakhound PATH] [--threads 2] [--families] [--list FAMILY|errors|all]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use leakhound_core::Verdict;
use leakhound_corpus::{evaluate_library, files, generate, summarize};

struct Args {
    cmd: String,
    seed: u64,
    n: usize,
    out: Option<PathBuf>,
    leakhound: Option<PathBuf>,
    threads: usize,
    families: bool,
    list: Option<String>,
    with_load: bool,
}

fn parse() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let cmd = it.next().unwrap_or_default();
    let mut a = Args {
        cmd,
        seed: 7,
        n: 300,
        out: None,
        leakhound: None,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        families: false,
        list: None,
        with_load: false,
    };
    while let Some(flag) = it.next() {
        let mut val = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--seed" => a.seed = val("--seed")?.parse().context("--seed: not an integer")?,
            "--n" => a.n = val("--n")?.parse().context("--n: not an integer")?,
            "--out" => a.out = Some(PathBuf::from(val("--out")?)),
            "--leakhound" => a.leakhound = Some(PathBuf::from(val("--leakhound")?)),
            "--threads" => a.threads = val("--threads")?.parse().context("--threads")?,
            "--families" => a.families = true,
            "--with-load" => a.with_load = true,
            "--list" => a.list = Some(val("--list")?),
            other => bail!("unknown argument `{other}`"),
        }
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    let a = parse()?;
    match a.cmd.as_str() {
        "generate" => {
            let out = a.out.context("generate needs --out DIR")?;
            let items = generate(a.seed, a.n);
            let paths = files::write_corpus(&out, &items)?;
            println!(
                "wrote {} series and labels.csv to {}",
                paths.len(),
                out.display()
            );
        }
        "score" => {
            let t0 = Instant::now();
            let items = generate(a.seed, a.n);
            let gen_s = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let outcomes = match &a.leakhound {
                None => evaluate_library(&items, a.threads, a.with_load),
                Some(bin) => {
                    let dir = a.out.clone().unwrap_or_else(|| {
                        std::env::temp_dir().join(format!("leakhound-corpus-{}", a.seed))
                    });
                    let paths = files::write_corpus(&dir, &items)?;
                    let t2 = Instant::now();
                    let end = files::run_cli(bin, &paths, false)?;
                    let onl = files::run_cli(bin, &paths, true)?;
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
            println!(
                "seed {} · {} series · {} points · generated in {:.2} s · analysed (both modes) in {:.2} s{}",
                a.seed,
                items.len(),
                points,
                gen_s,
                det_s,
                match (a.leakhound.is_some(), a.with_load) {
                    (true, _) => " via leakhound analyze",
                    (false, true) => " in-process, with load",
                    (false, false) => " in-process",
                }
            );
            print!("{}", report.summary_table());
            if a.families {
                println!();
                print!("{}", report.family_table());
            }
            if let Some(f) = &a.list {
                for (it, (e, o)) in items.iter().zip(&outcomes) {
                    if it.family == f.as_str() || f == "all" || f == "errors" && is_error(it, e, o)
                    {
                        println!(
                            "{:4} {:<20} leak={} onset={:?} n={} span={:.0}s dt={:.1}s  end={} online={} at={:?}",
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
                        let opts = leakhound_detect::DetectOptions::default();
                        if std::env::var_os("EXPLAIN").is_some() {
                            print!("{}", leakhound_detect::explain(&it.series, &opts));
                            // …and the evidence as it stood at the online alarm.
                            let on = leakhound_detect::analyze_online(&it.series, &opts);
                            if let Some(at) = on.detected_at_s {
                                print!(
                                    "at the online alarm ({at:.0} s):\n{}",
                                    leakhound_detect::explain(&it.series.prefix_until(at), &opts)
                                );
                            }
                        }
                        let (end, onl) = if a.with_load {
                            (
                                leakhound_detect::analyze_with_load(
                                    &it.series,
                                    &it.requests,
                                    &opts,
                                ),
                                leakhound_detect::analyze_online_with_load(
                                    &it.series,
                                    &it.requests,
                                    &opts,
                                ),
                            )
                        } else {
                            (
                                leakhound_detect::analyze(&it.series, &opts),
                                leakhound_detect::analyze_online(&it.series, &opts),
                            )
                        };
                        println!("       end: {}\n       onl: {}", end.reason, onl.reason);
                    }
                }
            }
        }
        "bench" => bench(),
        _ => bail!(
            "usage: leakhound-corpus generate|score|bench --seed N --n N [--out DIR] [--leakhound PATH] [--families] [--list FAMILY|errors|all]"
        ),
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
        println!(
            "{name:<20} 86400 points: end-of-run {:>7.1} ms ({}), online {:>7.1} ms ({}, at {:?})",
            te * 1e3,
            e.verdict,
            to * 1e3,
            o.verdict,
            o.detected_at_s
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
