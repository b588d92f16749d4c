//! The labelled corpus: families of healthy and leaking series, generated deterministically from
//! a seed (issue 4). Memory families model GC runtimes sampled at scrape times (JVM young and old
//! generation, Go's GOGC heap target, Node scavenges plus mark-sweep), warm-ups, caches, steps,
//! load-following memory, restarts and leaks of many shapes; resource families model pools of
//! fds, sockets and threads.
//!
//! Every series carries its labels (family, leak or not, leak onset) and, per sample, the leak's
//! own contribution, so the scorer can report growth at detection in % of the base.
//! Not for scoring (see `score`), not for files (see `files`).

use leakhound_core::{Series, Unit};

use crate::rng::Rng;

/// Memory or resource count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Bytes.
    Memory,
    /// fds, sockets, threads.
    Resource,
}

impl Class {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Memory => "memory",
            Class::Resource => "resources",
        }
    }
}

/// One labelled series.
#[derive(Debug, Clone)]
pub struct Item {
    /// Index in the corpus.
    pub id: usize,
    /// Family name.
    pub family: &'static str,
    /// Memory or resource.
    pub class: Class,
    /// Whether the series contains a leak.
    pub leak: bool,
    /// When the leak starts (seconds on the series' clock); `None` for healthy series.
    pub onset_s: Option<f64>,
    /// Base level (bytes or count) used for "% of base".
    pub base: f64,
    /// Nominal sample interval.
    pub interval_s: f64,
    /// The data.
    pub series: Series,
    /// The leak's own contribution at each sample (0 for healthy series).
    pub leak_part: Vec<f64>,
    /// Requests served so far at each sample time (a load driver's cumulative counter, with
    /// counting noise): what the load-aware scoring (`score --with-load`) hands the detector.
    /// Families whose memory follows load get the load it follows; every other family a
    /// constant rate.
    pub requests: Series,
}

impl Item {
    /// The leak's growth at time `at`, in % of base: 0 before the first sample, `None` for a
    /// corpus read from disk without a `leak_part` column.
    pub fn grown_pct_at(&self, at: f64) -> Option<f64> {
        let k = self.series.t.partition_point(|&t| t <= at);
        let part = match k {
            0 => 0.0,
            _ => *self.leak_part.get(k - 1)?,
        };
        Some(100.0 * part / self.base).filter(|g| g.is_finite())
    }
}

/// Healthy memory families.
pub const MEMORY_HEALTHY: [&str; 18] = [
    "flat_noise",
    "gc_jvm",
    "gc_go",
    "gc_node",
    "gc_bursty",
    "warmup_exp",
    "cache_capped",
    "flatten_log",
    "flatten_sqrt",
    "flatten_hyperbolic",
    "steps_one_off",
    "load_bursts",
    "load_ramp",
    "load_stairs",
    "daily_cycle",
    "batch_spikes",
    "restart_mid",
    "drift_down",
];

/// Leaking memory families.
pub const MEMORY_LEAKS: [&str; 11] = [
    "leak_linear",
    "leak_jvm",
    "leak_go",
    "leak_node",
    "leak_slow_hidden",
    "leak_mid_onset",
    "leak_under_warmup",
    "leak_load_prop",
    "leak_staircase",
    "leak_oom_cycles",
    "leak_heavy_noise",
];

/// Healthy resource families.
pub const RESOURCE_HEALTHY: [&str; 4] = ["pool_load", "pool_warm", "pool_batches", "count_flat"];

/// Leaking resource families.
pub const RESOURCE_LEAKS: [&str; 3] = ["count_leak_linear", "count_leak_mid", "count_leak_load"];

/// The family of the `i`-th series: a fixed rotation so that every family gets its share
/// (resource families twice per round, so the resource scores rest on enough series).
pub fn family_of(i: usize) -> &'static str {
    let mut all: Vec<&'static str> = Vec::new();
    all.extend(MEMORY_HEALTHY);
    all.extend(MEMORY_LEAKS);
    all.extend(RESOURCE_HEALTHY);
    all.extend(RESOURCE_LEAKS);
    all.extend(RESOURCE_HEALTHY);
    all.extend(RESOURCE_LEAKS);
    all[i % all.len()]
}

