//! Compare two or more snapshots of one process and decide which types leak.
//!
//! Every reachable node is attributed to its *accumulation point*: the nearest dominator
//! (itself included) that is an instance of a domain type (see [`HeapGraph::is_domain`]), so
//! arrays, strings and closures held by a `RequestContext` count as `RequestContext`. Nodes
//! with no such dominator are counted under their own class (`(string)`, `Array`, …).
//! A group *grows* in an interval when its bytes grow by more than [`MIN_GROWTH_BYTES`].
//! With 3+ snapshots a group is a leak only if it grows in every interval; growth only in the
//! first interval is warm-up (caches filling, tables built lazily, ring buffers), never a leak.
//! With 2 snapshots growth cannot be told apart from warm-up, and the verdict is inconclusive.

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::dominators::{self, NONE};
use crate::error::HeapError;
use crate::graph::{HeapGraph, NodeKind, PathStep, format_path};
use crate::retained;
use crate::v8::ReadOptions;

/// Version of the JSON document produced from [`DiffReport`].
pub const SCHEMA_VERSION: u32 = 1;

/// Growth below this many bytes per interval is noise: V8 allocates and frees small internal
/// objects (feedback vectors, ICs) between snapshots even in an idle process; 16 KiB is above
/// what we saw idle Node 20 services drift by between two forced-GC snapshots.
pub const MIN_GROWTH_BYTES: i64 = 16 * 1024;

/// Options of a diff.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// How many findings to keep (leaks first).
    pub top: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self { top: 10 }
    }
}

/// How a group behaved over the intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupClass {
    /// Grew in every interval (3+ snapshots).
    Leak,
    /// Grew in the only interval (2 snapshots): leak or warm-up cannot be told apart.
    Growing,
    /// Grew in the first interval only: a cache filling, a table built lazily, a ring buffer.
    WarmUp,
    /// Grew in some later intervals but not all: churn, not a monotone leak.
    Intermittent,
}

impl GroupClass {
    /// Classify a group by whether it grew in each interval between consecutive snapshots.
    /// This is the rule of the whole diff: a leak grows in *every* interval; growth in the
    /// first interval only is warm-up; `None` when it never grew (nothing to report).
    pub fn from_growth(grows: &[bool]) -> Option<GroupClass> {
        match grows {
            [] => None,
            [only] => only.then_some(GroupClass::Growing),
            _ if grows.iter().all(|&g| g) => Some(GroupClass::Leak),
            [first, rest @ ..] if *first && rest.iter().all(|&g| !g) => Some(GroupClass::WarmUp),
            _ if grows.iter().any(|&g| g) => Some(GroupClass::Intermittent),
            _ => None,
        }
    }
}

/// Size of one group in one snapshot.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct GroupSize {
    /// Instances of the owning type (or nodes, for groups without a domain owner).
    pub count: u64,
    /// Bytes attributed to the group (shallow sizes of everything it owns).
    pub bytes: u64,
}

impl GroupSize {
    /// Change per interval of a group's sizes over consecutive snapshots: (bytes, count).
    pub(crate) fn deltas(sizes: &[GroupSize]) -> (Vec<i64>, Vec<i64>) {
        sizes
            .windows(2)
            .map(|w| {
                (
                    w[1].bytes as i64 - w[0].bytes as i64,
                    w[1].count as i64 - w[0].count as i64,
                )
            })
            .unzip()
    }
}

