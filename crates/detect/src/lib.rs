//! Leak detection on one time series: pure statistics, a [`Series`] in, a [`SeriesVerdict`] with
//! its evidence out. No I/O, no clock, no threads.
//!
//! Pipeline (see each module): clean the samples (`prep`), take a robust lower envelope
//! (`envelope`; where its trend falls short of significance, the bins' other floor, the
//! minima of twelve coarse bins and then their midranges are judged too, each at a quarter of
//! the level), cut at restarts and one-off level steps (`changepoint`), then judge the latest
//! segment with an autocorrelation-corrected Mann-Kendall test (`mann_kendall`), a Theil-Sen rate
//! with a 95 % interval (`theil_sen`), a recent-half trend, a plateau-versus-line model
//! comparison (`saturation`) and a thirds test (does the last third keep to the line of the
//! first two-thirds, or is the rise slowing towards a plateau). `policy` turns the evidence into a verdict and a sentence, and runs
//! the causal online mode with persistence.
//!
//! The same detector judges memory (bytes) and resource counts (fds, sockets, threads).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
mod calibration;
mod changepoint;
pub mod covariate;
mod envelope;
mod load_following;
mod mann_kendall;
mod policy;
mod prep;
mod saturation;
mod theil_sen;
mod util;

use std::borrow::Cow;

use leakhound_core::{Series, SeriesVerdict};

pub use policy::{
    DEFAULT_ALARM_AFTER_S, DEFAULT_ALPHA, DEFAULT_ALPHA_ONLINE, DEFAULT_MIN_GROWTH,
    DEFAULT_PERSISTENCE, GenericReading, MIN_SAMPLES,
};

/// Knobs of the detector. Every default is explained where its constant is defined.
#[derive(Clone, Debug)]
pub struct DetectOptions {
    /// Samples before `first_t + warmup_s` are ignored (default 0).
    pub warmup_s: f64,
    /// A limit in the series' unit (e.g. a container memory limit in bytes) for
    /// `time_to_limit_s`; `None` leaves it unset.
    pub limit: Option<f64>,
    /// One-sided significance level of the end-of-run trend test (default [`DEFAULT_ALPHA`]).
    pub alpha: f64,
    /// Significance level at each online checkpoint (default [`DEFAULT_ALPHA_ONLINE`]); stricter
    /// because the online mode tests again and again.
    pub alpha_online: f64,
    /// Smallest growth of the floor over the judged window, as a fraction of its level, that can
    /// be called a leak (default [`DEFAULT_MIN_GROWTH`]).
    pub min_growth: f64,
    /// Consecutive online checkpoints that must agree before an alarm (default
    /// [`DEFAULT_PERSISTENCE`]).
    pub persistence: usize,
    /// What is known of process restarts while the series was recorded (default
    /// [`Restarts::Unknown`]: inferred from the samples).
    pub restarts: Restarts,
    /// Online, no alarm before this many seconds of data (after `warmup_s`) have been seen.
    /// `None` (the default): [`DEFAULT_ALARM_AFTER_S`], 4 minutes, since a process's memory and
    /// pools warm up in a line as steadily as a leak as it starts. Lower it for a
    /// process that was warm when watching began.
    pub alarm_after_s: Option<f64>,
}

impl Default for DetectOptions {
    fn default() -> Self {
        DetectOptions {
            warmup_s: 0.0,
            limit: None,
            alpha: DEFAULT_ALPHA,
            alpha_online: DEFAULT_ALPHA_ONLINE,
            min_growth: DEFAULT_MIN_GROWTH,
            persistence: DEFAULT_PERSISTENCE,
            restarts: Restarts::Unknown,
            alarm_after_s: None,
        }
    }
}