/// Generate `n` series from `seed`.
pub fn generate(seed: u64, n: usize) -> Vec<Item> {
    (0..n).map(|i| generate_one(seed, i)).collect()
}

/// Generate the `i`-th series of the corpus for `seed` (independent of the others).
pub fn generate_one(seed: u64, i: usize) -> Item {
    let mut rng = Rng::new(seed, i as u64);
    // The load's own draws come from a separate stream, so adding them changed no series.
    let mut lrng = Rng::new(seed ^ LOAD_STREAM, i as u64);
    let family = family_of(i);
    if RESOURCE_HEALTHY.contains(&family) || RESOURCE_LEAKS.contains(&family) {
        resource(&mut rng, &mut lrng, i, family)
    } else {
        memory(&mut rng, &mut lrng, i, family)
    }
}

/// Salt of the load's random stream ("LOAD").
const LOAD_STREAM: u64 = 0x4c4f_4144;

/// How far load swings above its quiet level where memory follows a ramp, stairs or a daily
/// cycle: up to 3× the quiet rate (a 1-4× range like the bursts').
const LOAD_SWING: f64 = 2.0;

/// The request counter at each time of `t` for a relative load `rel` (1 = quiet) on a quiet
/// rate drawn log-uniform 5-2000 req/s: the rate integrated over each interval (four
/// midpoints), counted with Poisson-like noise (normal with the count's square root as its
/// deviation).
fn requests_counter(lrng: &mut Rng, t: &[f64], rel: impl Fn(f64) -> f64) -> Series {
    let quiet = lrng.log_uniform(5.0, 2000.0);
    let mut c = Vec::with_capacity(t.len());
    let mut total = 0.0_f64;
    let mut last = t.first().copied().unwrap_or(0.0);
    for &x in t {
        let h = (x - last) / 4.0;
        let mean: f64 = (0..4)
            .map(|k| quiet * rel(last + (k as f64 + 0.5) * h) * h)
            .sum();
        let counted = (mean + mean.max(0.0).sqrt() * lrng.normal())
            .round()
            .max(0.0);
        total += counted;
        last = x;
        c.push(total);
    }
    Series::from_parts("requests_total", Unit::Count, t.to_vec(), c)
}

/// Sample times: interval 1-60 s (log-uniform, at most length/60 so that every series has at
/// least 60 samples), ±10 % jitter, dropped samples and sometimes an outage.
fn grid(rng: &mut Rng, length: f64) -> (Vec<f64>, f64) {
    let interval = rng.log_uniform(1.0, 60.0).min(length / 60.0).max(1.0);
    let n = (length / interval).floor() as usize;
    let drop = *rng.pick(&[0.0, 0.0, 0.01, 0.03, 0.05]);
    let outage = if rng.chance(0.2) {
        let a = rng.uniform(0.1, 0.8) * length;
        Some((a, a + rng.uniform(0.02, 0.08) * length))
    } else {
        None
    };
    let mut t = Vec::with_capacity(n);
    for k in 0..n {
        let x = k as f64 * interval + rng.uniform(-0.1, 0.1) * interval;
        let x = x.max(0.0);
        if k > 0 && rng.chance(drop) {
            continue;
        }
        if outage.is_some_and(|(a, b)| x >= a && x < b) {
            continue;
        }
        t.push(x);
    }
    (t, interval)
}

/// Collection times of a sawtooth whose period is `period / load(t)` with ±30 % jitter.
fn collections(rng: &mut Rng, length: f64, period: f64, load: &dyn Fn(f64) -> f64) -> Vec<f64> {
    let mut out = vec![-rng.uniform(0.0, period)];
    let mut x = out[0];
    while x < length + period {
        let l = load(x.max(0.0)).max(0.05);
        x += period * rng.uniform(0.7, 1.3) / l;
        out.push(x);
    }
    out
}

/// Position in the current sawtooth cycle, 0 just after a collection, → 1 just before the next.
fn saw(c: &[f64], t: f64) -> f64 {
    let k = c.partition_point(|&x| x <= t);
    if k == 0 || k >= c.len() {
        return 0.0;
    }
    (t - c[k - 1]) / (c[k] - c[k - 1])
}

