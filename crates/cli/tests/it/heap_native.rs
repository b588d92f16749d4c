//! `run --heap` and `report RUN_DIR --pprof/--flamegraph`: C targets built with gcc, run under
//! the embedded agent.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

use crate::support::leakhound;

/// The native crate's C test programs.
const PROGRAMS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../native/tests/programs");

fn gcc(dir: &Path, source: &str, name: &str) -> PathBuf {
    let exe = dir.join(name);
    let st = StdCommand::new("gcc")
        .args([
            "-O2",
            "-g",
            "-fno-omit-frame-pointer",
            "-pthread",
            "-w",
            "-o",
        ])
        .arg(&exe)
        .arg(Path::new(PROGRAMS).join(source))
        .arg("-ldl")
        .status()
        .expect("gcc runs");
    assert!(st.success(), "gcc {source} failed");
    exe
}

fn stdout_json(out: &assert_cmd::assert::Assert) -> Value {
    serde_json::from_slice(&out.get_output().stdout).expect("stdout is one JSON document")
}

#[test]
fn run_heap_json_carries_the_heap_and_report_exports_pprof_and_flamegraph() {
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "targets.c", "targets");
    let run_dir = work.path().join("run");
    let out = leakhound()
        .args([
            "run",
            "--json",
            "--heap",
            "--heap-interval",
            "50ms",
            "--out",
        ])
        .arg(&run_dir)
        .arg("--")
        .arg(&exe)
        .arg("known")
        .timeout(Duration::from_secs(120))
        .assert()
        .code(1);
    let report = stdout_json(&out);
    assert_eq!(report["schema_version"], 1);
    let heap = &report["heap"];
    assert_eq!(heap["verdict"], "leak", "{heap:#}");
    // The top-level verdict is the one the exit code (1, above) follows: a heap leak is a leak.
    assert_eq!(report["verdict"], "leak");
    let proc0 = &heap["processes"][0];
    let top = &proc0["suspects"][0];
    assert!(
        top["site"]
            .as_str()
            .unwrap()
            .starts_with("leak_here (programs/targets.c:"),
        "{top:#}"
    );
    assert_eq!(top["live_blocks"], 3000);
    assert_eq!(top["live_bytes"], 600_000);
    assert!(top["rate_bytes_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(top["stack"][0]["function"], "leak_here");
    assert!(top["timeline"]["v"].as_array().unwrap().len() >= 10);
    assert!(top["sparkline"].as_str().unwrap().ends_with('█'), "{top:#}");
    assert!(!top["hint"].as_str().unwrap().is_empty());
    // The bounded cache is not a suspect; the leak is also "still live at exit".
    let suspects = proc0["suspects"].as_array().unwrap();
    assert!(
        suspects
            .iter()
            .all(|s| !s["site"].as_str().unwrap().starts_with("cache_fill"))
    );
    assert!(
        proc0["live_at_exit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["site"].as_str().unwrap().starts_with("leak_here"))
    );
    assert!(
        heap.get("warnings").is_none(),
        "no allocator warning: {heap:#}"
    );
    // heap/heap.json is still written.
    assert!(run_dir.join("heap/heap.json").is_file());

    // report --json carries the same heap section.
    let again = leakhound()
        .args(["report", "--json"])
        .arg(&run_dir)
        .assert()
        .code(1);
    let again = stdout_json(&again);
    assert_eq!(
        again["heap"]["processes"][0]["suspects"][0]["site"],
        top["site"]
    );

    // Exports.
    let pb = work.path().join("heap.pb.gz");
    let svg = work.path().join("heap.svg");
    leakhound()
        .arg("report")
        .arg(&run_dir)
        .arg("--pprof")
        .arg(&pb)
        .arg("--flamegraph")
        .arg(&svg)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("leak_here").and(predicate::str::contains(
            "overall: LEAK (memory: inconclusive, heap: leak; 1 suspect: leak_here (programs/targets.c:",
        )));
    let svg_text = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg_text.contains("<svg") && svg_text.contains("leak_here"));
    match StdCommand::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&pb)
        .env("HOME", work.path())
        .output()
    {
        Err(e) => eprintln!("SKIPPED go tool pprof check: `go` not runnable ({e})"),
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert!(
                text.lines()
                    .any(|l| l.contains("leak_here") && l.contains("585.94kB")),
                "{text}"
            );
        }
    }

    // A file in heap/ that is not an agent file is skipped with a warning, not an error.
    std::fs::write(run_dir.join("heap/999.lhev"), b"garbage").unwrap();
    leakhound()
        .arg("report")
        .arg(&run_dir)
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("heap warning: skipped: failed to decode")
                .and(predicate::str::contains("999.lhev")),
        );
    std::fs::remove_file(run_dir.join("heap/999.lhev")).unwrap();

    // Unwritable output and a run without heap data: exit 2 with the reason.
    leakhound()
        .arg("report")
        .arg(&run_dir)
        .arg("--pprof")
        .arg(work.path().join("missing-dir/x.pb.gz"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("failed to write")
                .and(predicate::str::contains("missing-dir/x.pb.gz")),
        );
    let plain = work.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    for f in ["run.json", "samples.csv", "verdict.json"] {
        std::fs::copy(run_dir.join(f), plain.join(f)).unwrap();
    }
    leakhound()
        .arg("report")
        .arg(&plain)
        .arg("--flamegraph")
        .arg(work.path().join("y.svg"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("run --heap"));
}

#[test]
fn memory_outside_malloc_warns_allocator_not_interposed() {
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "rawmmap.c", "rawmmap");
    let run = |json: bool, dir: &Path| {
        let mut c = leakhound();
        c.args(["run", "--heap", "--interval", "200ms", "--out"])
            .arg(dir);
        if json {
            c.arg("--json");
        }
        c.arg("--")
            .arg(&exe)
            .timeout(Duration::from_secs(120))
            .assert()
            .code(predicate::in_iter([0, 1, 3]))
    };
    let out = run(true, &work.path().join("json"));
    let report = stdout_json(&out);
    let warnings = report["heap"]["warnings"]
        .as_array()
        .expect("heap warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("allocator not interposed (statically linked jemalloc/mimalloc?)")),
        "{report:#}"
    );
    run(false, &work.path().join("text")).stdout(predicate::str::contains(
        "heap warning: allocator not interposed (statically linked jemalloc/mimalloc?)",
    ));
}

