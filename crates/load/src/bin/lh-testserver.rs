//! `lh-testserver`: a small, fast HTTP/1.1 server for leakhound's load tests and benchmarks.
//!
//! Listens on 127.0.0.1 only and prints `listening on http://127.0.0.1:PORT` on stdout. Every
//! path answers `200 ok`; `/health` also answers but never stalls, leaks or caches, and
//! `/metrics` gives the process's resident memory, open fds and requests served in
//! Prometheus's text format (for a real Prometheus to scrape in tests). Options:
//!
//! ```text
//! --port N               port (0: pick a free one)                         [0]
//! --threads N            runtime worker threads                            [1]
//! --stall-every D        stall all requests for --stall-for once per D     [off]
//! --stall-for D          length of each stall                              [1s]
//! --leak-bytes N         keep N bytes per request forever (a leak)         [0]
//! --cache-entries N      keep the last N requests' data (bounded cache)    [0]
//! --cache-bytes N        bytes per cache entry                             [4096]
//! --delay D              answer each request after D                       [0]
//! --fail-every N         answer every Nth request with 500                 [off]
//! --hold-bytes N         hold N bytes per request until it is answered     [0]
//!                        (memory that follows load; with --delay)
//! ```
//!
//! The stall window is the last `--stall-for` of every `--stall-every` period since start, so a
//! 1 s stall every 10 s covers [9 s, 10 s), [19 s, 20 s)… Leaked and cached bytes are written so
//! they are resident (counted in RSS), which is what a leak test measures.

#![forbid(unsafe_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::Instant;

#[derive(Debug, Clone)]
struct Opts {
    port: u16,
    threads: usize,
    stall_every: Option<Duration>,
    stall_for: Duration,
    leak_bytes: usize,
    cache_entries: usize,
    cache_bytes: usize,
    delay: Duration,
    fail_every: u64,
    hold_bytes: usize,
}

const USAGE: &str = "usage: lh-testserver [--port N] [--threads N] [--stall-every D --stall-for D] \
[--leak-bytes N] [--cache-entries N --cache-bytes N] [--delay D] [--fail-every N] [--hold-bytes N]";

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        port: 0,
        threads: 1,
        stall_every: None,
        stall_for: Duration::from_secs(1),
        leak_bytes: 0,
        cache_entries: 0,
        cache_bytes: 4096,
        delay: Duration::ZERO,
        fail_every: 0,
        hold_bytes: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}\nexample: lh-testserver --port 8080 --leak-bytes 4096");
            std::process::exit(0);
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        let dur = |v: &str| {
            leakhound_load::parse_duration(v)
                .ok_or_else(|| format!("{flag}: `{v}` is not a duration (e.g. 10s, 250ms)"))
        };
        match flag.as_str() {
            "--port" => o.port = u16::try_from(num(&value)?).map_err(|_| "--port: too big")?,
            "--threads" => o.threads = num(&value)?.max(1),
            "--stall-every" => o.stall_every = Some(dur(&value)?),
            "--stall-for" => o.stall_for = dur(&value)?,
            "--leak-bytes" => o.leak_bytes = num(&value)?,
            "--cache-entries" => o.cache_entries = num(&value)?,
            "--cache-bytes" => o.cache_bytes = num(&value)?,
            "--delay" => o.delay = dur(&value)?,
            "--fail-every" => o.fail_every = num(&value)? as u64,
            "--hold-bytes" => o.hold_bytes = num(&value)?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if o.stall_every.is_some_and(|e| e <= o.stall_for) {
        return Err("--stall-every must be longer than --stall-for".into());
    }
    Ok(o)
}

struct State {
    opts: Opts,
    start: Instant,
    seq: AtomicU64,
    leaked: Mutex<Vec<Box<[u8]>>>,
    cache: Mutex<VecDeque<Box<[u8]>>>,
}

impl State {
    /// When a request arriving now must wait for the current stall to end, the end time.
    fn stall_until(&self, now: Instant) -> Option<Instant> {
        let every = self.opts.stall_every?;
        let since = (now - self.start).as_secs_f64();
        let period = every.as_secs_f64();
        let phase = since % period;
        let stall_from = period - self.opts.stall_for.as_secs_f64();
        (phase >= stall_from).then(|| now + Duration::from_secs_f64(period - phase))
    }
}

/// A buffer of `n` bytes that are all written (so the pages are resident).
fn resident(n: usize, seq: u64) -> Box<[u8]> {
    vec![(seq as u8) | 1; n].into_boxed_slice()
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    match req.uri().path() {
        "/health" => return Ok(Response::new(Full::new(Bytes::from_static(b"ok\n")))),
        "/metrics" => return Ok(Response::new(Full::new(Bytes::from(metrics(&state))))),
        _ => {}
    }
    let seq = state.seq.fetch_add(1, Ordering::Relaxed);
    if let Some(until) = state.stall_until(Instant::now()) {
        tokio::time::sleep_until(until).await;
    }
    // Held while the request is in progress, freed when it is answered.
    let held = (state.opts.hold_bytes > 0).then(|| resident(state.opts.hold_bytes, seq));
    if !state.opts.delay.is_zero() {
        tokio::time::sleep(state.opts.delay).await;
    }
    drop(held);
    if state.opts.leak_bytes > 0 {
        let b = resident(state.opts.leak_bytes, seq);
        state
            .leaked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(b);
    }
    if state.opts.cache_entries > 0 {
        let b = resident(state.opts.cache_bytes, seq);
        let mut c = state.cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.len() >= state.opts.cache_entries {
            c.pop_front();
        }
        c.push_back(b);
    }
    if state.opts.fail_every > 0 && (seq + 1).is_multiple_of(state.opts.fail_every) {
        let mut r = Response::new(Full::new(Bytes::from_static(b"failed\n")));
        *r.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        return Ok(r);
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok\n"))))
}

/// `/metrics` in Prometheus's text format: what a client library's process collector would
/// give (resident memory from `/proc/self/status`, open fds from `/proc/self/fd`) and the
/// requests served so far.
fn metrics(state: &State) -> String {
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    format!(
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
         # TYPE process_resident_memory_bytes gauge\n\
         process_resident_memory_bytes {}\n\
         # HELP process_open_fds Number of open file descriptors.\n\
         # TYPE process_open_fds gauge\n\
         process_open_fds {fds}\n\
         # HELP lh_requests_total Requests served (not counting /health and /metrics).\n\
         # TYPE lh_requests_total counter\n\
         lh_requests_total {}\n",
        rss_kib * 1024,
        state.seq.load(Ordering::Relaxed)
    )
}

async fn serve(opts: Opts) -> std::io::Result<()> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let state = Arc::new(State {
        opts,
        start: Instant::now(),
        seq: AtomicU64::new(0),
        leaked: Mutex::new(Vec::new()),
        cache: Mutex::new(VecDeque::new()),
    });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            // EMFILE and friends: back off instead of spinning.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let st = state.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lh-testserver: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lh-testserver: failed to start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lh-testserver: {e}");
            ExitCode::from(1)
        }
    }
}