/// Bursty load: baseline 1, bursts of +1…+4 lasting 1-10 % of the run.
fn bursts(rng: &mut Rng, length: f64) -> Vec<(f64, f64, f64)> {
    let k = rng.int(2, 8);
    (0..k)
        .map(|_| {
            let a = rng.uniform(0.0, 0.95) * length;
            (
                a,
                a + rng.uniform(0.01, 0.1) * length,
                rng.uniform(1.0, 4.0),
            )
        })
        .collect()
}

fn load_at(b: &[(f64, f64, f64)], t: f64) -> f64 {
    1.0 + b
        .iter()
        .filter(|(a, e, _)| t >= *a && t < *e)
        .map(|(_, _, h)| h)
        .sum::<f64>()
}

/// Integral of the load from 0 to t.
fn cum_load(b: &[(f64, f64, f64)], t: f64) -> f64 {
    t + b
        .iter()
        .map(|(a, e, h)| h * (t.min(*e) - a).max(0.0))
        .sum::<f64>()
}

/// A GC runtime model: returns the value given the live (floor) level at time t.
enum Gc {
    None,
    Jvm {
        young: Vec<f64>,
        young_amp: f64,
        old: Vec<f64>,
        old_amp: f64,
    },
    Go {
        c: Vec<f64>,
        gogc: f64,
    },
    Node {
        scav: Vec<f64>,
        scav_amp: f64,
        ms: Vec<f64>,
        ms_amp: f64,
    },
}

impl Gc {
    fn random(rng: &mut Rng, kind: &str, length: f64, base: f64, load: &dyn Fn(f64) -> f64) -> Gc {
        match kind {
            "jvm" => Gc::Jvm {
                young: {
                    let p = rng.log_uniform(2.0, 60.0);
                    collections(rng, length, p, load)
                },
                young_amp: base * rng.uniform(0.05, 0.3),
                // The old generation is collected at least three times per run: with less than
                // one old-generation cycle in view no detector can tell it from a leak.
                old: {
                    let p = length * rng.uniform(1.0 / 12.0, 1.0 / 3.0);
                    collections(rng, length, p, load)
                },
                old_amp: base * rng.uniform(0.02, 0.1),
            },
            "go" => Gc::Go {
                c: {
                    let p = rng.log_uniform(1.0, 120.0);
                    collections(rng, length, p, load)
                },
                gogc: *rng.pick(&[0.5, 1.0, 1.0, 2.0]),
            },
            _ => Gc::Node {
                scav: {
                    let p = rng.log_uniform(0.5, 10.0);
                    collections(rng, length, p, load)
                },
                scav_amp: base * rng.uniform(0.02, 0.08),
                ms: {
                    let p = rng.log_uniform(30.0, 600.0);
                    collections(rng, length, p, load)
                },
                ms_amp: base * rng.uniform(0.1, 0.4),
            },
        }
    }

    fn value(&self, live: f64, t: f64) -> f64 {
        match self {
            Gc::None => live,
            Gc::Jvm {
                young,
                young_amp,
                old,
                old_amp,
            } => live + young_amp * saw(young, t) + old_amp * saw(old, t),
            Gc::Go { c, gogc } => live * (1.0 + gogc * saw(c, t)),
            Gc::Node {
                scav,
                scav_amp,
                ms,
                ms_amp,
            } => live + scav_amp * saw(scav, t) + ms_amp * saw(ms, t),
        }
    }
}

/// Noise model of one series: white, AR(1), spikes.
struct Noise {
    white: f64,
    ar_rho: f64,
    ar_sd: f64,
    ar: f64,
    spike_p: f64,
    spike: f64,
}

impl Noise {
    fn random(rng: &mut Rng, base: f64, heavy: bool) -> Noise {
        let white = if heavy {
            base * rng.uniform(0.02, 0.05)
        } else {
            base * rng.log_uniform(0.0005, 0.01)
        };
        let (ar_rho, ar_sd) = if rng.chance(0.5) {
            (rng.uniform(0.5, 0.95), base * rng.log_uniform(0.0005, 0.01))
        } else {
            (0.0, 0.0)
        };
        let (spike_p, spike) = if heavy || rng.chance(0.3) {
            (0.005, base * rng.uniform(0.05, 0.3))
        } else {
            (0.0, 0.0)
        };
        Noise {
            white,
            ar_rho,
            ar_sd,
            ar: 0.0,
            spike_p,
            spike,
        }
    }

