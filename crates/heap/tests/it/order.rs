//! Snapshots that cannot come from one process in the order given are refused with an error
//! naming the files (exit 2 in the CLI), not diffed into a wrong verdict.

use std::io::Write;
use std::path::{Path, PathBuf};

use leakhound_heap::pprof::{decode, profiles::Profile};
use leakhound_heap::{DiffOptions, HeapError, diff_snapshots};
use prost::Message;

use crate::fuzz::{fixture, hprof_seed_at};
use crate::synthetic::{service, write};

fn incompatible(files: &[PathBuf]) -> String {
    match diff_snapshots(files, &DiffOptions::default()) {
        Err(HeapError::Incompatible(m)) => m,
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

#[test]
fn v8_snapshot_of_a_fresh_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A long-running process has handed out ids in the millions; a restarted one starts again
    // near zero.
    let a = write(
        dir.path(),
        "old.heapsnapshot",
        &service(5, 0, 9_000_000).json(),
        false,
    );
    let b = write(
        dir.path(),
        "old2.heapsnapshot",
        &service(9, 0, 9_000_000).json(),
        false,
    );
    let c = write(
        dir.path(),
        "new.heapsnapshot",
        &service(20, 0, 1000).json(),
        false,
    );
    let m = incompatible(&[a.clone(), b.clone(), c]);
    assert!(m.contains("new.heapsnapshot"), "{m}");
    assert!(m.contains("different processes"), "{m}");
    // The same process in order is fine.
    assert!(diff_snapshots(&[a, b], &DiffOptions::default()).is_ok());
}

#[test]
fn hprof_dumps_out_of_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dump = |name: &str, ms: u64| {
        let p = dir.path().join(name);
        std::fs::write(&p, hprof_seed_at(false, ms)).unwrap();
        p
    };
    let t0 = 1_764_000_000_000; // 2025-11-24, ms since the epoch
    let a = dump("a.hprof", t0);
    let b = dump("b.hprof", t0 + 60_000);
    let c = dump("c.hprof", t0 + 120_000);
    assert!(diff_snapshots(&[a.clone(), b.clone(), c.clone()], &DiffOptions::default()).is_ok());
    let m = incompatible(&[a, c, b]);
    assert!(m.contains("b.hprof was dumped 60.0 s before"), "{m}");
    assert!(m.contains("c.hprof"), "{m}");
    assert!(m.contains("oldest first"), "{m}");
}

/// The repo's Go heap fixture, changed by `edit`, written gzipped as Go writes it.
fn go_heap(dir: &Path, name: &str, edit: impl FnOnce(&mut Profile)) -> PathBuf {
    let raw = fixture("go-heap.pb.gz");
    let mut p = decode(
        flate2::read::GzDecoder::new(raw.as_slice()),
        Path::new(name),
    )
    .unwrap();
    edit(&mut p);
    let path = dir.join(name);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&p.encode_to_vec()).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    path
}