/// One reported group.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The owning type (accumulation point) or class.
    pub type_name: String,
    /// Classification.
    pub class: GroupClass,
    /// Whether the group has a domain owner (else it is a generic class like `(string)`).
    pub domain_owner: bool,
    /// Size per snapshot.
    pub sizes: Vec<GroupSize>,
    /// Bytes delta per interval.
    pub bytes_delta: Vec<i64>,
    /// Count delta per interval.
    pub count_delta: Vec<i64>,
    /// Retained size of the representative instance in the last snapshot.
    pub sample_retained: u64,
    /// Retainer path of a representative new instance in the last snapshot.
    pub retainer_path: Option<String>,
    /// The same path as steps.
    pub path_steps: Vec<PathStep>,
    /// The representative's outgoing edge that retains the most (where its growth sits).
    pub grows_via: Option<String>,
    /// Source position of the type's constructor (V8 `locations`).
    pub location: Option<String>,
    /// What the path suggests.
    pub hint: String,
    /// Go pprof only: the growth broken down by call stack, the growing stacks first (at most
    /// [`crate::pprof::MAX_STACKS_PER_FINDING`]); empty (and left out of JSON) otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stacks: Vec<crate::pprof::StackGrowth>,
    /// Go pprof only: how many distinct call stacks the finding has in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stacks_total: Option<u64>,
}

/// Result of comparing snapshots.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The snapshots, in order.
    pub snapshots: Vec<SnapshotInfo>,
    /// Findings, leaks first, then by growth.
    pub findings: Vec<Finding>,
    /// Overall verdict.
    pub verdict: Verdict,
    /// What the verdict could not tell (2 snapshots).
    pub caveat: Option<String>,
}

/// Facts about one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    /// File.
    pub path: PathBuf,
    /// Nodes in the file.
    pub nodes: u64,
    /// Edges in the file.
    pub edges: u64,
    /// Bytes reachable from the root (pprof heap profiles: in-use bytes; 0 for goroutine
    /// profiles).
    pub reachable_bytes: u64,
    /// Goroutines in a Go goroutine profile (absent for heap snapshots).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goroutines: Option<u64>,
}

/// Overall verdict of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one group grew in every interval.
    Leak,
    /// Nothing grew in every interval.
    NoLeak,
    /// Two snapshots and something grew: leak or warm-up cannot be told apart.
    Inconclusive,
}

struct Summary {
    groups: FxHashMap<String, (GroupSize, bool)>,
    info: SnapshotInfo,
    max_id: u64,
    taken_at_ms: Option<u64>,
    /// The graph's `id_sample` as (object id, hash of its name), sorted.
    ids: Vec<(u64, u64)>,
}

/// Share of the sampled objects of one snapshot found under the same id and name in the next,
/// at least, for their ids to mean the same objects. Within one inspector session, or written
/// by the process itself (`v8.writeHeapSnapshot`), V8 keeps an object's id: on Node 20, 100 %
/// of the sample of a growing service was found again (131/131, 194/194 in-process; 116/116,
/// 139/139 in one session). Each new inspector session numbers the objects again, and
/// `leakhound snapshot node` opens one per snapshot: 0/76, 2/83 and 1/97 between the first
/// two of three sets of four such snapshots, 22/79 in a fourth whose heap barely changed (the
/// walk in the same order gave many objects their old numbers). Half is far from both. Taking
/// renumbered ids for kept ones picks a wrong instance for the retainer path (a prototype, not
/// the leaking emitter); the other way round only costs the "newer instance" preference.
const SAME_IDS_SHARE: f64 = 0.5;

/// Whether the object ids of snapshots `a` and then `b` mean the same objects (see
/// [`SAME_IDS_SHARE`]); true when the sample is too small to tell.
fn same_ids(a: &[(u64, u64)], b: &[(u64, u64)]) -> bool {
    if a.len() < 50 {
        return true;
    }
    let found = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
    found as f64 >= SAME_IDS_SHARE * a.len() as f64
}

/// Whether two snapshots may be one dump: the same count of objects and references, the same
/// reachable bytes and highest object id, and the same dump time where the format records it
/// (HPROF headers carry the millisecond; V8 snapshots no time, so their content is compared
/// too, see [`same_content`]).
fn same_dump(a: &Summary, b: &Summary) -> bool {
    a.info.nodes == b.info.nodes
        && a.info.edges == b.info.edges
        && a.info.reachable_bytes == b.info.reachable_bytes
        && a.max_id == b.max_id
        && a.taken_at_ms == b.taken_at_ms
}

