//! Hand-built V8 snapshots with known structure.

use std::io::Write;
use std::path::{Path, PathBuf};

use leakhound_heap::diff::{GroupClass, Verdict};
use leakhound_heap::{DiffOptions, HeapError, diff_snapshots, dominators, retained, v8};

/// A tiny snapshot builder: nodes (type, name, id, size) and edges (from, type, name, to).
pub(crate) struct Snap {
    strings: Vec<String>,
    nodes: Vec<(u32, u32, u64, u64)>,
    edges: Vec<(usize, u32, u32, usize)>,
    /// (node, script id, line, column), 0-based as V8 writes them.
    locations: Vec<(usize, u64, u64, u64)>,
}

const NODE_TYPES: [&str; 7] = [
    "hidden",
    "array",
    "string",
    "object",
    "synthetic",
    "closure",
    "code",
];
const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];

impl Snap {
    pub(crate) fn new() -> Self {
        let mut s = Snap {
            strings: vec![],
            nodes: vec![],
            edges: vec![],
            locations: vec![],
        };
        s.node("synthetic", "", 1, 0);
        s
    }
    fn str(&mut self, s: &str) -> u32 {
        if let Some(i) = self.strings.iter().position(|x| x == s) {
            return i as u32;
        }
        self.strings.push(s.to_owned());
        (self.strings.len() - 1) as u32
    }
    pub(crate) fn node(&mut self, ty: &str, name: &str, id: u64, size: u64) -> usize {
        let t = NODE_TYPES.iter().position(|x| *x == ty).unwrap() as u32;
        let n = self.str(name);
        self.nodes.push((t, n, id, size));
        self.nodes.len() - 1
    }
    pub(crate) fn location(&mut self, node: usize, script: u64, line: u64, column: u64) {
        self.locations.push((node, script, line, column));
    }
    pub(crate) fn edge(&mut self, from: usize, ty: &str, name: &str, to: usize) {
        let t = EDGE_TYPES.iter().position(|x| *x == ty).unwrap() as u32;
        let n = if ty == "element" || ty == "hidden" {
            name.parse().unwrap()
        } else {
            self.str(name)
        };
        self.edges.push((from, t, n, to));
    }
    pub(crate) fn json(&self) -> String {
        let mut edges = self.edges.clone();
        edges.sort_by_key(|e| e.0);
        let mut counts = vec![0; self.nodes.len()];
        for e in &edges {
            counts[e.0] += 1;
        }
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .zip(&counts)
            .map(|(n, c)| format!("{},{},{},{},{},0,0", n.0, n.1, n.2, n.3, c))
            .collect();
        let es: Vec<String> = edges
            .iter()
            .map(|e| format!("{},{},{}", e.1, e.2, e.3 * 7))
            .collect();
        let strings: Vec<String> = self
            .strings
            .iter()
            .map(|s| serde_json::to_string(s).unwrap())
            .collect();
        format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{nt},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{et},"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{nc},"edge_count":{ec}}},
"nodes":[{nodes}],
"edges":[{edges}],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[{locations}],
"strings":[{strings}]}}"#,
            nt = serde_json::to_string(&NODE_TYPES).unwrap(),
            et = serde_json::to_string(&EDGE_TYPES).unwrap(),
            nc = self.nodes.len(),
            ec = edges.len(),
            nodes = nodes.join(",\n"),
            edges = es.join(",\n"),
            strings = strings.join(",\n"),
            locations = self
                .locations
                .iter()
                .map(|l| format!("{},{},{},{}", l.0 * 7, l.1, l.2, l.3))
                .collect::<Vec<_>>()
                .join(","),
        )
    }
}

/// A service-like heap: a `Registry` holding `n` leaked `Session`s (each with a string), a
/// `Cache` whose entries are `k` strings, and a weak-only `Ghost`.
pub(crate) fn service(n: usize, cache: usize, id_base: u64) -> Snap {
    let mut s = Snap::new();
    let roots = s.node("synthetic", "(GC roots)", 3, 0);
    s.edge(0, "element", "1", roots);
    let reg = s.node("object", "Registry", 5, 32);
    s.edge(roots, "element", "0", reg);
    let arr = s.node("object", "Array", 7, 16);
    s.edge(reg, "property", "sessions", arr);
    for i in 0..n {
        let sess = s.node("object", "Session", id_base + 2 * i as u64, 64);
        s.edge(arr, "element", &i.to_string(), sess);
        let st = s.node("string", "payload", id_base + 2 * i as u64 + 1, 1000);
        s.edge(sess, "property", "data", st);
    }
    let c = s.node("object", "Cache", 9, 32);
    s.edge(roots, "element", "1", c);
    for i in 0..cache {
        let st = s.node("string", "entry", 100_000 + i as u64, 500);
        s.edge(c, "element", &i.to_string(), st);
    }
    let ghost = s.node("object", "Ghost", 11, 5000);
    s.edge(reg, "weak", "ghost", ghost);
    s
}

