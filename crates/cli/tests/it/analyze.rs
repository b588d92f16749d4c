//! `leakhound analyze`: verdicts, JSON fields, online causality, bad input.

use predicates::prelude::*;

use crate::support::{json_lines, leakhound, noise, write_csv};

#[test]
fn linear_growth_is_a_leak_with_versioned_json() {
    let dir = tempfile::tempdir().unwrap();
    // 2 h at 10 s: 100 MB base, +0.5 MB per minute, 1 MB of noise.
    let f = write_csv(
        dir.path(),
        "leak.csv",
        (0..720).map(|i| {
            let t = i as f64 * 10.0;
            (t, 100e6 + t / 60.0 * 0.5e6 + 1e6 * noise(i))
        }),
    );
    let out = leakhound()
        .args(["analyze", "--json", "--limit", "1GB"])
        .arg(&f)
        .assert()
        .code(1);
    let recs = json_lines(&out.get_output().stdout);
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["verdict"], "leak");
    assert_eq!(r["leak_detected"], true);
    assert_eq!(r["series"], "value");
    assert!(r["file"].as_str().unwrap().ends_with("leak.csv"));
    let rate = r["rate_per_s"].as_f64().unwrap();
    let true_rate = 0.5e6 / 60.0;
    assert!(
        (rate - true_rate).abs() / true_rate < 0.1,
        "rate {rate} vs {true_rate}"
    );
    let ci = r["rate_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= rate && rate <= ci[1].as_f64().unwrap());
    assert!(r["growth_pct"].as_f64().unwrap() > 30.0);
    assert!(r["time_to_limit_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["detected_at_s"].as_f64().unwrap(), 7190.0);
    assert!(!r["reason"].as_str().unwrap().is_empty());
}

#[test]
fn flat_noisy_series_is_not_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_csv(
        dir.path(),
        "flat.csv",
        (0..500).map(|i| (i as f64 * 5.0, 200e6 + 3e6 * noise(i))),
    );
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(&f)
        .assert()
        .code(0);
    let r = &json_lines(&out.get_output().stdout)[0];
    assert_eq!(r["verdict"], "no_leak");
    assert_eq!(r["leak_detected"], false);
    assert!(r["detected_at_s"].is_null());
    assert!(r["time_to_limit_s"].is_null());
}

#[test]
fn online_alarm_is_causal_cut_and_rerun_gives_the_same_alarm() {
    let dir = tempfile::tempdir().unwrap();
    // Flat for 30 min, then a leak of 1 % of base per minute.
    let rows: Vec<(f64, f64)> = (0..720)
        .map(|i| {
            let t = i as f64 * 5.0;
            let leak = if t > 1800.0 {
                (t - 1800.0) / 60.0 * 1e6
            } else {
                0.0
            };
            (t, 100e6 + leak + 0.5e6 * noise(i))
        })
        .collect();
    let f = write_csv(dir.path(), "online.csv", rows.iter().copied());
    let out = leakhound()
        .args(["analyze", "--online", "--json"])
        .arg(&f)
        .assert()
        .code(1);
    let r = &json_lines(&out.get_output().stdout)[0];
    let at = r["detected_at_s"].as_f64().expect("an online alarm time");
    assert!(
        at >= 1800.0 - 60.0,
        "alarm at {at} s is before the leak's onset"
    );
    assert!(at < 3595.0, "alarm at {at} s came only at the end");
    let cut = write_csv(
        dir.path(),
        "cut.csv",
        rows.iter().copied().filter(|(t, _)| *t <= at),
    );
    let out = leakhound()
        .args(["analyze", "--online", "--json"])
        .arg(&cut)
        .assert()
        .code(1);
    let r2 = &json_lines(&out.get_output().stdout)[0];
    assert_eq!(r2["detected_at_s"].as_f64(), Some(at));
    // The text output says when the alarm was raised, not only that there is one.
    let out = leakhound()
        .args(["analyze", "--online"])
        .arg(&f)
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let n = rows.iter().filter(|(t, _)| *t <= at).count();
    assert!(
        text.contains(&format!(
            "value: alarm raised at t = {at} s, {:.0} min after the first sample (sample {n} of 720)",
            at / 60.0
        )),
        "{text}"
    );
}

/// Online, memory raises no alarm on its first 4 minutes (a starting process warms up in a line
/// as steadily as a leak); `--alarm-after` sets that wait, and needs `--online`.
#[test]
fn online_alarms_wait_for_four_minutes_of_memory_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    // 3 min at 1 s of a leak of 1 MB/s on 100 MB.
    let f = write_csv(
        dir.path(),
        "fast.csv",
        (0..180).map(|i| (i as f64, 100e6 + 1e6 * i as f64 + 0.2e6 * noise(i))),
    );
    let out = leakhound()
        .args(["analyze", "--online", "--json"])
        .arg(&f)
        .assert()
        .code(3);
    let r = &json_lines(&out.get_output().stdout)[0];
    assert_eq!(r["verdict"], "inconclusive", "{r:#}");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("no online alarm on the first 4 min of data"),
        "{reason}"
    );
    // 179 s seen, 240 s to wait: about a minute more.
    assert_eq!(r["needs_more_s"], 61.0, "{r:#}");
    let out = leakhound()
        .args(["analyze", "--online", "--alarm-after", "30s", "--json"])
        .arg(&f)
        .assert()
        .code(1);
    let r = &json_lines(&out.get_output().stdout)[0];
    let at = r["detected_at_s"].as_f64().expect("an online alarm time");
    assert!((30.0..90.0).contains(&at), "alarm at {at} s");
    // The end of the run judges all of it: a leak.
    leakhound().arg("analyze").arg(&f).assert().code(1);
    leakhound()
        .args(["analyze", "--alarm-after", "30s"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--online"));
}

#[test]
fn several_files_and_columns_give_one_json_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_csv(dir.path(), "a.csv", (0..100).map(|i| (i as f64, 10.0)));
    let b = dir.path().join("b.csv");
    let mut text = String::from("t_seconds,rss_bytes,fds\n");
    for i in 0..100 {
        text.push_str(&format!("{i},{},{}\n", 50e6 + 1e3 * noise(i), 20));
    }
    std::fs::write(&b, text).unwrap();
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(&a)
        .arg(&b)
        .assert()
        .code(0);
    let recs = json_lines(&out.get_output().stdout);
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1]["series"], "rss_bytes");
    assert_eq!(recs[1]["unit"], "bytes");
    assert_eq!(recs[2]["unit"], "fds");
    // With several files, the closing line names each leaking series with its file.
    write_csv(
        dir.path(),
        "c.csv",
        (0..100).map(|i| (i as f64 * 10.0, 50e6 + 1e5 * i as f64)),
    );
    leakhound()
        .current_dir(dir.path())
        .args(["analyze", "c.csv", "b.csv"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("verdict: LEAK in c.csv: value\n"));
}

