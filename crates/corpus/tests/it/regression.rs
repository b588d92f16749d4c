//! A small seeded corpus, scored in-process: recall and false-positive floors (set a little
//! below what the detector reaches on the tuning seed, so a regression fails), causality of
//! every online alarm, determinism of the generator and the files it writes.

use leakhound_core::{Series, SeriesVerdict, Unit, Verdict};
use leakhound_corpus::{Class, Mode, evaluate_library, generate, generate_one, summarize};
use leakhound_detect::{DetectOptions, analyze_online};

/// Seed of the regression corpus (not the tuning seed 1).
const SEED: u64 = 11;
/// Seven rounds of the family rotation (about 8 s with the optimised detector).
const N: usize = 301;
/// Bytes in a mebibyte.
const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn r4_small_corpus_meets_recall_and_fpr_floors() {
    let items = generate(SEED, N);
    let out = evaluate_library(&items, 2, false);
    let r = summarize(&items, &out);
    let get = |m: Mode, c: Class| &r.by_class[&(m, c)];
    let table = r.summary_table();
    // The targets are end of run recall ≥ 90 % at FPR ≤ 2 %, online recall ≥ 90 % at
    // FPR ≤ 5 %. The detector does not reach all of them yet (see crates/corpus/README.md:
    // on this seed end of run is 94.8 %/1.6 % memory, 97.6 %/0 % resources; online
    // 80.5 %/10.3 % and 92.9 %/17.9 %); these floors sit just under today's figures and catch
    // regressions.
    for (c, online_fpr) in [(Class::Memory, 0.12), (Class::Resource, 0.19)] {
        let e = get(Mode::EndOfRun, c);
        assert!(e.recall() >= 0.92, "end-of-run {c:?} recall\n{table}");
        assert!(e.fpr() <= 0.03, "end-of-run {c:?} FPR\n{table}");
        let o = get(Mode::Online, c);
        assert!(o.recall() >= 0.76, "online {c:?} recall\n{table}");
        assert!(o.fpr() <= online_fpr, "online {c:?} FPR\n{table}");
    }
    // No alarm before a mid-run onset may slip through unnoticed in bulk.
    let prem: usize = r
        .by_class
        .iter()
        .filter(|((m, _), _)| *m == Mode::Online)
        .map(|(_, s)| s.premature)
        .sum();
    assert!(prem <= 2, "premature alarms: {prem}\n{table}");
}

#[test]
fn r4_online_alarms_on_the_corpus_are_causal() {
    let o = DetectOptions::default();
    let items = generate(SEED + 1, 86);
    let mut alarms = 0;
    for it in &items {
        let v = analyze_online(&it.series, &o);
        let Some(at) = v.detected_at_s else { continue };
        alarms += 1;
        let cut = analyze_online(&it.series.prefix_until(at), &o);
        assert_eq!(
            cut.verdict,
            Verdict::Leak,
            "series {} ({})",
            it.id,
            it.family
        );
        assert_eq!(
            cut.detected_at_s,
            Some(at),
            "series {} ({})",
            it.id,
            it.family
        );
    }
    assert!(alarms >= 20, "only {alarms} alarms to check");
}

/// A leak made twice as strong is at least as plain to see; the rules that weigh a leak
/// against the rest of the series (a pool's swing, a one-off step, a burst that gives back most
/// of what it took) can still tip the other way. On this corpus 2 of 215 leak verdicts and
/// alarms are lost at ×2 (two leaks that grow with bursts of load: "stepped up 2 times but is
/// flat between the steps", "may be rising"); the ceiling catches a rule that breaks this in
/// bulk.
#[test]
fn a_stronger_leak_is_seldom_less_of_a_leak() {
    use leakhound_corpus::monotone;
    let items = generate(SEED, N);
    let pairs = monotone::run(&items, 2.0, &DetectOptions::default(), 2, false);
    assert_eq!(pairs.len(), items.iter().filter(|it| it.leak).count());
    let found = pairs
        .iter()
        .filter(|p| p.end.0.verdict == Verdict::Leak)
        .count()
        + pairs
            .iter()
            .filter(|p| p.online.0.verdict == Verdict::Leak)
            .count();
    let lost: Vec<String> = pairs
        .iter()
        .filter(|p| p.end_lost() || p.online_lost())
        .map(|p| format!("#{} {}", p.id, p.family))
        .collect();
    assert!(found >= 200, "only {found} leak verdicts to check");
    assert!(lost.len() <= 4, "lost at ×2: {lost:?}");
}

#[test]
fn a_scaled_leak_keeps_its_times_and_whole_counts() {
    use leakhound_corpus::monotone::scaled;
    let items = generate(5, 43);
    let healthy = items.iter().find(|it| !it.leak).unwrap();
    assert!(scaled(healthy, 2.0).is_none());
    for it in items.iter().filter(|it| it.leak) {
        let s = scaled(it, 3.0).unwrap();
        assert_eq!(s.t, it.series.t);
        for ((a, b), l) in it.series.v.iter().zip(&s.v).zip(&it.leak_part) {
            if it.class == Class::Resource {
                assert_eq!(*b, (a + 2.0 * l).round());
                assert_eq!(b.fract(), 0.0);
            } else {
                assert!((b - (a + 2.0 * l)).abs() <= 1e-6 * a.abs().max(1.0));
            }
        }
    }
}

#[test]
fn generator_is_deterministic_and_seeds_differ() {
    let a = generate(5, 43);
    let b = generate(5, 43);
    let c = generate(6, 43);
    for ((x, y), z) in a.iter().zip(&b).zip(&c) {
        assert_eq!(x.series, y.series);
        assert_eq!(x.family, z.family);
    }
    assert!(a.iter().zip(&c).any(|(x, z)| x.series != z.series));
    // Every family appears, with leaks and healthy series of both classes.
    assert!(a.iter().any(|i| i.leak && i.class == Class::Memory));
    assert!(a.iter().any(|i| !i.leak && i.class == Class::Resource));
}