/// Whether two files hold the same dump once decompressed (a copy, or a `.gz` of it). Asked
/// only of V8 snapshots whose counts all match ([`same_dump`]): they carry no dump time, and
/// two snapshots of a process that allocated nothing in between would match on counts alone.
fn same_content(a: &Path, b: &Path) -> bool {
    let (Ok((_, mut ra)), Ok((_, mut rb))) = (crate::v8::open(a), crate::v8::open(b)) else {
        return false;
    };
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let Ok(na) = read_full(&mut ra, &mut ba) else {
            return false;
        };
        let Ok(nb) = read_full(&mut rb, &mut bb) else {
            return false;
        };
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

/// Fill `buf` from `r` as far as it goes; the count read (short only at the end).
fn read_full(r: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Per-snapshot analysis kept for the last snapshot (paths are taken there).
struct Analysed {
    graph: HeapGraph,
    owner: Vec<u32>,
    retained: Vec<u64>,
    idom: Vec<u32>,
}

/// Snapshots are compared in the order given, so a dump written before the one given ahead of
/// it (HPROF headers carry the time) is refused: "grows in every interval" would read a fall as
/// growth and growth as a fall.
fn check_order(
    before: &Path,
    before_ms: Option<u64>,
    after: &Path,
    after_ms: Option<u64>,
) -> Result<(), HeapError> {
    match (before_ms, after_ms) {
        (Some(a), Some(b)) if b < a => Err(HeapError::Incompatible(format!(
            "{} was dumped {:.1} s before {}: give the snapshots oldest first",
            after.display(),
            (a - b) as f64 / 1000.0,
            before.display()
        ))),
        _ => Ok(()),
    }
}

/// Reads one snapshot and sums it per group. Only the last snapshot is read with detail (edge
/// names, locations) and keeps its graph for retainer paths; the others are dropped as soon as
/// their totals are known, so memory follows the largest file, not the sum of all.
fn analyse(path: &Path, opts: &ReadOptions) -> Result<(Summary, Option<Analysed>), HeapError> {
    let graph = crate::v8::read_path_with(path, opts)?;
    let dom = dominators::compute(&graph);
    let retained = opts.detail.then(|| retained::compute(&graph, &dom));
    let mut owner = vec![NONE; graph.node_count()];
    let mut groups: FxHashMap<String, (GroupSize, bool)> = FxHashMap::default();
    let mut reachable_bytes = 0u64;
    // Group of each (kind, name) pair: node names are interned, so this stays small.
    let mut class_cache: FxHashMap<(NodeKind, u32), usize> = FxHashMap::default();
    let mut sizes: Vec<(String, GroupSize, bool)> = Vec::new();
    for &v in &dom.rpo {
        let vi = v as usize;
        let size = graph.size(v);
        reachable_bytes += size;
        owner[vi] = if graph.is_domain(v) {
            v
        } else {
            let p = dom.idom[vi];
            if p == NONE { NONE } else { owner[p as usize] }
        };
        if is_runtime_internal(&graph, v) && owner[vi] == NONE {
            continue;
        }
        let (key_node, domain) = if owner[vi] == NONE {
            (v, false)
        } else {
            (owner[vi], true)
        };
        let kn = key_node as usize;
        let gi = *class_cache
            .entry((graph.kind[kn], graph.name[kn]))
            .or_insert_with(|| {
                sizes.push((graph.class_of(key_node), GroupSize::default(), domain));
                sizes.len() - 1
            });
        let entry = &mut sizes[gi];
        entry.1.bytes += size;
        if !domain || owner[vi] == v {
            entry.1.count += 1;
        }
    }
    // Two (kind, name) pairs can share a class (`(closure)`, `(string)`, …): merge them. The
    // domain flag is the one of the first pair seen, as before.
    for (key, size, domain) in sizes {
        let entry = groups.entry(key).or_insert((GroupSize::default(), domain));
        entry.0.bytes += size.bytes;
        entry.0.count += size.count;
    }
    let info = SnapshotInfo {
        path: path.to_owned(),
        nodes: graph.node_count() as u64,
        edges: graph.file_edges,
        reachable_bytes,
        goroutines: None,
    };
    let mut ids: Vec<(u64, u64)> = graph
        .id_sample
        .iter()
        .map(|&(id, n)| {
            use std::hash::{BuildHasher, BuildHasherDefault};
            let h = BuildHasherDefault::<rustc_hash::FxHasher>::default()
                .hash_one((graph.kind[n as usize] as u8, graph.node_name(n)));
            (id, h)
        })
        .collect();
    ids.sort_unstable();
    let summary = Summary {
        groups,
        info,
        max_id: graph.max_object_id,
        taken_at_ms: graph.taken_at_ms,
        ids,
    };
    let analysed = retained.map(|retained| Analysed {
        graph,
        owner,
        retained,
        idom: dom.idom,
    });
    Ok((summary, analysed))
}

/// VM-internal nodes (code, maps, synthetic roots) are not something a service leaks by
/// itself; without a domain owner they are left out of the comparison.
fn is_runtime_internal(g: &HeapGraph, v: u32) -> bool {
    matches!(
        g.kind[v as usize],
        NodeKind::Code | NodeKind::Hidden | NodeKind::Synthetic | NodeKind::Other
    ) && g.kind[v as usize] != NodeKind::Object
}

/// Reads and compares snapshots; see the module docs.
pub fn diff_snapshots(paths: &[PathBuf], opts: &DiffOptions) -> Result<DiffReport, HeapError> {
    diff_snapshots_with_progress(paths, opts, &mut |_, _| {})
}

/// [`diff_snapshots`], calling `reading(i, path)` before snapshot `i` (0-based) is read, so a
/// caller can show progress: reading dominates the time (a few seconds per 300 MB of V8 JSON).
pub fn diff_snapshots_with_progress(
    paths: &[PathBuf],
    opts: &DiffOptions,
    reading: &mut dyn FnMut(usize, &Path),
) -> Result<DiffReport, HeapError> {
    if paths.len() < 2 {
        return Err(HeapError::Incompatible(
            "need at least two snapshots".into(),
        ));
    }
    // Each snapshot is opened more than once (its format first, then to read it, and a copy's
    // content is compared): a pipe would give its first bytes to the first reader only.
    for p in paths {
        if let Ok(m) = std::fs::metadata(p)
            && !m.is_file()
            && !m.is_dir()
        {
            return Err(HeapError::Format {
                path: p.to_owned(),
                what: "not a regular file (a pipe or a device?): snapshots are read more than \
                       once, save it to a file first"
                    .into(),
            });
        }
    }
    let first_format = crate::v8::open(&paths[0])?.0;
    for p in &paths[1..] {
        let f = crate::v8::open(p)?.0;
        if f != first_format {
            return Err(HeapError::Incompatible(format!(
                "{} is {} but {} is {}: compare snapshots of one process",
                p.display(),
                f.described(),
                paths[0].display(),
                first_format.described()
            )));
        }
    }
    if first_format == crate::DumpFormat::Pprof {
        return crate::pprof::diff(paths, opts, reading);
    }
    let mut summaries: Vec<Summary> = Vec::with_capacity(paths.len());
    let mut last: Option<Analysed> = None;
    for (i, p) in paths.iter().enumerate() {
        let opts = ReadOptions {
            detail: i + 1 == paths.len(),
            new_above: summaries.first().map_or(u64::MAX, |s| s.max_id),
        };
        reading(i, p);
        let (s, a) = analyse(p, &opts)?;
        if let Some(prev) = summaries.last() {
            check_order(&prev.info.path, prev.taken_at_ms, p, s.taken_at_ms)?;
        }
        // The same dump under another name (a copy, a .gz of it): the same objects at the same
        // time, and nothing can grow between them.
        if let Some(same) = summaries.iter().find(|o| {
            same_dump(o, &s) && (s.taken_at_ms.is_some() || same_content(&o.info.path, p))
        }) {
            return Err(HeapError::Incompatible(format!(
                "{} is the same snapshot as {} (the same objects, {} of them{}): give snapshots taken at different times",
                p.display(),
                same.info.path.display(),
                s.info.nodes,
                if s.taken_at_ms.is_some() {
                    ", dumped at the same millisecond"
                } else {
                    ""
                }
            )));
        }
        summaries.push(s);
        if a.is_some() {
            last = a;
        }
    }
    let Some(mut last) = last else {
        return Err(HeapError::Incompatible("no snapshots".into()));
    };
    // Object ids tell order and age only when they mean the same objects in every snapshot;
    // snapshots taken through separate inspector sessions are numbered anew. Then no instance
    // is "newer" than the first snapshot (the representative is the largest one) and the
    // order cannot be checked from ids.
    // Either way round: given newest first, most of the newer snapshot's objects are not in
    // the older one (they came later), while the older one's are found in the newer.
    let ids_kept = summaries
        .windows(2)
        .all(|w| same_ids(&w[0].ids, &w[1].ids) || same_ids(&w[1].ids, &w[0].ids));
    if !ids_kept {
        last.graph.newer = crate::graph::BitVec::zeros(last.graph.node_count());
    }
    // V8 gives new objects ever higher ids, so a last snapshot whose highest id is under half
    // the first's does not follow it in one process: a restart in between, or the snapshots
    // given newest first (ids falling all along the list). A small fall is normal: an idle
    // process's newest objects are collected between two snapshots.
    let first_max_id = summaries[0].max_id;
    if ids_kept
        && summaries
            .last()
            .is_some_and(|s| s.max_id < first_max_id / 2)
    {
        let falling = summaries.windows(2).all(|w| w[1].max_id < w[0].max_id);
        return Err(HeapError::Incompatible(if falling {
            format!(
                "object ids fall from {} to {}: the snapshots look newest first (or come from different processes); give them oldest first, from one process",
                paths[0].display(),
                paths[paths.len() - 1].display()
            )
        } else {
            format!(
                "{} has much lower object ids than {}: snapshots from different processes?",
                paths[paths.len() - 1].display(),
                paths[0].display()
            )
        }));
    }
    let mut keys: Vec<&String> = summaries.iter().flat_map(|s| s.groups.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut findings = Vec::new();
    for key in keys {
        let sizes: Vec<GroupSize> = summaries
            .iter()
            .map(|s| s.groups.get(key).map(|g| g.0).unwrap_or_default())
            .collect();
        let domain = summaries
            .iter()
            .any(|s| s.groups.get(key).is_some_and(|g| g.1));
        let (bytes_delta, count_delta) = GroupSize::deltas(&sizes);
        let grows: Vec<bool> = bytes_delta.iter().map(|&d| d > MIN_GROWTH_BYTES).collect();
        let Some(class) = GroupClass::from_growth(&grows) else {
            continue;
        };
        findings.push(Finding {
            type_name: key.clone(),
            class,
            domain_owner: domain,
            sizes,
            bytes_delta,
            count_delta,
            sample_retained: 0,
            retainer_path: None,
            path_steps: Vec::new(),
            grows_via: None,
            location: None,
            hint: String::new(),
            stacks: Vec::new(),
            stacks_total: None,
        });
    }
    let rank = |c: GroupClass| match c {
        GroupClass::Leak => 0,
        GroupClass::Growing => 1,
        GroupClass::Intermittent => 2,
        GroupClass::WarmUp => 3,
    };
    findings.sort_by(|a, b| {
        let ga: i64 = a.bytes_delta.iter().sum();
        let gb: i64 = b.bytes_delta.iter().sum();
        rank(a.class)
            .cmp(&rank(b.class))
            .then(b.domain_owner.cmp(&a.domain_owner))
            .then(gb.cmp(&ga))
            .then(a.type_name.cmp(&b.type_name))
    });
    // The verdict weighs every finding, not only those shown.
    let any_leak = findings.iter().any(|f| f.class == GroupClass::Leak);
    let any_growing = findings.iter().any(|f| f.class == GroupClass::Growing);
    findings.truncate(opts.top);
    explain(&mut findings, &last);
    let (verdict, caveat) = if any_leak {
        (Verdict::Leak, None)
    } else if any_growing {
        (
            Verdict::Inconclusive,
            Some("with two snapshots a leak cannot be told apart from warm-up (a cache filling, a table built lazily, a ring buffer): take a third snapshot after more of the same load".into()),
        )
    } else {
        (Verdict::NoLeak, None)
    };
    Ok(DiffReport {
        schema_version: SCHEMA_VERSION,
        snapshots: summaries.into_iter().map(|s| s.info).collect(),
        findings,
        verdict,
        caveat,
    })
}

/// Adds a representative instance, its retainer path, location and a fix hint to findings.
fn explain(findings: &mut [Finding], a: &Analysed) {
    let g = &a.graph;
    let parents = g.bfs_parents();
    // Representative per group: the newest-allocated (id above the first snapshot's) instance
    // with the largest retained size; else the largest one.
    let wanted: FxHashMap<&str, usize> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| (f.type_name.as_str(), i))
        .collect();
    let mut best: Vec<Option<(bool, u64, u32)>> = vec![None; findings.len()];
    let mut class_cache: FxHashMap<(NodeKind, u32), Option<usize>> = FxHashMap::default();
    for v in 0..g.node_count() as u32 {
        let vi = v as usize;
        if parents[vi] == u32::MAX {
            continue;
        }
        let is_owner = a.owner[vi] == v;
        let generic = a.owner[vi] == NONE;
        if !is_owner && !generic {
            continue;
        }
        let Some(fi) = *class_cache
            .entry((g.kind[vi], g.name[vi]))
            .or_insert_with(|| wanted.get(g.class_of(v).as_str()).copied())
        else {
            continue;
        };
        let cand = (g.newer.get(vi), a.retained[vi], v);
        if best[fi].is_none_or(|b| (cand.0, cand.1) > (b.0, b.1)) {
            best[fi] = Some(cand);
        }
    }
    for (f, b) in findings.iter_mut().zip(best) {
        let Some((_, ret, node)) = b else { continue };
        f.sample_retained = ret;
        if let Some(steps) = g.retainer_path(&parents, node) {
            f.retainer_path = Some(format_path(&steps));
            f.path_steps = steps;
        }
        f.location = g.location(node).map(|l| l.to_string());
        // The edge of `from` that retains the most of what it dominates.
        let heaviest = |from: u32| {
            g.edges(from)
                .filter(|&e| a.idom[g.edge_to[e] as usize] == from)
                .max_by_key(|&e| (a.retained[g.edge_to[e] as usize], std::cmp::Reverse(e)))
                .filter(|&e| a.retained[g.edge_to[e] as usize] > 0)
        };
        f.grows_via = heaviest(node).map(|e| {
            let to = g.edge_to[e];
            let mut via = format!(
                "{}{} -> {}",
                g.display_name(node),
                g.edge_label(e),
                g.display_name(to)
            );
            // Through a listener table, one step more: an event's array of listeners (a
            // listener leak) or a single handler (not one); see `hint`.
            if is_listener_table(&via)
                && let Some(e2) = heaviest(to)
            {
                via.push_str(&format!(
                    "{} -> {}",
                    g.edge_label(e2),
                    g.display_name(g.edge_to[e2])
                ));
            }
            via
        });
        f.hint = hint(f);
    }
}

/// A fix hint from the shape of the retainer path.
///
/// Only the part of the path that says something about the grown object counts: in a Node
/// service nearly everything is reached through the request handler (`Server._events ->
/// Object.request -> (closure).context -> …`), so "the path goes through `_events`" or "through
/// a closure context" says nothing by itself. A listener leak shows as an event's *array* of
/// listeners on the path (one event, more and more listeners) or as an object that grows
/// through its own listener table.
fn hint(f: &Finding) -> String {
    let path = f.retainer_path.as_deref().unwrap_or("");
    let via = f.grows_via.as_deref().unwrap_or("");
    if f.class == GroupClass::WarmUp {
        return "grew only in the first interval: a cache filling, a table built lazily or a ring buffer; not a leak".into();
    }
    if listener_array_in(path) || listener_array_in(via) {
        return "listener never removed: each request adds a listener (on/addListener) that is never taken off; call off()/removeListener when the request ends, or use once()".into();
    }
    if via.contains(".context ->") || f.type_name.contains("(closure)") {
        return "closure capturing request state: a long-lived closure keeps request objects alive through its context; drop the closure or copy only the fields it needs".into();
    }
    if path.contains("class ") && (path.contains("Map") || path.contains("List")) {
        // The collection's own type shows on the path or in what it holds.
        let what = if path.contains("Map") || via.contains("Map") {
            "map"
        } else {
            "list"
        };
        return format!(
            "static {what} never pruned: a collection in a static field gains entries per request and never loses them; remove entries when the work is done or bound it"
        );
    }
    if f.class == GroupClass::Growing {
        return "grew between two snapshots: take a third after more of the same load to tell a leak (grows again) from a warm-up (stops)".into();
    }
    if path.contains("Map") || path.contains("Set") || path.contains("table") {
        return "unbounded cache / map never pruned: entries are added per request and never deleted; bound it (LRU with a max size, TTL) or delete entries when done".into();
    }
    "collection never pruned: instances are kept in a long-lived collection; remove them when they are no longer needed or bound the collection".into()
}

/// A step into a listener table: Node's `_events`, DOM-style `listeners`, `_handlers`.
fn is_listener_table(step: &str) -> bool {
    step.contains("._events") || step.contains(".listeners") || step.contains("._handlers")
}

/// Whether `path` (steps joined by ` -> `) holds an event's array of listeners: a listener
/// table followed within two steps by an `Array` (`Bus._events -> Object.config -> Array[9]`),
/// which is what `on()` called again and again builds. A single listener (`Server._events ->
/// Object.request -> (closure)`) is not one.
fn listener_array_in(path: &str) -> bool {
    let steps: Vec<&str> = path.split(" -> ").collect();
    steps.iter().enumerate().any(|(i, s)| {
        is_listener_table(s)
            && steps[i + 1..]
                .iter()
                .take(2)
                .any(|n| n.starts_with("Array"))
    })
}

#[cfg(test)]
mod hint_tests {
    use super::listener_array_in;

    #[test]
    fn only_an_array_of_listeners_is_a_listener_leak() {
        // A listener per request on one event: the leak.
        assert!(listener_array_in(
            "Node / TCPServerWrap.native_to_javascript -> TCP['<symbol owner_symbol>'] -> \
             Server._events -> Object.request -> (anonymous closure).context -> \
             context.configBus -> ConfigBus._events -> Object.config -> Array[9] -> \
             onConfig().context -> context.ctx -> RequestContext"
        ));
        // Module state reached through the one request handler: not a listener leak.
        assert!(!listener_array_in(
            "Node / TCPServerWrap.native_to_javascript -> TCP['<symbol owner_symbol>'] -> \
             Server._events -> Object.request -> (anonymous closure).context -> \
             context.countryTable -> CountryTable"
        ));
    }
}

#[cfg(test)]
mod class_tests {
    use super::GroupClass;

    #[test]
    fn growth_pattern_decides_the_class() {
        assert_eq!(GroupClass::from_growth(&[true]), Some(GroupClass::Growing));
        assert_eq!(GroupClass::from_growth(&[false]), None);
        assert_eq!(
            GroupClass::from_growth(&[true, true, true]),
            Some(GroupClass::Leak)
        );
        assert_eq!(
            GroupClass::from_growth(&[true, false, false]),
            Some(GroupClass::WarmUp)
        );
        assert_eq!(
            GroupClass::from_growth(&[false, true, false]),
            Some(GroupClass::Intermittent)
        );
        assert_eq!(
            GroupClass::from_growth(&[true, false, true]),
            Some(GroupClass::Intermittent)
        );
        assert_eq!(GroupClass::from_growth(&[false, false]), None);
        assert_eq!(GroupClass::from_growth(&[]), None);
    }
}
