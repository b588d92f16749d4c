//! The repo's test services (`testapps/`) as child processes: start one, read the port it
//! prints, send it requests over 127.0.0.1, kill it when the test ends (also on a failed assert).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running test service; killed and reaped on drop.
pub(crate) struct Service {
    child: Child,
    /// The port the service printed on its first stdout line (`… 127.0.0.1:PORT`).
    pub(crate) port: u16,
}

impl Service {
    /// Starts `cmd` with stdout piped and waits for its first line, which ends in `:PORT`.
    pub(crate) fn start(mut cmd: Command) -> Service {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut svc = Service { child, port: 0 };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        svc.port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in the service's first line: {line:?}"));
        svc
    }

    /// The service's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET path` as HTTP/1.0 (so no server chunks its answer), asserting a 200; the body.
    pub(crate) fn get(&self, path: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to the service");
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let head = String::from_utf8_lossy(&out[..out.len().min(200)]).into_owned();
        assert!(
            head.starts_with("HTTP/1.") && head.get(8..13) == Some(" 200 "),
            "{path}: {head}"
        );
        let body = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("http header end")
            + 4;
        out[body..].to_vec()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `testapps/<rel>` in the repo.
pub(crate) fn testapp(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testapps")
        .join(rel)
}

/// Builds the Go package `pkg` (relative to `testapps/go`) into `dir`; the build cache outlives
/// the test, so net/http is compiled once per machine, not once per test.
pub(crate) fn build_go(dir: &Path, pkg: &str, name: &str) -> PathBuf {
    let bin = dir.join(name);
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(pkg)
        .current_dir(testapp("go"))
        .env(
            "GOCACHE",
            std::env::temp_dir().join("leakhound-test-gocache"),
        )
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("go is required for this test (apt-get install golang-go)");
    assert!(built.success(), "go build {pkg}");
    bin
}
