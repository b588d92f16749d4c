//! `leakhound diff`: exit codes 0/1/3, `--json` (schema_version 1) and bad input (exit 2, one
//! line naming the file, never a panic), on small hand-built V8 snapshots.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::leakhound;

/// A tiny V8 `.heapsnapshot` writer: nodes `(type, name, id, self_size)` and edges
/// `(from, type, name, to)`, in the layout Node writes (7 node fields, 3 edge fields).
struct Snap {
    strings: Vec<String>,
    nodes: Vec<(usize, usize, u64, u64)>,
    edges: Vec<(usize, usize, usize, usize)>,
}

const NODE_TYPES: [&str; 4] = ["hidden", "string", "object", "synthetic"];
const EDGE_TYPES: [&str; 4] = ["element", "property", "internal", "weak"];

impl Snap {
    fn new() -> Snap {
        let mut s = Snap {
            strings: Vec::new(),
            nodes: Vec::new(),
            edges: Vec::new(),
        };
        s.node("synthetic", "", 1, 0);
        s
    }

    fn str(&mut self, s: &str) -> usize {
        match self.strings.iter().position(|x| x == s) {
            Some(i) => i,
            None => {
                self.strings.push(s.to_string());
                self.strings.len() - 1
            }
        }
    }

    fn node(&mut self, ty: &str, name: &str, id: u64, size: u64) -> usize {
        let t = NODE_TYPES.iter().position(|x| *x == ty).expect("node type");
        let n = self.str(name);
        self.nodes.push((t, n, id, size));
        self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, ty: &str, name: &str, to: usize) {
        let t = EDGE_TYPES.iter().position(|x| *x == ty).expect("edge type");
        let n = if ty == "element" {
            name.parse().expect("element index")
        } else {
            self.str(name)
        };
        self.edges.push((from, t, n, to));
    }

    fn json(&self) -> String {
        let mut edges = self.edges.clone();
        edges.sort_by_key(|e| e.0);
        let mut counts = vec![0usize; self.nodes.len()];
        for e in &edges {
            counts[e.0] += 1;
        }
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .zip(&counts)
            .map(|(n, c)| format!("{},{},{},{},{c},0,0", n.0, n.1, n.2, n.3))
            .collect();
        let es: Vec<String> = edges
            .iter()
            .map(|e| format!("{},{},{}", e.1, e.2, e.3 * 7))
            .collect();
        format!(
            r#"{{"snapshot":{{"meta":{{"node_fields":["type","name","id","self_size","edge_count","trace_node_id","detachedness"],"node_types":[{nt},"string","number","number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],"edge_types":[{et},"string_or_number","node"],"location_fields":["object_index","script_id","line","column"]}},"node_count":{nc},"edge_count":{ec}}},
"nodes":[{nodes}],
"edges":[{edges}],
"trace_function_infos":[],"trace_tree":[],"samples":[],"locations":[],
"strings":{strings}}}"#,
            nt = serde_json::to_string(&NODE_TYPES).unwrap(),
            et = serde_json::to_string(&EDGE_TYPES).unwrap(),
            nc = self.nodes.len(),
            ec = edges.len(),
            nodes = nodes.join(","),
            edges = es.join(","),
            strings = serde_json::to_string(&self.strings).unwrap(),
        )
    }
}

/// A service-like heap: a `Registry` holding `sessions` `Session`s (64 B + a 1000 B string
/// each) and a `Cache` holding `cache` strings of 500 B.
fn service(sessions: usize, cache: usize) -> String {
    service_from(sessions, cache, 1000)
}

/// [`service`] with the sessions' object ids starting at `id_base` (V8 hands out ids in
/// increasing order for the life of a process).
fn service_from(sessions: usize, cache: usize, id_base: u64) -> String {
    let mut s = Snap::new();
    let roots = s.node("synthetic", "(GC roots)", 3, 0);
    s.edge(0, "element", "1", roots);
    let reg = s.node("object", "Registry", 5, 32);
    s.edge(roots, "element", "0", reg);
    let arr = s.node("object", "Array", 7, 16);
    s.edge(reg, "property", "sessions", arr);
    for i in 0..sessions {
        let id = id_base + 2 * i as u64;
        let sess = s.node("object", "Session", id, 64);
        s.edge(arr, "element", &i.to_string(), sess);
        let payload = s.node("string", "payload", id + 1, 1000);
        s.edge(sess, "property", "data", payload);
    }
    let c = s.node("object", "Cache", 9, 32);
    s.edge(roots, "element", "1", c);
    for i in 0..cache {
        let e = s.node("string", "entry", 500_000 + i as u64, 500);
        s.edge(c, "element", &i.to_string(), e);
    }
    s.json()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write snapshot");
    p
}

