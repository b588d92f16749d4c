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
//! wait. The schedule is consumed lazily and holds only its next time, never a backlog of
//! times, so a target (or a driver) that cannot keep up costs no memory: the ticker counts the
//! offered requests of each second on its own copy of the schedule.
//!
//! The test ends by the plan's end plus [`DRAIN`]: no request is claimed more than
//! `LATE_THRESHOLD` after the end (the ones still unsent are dropped), and responses still
//! outstanding at the end of the drain are abandoned and counted as timeouts. A stop (Ctrl-C)
//! counts only the requests intended before it and gives outstanding ones `STOP_GRACE`.
//!
//! Closed model: `concurrency` workers send back to back, latency from the actual send (what
//! wrk reports), for comparison.
//!
//! The ticker runs on the caller's thread (inside `block_on`), drains the per-shard counters
//! once a second into a [`LoadSecond`] and calls the caller's `on_tick`. Not here: the schedule's
//! arithmetic (`schedule`), sockets (`conn`).

use std::collections::BTreeMap;
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

/// After the plan's last stage, responses still outstanding get at most this long; the test
/// ends by the planned duration plus `DRAIN`, and requests still without a response then are
/// counted as timeouts. Requests not yet sent when the plan ends are not sent later than
/// `LATE_THRESHOLD` after it (they are dropped: a test is bounded by its duration, whatever the
/// backlog). 2 s is 200 times a healthy service's 10 ms p99: a response slower than that at
/// the very end of a test is no longer a measurement of the rate asked for. A `--timeout`
/// shorter than `DRAIN` ends the drain sooner (those requests time out by themselves).
pub const DRAIN: Duration = Duration::from_secs(2);

/// After the abandon signal, a worker thread waits at most this long for its workers to record
/// what they abandoned before it is torn down (they do so at once; this is a safety net).
const ABANDON_WAIT: Duration = Duration::from_millis(200);

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

/// The open model's schedule, consumed lazily: only its next time is held, so memory stays
/// the same however far the workers fall behind (the claim side of "scheduled but not sent").
struct Claims {
    sched: Schedule,
    next_seq: u64,
    /// No time is claimed after this instant (seconds since the start): the plan's end plus
    /// `LATE_THRESHOLD`, or the stop instant.
    cutoff_s: f64,
    /// The stop instant (seconds since the start), once stopped.
    stop_s: Option<f64>,
    /// Scheduled times skipped (not sent) since the ticker last looked, and their waits.
    dropped: u64,
    dropped_hist: Histogram<u64>,
}

impl Claims {
    fn new(sched: Schedule, end_s: f64) -> Claims {
        Claims {
            sched,
            next_seq: 0,
            cutoff_s: end_s + LATE_THRESHOLD.as_secs_f64(),
            stop_s: None,
            dropped: 0,
            dropped_hist: new_hist(),
        }
    }

    fn take(&mut self) -> Option<(f64, u64)> {
        let t = self.sched.next_time()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        Some((t, seq))
    }

    /// Count one scheduled request as dropped, with how long it had waited.
    fn drop_one(&mut self, wait_s: f64) {
        self.dropped += 1;
        self.dropped_hist
            .saturating_record((wait_s.max(0.0) * 1e6) as u64);
    }

    /// The next time to send at `now_s`; times more than `timeout_s` in the past are dropped on
    /// the way. `None` when the schedule is exhausted or past the cutoff.
    fn claim(&mut self, now_s: f64, timeout_s: f64) -> Option<(f64, u64)> {
        if now_s > self.cutoff_s {
            return None;
        }
        loop {
            if self.sched.peek()? >= self.cutoff_s {
                return None;
            }
            let (t, seq) = self.take()?;
            if now_s - t > timeout_s {
                self.drop_one(now_s - t);
            } else {
                return Some((t, seq));
            }
        }
    }

    /// Drop every unclaimed time before `until`, each with its wait at `now_s`.
    fn drop_before(&mut self, until: f64, now_s: f64) {
        while self.sched.peek().is_some_and(|t| t < until) {
            if let Some((t, _)) = self.take() {
                self.drop_one(now_s - t);
            }
        }
    }

    /// Nothing left to claim: the schedule is exhausted or the rest lies past the cutoff.
    fn exhausted(&mut self) -> bool {
        let cutoff = self.cutoff_s;
        self.sched.peek().is_none_or(|t| t >= cutoff)
    }
}

