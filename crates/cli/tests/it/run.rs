//! `leakhound run`: real python3 targets that leak memory or fds, stay flat, or crash.

use std::process::Stdio;
use std::time::Duration;

use predicates::prelude::*;

use crate::support::{leakhound, leakhound_path, read_json, series};

/// Appends 100 KB to a list every 0.1 s (the acceptance program).
const LEAK_MEMORY: &str =
    "import time\nl=[]\nwhile True:\n    l.append(bytearray(100_000)); time.sleep(0.1)";
/// Keeps only the last 20 blocks of 100 KB: bounded.
const BOUNDED_MEMORY: &str =
    "import time\nl=[]\nwhile True:\n    l.append(bytearray(100_000)); l=l[-20:]; time.sleep(0.1)";
/// Opens a file every 0.2 s and never closes it.
const LEAK_FDS: &str =
    "import time\nfs=[]\nwhile True:\n    fs.append(open('/proc/self/stat')); time.sleep(0.2)";

fn run_python(code: &str, secs: u32, dir: &std::path::Path) -> assert_cmd::assert::Assert {
    leakhound()
        .args(["run", "--json", "--interval", "250ms", "--duration"])
        .arg(format!("{secs}s"))
        .arg("--out")
        .arg(dir)
        .args(["--", "python3", "-c", code])
        .timeout(Duration::from_secs(u64::from(secs) + 30))
        .assert()
}

#[test]
fn growing_list_is_a_memory_leak_and_the_run_directory_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_python(LEAK_MEMORY, 15, dir.path()).code(1);
    let stdout: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(stdout["schema_version"], 1);
    assert_eq!(stdout["verdict"], "leak");
    let rss = series(&stdout, "rss_bytes");
    assert_eq!(rss["verdict"], "leak");
    // 1 MB/s appended; RSS growth must be in that ballpark.
    let rate = rss["rate_per_s"].as_f64().unwrap();
    assert!((0.6e6..1.6e6).contains(&rate), "rss rate {rate} B/s");
    // The run directory has the three files, and verdict.json equals the printed JSON.
    let csv = std::fs::read_to_string(dir.path().join("samples.csv")).unwrap();
    assert!(csv.starts_with("t_seconds,rss_bytes,"));
    assert!(csv.lines().count() > 40, "{} lines", csv.lines().count());
    let run = read_json(&dir.path().join("run.json"));
    assert_eq!(run["command"][0], "python3");
    assert_eq!(run["schema_version"], 1);
    // The wait before an online alarm, recorded as the run used it (the default 4 min).
    assert_eq!(run["alarm_after_s"], 240.0);
    assert_eq!(read_json(&dir.path().join("verdict.json")), stdout);
    // python3 is not a runtime whose heap grows for minutes: no such note.
    assert!(!notes(&stdout).contains("grows its heap"), "{stdout:#}");
}

/// The messages of a run's warnings, joined.
fn notes(report: &serde_json::Value) -> String {
    report["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w["message"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The same leak in Node: a 100 KB buffer kept every 0.1 s.
const NODE_LEAK_MEMORY: &str =
    "const l = []; setInterval(() => l.push(Buffer.alloc(100_000, 1)), 100);";

#[test]
fn a_short_run_of_a_node_service_says_its_heap_may_still_be_growing() {
    // A leak found in the first minutes of a Node (or Java) service may be its heap growing to
    // its working size (docs/run.md): the run says so, and keeps its verdict and exit code;
    // with --warmup the start is already left out and the note is not given.
    let v = run_node_leak(&["--duration", "15s"]);
    assert_eq!(series(&v, "rss_bytes")["verdict"], "leak", "{v:#}");
    let n = notes(&v);
    assert!(
        n.contains("a node process grows its heap for the first minutes") && n.contains("--warmup"),
        "{n}"
    );
    let v = run_node_leak(&["--duration", "20s", "--warmup", "2s"]);
    assert!(!notes(&v).contains("grows its heap"), "{v:#}");
}

/// `leakhound run --json` of [`NODE_LEAK_MEMORY`] sampled every 250 ms with `args`: a leak
/// (exit 1); the printed report.
fn run_node_leak(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = leakhound()
        .args(["run", "--json", "--interval", "250ms"])
        .args(args)
        .arg("--out")
        .arg(dir.path())
        .args(["--", "node", "-e", NODE_LEAK_MEMORY])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn bounded_list_is_not_a_leak() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_python(BOUNDED_MEMORY, 15, dir.path()).code(0);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["verdict"], "no_leak", "{v:#}");
}

#[test]
fn unclosed_files_are_an_fd_leak() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_python(LEAK_FDS, 15, dir.path()).code(1);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(series(&v, "fds")["verdict"], "leak");
    assert_eq!(series(&v, "fds_file")["verdict"], "leak");
    let rate = series(&v, "fds")["rate_per_s"].as_f64().unwrap();
    assert!(
        (3.0..7.0).contains(&rate),
        "fd rate {rate}/s, expected about 5/s"
    );
}