/// A run directory's `samples.csv` leaves a metric's cells empty where the machine cannot
/// read it (PSS, swap): that column is no series, and never an "inconclusive" verdict.
#[test]
fn a_column_the_sampler_could_not_read_does_not_hold_back_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("samples.csv");
    let mut text = String::from("t_seconds,rss_bytes,pss_bytes\n");
    for i in 0..300 {
        text.push_str(&format!("{i},{},\n", 50e6 + 1e3 * noise(i)));
    }
    std::fs::write(&f, text).unwrap();
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(&f)
        .assert()
        .code(0);
    let recs = json_lines(&out.get_output().stdout);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["series"], "rss_bytes");
    assert_eq!(recs[0]["verdict"], "no_leak");
}

#[test]
fn bad_input_gives_one_clear_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str, text: &str| {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        f
    };
    let cases = [
        (dir.path().join("missing.csv"), "missing.csv: no such file"),
        (
            p("when.csv", "time,v\n2026-12-05 09:00:00,1\n09:00:15,2\n"),
            "when.csv: line 3, column time: `09:00:15` is not a date-time",
        ),
        (p("empty.csv", ""), "empty.csv: the file is empty"),
        (
            p("cell.csv", "t_seconds,v\n0,1\n1,12x\n"),
            "cell.csv: line 3, column v: `12x` is not a number",
        ),
        (
            p("back.csv", "t_seconds,v\n0,1\n5,1\n3,1\n"),
            "back.csv: line 4: time goes backwards",
        ),
        (p("nohead.csv", "0,1\n1,2\n"), "expected a header line"),
        (
            p("blank.csv", "t_seconds,v\n0,\n1,\n"),
            "blank.csv: 2 lines but no values",
        ),
    ];
    for (file, msg) in cases {
        leakhound()
            .arg("analyze")
            .arg(&file)
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(msg))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn analyze_help_has_an_example() {
    leakhound()
        .args(["analyze", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
}

/// Two hours at 10 s of bursty load (minutes of 0-400 req/s, then quiet minutes) and RSS that
/// follows the load (60 KB per req/s in flight) plus `per_request` bytes kept for every request.
fn load_csv(dir: &std::path::Path, name: &str, per_request: f64) -> std::path::PathBuf {
    let mut text = String::from("t_seconds,rss_bytes,requests_total\n");
    let mut served = 0.0;
    for i in 0..720u64 {
        let busy = (i / 6) % 2 == 0;
        let pick = ((noise(i + 7) + 1.0) * 3.0) as usize % 6;
        let rate = if busy {
            [0.0, 0.0, 20.0, 50.0, 200.0, 400.0][pick]
        } else {
            [0.0, 10.0, 30.0, 0.0, 10.0, 30.0][pick]
        };
        served += rate * 10.0;
        let rss = 200e6 + per_request * served + rate * 60e3 + 300e3 * noise(i);
        text.push_str(&format!("{},{rss:.0},{served:.0}\n", i as f64 * 10.0));
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn requests_column_is_a_covariate_bytes_retained_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let leak = load_csv(dir.path(), "leak.csv", 4096.0);
    let out = leakhound()
        .args(["analyze", "--json", "--requests", "requests_total"])
        .arg(&leak)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines = json_lines(&out);
    // One verdict: the requests column itself is the axis, not a series to judge.
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let v = &lines[0];
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["mode"], "per_request");
    assert_eq!(v["series"], "rss_bytes");
    assert_eq!(v["verdict"], "leak");
    let rate = v["rate_per_s"].as_f64().unwrap();
    assert!((rate - 4096.0).abs() < 300.0, "{v:#}");
    let ci = v["rate_ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= 4096.0 && 4096.0 <= ci[1].as_f64().unwrap() + 100.0);
    assert!(v["reason"].as_str().unwrap().contains("per request"));

    // Memory that follows the load and returns: judged against time its floor wanders with
    // the bursts; against requests served nothing is retained.
    let follows = load_csv(dir.path(), "follows.csv", 0.0);
    leakhound()
        .args(["analyze", "--requests", "requests_total"])
        .arg(&follows)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("per request of `requests_total`"))
        .stdout(predicate::str::contains("no leak"));
}

#[test]
fn a_counter_is_not_judged_for_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    // Flat memory, two counters (requests and errors: they only ever rise), and a gauge
    // misnamed `…_total` that goes up and down.
    let f = load_csv(dir.path(), "flat.csv", 0.0);
    let text = std::fs::read_to_string(&f).unwrap();
    let mut more = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            more.push_str(&format!("{line},errors_total,pool_total\n"));
        } else {
            more.push_str(&format!("{line},{},{}\n", i / 50, 40 + (i % 7)));
        }
    }
    std::fs::write(&f, more).unwrap();
    let judged = |args: &[&str]| -> (Vec<String>, Option<i32>) {
        let out = leakhound().args(args).arg(&f).assert().get_output().clone();
        let names = json_lines(&out.stdout)
            .iter()
            .map(|v| v["series"].as_str().unwrap().to_string())
            .collect();
        (names, out.status.code())
    };
    let (names, code) = judged(&["analyze", "--json"]);
    assert_eq!(names, ["rss_bytes", "pool_total"]);
    assert_ne!(code, Some(1), "{names:?}");
    // Per request and with the load taken out, the other counter is left out too.
    let (names, _) = judged(&["analyze", "--json", "--requests", "requests_total"]);
    assert_eq!(names, ["rss_bytes", "pool_total"]);
    let (names, _) = judged(&["analyze", "--json", "--load", "requests_total"]);
    assert_eq!(names, ["rss_bytes", "pool_total"]);
    leakhound()
        .arg("analyze")
        .arg(&f)
        .assert()
        .stdout(predicate::str::contains(
            "requests_total: a counter (named `…_total`: it counts up and never falls), not judged",
        ))
        .stdout(predicate::str::contains("errors_total: a counter"))
        .stdout(predicate::str::contains("LEAK").not());
    // Node's `prom-client` exports its live handles as a gauge named `…_total`: a handle
    // leak makes it rise and never fall, and it is judged, not taken for a counter.
    let handles = dir.path().join("handles.csv");
    let mut text = String::from("t_seconds,nodejs_active_handles_total\n");
    for i in 0..120 {
        text.push_str(&format!("{},{}\n", i * 10, 20 + i / 4));
    }
    std::fs::write(&handles, text).unwrap();
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(&handles)
        .assert()
        .code(1);
    let v = json_lines(&out.get_output().stdout).remove(0);
    assert_eq!(v["series"], "nodejs_active_handles_total");
    assert_eq!(v["verdict"], "leak", "{v:#}");
    // A file of counters only has nothing to judge.
    let only = dir.path().join("only.csv");
    std::fs::write(&only, "t_seconds,errors_total\n0,1\n10,3\n20,3\n30,9\n").unwrap();
    leakhound()
        .arg("analyze")
        .arg(&only)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "nothing to judge: errors_total is a counter (named `…_total`: it counts up and never falls)",
        ));
}

