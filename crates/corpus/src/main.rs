//! `leakhound-corpus`: generate the labelled corpus, or score the detector on it.
//!
//! ```text
//! leakhound-corpus generate --seed 7 --n 300 --out DIR
//! leakhound-corpus score --seed 7 --n 300 [--leakhound PATH] [--threads 2] [--families] [--list FAMILY]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use leakhound_core::Verdict;
use leakhound_corpus::{Mode, evaluate_library, files, generate, summarize};

struct Args {
    cmd: String,
    seed: u64,
    n: usize,
    out: Option<PathBuf>,
    leakhound: Option<PathBuf>,
    threads: usize,
    families: bool,
    list: Option<String>,
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
                None => evaluate_library(&items, a.threads),
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
                if a.leakhound.is_some() {
                    " via leakhound analyze"
                } else {
                    " in-process"
                }
            );
            print!("{}", report.summary_table());
            if a.families {
                println!();
                print!("{}", report.family_table());
            }
            if let Some(f) = &a.list {
                for (it, (e, o)) in items.iter().zip(&outcomes) {
                    if it.family == f.as_str() || f == "errors" && is_error(it, e, o) {
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
                        }
                        println!(
                            "       end: {}\n       onl: {}",
                            leakhound_detect::analyze(&it.series, &opts).reason,
                            leakhound_detect::analyze_online(&it.series, &opts).reason
                        );
                    }
                }
            }
            let _ = Mode::Online;
        }
        _ => bail!(
            "usage: leakhound-corpus generate|score --seed N --n N [--out DIR] [--leakhound PATH] [--families] [--list FAMILY|errors]"
        ),
    }
    Ok(())
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
