//! `export`: the pprof and flame graph files of a real traced run.

use super::run_mode;
use leakhound_heap::pprof::profiles::Profile as Pprof;
use leakhound_native::export::{ExportError, ProcessHeap, flamegraph, pprof};
use leakhound_native::load_dir;
use prost::Message;
use std::io::Read;
use std::process::Command;

/// Sums each value of the samples whose stack contains `function` (any frame, inlined or not).
fn totals_for(p: &Pprof, function: &str) -> [i64; 4] {
    let name = p
        .string_table
        .iter()
        .position(|s| s == function)
        .unwrap_or_else(|| panic!("{function} not in the string table")) as i64;
    let fids: Vec<u64> = p
        .function
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.id)
        .collect();
    let has = |loc_id: u64| {
        p.location
            .iter()
            .find(|l| l.id == loc_id)
            .is_some_and(|l| l.line.iter().any(|ln| fids.contains(&ln.function_id)))
    };
    let mut sum = [0i64; 4];
    for s in p
        .sample
        .iter()
        .filter(|s| s.location_id.iter().any(|&l| has(l)))
    {
        for (acc, v) in sum.iter_mut().zip(&s.value) {
            *acc += v;
        }
    }
    sum
}

#[test]
fn pprof_and_flamegraph_carry_the_known_leak() {
    let r = run_mode("known", &[]);
    assert!(r.output.status.success(), "{:?}", r.output);
    let profiles = load_dir(r.out_dir.path()).expect("agent output loads");
    let procs: Vec<ProcessHeap<'_>> = profiles.iter().map(ProcessHeap::new).collect();

    let built = pprof::build(&procs).expect("profile builds");
    let types: Vec<&str> = built
        .sample_type
        .iter()
        .map(|t| built.string_table[t.r#type as usize].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "inuse_space",
            "inuse_objects",
            "alloc_space",
            "alloc_objects"
        ]
    );
    assert_eq!(built.string_table[0], "");
    assert!(!built.mapping.is_empty(), "mappings written");
    // 3000 x 200 B never freed; the cache's 1200 allocations of 1000 B were all freed at exit.
    assert_eq!(
        totals_for(&built, "leak_here"),
        [600_000, 3000, 600_000, 3000]
    );
    assert_eq!(totals_for(&built, "cache_fill"), [0, 0, 1_200_000, 1200]);

    // The file is gzip + the same message.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("heap.pb.gz");
    pprof::write(&procs, &file).expect("pprof written");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
        .read_to_end(&mut raw)
        .expect("gzip");
    assert_eq!(Pprof::decode(raw.as_slice()).expect("decodes"), built);

    // go tool pprof reads it (golang-go is installed in CI).
    match Command::new("go")
        .args(["tool", "pprof", "-top", "-sample_index=inuse_space"])
        .arg(&file)
        .env("HOME", out.path())
        .output()
    {
        Err(e) => eprintln!("SKIPPED go tool pprof check: `go` not runnable ({e})"),
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            assert!(
                o.status.success(),
                "go tool pprof failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let line = text
                .lines()
                .find(|l| l.contains("leak_here"))
                .unwrap_or_else(|| panic!("leak_here not in pprof -top:\n{text}"));
            // 600000 B as pprof prints it.
            assert!(line.contains("585.94kB"), "{line}");
            let alloc = Command::new("go")
                .args(["tool", "pprof", "-top", "-sample_index=alloc_objects"])
                .arg(&file)
                .env("HOME", out.path())
                .output()
                .expect("go runs again");
            let text = String::from_utf8_lossy(&alloc.stdout);
            assert!(
                text.lines()
                    .any(|l| l.contains("cache_fill") && l.contains("1200")),
                "{text}"
            );
        }
    }

    // Flame graph: live bytes per folded stack, the leak's frame with its line.
    let folded = flamegraph::folded(&procs);
    let leak: Vec<&String> = folded
        .iter()
        .filter(|l| l.contains("leak_here ("))
        .collect();
    assert_eq!(leak.len(), 1, "{folded:?}");
    assert!(leak[0].ends_with(" 600000"), "{}", leak[0]);
    assert!(
        leak[0].starts_with("main;") || leak[0].contains(";main;"),
        "{}",
        leak[0]
    );
    assert!(
        !folded.iter().any(|l| l.contains("cache_fill")),
        "freed: not in the live graph"
    );
    let svg_path = out.path().join("heap.svg");
    flamegraph::write(&procs, &svg_path).expect("svg written");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "SVG");
    assert!(svg.contains("leak_here"), "leak function in the SVG");

    // An unwritable path is a clear error naming the file.
    let bad = out.path().join("no-such-dir").join("x.pb.gz");
    let err = pprof::write(&procs, &bad).unwrap_err();
    assert!(matches!(err, ExportError::Write { .. }));
    assert!(err.to_string().contains("no-such-dir/x.pb.gz"), "{err}");
    assert!(matches!(pprof::build(&[]), Err(ExportError::Empty)));
}

#[test]
fn forked_child_gets_its_own_pid_in_both_exports() {
    let r = run_mode("fork", &[]);
    assert!(r.output.status.success(), "{:?}", r.output);
    let profiles = load_dir(r.out_dir.path()).expect("agent output loads");
    assert_eq!(profiles.len(), 2, "parent and child files");
    let procs: Vec<ProcessHeap<'_>> = profiles.iter().map(ProcessHeap::new).collect();
    let child = profiles
        .iter()
        .find(|p| {
            p.last()
                .is_some_and(|l| l.values().any(|c| c.live_blocks >= 100))
        })
        .expect("the child's leak is in one file");
    // Flame graph: each process under its own root frame; the child's leak under the child's.
    let folded = flamegraph::folded(&procs);
    assert!(folded.iter().all(|l| l.starts_with("pid ")), "{folded:?}");
    assert!(
        folded
            .iter()
            .any(|l| l.starts_with(&format!("pid {};", child.pid)) && l.contains("child_leak")),
        "{folded:?}"
    );
    // pprof: samples carry the pid label; the child's leak is labelled with the child's pid.
    let built = pprof::build(&procs).expect("profile builds");
    let pid_key = built
        .string_table
        .iter()
        .position(|s| s == "pid")
        .expect("pid label key") as i64;
    let pids: std::collections::BTreeSet<i64> = built
        .sample
        .iter()
        .flat_map(|s| s.label.iter().filter(|l| l.key == pid_key).map(|l| l.num))
        .collect();
    let want: std::collections::BTreeSet<i64> = profiles.iter().map(|p| i64::from(p.pid)).collect();
    assert_eq!(pids, want);
    assert_eq!(built.comment.len(), 2, "one comment per process");
}