#[test]
fn requests_column_must_exist_and_is_end_of_run_only() {
    let dir = tempfile::tempdir().unwrap();
    let f = load_csv(dir.path(), "m.csv", 0.0);
    leakhound()
        .args(["analyze", "--requests", "reqs"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no column `reqs` for --requests (columns: rss_bytes, requests_total)",
        ))
        .stderr(predicate::str::contains("panicked").not());
    leakhound()
        .args(["analyze", "--online", "--requests", "requests_total"])
        .arg(&f)
        .assert()
        .code(2);
    // A metric's name picks its one series; with two (two jobs) it must be given in full.
    let two = dir.path().join("two.csv");
    std::fs::write(
        &two,
        "t,\"reqs{job=\"\"a\"\"}\",\"reqs{job=\"\"b\"\"}\",rss_bytes\n0,0,0,1\n1,5,5,2\n",
    )
    .unwrap();
    leakhound()
        .args(["analyze", "--requests", "reqs"])
        .arg(&two)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--requests reqs names 2 series; give one in full",
        ));
    // A rate per second (Grafana's `rate(…)` panel) falls again and again: no counter. A
    // counter reset at a restart is one.
    let mut rate = String::from("t_seconds,rss_bytes,req_rate,requests_total\n");
    for i in 0..100u64 {
        let r = 100.0 + 80.0 * noise(i);
        let total = if i < 50 { i * 300 } else { (i - 50) * 300 };
        rate.push_str(&format!(
            "{},{},{r:.1},{total}\n",
            i * 10,
            200e6 + 1e3 * i as f64
        ));
    }
    let rate_f = dir.path().join("rate.csv");
    std::fs::write(&rate_f, rate).unwrap();
    for flag in ["--requests", "--load"] {
        leakhound()
            .args(["analyze", flag, "req_rate"])
            .arg(&rate_f)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{flag} req_rate falls at"
            )))
            .stderr(predicate::str::contains(
                "not a count of requests served so far",
            ));
    }
    leakhound()
        .args(["analyze", "--requests", "requests_total"])
        .arg(&rate_f)
        .assert()
        .code(predicate::in_iter([0, 1, 3]));
    // Memory only rises: it never falls like a rate, but holds bytes, no count of requests
    // (taken for one, the leak in it was never judged).
    for flag in ["--requests", "--load"] {
        leakhound()
            .args(["analyze", flag, "rss_bytes"])
            .arg(&rate_f)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "{flag} rss_bytes holds bytes (memory), not a count of requests"
            )));
    }
}