/// What is known of process restarts while a series was recorded. A restart resets memory, so
/// the series is judged from the last one on, and climbs that end in restarts are OOM-kill
/// cycles; a fall with no restart is memory given back (a heap that shrank, a cache dropped):
/// the series is still judged from the last large fall on, but repeated falls are then a
/// collector's sawtooth, never OOM-kill cycles, and the reason says "since it fell".
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Restarts {
    /// Nothing is known: a fall is a restart when the samples say so (it gives back most of the
    /// level, or samples are missing across it as when a process is down).
    #[default]
    Unknown,
    /// No process restarted (a `run` or `watch` in which no process of the tree that held
    /// memory ended, or a `process_start_time_seconds` that never changed).
    None,
    /// Processes restarted at these times, on the series' clock (the last sample of the process
    /// that ended, or the first of the new one); a fall is a restart when it lies within two
    /// sampling intervals of one of them, and no other fall is.
    At(Vec<f64>),
}

impl Restarts {
    /// Restarts known at `times` (any order, repeats allowed): [`Restarts::None`] when there
    /// are none.
    pub fn at(mut times: Vec<f64>) -> Restarts {
        if times.is_empty() {
            return Restarts::None;
        }
        times.sort_by(f64::total_cmp);
        times.dedup();
        Restarts::At(times)
    }

    /// Whether a fall between samples at `before` and `after` is a known restart (`Some(true)`),
    /// known not to be one (`Some(false)`), or unknown (`None`); `dt` is the series' typical
    /// sampling interval, and restarts after `now` (the last sample seen, online) are not known
    /// yet.
    pub fn fall_is_restart(&self, before: f64, after: f64, dt: f64, now: f64) -> Option<bool> {
        match self {
            Restarts::Unknown => None,
            Restarts::None => Some(false),
            Restarts::At(times) => Some(
                times
                    .iter()
                    .any(|&r| r >= before - 2.0 * dt && r <= (after + 2.0 * dt).min(now)),
            ),
        }
    }
}

/// End-of-run verdict on the whole series (`detected_at_s` = last timestamp when a leak).
pub fn analyze(series: &Series, opts: &DetectOptions) -> SeriesVerdict {
    let clock = Clock::of(series);
    clock.back(policy::analyze(
        &clock.rebase(series),
        &clock.rebase_opts(opts),
    ))
}

/// Online (causal) verdict: evaluated at checkpoints as samples arrive. A leak verdict carries
/// `detected_at_s` = the time of the first alarm and depends on no sample after it (cutting the
/// series at `detected_at_s` and re-running gives the same alarm). Without an alarm, the verdict
/// of the whole series as at the end of a run, but never `leak`.
pub fn analyze_online(series: &Series, opts: &DetectOptions) -> SeriesVerdict {
    let clock = Clock::of(series);
    clock.back(policy::analyze_online(
        &clock.rebase(series),
        &clock.rebase_opts(opts),
    ))
}

/// The online mode as samples arrive (`leakhound run` and `watch` raise alarms with it while
/// they sample): feed it the series after each new sample and it returns the alarm verdict the
/// first time one is raised, at the same sample and with the same words as [`analyze_online`]
/// on the series cut there. Judging happens only at the online checkpoints (every 2 % of the
/// elapsed time), so most calls return at once.
///
/// The series must only grow between calls (samples appended, none changed).
/// [`OnlineMonitor::update_with_load`] takes load out as [`analyze_online_with_load`] does.
///
/// ```
/// use leakhound_core::{Series, Unit};
/// use leakhound_detect::{DetectOptions, OnlineMonitor};
///
/// let mut s = Series::new("rss_bytes", Unit::Bytes);
/// let mut monitor = OnlineMonitor::new();
/// let opts = DetectOptions::default();
/// for i in 0..600 {
///     // 100 MB growing 1 MB/s, a sample per second
///     s.push(i as f64, 100e6 + 1e6 * i as f64 + 3e5 * ((i * 7919) % 13) as f64);
///     if let Some(alarm) = monitor.update(&s, &opts) {
///         // Memory raises no online alarm on its first 4 minutes (a warm-up rises as steadily).
///         assert!((240.0..250.0).contains(&alarm.detected_at_s.unwrap()));
///         break;
///     }
/// }
/// assert!(monitor.alarm().is_some());
/// ```
#[derive(Debug, Clone)]
pub struct OnlineMonitor {
    inner: policy::Monitor,
    /// The clock of the first call, kept for every later one (see `Clock`).
    clock: Option<Clock>,
    alarm: Option<SeriesVerdict>,
}

