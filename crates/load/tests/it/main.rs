//! Integration tests of the load driver against the real `lh-testserver` on 127.0.0.1.
//!
//! Each test starts its own server process (killed on drop) and bounds its own run time; the
//! whole binary takes well under two minutes (the stall test is the longest, about 15 s).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use leakhound_load::{
    Arrivals, LoadError, LoadModel, LoadPlan, LoadSummary, Model, Stage, run_load,
};

mod bounds;
mod keepalive;
mod raw_server;

/// A running `lh-testserver`, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lh-testserver"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn lh-testserver");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(plan: &LoadPlan) -> LoadSummary {
    let mut ticks = 0;
    let s =
        run_load(plan, Arc::new(AtomicBool::new(false)), &mut |_| ticks += 1).expect("load runs");
    assert!(ticks >= 1);
    s
}

#[test]
fn open_model_holds_the_offered_rate() {
    let server = Server::start(&["--threads", "1"]);
    let plan = LoadPlan::open(&server.url, 1000.0, Duration::from_secs(4)).unwrap();
    let s = run(&plan);
    assert_eq!(s.model, LoadModel::Open);
    assert_eq!(
        s.scheduled, 4000,
        "constant arrivals schedule rate × duration"
    );
    assert_eq!(s.completed, 4000, "{s:?}");
    assert_eq!(s.errors.total(), 0, "{:?}", s.errors);
    assert_eq!(s.status_counts.get(&200), Some(&4000));
    let offered = s.offered_rate.unwrap();
    assert!((offered - 1000.0).abs() < 1.0, "{offered}");
    assert!(
        (s.achieved_rate / offered - 1.0).abs() < 0.01,
        "{}",
        s.achieved_rate
    );
    // Per-second series: 4 full seconds of ~1000 each, cumulative column ends at the total.
    let full: Vec<_> = s.per_second.iter().filter(|r| r.offered > 0).collect();
    assert_eq!(full.len(), 4, "{:?}", s.per_second);
    assert!(full.iter().all(|r| r.offered == 1000), "{:?}", s.per_second);
    assert_eq!(s.per_second.last().unwrap().requests_total, 4000);
    assert!(
        s.latency.p50_ms > 0.0 && s.latency.p50_ms < 50.0,
        "{:?}",
        s.latency
    );
    let csv = s.to_csv();
    assert!(csv.starts_with("t_seconds,offered,achieved,errors,p99_ms,requests_total,phase\n"));
}

#[test]
fn poisson_arrivals_hold_the_mean_rate() {
    let server = Server::start(&[]);
    let mut plan = LoadPlan::open(&server.url, 500.0, Duration::from_secs(4)).unwrap();
    if let Model::Open { arrivals, .. } = &mut plan.model {
        *arrivals = Arrivals::Poisson;
    }
    let s = run(&plan);
    // Poisson(2000): sd ≈ 45; 5 sigma.
    assert!((s.scheduled as i64 - 2000).abs() < 225, "{}", s.scheduled);
    assert_eq!(s.completed, s.scheduled);
    assert_eq!(s.arrivals.as_deref(), Some("poisson"));
}

/// The issue's honesty test: the server stalls 1 s every 10 s; at 1,000 req/s the requests
/// scheduled during the stall wait up to 1 s, which is about 5 % of them, so p99 must be at
/// least 0.5 s. A closed-loop tool would send only `connections` requests during the stall and
/// report a p99 of a few ms.
// See: issue #5
#[test]
fn r5_latency_is_honest_under_stalls() {
    let server = Server::start(&[
        "--stall-every",
        "10s",
        "--stall-for",
        "1s",
        "--threads",
        "1",
    ]);
    let plan = LoadPlan::open(&server.url, 1000.0, Duration::from_secs(12)).unwrap();
    let s = run(&plan);
    assert!(s.completed >= 11_900, "{}", s.completed);
    assert!(
        s.latency.p99_ms >= 500.0,
        "p99 {} ms: {:?}",
        s.latency.p99_ms,
        s.latency
    );
    assert!(s.latency.max_ms >= 900.0, "{:?}", s.latency);
    assert!(s.latency.p50_ms < 100.0, "{:?}", s.latency);
    assert!(
        s.late >= 500,
        "requests held back by the stall are late: {}",
        s.late
    );
    // The stall second shows a high p99 in the per-second series.
    assert!(s.per_second.iter().any(|r| r.p99_ms >= 500.0));
}