/// Two hours at 10 s: 40 min quiet at 50 req/s, a 40 min ramp to 250 req/s, then busy; memory
/// holds 400 kB per req/s of load (work in flight) and nothing else.
fn ramp_csv(dir: &std::path::Path) -> std::path::PathBuf {
    let mut text = String::from("t_seconds,rss_bytes,requests_total\n");
    let mut served = 0.0;
    for i in 0..720u64 {
        let t = i as f64 * 10.0;
        let rate = 50.0 + 200.0 * ((t - 2400.0) / 2400.0).clamp(0.0, 1.0);
        served += rate * 10.0;
        let rss = 300e6 + 400e3 * rate + 500e3 * noise(i);
        text.push_str(&format!("{t},{rss:.0},{served:.0}\n"));
    }
    let p = dir.join("ramp.csv");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn load_column_takes_out_memory_that_follows_load() {
    let dir = tempfile::tempdir().unwrap();
    let ramp = ramp_csv(dir.path());
    // Judged over time alone, the ramp's memory is a rise with no sign of levelling off when
    // the online alarm fires.
    leakhound()
        .args(["analyze", "--online"])
        .arg(&ramp)
        .assert()
        .code(1);
    // With the load, the rise is memory per req/s, taken out: no leak, online or at the end.
    for online in [true, false] {
        let mut cmd = leakhound();
        cmd.args(["analyze", "--json", "--load", "requests_total"]);
        if online {
            cmd.arg("--online");
        }
        let out = cmd.arg(&ramp).assert().code(0).get_output().stdout.clone();
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "only rss_bytes is judged: {lines:#?}");
        let v = &lines[0];
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["verdict"], "no_leak", "{v:#}");
        assert!(
            v["reason"]
                .as_str()
                .unwrap()
                .contains("per req/s that follows load"),
            "{v:#}"
        );
    }
    // A leak of 4 kB per request under bursty load is still a leak with the load taken out.
    let leak = load_csv(dir.path(), "leak.csv", 4096.0);
    leakhound()
        .args(["analyze", "--online", "--load", "requests_total"])
        .arg(&leak)
        .assert()
        .code(1);
    leakhound()
        .args(["analyze", "--load", "reqs"])
        .arg(&ramp)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no column `reqs` for --load"))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn a_size_limit_is_not_applied_to_counts_and_a_passed_limit_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_csv(
        dir.path(),
        "both.csv",
        (0..400).map(|i| (i as f64 * 5.0, 100e6 + 20_000.0 * i as f64)),
    );
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("t_seconds,value", "t_seconds,rss_bytes");
    let fds: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l},fds\n")
            } else {
                format!("{l},{}\n", 10 + (i - 1) / 10)
            }
        })
        .collect();
    std::fs::write(&f, fds).unwrap();
    let out = leakhound()
        .args(["analyze", "--json", "--limit", "2GiB"])
        .arg(&f)
        .assert()
        .code(1);
    let recs = json_lines(&out.get_output().stdout);
    let by = |name: &str| recs.iter().find(|r| r["series"] == name).unwrap().clone();
    assert!(by("rss_bytes")["time_to_limit_s"].as_f64().unwrap() > 0.0);
    assert!(by("fds")["time_to_limit_s"].is_null(), "{:#}", by("fds"));
    assert!(by("fds")["limit"].is_null());
    // A limit the series is already past says so, not "in about 0 s".
    leakhound()
        .args(["analyze", "--limit", "1MiB"])
        .arg(&f)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "already at or above the 1.00 MiB limit",
        ));
    leakhound()
        .args(["analyze", "--limit", "0.5"])
        .arg(&f)
        .assert()
        .code(2);
}