#[test]
fn corpus_files_hold_every_series_and_a_label_line_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = generate(3, 10);
    let paths =
        leakhound_corpus::files::write_corpus(dir.path(), &items, false).expect("write corpus");
    assert_eq!(paths.len(), 10);
    let labels = std::fs::read_to_string(dir.path().join("labels.csv")).expect("labels");
    assert_eq!(labels.lines().count(), 11);
    let first = std::fs::read_to_string(&paths[0]).expect("series file");
    assert!(first.starts_with("t_seconds,"));
    assert_eq!(first.lines().count(), items[0].series.len() + 1);
}

/// A corpus written on Unix time (another generator's, a Prometheus export labelled by hand)
/// scores as the same corpus on a clock from 0: the onsets in its labels count from each
/// series' first sample, and the detector judges only the time since it.
#[test]
fn a_corpus_on_unix_time_scores_as_on_its_own_clock() {
    let items = generate(5, 24);
    let (here, moved) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    leakhound_corpus::files::write_corpus(here.path(), &items, false).expect("write corpus");
    let origin = 1_764_000_000.0;
    for entry in std::fs::read_dir(here.path()).expect("list corpus") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read file");
        let name = path.file_name().expect("file name");
        let text = if name == "labels.csv" {
            text
        } else {
            let mut lines = text.lines();
            let mut out = format!("{}\n", lines.next().expect("header"));
            for line in lines {
                let (t, rest) = line.split_once(',').expect("two cells");
                let t: f64 = t.parse().expect("time");
                out.push_str(&format!("{:.3},{rest}\n", t + origin));
            }
            out
        };
        std::fs::write(moved.path().join(name), text).expect("write file");
    }
    let score = |dir: &std::path::Path| {
        let items = leakhound_corpus::files::read_corpus(dir).expect("read corpus");
        let out = evaluate_library(&items, 2, false);
        (summarize(&items, &out).summary_table(), out)
    };
    let ((table_here, out_here), (table_moved, out_moved)) =
        (score(here.path()), score(moved.path()));
    assert_eq!(table_here, table_moved);
    let mut alarms = 0;
    for ((end_a, online_a), (end_b, online_b)) in out_here.iter().zip(&out_moved) {
        for (a, b) in [(end_a, end_b), (online_a, online_b)] {
            assert_eq!(a.verdict, b.verdict);
            if let Some(at) = a.detected_at_s {
                alarms += 1;
                assert!((b.detected_at_s.expect("moved alarm") - origin - at).abs() < 1e-3);
            }
        }
    }
    assert!(alarms > 0);
}

#[test]
fn a_corpus_written_to_disk_reads_back_with_its_labels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = generate(5, 24);
    leakhound_corpus::files::write_corpus(dir.path(), &items, true).expect("write corpus");
    let back = leakhound_corpus::files::read_corpus(dir.path()).expect("read corpus");
    assert_eq!(back.len(), items.len());
    for (a, b) in items.iter().zip(&back) {
        assert_eq!(
            (a.family, a.class, a.leak, a.series.unit),
            (b.family, b.class, b.leak, b.series.unit)
        );
        assert_eq!(a.onset_s.is_some(), b.onset_s.is_some());
        assert!((a.onset_s.unwrap_or(0.0) - b.onset_s.unwrap_or(0.0)).abs() < 1e-3);
        assert_eq!(a.series.v, b.series.v);
        assert_eq!(a.series.len(), b.requests.len());
        // Times are written to the millisecond.
        assert!(
            a.series
                .t
                .iter()
                .zip(&b.series.t)
                .all(|(x, y)| (x - y).abs() <= 5e-4)
        );
        // No leak_part column in files written for `leakhound analyze`.
        assert!(b.leak_part.is_empty());
    }
}

#[test]
fn another_generators_corpus_needs_only_file_and_leak_labels_and_value_columns() {
    // The issue's own format: `t_seconds,value` series and labels that say little more than
    // which file leaks. Scored, it must read as the same corpus with every label given.
    let dir = tempfile::tempdir().expect("temp dir");
    let items = generate(5, 48);
    let paths =
        leakhound_corpus::files::write_corpus(dir.path(), &items, false).expect("write corpus");
    let mut labels = String::from("file,leak\n");
    for (it, p) in items.iter().zip(&paths) {
        let text = std::fs::read_to_string(p).expect("series file");
        let (head, rest) = text.split_once('\n').expect("header");
        assert!(head.starts_with("t_seconds,"), "{head}");
        std::fs::write(p, format!("t_seconds,value\n{rest}")).expect("rewrite");
        let name = p.file_name().unwrap().to_string_lossy();
        labels.push_str(&format!("{name},{}\n", if it.leak { 1 } else { 0 }));
    }
    std::fs::write(dir.path().join("labels.csv"), labels).expect("labels");
    let back = leakhound_corpus::files::read_corpus(dir.path()).expect("read corpus");
    assert_eq!(back.len(), items.len());
    for (a, b) in items.iter().zip(&back) {
        assert_eq!((a.class, a.leak), (b.class, b.leak), "{}", a.family);
        assert_eq!(b.series.unit, Unit::Count);
        assert!(
            (b.interval_s / a.interval_s - 1.0).abs() < 0.5,
            "{}",
            a.family
        );
        assert!(b.base > 0.0, "{}", a.family);
    }
    // Judged the same, series by series, online and at the end of the run (alarm times may
    // move a little: the files hold times to the millisecond, and online checkpoints follow
    // them).
    let full = evaluate_library(&items, 2, false);
    let bare = evaluate_library(&back, 2, false);
    for ((it, f), b) in items.iter().zip(&full).zip(&bare) {
        assert_eq!(f.0.verdict, b.0.verdict, "end of run, {}", it.family);
        assert_eq!(f.1.verdict, b.1.verdict, "online, {}", it.family);
    }
}

