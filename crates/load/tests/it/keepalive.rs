//! Connection handling against servers that close connections: idle keep-alive timeouts,
//! `Connection: close`/`Keep-Alive: timeout=N`, HTTP/1.0 servers (one answer per connection, body
//! delimited by the close), and the real Python `http.server` and a Node server with a 1 s
//! `keepAliveTimeout` when those interpreters are installed.
// See: issue #5 (two bugs found after it was resolved: idle keep-alive closes counted as resets,
// and every answer of an HTTP/1.0 server counted as a reset).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use leakhound_load::{LoadPlan, LoadSummary};

use super::raw_server::{Mode, RawServer};
use super::run;

/// `cycles` × (`load` at `rate`, then `idle`), over `max_in_flight` connections.
fn cycles_plan(url: &str, rate: u32, load: &str, idle: &str, cycles: u32, mif: usize) -> LoadPlan {
    let text = format!(
        "target = \"{url}/\"\nmax_in_flight = {mif}\n[[stage]]\nkind = \"cycles\"\nrate = {rate}\n\
         load = \"{load}\"\nidle = \"{idle}\"\ncycles = {cycles}\n"
    );
    LoadPlan::from_scenario_str(&text, Path::new("cycles.toml"), None).expect("valid scenario")
}

fn assert_clean(s: &LoadSummary) {
    assert_eq!(s.errors.total(), 0, "no errors expected: {:?}", s.errors);
    assert_eq!(s.completed, s.scheduled, "{s:?}");
    assert_eq!(s.status_counts.get(&200), Some(&s.scheduled), "{s:?}");
    assert_eq!(s.dropped, 0);
}

/// The first bug: a server closes idle keep-alive connections during the pauses between
/// load phases; the first request on each closed connection used to count as a reset (here
/// 8 connections × 2 pauses). The closed connection is now noticed before the request is written.
#[test]
fn r5_idle_keep_alive_close_between_phases_is_not_an_error() {
    let server = RawServer::start(Mode::IdleClose {
        after: Duration::from_millis(300),
        announce: false,
    });
    let plan = cycles_plan(&server.url, 100, "1s", "1s", 3, 8);
    let s = run(&plan);
    assert_eq!(s.scheduled, 300);
    assert_clean(&s);
    // Fresh connections replaced the closed ones: at least the 8 of the start, and more after
    // each pause.
    assert!(server.connections() > 8, "{}", server.connections());
}

/// The request that crosses the server's close on the wire: it is written on a reused
/// connection, the server drops it unanswered and closes. Retried once on a fresh connection,
/// silently, as wrk, oha and hyper's pooled client do.
#[test]
fn r5_request_lost_to_an_idle_close_is_retried_once() {
    let server = RawServer::start(Mode::LazyExpire {
        after: Duration::from_millis(300),
        announce: false,
    });
    let plan = cycles_plan(&server.url, 100, "1s", "1s", 3, 8);
    let s = run(&plan);
    assert_clean(&s);
    assert!(
        server.refused() >= 8,
        "the retry path was taken: refused {}",
        server.refused()
    );
    assert_eq!(server.answered(), 300);
}

/// A server announcing `Keep-Alive: timeout=1` never sees a request on a connection idle past
/// it: the connection is replaced before the server would drop the request.
#[test]
fn r5_keep_alive_timeout_header_is_honoured() {
    let server = RawServer::start(Mode::LazyExpire {
        after: Duration::from_secs(1),
        announce: true,
    });
    let plan = cycles_plan(&server.url, 100, "1s", "1500ms", 2, 8);
    let s = run(&plan);
    assert_clean(&s);
    assert_eq!(
        server.refused(),
        0,
        "no request sent on an expired connection"
    );
    assert!(server.connections() >= 16, "{}", server.connections());
}

/// The open model opens its connections at the start; a scenario that begins with an idle
/// stage leaves them waiting long enough for the server to give up on them. The first request on
/// each is lost to the close and retried, like one on a connection that answered before.
#[test]
fn r5_connection_opened_ahead_and_left_idle_is_retried() {
    let server = RawServer::start(Mode::LazyExpire {
        after: Duration::from_millis(300),
        announce: false,
    });
    let text = format!(
        "target = \"{}/\"\nmax_in_flight = 8\n[[stage]]\nkind = \"idle\"\nduration = \"1s\"\n\
         [[stage]]\nkind = \"constant\"\nrate = 100\nduration = \"1s\"\n",
        server.url
    );
    let plan = LoadPlan::from_scenario_str(&text, Path::new("idle-first.toml"), None).unwrap();
    let s = run(&plan);
    assert_eq!(s.scheduled, 100);
    assert_clean(&s);
    assert!(server.refused() >= 1, "refused {}", server.refused());
}

/// Closed at once with the next request unread (a reset, not a FIN), back to back: each
/// connection's second request is retried on a fresh connection.
#[test]
fn r5_reset_of_a_reused_connection_before_the_answer_is_retried() {
    let server = RawServer::start(Mode::OneAnswer);
    let plan = LoadPlan::closed(&server.url, 2, Duration::from_secs(1)).unwrap();
    let s = run(&plan);
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    assert!(s.completed >= 100, "{}", s.completed);
    assert!(server.refused() >= 50, "{}", server.refused());
}

