//! A stronger leak is never less of a leak: each leaking series judged again with its leak
//! scaled up, and every verdict that was a leak and no longer is listed.
//!
//! A leak that grows twice as fast under the same garbage collector, pool or noise is at least
//! as plain to see. A detector whose rules compare the leak with the rest of the series (a
//! pool's swing against its floor's rise, a step against the noise) can break that: the
//! stronger leak tips a ratio and another rule reads it as a warm-up or a one-off step. The
//! check needs each series' own leak (`Item::leak_part`: our generator's, or a `leak_part`
//! column in the files); series without one are skipped. Not for recall or false alarms (see
//! `score`).

use leakhound_core::{Series, SeriesVerdict, Verdict};
use leakhound_detect::DetectOptions;

use crate::families::{Class, Item};
use crate::score::par_map;

/// One leaking series judged as it is and with its leak scaled.
#[derive(Debug, Clone)]
pub struct Pair {
    /// Position of the series in the items judged (ids repeat when corpora are pooled).
    pub index: usize,
    /// Index of the series in its corpus.
    pub id: usize,
    /// Its family.
    pub family: &'static str,
    /// Memory or resource.
    pub class: Class,
    /// End of run: as it is, and scaled.
    pub end: (SeriesVerdict, SeriesVerdict),
    /// Online: as it is, and scaled.
    pub online: (SeriesVerdict, SeriesVerdict),
}

impl Pair {
    /// The end-of-run verdict was a leak and the scaled one is not.
    pub fn end_lost(&self) -> bool {
        lost(&self.end)
    }

    /// The online mode alarmed and does not with the scaled leak.
    pub fn online_lost(&self) -> bool {
        lost(&self.online)
    }
}

fn lost((a, b): &(SeriesVerdict, SeriesVerdict)) -> bool {
    a.verdict == Verdict::Leak && b.verdict != Verdict::Leak
}

/// `it`'s series with its leak scaled by `factor`: every sample plus `(factor − 1)` times the
/// leak's part there, rounded to whole units for counts (a count stays a count). `None`
/// without a leak part at every sample.
pub fn scaled(it: &Item, factor: f64) -> Option<Series> {
    if !it.leak || it.leak_part.len() != it.series.len() {
        return None;
    }
    let whole = it.class == Class::Resource;
    let v = it
        .series
        .v
        .iter()
        .zip(&it.leak_part)
        .map(|(&v, &l)| {
            let x = v + (factor - 1.0) * l;
            if whole { x.round() } else { x }
        })
        .collect();
    Some(Series::from_parts(
        &it.series.name,
        it.series.unit,
        it.series.t.clone(),
        v,
    ))
}

/// Every leaking series with a leak part, judged in both modes as it is and with its leak
/// scaled by `factor`, on `threads` threads; `with_load`: with each series' request counter
/// (`Item::requests`, the same for both) as the load covariate.
pub fn run(
    items: &[Item],
    factor: f64,
    opts: &DetectOptions,
    threads: usize,
    with_load: bool,
) -> Vec<Pair> {
    let leaks: Vec<(usize, &Item, Series)> = items
        .iter()
        .enumerate()
        .filter_map(|(k, it)| Some((k, it, scaled(it, factor)?)))
        .collect();
    let end = |s: &Series, it: &Item| {
        if with_load {
            leakhound_detect::analyze_with_load(s, &it.requests, opts)
        } else {
            leakhound_detect::analyze(s, opts)
        }
    };
    let online = |s: &Series, it: &Item| {
        if with_load {
            leakhound_detect::analyze_online_with_load(s, &it.requests, opts)
        } else {
            leakhound_detect::analyze_online(s, opts)
        }
    };
    par_map(&leaks, threads, |(index, it, s)| Pair {
        index: *index,
        id: it.id,
        family: it.family,
        class: it.class,
        end: (end(&it.series, it), end(s, it)),
        online: (online(&it.series, it), online(s, it)),
    })
}

/// Per mode and class: leaks judged, leaks at ×1, and of those the ones lost when scaled.
pub fn table(pairs: &[Pair], factor: f64) -> String {
    let mut s = format!(
        "{:<11} {:<10} {:>6} {:>9} {:>12}\n",
        "mode",
        "class",
        "leaks",
        "leak ×1",
        format!("lost ×{factor}")
    );
    for (mode, pick) in [
        (
            "end-of-run",
            (|p: &Pair| &p.end) as fn(&Pair) -> &(SeriesVerdict, SeriesVerdict),
        ),
        ("online", |p: &Pair| &p.online),
    ] {
        for class in [Class::Memory, Class::Resource] {
            let of: Vec<&Pair> = pairs.iter().filter(|p| p.class == class).collect();
            let found = of
                .iter()
                .filter(|p| pick(p).0.verdict == Verdict::Leak)
                .count();
            let lost = of.iter().filter(|p| lost(pick(p))).count();
            s += &format!(
                "{:<11} {:<10} {:>6} {:>9} {:>12}\n",
                mode,
                class.as_str(),
                of.len(),
                found,
                lost
            );
        }
    }
    s
}
