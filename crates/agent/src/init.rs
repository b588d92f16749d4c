//! Initialisation state machine and configuration.
//!
//! States: uninitialised -> initialising -> ready, or disabled. The first hook entry (or the
//! library constructor, whichever comes first) resolves the real allocator with
//! `dlsym(RTLD_NEXT)`. While that runs, allocations from the initialising thread (`dlsym`'s own
//! `calloc`) are served from the bootstrap arena; other threads wait. Configuration comes from
//! the environment, read once with libc `getenv` (no allocation):
//!
//! | variable | meaning |
//! |---|---|
//! | `LEAKHOUND_OUT` | directory for `<pid>.lhev`; unset = agent stays passive |
//! | `LEAKHOUND_HEAP_MODE` | `exact` (default) or `sampled` |
//! | `LEAKHOUND_HEAP_SAMPLE` | mean sampling interval in bytes (implies sampled mode) |
//! | `LEAKHOUND_HEAP_INTERVAL_MS` | time between snapshots (default 1000) |
//! | `LEAKHOUND_HEAP_SEED` | sampler seed (tests) |
//! | `LEAKHOUND_EVENT_LOG` | `1`: also write every traced event to `<pid>.lhevents` (`crate::events`) |
//! | `LEAKHOUND_UNWIND` | `dwarf` (default): `.eh_frame` steps for frames without frame pointers (`unwind::dwarf`); `fp`: frame pointers only |
//! | `LEAKHOUND_SIGNALS` | `0`: no final-snapshot handlers for terminating signals (`hooks::signal`) |

use crate::aggregate::Tables;
use crate::hooks::{real, sys};
use crate::tls::Tls;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Not initialised yet.
pub const UNINIT: u8 = 0;
/// The real allocator is being resolved.
pub const INITIALIZING: u8 = 1;
/// Tracing.
pub const READY: u8 = 2;
/// Passing every call through untraced.
pub const DISABLED: u8 = 3;

/// Bit in the TLS flags: this thread runs the initialisation.
pub const FLAG_INIT: u32 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNINIT);

/// Longest `LEAKHOUND_OUT` accepted.
pub const MAX_DIR: usize = 1024;

/// Agent configuration.
#[derive(Debug)]
pub struct Config {
    /// Sampled (true) or exact mode.
    pub sampled: bool,
    /// Mean sampling interval, bytes.
    pub mean: u64,
    /// Snapshot interval, milliseconds.
    pub interval_ms: u64,
    /// Sampler seed.
    pub seed: u64,
    /// Output directory bytes (no NUL) and its length.
    pub out_dir: [u8; MAX_DIR],
    /// Used length of `out_dir`.
    pub out_len: usize,
    /// Start time, ns since the epoch.
    pub start_ns: u64,
    /// Write the full event log too.
    pub events: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();
/// Set once tracing is ready in sampled mode: the hooks' fast path (see `hooks::malloc`).
static FAST_SAMPLED: AtomicBool = AtomicBool::new(false);
static TABLES: OnceLock<Tables> = OnceLock::new();
static EVENTS: OnceLock<crate::events::EventRing> = OnceLock::new();

/// The configuration (after initialisation).
#[inline]
pub fn config() -> Option<&'static Config> {
    CONFIG.get()
}

/// The aggregation tables (after successful initialisation).
#[inline]
pub fn tables() -> Option<&'static Tables> {
    TABLES.get()
}

/// The event ring when the full event log is on.
#[inline]
pub fn events() -> Option<&'static crate::events::EventRing> {
    EVENTS.get()
}

/// The tables when tracing is ready in sampled mode (the hooks' unsampled fast path).
#[inline(always)]
pub fn sampled_tables() -> Option<&'static Tables> {
    if FAST_SAMPLED.load(Ordering::Relaxed) {
        TABLES.get()
    } else {
        None
    }
}

