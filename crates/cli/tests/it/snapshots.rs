//! `leakhound run --snapshots node|java|go --load …`: the repo's test services (testapps/) under
//! our own load, with real heap snapshots between the load phases (issue #7).
//!
//! Each service leaks per request and has three traps (a bounded LRU, a table built lazily, a
//! ring buffer). A single constant load of 6 s is cut into three phases of 2 s (200 requests
//! each); the leak must be the first finding, with its retainer path (V8, HPROF) or stack
//! (pprof), no trap may be called a leak, and the exit code is 1.

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use serde_json::Value;

use crate::support::{closed_port, free_port, leakhound, read_json, testapps};

/// `run --snapshots RUNTIME --json` against `cmd` listening on `port`; returns the exit code,
/// the JSON report and stderr.
fn run_with_snapshots(
    runtime: &str,
    port: u16,
    dir: &Path,
    extra: &[&str],
    cmd: &[&str],
) -> (i32, Value, String) {
    let out = leakhound()
        .args(["run", "--json", "--snapshots", runtime, "--load"])
        .arg(format!("http://127.0.0.1:{port}/work?id={{{{seq}}}}"))
        .args([
            "--rate",
            "100",
            "--duration",
            "6s",
            "--snapshot-pause",
            "2s",
        ])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .arg("--")
        .args(cmd)
        .env("PORT", port.to_string())
        .timeout(Duration::from_secs(90))
        .output()
        .expect("run leakhound");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}); stderr:\n{stderr}"));
    (out.status.code().unwrap_or(-1), report, stderr)
}

/// Checks shared by the three runtimes; returns the diffs.
fn check_heap_diff(report: &Value, dir: &Path, stderr: &str) -> Vec<Value> {
    assert_eq!(report["schema_version"], 1);
    let h = &report["heap_diff"];
    assert_eq!(h["verdict"], "leak", "{h:#}\nstderr:\n{stderr}");
    // The top-level verdict follows the exit code: a heap leak is a leak.
    assert_eq!(report["verdict"], "leak", "stderr:\n{stderr}");
    let snaps = h["snapshots"].as_array().expect("snapshots");
    assert_eq!(snaps.len(), 4, "{h:#}");
    assert_eq!(snaps[0]["label"], "before load");
    assert_eq!(snaps[3]["label"], "after phase 3/3");
    for s in snaps {
        assert!(s.get("error").is_none(), "{s:#}");
        for f in s["files"].as_array().unwrap() {
            let f = Path::new(f.as_str().unwrap());
            assert!(f.starts_with(dir.join("snapshots")), "{}", f.display());
            assert!(f.metadata().unwrap().len() > 0, "{}", f.display());
        }
    }
    assert!(
        h["notes"][0]
            .as_str()
            .unwrap()
            .contains("split into 3 equal phases"),
        "{h:#}"
    );
    // verdict.json in the run directory carries the same heap diff.
    assert_eq!(read_json(&dir.join("verdict.json"))["heap_diff"], *h);
    h["diffs"].as_array().unwrap().clone()
}

fn assert_no_trap_is_a_leak(diff: &Value, traps: &[&str]) {
    for f in diff["findings"].as_array().unwrap() {
        let name = f["type_name"].as_str().unwrap();
        if traps.iter().any(|t| name.contains(t)) {
            assert_ne!(f["class"], "leak", "trap {name} reported as a leak: {f:#}");
        }
    }
}