#[test]
fn a_corpus_with_a_broken_label_line_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let items = generate(5, 3);
    leakhound_corpus::files::write_corpus(dir.path(), &items, false).expect("write corpus");
    let lp = dir.path().join("labels.csv");
    let labels = std::fs::read_to_string(&lp).expect("labels");
    let broken = labels.replacen(",memory,", ",mem,", 1);
    std::fs::write(&lp, broken).expect("write labels");
    let err = leakhound_corpus::files::read_corpus(dir.path())
        .expect_err("an unknown class is an error")
        .to_string();
    assert!(err.contains("line 2") && err.contains("`mem`"), "{err}");
}

/// The independent generator (crates/corpus/independent/gen.py, written from the text
/// alone, never tuned on) at a seed used for no development: end-of-run floors a little under
/// today's figures (memory 89 % recall at 7.7 % false positives, resources 88 % at 2.9 %), so
/// a change that only fits the detector to its own generator shows here. Before collections
/// were told from restarts, memory false positives were 9.2 % (6 of 65).
#[test]
fn r4_independent_corpus_meets_end_of_run_floors() {
    let items = independent_corpus(7, 180);
    assert_eq!(items.len(), 180);
    let r = summarize(&items, &evaluate_library(&items, 2, false));
    let table = r.summary_table();
    let mem = &r.by_class[&(Mode::EndOfRun, Class::Memory)];
    assert!(mem.recall() >= 0.86, "memory recall\n{table}");
    assert!(mem.fpr() <= 0.085, "memory FPR\n{table}");
    let res = &r.by_class[&(Mode::EndOfRun, Class::Resource)];
    assert!(res.recall() >= 0.84, "resource recall\n{table}");
    assert!(res.fpr() <= 0.04, "resource FPR\n{table}");
}