/// Index of a sample type in the profile.
fn value_index(p: &Profile, ty: &str) -> usize {
    p.sample_type
        .iter()
        .position(|t| p.string_table[t.r#type as usize] == ty)
        .unwrap()
}

#[test]
fn go_profiles_out_of_order_restarted_or_of_another_program_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = go_heap(dir.path(), "base.pb", |_| {});
    let later = go_heap(dir.path(), "later.pb", |p| {
        p.time_nanos += 30_000_000_000;
        let i = value_index(p, "alloc_space");
        for s in &mut p.sample {
            s.value[i] += 4096;
        }
    });
    if let Err(e) = diff_snapshots(&[base.clone(), later.clone()], &DiffOptions::default()) {
        panic!("{e:?}");
    }

    let m = incompatible(&[later.clone(), base.clone()]);
    assert!(m.contains("base.pb was taken 30.0 s before"), "{m}");
    assert!(
        m.contains("later.pb: give the profiles oldest first"),
        "{m}"
    );

    // Later in time but with less allocated since start: the process was restarted.
    let restarted = go_heap(dir.path(), "restarted.pb", |p| {
        p.time_nanos += 60_000_000_000;
        let i = value_index(p, "alloc_space");
        for s in &mut p.sample {
            s.value[i] /= 2;
        }
    });
    let m = incompatible(&[base.clone(), restarted]);
    assert!(
        m.contains("restarted.pb counts fewer bytes allocated"),
        "{m}"
    );
    assert!(m.contains("restarted"), "{m}");

    let other = go_heap(dir.path(), "other.pb", |p| {
        p.time_nanos += 60_000_000_000;
        p.string_table
            .push("/usr/local/bin/another-service".to_owned());
        let name = p.string_table.len() as i64 - 1;
        if let Some(m) = p.mapping.first_mut() {
            m.filename = name;
        }
    });
    let m = incompatible(&[base, other]);
    assert!(m.contains("different programs"), "{m}");
    assert!(m.contains("another-service"), "{m}");
}

/// The same dump under another name (a copy, a gzipped copy) is refused: nothing can grow
/// between a snapshot and itself, and a copy at the end read as "stopped growing" hid a leak
/// (the version before: "intermittent, no leak" for three HPROF dumps and a copy of the last).
#[test]
fn the_same_dump_under_another_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_764_000_000_000;
    let a = dir.path().join("a.hprof");
    std::fs::write(&a, hprof_seed_at(false, t0)).unwrap();
    let b = dir.path().join("b.hprof");
    std::fs::write(&b, hprof_seed_at(false, t0 + 60_000)).unwrap();
    let copy = dir.path().join("copy.hprof");
    std::fs::copy(&b, &copy).unwrap();
    let m = incompatible(&[a.clone(), b.clone(), copy]);
    assert!(m.contains("copy.hprof is the same snapshot as"), "{m}");
    assert!(m.contains("b.hprof"), "{m}");

    let v1 = write(
        dir.path(),
        "s1.heapsnapshot",
        &service(5, 0, 1000).json(),
        false,
    );
    let v2 = write(
        dir.path(),
        "s2.heapsnapshot",
        &service(9, 0, 1000).json(),
        false,
    );
    let v2gz = write(
        dir.path(),
        "s2.heapsnapshot.gz",
        &service(9, 0, 1000).json(),
        true,
    );
    let m = incompatible(&[v1, v2, v2gz]);
    assert!(
        m.contains("s2.heapsnapshot.gz is the same snapshot as"),
        "{m}"
    );

    let g1 = go_heap(dir.path(), "g1.pb", |_| {});
    let g2 = go_heap(dir.path(), "g2.pb", |p| p.time_nanos += 30_000_000_000);
    let g2copy = dir.path().join("g2copy.pb");
    std::fs::copy(&g2, &g2copy).unwrap();
    let m = incompatible(&[g1, g2, g2copy]);
    assert!(m.contains("g2copy.pb is the same profile as"), "{m}");
}

/// Mixed formats and mixed profile kinds name both files and say what each is in words
/// ("an HPROF dump", not the type's name "Hprof").
#[test]
fn mixed_formats_and_kinds_name_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let v8 = write(
        dir.path(),
        "s1.heapsnapshot",
        &service(5, 0, 1000).json(),
        false,
    );
    let hprof = dir.path().join("d.hprof");
    std::fs::write(&hprof, hprof_seed_at(false, 1_764_000_000_000)).unwrap();
    let m = incompatible(&[v8, hprof]);
    assert!(
        m.contains("d.hprof is an HPROF dump but") && m.contains("is a V8 heap snapshot"),
        "{m}"
    );
    let heap = go_heap(dir.path(), "heap.pb", |_| {});
    let goroutines = dir.path().join("goroutine.pb.gz");
    std::fs::write(&goroutines, fixture("go-goroutine.pb.gz")).unwrap();
    let m = incompatible(&[heap, goroutines]);
    assert!(
        m.contains("heap.pb and") && m.contains("goroutine.pb.gz are of different kinds"),
        "{m}"
    );
}