#[test]
fn node_service_leak_is_first_with_its_retainer_path() {
    let dir = tempfile::tempdir().unwrap();
    let server = testapps().join("node/server.js");
    let (code, report, stderr) = run_with_snapshots(
        "node",
        free_port(),
        dir.path(),
        &[],
        &["node", server.to_str().unwrap()],
    );
    let diffs = check_heap_diff(&report, dir.path(), &stderr);
    assert_eq!(code, 1, "stderr:\n{stderr}");
    let first = &diffs[0]["findings"][0];
    assert_eq!(first["type_name"], "RequestContext", "{:#}", diffs[0]);
    assert_eq!(first["class"], "leak");
    let path = first["retainer_path"].as_str().unwrap();
    assert!(path.contains("ConfigBus._events"), "{path}");
    assert!(path.ends_with("RequestContext"), "{path}");
    assert!(first["location"].as_str().unwrap().contains("server.js:"));
    // Every load phase leaves its requests' contexts behind (200 requests per phase).
    for d in first["count_delta"].as_array().unwrap() {
        assert!(d.as_i64().unwrap() >= 150, "{first:#}");
    }
    assert_no_trap_is_a_leak(&diffs[0], &["LruCache", "CountryTable", "RingBuffer"]);
    assert!(dir.path().join("snapshots/s03.heapsnapshot").exists());
    // `report RUN_DIR` shows the heap diff again (diffing the saved snapshots) and exits 1.
    let shown = leakhound()
        .arg("report")
        .arg(dir.path())
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run leakhound report");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert_eq!(shown.status.code(), Some(1), "{text}");
    assert!(text.contains("RequestContext"), "{text}");
    assert!(text.contains("overall: LEAK"), "{text}");
    // A saved snapshot that is gone: the report says so and keeps the run's verdict.
    std::fs::remove_file(dir.path().join("snapshots/s03.heapsnapshot")).unwrap();
    let shown = leakhound()
        .arg("report")
        .arg(dir.path())
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run leakhound report");
    let err = String::from_utf8_lossy(&shown.stderr);
    assert_eq!(shown.status.code(), Some(1), "{err}");
    assert!(
        err.contains("warning: run --snapshots: failed to diff"),
        "{err}"
    );
}

#[test]
fn java_service_leak_is_first_with_its_retainer_path() {
    let dir = tempfile::tempdir().unwrap();
    let classes = dir.path().join("classes");
    let ok = StdCommand::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(testapps().join("java/LeakService.java"))
        .status()
        .expect("javac is required for this test");
    assert!(ok.success());
    let out = dir.path().join("run");
    let (code, report, stderr) = run_with_snapshots(
        "java",
        free_port(),
        &out,
        &[],
        &[
            "java",
            "-Xmx256m",
            "-cp",
            classes.to_str().unwrap(),
            "LeakService",
        ],
    );
    let diffs = check_heap_diff(&report, &out, &stderr);
    assert_eq!(code, 1, "stderr:\n{stderr}");
    let first = &diffs[0]["findings"][0];
    assert_eq!(
        first["type_name"], "LeakService$SessionRecord",
        "{:#}",
        diffs[0]
    );
    assert_eq!(first["class"], "leak");
    let path = first["retainer_path"].as_str().unwrap();
    assert!(
        path.contains("class LeakService$SessionRegistry.SESSIONS"),
        "{path}"
    );
    assert!(
        first["hint"]
            .as_str()
            .unwrap()
            .starts_with("static map never pruned")
    );
    assert_no_trap_is_a_leak(&diffs[0], &["PageCache", "CountryTable", "LogRing"]);
}

/// Build testapps/go into `dir`.
fn build_go_service(dir: &Path) -> PathBuf {
    let bin = dir.join("goservice");
    let built = StdCommand::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(testapps().join("go"))
        // A cache that outlives the test keeps the build of net/http to the first run.
        .env(
            "GOCACHE",
            std::env::temp_dir().join("leakhound-test-gocache"),
        )
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("go is required for this test (apt-get install golang-go)");
    assert!(built.success());
    bin
}

#[test]
fn go_service_leaks_are_first_with_their_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_go_service(dir.path());
    let out = dir.path().join("run");
    let (code, report, stderr) =
        run_with_snapshots("go", free_port(), &out, &[], &[bin.to_str().unwrap()]);
    let diffs = check_heap_diff(&report, &out, &stderr);
    assert_eq!(code, 1, "stderr:\n{stderr}");
    assert_eq!(diffs.len(), 2, "heap and goroutine diffs");
    let heap = &diffs[0]["findings"][0];
    assert_eq!(heap["type_name"], "main.remember", "{:#}", diffs[0]);
    assert_eq!(heap["class"], "leak");
    assert!(
        heap["retainer_path"]
            .as_str()
            .unwrap()
            .starts_with("main.remember <- main.work <- "),
        "{heap:#}"
    );
    let gor = &diffs[1]["findings"][0];
    assert_eq!(
        gor["type_name"], "main.watch blocked in runtime.chanrecv1",
        "{:#}",
        diffs[1]
    );
    assert_eq!(gor["class"], "leak");
    for d in gor["count_delta"].as_array().unwrap() {
        assert!(d.as_i64().unwrap() >= 150, "{gor:#}");
    }
    assert_no_trap_is_a_leak(
        &diffs[0],
        &["main.buildTable", "main.renderPage", "main.logLine"],
    );
}