pub(crate) fn write(dir: &Path, name: &str, text: &str, gz: bool) -> PathBuf {
    let p = dir.join(name);
    let f = std::fs::File::create(&p).unwrap();
    if gz {
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap();
    } else {
        let mut f = f;
        f.write_all(text.as_bytes()).unwrap();
    }
    p
}

#[test]
fn dominators_and_retained_sizes_ignore_weak_edges() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "a.heapsnapshot",
        &service(3, 2, 1000).json(),
        false,
    );
    let g = v8::read_path(&p).unwrap();
    let d = dominators::compute(&g);
    let r = retained::compute(&g, &d);
    let find = |name: &str| {
        (0..g.node_count() as u32)
            .find(|&n| g.node_name(n) == name)
            .unwrap()
    };
    let reg = find("Registry");
    // Registry + Array + 3 × (Session 64 + string 1000); the weakly held Ghost is not counted.
    assert_eq!(r[reg as usize], 32 + 16 + 3 * 1064);
    assert!(!d.reachable(find("Ghost")));
    let parents = g.bfs_parents();
    let sess = (0..g.node_count() as u32)
        .rev()
        .find(|&n| g.node_name(n) == "Session")
        .unwrap();
    let path = leakhound_heap::graph::format_path(&g.retainer_path(&parents, sess).unwrap());
    assert_eq!(
        path,
        "(GC roots)[0] -> Registry.sessions -> Array[2] -> Session"
    );
}

#[test]
fn three_snapshots_leak_versus_warm_up_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    // Sessions grow in every interval (50 -> 100 -> 150); the cache fills once (0 -> 80 -> 80).
    let a = write(
        dir.path(),
        "1.heapsnapshot",
        &service(50, 0, 1000).json(),
        false,
    );
    let b = write(
        dir.path(),
        "2.heapsnapshot.gz",
        &service(100, 80, 1000).json(),
        true,
    );
    let c = write(
        dir.path(),
        "3.heapsnapshot",
        &service(150, 80, 1000).json(),
        false,
    );
    let r = diff_snapshots(&[a.clone(), b.clone(), c], &DiffOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Leak);
    let first = &r.findings[0];
    // Each Session owns its payload string: the growth is attributed to Session, not (string).
    assert_eq!(first.type_name, "Session", "{r:#?}");
    assert_eq!(first.class, GroupClass::Leak);
    assert_eq!(first.count_delta, vec![50, 50]);
    assert_eq!(first.bytes_delta, vec![50 * 1064, 50 * 1064]);
    assert!(
        r.findings.iter().all(|f| f.type_name != "(string)"),
        "{r:#?}"
    );
    let path = first.retainer_path.as_deref().unwrap();
    assert!(
        path.starts_with("(GC roots)[0] -> Registry.sessions -> Array["),
        "{path}"
    );
    let cache = r.findings.iter().find(|f| f.type_name == "Cache").unwrap();
    assert_eq!(cache.class, GroupClass::WarmUp);
    // Two snapshots: cannot tell.
    let r2 = diff_snapshots(&[a, b], &DiffOptions::default()).unwrap();
    assert_eq!(r2.verdict, Verdict::Inconclusive);
    assert!(r2.caveat.is_some());
}

#[test]
fn truncated_or_corrupt_files_are_errors_with_offsets_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let text = service(20, 10, 1000).json();
    let bytes = text.as_bytes();
    for gz in [false, true] {
        let step = if gz { 7 } else { 1 };
        for cut in (0..bytes.len()).step_by(step) {
            let p = write(
                dir.path(),
                "cut.heapsnapshot",
                std::str::from_utf8(&bytes[..cut]).unwrap(),
                gz,
            );
            match v8::read_path(&p) {
                Err(HeapError::Malformed { offset, .. }) => assert!(offset <= cut as u64),
                Err(HeapError::Format { .. }) => {}
                Err(e) => panic!("unexpected error kind at cut {cut}: {e}"),
                Ok(_) => panic!("a snapshot cut at {cut} of {} was accepted", bytes.len()),
            }
        }
    }
    // Corrupt bytes: flip digits and punctuation at many offsets; any outcome but a panic.
    for i in (0..bytes.len()).step_by(3) {
        let mut b = bytes.to_vec();
        b[i] = match b[i] {
            b'0'..=b'8' => b'9',
            b'9' => b'x',
            b',' => b']',
            _ => b'7',
        };
        let p = dir.path().join("bad.heapsnapshot");
        std::fs::write(&p, &b).unwrap();
        let _ = v8::read_path(&p);
    }
}

#[test]
fn mixed_formats_and_too_few_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "1.heapsnapshot",
        &service(5, 0, 1000).json(),
        false,
    );
    let h = dir.path().join("x.hprof");
    std::fs::write(&h, b"JAVA PROFILE 1.0.2\0\0\0\0\x08").unwrap();
    match diff_snapshots(&[a.clone(), h], &DiffOptions::default()) {
        Err(HeapError::Incompatible(m)) => assert!(m.contains("x.hprof"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        diff_snapshots(&[a], &DiffOptions::default()),
        Err(HeapError::Incompatible(_))
    ));
}
