//! The load driver: workers, the open-model claim loop, and the once-a-second ticker.
//!
//! Open model: `max_in_flight` workers, each with its own keep-alive connection opened at the
//! start (wrk2's fixed connections). Opening them up front keeps the target's socket count
//! constant for the whole test: connections opened on demand during latency spikes would make
//! it creep upwards, which is exactly what a socket-leak check flags. A free worker claims
//! the next intended send time from the shared schedule, sleeps until it, sends, and records the
//! latency *from the intended time*: when the target stalls, the requests that should have been
//! sent meanwhile wait in the schedule and their wait is part of their latency, as in wrk2 (no
//! coordinated omission). A claimed time more than `LATE_THRESHOLD` in the past is counted late;
//! one more than the request timeout in the past is dropped (not sent) and recorded with its
//! wait, so a stalled target cannot make the backlog grow without bound.
//!
//! Closed model: `concurrency` workers send back to back, latency from the actual send (what
//! wrk reports), for comparison.
//!
//! The ticker runs on the caller's thread (inside `block_on`), drains the per-shard counters
//! once a second into a [`LoadSecond`] and calls the caller's `on_tick`. Not here: the schedule's
//! arithmetic (`schedule`), sockets (`conn`).

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use leakhound_core::load::{ErrorCounts, LatencySummary, LoadModel, LoadSecond, LoadSummary};
use std::pin::Pin;

use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use crate::conn::{Conn, Fail};
use crate::plan::{LoadError, LoadPlan, Model};
use crate::schedule::{self, Schedule, Segment, XorShift};
use crate::target::Prepared;

/// A request sent more than this after its intended time is counted late. tokio's timer has
/// 1 ms resolution, so a few ms of lateness is the driver's own jitter; 10 ms is well above it.
pub const LATE_THRESHOLD: Duration = Duration::from_millis(10);

/// Half of tokio's 1 ms timer tick (see `open_worker`).
const TIMER_HALF_TICK: Duration = Duration::from_micros(500);

/// Latencies are recorded in microseconds from 1 µs to 1 hour with 3 significant digits
/// (0.1 % resolution), the usual HDR setting (wrk2 uses the same precision).
const HIST_MAX_US: u64 = 3_600_000_000;
const HIST_SIGFIG: u8 = 3;

/// A request times out between `timeout` and `timeout × (1 + TIMEOUT_SLACK)` after it was
/// sent (see `send_one`).
pub const TIMEOUT_SLACK: f64 = 0.1;

/// How often the ticker looks at the stop flag and the workers between second boundaries.
const POLL: Duration = Duration::from_millis(50);

/// After a stop (Ctrl-C), outstanding requests get this long before they are abandoned.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// Pause after a failed connect in the closed model, so a dead target does not turn the
/// driver into a busy loop of refused connects.
const CLOSED_CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// What the caller's `on_tick` sees once a second.
#[derive(Debug, Clone)]
pub struct TickStats {
    /// The second just finished.
    pub second: LoadSecond,
    /// Seconds since the load started.
    pub elapsed_s: f64,
    /// Planned length of the test in seconds.
    pub planned_s: f64,
    /// Errors since the start (all kinds).
    pub errors_total: u64,
    /// Requests dropped since the start.
    pub dropped_total: u64,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG)
        .expect("constant histogram bounds are valid (1 <= low, high >= 2 * low, sigfig <= 5)")
}

/// Counters one group of workers updates; the ticker drains them every second.
struct Shard {
    hist: Histogram<u64>,
    started: u64,
    sent: u64,
    completed: u64,
    late: u64,
    dropped: u64,
    errors: ErrorCounts,
    status: BTreeMap<u16, u64>,
}