/// A Node service without a leak: a cache bounded to 50 entries.
const NODE_NO_LEAK: &str = r#"
const http = require('http');
const cache = new Map();
http.createServer((req, res) => {
  const id = Number(new URL(req.url, 'http://x').searchParams.get('id') || 0);
  if (!cache.has(id % 50)) cache.set(id % 50, 'v'.repeat(1000) + id);
  res.end(String(cache.get(id % 50).length));
}).listen(Number(process.env.PORT), '127.0.0.1');
"#;

/// No leak in the heap: no finding is a leak, the heap verdict is `no_leak`, and the exit code
/// is the memory verdict's (the heap adds no leak).
#[test]
fn node_service_without_a_leak_has_no_heap_leak() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) = run_with_snapshots(
        "node",
        free_port(),
        dir.path(),
        &[],
        &["node", "-e", NODE_NO_LEAK],
    );
    let h = &report["heap_diff"];
    assert_eq!(h["verdict"], "no_leak", "{h:#}\nstderr:\n{stderr}");
    for f in h["diffs"][0]["findings"].as_array().unwrap() {
        assert_ne!(f["class"], "leak", "{f:#}");
    }
    let memory = match report["verdict"].as_str().unwrap() {
        "leak" => 1,
        "no_leak" => 0,
        _ => 3,
    };
    assert_eq!(code, memory, "stderr:\n{stderr}");
}

/// A small HTTP/1.1 service in python3 (answers `ok` to everything), on $PORT.
const PY_SERVICE: &str = r#"
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;

/// `--snapshots node` on a service that is not Node: the run still finishes and keeps its
/// data; the failure is one clear line, and without a heap diff the exit code is 2.
#[test]
fn snapshots_of_a_missing_runtime_are_reported_and_the_run_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report, stderr) = run_with_snapshots(
        "node",
        free_port(),
        dir.path(),
        &[],
        &["python3", "-c", PY_SERVICE],
    );
    assert_eq!(code, 2, "stderr:\n{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: run --snapshots:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("no `node` process in the target's tree"),
        "{stderr}"
    );
    let h = &report["heap_diff"];
    assert!(h["verdict"].is_null(), "{h:#}");
    assert!(
        h["errors"][0]
            .as_str()
            .unwrap()
            .contains("no `node` process")
    );
    // The memory side of the run is complete.
    assert!(report["series"].as_array().unwrap().len() > 3);
    assert!(dir.path().join("samples.csv").exists());
    assert_eq!(read_json(&dir.path().join("verdict.json"))["heap_diff"], *h);
}