#[test]
fn a_column_named_value_is_judged_by_its_values() {
    // The same file twice, once as `value` (as many exports name a column) and once under a name
    // that says what it counts: a thread count of about 22 that strands 3.5 threads in 44
    // minutes, scraped every 15 s and jittering by a thread or two. Judged by memory's rules
    // (no grain of whole units) it is no leak: three one-off steps.
    let dir = tempfile::tempdir().unwrap();
    let rows = || {
        (0..176).map(|i| {
            let jitter = ((i * 7) % 4) as f64 - 1.0;
            (
                i as f64 * 15.0,
                (22.0 + 3.5 * i as f64 / 175.0 + jitter).round(),
            )
        })
    };
    let generic = write_csv(dir.path(), "value.csv", rows());
    let named = dir.path().join("threads.csv");
    std::fs::write(
        &named,
        std::fs::read_to_string(&generic)
            .unwrap()
            .replace("t_seconds,value", "t_seconds,threads"),
    )
    .unwrap();
    let judge = |f: &std::path::Path| {
        let out = leakhound()
            .args(["analyze", "--json", "--limit", "2GiB"])
            .arg(f)
            .assert()
            .code(1);
        json_lines(&out.get_output().stdout).remove(0)
    };
    let (g, n) = (judge(&generic), judge(&named));
    assert_eq!(g["unit"], "count");
    assert_eq!(n["unit"], "threads");
    for k in ["verdict", "rate_per_s", "growth_abs"] {
        assert_eq!(g[k], n[k], "{k}: {g:#} vs {n:#}");
    }
    // A size limit is for memory: not applied to a count, whatever its column is called.
    assert!(g["limit"].is_null(), "{g:#}");
    // Large values in the same column are memory, and the size limit applies.
    let bytes = write_csv(
        dir.path(),
        "bytes.csv",
        (0..400).map(|i| (i as f64 * 5.0, 100e6 + 20_000.0 * i as f64)),
    );
    let b = judge(&bytes);
    assert!(b["time_to_limit_s"].as_f64().unwrap() > 0.0, "{b:#}");
    // The same memory in whole KiB (multiples of a 4 KiB page, as `VmRSS` or `ps -o rss` give
    // it) is memory too, read in bytes: the same verdict, rate and time to the size limit.
    let kib = write_csv(
        dir.path(),
        "kib.csv",
        (0..400).map(|i| {
            let b = 100e6 + 20_000.0 * i as f64;
            (i as f64 * 5.0, (b / 4096.0).round() * 4.0)
        }),
    );
    let k = judge(&kib);
    assert_eq!(k["verdict"], b["verdict"], "{k:#}");
    let (tb, tk) = (
        b["time_to_limit_s"].as_f64().unwrap(),
        k["time_to_limit_s"].as_f64().unwrap(),
    );
    assert!(
        (tk / tb - 1.0).abs() < 0.02,
        "{tb} s in bytes, {tk} s in KiB"
    );
    assert_eq!(k["limit"], b["limit"], "{k:#}");
    assert_eq!(k["unit"], "bytes", "{k:#}");
    let (rb, rk) = (
        b["rate_per_s"].as_f64().unwrap(),
        k["rate_per_s"].as_f64().unwrap(),
    );
    assert!((rk / rb - 1.0).abs() < 0.02, "{rb} B/s, {rk} B/s from KiB");
    // The human output says how a generic column was judged, and only for generic columns.
    let says = |f: &std::path::Path, what: &str| {
        leakhound()
            .arg("analyze")
            .arg(f)
            .assert()
            .code(1)
            .stdout(predicate::str::contains(what))
    };
    says(&generic, "value: the name gives no unit; judged as a count");
    says(&bytes, "value: the name gives no unit; judged as memory");
    says(
        &kib,
        "value: the name gives no unit; judged as memory in KiB (its samples are whole 4 KiB \
         pages, 10,000 KiB and up), shown in bytes",
    );
    says(&named, "LEAK").stdout(predicate::str::contains("gives no unit").not());
}

