//! The test's bounds: it ends by its duration plus the drain whatever the target does, a
//! backlog costs no memory and is dropped at the end rather than sent late, and a stop counts
//! only the requests intended before it.

use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use leakhound_load::{DRAIN, LoadPlan, run_load};

use super::{Server, run};

/// Accepts every connection and never answers (a hung service); stops when dropped.
struct Silent {
    url: String,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}/", listener.local_addr().expect("bound"));
        listener.set_nonblocking(true).expect("non-blocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let accept = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            held
        });
        Silent {
            url,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Upper bound on a test's wall-clock length: its duration, the drain, and a second of slack
/// for a loaded machine (without the bound these tests ran 11 s).
fn bound(duration: Duration) -> f64 {
    (duration + DRAIN).as_secs_f64() + 1.5
}

/// A target that accepts but never answers: the requests in flight at the end are abandoned
/// after the drain and counted as timeouts, instead of the test waiting out `--timeout` (10 s).
#[test]
fn a_target_that_never_answers_ends_within_the_drain() {
    let server = Silent::start();
    let duration = Duration::from_secs(1);
    let plan = LoadPlan::open(&server.url, 50.0, duration).unwrap();
    let s = run(&plan);
    assert!(s.elapsed_s < bound(duration), "{s:?}");
    assert!(!s.interrupted);
    assert_eq!(s.scheduled, 50);
    assert_eq!(s.completed, 0);
    assert_eq!(s.errors.timeout, 50, "{:?}", s.errors);
    assert_eq!(s.sent, 50);
    assert_eq!(s.dropped, 0);
}

/// The closed model is bounded the same way.
#[test]
fn closed_model_against_a_silent_target_ends_within_the_drain() {
    let server = Silent::start();
    let duration = Duration::from_secs(1);
    let plan = LoadPlan::closed(&server.url, 3, duration).unwrap();
    let s = run(&plan);
    assert!(s.elapsed_s < bound(duration), "{s:?}");
    assert_eq!(s.errors.timeout, 3, "{:?}", s.errors);
}

/// A backlog at the end: four connections to a target that never answers hold four requests,
/// and the rest of the schedule waits. What is still unsent when the plan ends is dropped (not
/// sent over the next `--timeout`), and every scheduled request is accounted for.
#[test]
fn a_backlog_is_dropped_at_the_end_not_sent_later() {
    let server = Silent::start();
    let duration = Duration::from_secs(1);
    let mut plan = LoadPlan::open(&server.url, 1000.0, duration).unwrap();
    plan.max_in_flight = 4;
    let s = run(&plan);
    assert!(s.elapsed_s < bound(duration), "{}", s.elapsed_s);
    assert_eq!(s.scheduled, 1000);
    assert_eq!(s.per_second[0].offered, 1000);
    assert_eq!(s.sent, 4, "{s:?}");
    assert_eq!(s.errors.timeout, 4, "{:?}", s.errors);
    assert_eq!(s.dropped, 996, "{s:?}");
    // The drops are in the latency histogram with their waits (up to the end of the plan).
    assert_eq!(s.latency.count, 1000);
}

/// A stop counts only the requests intended before it, not those the workers had claimed
/// ahead of time, and rates are over the time actually run.
#[test]
fn a_stop_counts_only_the_requests_intended_before_it() {
    let server = Server::start(&[]);
    let plan = LoadPlan::open(&server.url, 100.0, Duration::from_secs(60)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let s = run_load(&plan, stop, &mut |t| {
        if t.elapsed_s >= 2.0 {
            flag.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert!(s.interrupted);
    assert_eq!(
        s.scheduled,
        s.sent + s.dropped,
        "scheduled = sent + dropped: {s:?}"
    );
    assert_eq!(s.completed, s.sent, "{s:?}");
    let offered = s.offered_rate.unwrap();
    // Constant arrivals at 100/s over [0, stop): 100 × stop + 1 requests, the `+ 1` being the
    // one at t = 0, which is at most 0.5/s over 2 s or more.
    assert!(
        (100.0..=100.6).contains(&offered),
        "offered {offered}: {s:?}"
    );
    let offered_rows: u64 = s.per_second.iter().map(|r| r.offered).sum();
    assert_eq!(offered_rows, s.scheduled);
}
