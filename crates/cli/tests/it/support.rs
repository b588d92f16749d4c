//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The `leakhound` binary under test, with colour off.
pub(crate) fn leakhound() -> Command {
    let mut c = Command::cargo_bin("leakhound").expect("the leakhound binary is built by cargo");
    c.env("NO_COLOR", "1");
    c
}

/// Path to the built binary, for tests that need `std::process::Command` (signals).
pub(crate) fn leakhound_path() -> PathBuf {
    assert_cmd::cargo::cargo_bin("leakhound")
}

/// A port on 127.0.0.1 that is free now and that no other call in this test process has
/// handed out: the kernel may give the same ephemeral port to two binds in a row, and a test
/// that wants one port for its service and another that must stay closed would then talk to its
/// own service on both (seen in CI).
pub(crate) fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let mut given = GIVEN
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    loop {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        if given.insert(port) {
            return port;
        }
    }
}

/// A port on 127.0.0.1 that refuses connections for as long as the returned socket lives: it
/// is bound but not listening, so a connection gets a reset (ECONNREFUSED) and no other bind
/// (a test server on port 0, another test) can take it meanwhile.
pub(crate) fn closed_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("an address");
    s.bind(&addr.into()).expect("bind 127.0.0.1:0");
    let port = s
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("a bound address")
        .port();
    (s, port)
}

/// The repo's test services (`testapps/`).
pub(crate) fn testapps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testapps")
}

/// Read and parse a JSON file.
pub(crate) fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The per-series verdict object named `series` in a run report.
pub(crate) fn series<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["series"]
        .as_array()
        .expect("series is an array")
        .iter()
        .find(|s| s["series"] == name)
        .unwrap_or_else(|| panic!("no series {name} in {report:#}"))
}

/// Write a CSV of `t,value` rows.
pub(crate) fn write_csv(dir: &Path, name: &str, rows: impl Iterator<Item = (f64, f64)>) -> PathBuf {
    let mut text = String::from("t_seconds,value\n");
    for (t, v) in rows {
        text.push_str(&format!("{t},{v}\n"));
    }
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write csv");
    p
}

/// Deterministic noise in [-1, 1] (a tiny LCG, so the tests need no RNG crate).
pub(crate) fn noise(i: u64) -> f64 {
    let x = i
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((x >> 33) as f64 / (1u64 << 31) as f64) - 1.0
}

/// The JSON lines `--json` prints, one value per line.
pub(crate) fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}