#[test]
fn a_warmup_longer_than_the_data_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_csv(dir.path(), "short.csv", (0..100).map(|i| (i as f64, 100e6)));
    leakhound()
        .args(["analyze", "--warmup", "10m"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("leaves no samples"));
    // Exactly the data's span (99 s) leaves its last sample alone: no series either.
    leakhound()
        .args(["analyze", "--warmup", "99s"])
        .arg(&f)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("leaves no samples to judge"));
}

#[test]
fn a_closed_pipe_keeps_the_verdicts_exit_code() {
    // `leakhound analyze leak.csv | head -c 1`: the leak is still exit 1 once head has gone.
    let dir = tempfile::tempdir().unwrap();
    let f = write_csv(
        dir.path(),
        "leak.csv",
        (0..400).map(|i| (i as f64 * 5.0, 100e6 + 20_000.0 * i as f64)),
    );
    let mut child = std::process::Command::new(crate::support::leakhound_path())
        .arg("analyze")
        .arg(&f)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once: every write after that meets a broken pipe.
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

#[test]
fn a_grafana_export_is_read_as_the_same_series_in_seconds() {
    // One service over 100 min at a 15 s scrape: resident memory that leaks 40 kB per sample
    // and an fd count that stays put. Written three ways: leakhound's own `t_seconds` columns,
    // Grafana's "Series joined by time" CSV (byte-order mark, every cell quoted, the series as
    // Prometheus label sets holding commas, times in milliseconds since 1970, CRLF) and its
    // "formatted data" variant (date-times, sizes with units). The verdicts, rates and growth
    // must be the same; before, the label sets' commas split the header and the milliseconds
    // were read as seconds (a rate a thousand times too small).
    let dir = tempfile::tempdir().unwrap();
    let t0_ms: u64 = 1_796_461_200_000; // 2026-12-05T09:00:00Z
    let rows: Vec<(u64, f64, f64)> = (0..400u64)
        .map(|i| {
            let mem = (300e6 + 40e3 * i as f64 + 2e5 * noise(i)).round();
            let fds = (40.0 + 2.0 * noise(i + 1000)).round();
            (i * 15, mem, fds)
        })
        .collect();
    let mut own = String::from("t_seconds,rss_bytes,fds\n");
    let mut grafana = String::from(
        "\u{feff}\"Time\",\"{__name__=\"\"process_resident_memory_bytes\"\", instance=\"\"10.0.0.7:9100\"\", job=\"\"api\"\"}\",\"{__name__=\"\"process_open_fds\"\", instance=\"\"10.0.0.7:9100\"\", job=\"\"api\"\"}\"\r\n",
    );
    let mut formatted = String::from("\"Time\",\"api\"\n");
    for &(t, mem, fds) in &rows {
        own.push_str(&format!("{t},{mem},{fds}\n"));
        grafana.push_str(&format!("\"{}\",\"{mem}\",\"{fds}\"\r\n", t0_ms + t * 1000));
        let when = jiff::Timestamp::from_second((t0_ms / 1000 + t) as i64).unwrap();
        let civil = jiff::tz::TimeZone::UTC.to_datetime(when);
        formatted.push_str(&format!(
            "\"{}\",\"{} kB\"\n",
            civil.strftime("%Y-%m-%d %H:%M:%S"),
            mem / 1e3
        ));
    }
    let write = |name: &str, text: &str| {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        f
    };
    let (own, grafana, formatted) = (
        write("own.csv", &own),
        write("grafana.csv", &grafana),
        write("formatted.csv", &formatted),
    );
    let judge = |f: &std::path::Path, online: bool| {
        let mut cmd = leakhound();
        cmd.args(["analyze", "--json"]);
        if online {
            cmd.arg("--online");
        }
        let out = cmd.arg(f).assert().code(1);
        json_lines(&out.get_output().stdout)
    };
    for online in [false, true] {
        let (a, b, c) = (
            judge(&own, online),
            judge(&grafana, online),
            judge(&formatted, online),
        );
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0]["series"],
            "process_resident_memory_bytes{instance=\"10.0.0.7:9100\", job=\"api\"}"
        );
        assert_eq!(b[0]["unit"], "bytes");
        assert_eq!(b[1]["unit"], "fds");
        assert_eq!(c[0]["unit"], "bytes");
        for (x, y) in [(&a[0], &b[0]), (&a[1], &b[1]), (&a[0], &c[0])] {
            assert_eq!(x["verdict"], y["verdict"], "{x:#} vs {y:#}");
            for k in ["rate_per_s", "growth_abs"] {
                let (p, q) = (x[k].as_f64().unwrap(), y[k].as_f64().unwrap());
                assert!((p - q).abs() <= 1e-9 * p.abs().max(1.0), "{k}: {p} vs {q}");
            }
        }
        // On Unix time the detector sees the same seconds since the first sample, to the bit.
        for (x, y) in [(&a[0], &b[0]), (&a[1], &b[1])] {
            for k in ["rate_per_s", "rate_ci95", "growth_abs", "reason"] {
                assert_eq!(x[k], y[k], "{k}");
            }
        }
        assert_eq!(a[0]["verdict"], "leak");
        assert_eq!(a[1]["verdict"], "no_leak");
        if online {
            // The alarm's time is on the file's clock: seconds since 1970.
            let at = a[0]["detected_at_s"].as_f64().unwrap();
            let at_clock = b[0]["detected_at_s"].as_f64().unwrap();
            assert_eq!(at_clock, at + (t0_ms / 1000) as f64);
        }
    }
    // `-` reads standard input, as `curl … | leakhound analyze -` gives it.
    let piped = leakhound()
        .args(["analyze", "--json", "-"])
        .write_stdin(std::fs::read(&grafana).unwrap())
        .assert()
        .code(1);
    let piped = json_lines(&piped.get_output().stdout);
    let from_file = judge(&grafana, false);
    assert_eq!(piped.len(), from_file.len());
    for (p, f) in piped.iter().zip(&from_file) {
        assert_eq!(p["file"], "-");
        for k in ["series", "verdict", "rate_per_s", "growth_abs", "reason"] {
            assert_eq!(p[k], f[k], "{k}");
        }
    }
    // The human output says how the cells were read, and when the alarm came as a date.
    leakhound()
        .args(["analyze", "--online"])
        .arg(&grafana)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "Time: times read as milliseconds since 1970-01-01 UTC",
        ))
        .stdout(predicate::str::contains("alarm raised at 2026-12-05T"));
    leakhound()
        .arg("analyze")
        .arg(&formatted)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("taken as UTC"))
        .stdout(predicate::str::contains(
            "api: values written with size units",
        ));
}

