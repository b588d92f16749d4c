//! Go pprof profiles (`profile.proto`, gzip or plain): heap and goroutine profiles, diffed per
//! function with the same leak / warm-up rules as V8 snapshots (see `diff`).
//!
//! Heap profiles are compared on `inuse_space` (and `inuse_objects` as the count), attributed to
//! the allocating function: the first frame outside the Go runtime. Sampled values carry an
//! uncertainty: with sampling period `P` bytes, an estimate of `B` bytes rests on about `B / P`
//! samples, so its standard error is about `sqrt(B * P)` (Poisson). A change counts as growth
//! only when it exceeds twice the combined standard error of both estimates and 16 KiB.
//! Goroutine profiles are compared by stack: the first non-runtime frame plus the runtime
//! function it is blocked in (`main.worker blocked in runtime.chanrecv1`).

#[path = "generated/perftools.profiles.rs"]
pub mod profiles;

use std::io::Read;
use std::path::{Path, PathBuf};

use prost::Message;
use rustc_hash::FxHashMap;

use crate::diff::{
    DiffOptions, DiffReport, Finding, GroupClass, GroupSize, MIN_GROWTH_BYTES, SCHEMA_VERSION,
    SnapshotInfo, Verdict,
};
use crate::error::HeapError;

/// What a profile measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// Heap profile with `inuse_space`/`inuse_objects`.
    Heap,
    /// Goroutine profile (`goroutine`/`count`).
    Goroutine,
}

/// One group of a profile: per-function (heap) or per blocking site (goroutines).
#[derive(Debug, Clone, Default)]
struct Group {
    count: u64,
    bytes: u64,
    stack: String,
    location: Option<String>,
}

pub(crate) struct Summary {
    kind: ProfileKind,
    period: i64,
    groups: FxHashMap<String, Group>,
    info: SnapshotInfo,
}

/// Decodes a profile from a (decompressed) reader.
pub fn decode(mut r: impl Read, path: &Path) -> Result<profiles::Profile, HeapError> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).map_err(|e| HeapError::Malformed {
        path: path.to_owned(),
        offset: buf.len() as u64,
        what: format!("bad gzip stream ({e}); truncated file?"),
    })?;
    profiles::Profile::decode(buf.as_slice()).map_err(|e| HeapError::Malformed {
        path: path.to_owned(),
        offset: 0,
        what: format!("not a valid profile.proto message ({e})"),
    })
}

