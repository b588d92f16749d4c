//! Intended send times of the open model: constant spacing or Poisson arrivals over stages.
//!
//! Stages are first flattened into [`Segment`]s whose rate changes linearly from `r0` to `r1`
//! (constant when equal, idle when both are 0). The expected number of arrivals up to time `t`
//! of a segment is `N(t) = r0·t + (r1 - r0)·t² / (2·D)`. Constant arrivals put the k-th request
//! at `N⁻¹(k)`, so a 5,000 req/s stage of 30 s schedules exactly 150,000 requests. Poisson
//! arrivals use time rescaling: the cumulative hazard grows by an Exp(1) draw per arrival and
//! the send time is `N⁻¹(hazard)`, which is exact for a rate that varies over time
//! (Cox & Lewis 1966, ch. 4).
//!
//! Not here: sleeping until those times and sending (see `driver`).

/// A piece of the schedule with a linearly changing rate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Segment {
    /// Start, seconds since the load began.
    pub(crate) start: f64,
    /// Length in seconds.
    pub(crate) len: f64,
    /// Rate at the start, requests/s.
    pub(crate) r0: f64,
    /// Rate at the end, requests/s.
    pub(crate) r1: f64,
    /// Phase name written to `load.csv` (`load`, `idle`, `ramp`, …).
    pub(crate) phase: &'static str,
}

impl Segment {
    /// Expected arrivals in the first `t` seconds of the segment.
    fn cumulative(&self, t: f64) -> f64 {
        self.r0 * t + (self.r1 - self.r0) * t * t / (2.0 * self.len)
    }

    /// Time offset within the segment at which `cumulative` reaches `y`.
    fn inverse(&self, y: f64) -> f64 {
        let a = (self.r1 - self.r0) / self.len;
        if a.abs() < 1e-12 {
            return y / self.r0;
        }
        // a·t²/2 + r0·t - y = 0, the root that is >= 0 for the rates we accept (all >= 0).
        let disc = (self.r0 * self.r0 + 2.0 * a * y).max(0.0);
        (disc.sqrt() - self.r0) / a
    }

    /// Expected arrivals over the whole segment.
    pub(crate) fn expected(&self) -> f64 {
        self.cumulative(self.len)
    }
}

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// Evenly spaced at the current rate (wrk2, vegeta).
    #[default]
    Constant,
    /// A Poisson process with the current rate: exponential gaps, as independent users make.
    Poisson,
}

impl Arrivals {
    /// `constant` or `poisson`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arrivals::Constant => "constant",
            Arrivals::Poisson => "poisson",
        }
    }
}

/// xorshift64* (Vigna 2016): tiny, fast and good enough for arrival gaps and `{{random}}`.
#[derive(Debug, Clone)]
pub(crate) struct XorShift(u64);

impl XorShift {
    pub(crate) fn new(seed: u64) -> XorShift {
        // Zero is the one state xorshift never leaves; splitmix-style mixing avoids it and
        // decorrelates nearby seeds (worker 0, 1, 2…).
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        XorShift((z ^ (z >> 31)) | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1]: the top 53 bits, shifted away from 0 so `ln` is finite.
    fn unit_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// An Exp(1) draw by inversion.
    pub(crate) fn exp1(&mut self) -> f64 {
        -self.unit_open0().ln()
    }
}

/// Generates intended send times in order, segment by segment.
#[derive(Debug)]
pub(crate) struct Schedule {
    segments: Vec<Segment>,
    arrivals: Arrivals,
    rng: XorShift,
    seg: usize,
    /// Constant: index of the next arrival in the segment. Poisson: unused.
    k: u64,
    /// Poisson: cumulative hazard of the next arrival within the segment.
    hazard: f64,
    /// Next time, already generated (peeked).
    peeked: Option<f64>,
}

impl Schedule {
    pub(crate) fn new(segments: Vec<Segment>, arrivals: Arrivals, seed: u64) -> Schedule {
        let mut s = Schedule {
            segments,
            arrivals,
            rng: XorShift::new(seed),
            seg: 0,
            k: 0,
            hazard: 0.0,
            peeked: None,
        };
        s.hazard = s.first_hazard();
        s
    }

    fn first_hazard(&mut self) -> f64 {
        match self.arrivals {
            Arrivals::Constant => 0.0,
            Arrivals::Poisson => self.rng.exp1(),
        }
    }

