//! Turning evidence into a verdict: thresholds, the order of the checks, the sentence shown to a
//! service owner, and the causal online mode (checkpoints plus persistence).
//!
//! Not for statistics themselves (those live in the sibling modules).
//!
//! This module holds the constants shared by the checks, the judgement of a series (`judge`),
//! the end-of-run entry points and the wording helpers; its submodules hold the rest:
//! `trend` (the floor's trend tests), `window` (the verdict on one window), `restarts` (cuts,
//! collections and OOM-kill cycles), `idle` (a pool's quiet floor) and `online` (checkpoints and
//! persistence).

use leakhound_core::{Series, SeriesVerdict, Unit, Verdict, format_quantity};

use crate::DetectOptions;
use crate::changepoint::{find_jumps, level_steps};
use crate::envelope::{Envelope, FloorMemo, floor_envelope};
use crate::load_following::{self, LoadAxis, LoadFit};
use crate::mann_kendall::Serial;
use crate::prep::{Clean, clean};
use crate::util::{median_in_place, quantile_in_place};

mod daily;
mod idle;
mod online;
mod restarts;
mod trend;
mod window;

use daily::*;
use idle::*;
pub use online::DEFAULT_ALARM_AFTER_S;
pub(crate) use online::{Monitor, analyze_online, analyze_online_loaded};
use restarts::*;
use trend::*;
use window::*;

/// End-of-run one-sided significance level: 2 %, the false-positive budget of issue 4. The
/// trend test is not the only gate (the floor must also have grown by `min_growth`, its recent
/// half must not have levelled off, no plateau may fit better), so the detector's false-alarm
/// rate stays under the test's own level. On the tuning and check seeds 1/7/11/2/3, 2 % rather
/// than 1 % gained 1.3-3.9 points of memory and 0-4.9 points of resource recall at unchanged
/// false positives (short leaks that were "may be rising, not yet significant"); 5 % gained 1-2
/// points more for +0.8-1.8 points of false positives.
pub const DEFAULT_ALPHA: f64 = 0.02;

/// Online significance per checkpoint: 1 %, half the end-of-run level. The test is repeated at up
/// to a few hundred checkpoints, but an alarm also needs persistence ([`DEFAULT_PERSISTENCE`]
/// checkpoints, 30 samples and a fraction of the rise's age), which keeps
/// flat, noisy and GC-sawtooth corpus families at 0-5 % online false alarms; 0.1 % cost 3-6
/// points of online recall on the tuning corpus for < 1 point of false positives.
pub const DEFAULT_ALPHA_ONLINE: f64 = 0.01;

/// Minimum growth of the floor over the judged window, relative to its level: 3 %. Issue 4's
/// leaks grow at least 4 % over their window; healthy processes drift by a few percent at most
/// once warm (allocator fragmentation, glibc arenas, lazily touched pages, growth that flattens
/// like a logarithm), so 3 % sits between the two, nearer the leaks.
pub const DEFAULT_MIN_GROWTH: f64 = 0.03;

/// Online alarms need this many consecutive agreeing checkpoints (persistence, as in CUSUM
/// practice): one noisy checkpoint cannot raise an alarm.
pub const DEFAULT_PERSISTENCE: usize = 3;

/// Fewest samples (after warm-up) the detector judges: six envelope bins of three samples; six
/// bins is the smallest Mann-Kendall sample whose exact one-sided p-value can go below 1 %
/// (p = 1/720 for a strictly monotone series).
pub const MIN_SAMPLES: usize = 18;

/// A sawtooth still visible in the envelope is judged on its per-cycle floors when it shows at
/// least 6 cycles (the fewest values a Mann-Kendall test can reject at 1 %, see [`MIN_SAMPLES`]).
const MIN_CYCLES: usize = 6;

/// A series whose repeated falls are collections rather than restarts (see
/// [`restart_evidence`]) is judged on its cycle floors from 5 cycles on: five strictly rising
/// floors give a one-sided Mann-Kendall p of 1/120 = 0.8 %, under the end-of-run 2 %. On the
/// independent corpus (crates/corpus/independent, seeds 1-7) 5 rather than 6 gained 0.9 points
/// of end-of-run memory recall (leaks under a JVM old generation collected 5-6 times) at
/// unchanged false positives; the detector's own corpus did not change.
const MIN_SAWTOOTH_CYCLES: usize = 5;