pub(crate) fn summarise(p: &profiles::Profile, path: &Path) -> Result<Summary, HeapError> {
    let s = |i: i64| {
        p.string_table
            .get(usize::try_from(i).unwrap_or(usize::MAX))
            .map_or("", String::as_str)
    };
    let types: Vec<&str> = p.sample_type.iter().map(|t| s(t.r#type)).collect();
    let bad = |what: String| HeapError::Format {
        path: path.to_owned(),
        what,
    };
    let (kind, count_i, bytes_i) = if let (Some(o), Some(b)) = (
        types.iter().position(|t| *t == "inuse_objects"),
        types.iter().position(|t| *t == "inuse_space"),
    ) {
        (ProfileKind::Heap, o, Some(b))
    } else if let Some(g) = types.iter().position(|t| *t == "goroutine") {
        (ProfileKind::Goroutine, g, None)
    } else {
        return Err(bad(format!(
            "pprof profile with sample types {types:?}: need a heap (inuse_space) or goroutine profile"
        )));
    };
    let funcs: FxHashMap<u64, &profiles::Function> = p.function.iter().map(|f| (f.id, f)).collect();
    let locs: FxHashMap<u64, &profiles::Location> = p.location.iter().map(|l| (l.id, l)).collect();
    let mut groups: FxHashMap<String, Group> = FxHashMap::default();
    for sample in &p.sample {
        // Frames leaf first: (function name, file:line).
        let mut frames: Vec<(&str, String)> = Vec::new();
        for id in &sample.location_id {
            let Some(l) = locs.get(id) else {
                return Err(HeapError::Malformed {
                    path: path.to_owned(),
                    offset: 0,
                    what: format!("sample refers to missing location {id}"),
                });
            };
            for line in &l.line {
                if let Some(f) = funcs.get(&line.function_id) {
                    frames.push((s(f.name), format!("{}:{}", s(f.filename), line.line)));
                }
            }
        }
        let owner = frames.iter().position(|(f, _)| !is_runtime(f));
        let key = match (kind, owner) {
            (_, None) => frames
                .first()
                .map_or("(unknown)".to_owned(), |f| f.0.to_owned()),
            (ProfileKind::Heap, Some(i)) => frames[i].0.to_owned(),
            (ProfileKind::Goroutine, Some(0)) => frames[0].0.to_owned(),
            (ProfileKind::Goroutine, Some(i)) => {
                let blocked = frames[..i]
                    .iter()
                    .rev()
                    .find(|(f, _)| *f != "runtime.gopark" && *f != "runtime.goparkunlock")
                    .map_or(frames[0].0, |f| f.0);
                format!("{} blocked in {blocked}", frames[i].0)
            }
        };
        let v = |i: usize| sample.value.get(i).copied().unwrap_or(0).max(0) as u64;
        let g = groups.entry(key).or_default();
        g.count += v(count_i);
        g.bytes += bytes_i.map_or(0, v);
        if g.stack.is_empty() {
            g.stack = frames.iter().map(|f| f.0).collect::<Vec<_>>().join(" <- ");
            g.location = owner.map(|i| frames[i].1.clone());
        }
    }
    let total: u64 = groups
        .values()
        .map(|g| {
            if kind == ProfileKind::Heap {
                g.bytes
            } else {
                g.count
            }
        })
        .sum();
    Ok(Summary {
        kind,
        period: p.period,
        groups,
        info: SnapshotInfo {
            path: path.to_owned(),
            nodes: p.sample.len() as u64,
            edges: 0,
            reachable_bytes: total,
        },
    })
}

fn is_runtime(f: &str) -> bool {
    f.starts_with("runtime.")
        || f.starts_with("internal/")
        || f.starts_with("sync.")
        || f.starts_with("time.Sleep")
        || f.starts_with("reflect.")
}

/// Compares pprof profiles of one process; see the module docs.
pub fn diff(paths: &[PathBuf], opts: &DiffOptions) -> Result<DiffReport, HeapError> {
    let mut sums = Vec::new();
    for p in paths {
        let (fmt, reader) = crate::v8::open(p)?;
        if fmt != crate::DumpFormat::Pprof {
            return Err(HeapError::Incompatible(format!(
                "{} is not a pprof profile like {}",
                p.display(),
                paths[0].display()
            )));
        }
        sums.push(summarise(&decode(reader, p)?, p)?);
    }
    if sums.iter().any(|s| s.kind != sums[0].kind) {
        return Err(HeapError::Incompatible(
            "mixing heap and goroutine profiles".into(),
        ));
    }
    let kind = sums[0].kind;
    let intervals = paths.len() - 1;
    let mut keys: Vec<&String> = sums.iter().flat_map(|s| s.groups.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut findings = Vec::new();
    for key in keys {
        let gs: Vec<Group> = sums
            .iter()
            .map(|s| s.groups.get(key).cloned().unwrap_or_default())
            .collect();
        let sizes: Vec<GroupSize> = gs
            .iter()
            .map(|g| GroupSize {
                count: g.count,
                bytes: g.bytes,
            })
            .collect();
        let bytes_delta: Vec<i64> = sizes
            .windows(2)
            .map(|w| w[1].bytes as i64 - w[0].bytes as i64)
            .collect();
        let count_delta: Vec<i64> = sizes
            .windows(2)
            .map(|w| w[1].count as i64 - w[0].count as i64)
            .collect();
        let grows: Vec<bool> = (0..intervals)
            .map(|i| match kind {
                ProfileKind::Goroutine => count_delta[i] > 0,
                ProfileKind::Heap => {
                    let period = sums[i].period.max(1) as f64;
                    // Two standard errors of the difference of two Poisson-sampled estimates.
                    let se = ((sizes[i].bytes as f64 + sizes[i + 1].bytes as f64) * period).sqrt();
                    bytes_delta[i] > MIN_GROWTH_BYTES && bytes_delta[i] as f64 > 2.0 * se
                }
            })
            .collect();
        let Some(class) = GroupClass::from_growth(&grows) else {
            continue;
        };
        let last = gs
            .iter()
            .rev()
            .find(|g| !g.stack.is_empty())
            .cloned()
            .unwrap_or_default();
        let hint = match (kind, class) {
            (_, GroupClass::WarmUp) => "grew only in the first interval: a cache filling, a table built lazily or a pool; not a leak".to_owned(),
            (ProfileKind::Goroutine, _) if key.contains("chan") || key.contains("select") => {
                "goroutine blocked on a channel: each request starts a goroutine that waits on a channel nobody sends to or closes; close the channel, add a context cancel or a timeout".to_owned()
            }
            (ProfileKind::Goroutine, _) => "goroutines pile up here: make sure each one can finish (context cancellation, timeouts)".to_owned(),
            (ProfileKind::Heap, _) if key == "runtime.malg" => "goroutine descriptors and stacks pile up: goroutines are started and never finish; diff the goroutine profiles (/debug/pprof/goroutine) to see where they block".to_owned(),
            (ProfileKind::Heap, _) => "memory allocated here stays in use: look for a map or slice it is appended to that is never pruned (static map never pruned, unbounded cache)".to_owned(),
        };
        let unc = |s: &Summary, b: u64| ((b as f64) * s.period.max(1) as f64).sqrt();
        let note = if kind == ProfileKind::Heap {
            let last_s = &sums[sums.len() - 1];
            format!(
                "; sampled every {} bytes: ±{:.0} KiB (1 s.e.) on the last value",
                last_s.period,
                unc(last_s, sizes[sizes.len() - 1].bytes) / 1024.0
            )
        } else {
            String::new()
        };
        findings.push(Finding {
            type_name: key.clone(),
            class,
            domain_owner: true,
            sizes,
            bytes_delta,
            count_delta,
            sample_retained: 0,
            retainer_path: Some(format!("{}{note}", last.stack)),
            path_steps: Vec::new(),
            grows_via: None,
            location: last.location,
            hint,
        });
    }
    let rank = |c: GroupClass| match c {
        GroupClass::Leak => 0,
        GroupClass::Growing => 1,
        GroupClass::Intermittent => 2,
        GroupClass::WarmUp => 3,
    };
    let weight = |f: &Finding| -> i64 {
        if kind == ProfileKind::Heap {
            f.bytes_delta.iter().sum()
        } else {
            f.count_delta.iter().sum()
        }
    };
    findings.sort_by(|a, b| {
        rank(a.class)
            .cmp(&rank(b.class))
            .then(weight(b).cmp(&weight(a)))
            .then(a.type_name.cmp(&b.type_name))
    });
    findings.truncate(opts.top);
    let (verdict, caveat) = if findings.iter().any(|f| f.class == GroupClass::Leak) {
        (Verdict::Leak, None)
    } else if findings.iter().any(|f| f.class == GroupClass::Growing) {
        (Verdict::Inconclusive, Some("with two profiles a leak cannot be told apart from warm-up: take a third profile after more of the same load".to_owned()))
    } else {
        (Verdict::NoLeak, None)
    };
    Ok(DiffReport {
        schema_version: SCHEMA_VERSION,
        snapshots: sums.into_iter().map(|s| s.info).collect(),
        findings,
        verdict,
        caveat,
    })
}