impl Default for OnlineMonitor {
    fn default() -> Self {
        OnlineMonitor::new()
    }
}

impl OnlineMonitor {
    /// A monitor that has seen no sample.
    pub fn new() -> OnlineMonitor {
        OnlineMonitor {
            inner: policy::Monitor::new(),
            clock: None,
            alarm: None,
        }
    }

    /// Look at the samples of `series` added since the last call: `Some` with the alarm verdict
    /// (a leak, `detected_at_s` the sample it was raised at) the first time an alarm is raised,
    /// `None` before and after it.
    pub fn update(&mut self, series: &Series, opts: &DetectOptions) -> Option<&SeriesVerdict> {
        self.update_inner(series, None, opts)
    }

    /// [`OnlineMonitor::update`] with load as the covariate, as [`analyze_online_with_load`]
    /// judges it: `requests` is the cumulative count of requests served so far, on the same
    /// clock.
    pub fn update_with_load(
        &mut self,
        series: &Series,
        requests: &Series,
        opts: &DetectOptions,
    ) -> Option<&SeriesVerdict> {
        self.update_inner(series, Some(requests), opts)
    }

    fn update_inner(
        &mut self,
        series: &Series,
        requests: Option<&Series>,
        opts: &DetectOptions,
    ) -> Option<&SeriesVerdict> {
        // Most samples are no checkpoint: skip them before the series is copied or cleaned.
        if series.is_empty() || !series.t.last().is_some_and(|&t| self.due(t)) {
            return None;
        }
        let clock = *self.clock.get_or_insert_with(|| Clock::of(series));
        let load = requests.and_then(|r| load_following::LoadAxis::new(&clock.rebase(r)));
        let v = self.inner.update(
            &clock.rebase(series),
            &clock.rebase_opts(opts),
            load.as_ref(),
        )?;
        self.alarm = Some(clock.back(v));
        self.alarm.as_ref()
    }

    /// Whether a sample at `t` (on the series' own clock) would be judged: `false` for most
    /// samples (they fall between the online checkpoints) and after an alarm, so a caller
    /// with work to do before [`OnlineMonitor::update`] can skip it.
    pub fn due(&self, t: f64) -> bool {
        self.alarm.is_none()
            && self
                .clock
                .is_none_or(|clock| self.inner.due(t - clock.origin))
    }

    /// The alarm raised so far, if any.
    pub fn alarm(&self) -> Option<&SeriesVerdict> {
        self.alarm.as_ref()
    }
}

/// End-of-run verdict with memory that follows load taken out first. `requests` is the
/// cumulative count of requests served (the load driver's total, or a Prometheus
/// `http_requests_total`), sampled on the same clock as `series`. The memory held per request
/// per second of load is fitted together with a slow term (growth with time or with requests
/// served) and, when the load clearly explains part of the series, that part is removed before
/// the usual test; the reason then says how much was taken out. With constant load, or load the
/// series does not follow, the verdict is that of [`analyze`]. Rates stay per second.
pub fn analyze_with_load(
    series: &Series,
    requests: &Series,
    opts: &DetectOptions,
) -> SeriesVerdict {
    let clock = Clock::of(series);
    let load = load_following::LoadAxis::new(&clock.rebase(requests));
    clock.back(policy::analyze_loaded(
        &clock.rebase(series),
        &clock.rebase_opts(opts),
        load.as_ref(),
    ))
}

/// Online (causal) verdict with load as in [`analyze_with_load`]: at every checkpoint the
/// load-following part is fitted on the samples and requests seen so far, so cutting both
/// series at the alarm and re-running gives the same alarm.
pub fn analyze_online_with_load(
    series: &Series,
    requests: &Series,
    opts: &DetectOptions,
) -> SeriesVerdict {
    let clock = Clock::of(series);
    let load = load_following::LoadAxis::new(&clock.rebase(requests));
    clock.back(policy::analyze_online_loaded(
        &clock.rebase(series),
        &clock.rebase_opts(opts),
        load.as_ref(),
    ))
}