/// Fewest envelope bins in a judged segment (see [`MIN_SAMPLES`]).
const MIN_BINS: usize = 6;

/// Significance of the recent-half trend: it is a confirmation, so 5 % suffices.
const ALPHA_LATE: f64 = 0.05;

/// Online: a decelerating rise whose current (last-quarter) rate is under 70 % of its recent-half
/// rate is not alarmed yet; an exponential approach to a plateau seen over one time constant
/// ends at e^(−0.5) ≈ 0.61 of its mean slope over the recent half.
const DECEL_RATIO: f64 = 0.7;

/// A window is re-judged from a mid-run bend only when it trends up as a whole at 10 %
/// (a gate against judging every random bend; the sub-window then must pass the full test).
const ONSET_GATE: f64 = 0.1;

/// Integer counts change in steps of one: a change of up to 2.5 fds, sockets or threads between
/// envelope bins is the grain of the data (a slow count leak is nothing but such changes), never
/// a one-off level step or a restart. Memory has no such grain (pages are far below any
/// threshold). This is the one place where a verdict on counts depends on absolute values
/// (besides [`WHOLE_COUNT_MAX_MEDIAN`], which tells a column of unknown unit's counts from
/// memory).
const COUNT_QUANTUM: f64 = 2.5;

fn quantum(grain: Grain) -> f64 {
    match grain {
        Grain::Fine => 0.0,
        Grain::Whole => COUNT_QUANTUM,
    }
}

/// How a series' values move, which decides the rules that depend on it: the grain of the data
/// ([`COUNT_QUANTUM`]), the serial correction ([`serial`]), the persistence before an online
/// alarm, the smallest growth counted and the idle-floor rules for pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grain {
    /// Memory: steps far below any threshold, collections that fall and climb back.
    Fine,
    /// Resource counts (fds, sockets, threads, processes, requests): whole units that matter at
    /// their level, pools that follow load.
    Whole,
}

/// A column whose name gives no unit ([`Unit::Count`], e.g. `value`) is a count of resources
/// when every sample is a whole number and its median is under a million; otherwise memory.
/// A service's memory in bytes is never under a million (a megabyte), while fd, socket and
/// thread counts stay far below it. Judging a generic column as memory when it holds counts
/// cost end-of-run resource recall on our independent seeds 1-3 (92.5 / 92.5 / 85.0 % →
/// 77.5 / 85.0 / 80.0 %); judging memory as counts added false alarms (end-of-run memory FPR
/// 0.9 / 1.7 / 3.4 % → 5.2 / 6.0 / 8.6 %), hence a rule that memory in bytes cannot meet.
const WHOLE_COUNT_MAX_MEDIAN: f64 = 1e6;

/// A page of memory in KiB: resident memory counted in pages reads, in kibibytes, as whole
/// multiples of 4 (`/proc/PID/status`'s `VmRSS`, `ps -o rss`, a scraper that divides bytes by
/// 1024).
const PAGE_KIB: f64 = 4.0;

/// Whole multiples of [`PAGE_KIB`] with a median of at least 10,000 in a column of unknown unit
/// are memory in KiB (a process of 10 MB to 1 GB), not a count, though they are whole numbers
/// under [`WHOLE_COUNT_MAX_MEDIAN`]. Counts in our three corpora have medians up to about
/// 3,000 and move by single units, so a count whose every sample lies on a multiple of 4 is
/// vanishingly rare at that size. Measured by rewriting the memory series of our seeds 101 and
/// 202, independent seed 1 and mechanism seed 1 in KiB under a `value` header: 60-65 % of them
/// were judged as counts, and 34, 31, 61 and 72 of the 300 series changed verdict or alarm
/// (end of run, false alarms 0 → 1, 1 → 3, 1 → 5 and 21 → 31, leaks found 107 → 106, 113,
/// 121 and 122 → 126); with this rule every verdict and alarm is the one the bytes give.
const KIB_MEMORY_MIN_MEDIAN: f64 = 10_000.0;

