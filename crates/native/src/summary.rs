//! [`HeapReport`]s -> the run report's [`NativeHeapRun`], and the "allocator not interposed"
//! check.
//!
//! The check compares two views of the same memory: the growth of the process tree's anonymous
//! resident memory (`anon_bytes`, sampled from `/proc`) and the growth of the live bytes the
//! agent saw through the hooked allocator. Memory the hooks do not see — a statically linked
//! jemalloc/mimalloc, a custom allocator on raw `mmap`, an arena that never calls `malloc` —
//! shows up only in the first. When anonymous memory grew by at least
//! [`MIN_ANON_GROWTH`] and the hooked live bytes grew by less than [`MAX_HOOKED_SHARE`] of
//! that, the heap report would miss most of the growth, so it says so.

use crate::analyze::{HeapReport, SiteReport};
use crate::load::Profile;
use leakhound_core::native_heap::{
    MAX_LIVE_AT_EXIT, NativeHeapFrame, NativeHeapProcess, NativeHeapRun, NativeHeapSite,
};
use leakhound_core::{Series, Verdict, format_bytes};

/// Smallest growth of anonymous memory that is checked: 32 MiB. Below that, allocator
/// bookkeeping, thread stacks and page-cache-like effects can explain the gap.
pub const MIN_ANON_GROWTH: f64 = 32.0 * 1024.0 * 1024.0;

/// Largest share of the anonymous growth the hooked live bytes may explain before the
/// warning is given: 25 %. glibc keeps freed memory around, so live bytes can sit well below
/// anonymous memory with the allocator correctly hooked; a quarter leaves room for that.
pub const MAX_HOOKED_SHARE: f64 = 0.25;

/// The warning text's fixed part (tests and users grep for it).
pub const NOT_INTERPOSED: &str = "allocator not interposed (statically linked jemalloc/mimalloc?)";

/// Sum of live bytes over every stack, per snapshot.
fn live_totals(p: &Profile) -> Vec<u64> {
    p.snapshots
        .iter()
        .map(|s| s.values().map(|c| c.live_bytes).sum())
        .collect()
}

/// Growth of the hooked live bytes: for each process, its peak total minus its first total,
/// summed over processes.
pub fn hooked_growth(profiles: &[Profile]) -> f64 {
    profiles
        .iter()
        .map(|p| {
            let t = live_totals(p);
            let first = t.first().copied().unwrap_or(0);
            t.iter().copied().max().unwrap_or(0).saturating_sub(first) as f64
        })
        .sum()
}

/// Growth of anonymous memory: its peak minus its first sample.
pub fn anon_growth(anon: &Series) -> f64 {
    let first = anon.v.first().copied().unwrap_or(0.0);
    anon.v.iter().copied().fold(first, f64::max) - first
}

/// The warning, when `anon_growth` is large and `hooked_growth` explains little of it.
pub fn interposition_warning(anon_growth: f64, hooked_growth: f64) -> Option<String> {
    (anon_growth >= MIN_ANON_GROWTH && hooked_growth < MAX_HOOKED_SHARE * anon_growth).then(|| {
        format!(
            "{NOT_INTERPOSED}: anonymous memory grew by {} but the hooked allocator's live bytes by only {}; \
             memory allocated outside malloc/new (a statically linked allocator, raw mmap) is not in this heap report",
            format_bytes(anon_growth),
            format_bytes(hooked_growth.max(0.0))
        )
    })
}

fn frames(s: &SiteReport) -> Vec<NativeHeapFrame> {
    s.call_stack
        .iter()
        .map(|f| NativeHeapFrame {
            function: f.function.clone(),
            file: f.file.clone(),
            line: f.line,
            inlined: f.inlined,
            module: f.module.clone(),
        })
        .collect()
}

/// One site for the run report; `timeline` adds the live-bytes series.
pub fn site(s: &SiteReport, timeline: bool) -> NativeHeapSite {
    NativeHeapSite {
        site: s.site.clone(),
        verdict: s.verdict.verdict,
        reason: s.verdict.reason.clone(),
        rate_bytes_per_s: s.verdict.rate_per_s,
        rate_ci95: s.verdict.rate_ci95,
        live_bytes: s.live_bytes,
        live_blocks: s.live_blocks,
        total_bytes: s.total_bytes,
        total_allocs: s.total_allocs,
        live_bytes_ci95: s.live_bytes_ci95,
        miss_probability: s.miss_probability,
        stack: frames(s),
        hint: s.hint.clone(),
        timeline: timeline.then(|| s.series.clone()),
        sparkline: timeline.then(|| crate::render::sparkline(&s.series.v)),
    }
}

/// One process for the run report.
pub fn process(r: &HeapReport) -> NativeHeapProcess {
    NativeHeapProcess {
        pid: r.pid,
        mode: r.mode.to_owned(),
        sample_mean_bytes: r.sample_mean_bytes,
        group_by: r.group_by.clone(),
        snapshots: r.snapshots,
        duration_s: r.duration_s,
        complete: r.complete,
        dropped: r.dropped,
        verdict: r.verdict(),
        suspects: r.suspects.iter().map(|s| site(s, true)).collect(),
        live_at_exit: r
            .live_at_exit
            .iter()
            .take(MAX_LIVE_AT_EXIT)
            .map(|s| site(s, false))
            .collect(),
        live_at_exit_sites: r.live_at_exit.len(),
    }
}

/// The run report's heap section.
pub fn run_summary(reports: &[HeapReport], warnings: Vec<String>) -> NativeHeapRun {
    NativeHeapRun {
        verdict: Verdict::combine(reports.iter().map(HeapReport::verdict)),
        processes: reports.iter().map(process).collect(),
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: f64 = 1024.0 * 1024.0;

    #[test]
    fn warns_only_when_anon_grows_a_lot_and_hooks_see_little() {
        let w = interposition_warning(64.0 * MIB, 0.0).expect("warned");
        assert!(w.starts_with(NOT_INTERPOSED), "{w}");
        assert!(w.contains("64.0 MiB"), "{w}");
        // Hooked growth explains the anonymous growth: fine.
        assert!(interposition_warning(64.0 * MIB, 40.0 * MIB).is_none());
        // Small anonymous growth: not judged.
        assert!(interposition_warning(8.0 * MIB, 0.0).is_none());
    }

    #[test]
    fn anon_growth_is_peak_minus_first() {
        let mut s = Series::new("anon_bytes", leakhound_core::Unit::Bytes);
        for (t, v) in [(0.0, 10.0), (1.0, 50.0), (2.0, 30.0)] {
            s.push(t, v);
        }
        assert_eq!(anon_growth(&s), 40.0);
    }
}