/// Three snapshots: sessions grow by 50 (≈ 52 KB) in every interval; the cache fills in the
/// first interval (100 entries, 50 KB) and stays.
fn leaking(dir: &Path) -> Vec<PathBuf> {
    vec![
        write(dir, "s1.heapsnapshot", &service(10, 0)),
        write(dir, "s2.heapsnapshot", &service(60, 100)),
        write(dir, "s3.heapsnapshot", &service(110, 100)),
        write(dir, "s4.heapsnapshot", &service(160, 100)),
    ]
}

fn diff(args: &[&str], files: &[PathBuf]) -> (i32, String, String) {
    let out = leakhound()
        .arg("diff")
        .args(args)
        .args(files)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run leakhound diff");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit 2 with exactly one `error:` line that contains `needle`, and no panic.
fn assert_bad_input(code: i32, stderr: &str, needle: &str) {
    assert_eq!(code, 2, "stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "`{needle}` not in: {stderr}");
}

#[test]
fn growth_in_every_interval_is_a_leak_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = diff(&[], &leaking(dir.path()));
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("1. Session — LEAK (grows in every interval)"),
        "{out}"
    );
    assert!(out.contains("count:  10 → 60 → 110 → 160"), "{out}");
    assert!(out.contains("Registry.sessions"), "{out}");
    assert!(
        out.contains("Cache — warm-up / saturating (first interval only), not a leak"),
        "{out}"
    );
    assert!(out.contains("verdict: LEAK"), "{out}");
}

#[test]
fn json_report_has_schema_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = diff(&["--json", "--top", "2"], &leaking(dir.path()));
    assert_eq!(code, 1, "{err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["verdict"], "leak");
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 4);
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 2, "--top 2");
    assert_eq!(f[0]["type_name"], "Session");
    assert_eq!(f[0]["class"], "leak");
    assert_eq!(f[0]["count_delta"], serde_json::json!([50, 50, 50]));
    assert!(
        f[0]["retainer_path"]
            .as_str()
            .unwrap()
            .contains("Registry.sessions")
    );
    assert_eq!(f[1]["type_name"], "Cache");
    assert_eq!(f[1]["class"], "warm_up");
}

#[test]
fn warm_up_only_is_not_a_leak_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(dir.path(), "a.heapsnapshot", &service(10, 0)),
        write(dir.path(), "b.heapsnapshot", &service(10, 200)),
        // The same counts as b, its sessions replaced by new ones (new ids): a later snapshot,
        // not b again (which is refused as the same dump).
        write(dir.path(), "c.heapsnapshot", &service_from(10, 200, 2000)),
    ];
    let (code, out, err) = diff(&["--json"], &files);
    assert_eq!(code, 0, "{out}\n{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "no_leak");
    assert_eq!(v["findings"][0]["type_name"], "Cache");
    assert_eq!(v["findings"][0]["class"], "warm_up");
}

#[test]
fn two_snapshots_with_growth_cannot_tell_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let files = leaking(dir.path());
    let (code, out, err) = diff(&[], &files[1..3]);
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("verdict: inconclusive"), "{out}");
    assert!(out.contains("note: with two snapshots"), "{out}");
}

#[test]
fn gzipped_snapshots_are_read_too() {
    let dir = tempfile::tempdir().unwrap();
    let files = leaking(dir.path());
    let st = std::process::Command::new("gzip")
        .args(&files)
        .status()
        .expect("gzip");
    assert!(st.success());
    let gz: Vec<PathBuf> = files
        .iter()
        .map(|f| PathBuf::from(format!("{}.gz", f.display())))
        .collect();
    let (code, out, err) = diff(&[], &gz);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("1. Session — LEAK"), "{out}");
}

#[test]
fn one_snapshot_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let files = leaking(dir.path());
    let (code, _, err) = diff(&[], &files[..1]);
    assert_bad_input(code, &err, "at least two snapshots");
    // The same file twice (under two spellings) is one snapshot.
    let again = files[0]
        .parent()
        .unwrap()
        .join(".")
        .join(files[0].file_name().unwrap());
    let (code, _, err) = diff(&[], &[files[0].clone(), files[1].clone(), again]);
    assert_bad_input(code, &err, "is given twice (as snapshots 1 and 3)");
}

#[test]
fn nonexistent_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = leaking(dir.path());
    files[1] = dir.path().join("missing.heapsnapshot");
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "missing.heapsnapshot");
}

