//! `testapps/go/twopaths`: one allocating function (`main.store`) reached from two handlers, one
//! of which keeps what it stores. Real heap profiles over 127.0.0.1; the per-stack breakdown must
//! name the keeping handler's path as the leak and the freeing one's as not a leak.

use leakhound_heap::diff::{GroupClass, Verdict};
use leakhound_heap::{DiffOptions, diff_snapshots};

use crate::service::{Service, build_go};

/// Requests per handler between two profiles: 300 × 4 KiB ≈ 1.2 MiB per interval on the leaking
/// path, far above the sampling uncertainty at a 4 KiB sampling period (≈ ±0.1 MiB).
const REQUESTS_PER_PHASE: usize = 300;

#[test]
fn go_function_on_two_paths_names_the_leaking_stack_first() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_go(dir.path(), "./twopaths", "twopaths");
    let svc = Service::start(std::process::Command::new(&bin));
    let mut heaps = Vec::new();
    let mut id = 0;
    for s in 0..4 {
        let h = dir.path().join(format!("heap{s}.pb.gz"));
        std::fs::write(&h, svc.get("/debug/pprof/heap?gc=1")).unwrap();
        heaps.push(h);
        if s == 3 {
            break;
        }
        for _ in 0..REQUESTS_PER_PHASE {
            id += 1;
            svc.get(&format!("/keep?id={id}"));
            svc.get(&format!("/drop?id={id}"));
        }
    }
    drop(svc);
    let r = diff_snapshots(&heaps, &DiffOptions::default()).unwrap();
    assert_eq!(r.verdict, Verdict::Leak);
    let f = r
        .findings
        .iter()
        .find(|f| f.type_name == "main.store")
        .unwrap_or_else(|| panic!("no finding for main.store: {r:#?}"));
    assert_eq!(f.class, GroupClass::Leak, "{f:#?}");
    assert!(f.stacks_total.unwrap_or(0) >= 2, "{f:#?}");
    let first = &f.stacks[0];
    assert!(
        first
            .stack
            .starts_with("main.store <- main.keepHandler <- "),
        "{f:#?}"
    );
    assert_eq!(first.class, Some(GroupClass::Leak), "{f:#?}");
    assert!(first.grows.iter().all(|&g| g), "{f:#?}");
    // 300 × 4 KiB = 1.2 MiB per interval, 3.6 MiB over the three. A Go heap profile shows the
    // heap as of a recent GC cycle (it may lag the requests just served, even with ?gc=1), so one
    // interval can show part of its requests and the next the rest: check the total, with room
    // for the sampling error and one interval's lag.
    let total: i64 = first.bytes_delta.iter().sum();
    assert!((1200 << 10..7200 << 10).contains(&total), "{f:#?}");
    let drop_path = f
        .stacks
        .iter()
        .find(|s| s.stack.starts_with("main.store <- main.dropHandler <- "))
        .unwrap_or_else(|| panic!("the freeing path is listed: {f:#?}"));
    assert_eq!(drop_path.class, None, "{f:#?}");
    assert!(
        f.stacks
            .iter()
            .all(|s| s.class != Some(GroupClass::Leak) || s.stack.contains("main.keepHandler")),
        "{f:#?}"
    );
    let path = f.retainer_path.as_deref().unwrap();
    assert!(path.starts_with(&first.stack), "{path}");
    assert!(path.contains("sampled every 4096 bytes"), "{path}");
    assert!(f.location.as_deref().is_some_and(|l| l.contains("main.go")));
}