#[test]
fn crashing_target_exits_4_and_still_writes_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    leakhound()
        .args(["run", "--interval", "100ms", "--out"])
        .arg(dir.path())
        .args([
            "--",
            "python3",
            "-c",
            "import time,os; time.sleep(1); os.abort()",
        ])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("killed by signal 6"));
    let v = read_json(&dir.path().join("verdict.json"));
    assert_eq!(v["target"]["failed"], true);
    assert_eq!(v["target"]["signal"], 6);
}

#[test]
fn target_exiting_with_an_error_code_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    leakhound()
        .args(["run", "--out"])
        .arg(dir.path())
        .args(["--", "sh", "-c", "sleep 0.3; exit 3"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(4)
        .stderr(predicate::str::contains("exited with code 3"));
}

#[test]
fn bad_input_exits_2_without_panicking() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["run", "--", "no-such-command-xyz"],
            "command not found: `no-such-command-xyz`",
        ),
        (
            &["run", "--duration", "10x", "--", "true"],
            "invalid duration `10x`",
        ),
        (
            &["run", "--duration", "1s", "--interval", "5s", "--", "true"],
            "shorter than --interval",
        ),
        (&["run", "--limit", "lots", "--", "true"], "invalid limit"),
        (&["run"], "required"),
    ];
    for (args, msg) in cases {
        leakhound()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(msg))
            .stderr(predicate::str::contains("panicked").not());
    }
}

#[test]
fn ctrl_c_leaves_a_readable_run_directory_with_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(leakhound_path())
        .args(["run", "--json", "--interval", "200ms", "--out"])
        .arg(dir.path())
        .args(["--", "python3", "-c", LEAK_MEMORY])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    rustix_kill(child.id(), 2);
    let out = child.wait_with_output().unwrap();
    let code = out
        .status
        .code()
        .expect("leakhound exited normally after SIGINT");
    assert!(
        [0, 1, 3].contains(&code),
        "exit code {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = read_json(&dir.path().join("verdict.json"));
    assert_eq!(v["target"]["ended_by"], "interrupted");
    assert!(v["target"]["samples"].as_u64().unwrap() >= 10);
    assert!(read_json(&dir.path().join("run.json"))["started_at"].is_string());
    let csv = std::fs::read_to_string(dir.path().join("samples.csv")).unwrap();
    assert!(csv.lines().count() >= 11);
    // The target was stopped with the run.
    let pid = v["run"]["pid"].as_u64().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists() || is_zombie(pid));
}