#[test]
fn snapshots_need_load_phases() {
    let out = leakhound()
        .args(["run", "--snapshots", "node", "--duration", "2s", "--"])
        .args(["sleep", "5"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("--snapshots takes a snapshot after each load phase"),
        "{err}"
    );
    let out = leakhound()
        .args(["run", "--pprof-url", "http://127.0.0.1:6060", "--"])
        .args(["sleep", "5"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("--pprof-url needs --snapshots go"), "{err}");
    let out = leakhound()
        .args([
            "run",
            "--snapshots",
            "go",
            "--pprof-url",
            "http://10.1.2.3:6060",
        ])
        .args([
            "--load",
            "http://127.0.0.1:9/",
            "--rate",
            "10",
            "--duration",
            "3s",
            "--",
        ])
        .args(["sleep", "5"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("only 127.0.0.1 is contacted"), "{err}");
    // A load without --duration runs until the target ends: no phases to split.
    let out = leakhound()
        .args([
            "run",
            "--snapshots",
            "go",
            "--load",
            "http://127.0.0.1:9/",
            "--rate",
            "10",
        ])
        .args(["--", "sleep", "5"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("give --duration"), "{err}");
}

/// A scenario's stages are the phases (three steps: three phases, nothing split), and
/// `--pprof-url` names the endpoint explicitly.
#[test]
fn go_service_with_scenario_steps_and_pprof_url() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_go_service(dir.path());
    let port = free_port();
    let scenario = dir.path().join("steps.toml");
    std::fs::write(
        &scenario,
        format!(
            "target = \"http://127.0.0.1:{port}/\"\n\
             [[request]]\npath = \"/work?id={{{{seq}}}}\"\n\
             [[stage]]\nkind = \"steps\"\nrates = [100, 150, 100]\nevery = \"2s\"\n"
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("run");
    let out = leakhound()
        .args(["run", "--json", "--snapshots", "go", "--scenario"])
        .arg(&scenario)
        .args(["--snapshot-pause", "1s", "--pprof-url"])
        .arg(format!("http://127.0.0.1:{port}/debug/pprof/"))
        .arg("--out")
        .arg(&out_dir)
        .arg("--")
        .arg(&bin)
        .env("PORT", port.to_string())
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}; stderr:\n{stderr}"));
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    let h = &report["heap_diff"];
    assert_eq!(h["target"], format!("http://127.0.0.1:{port}/debug/pprof"));
    assert_eq!(h["snapshots"].as_array().unwrap().len(), 4, "{h:#}");
    let notes = h["notes"].to_string();
    assert!(
        !notes.contains("split"),
        "three steps need no split: {notes}"
    );
    let gor = &h["diffs"][1]["findings"][0];
    assert_eq!(gor["type_name"], "main.watch blocked in runtime.chanrecv1");
    // Goroutine profiles count goroutines, not bytes: 200 + 300 + 200 more blocked at the end.
    let counts: Vec<u64> = h["diffs"][1]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["goroutines"].as_u64().expect("goroutines"))
        .collect();
    assert!(counts[3] >= counts[0] + 650, "{counts:?}");
    assert_eq!(h["diffs"][1]["snapshots"][0]["reachable_bytes"], 0);
    assert!(h["diffs"][0]["snapshots"][0]["goroutines"].is_null());
    // 200, 300 and 200 requests in the three steps.
    let d: Vec<i64> = gor["count_delta"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(d[1] > d[0] && d[1] > d[2], "{d:?}");
}

/// An unreachable pprof endpoint: one error line naming it, the run kept, exit 2.
#[test]
fn unreachable_pprof_endpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_closed_socket, closed) = closed_port();
    let url = format!("http://127.0.0.1:{closed}/debug/pprof");
    let (code, report, stderr) = run_with_snapshots(
        "go",
        free_port(),
        dir.path(),
        &["--pprof-url", &url],
        &["python3", "-c", PY_SERVICE],
    );
    assert_eq!(code, 2, "stderr:\n{stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: run --snapshots:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains(&format!("failed to take a snapshot of {url}"))
            && errors[0].contains(&format!("cannot connect to 127.0.0.1:{closed}")),
        "{stderr}"
    );
    assert!(report["heap_diff"]["verdict"].is_null());
    assert!(dir.path().join("samples.csv").exists());
}

/// A node service that answers one request (the readiness check) and exits with `code` as
/// soon as the answer is sent, before snapshot 0.
fn node_exiting_after_one_request(code: u8) -> String {
    format!(
        "require('http').createServer((q,r)=>r.end('ok',()=>process.exit({code})))\
         .listen(+process.env.PORT,'127.0.0.1')"
    )
}

#[test]
fn a_target_that_exits_before_snapshot_0_is_blamed_not_the_refused_connection() {
    for (exit, want) in [(0u8, 3), (3, 4)] {
        let dir = tempfile::tempdir().unwrap();
        let script = node_exiting_after_one_request(exit);
        let (code, report, stderr) = run_with_snapshots(
            "node",
            free_port(),
            dir.path(),
            &[],
            &["node", "-e", &script],
        );
        // Its exit decides the code (inconclusive, or 4 when it failed), not exit 2 for
        // snapshots that a gone target could not give.
        assert_eq!(code, want, "target exit {exit}, stderr:\n{stderr}");
        let h = &report["heap_diff"];
        let snaps = h["snapshots"].as_array().unwrap();
        assert_eq!(snaps.len(), 1, "{h:#}");
        let error = snaps[0]["error"].as_str().unwrap();
        assert!(error.starts_with("the target had exited"), "{error}");
        assert_eq!(h["planned"], 4, "{h:#}");
        let text = StdCommand::new(env!("CARGO_BIN_EXE_leakhound"))
            .arg("report")
            .arg(dir.path())
            .output()
            .unwrap();
        // `report` exits with the run's verdict (docs/report.md: never 4), and its overall
        // line no longer says the snapshots failed (exit 2).
        assert_eq!(text.status.code(), Some(3));
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("0 of 4 snapshots taken"), "{text}");
        assert!(!text.contains("heap snapshots failed"), "{text}");
        // The schedule never started: the run's end cut no snapshot short.
        assert!(!text.contains("ended early"), "{text}");
    }
}