/// A run directory (samples.csv and processes.csv as `run` writes them): 4 minutes at 900 MiB,
/// a fall to 540 MiB, then a climb of 0.5 MiB/s for 8 minutes. `pids` gives the PID sampled at
/// each second.
fn fall_then_climb_run(dir: &std::path::Path, pids: impl Fn(usize) -> u32) {
    let mib = |i: usize| {
        let x = i as f64;
        let m = if i < 240 {
            900.0
        } else {
            540.0 + 0.5 * (x - 240.0)
        };
        (m + 0.5 * noise(i as u64)) * 1048576.0
    };
    let mut samples = String::from("t_seconds,rss_bytes\n");
    let mut procs = String::from("t_seconds,pid,ppid,comm,rss_bytes\n");
    for i in 0..720 {
        samples.push_str(&format!("{i}.000,{}\n", mib(i)));
        procs.push_str(&format!("{i}.000,{},1,svc,{}\n", pids(i), mib(i)));
    }
    std::fs::write(dir.join("samples.csv"), samples).unwrap();
    std::fs::write(dir.join("processes.csv"), procs).unwrap();
}

fn reason_of(out: &assert_cmd::assert::Assert) -> String {
    let recs = json_lines(&out.get_output().stdout);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["verdict"], "leak");
    recs[0]["reason"].as_str().unwrap().to_string()
}

