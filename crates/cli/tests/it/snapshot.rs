//! `leakhound snapshot node|java|go TARGET -o FILE`: real snapshots of running Node and Java
//! processes (read back by `leakhound diff`), and unreachable targets (exit 2, one line naming
//! the target, never a panic).

use std::io::{BufRead, BufReader, Read, Write};
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
    let port = listening_port(&mut child);
    let _svc = Service(child);
    let target = format!("127.0.0.1:{inspector}");
    let mut files = Vec::new();
    for i in 0..3 {
        let f = dir.path().join(format!("s{i}.heapsnapshot"));
        let (code, _, err) = snapshot(&["node", &target, "-o", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("wrote {}", f.display())), "{err}");
        assert!(f.metadata().unwrap().len() > 100_000);
        files.push(f);
        // Requests between snapshots: each leaves a listener on the service's ConfigBus.
        for id in 0..120 {
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                c,
                "GET /work?id={}{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                i
            )
            .unwrap();
            let mut answer = String::new();
            c.read_to_string(&mut answer).unwrap();
        }
    }
    assert_no_partial_files(dir.path());
    // Every `snapshot node` is a new inspector session, and V8 numbers the objects again in
    // each: the leak and its retainer path are found without relying on object ids.
    let out = leakhound()
        .arg("diff")
        .args(&files)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("RequestContext — LEAK"), "{text}");
    assert!(text.contains("context.configBus -> ConfigBus"), "{text}");
    assert!(text.contains("listener never removed"), "{text}");
}