    /// The next intended send time (seconds since start) without consuming it.
    pub(crate) fn peek(&mut self) -> Option<f64> {
        if self.peeked.is_none() {
            self.peeked = self.generate();
        }
        self.peeked
    }

    /// The next intended send time, consumed.
    pub(crate) fn next_time(&mut self) -> Option<f64> {
        let t = self.peek();
        self.peeked = None;
        t
    }

    fn generate(&mut self) -> Option<f64> {
        loop {
            let seg = self.segments.get(self.seg)?;
            let y = match self.arrivals {
                Arrivals::Constant => self.k as f64,
                Arrivals::Poisson => self.hazard,
            };
            if seg.len > 0.0 && (seg.r0 > 0.0 || seg.r1 > 0.0) && y < seg.expected() - 1e-9 {
                let off = seg.inverse(y);
                if off < seg.len {
                    let t = seg.start + off;
                    match self.arrivals {
                        Arrivals::Constant => self.k += 1,
                        Arrivals::Poisson => self.hazard += self.rng.exp1(),
                    }
                    return Some(t);
                }
            }
            // Segment exhausted: the next one starts its own count. For Poisson the leftover
            // hazard carries over (memorylessness makes that equivalent to a fresh draw).
            if self.arrivals == Arrivals::Poisson {
                self.hazard = (self.hazard - seg.expected()).max(0.0);
            } else {
                self.k = 0;
            }
            self.seg += 1;
        }
    }
}

/// The phase name at time `t` (the last segment's name after the end).
pub(crate) fn phase_at(segments: &[Segment], t: f64) -> &'static str {
    segments
        .iter()
        .find(|s| t >= s.start && t < s.start + s.len)
        .or(segments.last())
        .map_or("load", |s| s.phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, len: f64, r0: f64, r1: f64) -> Segment {
        Segment {
            start,
            len,
            r0,
            r1,
            phase: "load",
        }
    }

    fn count(mut s: Schedule) -> Vec<f64> {
        std::iter::from_fn(|| s.next_time()).collect()
    }

    #[test]
    fn constant_rate_schedules_exact_count_evenly() {
        let times = count(Schedule::new(
            vec![seg(0.0, 30.0, 5000.0, 5000.0)],
            Arrivals::Constant,
            1,
        ));
        assert_eq!(times.len(), 150_000);
        assert!((times[1] - times[0] - 0.0002).abs() < 1e-12);
        assert!(times.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn ramp_schedules_the_integral_of_the_rate() {
        // 0 -> 100 req/s over 10 s: 500 requests, three quarters of them in the second half.
        let times = count(Schedule::new(
            vec![seg(0.0, 10.0, 0.0, 100.0)],
            Arrivals::Constant,
            1,
        ));
        assert_eq!(times.len(), 500);
        let late = times.iter().filter(|&&t| t >= 5.0).count();
        assert_eq!(late, 375);
    }

    #[test]
    fn idle_segments_schedule_nothing_and_shift_later_ones() {
        let s = vec![
            seg(0.0, 1.0, 10.0, 10.0),
            seg(1.0, 2.0, 0.0, 0.0),
            seg(3.0, 1.0, 10.0, 10.0),
        ];
        let times = count(Schedule::new(s, Arrivals::Constant, 1));
        assert_eq!(times.len(), 20);
        assert!(times.iter().all(|&t| !(1.0..3.0).contains(&t)));
        assert!((times[10] - 3.0).abs() < 1e-12);
    }

    #[test]
    fn poisson_count_and_gaps_match_the_rate() {
        let times = count(Schedule::new(
            vec![seg(0.0, 100.0, 1000.0, 1000.0)],
            Arrivals::Poisson,
            42,
        ));
        // Poisson(100,000): sd ≈ 316, so ±1,600 is a 5-sigma band.
        assert!(
            (times.len() as i64 - 100_000).abs() < 1_600,
            "{}",
            times.len()
        );
        // Exponential gaps: the coefficient of variation is 1 (constant spacing has 0).
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.03, "cv {cv}");
    }

    #[test]
    fn exp_draws_have_mean_one() {
        let mut r = XorShift::new(7);
        let n = 200_000;
        let mean = (0..n).map(|_| r.exp1()).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
    }
}