#[test]
fn closed_model_runs_back_to_back() {
    let server = Server::start(&[]);
    let plan = LoadPlan::closed(&server.url, 4, Duration::from_secs(2)).unwrap();
    let s = run(&plan);
    assert_eq!(s.model, LoadModel::Closed);
    assert!(s.offered_rate.is_none());
    assert!(s.completed > 1000, "{}", s.completed);
    assert_eq!(s.errors.total(), 0);
    assert_eq!(s.connections, 4);
}

/// A port on 127.0.0.1 that refuses connections while the returned socket lives (bound, not
/// listening, so no test server on port 0 can be given it meanwhile).
fn closed_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&addr.into()).unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    (s, port)
}

#[test]
fn connection_refused_is_counted_not_fatal() {
    let (_closed, port) = closed_port();
    let plan = LoadPlan::open(
        &format!("http://127.0.0.1:{port}/"),
        200.0,
        Duration::from_secs(1),
    )
    .unwrap();
    let s = run(&plan);
    assert_eq!(s.scheduled, 200);
    assert_eq!(s.completed, 0);
    assert_eq!(s.errors.connect, 200, "{:?}", s.errors);
    assert_eq!(s.per_second[0].errors, 200);
}

#[test]
fn server_death_mid_run_is_counted_and_summarised() {
    let mut server = Server::start(&[]);
    let plan = LoadPlan::open(&server.url, 500.0, Duration::from_secs(3)).unwrap();
    let handle = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let _ = server.child.kill();
        let _ = server.child.wait();
        server
    });
    let s = run(&plan);
    drop(handle.join());
    assert_eq!(s.scheduled, 1500);
    assert!(s.completed >= 450 && s.completed <= 700, "{}", s.completed);
    assert!(s.errors.connect + s.errors.reset >= 700, "{:?}", s.errors);
    // A request whose stale connection was lost and whose new one could not be opened is a
    // connect failure, not also "sent": the counts add up.
    assert_eq!(
        s.sent + s.dropped + s.errors.connect,
        s.scheduled,
        "sent {} dropped {} {:?}",
        s.sent,
        s.dropped,
        s.errors
    );
}