/// Number of times of `sched` before `until`, consumed.
fn count_before(sched: &mut Schedule, until: f64) -> u64 {
    let mut n = 0;
    while sched.peek().is_some_and(|t| t < until) {
        sched.next_time();
        n += 1;
    }
    n
}

/// Resolves once `rx` holds `true` (at once if it already does).
async fn signalled(rx: &mut watch::Receiver<bool>) {
    // `let _` drops the borrow guard at once: holding it would block the sender.
    let _ = rx.wait_for(|&v| v).await;
}

struct Shared {
    addr: SocketAddr,
    templates: Vec<(Prepared, u64)>,
    total_weight: u64,
    timeout: Duration,
    start: Instant,
    /// No new request from now on (a stop, or the end of the test).
    stop_rx: watch::Receiver<bool>,
    /// Give up on the responses still outstanding (recorded as timeouts).
    abandon_rx: watch::Receiver<bool>,
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
/// running from the intended send time across the retry. `sent` is set once a byte of the
/// request may have left (so a caller that abandons the future still knows).
async fn send_one(
    conn: &mut Option<Conn>,
    shared: &Shared,
    rng: &mut XorShift,
    seq: u64,
    timer: &mut Pin<Box<Sleep>>,
    sent: &mut bool,
) -> Outcome {
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
                Ok(Err(f)) => return Outcome::Fail(f),
                Err(_) => return Outcome::Timeout,
            }
        }
        let Some(c) = conn.as_mut() else {
            unreachable!("a connection was just opened")
        };
        let mut next_rand = || rng.next_u64();
        let req = template.build(seq, &mut next_rand);
        *sent = true;
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
                return Outcome::Status(status.as_u16());
            }
            Ok(Err(Fail::Stale)) => *conn = None,
            Ok(Err(f)) => {
                *conn = None;
                return Outcome::Fail(f);
            }
            Err(_) => {
                // The response may still arrive on this connection: never reuse it.
                *conn = None;
                return Outcome::Timeout;
            }
        }
    }
    Outcome::Fail(Fail::Reset)
}

/// [`send_one`], given up (a timeout, the connection dropped) when `abandon` is signalled.
async fn send_or_abandon(
    conn: &mut Option<Conn>,
    shared: &Shared,
    rng: &mut XorShift,
    seq: u64,
    timer: &mut Pin<Box<Sleep>>,
    abandon: &mut watch::Receiver<bool>,
) -> (Outcome, bool) {
    let mut sent = false;
    let outcome = tokio::select! {
        biased;
        o = send_one(conn, shared, rng, seq, timer, &mut sent) => Some(o),
        () = signalled(abandon) => None,
    };
    match outcome {
        Some(o) => (o, sent),
        None => {
            // The response may still arrive on this connection: never reuse it.
            *conn = None;
            (Outcome::Timeout, sent)
        }
    }
}