/// Whether the series is judged as memory (rather than as a count of resources): always for
/// bytes, never for fds, sockets, threads or processes, and for a column of unknown unit
/// ([`leakhound_core::Unit::Count`]) unless its samples are whole numbers of modest size (and
/// not whole 4 KiB pages counted in KiB, see [`generic_reading`]). A size
/// limit (`2GiB`) applies to the series judged as memory.
pub fn judged_as_memory(series: &Series) -> bool {
    policy::judged_as_memory(series)
}

/// How a column whose name gives no unit ([`leakhound_core::Unit::Count`], e.g. `value`) is
/// read from its values: a count, memory, or memory in KiB (see [`judged_as_memory`]).
pub fn generic_reading(series: &Series) -> GenericReading {
    policy::generic_reading(series)
}

/// A multi-line dump of the evidence behind the end-of-run verdict, for tuning and bug reports
/// (the format is not stable).
#[doc(hidden)]
pub fn explain(series: &Series, opts: &DetectOptions) -> String {
    let clock = Clock::of(series);
    policy::explain(&clock.rebase(series), &clock.rebase_opts(opts))
}

/// End-of-run verdict with load as the covariate: the floor of `series` judged against the
/// cumulative number of requests served (`requests`: a counter, e.g. the load driver's total,
/// sampled on the same clock) instead of against time. `rate_per_s` and `rate_ci95` are then
/// **per request** (bytes retained per request served) and `growth_abs` is over the requests
/// served in the window. Memory that follows load and returns is judged as such (no growth per
/// request), while a leak proportional to traffic becomes a straight line however bursty the
/// load was.
pub fn analyze_per_request(
    series: &Series,
    requests: &Series,
    opts: &DetectOptions,
) -> SeriesVerdict {
    let clock = Clock::of(series);
    clock.back(policy::analyze_per_request(
        &clock.rebase(series),
        &clock.rebase(requests),
        &clock.rebase_opts(opts),
    ))
}

/// Where a series' clock starts, taken out before judging, so that only the time since the
/// first sample counts: a Prometheus export on Unix time (1.76e9 s) and the same samples on a
/// run directory's clock from 0 get the same verdicts to the last digit. On Unix time a double
/// resolves only 2.4e-7 s, and bin centres, fitted lines and checkpoints computed there are
/// rounded to that grid (rates off in their tenth digit, and a verdict at a threshold could
/// flip). Only a clock whose origin lies further from 0 than the series spans is moved: every
/// time then lies within a factor of two of the origin, so `t − origin` is exact (Sterbenz's
/// lemma) and adding the origin back gives the sample's own time to the bit (an online alarm's
/// `detected_at_s` is a sample time one can cut the series at).
#[derive(Clone, Copy, Debug)]
struct Clock {
    origin: f64,
}

impl Clock {
    fn of(series: &Series) -> Clock {
        let first = series.t.iter().copied().find(|t| t.is_finite());
        let last = series.t.iter().rev().copied().find(|t| t.is_finite());
        let origin = match (first, last) {
            (Some(a), Some(b)) if a > 0.0 && a > b - a => a,
            _ => 0.0,
        };
        Clock { origin }
    }

    /// `s` on the moved clock (the same series when the clock is not moved).
    fn rebase(self, s: &Series) -> Cow<'_, Series> {
        if self.origin == 0.0 {
            return Cow::Borrowed(s);
        }
        Cow::Owned(Series::from_parts(
            s.name.clone(),
            s.unit,
            s.t.iter().map(|t| t - self.origin).collect(),
            s.v.clone(),
        ))
    }

    /// Known restart times on the moved clock.
    fn rebase_opts(self, opts: &DetectOptions) -> Cow<'_, DetectOptions> {
        match &opts.restarts {
            Restarts::At(times) if self.origin != 0.0 => Cow::Owned(DetectOptions {
                restarts: Restarts::At(times.iter().map(|t| t - self.origin).collect()),
                ..opts.clone()
            }),
            _ => Cow::Borrowed(opts),
        }
    }

    /// A verdict's time given back on the series' own clock.
    fn back(self, mut v: SeriesVerdict) -> SeriesVerdict {
        v.detected_at_s = v.detected_at_s.map(|t| t + self.origin);
        v
    }
}