fn is_zombie(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

fn rustix_kill(pid: u32, sig: i32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn run_help_has_an_example() {
    leakhound()
        .args(["run", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"));
}

#[test]
fn a_killed_leakhound_leaves_a_run_that_report_can_judge() {
    let dir = tempfile::tempdir().unwrap();
    // The target ends by itself after 10 s: a SIGKILLed leakhound cannot stop it.
    let target = "import time\nl=[]\nfor _ in range(100):\n    l.append(bytearray(200_000)); time.sleep(0.1)";
    let mut child = std::process::Command::new(leakhound_path())
        .args(["run", "-q", "--interval", "100ms", "--out"])
        .arg(dir.path())
        .args(["--", "python3", "-c", target])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(5));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!dir.path().join("verdict.json").exists());
    // `report --json` of the run directory: a leak (exit 1) each time below.
    let report_json = || -> serde_json::Value {
        let out = leakhound()
            .args(["report", "--json"])
            .arg(dir.path())
            .timeout(Duration::from_secs(30))
            .assert()
            .code(1);
        serde_json::from_slice(&out.get_output().stdout).unwrap()
    };
    let v = report_json();
    assert_eq!(v["target"]["ended_by"], "unknown");
    assert_eq!(series(&v, "rss_bytes")["verdict"], "leak");
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("verdict.json is missing")
    );
    // The kernel's limits read at the start are in run.json, so the verdict made again gives
    // the times to them as the run would have (they were lost: only --limit was kept).
    let run_json = dir.path().join("run.json");
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&run_json).unwrap()).unwrap();
    assert!(info["rlimit_nofile"].as_f64().unwrap() >= 64.0, "{info:#}");
    let saved = info.clone();
    info["cgroup_memory_max"] = serde_json::json!(1e9);
    std::fs::write(&run_json, info.to_string()).unwrap();
    let v = report_json();
    let rss = series(&v, "rss_bytes");
    assert_eq!(rss["limit_source"], "cgroup memory.max", "{rss:#}");
    assert!(rss["time_to_limit_s"].as_f64().unwrap() > 0.0, "{rss:#}");
    std::fs::write(&run_json, saved.to_string()).unwrap();
    // A verdict.json that cannot be read (torn, or a directory in its place) is judged again
    // from the samples as a missing one is: it used to end in exit 2 (torn) or 101 ("this is
    // a bug", a directory) with the samples left unread.
    for broken in ["torn", "directory"] {
        let v_path = dir.path().join("verdict.json");
        if broken == "torn" {
            std::fs::write(&v_path, "{\"schema_version\": 1, \"run\": {").unwrap();
        } else {
            std::fs::create_dir(&v_path).unwrap();
        }
        let v = report_json();
        assert_eq!(series(&v, "rss_bytes")["verdict"], "leak", "{broken}");
        let w = v["warnings"][0]["message"].as_str().unwrap();
        assert!(
            w.starts_with("verdict.json ") && w.contains("computed now from samples.csv"),
            "{broken}: {w}"
        );
        if broken == "torn" {
            std::fs::remove_file(&v_path).unwrap();
        } else {
            std::fs::remove_dir(&v_path).unwrap();
        }
    }
    // Killed while writing a line: the line is cut short. The samples before it still count.
    let csv = dir.path().join("samples.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, &text[..text.len() - 20]).unwrap();
    let v = report_json();
    assert_eq!(series(&v, "rss_bytes")["verdict"], "leak");
    assert!(
        v["warnings"].to_string().contains("cut short"),
        "{}",
        v["warnings"]
    );
    // A normal run directory is shown as it was judged.
    leakhound()
        .arg("report")
        .arg(dir.path().join("nope"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not a run directory"));
}

#[test]
fn json_stdout_is_one_document_even_when_the_target_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = leakhound()
        .args(["run", "--json", "--interval", "100ms", "--out"])
        .arg(dir.path())
        .args(["--", "sh", "-c", "echo hello from the target; sleep 1"])
        .timeout(Duration::from_secs(30))
        .assert();
    let o = out.get_output();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("stdout is only JSON");
    assert_eq!(v["schema_version"], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("hello from the target"));
}

#[test]
fn a_used_run_directory_is_refused_before_the_target_starts() {
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("heap-sites.csv");
    std::fs::write(&earlier, "from an earlier run\n").unwrap();
    let marker = dir.path().join("started");
    leakhound()
        .args(["run", "--duration", "2s", "--out"])
        .arg(dir.path())
        .args(["--", "touch"])
        .arg(&marker)
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not empty"));
    assert!(!marker.exists(), "the target must not have been started");
    assert_eq!(
        std::fs::read_to_string(&earlier).unwrap(),
        "from an earlier run\n"
    );
    // A file where the directory should be, or a path under a file: exit 2, one line.
    leakhound()
        .args(["run", "--duration", "2s", "--out"])
        .arg(earlier.join("x"))
        .args(["--", "true"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot create the run directory"));
}

#[test]
fn report_shows_a_run_without_samples_and_a_run_whose_samples_are_gone() {
    // `run -- true` ends before the first sample: its verdict is inconclusive, and so is the
    // report of it (not an input error).
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    leakhound()
        .args(["run", "-q", "--out"])
        .arg(&run)
        .args(["--", "true"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(3);
    leakhound().arg("report").arg(&run).assert().code(3);
    // samples.csv removed: the saved verdict, said to be without its data.
    std::fs::remove_file(run.join("samples.csv")).unwrap();
    leakhound()
        .arg("report")
        .arg(&run)
        .assert()
        .code(3)
        .stdout(predicate::str::contains("samples.csv is missing"));
}

#[test]
fn a_target_that_exits_cleanly_ends_the_run_when_it_exits() {
    // Sampling every 10 s: the exit after 1 s is seen at once, not at the next tick.
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    leakhound()
        .args(["run", "-q", "--interval", "10s", "--out"])
        .arg(dir.path().join("run"))
        .args(["--", "sleep", "1"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(3);
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run/verdict.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["target"]["ended_by"], "exited", "{v:#}");
    let elapsed = v["target"]["elapsed_s"].as_f64().unwrap();
    assert!((0.9..3.0).contains(&elapsed), "{elapsed} s");
}

#[test]
fn processes_the_target_left_in_its_group_are_stopped_at_the_end() {
    // The shell starts a background sleep with a unique argument and exits at once.
    let dir = tempfile::tempdir().unwrap();
    let secs = format!("{}.{}", 300 + std::process::id() % 100, std::process::id());
    let script = format!("sleep {secs} & exit 0");
    leakhound()
        .args(["run", "-q", "--duration", "3s", "--grace", "2s", "--out"])
        .arg(dir.path().join("run"))
        .args(["--", "sh", "-c", &script])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(predicate::in_iter([0, 3]));
    // The shell was gone before the first sample, its sleep already under init: it is found by
    // its process group and sampled as the service it is, until the duration (the run used to
    // end at once, "0.0 s · 0 samples · ended: exited", and stop it).
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run/verdict.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["target"]["ended_by"], "duration", "{v:#}");
    let samples = std::fs::read_to_string(dir.path().join("run/samples.csv")).unwrap();
    assert!(samples.lines().count() >= 3, "{samples}");
    let left = std::process::Command::new("pgrep")
        .args(["-f", &format!("sleep {secs}")])
        .output()
        .unwrap();
    assert!(
        left.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

/// Climbs to about 240 MB in 8 MB blocks over 3 s, frees them all (large blocks go back to the
/// system at once), then keeps 200 KB every 0.05 s: one process throughout.
const GIVE_BACK_THEN_LEAK: &str = "import time\nl=[]\nfor i in range(30):\n    b=bytearray(8_000_000); b[::4096]=b'x'*len(b[::4096]); l.append(b); time.sleep(0.1)\ntime.sleep(1)\nl=[]\nk=[]\nwhile True:\n    k.append(bytearray(200_000)); time.sleep(0.05)";

#[test]
fn memory_given_back_is_no_restart_when_no_process_ended() {
    let dir = tempfile::tempdir().unwrap();
    let out = leakhound()
        .args([
            "run",
            "--json",
            "-q",
            "--interval",
            "100ms",
            "--duration",
            "12s",
        ])
        .arg("--out")
        .arg(dir.path())
        .args(["--", "python3", "-c", GIVE_BACK_THEN_LEAK])
        .timeout(Duration::from_secs(45))
        .assert()
        .code(1);
    let stdout: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rss = series(&stdout, "rss_bytes");
    assert_eq!(rss["verdict"], "leak", "{rss:#}");
    // The fall of 240 MB is judged as what it was: memory given back by a running process.
    let reason = rss["reason"].as_str().unwrap();
    assert!(reason.contains("(judged since it fell"), "{reason}");
    assert!(!reason.contains("restart"), "{reason}");
    // The rate is the leak's, 4 MB/s, measured after the fall.
    let rate = rss["rate_per_s"].as_f64().unwrap();
    assert!((2.5e6..6e6).contains(&rate), "rss rate {rate} B/s");
}

/// `run --json --stop-on-leak` of a python program, sampled every 100 ms for at most `secs`.
fn run_stopping_on_leak(
    code: &str,
    secs: u64,
    dir: &std::path::Path,
) -> assert_cmd::assert::Assert {
    leakhound()
        .args([
            "run",
            "--json",
            "--stop-on-leak",
            "--alarm-after",
            "10s",
            "--interval",
            "100ms",
            "--duration",
        ])
        .arg(format!("{secs}s"))
        .arg("--out")
        .arg(dir)
        .args(["--", "python3", "-c", code])
        .timeout(Duration::from_secs(secs + 30))
        .assert()
}

/// `--stop-on-leak`: the run ends at the first online alarm, long before `--duration`, with
/// the leak as its verdict (exit 1), the alarm in verdict.json and the target stopped.
#[test]
fn stop_on_leak_ends_the_run_at_the_first_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_stopping_on_leak(LEAK_MEMORY, 120, dir.path())
        .code(1)
        .stderr(predicate::str::contains("leak alarm at"));
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["target"]["ended_by"], "leak alarm", "{v:#}");
    let elapsed = v["target"]["elapsed_s"].as_f64().unwrap();
    assert!(elapsed < 60.0, "stopped after {elapsed} s");
    assert_eq!(v["verdict"], "leak");
    let alarms = v["alarms"].as_array().expect("the alarms raised");
    let rss = alarms
        .iter()
        .find(|a| a["series"] == "rss_bytes" || a["series"] == "anon_bytes")
        .unwrap_or_else(|| panic!("a memory alarm: {alarms:#?}"));
    let at = rss["at_s"].as_f64().unwrap();
    assert!(
        at <= elapsed + 1e-9,
        "alarm at {at} s, run ended at {elapsed} s"
    );
    assert!(rss["reason"].as_str().unwrap().contains("rises"), "{rss:#}");
    assert_eq!(
        series(&v, rss["series"].as_str().unwrap())["verdict"],
        "leak"
    );
    assert_eq!(read_json(&dir.path().join("verdict.json")), v);
    assert_eq!(
        read_json(&dir.path().join("run.json"))["alarm_after_s"],
        10.0
    );
}

/// No alarm on a bounded list: `--stop-on-leak` samples to the end of `--duration`.
#[test]
fn stop_on_leak_runs_to_the_end_without_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_stopping_on_leak(BOUNDED_MEMORY, 12, dir.path()).code(0);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["target"]["ended_by"], "duration", "{v:#}");
    assert!(v.get("alarms").is_none(), "{v:#}");
}