/// Current state.
#[inline]
pub fn state() -> u8 {
    STATE.load(Ordering::Acquire)
}

/// Stops tracing for good.
pub fn disable(reason: &[u8]) {
    STATE.store(DISABLED, Ordering::Release);
    crate::log::disabled(reason);
}

fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &c in v {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

fn read_config() -> Option<Config> {
    let out = sys::getenv(c"LEAKHOUND_OUT")?;
    if out.is_empty() || out.len() > MAX_DIR {
        return None;
    }
    let mut cfg = Config {
        sampled: false,
        mean: crate::sample::DEFAULT_MEAN,
        interval_ms: 1000,
        seed: sys::now_ns() ^ u64::from(sys::getpid()),
        out_dir: [0; MAX_DIR],
        out_len: out.len(),
        start_ns: sys::now_ns(),
        events: sys::getenv(c"LEAKHOUND_EVENT_LOG").is_some_and(|v| v == b"1"),
    };
    cfg.out_dir[..out.len()].copy_from_slice(out);
    if let Some(m) = sys::getenv(c"LEAKHOUND_HEAP_MODE") {
        cfg.sampled = m.starts_with(b"sampled");
    }
    if let Some(v) = sys::getenv(c"LEAKHOUND_HEAP_SAMPLE").and_then(parse_u64) {
        cfg.sampled = true;
        cfg.mean = v.max(1);
    }
    if let Some(v) = sys::getenv(c"LEAKHOUND_HEAP_INTERVAL_MS").and_then(parse_u64) {
        cfg.interval_ms = v.clamp(10, 3_600_000);
    }
    if let Some(v) = sys::getenv(c"LEAKHOUND_HEAP_SEED").and_then(parse_u64) {
        cfg.seed = v;
    }
    let fp_only = sys::getenv(c"LEAKHOUND_UNWIND").is_some_and(|v| v == b"fp");
    crate::unwind::dwarf::ENABLED.store(!fp_only, std::sync::atomic::Ordering::Relaxed);
    Some(cfg)
}

/// Makes sure initialisation has run; returns the state the caller should act on.
/// `INITIALIZING` is returned only to the thread doing the initialisation.
#[inline]
pub fn ensure() -> u8 {
    let s = state();
    if s == READY || s == DISABLED {
        return s;
    }
    slow_ensure()
}

#[cold]
fn slow_ensure() -> u8 {
    let tls = Tls::current();
    loop {
        match state() {
            INITIALIZING => {
                if tls.flags() & FLAG_INIT != 0 {
                    return INITIALIZING;
                }
                sys::yield_now();
            }
            UNINIT => {
                if STATE
                    .compare_exchange(UNINIT, INITIALIZING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    tls.set_flags(tls.flags() | FLAG_INIT);
                    let old_guard = tls.guard();
                    tls.set_guard(1);
                    let next = initialise();
                    tls.set_guard(old_guard);
                    tls.set_flags(tls.flags() & !FLAG_INIT);
                    STATE.store(next, Ordering::Release);
                    if next == READY && CONFIG.get().is_some_and(|c| c.sampled) {
                        FAST_SAMPLED.store(true, Ordering::Release);
                    }
                    return next;
                }
            }
            s => return s,
        }
    }
}

fn initialise() -> u8 {
    real::resolve();
    let Some(cfg) = read_config() else {
        return DISABLED;
    };
    let sampled = cfg.sampled;
    if cfg.events {
        match crate::events::EventRing::new() {
            Some(r) => {
                let _ = EVENTS.set(r);
            }
            None => crate::log::say(
                b"leakhound-agent: could not map the event log ring; no event log\n",
            ),
        }
    }
    let _ = CONFIG.set(cfg);
    match Tables::new(sampled) {
        Some(t) => {
            let _ = TABLES.set(t);
            READY
        }
        None => {
            crate::log::disabled(b"could not map its tables");
            DISABLED
        }
    }
}