/// The first `n` series of the independent generator (`independent/gen.py`) for `seed`.
fn independent_corpus(seed: u64, n: usize) -> Vec<leakhound_corpus::Item> {
    let dir = tempfile::tempdir().expect("temp dir");
    let gen_py = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("independent/gen.py");
    let out = std::process::Command::new("python3")
        .arg(&gen_py)
        .args([
            "--quiet",
            "--seed",
            &seed.to_string(),
            "--n",
            &n.to_string(),
        ])
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("python3 runs (.ci/run installs it)");
    assert!(
        out.status.success(),
        "gen.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    leakhound_corpus::files::read_corpus(dir.path()).expect("read the corpus")
}

/// Judge each generated series (seed, index), online or at the end of a run, and check that it
/// is labelled `leak` and judged a leak exactly when it is one; the verdicts, in order.
fn assert_judged(items: &[(u64, usize)], online: bool, leak: bool) -> Vec<SeriesVerdict> {
    let o = DetectOptions::default();
    items
        .iter()
        .map(|&(seed, i)| {
            let item = generate_one(seed, i);
            assert_eq!(item.leak, leak, "seed {seed} #{i} {}", item.family);
            let v = if online {
                analyze_online(&item.series, &o)
            } else {
                leakhound_detect::analyze(&item.series, &o)
            };
            assert_eq!(
                v.verdict == Verdict::Leak,
                leak,
                "seed {seed} #{i} {}: {}",
                item.family,
                v.reason
            );
            v
        })
        .collect()
}

/// Each of these generated series (seed, index) is a leak and is judged one at the end of a run.
fn assert_leaks(items: &[(u64, usize)]) {
    assert_judged(items, false, true);
}

/// Every verdict's reason names the floor it was found on.
fn assert_floor(v: &[SeriesVerdict], floor: &str) {
    let reasons: Vec<&String> = v.iter().map(|v| &v.reason).collect();
    assert!(reasons.iter().all(|r| r.contains(floor)), "{reasons:?}");
}

#[test]
fn a_load_bursts_end_is_no_restart() {
    // Two leaks growing with bursty load whose first burst ended in a fall as big as a
    // restart's (a 75 % spike in one envelope bin; a pool 60 % larger for 17 minutes):
    // judged only on what came after that "restart", neither was a leak. (Seed 404 #240,
    // seed 202 #171.)
    assert_leaks(&[(404, 240), (202, 171)]);
}

#[test]
fn a_slow_leak_under_a_warm_up_counts_at_its_own_rate() {
    // Slow leaks under a warm-up whose recent half rises significantly, at a rate that makes
    // more than `min_growth` over the window but less than that within the half alone: they
    // were "levelled off" when the half had to make `min_growth` on its own. (Seed 606 #24
    // and #153, seed 1010 #239.)
    assert_leaks(&[(606, 24), (606, 153), (1010, 239)]);
}

#[test]
fn a_leak_between_load_bursts_is_judged_without_them() {
    // Leaks that grow with bursty load: with each burst's raised bins masked out, the floor
    // between them (a slow sawtooth's cycle floors, a steady rise) carries the leak, but the
    // cuts planned with the bursts in view hid it ("flat", "inconclusive"). The masked
    // envelope is now judged again, its joins never cut as steps. (Seed 101 #283, seed 505
    // #283, seed 404 #197.)
    assert_leaks(&[(101, 283), (505, 283), (404, 197)]);
}

#[test]
fn a_noisy_floor_that_dips_early_is_no_load_given_back() {
    // Leaks whose envelope is noisy (Go's and Node's collectors seen at 30-47 s scrapes, fd
    // counts of a few dozen) and happened to fall over their first 5-9 bins, by no more than
    // 1.5-10 times their bin-to-bin noise: they were "memory follows load". (Seed 404 #63,
    // seed 909 #279 and #170, seed 505 #169, seed 7 #234.)
    assert_leaks(&[(404, 63), (909, 279), (909, 170), (505, 169), (7, 234)]);
    // The nights of daily cycles, which fall 16-28 times their noise over a quarter of the
    // window, are still load given back. (Seeds 1, 303, 606 and 909 #186, seed 11 #143.)
    assert_judged(
        &[(1, 186), (303, 186), (606, 186), (909, 186), (11, 143)],
        false,
        false,
    );
}

#[test]
fn steps_that_keep_coming_in_the_recent_half_are_a_staircase() {
    // Counts growing with bursty load whose early growth was gradual and whose recent half
    // rose in two steps: cut as one-off shifts, those steps left a flat recent half and the
    // rise "levelled off"; no online alarm came. (Seed 303 #214, seed 505 #171.)
    for v in assert_judged(&[(303, 214), (505, 171)], true, true) {
        assert!(v.reason.contains("kept stepping up"), "{}", v.reason);
    }
}

/// A thread count of 40 (integer noise of ±1) over 6 h, scraped every 15 s, that steps up by
/// `size` threads at each of `steps` (seconds), for good.
fn count_with_steps(steps: &[f64], size: f64) -> Series {
    let mut noise = integer_noise(0x9e37_79b9, 1);
    count_series("threads", Unit::Threads, 15.0, 6.0 * 3600.0, |x| {
        let stranded = steps.iter().filter(|&&s| x >= s).count() as f64 * size;
        40.0 + stranded + noise()
    })
}

#[test]
fn a_count_that_keeps_stepping_up_to_the_end_is_a_leak_in_incidents() {
    // Threads stranded by an error path, a few at a time in incidents at 1.8, 3.7 and 5.6 h of
    // a 6 h run: each step cut as a one-off shift, the flat stretches between them showed no
    // trend ("thread count stepped up 3 times but is flat between the steps"; independent
    // corpus family res_leak_error_bursts, seeds 4, 7 and 8).
    let o = DetectOptions::default();
    let hour = 3600.0;
    for steps in [
        &[1.8 * hour, 3.7 * hour, 5.6 * hour][..],
        &[2.5 * hour, 5.5 * hour],
    ] {
        let v = leakhound_detect::analyze(&count_with_steps(steps, 4.0), &o);
        assert_eq!(v.verdict, Verdict::Leak, "{steps:?}: {}", v.reason);
        assert!(v.reason.contains("steps that keep coming"), "{}", v.reason);
        // Online, every checkpoint just after a step sees a recent one: no alarm from it.
        let v = leakhound_detect::analyze_online(&count_with_steps(steps, 4.0), &o);
        assert_ne!(v.verdict, Verdict::Leak, "{steps:?} online: {}", v.reason);
    }
    // One-off steps that are done (the last one long before the end, or one step alone) and
    // steps that are given back are no leak.
    for steps in [
        &[0.5 * hour, 2.0 * hour][..],
        &[1.0 * hour, 2.0 * hour, 3.5 * hour],
        &[5.7 * hour],
    ] {
        let v = leakhound_detect::analyze(&count_with_steps(steps, 4.0), &o);
        assert_ne!(v.verdict, Verdict::Leak, "{steps:?}: {}", v.reason);
    }
    let mut noise = integer_noise(0x9e37_79b9, 1);
    let batch = count_series("threads", Unit::Threads, 15.0, 6.0 * hour, |x| {
        let up = [1.8, 3.7, 5.6].iter().filter(|&&s| x >= s * hour).count() as f64;
        let down = [2.9, 4.8].iter().filter(|&&s| x >= s * hour).count() as f64;
        40.0 + 4.0 * (up - down) + noise()
    });
    let v = leakhound_detect::analyze(&batch, &o);
    assert_ne!(v.verdict, Verdict::Leak, "batches: {}", v.reason);
}

#[test]
fn a_warm_up_whose_steep_start_is_cut_as_a_step_still_levels_off() {
    // Growth that flattens (a square root), a warm-up after a restart and a socket pool warming
    // to its size, each with a first envelope bin so far under the rest that it was cut as a
    // one-off step: with a cut, no plateau model was fitted and the slow tail read as a leak
    // (at the end of the run for the first two, online for the pool). The plateau is now
    // fitted to what follows the step. (Seed 7 #266, seed 11 #188, seed 303 #116.)
    assert_judged(&[(7, 266), (11, 188)], false, false);
    assert_judged(&[(303, 116)], true, false);
}

#[test]
fn a_step_that_ramps_up_and_stays_is_not_a_leak_at_the_end_of_a_run() {
    // Independent seed 4 #224: a one-off step, then a second one that ramped up over seven
    // envelope bins and stayed flat for the last twelve. With both cut, the recent half held
    // two blocks and no curvature was measured, so the ramp read as a rise still going on
    // ("memory floor rises 324 KiB/h for 6.5 h"); the curvature of its last block shows it
    // bent over.
    let item = independent_corpus(4, 225).swap_remove(224);
    assert!(!item.leak, "{}", item.family);
    let v = leakhound_detect::analyze(&item.series, &DetectOptions::default());
    assert_ne!(v.verdict, Verdict::Leak, "{}: {}", item.family, v.reason);
}

#[test]
fn restarts_that_miss_a_scrape_make_oom_kill_cycles() {
    // OOM-kill cycles whose restarts each lose one scrape (a gap of about two intervals) and
    // give back less than a restart's 45 %: with no fall counted as a restart they read as a
    // collector's sawtooth and came out inconclusive. (Seed 303 #113, seed 909 #285.)
    assert_leaks(&[(303, 113), (909, 285)]);
}

#[test]
fn one_outage_inside_a_slow_sawtooth_makes_no_oom_kill_cycles() {
    // A slow collector's sawtooth (climbs of 30 % over 3.5 h, each given back in one
    // collection, the floor drifting slowly down) with one scrape outage across a fall: that
    // one fall looks like a restart, the other three do not. Judged as OOM-kill cycles (every
    // climb "reset by a restart") it was a leak for most placements of the outage; its floors
    // do not rise (independent corpus seed 2 #192 was one).
    let (dt, period, base) = (30.0, 12_600.0, 190e6);
    for (before, after) in [
        (60.0, 300.0),
        (300.0, 600.0),
        (600.0, 600.0),
        (900.0, 300.0),
    ] {
        let (mut t, mut v) = (Vec::new(), Vec::new());
        let mut seed = 0x2545_f491_u64;
        let mut noise = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let outage = (2.0 * period - before)..(2.0 * period + after);
        let mut x: f64 = 0.0;
        while x < 56_000.0 {
            if !outage.contains(&x) {
                let phase = (x % period) / period;
                let floor = base * (1.0 - 0.05 * x / 56_000.0);
                t.push(x);
                v.push(floor * (1.0 + 0.3 * phase) + 0.004 * base * noise());
            }
            x += dt * (1.0 + 0.1 * noise());
        }
        let series = leakhound_core::Series {
            name: "rss_bytes".into(),
            unit: leakhound_core::Unit::Bytes,
            t,
            v,
        };
        let v = leakhound_detect::analyze(&series, &DetectOptions::default());
        assert_ne!(
            v.verdict,
            Verdict::Leak,
            "outage {before} s before the fall, {after} s after: {}",
            v.reason
        );
    }
}

/// A collector's sawtooth sampled every second: each climb adds `climb` bytes on `floor` at a
/// steady rate for its own duration, then one collection gives it back (and `leak_per_s` more
/// bytes stay behind each second). Deterministic noise of ±0.3 % of the floor.
fn node_like_sawtooth(durations: &[f64], floor: f64, climb: f64, leak_per_s: f64) -> Series {
    let (mut t, mut v) = (Vec::new(), Vec::new());
    let mut seed = 0x9e37_79b9_u64;
    let mut noise = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        ((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5
    };
    let mut x = 0.0;
    for &d in durations {
        let start = x;
        while x < start + d {
            let into = (x - start) / d;
            t.push(x);
            v.push(floor + leak_per_s * x + climb * into + 0.006 * floor * noise());
            x += 1.0;
        }
    }
    Series {
        name: "rss_bytes".into(),
        unit: Unit::Bytes,
        t,
        v,
    }
}

#[test]
fn a_climb_after_one_collection_is_no_online_alarm_until_it_passes_the_old_level() {
    // Early in a run a Node or JVM heap has collected once and climbs again: the envelope
    // since that fall rises steadily, but only back to where the climb before it ended.
    // Independent corpus seed 2 #75 (a Node sawtooth of 40-135 s climbs at 1 s) alarmed 46 s
    // after its first collection.
    let (floor, climb) = (430.0 * MIB, 180.0 * MIB);
    // Three climbs (4.4 min): the old detector alarmed 2 s into the third.
    let healthy = node_like_sawtooth(&[40.0, 134.0, 90.0], floor, climb, 0.0);
    let v = analyze_online(&healthy, &DetectOptions::default());
    assert_ne!(v.verdict, Verdict::Leak, "{}", v.reason);
    // The same sawtooth over a leak of 0.1 %/s of its floor still alarms once the climbs
    // pass the old levels.
    let leaking = node_like_sawtooth(
        &[40.0, 134.0, 90.0, 150.0, 70.0, 120.0, 100.0],
        floor,
        climb,
        0.001 * floor,
    );
    let v = analyze_online(&leaking, &DetectOptions::default());
    assert_eq!(v.verdict, Verdict::Leak, "{}", v.reason);
}

/// A socket pool that follows load, scraped every 10 s for 6 h from the middle of a busy hour:
/// busy stretches of an hour (a 10-minute ramp up to `busy` more sockets, 40 minutes there, a
/// 10-minute ramp down) between quiet hours of 50 minutes, on a floor of 60 sockets that gains one socket every
/// `leak_every_s` seconds (never, when 0). Deterministic noise of up to ±2 sockets.
fn pool_following_load(busy: f64, leak_every_s: f64) -> Series {
    let mut noise = integer_noise(0x2545_f491, 2);
    let period = 7200.0;
    // From the middle of a busy hour to the end of the third quiet hour after it.
    count_series("sockets", Unit::Sockets, 10.0, 3.0 * period, |x| {
        let phase = (x + 3600.0) % period;
        let pool = match phase {
            p if p < 3000.0 => 0.0,
            p if p < 3600.0 => busy * (p - 3000.0) / 600.0,
            p if p < 6000.0 => busy,
            p if p < 6600.0 => busy * (6600.0 - p) / 600.0,
            _ => 0.0,
        };
        let leaked = if leak_every_s > 0.0 {
            (x / leak_every_s).floor()
        } else {
            0.0
        };
        (60.0 + pool + leaked + noise()).round().max(0.0)
    })
}

/// Deterministic integer noise, each value uniform over −`k`..=`k` (a linear congruential
/// generator started at `seed`): the jitter of a scraped count.
fn integer_noise(seed: u64, k: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 33) % (2 * k + 1)) as f64 - k as f64
    }
}