    fn next(&mut self, rng: &mut Rng) -> f64 {
        self.ar = self.ar_rho * self.ar
            + self.ar_sd * (1.0 - self.ar_rho * self.ar_rho).sqrt() * rng.normal();
        let spike = if rng.chance(self.spike_p) {
            self.spike * rng.f64()
        } else {
            0.0
        };
        self.white * rng.normal() + self.ar + spike
    }
}

/// Total leak growth over its window as a fraction of base: log-uniform 4 %-60 %, so about a
/// third of the leaks are hard ones under 10 % (issue 4).
fn leak_growth(rng: &mut Rng) -> f64 {
    rng.log_uniform(0.04, 0.6)
}

const PAGE: f64 = 4096.0;

fn memory(rng: &mut Rng, lrng: &mut Rng, id: usize, family: &'static str) -> Item {
    let length = match family {
        "leak_slow_hidden" => rng.log_uniform(3600.0, 86_400.0),
        "daily_cycle" => rng.uniform(12.0 * 3600.0, 86_400.0),
        _ => rng.log_uniform(300.0, 86_400.0),
    };
    let base = rng.log_uniform(30e6, 6e9);
    let (t, interval) = grid(rng, length);
    let mut noise = Noise::random(rng, base, family == "leak_heavy_noise");
    let leak = MEMORY_LEAKS.contains(&family);
    let g = leak_growth(rng);
    let mut onset = if leak { Some(0.0) } else { None };
    let b = bursts(rng, length);
    let flat_load = |_: f64| 1.0;
    let bursty_load = |x: f64| load_at(&b, x);
    let gc_kind = *rng.pick(&["jvm", "go", "node"]);
    let gc = match family {
        "gc_jvm" | "leak_jvm" => Gc::random(rng, "jvm", length, base, &flat_load),
        "gc_go" | "leak_go" => Gc::random(rng, "go", length, base, &flat_load),
        "gc_node" | "leak_node" => Gc::random(rng, "node", length, base, &flat_load),
        "gc_bursty" => Gc::random(rng, gc_kind, length, base, &bursty_load),
        "leak_slow_hidden" | "leak_load_prop" => Gc::random(rng, gc_kind, length, base, &flat_load),
        "leak_mid_onset" | "leak_under_warmup" if rng.chance(0.5) => {
            Gc::random(rng, gc_kind, length, base, &flat_load)
        }
        _ => Gc::None,
    };
    // Healthy shape parameters (drawn for every family so draws stay aligned).
    let amp = base * rng.uniform(0.1, 0.8);
    let tau = length * rng.uniform(0.02, 0.15);
    let knee = length * rng.uniform(0.1, 0.4);
    let steps: Vec<(f64, f64)> = (0..rng.int(1, 3))
        .map(|_| {
            (
                rng.uniform(0.05, 0.9) * length,
                base * rng.uniform(0.03, 0.2),
            )
        })
        .collect();
    let phase = rng.uniform(0.0, std::f64::consts::TAU);
    let t_restart = rng.uniform(0.3, 0.7) * length;
    let ramp = {
        let a = rng.uniform(0.05, 0.3) * length;
        let b2 = a + rng.uniform(0.05, 0.2) * length;
        let c = b2 + rng.uniform(0.0, 0.2) * length;
        let d = (c + rng.uniform(0.05, 0.2) * length).min(0.9 * length);
        [a, b2, c.min(d), d]
    };
    let batch_period = length / rng.uniform(5.0, 30.0);
    let batch_len = batch_period * rng.uniform(0.05, 0.2);
    // Leak shape parameters.
    let t_onset = rng.uniform(0.2, 0.7) * length;
    let stair: Vec<(f64, f64)> = {
        let k = rng.int(6, 20);
        let w: Vec<f64> = (0..k).map(|_| rng.uniform(0.2, 1.0)).collect();
        let s: f64 = w.iter().sum();
        w.iter()
            .map(|wi| (rng.uniform(0.0, 1.0) * length, g.max(0.06) * base * wi / s))
            .collect()
    };
    let ceiling = base * rng.uniform(1.3, 2.5);
    let cycle = length / rng.uniform(2.5, 6.0);
    let slow_rate = rng.uniform(0.0005, 0.0015) / 60.0; // 0.05-0.15 %/min of base
    let cl_total = cum_load(&b, length);

    // Load ramp: 0 before `a`, up to 1 at `b2`, held to `c`, back to 0 at `d`.
    let ramp_f = |x: f64| -> f64 {
        let [a, b2, c, d] = ramp;
        if x < a || x >= d {
            0.0
        } else if x < b2 {
            (x - a) / (b2 - a)
        } else if x < c {
            1.0
        } else {
            (d - x) / (d - c).max(1e-9)
        }
    };
    // Load stairs: 0, 1, 2, 1, 0 on the ramp's corners.
    let stairs_lvl = |x: f64| -> f64 {
        let [a, b2, c, d] = ramp;
        if x < a || x >= d {
            0.0
        } else if x < b2 {
            1.0
        } else if x < c {
            2.0
        } else {
            1.0
        }
    };
    // Daily cycle between 0 and 1.
    let daily = |x: f64| 0.5 * (1.0 + (std::f64::consts::TAU * x / 86_400.0 + phase).sin());
    let healthy = |x: f64| -> f64 {
        match family {
            "warmup_exp" => amp * (1.0 - (-x / tau).exp()),
            "leak_under_warmup" => amp * (1.0 - (-x / tau).exp()),
            "cache_capped" => amp * (x / knee).min(1.0),
            "flatten_log" => {
                let c = tau * 0.02;
                base * 0.06 * (1.0 + x / c).ln() / (1.0 + length / c).ln()
            }
            "flatten_sqrt" => amp * 0.5 * (x / knee).min(1.0).sqrt(),
            "flatten_hyperbolic" => {
                let c = length * 0.02;
                base * 0.1 * (x / (x + c)) * (length + c) / length
            }
            "steps_one_off" => steps.iter().filter(|s| x >= s.0).map(|s| s.1).sum(),
            "load_bursts" | "leak_load_prop" => amp * 0.5 * (load_at(&b, x) - 1.0),
            "load_ramp" => amp * 0.5 * ramp_f(x),
            "load_stairs" => amp * 0.25 * stairs_lvl(x),
            "daily_cycle" => amp * 0.3 * daily(x),
            "batch_spikes" if (x % batch_period) < batch_len => amp,
            "restart_mid" => {
                let s = if x < t_restart { x } else { x - t_restart };
                -base * 0.4 * (-s / (tau * 0.3)).exp()
            }
            "drift_down" => -amp * 0.1 * x / length,
            _ => 0.0,
        }
    };
    let leak_fn = |x: f64| -> f64 {
        match family {
            "leak_linear" | "leak_jvm" | "leak_go" | "leak_node" | "leak_under_warmup"
            | "leak_heavy_noise" => g * base * x / length,
            "leak_slow_hidden" => slow_rate * base * x,
            "leak_mid_onset" => {
                if x < t_onset {
                    0.0
                } else {
                    g * base * (x - t_onset) / (length - t_onset)
                }
            }
            "leak_load_prop" => g * base * cum_load(&b, x) / cl_total,
            "leak_staircase" => stair.iter().filter(|s| x >= s.0).map(|s| s.1).sum(),
            "leak_oom_cycles" => {
                let s = x % cycle;
                (ceiling - base) * s / cycle
            }
            _ => 0.0,
        }
    };
    if family == "leak_mid_onset" {
        onset = Some(t_onset);
    }
    // An OOM-killed process is down for a while before it serves (and is scraped) again:
    // 5 s - 5 min (a restart, then the orchestrator's back-off), at most a tenth of a cycle.
    // Drawn from the load stream so no other family's draws move.
    let t = if family == "leak_oom_cycles" {
        let down = lrng.log_uniform(5.0, 300.0).min(0.1 * cycle);
        t.into_iter()
            .filter(|&x| x < cycle || x % cycle >= down)
            .collect()
    } else {
        t
    };
    let mut v = Vec::with_capacity(t.len());
    let mut leak_part = Vec::with_capacity(t.len());
    for &x in &t {
        let l = leak_fn(x);
        let mut live = base + healthy(x) + l;
        if family == "leak_oom_cycles" {
            // After each restart the process warms up from 60 % of its base within ~2 % of a cycle.
            live -= base * 0.4 * (-(x % cycle) / (cycle * 0.02)).exp();
        }
        let val = gc.value(live, x) + noise.next(rng);
        v.push((val.max(PAGE) / PAGE).round() * PAGE);
        leak_part.push(l);
    }
    Item {
        id,
        family,
        class: Class::Memory,
        leak,
        onset_s: onset,
        base,
        interval_s: interval,
        requests: requests_counter(lrng, &t, |x| match family {
            "load_bursts" | "leak_load_prop" | "gc_bursty" => load_at(&b, x),
            "load_ramp" => 1.0 + LOAD_SWING * ramp_f(x),
            "load_stairs" => 1.0 + LOAD_SWING * 0.5 * stairs_lvl(x),
            "daily_cycle" => 1.0 + LOAD_SWING * daily(x),
            _ => 1.0,
        }),
        series: Series::from_parts("rss_bytes", Unit::Bytes, t, v),
        leak_part,
    }
}