/// Wait for the service's "listening 127.0.0.1:PORT" line and return the port.
fn listening_port(child: &mut Child) -> u16 {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the port line");
    line.trim()
        .strip_prefix("listening 127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
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
fn a_go_endpoint_that_answers_no_profile_is_refused() {
    // A web server that answers /debug/pprof/heap with text, not a profile.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir_all(root.join("debug/pprof")).unwrap();
    std::fs::write(root.join("debug/pprof/heap"), "not a profile\n").unwrap();
    std::fs::write(root.join("debug/pprof/goroutine"), "nor this\n").unwrap();
    let (closed, port) = closed_port();
    drop(closed);
    let _server = Service(
        StdCommand::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(&root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let target = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&target).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "http.server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = dir.path().join("heap.pb.gz");
    let (code, _, err) = snapshot(&["go", &target, "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "did not answer with a pprof profile");
    assert!(!out.exists());
    assert_no_partial_files(dir.path());
    let (code, _, err) = snapshot(&["go", "0", "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "expected PORT (1-65535)");
}

#[test]
fn a_port_that_accepts_and_never_answers_is_given_up_after_the_timeout() {
    // The kernel completes the connection (listen backlog); nobody ever reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = silent.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("heap.pb.gz");
    let start = std::time::Instant::now();
    let (code, _, err) = snapshot(&[
        "go",
        &target,
        "-o",
        out.to_str().unwrap(),
        "--timeout",
        "1s",
    ]);
    assert_unreachable(
        code,
        &err,
        "GET /debug/pprof/heap?gc=1: nothing received for 1 s",
    );
    assert!(err.contains("longer --timeout"), "{err}");
    let node = dir.path().join("s.heapsnapshot");
    let (code, _, err) = snapshot(&[
        "node",
        &target,
        "-o",
        node.to_str().unwrap(),
        "--timeout",
        "1s",
    ]);
    assert_unreachable(code, &err, "GET /json/list: nothing received for 1 s");
    assert!(err.contains("Node inspector's port"), "{err}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert!(!out.exists() && !node.exists());
    assert_no_partial_files(dir.path());
    // A file that could not be written is named before the target is asked for anything.
    for (kind, name) in [("go", "heap.pb.gz"), ("node", "s.heapsnapshot")] {
        let missing = dir.path().join("no-such-dir").join(name);
        let (code, _, err) = snapshot(&[kind, &target, "-o", missing.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.starts_with("error: failed to write "), "{err}");
        assert!(err.contains("no-such-dir is not a directory"), "{err}");
    }
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
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

/// A process of ours that is not Node or Java (nothing else is ever signalled by these tests).
fn sleeper() -> Service {
    Service(
        StdCommand::new("sleep")
            .arg("300")
            .spawn()
            .expect("sleep is on every machine"),
    )
}

impl Service {
    fn pid(&self) -> String {
        self.0.id().to_string()
    }

    /// Still running: not killed by a signal leakhound should not have sent.
    fn assert_alive(&mut self) {
        assert!(
            self.0.try_wait().expect("wait on our child").is_none(),
            "process {} was killed",
            self.0.id()
        );
    }
}

/// The Node test service with `node_args` before the script, once it is listening.
fn node_service(node_args: &[&str]) -> Service {
    let mut child = StdCommand::new("node")
        .args(node_args)
        .arg(testapps().join("node/server.js"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is required for this test");
    wait_listening(&mut child);
    Service(child)
}

/// Audit: `snapshot node PID` sent SIGUSR1 to a `sleep` (killing it) and then wrote the heap of
/// whatever inspector listened on 9229, exit 0. Now: exit 2, no signal, no file.
#[test]
fn node_snapshot_of_a_pid_that_is_not_node_sends_no_signal() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleep = sleeper();
    let out = dir.path().join("x.heapsnapshot");
    let (code, _, err) = snapshot(&["node", &sleep.pid(), "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "is not a Node process (it runs sleep 300)");
    sleep.assert_alive();
    assert!(!out.exists());
    assert_no_partial_files(dir.path());
}

/// By PID, the inspector port comes from the process's own options (here `--inspect-port`,
/// which SIGUSR1 opens), not always 9229; a second snapshot finds it already open.
#[test]
fn node_snapshot_by_pid_opens_the_inspector_on_the_port_of_that_pid() {
    let dir = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let mut node = node_service(&[&format!("--inspect-port=127.0.0.1:{inspector}")]);
    for i in 0..2 {
        let f = dir.path().join(format!("s{i}.heapsnapshot"));
        let (code, _, err) = snapshot(&["node", &node.pid(), "-o", f.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        assert!(f.metadata().unwrap().len() > 100_000);
        // The service's own script is in the heap: this is its snapshot.
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.contains("RequestContext"),
            "not the test service's heap"
        );
    }
    node.assert_alive();
    assert_no_partial_files(dir.path());
}

/// `--inspect=0`: the inspector is open on a port chosen at random; it is found among the
/// PID's own sockets.
#[test]
fn node_snapshot_by_pid_finds_an_inspector_on_a_random_port() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_service(&["--inspect=127.0.0.1:0"]);
    let f = dir.path().join("s.heapsnapshot");
    let (code, _, err) = snapshot(&["node", &node.pid(), "-o", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(f.metadata().unwrap().len() > 100_000);
}

/// Audit: with two node processes, the snapshot "of" the second held the first one's heap
/// (the second could not open its inspector: the port was taken), exit 0. Now the port's
/// holder is named and nothing is written.
#[test]
fn node_snapshot_refuses_an_inspector_port_held_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let first = node_service(&[&format!("--inspect=127.0.0.1:{inspector}")]);
    let mut second = node_service(&[&format!("--inspect-port=127.0.0.1:{inspector}")]);
    let out = dir.path().join("s.heapsnapshot");
    let (code, _, err) = snapshot(&["node", &second.pid(), "-o", out.to_str().unwrap()]);
    assert_unreachable(
        code,
        &err,
        &format!("port {inspector} is held by pid {} (node ", first.pid()),
    );
    assert!(err.contains(&format!("not {}'s", second.pid())), "{err}");
    assert!(err.contains("--inspect"), "no hint: {err}");
    second.assert_alive();
    assert!(!out.exists());
    assert_no_partial_files(dir.path());
}

/// Audit: `snapshot node 127.0.0.1:1` took 10 s to say "connection refused" (retries meant for
/// a just-signalled inspector); an address given by the user is not waited for.
#[test]
fn refused_node_inspector_address_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_closed, port) = closed_port();
    let target = format!("127.0.0.1:{port}");
    let out = dir.path().join("s.heapsnapshot");
    let start = std::time::Instant::now();
    let (code, _, err) = snapshot(&["node", &target, "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "cannot connect");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

/// Audit: `snapshot java <not a JVM>` took 10.8 s (jcmd's attach timeout) and printed an
/// AttachNotSupportedException; jcmd's SIGQUIT would also kill most programs.
#[test]
fn java_snapshot_of_a_pid_that_is_not_a_jvm_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut sleep = sleeper();
    let out = dir.path().join("x.hprof");
    let start = std::time::Instant::now();
    let (code, _, err) = snapshot(&["java", &sleep.pid(), "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "is not a Java process (it runs sleep 300)");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    sleep.assert_alive();
    assert!(!out.exists());
}

/// When jcmd itself fails, its reason is shown, not the attach API's exception and stack.
#[test]
fn jcmd_failure_is_told_by_its_reason_not_a_stack_trace() {
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
        .args(["-XX:+DisableAttachMechanism", "-Xmx64m", "-cp"])
        .arg(&classes)
        .arg("LeakService")
        .stdout(Stdio::piped())
        .spawn()
        .expect("java");
    wait_listening(&mut child);
    let jvm = Service(child);
    let out = dir.path().join("x.hprof");
    let (code, _, err) = snapshot(&["java", &jvm.pid(), "-o", out.to_str().unwrap()]);
    assert_unreachable(
        code,
        &err,
        "jcmd GC.heap_dump failed: The VM does not support the attach mechanism",
    );
    assert!(!err.contains("Exception"), "{err}");
    assert!(!out.exists());
    assert_no_partial_files(dir.path());
}

/// An inspector that 127.0.0.1 does not reach (`--inspect=[::1]:PORT`) is named at once, not
/// waited for after a useless SIGUSR1.
#[test]
fn node_inspector_on_an_address_127_0_0_1_does_not_reach_is_named() {
    if std::net::TcpListener::bind(("::1", 0)).is_err() {
        eprintln!("skipped: no IPv6 loopback on this machine");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let inspector = free_port();
    let node = node_service(&[&format!("--inspect=[::1]:{inspector}")]);
    let out = dir.path().join("s.heapsnapshot");
    let start = std::time::Instant::now();
    let (code, _, err) = snapshot(&["node", &node.pid(), "-o", out.to_str().unwrap()]);
    assert_unreachable(
        code,
        &err,
        &format!("its inspector listens on [::1]:{inspector}, which 127.0.0.1 does not reach"),
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

/// Sends SIGTERM to a process this test started indirectly (a grandchild) when dropped.
struct Grandchild(u32);

impl Drop for Grandchild {
    fn drop(&mut self) {
        let _ = StdCommand::new("kill").arg(self.0.to_string()).status();
    }
}

/// `npm start` is itself a Node process: its PID would pass as Node and its own heap (npm's)
/// would be snapshotted. It is refused, and the service's node process it started is named.
/// npm is emulated (a node process titled `npm start` that starts the service), so the test
/// does not need npm.
#[test]
fn node_snapshot_of_npm_start_names_the_service_process() {
    let dir = tempfile::tempdir().unwrap();
    let server = testapps().join("node/server.js");
    let launcher = format!(
        "process.title = 'npm start'; \
         const c = require('child_process').spawn(process.execPath, [{server:?}], \
         {{ stdio: ['ignore', 'pipe', 'ignore'] }}); \
         console.log('child ' + c.pid); c.stdout.pipe(process.stdout);",
        server = server.to_str().unwrap()
    );
    let mut child = StdCommand::new("node")
        .args(["-e", &launcher])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node is required for this test");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let npm = Service(child);
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the child line");
    let service: u32 = line
        .trim()
        .strip_prefix("child ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let _service = Grandchild(service);
    line.clear();
    stdout.read_line(&mut line).expect("the port line");
    assert!(line.starts_with("listening 127.0.0.1:"), "{line}");
    let out = dir.path().join("s.heapsnapshot");
    let (code, _, err) = snapshot(&["node", &npm.pid(), "-o", out.to_str().unwrap()]);
    assert_unreachable(code, &err, "is npm (npm start), not the service it runs");
    // The service's command line (shortened on a long path) follows its PID.
    assert!(err.contains(&format!("{service} (node ")), "{err}");
    assert!(!out.exists());
}