/// A count named `name` scraped every `step` seconds from 0 to `span`: `value(t)` at each.
fn count_series(
    name: &str,
    unit: Unit,
    step: f64,
    span: f64,
    mut value: impl FnMut(f64) -> f64,
) -> Series {
    let (mut t, mut v) = (Vec::new(), Vec::new());
    let mut x: f64 = 0.0;
    while x <= span {
        t.push(x);
        v.push(value(x));
        x += step;
    }
    Series {
        name: name.into(),
        unit,
        t,
        v,
    }
}

#[test]
fn a_count_leak_under_a_pool_that_follows_load_is_found_where_load_is_quiet() {
    // The pool's busy hours add 200 sockets and give them back; a trend on the whole envelope
    // sees humps, and the latest stretch ends on its way down. The floor of the quiet hours
    // rises by one socket every 10 minutes (independent corpus family res_leak_under_pool,
    // found at the end of runs only 25-50 % of the time before the quiet floor was judged).
    let leaking = pool_following_load(200.0, 600.0);
    let opts = DetectOptions {
        limit: Some(400.0),
        ..DetectOptions::default()
    };
    let v = leakhound_detect::analyze(&leaking, &opts);
    assert_eq!(v.verdict, Verdict::Leak, "{}", v.reason);
    assert!(v.reason.contains("where load is quiet"), "{}", v.reason);
    // A limit of 400 sockets is reached when a busy hour (+200) on the leaked floor (about 95
    // by now) gets there: in about (400 - 295) / 6 per hour = 17.5 h, not the floor's 50 h.
    let ttl_h = v
        .time_to_limit_s
        .expect("a leak with a limit has a time to it")
        / 3600.0;
    assert!((14.0..22.0).contains(&ttl_h), "time to limit {ttl_h} h");
    // The same pool without the leak comes back to the same floor every quiet hour.
    let healthy = pool_following_load(200.0, 0.0);
    let v = leakhound_detect::analyze(&healthy, &DetectOptions::default());
    assert_ne!(v.verdict, Verdict::Leak, "{}", v.reason);
}