/// The acceptance run: `run --heap -- allocbench server 400000` (the public benchmark
/// workload in `../shared/bench/`, or `$ALLOCBENCH_SRC`) names `handle_error` as the only
/// suspect, with exactly the blocks and bytes allocbench says it leaked; the bounded cache is
/// not listed.
#[test]
fn allocbench_server_names_handle_error_with_the_true_count() {
    let src = std::env::var_os("ALLOCBENCH_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/allocbench.c")
        });
    if !src.is_file() {
        eprintln!(
            "SKIPPED: allocbench source not found at {} (set ALLOCBENCH_SRC)",
            src.display()
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("allocbench");
    let st = StdCommand::new("gcc")
        .args(["-O2", "-g", "-fno-omit-frame-pointer", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .expect("gcc runs");
    assert!(st.success(), "gcc allocbench failed");
    let out = leakhound()
        .args(["run", "--json", "--heap", "--out"])
        .arg(work.path().join("run"))
        .arg("--")
        .arg(&exe)
        .args(["server", "400000"])
        .timeout(Duration::from_secs(300))
        .assert()
        .code(1);
    // Under --json the target's stdout goes to stderr.
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let field = |name: &str| -> u64 {
        stderr
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name}= in allocbench output: {stderr}"))
    };
    let (blocks, bytes) = (field("leaked_blocks"), field("leaked_bytes"));
    let report = stdout_json(&out);
    let suspects = report["heap"]["processes"][0]["suspects"]
        .as_array()
        .expect("suspects");
    let names: Vec<&str> = suspects
        .iter()
        .map(|s| s["site"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 1, "only the leak is a suspect: {names:?}");
    assert!(
        names[0].starts_with("handle_error (") && names[0].contains("allocbench.c:265)"),
        "{names:?}"
    );
    assert_eq!(suspects[0]["live_blocks"], blocks);
    assert_eq!(suspects[0]["live_bytes"], bytes);
    // Nothing the agent allocates for itself (its writer thread's TLS blocks) is a site.
    let at_exit: Vec<&str> = report["heap"]["processes"][0]["live_at_exit"]
        .as_array()
        .expect("live_at_exit")
        .iter()
        .map(|s| s["site"].as_str().unwrap())
        .collect();
    assert!(
        at_exit.iter().any(|s| s.starts_with("handle_error (")),
        "{at_exit:?}"
    );
    assert!(
        at_exit.iter().all(|s| !s.contains(".rs:")),
        "an agent frame is a site: {at_exit:?}"
    );
}

/// `--heap-events` adds the agent's full event log to the run directory (off by default), and
/// the analysis is the same with it.
#[test]
fn heap_events_writes_the_event_log_only_when_asked() {
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "targets.c", "targets");
    for (events, dir) in [(true, "with"), (false, "without")] {
        let run_dir = work.path().join(dir);
        let mut cmd = leakhound();
        cmd.args([
            "run",
            "--json",
            "--heap",
            "--heap-interval",
            "50ms",
            "--out",
        ])
        .arg(&run_dir);
        if events {
            cmd.arg("--heap-events");
        }
        let out = cmd
            .arg("--")
            .arg(&exe)
            .arg("known")
            .timeout(Duration::from_secs(120))
            .assert()
            .code(1);
        let report = stdout_json(&out);
        let top = &report["heap"]["processes"][0]["suspects"][0];
        assert!(
            top["site"].as_str().unwrap().contains("leak_here"),
            "{top:#}"
        );
        let logs: Vec<_> = std::fs::read_dir(run_dir.join("heap"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "lhevents"))
            .collect();
        if events {
            assert_eq!(logs.len(), 1, "one event log for the one process");
            let len = logs[0].metadata().unwrap().len();
            assert!(
                len > 3000 * 8,
                "the log holds the 3000 leaked allocations: {len} B"
            );
        } else {
            assert!(logs.is_empty(), "no event log unless --heap-events");
        }
    }
    // Without --heap the flag is a usage error.
    leakhound()
        .args(["run", "--heap-events", "--", "true"])
        .assert()
        .code(2);
}

/// The default unwinder (`--heap-unwind dwarf`) recovers the callers of a function compiled
/// without frame pointers; `--heap-unwind fp` (the frame-pointer walk alone) loses
/// `leak_caller`, which `fpless_middle` sits under.
#[test]
fn default_unwind_recovers_frames_without_frame_pointers_and_fp_alone_does_not() {
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "dwarf_fpless.c", "dwarf_fpless");
    let stack_of_fpless = |unwind: Option<&str>| -> Vec<String> {
        let mut cmd = leakhound();
        cmd.args(["run", "--json", "--heap", "--heap-interval", "50ms"]);
        if let Some(u) = unwind {
            cmd.args(["--heap-unwind", u]);
        }
        let out = cmd
            .arg("--out")
            .arg(work.path().join(unwind.unwrap_or("default")))
            .arg("--")
            .arg(&exe)
            .args(["80", "30"])
            .timeout(Duration::from_secs(120))
            .assert()
            .code(1);
        let report = stdout_json(&out);
        let suspects = report["heap"]["processes"][0]["suspects"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let s = suspects
            .iter()
            .find(|s| {
                s["site"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("fpless_middle")
            })
            .unwrap_or_else(|| panic!("fpless_middle is a suspect: {suspects:#?}"));
        s["stack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["function"].as_str().unwrap_or("").to_string())
            .collect()
    };
    let dwarf = stack_of_fpless(None);
    assert!(
        dwarf.iter().any(|f| f == "leak_caller") && dwarf.iter().any(|f| f == "main"),
        "{dwarf:?}"
    );
    let fp = stack_of_fpless(Some("fp"));
    assert!(!fp.iter().any(|f| f == "leak_caller"), "{fp:?}");
}

/// Rust allocations are named after the user's function, not liballoc's inlined `alloc`.
// See: audit "every Rust site is `alloc (src/alloc.rs:95)`".
#[test]
fn rust_target_site_is_the_user_function_not_inlined_liballoc() {
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("heap_rust");
    let st = StdCommand::new("rustc")
        .args(["--edition", "2021", "-C", "opt-level=2", "-g", "-o"])
        .arg(&exe)
        .arg(Path::new(PROGRAMS).join("heap_rust.rs"))
        .status()
        .expect("rustc runs");
    assert!(st.success(), "rustc failed");
    for (group_by, want) in [
        ("line", "resident (programs/heap_rust.rs:"),
        ("function", "resident"),
    ] {
        let out = leakhound()
            .args([
                "run",
                "--json",
                "--heap",
                "--heap-interval",
                "50ms",
                "--group-by",
                group_by,
                "--out",
            ])
            .arg(work.path().join(format!("run-{group_by}")))
            .arg("--")
            .arg(&exe)
            .timeout(Duration::from_secs(120))
            .assert();
        let report = stdout_json(&out);
        let proc0 = &report["heap"]["processes"][0];
        let top = &proc0["suspects"][0];
        let site = top["site"].as_str().unwrap_or_default();
        // `resident` may or may not be inlined into `main`: with a body it is `heap_rust::resident`.
        let site = site.strip_prefix("heap_rust::").unwrap_or(site);
        assert!(site.starts_with(want), "{group_by}: {proc0:#}");
        assert!(
            top["stack"][0]["function"]
                .as_str()
                .unwrap()
                .ends_with("resident"),
            "{top:#}"
        );
        assert!(
            top["stack"][0]["file"]
                .as_str()
                .unwrap()
                .ends_with("heap_rust.rs"),
            "{top:#}"
        );
        assert_eq!(top["live_blocks"], 600, "{top:#}");
    }
}

/// Too few snapshots: the heap section says growth cannot be judged yet and why, not "none";
/// counts are singular or plural as they should be.
#[test]
fn too_short_a_heap_run_says_why_it_is_inconclusive() {
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "targets.c", "targets");
    leakhound()
        .args([
            "run",
            "--heap",
            "-d",
            "3s",
            "--heap-interval",
            "200ms",
            "--out",
        ])
        .arg(work.path().join("run"))
        .arg("--")
        .arg(&exe)
        .arg("forever")
        .timeout(Duration::from_secs(120))
        .assert()
        .code(3)
        .stdout(
            predicate::str::contains(
                "growing while running: cannot be judged yet (inconclusive): only ",
            )
            .and(predicate::str::contains("need at least"))
            .and(predicate::str::contains("growing while running: none").not())
            .and(predicate::str::contains("still live at exit (1 site):"))
            .and(predicate::str::contains("(1 sites)").not()),
        );
}

#[test]
fn children_that_exec_at_once_are_counted_not_judged() {
    // 30 forked children exec /bin/true at once: each pre-exec image leaves a one-snapshot
    // file holding its parent's blocks. They have no timeline to judge, and the parent's
    // bounded ring is no leak: the heap verdict is no leak, not inconclusive.
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "targets.c", "targets");
    leakhound()
        .args([
            "run",
            "--heap",
            "--heap-interval",
            "100ms",
            "-i",
            "100ms",
            "--out",
        ])
        .arg(work.path().join("run"))
        .arg("--")
        .arg(&exe)
        .arg("spawner")
        .timeout(Duration::from_secs(120))
        .assert()
        .stdout(
            predicate::str::contains("short-lived process images (pid ")
                .and(predicate::str::contains("heap: no leak"))
                .and(predicate::str::contains("cannot be judged").not()),
        );
}

#[test]
fn a_killed_heap_run_keeps_its_heap_data_for_report() {
    // The agent writes where it was told before the run directory existed; the run directory
    // links to it from the start, so a SIGKILLed leakhound leaves it where `report` looks.
    let work = tempfile::tempdir().unwrap();
    let exe = gcc(work.path(), "targets.c", "targets");
    let run = work.path().join("run");
    let mut lh = StdCommand::new(crate::support::leakhound_path())
        .args([
            "run",
            "-q",
            "--heap",
            "--heap-interval",
            "100ms",
            "-d",
            "60s",
            "--out",
        ])
        .arg(&run)
        .arg("--")
        .arg(&exe)
        .arg("forever")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    lh.kill().unwrap();
    lh.wait().unwrap();
    // A SIGKILLed leakhound cannot stop its target: stop its process group here.
    let info: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let pid = info["pid"].as_i64().unwrap();
    let _ = StdCommand::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
    let out = leakhound()
        .args(["report", "--json"])
        .arg(&run)
        .timeout(Duration::from_secs(60))
        .assert();
    let v = stdout_json(&out);
    let heap = &v["heap"];
    assert!(heap.is_object(), "no heap section: {v:#}");
    assert!(
        heap.to_string().contains("leak_here"),
        "the leaking site is in the heap section: {heap:#}"
    );
    // The linked directory in the temp dir outlives a killed leakhound: removed here.
    if let Ok(target) = std::fs::read_link(run.join("heap")) {
        let _ = std::fs::remove_dir_all(target);
    }
}

#[test]
fn a_program_the_loader_will_not_preload_into_is_refused_before_it_starts() {
    let work = tempfile::tempdir().unwrap();
    let exe = work.path().join("static-targets");
    let st = StdCommand::new("gcc")
        .args(["-O2", "-static", "-pthread", "-w", "-o"])
        .arg(&exe)
        .arg(Path::new(PROGRAMS).join("targets.c"))
        .arg("-ldl")
        .status()
        .expect("gcc runs");
    assert!(st.success(), "gcc -static targets.c failed");
    let run = work.path().join("run");
    // Without --heap it is an ordinary target; with it the agent would see nothing, which the
    // run used to find out only at the end ("statically linked target, or a custom
    // allocator?").
    leakhound()
        .args(["run", "--heap", "-d", "2s", "--out"])
        .arg(&run)
        .arg("--")
        .arg(&exe)
        .arg("forever")
        .timeout(Duration::from_secs(30))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "static-targets is statically linked",
        ));
    assert!(!run.exists(), "nothing is started or written");
    // A setuid program of another user: the loader drops LD_PRELOAD (secure execution).
    // Setting it up needs root (chown); CI runs as root.
    if rustix::process::geteuid().is_root() {
        let suid = work.path().join("suid-sleep");
        std::fs::copy("/bin/sleep", &suid).unwrap();
        std::os::unix::fs::chown(&suid, Some(65534), None).unwrap();
        std::fs::set_permissions(&suid, std::os::unix::fs::PermissionsExt::from_mode(0o4755))
            .unwrap();
        leakhound()
            .args(["run", "--heap", "-d", "2s", "--out"])
            .arg(&run)
            .arg("--")
            .arg(&suid)
            .arg("5")
            .timeout(Duration::from_secs(30))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "suid-sleep is setuid (owner uid 65534)",
            ));
        assert!(!run.exists());
    }
}

#[test]
fn a_heap_link_whose_target_is_gone_is_named_not_called_a_run_without_heap() {
    // A killed `run --heap` leaves RUN_DIR/heap linking into the temp dir; once that is
    // cleaned, the link dangles.
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    leakhound()
        .args(["run", "-q", "-d", "1s", "--out"])
        .arg(&run)
        .args(["--", "sleep", "2"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(3);
    let gone = work.path().join("leakhound-heap-cleaned");
    std::os::unix::fs::symlink(&gone, run.join("heap")).unwrap();
    leakhound()
        .arg("report")
        .arg(&run)
        .arg("--pprof")
        .arg(work.path().join("h.pb.gz"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("heap data is gone: heap/ links to")
                .and(predicate::str::contains("leakhound-heap-cleaned"))
                .and(predicate::str::contains("need a run made with").not()),
        );
    leakhound()
        .arg("report")
        .arg(&run)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("warning: heap/ links to"));
}
