//! `leakhound snapshot node|java|go TARGET -o FILE`: real snapshots of running Node and Java
//! processes (read back by `leakhound diff`), and unreachable targets (exit 2, one line naming
//! the target, never a panic).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::Duration;

use crate::support::{closed_port, free_port, leakhound, testapps};

/// Kills the child when dropped.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn snapshot(args: &[&str]) -> (i32, String, String) {
    let out = leakhound()
        .arg("snapshot")
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run leakhound snapshot");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit 2 with exactly one `error:` line that contains `needle`, and no panic.
fn assert_unreachable(code: i32, stderr: &str, needle: &str) {
    assert_eq!(code, 2, "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{stderr}");
    assert!(
        lines[0].starts_with("error: failed to take a snapshot of "),
        "{stderr}"
    );
    assert!(lines[0].contains(needle), "`{needle}` not in: {stderr}");
}

/// Wait for the service's "listening 127.0.0.1:PORT" line.
fn wait_listening(child: &mut Child) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the port line");
    assert!(line.starts_with("listening 127.0.0.1:"), "{line}");
}

/// Snapshots are written to `<out>.partial` and renamed when complete: none may be left over.
fn assert_no_partial_files(dir: &std::path::Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "partial files left: {left:?}");
}

#[test]
fn node_snapshots_through_the_inspector_are_read_back_by_diff() {
    let dir = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let mut child = StdCommand::new("node")
        .arg(format!("--inspect=127.0.0.1:{inspector}"))
        .arg(testapps().join("node/server.js"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is required for this test");
    wait_listening(&mut child);
    let _svc = Service(child);
    let target = format!("127.0.0.1:{inspector}");
    let mut files = Vec::new();
    for i in 0..2 {
        let f = dir.path().join(format!("s{i}.heapsnapshot"));
        let (code, _, err) = snapshot(&["node", &target, "-o", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("wrote {}", f.display())), "{err}");
        assert!(f.metadata().unwrap().len() > 100_000);
        files.push(f);
    }
    assert_no_partial_files(dir.path());
    // Two snapshots of an idle process: whatever diff says, it must read them (0 or 3).
    let out = leakhound()
        .arg("diff")
        .args(&files)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert!(
        code == 0 || code == 3,
        "{code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn java_heap_dump_with_jcmd_is_read_back_by_diff() {
    let dir = tempfile::tempdir().unwrap();
    let classes = dir.path().join("classes");
    let ok = StdCommand::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(testapps().join("java/LeakService.java"))
        .status()
        .expect("javac is required for this test");
    assert!(ok.success());
    let mut child = StdCommand::new("java")
        .args(["-Xmx128m", "-cp"])
        .arg(&classes)
        .arg("LeakService")
        .stdout(Stdio::piped())
        .spawn()
        .expect("java");
    wait_listening(&mut child);
    let pid = child.id().to_string();
    let _svc = Service(child);
    let mut files = Vec::new();
    for i in 0..2 {
        let f = dir.path().join(format!("s{i}.hprof"));
        let (code, _, err) = snapshot(&["java", &pid, "-o", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        files.push(f);
    }
    assert_no_partial_files(dir.path());
    let out = leakhound()
        .args(["diff", "--json"])
        .args(&files)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 2);
}

#[test]
fn unreachable_go_endpoint_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_closed, port) = closed_port();
    let target = format!("127.0.0.1:{port}");
    let out = dir.path().join("heap.pb.gz");
    let (code, _, err) = snapshot(&["go", &target, "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, &target);
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!out.exists());
    assert_no_partial_files(dir.path());
}

#[test]
fn unreachable_node_inspector_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (_closed, port) = closed_port();
    let target = format!("127.0.0.1:{port}");
    let out = dir.path().join("s.heapsnapshot");
    let (code, _, err) = snapshot(&["node", &target, "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, &target);
}

#[test]
fn missing_processes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    // PIDs above the kernel's pid_max (4194304 at most) never exist.
    let (code, _, err) = snapshot(&["node", "99999999", "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "99999999");
    let (code, _, err) = snapshot(&["java", "99999999", "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "99999999");
    let (code, _, err) = snapshot(&["go", "not-a-port", "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "not-a-port");
}