/// A pool of `base` sockets that follows random load bursts (3-8 bursts of 10-60 minutes each,
/// +50-200 % of `base`, with 5-minute ramps) over 2-12 h scraped every 10 s, plus `leak`
/// sockets gained evenly over the run; deterministic from `seed`, noise of up to ±2 sockets.
fn pool_with_bursts(seed: u64, base: f64, leak: f64) -> Series {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let span = 3600.0 * (2.0 + 10.0 * uniform());
    let bursts: Vec<(f64, f64, f64)> = (0..3 + (uniform() * 6.0) as usize)
        .map(|_| {
            let len = 600.0 + 3000.0 * uniform();
            let start = uniform() * (span - len);
            (start, len, base * (0.5 + 1.5 * uniform()))
        })
        .collect();
    let (mut t, mut v) = (Vec::new(), Vec::new());
    let mut x = 0.0;
    while x <= span {
        let busy: f64 = bursts
            .iter()
            .map(|&(s, len, h)| {
                let ramp = ((x - s).min(s + len - x) / 300.0).clamp(0.0, 1.0);
                h * ramp
            })
            .sum();
        let noise = (uniform() * 5.0).floor() - 2.0;
        t.push(x);
        v.push((base + busy + leak * x / span + noise).round().max(0.0));
        x += 10.0;
    }
    Series {
        name: "sockets".into(),
        unit: Unit::Sockets,
        t,
        v,
    }
}

#[test]
fn pools_that_follow_random_load_bursts_are_no_leak_at_the_end_of_a_run() {
    // The quiet floor of a pool that gives back what each burst took stays where it was: of
    // forty random burst patterns, none may be called a leak. Seed 38 was (overlapping bursts
    // keep the pool busy for two hours, and the trend on the whole floor read that as a rise)
    // until a count back at its starting floor at the end counted as given back.
    // With a leak of 15 % of the base over the run, 36 of the same patterns are found (25
    // before the idle floor was judged).
    let o = DetectOptions::default();
    let mut false_alarms = Vec::new();
    let mut found = 0;
    for seed in 0..40 {
        let healthy = pool_with_bursts(seed, 80.0, 0.0);
        let v = leakhound_detect::analyze(&healthy, &o);
        if v.verdict == Verdict::Leak {
            false_alarms.push((seed, v.reason));
        }
        let leaking = pool_with_bursts(seed, 80.0, 12.0);
        if leakhound_detect::analyze(&leaking, &o).verdict == Verdict::Leak {
            found += 1;
        }
    }
    assert!(false_alarms.is_empty(), "false alarms: {false_alarms:?}");
    assert!(found >= 33, "{found} of 40 leaks under bursts found");
}

/// A socket pool of 200 that follows a day of load (a smooth daily cycle adding up to 80
/// sockets at noon, quiet around midnight), scraped every minute from 22:00 to 02:00 the day
/// after, plus `leak` sockets gained evenly over those 28 h; deterministic noise of up to ±2
/// sockets.
fn pool_over_a_day(leak: f64) -> Series {
    let mut noise = integer_noise(0x5851_f42d, 2);
    let (day, span) = (86_400.0, 28.0 * 3600.0);
    count_series("sockets", Unit::Sockets, 60.0, span, |x| {
        let hour = (x - 2.0 * 3600.0) / day;
        let busy = 80.0 * (0.5 - 0.5 * (std::f64::consts::TAU * hour).cos()).powi(2);
        (200.0 + busy + leak * x / span + noise()).round()
    })
}

#[test]
fn a_leak_that_lifts_the_second_night_of_a_daily_pool_is_found() {
    // The leak's 30 sockets lift the second night above the lowest quarter of the day's
    // range measured from the first one, so no quiet bin was seen at the end of the run; on
    // the envelope's lower hull both nights are quiet and the floor between them rises
    // (independent corpus family res_leak_under_pool, daily variant).
    assert_quiet_floor_leak(&pool_over_a_day(30.0), &pool_over_a_day(0.0));
}

/// `leaking` is a leak found on its quiet floor ("where load is quiet") at the end of a run,
/// and `healthy`, the same pool without the leak, is not a leak.
fn assert_quiet_floor_leak(leaking: &Series, healthy: &Series) {
    let o = DetectOptions::default();
    let v = leakhound_detect::analyze(leaking, &o);
    assert_eq!(v.verdict, Verdict::Leak, "{}", v.reason);
    assert!(v.reason.contains("where load is quiet"), "{}", v.reason);
    let v = leakhound_detect::analyze(healthy, &o);
    assert_ne!(v.verdict, Verdict::Leak, "{}", v.reason);
}