/// How a column whose name gives no unit ([`Unit::Count`]) is read, from its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenericReading {
    /// Whole numbers with a median under a million: a count of resources.
    Count,
    /// Anything else: memory.
    Memory,
    /// Whole multiples of a 4 KiB page with a median of 10,000 or more: memory in KiB.
    MemoryKib,
}

/// [`GenericReading`] of `series`'s values (whatever its unit).
pub(crate) fn generic_reading(series: &Series) -> GenericReading {
    let mut v: Vec<f64> = series.v.iter().copied().filter(|x| x.is_finite()).collect();
    let whole = !v.is_empty() && v.iter().all(|x| x.fract() == 0.0);
    let pages_in_kib = v.iter().all(|x| x % PAGE_KIB == 0.0);
    let median = median_in_place(&mut v).abs();
    if !whole || median >= WHOLE_COUNT_MAX_MEDIAN {
        GenericReading::Memory
    } else if pages_in_kib && median >= KIB_MEMORY_MIN_MEDIAN {
        GenericReading::MemoryKib
    } else {
        GenericReading::Count
    }
}

pub(crate) fn judged_as_memory(series: &Series) -> bool {
    Grain::of(series) == Grain::Fine
}

impl Grain {
    fn of(series: &Series) -> Grain {
        match series.unit {
            Unit::Bytes => Grain::Fine,
            Unit::Count => match generic_reading(series) {
                GenericReading::Count => Grain::Whole,
                GenericReading::Memory | GenericReading::MemoryKib => Grain::Fine,
            },
            Unit::Fds | Unit::Sockets | Unit::Threads | Unit::Processes | Unit::Requests => {
                Grain::Whole
            }
        }
    }
}

/// The serial-correlation correction of the trend tests (see [`Serial`]): memory at least the
/// lag-one effective sample size, resource counts Hamed-Rao. Measured (v16, with the recent
/// half kept on Hamed-Rao, see `trend_with`): on our seeds 101-1010 end-of-run memory 89.3 % at
/// 0.7 % → 88.2 % at 0.5 % (leaks mostly turned inconclusive, three false alarms fewer),
/// independent seeds 1-7 92.0 % at 2.3 % → 91.0 % at 1.5 %, held-out independent seeds 8-10
/// FPR 3.4/2.6/6.0 % → 3.4/1.7/4.3 % for one leak fewer each. For counts it cost 2.5-5 points
/// of recall (held-out seeds) for no false alarm fewer.
fn serial(grain: Grain) -> Serial {
    match grain {
        Grain::Fine => Serial::LagOne,
        Grain::Whole => Serial::HamedRao,
    }
}

/// Resource counts are integers: growth of fewer than 3 (fds, sockets, threads) over the window
/// is a lazily opened file or a second worker, not a leak.
const MIN_ABS_GROWTH_COUNT: f64 = 3.0;

/// One-off steps tolerated before a staircase counts as growth: issue 4 lists one to three
/// one-off steps (fragmentation, one-time allocations) as healthy.
const MAX_ONE_OFF_STEPS: usize = 3;

/// The recent half is decelerating when its parabola's quadratic term has t < −3 (a 0.3 %
/// one-sided tail under no curvature); its current rate is then the parabola's end slope
/// rather than the half's average slope, which a warm-up's tail would inflate.
const CONCAVE_T: f64 = 3.0;

/// …and for at least 30 sample intervals (30 s at 1 s sampling, 7.5 min at a 15 s scrape), so
/// the first climb of a GC sawtooth, before any collection was seen, cannot alarm on its own
/// (a 37 s sawtooth sampled at 1 s alarmed at its first collection with 20). On the tuning
/// corpus 30 rather than 20 cost 2-6 points of online recall, mostly 60-sample series.
const MIN_PERSIST_SAMPLES: f64 = 30.0;