impl Shard {
    fn new() -> Shard {
        Shard {
            hist: new_hist(),
            started: 0,
            sent: 0,
            completed: 0,
            late: 0,
            dropped: 0,
            errors: ErrorCounts::default(),
            status: BTreeMap::new(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A worker that panicked leaves consistent counters behind (they are plain numbers).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The open model's schedule plus the times generated but not yet claimed.
struct Claims {
    sched: Schedule,
    backlog: VecDeque<(f64, u64)>,
    next_seq: u64,
    offered_by_sec: Vec<u64>,
    generated: u64,
}

impl Claims {
    fn generate_one(&mut self) -> Option<(f64, u64)> {
        let t = self.sched.next_time()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.generated += 1;
        let s = t.max(0.0) as usize;
        if self.offered_by_sec.len() <= s {
            self.offered_by_sec.resize(s + 1, 0);
        }
        self.offered_by_sec[s] += 1;
        Some((t, seq))
    }

    /// Generate every time before `until` into the backlog (so per-second offered counts are
    /// exact even when the workers are behind).
    fn generate_until(&mut self, until: f64) {
        while self.sched.peek().is_some_and(|t| t < until) {
            if let Some(x) = self.generate_one() {
                self.backlog.push_back(x);
            }
        }
    }

    fn claim(&mut self) -> Option<(f64, u64)> {
        self.backlog.pop_front().or_else(|| self.generate_one())
    }
}

struct Shared {
    addr: SocketAddr,
    templates: Vec<(Prepared, u64)>,
    total_weight: u64,
    timeout: Duration,
    start: Instant,
    stop_rx: watch::Receiver<bool>,
    shards: Vec<Mutex<Shard>>,
    claims: Option<Mutex<Claims>>,
    closed_until: Option<Instant>,
    seq: AtomicU64,
    live: AtomicUsize,
    /// Requests claimed (open) or started (closed) and not yet recorded.
    in_flight: AtomicUsize,
}

impl Shared {
    fn pick(&self, rng: &mut XorShift) -> &Prepared {
        if self.templates.len() == 1 {
            return &self.templates[0].0;
        }
        let x = rng.next_u64() % self.total_weight;
        let i = self.templates.partition_point(|(_, cum)| *cum <= x);
        &self.templates[i.min(self.templates.len() - 1)].0
    }
}

/// Decrements the live-worker count however the worker ends.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
}

enum Outcome {
    Status(u16),
    Fail(Fail),
    Timeout,
}

/// Send one request, reconnecting when needed. A connection the peer closed while it was idle
/// (found closed before the request left, or closed with no byte of the response back on a
/// connection not opened for this request) is replaced and the request retried once, silently:
/// that is the server's keep-alive timeout, not a failure. The caller's latency clock keeps
/// running from the intended send time across the retry.
async fn send_one(
    conn: &mut Option<Conn>,
    shared: &Shared,
    rng: &mut XorShift,
    seq: u64,
    timer: &mut Pin<Box<Sleep>>,
) -> (Outcome, bool) {
    let template = shared.pick(rng);
    let deadline = Instant::now() + shared.timeout;
    // Re-arm the worker's timer only when it would fire too early; it then fires up to
    // `TIMEOUT_SLACK` of the timeout late. Arming a timer per request costs about a sixth of the
    // driver's own CPU per request (measured); this re-arms once per slack period.
    if timer.deadline() < deadline {
        timer
            .as_mut()
            .reset(deadline + shared.timeout.mul_f64(TIMEOUT_SLACK));
    }
    let mut sent = false;
    for _attempt in 0..2 {
        if conn
            .as_ref()
            .is_some_and(|c| !c.is_reusable(Instant::now()))
        {
            *conn = None;
        }
        let fresh = conn.is_none();
        if fresh {
            match tokio::time::timeout_at(deadline, Conn::open(shared.addr)).await {
                Ok(Ok(c)) => *conn = Some(c),
                Ok(Err(f)) => return (Outcome::Fail(f), sent),
                Err(_) => return (Outcome::Timeout, sent),
            }
        }
        let Some(c) = conn.as_mut() else {
            unreachable!("a connection was just opened")
        };
        let mut next_rand = || rng.next_u64();
        let req = template.build(seq, &mut next_rand);
        sent = true;
        let exchanged = tokio::select! {
            biased;
            r = c.exchange(req, fresh) => Ok(r),
            () = timer.as_mut() => Err(()),
        };
        match exchanged {
            Ok(Ok(status)) => {
                // A connection the server is closing (HTTP/1.0, `Connection: close`) is let go
                // at once, not left half-closed until the next request.
                if !c.is_reusable(Instant::now()) {
                    *conn = None;
                }
                return (Outcome::Status(status.as_u16()), sent);
            }
            Ok(Err(Fail::Stale)) => *conn = None,
            Ok(Err(f)) => {
                *conn = None;
                return (Outcome::Fail(f), sent);
            }
            Err(_) => {
                // The response may still arrive on this connection: never reuse it.
                *conn = None;
                return (Outcome::Timeout, sent);
            }
        }
    }
    (Outcome::Fail(Fail::Reset), sent)
}

/// Count one finished request; `started` counts it as started too (closed model: one lock per
/// request instead of two).
fn record(shard: &Mutex<Shard>, outcome: &Outcome, sent: bool, started: bool, latency: Duration) {
    let us = latency.as_micros().clamp(1, u128::from(HIST_MAX_US)) as u64;
    let mut s = lock(shard);
    if started {
        s.started += 1;
    }
    if sent {
        s.sent += 1;
    }
    match outcome {
        Outcome::Status(code) => {
            s.completed += 1;
            *s.status.entry(*code).or_insert(0) += 1;
            if *code >= 400 {
                s.errors.http += 1;
            }
            s.hist.saturating_record(us);
        }
        Outcome::Timeout => {
            s.errors.timeout += 1;
            s.hist.saturating_record(us);
        }
        Outcome::Fail(Fail::Connect) => s.errors.connect += 1,
        Outcome::Fail(Fail::Reset | Fail::Stale) => s.errors.reset += 1,
        Outcome::Fail(Fail::Other) => s.errors.other += 1,
    }
}

async fn open_worker(id: usize, shared: Arc<Shared>, seed: u64, thread: usize) {
    let _guard = LiveGuard(shared.clone());
    let shard = &shared.shards[thread];
    let claims = shared
        .claims
        .as_ref()
        .expect("open workers run with a schedule");
    let mut rng = XorShift::new(seed ^ (id as u64).wrapping_mul(0x9E37_79B9));
    let mut stop = shared.stop_rx.clone();
    let mut timer = Box::pin(tokio::time::sleep_until(Instant::now()));
    let timeout_s = shared.timeout.as_secs_f64();
    // Connect up front (a failure is retried, and counted, on the first request).
    let mut conn = tokio::time::timeout(shared.timeout, Conn::open(shared.addr))
        .await
        .ok()
        .and_then(Result::ok);
    loop {
        if *stop.borrow() {
            return;
        }
        let now_s = shared.start.elapsed().as_secs_f64();
        let claimed = {
            let mut c = lock(claims);
            let mut dropped = Vec::new();
            let next = loop {
                match c.claim() {
                    None => break None,
                    Some((t, _)) if now_s - t > timeout_s => dropped.push(now_s - t),
                    Some(x) => {
                        // Under the lock, so the ticker never sees an empty schedule and no
                        // request in flight while this one is about to leave.
                        shared.in_flight.fetch_add(1, Ordering::AcqRel);
                        break Some(x);
                    }
                }
            };
            drop(c);
            if !dropped.is_empty() {
                let mut s = lock(shard);
                s.dropped += dropped.len() as u64;
                for w in dropped {
                    s.hist.saturating_record((w * 1e6) as u64);
                }
            }
            next
        };
        let Some((t, seq)) = claimed else {
            // Keep the connection open until the test ends (a trailing idle phase must not look
            // like the clients went away).
            let _ = stop.changed().await;
            return;
        };
        let due = shared.start + Duration::from_secs_f64(t);
        // tokio's timer rounds deadlines up to its 1 ms tick; aiming half a tick early centres
        // the send on the intended time instead of sending 0.5 ms late on average.
        let wake = due.checked_sub(TIMER_HALF_TICK).unwrap_or(due);
        tokio::select! {
            biased;
            _ = stop.changed() => {
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                return;
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();
        let (outcome, sent) = send_one(&mut conn, &shared, &mut rng, seq, &mut timer).await;
        // From the intended time, or from the actual send when it left a little early: the
        // latency is never shorter than what the target took.
        let latency = Instant::now().saturating_duration_since(due.min(now));
        if now.saturating_duration_since(due) > LATE_THRESHOLD {
            lock(shard).late += 1;
        }
        record(shard, &outcome, sent, false, latency);
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn closed_worker(id: usize, shared: Arc<Shared>, seed: u64, thread: usize) {
    let _guard = LiveGuard(shared.clone());
    let shard = &shared.shards[thread];
    let until = shared
        .closed_until
        .expect("closed workers run with an end time");
    let mut rng = XorShift::new(seed ^ (id as u64).wrapping_mul(0x9E37_79B9));
    let mut stop = shared.stop_rx.clone();
    let mut conn: Option<Conn> = None;
    let mut timer = Box::pin(tokio::time::sleep_until(Instant::now()));
    loop {
        // Counted before the check, so the ticker never ends the test under a starting request.
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        if Instant::now() >= until || *stop.borrow() {
            shared.in_flight.fetch_sub(1, Ordering::AcqRel);
            break;
        }
        let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
        let t0 = Instant::now();
        let (outcome, sent) = send_one(&mut conn, &shared, &mut rng, seq, &mut timer).await;
        let failed_connect = matches!(outcome, Outcome::Fail(Fail::Connect));
        record(shard, &outcome, sent, true, t0.elapsed());
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if failed_connect {
            tokio::time::sleep(CLOSED_CONNECT_BACKOFF).await;
        }
    }
    // Hold the connection until the test ends.
    let _ = stop.changed().await;
}

/// Totals the ticker accumulates.
struct Totals {
    hist: Histogram<u64>,
    started: u64,
    sent: u64,
    completed: u64,
    late: u64,
    dropped: u64,
    errors: ErrorCounts,
    status: BTreeMap<u16, u64>,
    per_second: Vec<LoadSecond>,
}

/// Run the plan; see [`crate::run_load`].
pub(crate) fn run(
    plan: &LoadPlan,
    stop: Arc<AtomicBool>,
    on_tick: &mut dyn FnMut(&TickStats),
) -> Result<LoadSummary, LoadError> {
    plan.validate()?;
    let host = format!("{}:{}", plan.target.host, plan.target.port);
    let addr = (plan.target.host.as_str(), plan.target.port)
        .to_socket_addrs()
        .map_err(|err| LoadError::Resolve {
            host: host.clone(),
            err,
        })?
        .next()
        .ok_or_else(|| LoadError::Resolve {
            host: host.clone(),
            err: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        })?;
    let mut templates = Vec::new();
    let mut cum = 0u64;
    for t in &plan.requests {
        if t.weight == 0 {
            continue;
        }
        cum += u64::from(t.weight);
        templates.push((Prepared::new(t, &plan.target)?, cum));
    }
    // The ticker's runtime; the workers get one single-threaded runtime per thread (below).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    let segments = plan.segments();
    Ok(rt.block_on(drive(plan, addr, templates, cum, segments, stop, on_tick)))
}

/// Start `threads` OS threads, each running its share of the workers on its own
/// single-threaded runtime (wrk's layout: no work stealing, no cross-thread wake-ups per
/// request). A thread ends when its workers are done, or `STOP_GRACE` after a stop.
fn spawn_threads(
    shared: &Arc<Shared>,
    threads: usize,
    workers: usize,
    open: bool,
    seed: u64,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    for k in 0..threads {
        let sh = shared.clone();
        let ids: Vec<usize> = (k..workers).step_by(threads).collect();
        let n = ids.len();
        let body = move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                sh.live.fetch_sub(n, Ordering::AcqRel);
                return;
            };
            rt.block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                for id in ids {
                    if open {
                        set.spawn(open_worker(id, sh.clone(), seed, k));
                    } else {
                        set.spawn(closed_worker(id, sh.clone(), seed, k));
                    }
                }
                let mut stop = sh.stop_rx.clone();
                let mut end = sh.stop_rx.clone();
                tokio::select! {
                    // Idle connections stay open until the ticker ends the test, so a trailing
                    // idle phase does not look like the clients went away.
                    _ = async {
                        while set.join_next().await.is_some() {}
                        let _ = end.changed().await;
                    } => {}
                    _ = async {
                        let _ = stop.changed().await;
                        tokio::time::sleep(STOP_GRACE).await;
                    } => {}
                }
            });
        };
        let spawned = std::thread::Builder::new()
            .name(format!("leakhound-load-{k}"))
            .spawn(body);
        match spawned {
            Ok(h) => handles.push(h),
            // Out of threads: those workers never run; the summary shows fewer requests.
            Err(_) => {
                shared.live.fetch_sub(n, Ordering::AcqRel);
            }
        }
    }
    handles
}

async fn drive(
    plan: &LoadPlan,
    addr: SocketAddr,
    templates: Vec<(Prepared, u64)>,
    total_weight: u64,
    segments: Vec<Segment>,
    stop: Arc<AtomicBool>,
    on_tick: &mut dyn FnMut(&TickStats),
) -> LoadSummary {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (workers, claims, arrivals, model) = match &plan.model {
        Model::Open { arrivals, .. } => (
            plan.max_in_flight,
            Some(Mutex::new(Claims {
                sched: Schedule::new(segments.clone(), *arrivals, plan.seed),
                backlog: VecDeque::new(),
                next_seq: 0,
                offered_by_sec: Vec::new(),
                generated: 0,
            })),
            Some(arrivals.as_str().to_string()),
            LoadModel::Open,
        ),
        Model::Closed { concurrency, .. } => (*concurrency, None, None, LoadModel::Closed),
    };
    let planned = plan.duration();
    let start = Instant::now();
    let threads = plan.threads.max(1).min(workers.max(1));
    let shared = Arc::new(Shared {
        addr,
        templates,
        total_weight,
        timeout: plan.timeout,
        start,
        stop_rx,
        shards: (0..threads).map(|_| Mutex::new(Shard::new())).collect(),
        claims,
        closed_until: matches!(model, LoadModel::Closed).then(|| start + planned),
        seq: AtomicU64::new(0),
        live: AtomicUsize::new(workers),
        in_flight: AtomicUsize::new(0),
    });
    let handles = spawn_threads(
        &shared,
        threads,
        workers,
        model == LoadModel::Open,
        plan.seed,
    );

    let mut tot = Totals {
        hist: new_hist(),
        started: 0,
        sent: 0,
        completed: 0,
        late: 0,
        dropped: 0,
        errors: ErrorCounts::default(),
        status: BTreeMap::new(),
        per_second: Vec::new(),
    };
    let timeout_s = plan.timeout.as_secs_f64();
    let mut sec = 0u64;
    let mut stopped_at: Option<Instant> = None;
    loop {
        let boundary = start + Duration::from_secs(sec + 1);
        let now = Instant::now();
        if now < boundary {
            tokio::time::sleep(POLL.min(boundary - now)).await;
        }
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            stopped_at = Some(Instant::now());
            let _ = stop_tx.send(true);
        }
        let now = Instant::now();
        // A trailing idle phase is part of the test (the last memory floor is taken there).
        let idle = shared.in_flight.load(Ordering::Acquire) == 0
            && match &shared.claims {
                Some(c) => {
                    let mut c = lock(c);
                    c.backlog.is_empty() && c.sched.peek().is_none()
                }
                None => shared.closed_until.is_none_or(|u| now >= u),
            };
        let done = shared.live.load(Ordering::Acquire) == 0 || (idle && now >= start + planned);
        let give_up = stopped_at.is_some_and(|s| now - s >= STOP_GRACE);
        if now < boundary && !done && !give_up {
            continue;
        }
        let last = done || give_up;
        let t_end = if last {
            (now - start).as_secs_f64()
        } else {
            (sec + 1) as f64
        };
        // Exact offered count for this second; stale backlog entries become drops.
        let mut offered = 0;
        if let Some(c) = &shared.claims {
            let mut c = lock(c);
            if stopped_at.is_none() {
                c.generate_until((sec + 1) as f64);
            }
            offered = c.offered_by_sec.get(sec as usize).copied().unwrap_or(0);
            let now_s = (now - start).as_secs_f64();
            let mut stale = 0u64;
            while c
                .backlog
                .front()
                .is_some_and(|(t, _)| now_s - t > timeout_s)
            {
                if let Some((t, _)) = c.backlog.pop_front() {
                    tot.hist.saturating_record(((now_s - t) * 1e6) as u64);
                    stale += 1;
                }
            }
            tot.dropped += stale;
        }
        let mut second_hist = new_hist();
        let (mut completed, mut errors, mut started) = (0, 0, 0);
        for shard in &shared.shards {
            let mut s = lock(shard);
            let _ = second_hist.add(&s.hist);
            s.hist.reset();
            completed += s.completed;
            errors += s.errors.total();
            started += s.started;
            tot.sent += s.sent;
            tot.late += s.late;
            tot.dropped += s.dropped;
            tot.errors.add(&s.errors);
            for (k, v) in std::mem::take(&mut s.status) {
                *tot.status.entry(k).or_insert(0) += v;
            }
            s.completed = 0;
            s.started = 0;
            s.sent = 0;
            s.late = 0;
            s.dropped = 0;
            s.errors = ErrorCounts::default();
        }
        let _ = tot.hist.add(&second_hist);
        tot.completed += completed;
        tot.started += started;
        if model == LoadModel::Closed {
            offered = started;
        }
        let row = LoadSecond {
            t_s: t_end,
            offered,
            achieved: completed,
            errors,
            p99_ms: if second_hist.is_empty() {
                0.0
            } else {
                second_hist.value_at_quantile(0.99) as f64 / 1000.0
            },
            requests_total: tot.completed,
            phase: if segments.is_empty() {
                "load".to_string()
            } else {
                schedule::phase_at(&segments, sec as f64).to_string()
            },
        };
        let tick = TickStats {
            second: row.clone(),
            elapsed_s: t_end,
            planned_s: planned.as_secs_f64(),
            errors_total: tot.errors.total(),
            dropped_total: tot.dropped,
        };
        tot.per_second.push(row);
        on_tick(&tick);
        if last {
            break;
        }
        sec += 1;
    }
    let _ = stop_tx.send(true);
    for h in handles {
        // Each thread ends within STOP_GRACE of the stop; a panicked worker thread has already
        // left its counters behind.
        let _ = h.join();
    }
    let elapsed_s = start.elapsed().as_secs_f64();
    let interrupted = stopped_at.is_some();
    // Rates are over the scheduled span (the drain of the last responses is not load time).
    let span = if interrupted {
        stopped_at.map_or(elapsed_s, |s| (s - start).as_secs_f64())
    } else {
        planned.as_secs_f64().min(elapsed_s)
    }
    .max(1e-9);
    let scheduled = match &shared.claims {
        Some(c) => lock(c).generated,
        None => tot.started,
    };
    let h = &tot.hist;
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    let latency = if h.is_empty() {
        LatencySummary::default()
    } else {
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: q(0.50),
            p90_ms: q(0.90),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    };
    let mut target = plan.target.base_url();
    target.push_str(&plan.requests[0].path);
    LoadSummary {
        target,
        model,
        arrivals,
        connections: workers,
        elapsed_s,
        interrupted,
        offered_rate: (model == LoadModel::Open).then(|| scheduled as f64 / span),
        achieved_rate: tot.completed as f64 / span,
        scheduled,
        sent: tot.sent,
        completed: tot.completed,
        late: tot.late,
        late_threshold_ms: LATE_THRESHOLD.as_secs_f64() * 1000.0,
        dropped: tot.dropped,
        status_counts: tot.status,
        errors: tot.errors,
        latency,
        per_second: tot.per_second,
        retained: None,
    }
}