#[test]
fn stop_flag_ends_early_with_a_summary() {
    let server = Server::start(&[]);
    let plan = LoadPlan::open(&server.url, 200.0, Duration::from_secs(60)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let t0 = std::time::Instant::now();
    let s = run_load(&plan, stop, &mut |t| {
        if t.elapsed_s >= 1.0 {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    })
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(s.interrupted);
    assert!(s.completed >= 150 && s.completed <= 500, "{}", s.completed);
}

#[test]
fn scenario_with_placeholders_and_cycles_runs() {
    let server = Server::start(&[]);
    let text = format!(
        r#"
target = "{url}/x"
[[request]]
method = "POST"
path = "/items/{{{{seq}}}}"
body = "n={{{{random}}}}"
headers = {{ "content-type" = "text/plain" }}
weight = 2
[[request]]
path = "/health"
[[stage]]
kind = "cycles"
rate = 300
load = "1s"
idle = "1s"
cycles = 2
"#,
        url = server.url
    );
    let plan = LoadPlan::from_scenario_str(&text, Path::new("t.toml"), None).unwrap();
    assert_eq!(plan.requests.len(), 2);
    assert_eq!(plan.requests[0].path, "/items/{{seq}}");
    let s = run(&plan);
    assert_eq!(s.scheduled, 600);
    assert_eq!(s.completed, 600);
    let phases: Vec<&str> = s.per_second.iter().map(|r| r.phase.as_str()).collect();
    assert_eq!(
        &phases[..4],
        &["load", "idle", "load", "idle"],
        "{phases:?}"
    );
    assert_eq!(s.per_second[1].offered, 0);
    // The next phase's first request is due exactly at the boundary (and may leave up to half a
    // timer tick early), so it can land in the idle second's tally; and a request sent in the
    // load second's last milliseconds completes in the idle one when the machine is busy (a
    // fresh-clone CI run on 2 cores, other test binaries running, counted 302: two
    // stragglers, no new load). A handful at most.
    assert!(
        (300..=305).contains(&s.per_second[1].requests_total),
        "{:?}",
        s.per_second
    );
}

fn scenario_err(text: &str) -> String {
    match LoadPlan::from_scenario_str(text, Path::new("s.toml"), None) {
        Err(e @ LoadError::Scenario { .. }) => e.to_string(),
        other => panic!("expected a scenario error, got {other:?}"),
    }
}

#[test]
fn scenario_errors_name_line_and_field() {
    let e = scenario_err(
        "target = \"http://127.0.0.1:1/\"\n\n[[stage]]\nkind = \"constant\"\nrate = -3\nduration = \"5s\"\n",
    );
    assert!(
        e.contains("line 5") && e.contains("stage.rate") && e.contains("> 0"),
        "{e}"
    );

    let e = scenario_err(
        "target = \"http://127.0.0.1:1/\"\n[[stage]]\nkind = \"constant\"\nrate = 10\nduration = \"5 parsecs\"\n",
    );
    assert!(e.contains("line 5") && e.contains("stage.duration"), "{e}");

    let e = scenario_err("target = \"http://127.0.0.1:1/\"\n[[stage]]\nkind = \"warp\"\n");
    assert!(
        e.contains("line 3") && e.contains("stage.kind") && e.contains("warp"),
        "{e}"
    );

    let e = scenario_err(
        "target = \"http://127.0.0.1:1/\"\n[[stage]]\nkind = \"ramp\"\nfrom = 1\nduration = \"1s\"\n",
    );
    assert!(
        e.contains("line 2") && e.contains("stage.to") && e.contains("required"),
        "{e}"
    );

    let e = scenario_err("target = \"http://127.0.0.1:1/\"\nrat = 5\n");
    assert!(e.contains("line 2") && e.contains("rat"), "{e}");

    // A number in quotes: said in words, not in Rust's type names.
    let e = scenario_err(
        "target = \"http://127.0.0.1:1/\"\n[[stage]]\nrate = \"10\"\nduration = \"5s\"\n",
    );
    assert!(
        e.contains("line 3") && e.contains("expected a number") && !e.contains("f64"),
        "{e}"
    );

    let e = scenario_err(
        "target = \"http://127.0.0.1:1/\"\n[[stage]]\nkind = \"constant\"\nrate = \"fast\"\nduration = \"1s\"\n",
    );
    assert!(e.contains("line 4") && e.contains("rate"), "{e}");

    let e = scenario_err("target = \"ftp://x/\"\n");
    assert!(e.contains("line 1") && e.contains("target"), "{e}");

    let e = scenario_err(
        "target = \"http://127.0.0.1:1/\"\n[[request]]\npath = \"nosl\"\n[[stage]]\nkind = \"constant\"\nrate = 1\nduration = \"1s\"\n",
    );
    assert!(e.contains("line 3") && e.contains("request.path"), "{e}");

    let e = scenario_err("target = \"http://127.0.0.1:1/\"\n[[stage]\n");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn example_scenarios_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for name in ["cycles.toml", "steps.toml", "ramp.toml"] {
        let plan = LoadPlan::from_file_with_target(&root.join(name), Some("http://127.0.0.1:9/"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(plan.duration() > Duration::ZERO);
    }
    let cycles = LoadPlan::from_scenario_file(&root.join("cycles.toml"))
        .or_else(|_| {
            LoadPlan::from_file_with_target(&root.join("cycles.toml"), Some("http://127.0.0.1:9/"))
        })
        .unwrap();
    let Model::Open { stages, .. } = &cycles.model else {
        panic!("open model")
    };
    assert!(matches!(stages[0], Stage::Cycles { .. }));
}

#[test]
fn unreadable_scenario_is_a_read_error() {
    let e = LoadPlan::from_scenario_file(Path::new("/nonexistent/x.toml")).unwrap_err();
    assert!(matches!(e, LoadError::ReadScenario { .. }));
    assert!(e.to_string().contains("failed to read scenario"));
}

#[test]
fn ready_probe_waits_for_2xx_and_times_out_clearly() {
    let server = Server::start(&[]);
    let waited = leakhound_load::wait_ready(
        &format!("{}/health", server.url),
        Duration::from_secs(5),
        &mut || false,
    )
    .unwrap();
    assert!(waited < Duration::from_secs(2));

    let (_closed, port) = closed_port();
    let t0 = std::time::Instant::now();
    let e = leakhound_load::wait_ready(
        &format!("http://127.0.0.1:{port}/health"),
        Duration::from_millis(500),
        &mut || false,
    )
    .unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3));
    let msg = e.to_string();
    assert!(
        msg.contains("did not answer 2xx") && msg.contains("connection refused"),
        "{msg}"
    );
}

#[test]
fn http_errors_are_counted_by_status() {
    let server = Server::start(&["--fail-every", "4"]);
    let plan = LoadPlan::open(&server.url, 400.0, Duration::from_secs(1)).unwrap();
    let s = run(&plan);
    assert_eq!(s.completed, 400);
    assert_eq!(
        s.status_counts.get(&500),
        Some(&100),
        "{:?}",
        s.status_counts
    );
    assert_eq!(s.status_counts.get(&200), Some(&300));
    assert_eq!(s.errors.http, 100);
    assert_eq!(s.errors.total(), 100);
}

/// A server slower than the schedule: in-flight requests stay bounded, the backlog is late, and
/// what waits longer than the timeout is dropped; nothing is silently lost.
#[test]
fn overload_is_bounded_and_accounted() {
    let server = Server::start(&["--delay", "300ms"]);
    let mut plan = LoadPlan::open(&server.url, 100.0, Duration::from_secs(2)).unwrap();
    plan.max_in_flight = 4;
    plan.timeout = Duration::from_millis(500);
    let s = run(&plan);
    assert_eq!(s.scheduled, 200);
    // 4 connections × 300 ms per response: about 13 responses/s.
    assert!(s.completed <= 40, "{}", s.completed);
    assert!(s.dropped >= 120, "{}", s.dropped);
    assert!(s.late >= 10, "{}", s.late);
    assert_eq!(
        s.completed + s.dropped + s.errors.total(),
        s.scheduled,
        "every scheduled request is accounted for: {s:?}"
    );
    assert!(s.achieved_rate < s.offered_rate.unwrap() / 4.0);
    assert!(s.latency.p99_ms >= 500.0, "{:?}", s.latency);
}

#[test]
fn slow_responses_time_out_within_the_slack() {
    let server = Server::start(&["--delay", "3s"]);
    let mut plan = LoadPlan::open(&server.url, 10.0, Duration::from_secs(1)).unwrap();
    plan.timeout = Duration::from_millis(500);
    let s = run(&plan);
    assert_eq!(s.errors.timeout, 10, "{:?}", s.errors);
    assert_eq!(s.completed, 0);
    let slack = 500.0 * (1.0 + leakhound_load::TIMEOUT_SLACK) + 30.0;
    assert!(
        s.latency.p50_ms >= 500.0 && s.latency.max_ms <= slack,
        "{:?}",
        s.latency
    );
}