/// What the judge concluded, before it becomes a [`SeriesVerdict`].
#[derive(Debug, Clone)]
struct Judgement {
    verdict: Verdict,
    rate: Option<f64>,
    ci: Option<[f64; 2]>,
    growth_abs: Option<f64>,
    growth_pct: Option<f64>,
    level_end: Option<f64>,
    /// The whole window trends up (MK p < [`ONSET_GATE`]) and a hinge fits better than a line:
    /// worth judging again from the bend on.
    onset_candidate: bool,
    /// Not a leak because the window stepped up and is flat between its steps: where its last
    /// stretch (after the latest cut step) starts, judged again on its own at the end of a run.
    after_steps: Option<f64>,
    /// The window's trend was judged with steps cut out of it, or its envelope fell somewhere
    /// (a step down, a collection, a dip): not one clean stretch.
    cut_or_fell: bool,
    /// A leak because memory climbs and drops at restarts, cycle after cycle (OOM kills): its
    /// evidence is counted in cycles (see `online::MIN_PERSIST_SAMPLES_CYCLES`).
    oom_cycles: bool,
    /// Where the judged rise starts (segment start, or a mid-run onset): online persistence is
    /// measured against the time since then.
    rise_start: f64,
    needs_more_s: Option<f64>,
    samples: usize,
    window_s: f64,
    reason: String,
    /// Not a leak only because the trend test did not reach significance ("may be rising",
    /// "flat"): no levelling off, step, sawtooth or load explained the window.
    unproven: bool,
    /// Of those, the trend came close ("may be rising": Mann-Kendall p < 0.1 and `min_growth`
    /// over the window, no levelling off).
    rising: bool,
    /// Not a leak because the floor levelled off or a plateau fits better ("grew … early but
    /// has levelled off").
    levelled: bool,
    /// The recent half rises on its own: Mann-Kendall at [`ALPHA_LATE`] and Sen's lower bound
    /// above zero.
    late_rises: bool,
    /// The recent half bends down: its parabola's quadratic term has t < −[`CONCAVE_T`].
    late_concave: bool,
}

fn what(unit: Unit) -> &'static str {
    match unit {
        Unit::Bytes => "memory",
        Unit::Fds => "open fd count",
        Unit::Sockets => "socket count",
        Unit::Threads => "thread count",
        Unit::Processes => "process count",
        Unit::Requests => "request count",
        Unit::Count => "value",
    }
}

fn floor_word(unit: Unit) -> &'static str {
    match unit {
        Unit::Bytes => "memory floor",
        _ => what(unit),
    }
}

/// "sample" or "samples".
fn samples_word(n: usize) -> &'static str {
    if n == 1 { "sample" } else { "samples" }
}