/// A pool of 10 fds warming by 3 more (time constant `tau_s`) over 2-4 h scraped every 30 s,
/// with the rounded noise of a small count (σ = 1 fd); deterministic from `seed`.
fn small_pool_warming(seed: u64) -> Series {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(7);
    let mut uniform = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let span = 3600.0 * (2.0 + 2.0 * uniform());
    let tau = span * (0.02 + 0.1 * uniform());
    let (mut t, mut v) = (Vec::new(), Vec::new());
    let mut x: f64 = 0.0;
    while x <= span {
        // Box-Muller: a standard normal from two uniforms.
        let z = (-2.0 * uniform().ln()).sqrt() * (std::f64::consts::TAU * uniform()).cos();
        t.push(x);
        v.push((10.0 + 3.0 * (1.0 - (-x / tau).exp()) + z).round().max(0.0));
        x += 30.0;
    }
    Series {
        name: "fds".into(),
        unit: Unit::Fds,
        t,
        v,
    }
}

#[test]
fn small_pools_that_warm_to_their_cap_are_no_quiet_floor_rising() {
    // On the envelope's lower hull a warm-up is a rising floor and the noisy plateau after it
    // a busy stretch, but that plateau stands no higher over the floor than the warm-up rose:
    // no pool swinging by more than a leak adds (fresh corpus family pool_warm).
    let o = DetectOptions::default();
    let false_alarms: Vec<(u64, String)> = (0..100)
        .filter_map(|seed| {
            let v = leakhound_detect::analyze(&small_pool_warming(seed), &o);
            (v.verdict == Verdict::Leak).then_some((seed, v.reason))
        })
        .collect();
    assert!(false_alarms.is_empty(), "false alarms: {false_alarms:?}");
}

#[test]
fn a_sawtooth_seen_from_late_in_a_climb_keeps_its_floors() {
    // Leaks under a JVM's old generation and Node's mark-sweep, collected five times, the
    // series starting late in a climb: the stretch before the first fall was taken for a
    // floor, above the next ones, and the five rising floors after it read "flat". (Seed 707
    // #19, seed 909 #150.)
    assert_leaks(&[(707, 19), (909, 150)]);
}

#[test]
fn a_staircase_whose_late_steps_are_cut_is_judged_with_them() {
    // A staircase whose two late steps were cut as one-off shifts: its blocks rose at
    // p = 0.029, short of the verdict's level, so it was not judged again with every step
    // left in ("may be rising"). (Seed 303 #241.)
    assert_leaks(&[(303, 241)]);
}

#[test]
fn a_leak_the_percentile_floor_misses_shows_on_the_bin_minima() {
    // Leaks growing with bursty load whose bins' 10th percentile showed no significant trend
    // ("flat", "may be rising"), while the bins' minima, a quieter floor between the bursts,
    // rise at a quarter of the level: two memory series and an fd count. (Seed 101 #154, seed
    // 808 #240, seed 1010 #78.) And one whose percentile floor "levelled off" after a burst
    // while its minima's recent half rises on its own. (Seed 202 #25.)
    let v = assert_judged(
        &[(101, 154), (808, 240), (1010, 78), (202, 25)],
        false,
        true,
    );
    assert_floor(&v, "lowest sample of each time bin");
}

#[test]
fn a_count_leak_the_minima_floor_misses_shows_on_the_bin_percentile() {
    // A thread count growing with bursty load whose bins' minima were the chosen floor and
    // showed no significant trend, while the bins' 10th percentile rises at a quarter of the
    // level. (Seed 1212 #214.)
    let v = assert_judged(&[(1212, 214)], false, true);
    assert_floor(&v, "10th percentile of each time bin");
}

#[test]
fn a_leak_too_noisy_for_the_fine_floors_shows_on_twelve_coarse_bins() {
    // Leaks whose fine floors (3-8 samples a bin, their 10th percentile and their minima) "may
    // be rising" but fall short of significance: under Go's collector scraped at random
    // phases (seed 909 #20), growing with bursty load (seed 202 #154) and a slow leak in a
    // sawtooth (seed 101 #194). The lowest sample of each twelfth of the window sits close
    // enough to the floor to show the rise.
    let v = assert_judged(&[(909, 20), (202, 154), (101, 194)], false, true);
    assert_floor(&v, "lowest sample of each twelfth of the window");
}

#[test]
fn a_rise_bending_to_its_crest_is_not_judged_on_coarse_bins() {
    // A daily cycle seen for 15 h from a slight fall into a 9 % rise that bends towards its
    // crest: the fine floor "may be rising", and twelve coarse bins, too few to show the bend,
    // would read a leak. A recent half that bends down keeps the fine floor's verdict.
    // (Seed 101 #143.)
    let v = assert_judged(&[(101, 143)], false, false);
    assert_eq!(v[0].verdict, Verdict::Inconclusive, "{}", v[0].reason);
}

#[test]
fn an_online_rise_too_noisy_for_the_fine_floor_alarms_on_twelve_coarse_bins() {
    // Leaks whose chosen floor only "may be rising" at the checkpoints, online, until the end
    // of the series: a slow leak in a sawtooth (seed 101 #151), under Go's and Node's
    // collectors (seed 404 #20, 909 #63, 707 #193) and fd counts growing with bursty load
    // (seed 404 #207, 808 #78). On twelve coarse bins' minima the rise is significant and
    // persists.
    let v = assert_judged(
        &[
            (101, 151),
            (404, 20),
            (909, 63),
            (707, 193),
            (404, 207),
            (808, 78),
        ],
        true,
        true,
    );
    assert!(
        v.iter().any(|v| v
            .reason
            .contains("lowest sample of each twelfth of the window")),
        "{:?}",
        v.iter().map(|v| &v.reason).collect::<Vec<_>>()
    );
}

#[test]
fn a_leak_whose_coarse_minima_only_may_be_rising_shows_midway_between_lowest_and_highest() {
    // Leaks under Go's collector (seed 101 #235, seed 707 #106) and a JVM's (seed 1010 #105)
    // scraped at random phases: every floor, down to the lowest sample of each twelfth of the
    // window, "may be rising" but falls short of significance; the midpoint of each twelfth's
    // lowest and highest sample scatters less and shows the rise.
    let v = assert_judged(&[(101, 235), (707, 106), (1010, 105)], false, true);
    assert_floor(
        &v,
        "level: midway between the lowest and highest sample of each twelfth of the window",
    );
}