/// The same reset with a `POST` is not retried: the request left, and the server may have
/// acted on it (RFC 9110 §9.2.2), so a retry could make it act twice. It is a reset error.
#[test]
fn a_post_that_left_is_never_sent_twice() {
    let server = RawServer::start(Mode::OneAnswer);
    let mut plan = LoadPlan::closed(&server.url, 2, Duration::from_secs(1)).unwrap();
    plan.requests[0].method = "POST".into();
    plan.requests[0].body = Some(b"x".to_vec());
    let s = run(&plan);
    assert!(s.completed >= 50, "{}", s.completed);
    assert!(s.errors.reset >= 25, "{:?}", s.errors);
    assert_eq!(s.errors.total(), s.errors.reset, "{:?}", s.errors);
}

/// The retry is for connections that were waiting, never for one opened for the request: a
/// server that closes every connection without an answer is a failing target, every request an
/// error. Only the first request of each of the 4 connections opened at the start is tried
/// twice (those connections were waiting); after that each request gets one fresh connection.
#[test]
fn closes_without_any_answer_are_still_errors() {
    let server = RawServer::start(Mode::NeverAnswer);
    let mut plan = LoadPlan::open(&server.url, 100.0, Duration::from_secs(1)).unwrap();
    plan.max_in_flight = 4;
    let s = run(&plan);
    assert_eq!(s.completed, 0);
    assert_eq!(s.errors.reset, 100, "{:?}", s.errors);
    assert_eq!(s.errors.total(), 100, "{:?}", s.errors);
    assert_eq!(
        server.refused(),
        100 + 4,
        "retried once, only on the 4 waiting connections"
    );
}

/// The second bug: an HTTP/1.0 answer whose body ends with the connection used to be
/// lost (the connection future finished first and the exchange was called a reset).
#[test]
fn r5_http10_close_delimited_answers_are_read_to_eof() {
    let server = RawServer::start(Mode::Http10 {
        content_length: false,
    });
    let plan = LoadPlan::open(&server.url, 200.0, Duration::from_secs(1)).unwrap();
    let s = run(&plan);
    assert_clean(&s);
    assert_eq!(server.connections(), 200, "one connection per answer");
    assert_eq!(server.answered(), 200);

    let closed = LoadPlan::closed(&server.url, 2, Duration::from_secs(1)).unwrap();
    let s = run(&closed);
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    assert!(s.completed >= 50, "{}", s.completed);
}

#[test]
fn r5_http10_with_content_length_and_ready_probe() {
    let server = RawServer::start(Mode::Http10 {
        content_length: true,
    });
    let waited =
        leakhound_load::wait_ready(&server.url, Duration::from_secs(3), &mut || false).unwrap();
    assert!(waited < Duration::from_secs(1), "{waited:?}");
    let plan = LoadPlan::open(&server.url, 200.0, Duration::from_secs(1)).unwrap();
    let s = run(&plan);
    assert_clean(&s);
}

/// A child process printing its URL on its first stdout line, killed when dropped.
struct Interpreted {
    child: Child,
    url: String,
}

impl Drop for Interpreted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `program args…` in `dir`; `url_of` turns its first stdout line into the URL. `None`
/// (with a note) when the program is not installed.
fn start_interpreted(
    program: &str,
    args: &[&str],
    dir: &Path,
    url_of: fn(&str) -> Option<String>,
) -> Option<Interpreted> {
    let spawned = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipped: {program} not available ({e})");
            return None;
        }
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    let Some(url) = url_of(line.trim()) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{program}: unexpected first line {line:?}");
    };
    Some(Interpreted { child, url })
}

/// `python3 -m http.server` answers HTTP/1.0 with `Content-Length` and closes every connection.
#[test]
fn r5_python_http_server_is_served_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<p>hi</p>\n").unwrap();
    let Some(py) = start_interpreted(
        "python3",
        &["-u", "-m", "http.server", "--bind", "127.0.0.1", "0"],
        dir.path(),
        // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
        |l| {
            let port = l.split(" port ").nth(1)?.split_whitespace().next()?;
            Some(format!("http://127.0.0.1:{port}"))
        },
    ) else {
        return;
    };
    leakhound_load::wait_ready(
        &format!("{}/index.html", py.url),
        Duration::from_secs(10),
        &mut || false,
    )
    .expect("python http.server becomes ready");
    let plan = LoadPlan::open(
        &format!("{}/index.html", py.url),
        100.0,
        Duration::from_secs(2),
    )
    .unwrap();
    let s = run(&plan);
    assert_clean(&s);
}

/// The case the issue was reported with: Node with `keepAliveTimeout = 1000` (it also sends
/// `Keep-Alive: timeout=1`), pauses of 2 s between load phases over 64 connections (before the
/// fix: 100 of 300 requests counted as resets).
#[test]
fn r5_node_keep_alive_timeout_pauses_are_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let script = "const http = require('http');\n\
        const s = http.createServer((req, res) => res.end('ok\\n'));\n\
        s.keepAliveTimeout = 1000;\n\
        s.listen(0, '127.0.0.1', () => console.log('http://127.0.0.1:' + s.address().port));\n";
    std::fs::write(dir.path().join("server.js"), script).unwrap();
    let Some(node) = start_interpreted("node", &["server.js"], dir.path(), |l| {
        l.starts_with("http://").then(|| l.to_string())
    }) else {
        return;
    };
    let plan = cycles_plan(&node.url, 100, "1s", "2s", 3, 64);
    let s = run(&plan);
    assert_eq!(s.scheduled, 300);
    assert_clean(&s);
}