fn resource(rng: &mut Rng, lrng: &mut Rng, id: usize, family: &'static str) -> Item {
    let length = rng.log_uniform(300.0, 86_400.0);
    let (unit, name) = *rng.pick(&[
        (Unit::Fds, "fds"),
        (Unit::Sockets, "tcp_established"),
        (Unit::Threads, "threads"),
    ]);
    let base = rng.log_uniform(5.0, 500.0).round();
    let (t, interval) = grid(rng, length);
    let leak = RESOURCE_LEAKS.contains(&family);
    // Count leaks grow 4 %-200 % of base and at least 6 units.
    let growth = (base * rng.log_uniform(0.04, 2.0)).max(6.0);
    let b = bursts(rng, length);
    let pool = base * rng.uniform(0.2, 1.0);
    let tau = length * rng.uniform(0.02, 0.15);
    let batch_period = length / rng.uniform(5.0, 30.0);
    let batch_len = batch_period * rng.uniform(0.05, 0.2);
    let t_onset = rng.uniform(0.2, 0.7) * length;
    let jitter = *rng.pick(&[0.0, 0.5, 1.0, 2.0]);
    let cl_total = cum_load(&b, length);
    let mut v = Vec::with_capacity(t.len());
    let mut leak_part = Vec::with_capacity(t.len());
    for &x in &t {
        let healthy = match family {
            "pool_load" | "count_leak_load" => pool * 0.3 * (load_at(&b, x) - 1.0),
            "pool_warm" => pool * (1.0 - (-x / tau).exp()),
            "pool_batches" if (x % batch_period) < batch_len => pool,
            _ => 0.0,
        };
        let l = match family {
            "count_leak_linear" => (growth * x / length).floor(),
            "count_leak_mid" if x >= t_onset => {
                (growth * (x - t_onset) / (length - t_onset)).floor()
            }
            "count_leak_load" => (growth * cum_load(&b, x) / cl_total).floor(),
            _ => 0.0,
        };
        let val = base + healthy + l + jitter * rng.normal();
        v.push(val.round().max(0.0));
        leak_part.push(l);
    }
    Item {
        id,
        family,
        class: Class::Resource,
        leak,
        onset_s: match (leak, family) {
            (false, _) => None,
            (true, "count_leak_mid") => Some(t_onset),
            _ => Some(0.0),
        },
        base,
        interval_s: interval,
        requests: requests_counter(lrng, &t, |x| match family {
            "pool_load" | "count_leak_load" => load_at(&b, x),
            _ => 1.0,
        }),
        series: Series::from_parts(name, unit, t, v),
        leak_part,
    }
}