#[test]
fn truncated_file_is_named_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = leaking(dir.path());
    let text = service(60, 100);
    for cut in [text.len() / 3, text.len() / 2, text.len() - 3] {
        files[1] = write(dir.path(), "cut.heapsnapshot", &text[..cut]);
        let (code, _, err) = diff(&[], &files);
        assert_bad_input(code, &err, "cut.heapsnapshot");
        assert!(err.contains("byte offset"), "cut at {cut}: {err}");
    }
    // Cut inside the first bytes, the format cannot even be recognised: the file is named.
    files[1] = write(dir.path(), "cut.heapsnapshot", &text[..10]);
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "cut.heapsnapshot");
    // A cut .gz: the offset is of what it decompresses to (a hex editor on the file itself
    // would look in the wrong place), and says so.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    files[1] = dir.path().join("cut.heapsnapshot.gz");
    std::fs::write(&files[1], &gz[..gz.len() / 2]).unwrap();
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "cut.heapsnapshot.gz at byte offset");
    assert!(err.contains("of its decompressed content"), "{err}");
}

#[test]
fn a_pipe_or_device_is_refused_not_half_read() {
    // `diff <(zcat s1.gz) …`: each snapshot is opened more than once, and a pipe gives its
    // first bytes to the first reader only. Refused by name rather than misread.
    let dir = tempfile::tempdir().unwrap();
    let mut files = leaking(dir.path());
    files[0] = PathBuf::from("/dev/zero");
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "/dev/zero: not a regular file");
}

#[test]
fn wrong_format_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = leaking(dir.path());
    files[2] = write(dir.path(), "notes.txt", "this is not a heap snapshot\n");
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "notes.txt");
}

#[test]
fn different_formats_are_refused_with_both_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = leaking(dir.path());
    // The start of an HPROF dump: the header names the format.
    let mut hprof = b"JAVA PROFILE 1.0.2\0".to_vec();
    hprof.extend_from_slice(&[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    let h = dir.path().join("s3.hprof");
    std::fs::write(&h, &hprof).unwrap();
    files[2] = h;
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "s3.hprof");
    assert!(err.contains("s1.heapsnapshot"), "{err}");
}

#[test]
fn snapshot_of_another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(
            dir.path(),
            "s1.heapsnapshot",
            &service_from(10, 0, 9_000_000),
        ),
        write(
            dir.path(),
            "s2.heapsnapshot",
            &service_from(60, 0, 9_000_000),
        ),
        // After a restart the ids start again near zero.
        write(dir.path(), "s3.heapsnapshot", &service(110, 0)),
    ];
    let (code, _, err) = diff(&[], &files);
    assert_bad_input(code, &err, "s3.heapsnapshot");
    assert!(err.contains("different processes"), "{err}");
}

#[test]
fn snapshots_given_newest_first_are_named_as_such() {
    // One process whose ids moved on by millions between snapshots, given newest first.
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(
            dir.path(),
            "s3.heapsnapshot",
            &service_from(110, 0, 9_000_000),
        ),
        write(
            dir.path(),
            "s2.heapsnapshot",
            &service_from(60, 0, 4_000_000),
        ),
        write(dir.path(), "s1.heapsnapshot", &service_from(10, 0, 1_000)),
    ];
    let (code, _, err) = diff(&[], &files);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("newest first"), "{err}");
    // In order they are fine.
    let (code, _, err) = diff(&[], &[files[2].clone(), files[1].clone(), files[0].clone()]);
    assert!(code == 0 || code == 1 || code == 3, "{code}: {err}");
}

#[test]
fn report_diffs_the_saved_snapshots_of_a_run_killed_before_its_verdict() {
    // A `run --snapshots` whose leakhound was killed: run.json, samples.csv and snapshots/,
    // no verdict.json. `report` diffs the saved snapshots again and folds their verdict in.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    leakhound()
        .args([
            "run",
            "-q",
            "--interval",
            "100ms",
            "--duration",
            "1s",
            "--out",
        ])
        .arg(&run)
        .args(["--", "sleep", "5"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(3);
    std::fs::remove_file(run.join("verdict.json")).unwrap();
    let snaps = run.join("snapshots");
    std::fs::create_dir(&snaps).unwrap();
    for (i, f) in leaking(dir.path()).iter().enumerate() {
        std::fs::copy(f, snaps.join(format!("s{i:02}.heapsnapshot"))).unwrap();
    }
    let out = leakhound()
        .arg("report")
        .arg(&run)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("Session — LEAK"), "{text}");
    assert!(
        text.contains("diffed again from the snapshots saved"),
        "{text}"
    );
    assert!(text.contains("heap: leak"), "{text}");
}