#[test]
fn a_fall_is_a_restart_only_when_the_processes_changed() {
    // One process throughout: the fall is memory given back, and the reason says so.
    let same = tempfile::tempdir().unwrap();
    fall_then_climb_run(same.path(), |_| 42);
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(same.path())
        .assert()
        .code(1);
    let r = reason_of(&out);
    assert!(r.contains("(judged since it fell 8 min ago)"), "{r}");
    assert!(!r.contains("restart"), "{r}");
    // A new PID from the fall on: a restart.
    let restarted = tempfile::tempdir().unwrap();
    fall_then_climb_run(restarted.path(), |i| if i < 240 { 42 } else { 43 });
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(restarted.path())
        .assert()
        .code(1);
    let r = reason_of(&out);
    assert!(r.contains("(judged since the restart 8 min ago)"), "{r}");
    // A plain CSV says nothing of processes: a restart, unless --no-restarts says otherwise.
    let csv = restarted.path().join("samples.csv");
    let r = reason_of(
        &leakhound()
            .args(["analyze", "--json"])
            .arg(&csv)
            .assert()
            .code(1),
    );
    assert!(r.contains("since the restart"), "{r}");
    let out = leakhound()
        .args(["analyze", "--json", "--no-restarts"])
        .arg(&csv)
        .assert()
        .code(1);
    assert!(reason_of(&out).contains("since it fell"));
}

/// Four hours at 10 s of 40-minute climbs of 450 MiB over 1 GiB, each falling back, with
/// `down_s` seconds of samples missing after each fall, and the process's start time beside
/// it: unchanged (a collector that paused the process), or moved to each fall (OOM kills).
fn sawtooth_with_start_time(
    dir: &std::path::Path,
    name: &str,
    down_s: f64,
    restarts: bool,
) -> std::path::PathBuf {
    let mut text = String::from("t_seconds,rss_bytes,process_start_time_seconds\n");
    let mut i = 0u64;
    let mut x = 0.0_f64;
    while x < 4.0 * 3600.0 {
        let k = (x / 2400.0).floor();
        let phase = x - k * 2400.0;
        if k == 0.0 || phase >= down_s {
            let mib = 1024.0 + 450.0 * phase / 2400.0 + 4.0 * noise(i);
            let start = 1.7e9 + if restarts { k * 2400.0 } else { 0.0 };
            text.push_str(&format!("{x},{},{start}\n", (mib * 1048576.0).round()));
            i += 1;
        }
        x += 10.0;
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_process_start_time_in_the_file_tells_a_collectors_sawtooth_from_oom_kills() {
    let dir = tempfile::tempdir().unwrap();
    // A minute of samples missing after each fall, as when a process is down, but the start
    // time never changed: the falls are collections, judged on their floors.
    let paused = sawtooth_with_start_time(dir.path(), "paused.csv", 60.0, false);
    leakhound()
        .args(["analyze", "--color", "never"])
        .arg(&paused)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "process_start_time_seconds: the process's start time, not judged; it never changed",
        ));
    // No scrape missed across any fall: the samples cannot tell a collector from OOM kills
    // (inconclusive without the start time), but a new start time after each fall can.
    let oom = sawtooth_with_start_time(dir.path(), "oom.csv", 0.0, true);
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(&oom)
        .assert()
        .code(1);
    let recs = json_lines(&out.get_output().stdout);
    assert_eq!(recs.len(), 1, "the start time is not judged");
    let reason = recs[0]["reason"].as_str().unwrap();
    assert!(reason.contains("OOM kill"), "{reason}");
    // The same memory with the start time left out: inconclusive.
    let text = std::fs::read_to_string(&oom).unwrap();
    let memory_only: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    let bare = dir.path().join("bare.csv");
    std::fs::write(&bare, memory_only).unwrap();
    leakhound().arg("analyze").arg(&bare).assert().code(3);
    // A start time alone has nothing to judge.
    let alone = dir.path().join("alone.csv");
    std::fs::write(
        &alone,
        "t_seconds,process_start_time_seconds\n0,1.7e9\n10,1.7e9\n",
    )
    .unwrap();
    leakhound()
        .arg("analyze")
        .arg(&alone)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to judge"));
}