/// Human duration: `45 s`, `12 min`, `5.0 h`, `4.5 days`, `2.3 years`, `centuries`.
fn dur(s: f64) -> String {
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.25 * DAY;
    if s < 9.95 {
        // Tenths under 10 s (a short program's heap timeline, a warm-up's time constant): a
        // sub-second window is not "0 s", nor a 1.7 s time constant "2 s".
        let tenths = (s * 10.0).round() / 10.0;
        if tenths.fract() == 0.0 {
            format!("{tenths:.0} s")
        } else {
            format!("{tenths:.1} s")
        }
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 3.0 * DAY {
        format!("{:.1} h", s / 3600.0)
    } else if s < 365.0 * DAY {
        format!("{:.1} days", s / DAY)
    } else if s < 100.0 * YEAR {
        format!("{:.1} years", s / YEAR)
    } else {
        "centuries".to_string()
    }
}

/// Seconds still needed, as `needs_more_s` reports them (at least 1, whole): the sentence says
/// the same figure (a 2-second heap timeline was told "need about 0 s more").
fn whole_s(needs: f64) -> f64 {
    needs.max(1.0).ceil()
}

fn inconclusive(samples: usize, window_s: f64, needs: f64, reason: String) -> Judgement {
    Judgement {
        verdict: Verdict::Inconclusive,
        rate: None,
        ci: None,
        growth_abs: None,
        growth_pct: None,
        level_end: None,
        onset_candidate: false,
        after_steps: None,
        cut_or_fell: false,
        oom_cycles: false,
        rise_start: f64::NEG_INFINITY,
        needs_more_s: Some(whole_s(needs)),
        samples,
        window_s,
        reason,
        unproven: false,
        rising: false,
        levelled: false,
        late_rises: false,
        late_concave: false,
    }
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    /// For the words only; the rules follow `grain`.
    unit: Unit,
    grain: Grain,
    opts: &'a DetectOptions,
    alpha: f64,
    /// Online checkpoints also wait out a decelerating rise (see [`DECEL_RATIO`]).
    online: bool,
    /// Requests served, when load is known: memory that follows it is taken out before judging
    /// (see `load_following`).
    load: Option<&'a LoadAxis>,
    /// The falls of the judged stretch are collections, not restarts (see [`restart_evidence`]):
    /// judge its per-cycle floors.
    sawtooth: bool,
    /// The judged window never falls (see [`noise_free`]): its trend tests take no
    /// serial-correlation correction.
    noise_free: bool,
    /// The last floor envelope, so a window judged twice in a row is binned once.
    memo: &'a FloorMemo,
}

impl<'a> Ctx<'a> {
    /// The context of a whole series judged at the end of a run (`online` false, at
    /// `opts.alpha`) or at online checkpoints (at `opts.alpha_online`).
    fn new(
        series: &Series,
        opts: &'a DetectOptions,
        load: Option<&'a LoadAxis>,
        online: bool,
        memo: &'a FloorMemo,
    ) -> Self {
        Ctx {
            unit: series.unit,
            grain: Grain::of(series),
            opts,
            alpha: if online {
                opts.alpha_online
            } else {
                opts.alpha
            },
            online,
            load,
            sawtooth: false,
            noise_free: false,
            memo,
        }
    }

    /// The serial-correlation correction of this window's trend tests.
    fn serial(&self) -> Serial {
        if self.noise_free {
            Serial::None
        } else {
            serial(self.grain)
        }
    }

    /// The envelope judged, in both modes: the 10th-percentile envelope or the bin minima,
    /// whichever is the quieter floor (see `envelope::floor_envelope`).
    fn envelope(&self, t: &[f64], v: &[f64]) -> Envelope {
        self.memo.floor_envelope(t, v)
    }
}

/// Steps in the recent half that make [`stepping_on`] read a window as a staircase: 2. On our
/// seeds 1/7/11/101-1010 and independent seeds 1-7, 2 found two more leaks at the end of a run
/// (independent seed 5: a memory staircase of four steps, two of them under the jump
/// threshold, and an fd count growing with bursty load) and three more online (our seeds 1,
/// 303 and 505: counts growing with bursty load), with no false alarm in either mode; 1 found
/// four more and added two false alarms (independent seed 2: a warm-up followed by one late
/// step of fragmentation is a healthy process too).
const LATE_STEPS: usize = 2;

/// The fine bins' other floor (their minima when the 10th percentile or a coarser or per-cycle
/// envelope was chosen, their 10th percentile when the minima were) is judged at a quarter of
/// the verdict's level when the chosen floor shows no significant trend or levelled off. The
/// two floors see the noise differently (a collector's sawtooth at random phases favours the
/// minimum, Gaussian noise the percentile), and [`floor_envelope`]'s choice between them is
/// made on their noise alone, which picks the wrong one on some series; a quarter keeps the
/// pair of tests within 1.25 × the level. Only a verdict that failed for significance, or
/// that read levelling off, is judged again: a floor that stepped or followed load keeps its
/// reason, and a levelling off stands unless the second floor's recent half rises
/// significantly on its own (the minima, noisier under Gaussian noise, show levelling off less
/// clearly; judging them whatever the first verdict, with no such condition, added false
/// alarms on warm-ups and saturating growth).
///
/// Measured at the end of a run, the minima as the second floor: memory +2 leaks on our seeds
/// 101-1010 (101, 808), +3 on independent seeds 1-7 (1, 4, 5), +1 each on the held-out seeds
/// 1111, 1212 and independent 10; resource counts +1 each on seeds 1010, 1313 and independent
/// 2; no false alarm more on any corpus (our seeds 1/7/11 unchanged). Levelled-off verdicts
/// judged again: +1 leak on seed 202 and +1 on independent seed 4 (leaks growing with bursty
/// load and under Node's collector). The percentile as the second floor: counts +1 each on
/// independent seeds 3 and 5 and held-out seed 1212. No false alarm more in any of these,
/// nor on the two-stage warm-ups. Half the level added false alarms on independent seeds 1, 5
/// and 6; every candidate floor (coarse bins, cycle floors) rather than the other fine one
/// added one on seed 707. Online (every checkpoint) it found 1-3 more leaks per group of
/// corpora for two false alarms more on the held-out ones, and cost 30 % more time: not used
/// there.
const SECOND_FLOOR_ALPHA_SHARE: f64 = 0.25;

/// Judge a cleaned series: cut at restarts, judge the latest segment, and recognise repeated
/// climb-then-restart cycles.
fn judge(ctx: &Ctx<'_>, c: &Clean) -> Judgement {
    let Some(load) = ctx.load else {
        return judge_whole(ctx, c, true);
    };
    let (v, adj) = match load_following::remove(load, &c.t, &c.v) {
        LoadFit::Removed(v, adj) => (v, adj),
        LoadFit::Unrelated => return judge_whole(ctx, c, true),
        LoadFit::Confounded(cf) => {
            return load_rose_with(ctx, judge_whole(ctx, c, true), cf.per_rate, cf.corr);
        }
    };
    let adjusted = Clean { t: c.t.clone(), v };
    // The quiet floor is the no-load reading of a pool that follows load, which the load
    // model has just taken out: on the adjusted series it read what was left of the swings as
    // growth (mechanism seeds 1-5 with their load: 13 false alarms, pools following load).
    let mut j = judge_whole(ctx, &adjusted, false);
    j.reason = format!(
        "{} (after taking out {} per req/s that follows load, up to {} at the busiest)",
        j.reason,
        format_quantity(ctx.unit, adj.per_rate),
        format_quantity(ctx.unit, adj.removed_max)
    );
    if adj.corr >= load_following::CONFOUNDED_CORR {
        return load_rose_with(ctx, j, adj.per_rate, adj.corr);
    }
    j
}

/// [`judge_series`], and at the end of a run the rules that look at the whole run rather than
/// its latest window: a leak back at its starting floor ([`back_at_start`]), a count's floor
/// where load is quiet ([`idle_floor`], when `idle`), a daily cycle judged day over day
/// ([`day_over_day`]). With a load given they used to be skipped, even when the load explained
/// nothing and `analyze_with_load` promises the verdict of `analyze`. Measured with the load
/// counters (`tools/compare.py --with-load`, our seeds 101-505 and mechanism seeds 1-5): end
/// of run, counts, one leak more (mechanism seed 5, an fd leak under a pool, now read on its
/// quiet floor) and one false alarm more (seed 2, a pool following load over 6 min, as
/// `analyze` reads it without the load); nothing else moved.
fn judge_whole(ctx: &Ctx<'_>, c: &Clean, idle: bool) -> Judgement {
    let j = judge_series(ctx, c);
    if ctx.online {
        return j;
    }
    if j.verdict == Verdict::Leak {
        return back_at_start(ctx, c, &j).unwrap_or(j);
    }
    let j = match idle_floor(ctx, c).filter(|_| idle) {
        Some(rise) => rise.judgement(ctx, j),
        None => j,
    };
    day_over_day(ctx, c, j)
}

/// A leak found while the load climbed with it and still climbs (its rate correlated `corr`
/// with time, over the window and its recent half, at least
/// [`load_following::CONFOUNDED_CORR`]) becomes inconclusive: memory
/// held for the load (`per_rate` per req/s) and a leak both rise with time then, and how much
/// of the rise is which rests on a model of the load's share that nothing in the window can
/// check (with the load's linear share taken out, the busy half of a daily cycle or a load
/// ramp still left a rise that alarmed). The load levelling off or falling tells them apart.
/// Measured with the load counters (`score --with-load`): on our seeds 101-1010, online
/// false alarms on memory 173 → 147 of 1260 healthy series (13.7 → 11.7 %: daily cycles, load
/// ramps and stairs), on resources 68 → 67 of 560, at the end of a run 4 → 3; on seeds
/// 1/7/11/1111-1313, online memory 83 → 75 of 756 (11.0 → 9.9 %); no leak lost on either. Our corpora have no leak under a climbing load: the test
/// `a_rise_while_the_load_climbs_waits_for_the_load_to_stop` has one.
fn load_rose_with(ctx: &Ctx<'_>, j: Judgement, per_rate: f64, corr: f64) -> Judgement {
    if j.verdict != Verdict::Leak {
        return j;
    }
    Judgement {
        verdict: Verdict::Inconclusive,
        needs_more_s: None,
        reason: format!(
            "{}, but the load is still climbing with it (its rate correlates {corr:.2} with time, over the window and its recent half): memory held for the load ({} per req/s) cannot be told from a leak until the load levels off or falls",
            j.reason,
            format_quantity(ctx.unit, per_rate)
        ),
        ..j
    }
}

fn to_verdict(
    series: &Series,
    c: &Clean,
    j: Judgement,
    opts: &DetectOptions,
    at: Option<f64>,
) -> SeriesVerdict {
    let mut sv = SeriesVerdict::empty(series.name.clone(), series.unit, j.verdict, j.reason);
    sv.detected_at_s = if j.verdict == Verdict::Leak { at } else { None };
    sv.rate_per_s = j.rate;
    sv.rate_ci95 = j.ci;
    sv.growth_abs = j.growth_abs;
    sv.growth_pct = j.growth_pct;
    sv.needs_more_s = j.needs_more_s;
    sv.samples = j.samples;
    sv.window_s = j.window_s;
    sv.time_to_limit_s = match (opts.limit, j.rate, j.level_end) {
        (Some(limit), Some(rate), Some(level))
            if rate > 0.0 && j.ci.is_some_and(|ci| ci[0] > 0.0) =>
        {
            let until = at.or(c.t.last().copied()).unwrap_or(0.0);
            let top = level + peak_above_floor(c, level, rate, until - j.window_s, until);
            Some(((limit - top) / rate).max(0.0))
        }
        _ => None,
    };
    sv
}

/// Share of the judged samples allowed above the level a limit is measured from.
const PEAK_QUANTILE: f64 = 0.95;

/// How far the series rises above its floor (the line through `level` at `until` with slope
/// `rate`) over `[from, until]`: the 95th percentile of the samples' heights above it. A limit
/// is reached by the tops, not by the floor: a collector's sawtooth at the end of its climbs,
/// a pool in its busy hours, noise on a plain leak; the percentile leaves rare spikes out.
fn peak_above_floor(c: &Clean, level: f64, rate: f64, from: f64, until: f64) -> f64 {
    let a = c.t.partition_point(|&t| t < from);
    let b = c.t.partition_point(|&t| t <= until);
    let mut above: Vec<f64> = (a..b)
        .map(|i| c.v[i] - (level - rate * (until - c.t[i])))
        .collect();
    quantile_in_place(&mut above, PEAK_QUANTILE).max(0.0)
}

pub(crate) fn analyze(series: &Series, opts: &DetectOptions) -> SeriesVerdict {
    analyze_loaded(series, opts, None)
}

/// [`analyze`] with memory that follows load taken out first (`load`: requests served).
pub(crate) fn analyze_loaded(
    series: &Series,
    opts: &DetectOptions,
    load: Option<&LoadAxis>,
) -> SeriesVerdict {
    let c = clean(series, opts.warmup_s);
    let memo = FloorMemo::default();
    let ctx = Ctx::new(series, opts, load, false, &memo);
    let j = judge(&ctx, &c);
    let at = c.t.last().copied();
    to_verdict(series, &c, j, opts, at)
}

/// A multi-line dump of the evidence behind the end-of-run verdict (envelope, jumps, tests),
/// for tuning and bug reports; the format is not stable.
pub(crate) fn explain(series: &Series, opts: &DetectOptions) -> String {
    use std::fmt::Write as _;
    let c = clean(series, opts.warmup_s);
    let mut s = String::new();
    let env = floor_envelope(&c.t, &c.v);
    let mut tmp = env.y.clone();
    let level = median_in_place(&mut tmp).abs();
    let jumps = find_jumps(&env.y, level, quantum(Grain::of(series)));
    let _ = writeln!(
        s,
        "level steps {:?}",
        level_steps(&env.y, level, quantum(Grain::of(series)), MAX_ONE_OFF_STEPS)
    );
    let _ = writeln!(
        s,
        "samples {} span {:.0}s bins {} width {:.1}s level {:.4e}",
        c.len(),
        c.span(),
        env.y.len(),
        env.width,
        level
    );
    let _ = writeln!(
        s,
        "envelope/level: {}",
        env.y
            .iter()
            .map(|y| format!("{:.3}", y / level))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        s,
        "restarts {:?} ups {:?} all {:?}",
        jumps.restarts, jumps.ups, jumps.all
    );
    if let Some(tr) = trend(&env, Grain::of(series), serial(Grain::of(series)), false) {
        let _ = writeln!(
            s,
            "mk z {:.2} p {:.2e} | slope {:.3e} ci {:.3e}..{:.3e} | g_full {:.4} | late p {:.3} late slope {:.3e} g_late {:.4} | curv {:?} | sat {:?} | rise_start {:.0}",
            tr.mk.z,
            tr.mk.p_increasing,
            tr.fit.slope,
            tr.fit.ci95[0],
            tr.fit.ci95[1],
            tr.fit.slope * tr.window / tr.level,
            tr.late_mk.p_increasing,
            tr.late_fit.map_or(0.0, |f| f.slope),
            tr.late_fit.map_or(0.0, |f| f.slope) * tr.window / tr.level,
            tr.late_curvature,
            tr.sat.map(|x| (
                x.sse_plateau / x.sse_linear,
                x.end_slope * tr.window / tr.level
            )),
            tr.rise_start
        );
    }
    s
}

/// End-of-run verdict with load as the covariate: the memory floor judged against cumulative
/// requests served instead of time (see `lib.rs` `analyze_per_request`).
pub(crate) fn analyze_per_request(
    series: &Series,
    requests: &Series,
    opts: &DetectOptions,
) -> SeriesVerdict {
    let c = clean(series, opts.warmup_s);
    let r = clean(requests, 0.0);
    // Cumulative requests at each memory sample (linear interpolation; samples outside the load
    // series' time range are left out).
    let mut x = Vec::with_capacity(c.len());
    let mut v = Vec::with_capacity(c.len());
    for (&t, &val) in c.t.iter().zip(&c.v) {
        let k = r.t.partition_point(|&rt| rt < t);
        let at = if k < r.len() && r.t[k] == t {
            Some(r.v[k])
        } else if k == 0 || k >= r.len() {
            None
        } else {
            let (t0, t1) = (r.t[k - 1], r.t[k]);
            let f = (t - t0) / (t1 - t0);
            Some(r.v[k - 1] + f * (r.v[k] - r.v[k - 1]))
        };
        if let Some(a) = at {
            x.push(a);
            v.push(val);
        }
    }
    let by_load = Series::from_parts(series.name.clone(), series.unit, x, v);
    // The axis is requests now: warm-up was already applied on the time axis.
    let inner = DetectOptions {
        warmup_s: 0.0,
        limit: None,
        ..opts.clone()
    };
    let c2 = clean(&by_load, 0.0);
    let memo = FloorMemo::default();
    let ctx = Ctx::new(series, &inner, None, false, &memo);
    let j = judge(&ctx, &c2);
    let served = c2.span();
    let unit = series.unit;
    let per = |x: f64| format!("{} per request", format_quantity(unit, x));
    let reason = match (j.verdict, j.rate, j.ci) {
        (Verdict::Leak, Some(rate), _) => format!(
            "{} floor grows {} over {:.0} requests with no sign of levelling off: memory is retained for every request served",
            what(unit),
            per(rate),
            served
        ),
        (Verdict::NoLeak, Some(rate), Some(ci)) => format!(
            "{} floor does not grow with requests served ({}, 95 % CI {} to {}) over {:.0} requests",
            what(unit),
            per(rate),
            format_quantity(unit, ci[0]),
            format_quantity(unit, ci[1]),
            served
        ),
        _ => format!(
            "not enough evidence against load yet over {:.0} requests ({} samples)",
            served, j.samples
        ),
    };
    let mut sv = to_verdict(
        series,
        &c,
        Judgement { reason, ..j },
        opts,
        c.t.last().copied(),
    );
    // The window is requests, not seconds; report the time the judged samples span instead.
    sv.window_s = c.span();
    sv.time_to_limit_s = None;
    sv.needs_more_s = None;
    sv
}