#[test]
fn an_online_rise_too_noisy_for_the_coarse_minima_alarms_on_their_midranges() {
    // Online, leaks whose chosen floor and coarse minima only "may be rising" at the
    // checkpoints: a slow leak in a sawtooth (seed 303 #108), under Go's collector (seed 606
    // #106, 707 #235), a mid-run onset (seed 1010 #152) and a leak growing with bursty load
    // (seed 404 #283). On the coarse bins' midranges the rise is significant and persists.
    let v = assert_judged(
        &[(303, 108), (606, 106), (707, 235), (1010, 152), (404, 283)],
        true,
        true,
    );
    assert!(
        v.iter()
            .any(|v| v.reason.contains("midway between the lowest and highest")),
        "{:?}",
        v.iter().map(|v| &v.reason).collect::<Vec<_>>()
    );
}

#[test]
fn a_leak_the_fine_floors_read_as_levelled_off_rises_on_twelve_coarse_bins() {
    // A leak under a warm-up, 84 samples, whose fine floors (four samples a bin, spiky) read
    // "levelled off" after the warm-up, while the recent half of twelve coarse bins' minima
    // rises significantly on its own. (Seed 202 #110.)
    let v = assert_judged(&[(202, 110)], false, true);
    assert_floor(&v, "lowest sample of each twelfth of the window");
}

/// An fd pool of 120 scraped every 15 s for 2 h: quiet for 25 minutes, a 10-minute ramp to 60
/// more fds held until the hour, then drained over 40 minutes (the last handles closing
/// slowly: 70 % of them in the first ten minutes) and quiet again for the last 25; `leak` fds
/// gained evenly over the run. Deterministic integer noise of up to ±2 fds.
fn pool_drained_slowly(leak: f64) -> Series {
    let mut noise = integer_noise(0x1b87_3593, 2);
    let span = 2.0 * 3600.0;
    count_series("fds", Unit::Fds, 15.0, span, |x| {
        let busy = match x / 60.0 {
            m if m < 25.0 => 0.0,
            m if m < 35.0 => 60.0 * (m - 25.0) / 10.0,
            m if m < 60.0 => 60.0,
            m if m < 95.0 => 60.0 * (-(m - 60.0) / 8.3).exp(),
            _ => 0.0,
        };
        (120.0 + busy + leak * x / span + noise()).round()
    })
}

#[test]
fn a_pool_that_drained_and_then_held_has_shown_its_quiet_floor() {
    // After the busy stretch the pool drains for half an hour, so the last quiet stretch
    // falls significantly as a whole and was taken for a pool still draining: the run was
    // not judged on its quiet floor, and the leak's 8 fds (7 % of the pool, hidden under a
    // swing of 60) read "flat over 2.0 h (0 fds/h …)". Its last bins held: that is the floor
    // (independent corpus family res_leak_under_pool, seed 7 #286: a daily pool).
    assert_quiet_floor_leak(&pool_drained_slowly(8.0), &pool_drained_slowly(0.0));
}

/// A pool of 11 threads scraped every 22 s for 43 minutes that follows a burst of load: 11
/// more threads from minute 5 to 28 (two minutes up, ten down); `leak` threads gained evenly
/// over the run, one at a time. Deterministic noise of up to ±1 thread.
fn small_thread_pool(leak: f64) -> Series {
    let mut noise = integer_noise(0x2f6b_9d51, 1);
    let span = 43.0 * 60.0;
    count_series("threads", Unit::Threads, 22.0, span, |x| {
        let m = x / 60.0;
        let busy = (11.0 * ((m - 5.0) / 2.0).min((28.0 - m) / 10.0).clamp(0.0, 1.0)).round();
        11.0 + busy + (leak * x / span).floor() + noise()
    })
}

#[test]
fn a_small_pools_quiet_floor_that_rises_one_thread_at_a_time_is_a_leak() {
    // Five threads leaked under a pool of 11 that swings by 11: the quiet bins tie on whole
    // threads, so Sen's lower bound on their slope sits on 0 although Mann-Kendall finds the
    // rise significant; the rise is several times the smallest growth counted (independent
    // corpus family res_leak_under_pool, seeds 3, 5 and 6).
    assert_quiet_floor_leak(&small_thread_pool(5.0), &small_thread_pool(0.0));
}

/// "Need about N more" (issue 4) is about right: on the regression corpus, a leak judged
/// inconclusive at a cut first reads leak within a few N of it at the median (on seed 11,
/// 0.94 N for memory and 1.6 N for counts at 301 series), and every check's N is positive
/// and fits the time still to come when a +N verdict is given.
#[test]
fn r4_need_about_n_more_is_about_right_for_leaks() {
    use leakhound_corpus::calibrate;
    let items = generate(SEED, 120);
    let checks = calibrate::run(&items, &DetectOptions::default(), 2);
    let table = calibrate::table(&checks);
    assert!(checks.len() >= 10, "{} checks\n{table}", checks.len());
    for c in &checks {
        assert!(c.needs_s >= 1.0 && c.seen_s > 0.0, "{c:?}");
        let span = items[c.id].series.span_s();
        assert_eq!(
            c.at_n.is_some(),
            c.seen_s + c.needs_s <= span + 1e-9,
            "{c:?}"
        );
    }
    let ratios: Vec<f64> = checks
        .iter()
        .filter(|c| c.leak)
        .filter_map(|c| c.first_leak_s.map(|f| f / c.needs_s))
        .collect();
    assert!(
        ratios.len() >= 8,
        "{} leaks read leak later\n{table}",
        ratios.len()
    );
    let median = leakhound_corpus::score::quantile(&ratios, 0.5);
    assert!(
        (0.2..=3.0).contains(&median),
        "median first leak at {median:.2} N\n{table}"
    );
}