/// Count one finished request; `started` counts it as started too (closed model: one lock per
/// request instead of two).
fn record(shard: &Mutex<Shard>, outcome: &Outcome, sent: bool, started: bool, latency: Duration) {
    let us = latency.as_micros().clamp(1, u128::from(HIST_MAX_US)) as u64;
    let mut s = lock(shard);
    if started {
        s.started += 1;
    }
    // A request whose connection could not be opened was never sent, whatever a stale
    // connection took of it before (scheduled = sent + dropped + connect failures).
    if sent && !matches!(outcome, Outcome::Fail(Fail::Connect)) {
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
    let mut abandon = shared.abandon_rx.clone();
    let mut timer = Box::pin(tokio::time::sleep_until(Instant::now()));
    let timeout_s = shared.timeout.as_secs_f64();
    // Connect up front (a failure is retried, and counted, on the first request).
    let mut conn = tokio::select! {
        biased;
        () = signalled(&mut abandon) => return,
        c = tokio::time::timeout(shared.timeout, Conn::open(shared.addr)) => c.ok().and_then(Result::ok),
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let now_s = shared.start.elapsed().as_secs_f64();
        let claimed = {
            let mut c = lock(claims);
            let next = c.claim(now_s, timeout_s);
            if next.is_some() {
                // Under the lock, so the ticker never sees an empty schedule and no request in
                // flight while this one is about to leave.
                shared.in_flight.fetch_add(1, Ordering::AcqRel);
            }
            next
        };
        let Some((t, seq)) = claimed else {
            // Keep the connection open until the test ends (a trailing idle phase must not look
            // like the clients went away).
            signalled(&mut stop).await;
            return;
        };
        let due = shared.start + Duration::from_secs_f64(t);
        // tokio's timer rounds deadlines up to its 1 ms tick; aiming half a tick early centres
        // the send on the intended time instead of sending 0.5 ms late on average.
        let wake = due.checked_sub(TIMER_HALF_TICK).unwrap_or(due);
        tokio::select! {
            biased;
            () = signalled(&mut stop) => {
                // Stopped before it left: a request intended before the stop was scheduled and
                // never sent (dropped); one intended after it was never part of the test.
                let mut c = lock(claims);
                if c.stop_s.is_none_or(|s| t < s) {
                    c.drop_one(shared.start.elapsed().as_secs_f64() - t);
                }
                shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                return;
            }
            () = tokio::time::sleep_until(wake) => {}
        }
        let now = Instant::now();
        let (outcome, sent) =
            send_or_abandon(&mut conn, &shared, &mut rng, seq, &mut timer, &mut abandon).await;
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
    let mut abandon = shared.abandon_rx.clone();
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
        let (outcome, sent) =
            send_or_abandon(&mut conn, &shared, &mut rng, seq, &mut timer, &mut abandon).await;
        let failed_connect = matches!(outcome, Outcome::Fail(Fail::Connect));
        record(shard, &outcome, sent, true, t0.elapsed());
        shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if *abandon.borrow() {
            return;
        }
        if failed_connect {
            tokio::select! {
                () = signalled(&mut stop) => {}
                () = tokio::time::sleep(CLOSED_CONNECT_BACKOFF) => {}
            }
        }
    }
    // Hold the connection until the test ends.
    signalled(&mut stop).await;
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

/// A plan checked for running: its target's address and its weighted requests prepared.
pub(crate) struct Checked {
    addr: SocketAddr,
    templates: Vec<(Prepared, u64)>,
    cum: u64,
}

/// Everything about `plan` that can fail before a request is sent: its values, the target's
/// host name (resolved) and each request's method, headers and body (see [`crate::check`]).
pub(crate) fn check(plan: &LoadPlan) -> Result<Checked, LoadError> {
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
    Ok(Checked {
        addr,
        templates,
        cum,
    })
}

/// Run the plan; see [`crate::run_load`].
pub(crate) fn run(
    plan: &LoadPlan,
    stop: Arc<AtomicBool>,
    on_tick: &mut dyn FnMut(&TickStats),
) -> Result<LoadSummary, LoadError> {
    let Checked {
        addr,
        templates,
        cum,
    } = check(plan)?;
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
/// request). A thread ends when its workers are done: at the stop, or at the abandon signal for
/// those still waiting for a response.
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
                let mut abandon = sh.abandon_rx.clone();
                // Every worker ends by the abandon signal at the latest (idle ones at the stop,
                // which comes first), after recording what it gave up on.
                tokio::select! {
                    _ = async { while set.join_next().await.is_some() {} } => {}
                    _ = async {
                        signalled(&mut abandon).await;
                        tokio::time::sleep(ABANDON_WAIT).await;
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
    let (abandon_tx, abandon_rx) = watch::channel(false);
    let planned = plan.duration();
    let planned_s = planned.as_secs_f64();
    // The ticker's own copy of the schedule (same segments and seed, so the same times): it
    // counts the offered requests of each second while the workers consume theirs lazily.
    let (workers, claims, mut counter, arrivals, model) = match &plan.model {
        Model::Open { arrivals, .. } => (
            plan.max_in_flight,
            Some(Mutex::new(Claims::new(
                Schedule::new(segments.clone(), *arrivals, plan.seed),
                planned_s,
            ))),
            Some(Schedule::new(segments.clone(), *arrivals, plan.seed)),
            Some(arrivals.as_str().to_string()),
            LoadModel::Open,
        ),
        Model::Closed { concurrency, .. } => (*concurrency, None, None, None, LoadModel::Closed),
    };
    let start = Instant::now();
    let threads = plan.threads.max(1).min(workers.max(1));
    let shared = Arc::new(Shared {
        addr,
        templates,
        total_weight,
        timeout: plan.timeout,
        start,
        stop_rx,
        abandon_rx,
        shards: (0..threads).map(|_| Mutex::new(Shard::new())).collect(),
        claims,
        closed_until: matches!(model, LoadModel::Closed).then(|| start + planned),
        seq: AtomicU64::new(0),
        live: AtomicUsize::new(workers),
        in_flight: AtomicUsize::new(0),
    });
    let mut handles = spawn_threads(
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
    let drain_end = start + planned + DRAIN;
    let mut scheduled = 0u64;
    let mut sec = 0u64;
    let mut stopped_at: Option<Instant> = None;
    loop {
        let boundary = start + Duration::from_secs(sec + 1);
        let now = Instant::now();
        if now < boundary {
            tokio::time::sleep(POLL.min(boundary - now)).await;
        }
        if stopped_at.is_none() && stop.load(Ordering::Relaxed) {
            let at = Instant::now();
            stopped_at = Some(at);
            // Set before the workers hear of the stop, so each knows whether its claimed time
            // was part of the test.
            if let Some(c) = &shared.claims {
                let mut c = lock(c);
                let stop_s = (at - start).as_secs_f64();
                c.stop_s = Some(stop_s);
                c.cutoff_s = c.cutoff_s.min(stop_s);
            }
            let _ = stop_tx.send(true);
        }
        let now = Instant::now();
        let now_s = (now - start).as_secs_f64();
        // Times nobody could send: waited longer than the timeout, or still unsent at the
        // cutoff (the end of the plan, or the stop). Dropped, never stored.
        let exhausted = match &shared.claims {
            Some(c) => {
                let mut c = lock(c);
                let until = if now_s > c.cutoff_s {
                    c.cutoff_s
                } else {
                    now_s - timeout_s
                };
                c.drop_before(until, now_s);
                c.exhausted()
            }
            None => stopped_at.is_some() || shared.closed_until.is_none_or(|u| now >= u),
        };
        // A trailing idle phase is part of the test (the last memory floor is taken there).
        let idle = exhausted && shared.in_flight.load(Ordering::Acquire) == 0;
        let done = shared.live.load(Ordering::Acquire) == 0
            || (idle && (now >= start + planned || stopped_at.is_some()));
        let give_up = stopped_at.is_some_and(|s| now - s >= STOP_GRACE) || now >= drain_end;
        if now < boundary && !done && !give_up {
            continue;
        }
        let last = done || give_up;
        if last {
            // End the test: idle workers let go at the stop, the others give up on their
            // response and record it as a timeout; then nothing is left to count but this.
            let _ = stop_tx.send(true);
            let _ = abandon_tx.send(true);
            for h in handles.drain(..) {
                // A panicked worker thread has already left its counters behind.
                let _ = h.join();
            }
        }
        let now_s = if last {
            start.elapsed().as_secs_f64()
        } else {
            now_s
        };
        let t_end = if last { now_s } else { (sec + 1) as f64 };
        let mut second_hist = new_hist();
        // Offered in this second: the scheduled times in [sec, sec + 1), and at the end all
        // those before the stop (interrupted) or the rest of the plan.
        let mut offered = 0;
        if let (Some(counter), Some(c)) = (counter.as_mut(), &shared.claims) {
            let until = match stopped_at {
                Some(s) if last => (s - start).as_secs_f64(),
                // A second that ends while the stop waits for answers: only its times before
                // the stop were part of the test.
                Some(s) => (s - start).as_secs_f64().min((sec + 1) as f64),
                // At the normal end `now_s` is past the plan: the whole rest of it.
                None if last => now_s,
                None => (sec + 1) as f64,
            };
            offered = count_before(counter, until);
            scheduled += offered;
            let mut c = lock(c);
            if last {
                // Whatever is left before the end was never sent.
                let end_s = until.min(c.cutoff_s);
                c.drop_before(end_s, now_s);
            }
            tot.dropped += std::mem::take(&mut c.dropped);
            let _ = second_hist.add(&c.dropped_hist);
            c.dropped_hist.reset();
        }
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
            planned_s,
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
    let elapsed_s = start.elapsed().as_secs_f64();
    let interrupted = stopped_at.is_some();
    // Rates are over the time the schedule actually ran: up to the stop, or the planned span
    // (the drain of the last responses is not load time).
    let span = match stopped_at {
        Some(s) => (s - start).as_secs_f64(),
        None => planned_s.min(elapsed_s),
    }
    .max(1e-9);
    if model == LoadModel::Closed {
        scheduled = tot.started;
    }
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
