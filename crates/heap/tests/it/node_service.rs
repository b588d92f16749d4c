//! The Node test service (`testapps/node/server.js`) driven over 127.0.0.1 with real snapshots.

use std::process::Command;

use leakhound_heap::diff::{GroupClass, Verdict};
use leakhound_heap::{DiffOptions, diff_snapshots};

use crate::service::{Service, testapp};

#[test]
fn node_service_leak_is_first_and_no_trap_is_reported() {
    if Command::new("node").arg("--version").output().is_err() {
        panic!("node is required for this test (testapps/node)");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut node = Command::new("node");
    node.arg(testapp("node/server.js"));
    let svc = Service::start(node);
    let mut snaps = Vec::new();
    let mut id = 0;
    for s in 0..4 {
        let p = dir.path().join(format!("s{s}.heapsnapshot"));
        svc.get(&format!("/snapshot?path={}", p.display()));
        snaps.push(p);
        if s == 3 {
            break;
        }
        for _ in 0..250 {
            id += 1;
            svc.get(&format!("/work?id={id}"));
        }
    }
    drop(svc);
    let r = diff_snapshots(&snaps, &DiffOptions { top: 20 }).unwrap();
    assert_eq!(r.verdict, Verdict::Leak, "{r:#?}");
    let first = &r.findings[0];
    assert_eq!(first.type_name, "RequestContext", "{r:#?}");
    assert_eq!(first.class, GroupClass::Leak);
    assert_eq!(first.count_delta, vec![250, 250, 250]);
    let path = first.retainer_path.as_deref().unwrap();
    assert!(path.contains("ConfigBus._events"), "{path}");
    assert!(path.ends_with("RequestContext"), "{path}");
    assert!(
        first.location.as_deref().unwrap().contains("server.js:"),
        "{first:?}"
    );
    assert!(
        first.hint.starts_with("listener never removed"),
        "{}",
        first.hint
    );
    for trap in ["LruCache", "CountryTable", "RingBuffer"] {
        if let Some(f) = r.findings.iter().find(|f| f.type_name == trap) {
            assert_eq!(
                f.class,
                GroupClass::WarmUp,
                "trap {trap} reported as {:?}",
                f.class
            );
        }
    }
    // Two snapshots after warm-up: growth, but it cannot be told apart from warm-up.
    let r2 = diff_snapshots(&snaps[1..3], &DiffOptions::default()).unwrap();
    assert_eq!(r2.verdict, Verdict::Inconclusive);
    // Newest first is refused, not read as memory given back ("no leak"): most of the newest
    // snapshot's objects are not in the older ones, but the older ones' are in it, so their
    // ids are the same objects' and falling ids give the order away.
    let reversed: Vec<_> = snaps.iter().rev().cloned().collect();
    match diff_snapshots(&reversed, &DiffOptions::default()) {
        Err(leakhound_heap::HeapError::Incompatible(m)) => {
            assert!(m.contains("newest first"), "{m}")
        }
        other => panic!("newest first was not refused: {other:?}"),
    }
}
