//! Golden tests of every renderer over the same fixture report (STYLE rule 9).

use leakhound_core::{
    OnlineAlarm, ProcessChange, RunInfo, RunReport, Series, SeriesVerdict, TargetOutcome, Unit,
    Verdict, Warning,
};
use leakhound_report::json::{AnalyzeRecord, JsonRenderer, write_json_line};
use leakhound_report::terminal::TerminalRenderer;
use leakhound_report::{Renderer, Style};

fn fixture() -> RunReport {
    let t: Vec<f64> = (0..60).map(f64::from).collect();
    let rss = Series::from_parts(
        "rss_bytes",
        Unit::Bytes,
        t.clone(),
        t.iter().map(|x| 50.0 * 1048576.0 + x * 1048576.0).collect(),
    );
    let fds = Series::from_parts("fds", Unit::Fds, t.clone(), vec![12.0; 60]);
    let swap = Series::from_parts("swap_bytes", Unit::Bytes, t.clone(), vec![0.0; 60]);
    let mut leak = SeriesVerdict::empty(
        "rss_bytes",
        Unit::Bytes,
        Verdict::Leak,
        "memory floor rises 60.0 MiB/min for 59 s with no sign of levelling off",
    );
    leak.rate_per_s = Some(1048576.0);
    leak.rate_ci95 = Some([1000000.0, 1100000.0]);
    leak.growth_abs = Some(59.0 * 1048576.0);
    leak.growth_pct = Some(118.0);
    leak.detected_at_s = Some(59.0);
    leak.limit = Some(2.0 * 1024.0 * 1024.0 * 1024.0);
    leak.limit_source = Some("cgroup memory.max".into());
    leak.time_to_limit_s = Some(1989.0);
    leak.samples = 60;
    leak.window_s = 59.0;
    let mut flat = SeriesVerdict::empty("fds", Unit::Fds, Verdict::NoLeak, "flat");
    flat.rate_per_s = Some(0.0);
    flat.growth_abs = Some(0.0);
    flat.growth_pct = Some(0.0);
    let zero = SeriesVerdict::empty("swap_bytes", Unit::Bytes, Verdict::NoLeak, "flat at zero");
    RunReport {
        schema_version: 1,
        run: RunInfo {
            mode: "run".into(),
            command: vec!["python3".into(), "leak.py".into()],
            pid: Some(4242),
            started_at: "2026-11-25T07:00:00Z".into(),
            host: "ci".into(),
            leakhound_version: "0.1.0".into(),
            interval_s: 1.0,
            warmup_s: 0.0,
            duration_s: Some(60.0),
            run_dir: Some("leakhound-runs/20261125T070000Z".into()),
            limit: None,
            alarm_after_s: None,
            cgroup_memory_max: None,
            rlimit_nofile: None,
        },
        target: TargetOutcome {
            ended_by: "duration".into(),
            exit_code: None,
            signal: Some(15),
            failed: false,
            elapsed_s: 60.0,
            samples: 60,
        },
        verdict: Verdict::Leak,
        series: vec![leak, flat, zero],
        warnings: vec![Warning::SamplingLate {
            late: 2,
            worst_s: 0.7,
        }],
        load: None,
        heap_diff: None,
        heap: None,
        alarms: Vec::new(),
        processes: vec![
            ProcessChange {
                pid: 4242,
                ppid: 1,
                comm: "python3".into(),
                first_t: 0.0,
                last_t: 59.0,
                change: [("rss_bytes".to_string(), 1048576.0)].into_iter().collect(),
            },
            ProcessChange {
                pid: 4243,
                ppid: 4242,
                comm: "worker".into(),
                first_t: 1.0,
                last_t: 59.0,
                change: [("rss_bytes".to_string(), 58.0 * 1048576.0)]
                    .into_iter()
                    .collect(),
            },
        ],
        data: vec![rss, fds, swap],
    }
}

fn render(r: &dyn Renderer, report: &RunReport) -> String {
    let mut out = Vec::new();
    r.render(report, &mut out)
        .expect("rendering into memory does not fail");
    String::from_utf8(out).expect("renderers write UTF-8")
}

#[test]
fn terminal_plain() {
    insta::assert_snapshot!(render(
        &TerminalRenderer {
            style: Style::PLAIN
        },
        &fixture()
    ));
}

#[test]
fn terminal_colour_highlights_leak_lines() {
    let text = render(
        &TerminalRenderer {
            style: Style::COLOR,
        },
        &fixture(),
    );
    let leak_line = text
        .lines()
        .find(|l| l.contains("rss_bytes") && l.contains("LEAK"))
        .unwrap();
    assert!(leak_line.contains("\x1b[1;31m"), "{leak_line:?}");
    let ok_line = text
        .lines()
        .find(|l| l.contains("fds") && l.contains("no leak"))
        .unwrap();
    assert!(!ok_line.contains("\x1b[1;31m"));
}

#[test]
fn json_report() {
    insta::assert_snapshot!(render(&JsonRenderer, &fixture()));
}

#[test]
fn json_analyze_line_is_flat_and_versioned() {
    let report = fixture();
    let mut out = Vec::new();
    write_json_line(
        &AnalyzeRecord::new("mem.csv", "online", &report.series[0]),
        &mut out,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["file"], "mem.csv");
    assert_eq!(v["series"], "rss_bytes");
    assert_eq!(v["verdict"], "leak");
    assert_eq!(v["rate_ci95"][1], 1100000.0);
    assert!(out.ends_with(b"\n") && !out[..out.len() - 1].contains(&b'\n'));
}

#[test]
fn terminal_explains_a_no_leak_that_grew() {
    // The fixture's flat fds say nothing under the table (see the snapshot); fds that grew
    // 40 % and levelled off would contradict their "no leak" without their reason.
    let mut report = fixture();
    let fds = &mut report.series[1];
    fds.growth_abs = Some(5.0);
    fds.growth_pct = Some(40.0);
    fds.reason =
        "open fd count grew 5 fds early but has levelled off (recent half: 0 fds/h)".into();
    let out = render(
        &TerminalRenderer {
            style: Style::PLAIN,
        },
        &report,
    );
    assert!(
        out.contains("  fds: open fd count grew 5 fds early but has levelled off"),
        "{out}"
    );
}

#[test]
fn terminal_lists_the_alarms_and_a_whole_run_that_disagrees() {
    let mut report = fixture();
    let alarm = |series: &str, at_s: f64| OnlineAlarm {
        series: series.into(),
        at_s,
        rate_per_s: Some(1.0),
        reason: "rises".into(),
    };
    // rss_bytes is a leak over the whole run, fds no leak: a rise that levelled off later.
    report.alarms = vec![alarm("rss_bytes", 42.0), alarm("fds", 600.0)];
    report.target.ended_by = "leak alarm".into();
    let out = render(
        &TerminalRenderer {
            style: Style::PLAIN,
        },
        &report,
    );
    assert!(
        out.contains("\n  leak alarm: rss_bytes at 42.0 s\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  leak alarm: fds at 10 min; over the whole run it is no leak\n"),
        "{out}"
    );
    assert!(out.contains("ended: leak alarm (--stop-on-leak)"), "{out}");
    // verdict.json carries them; a report written before alarms existed reads as none.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["alarms"][1]["series"], "fds");
    let mut old = serde_json::to_value(fixture()).unwrap();
    assert!(old.get("alarms").is_none());
    old.as_object_mut().unwrap().remove("alarms");
    let back: RunReport = serde_json::from_value(old).unwrap();
    assert!(back.alarms.is_empty());
}
