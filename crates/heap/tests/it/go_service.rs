//! The Go test service (`testapps/go`) driven over 127.0.0.1 with real pprof profiles.

use leakhound_heap::diff::{GroupClass, Verdict};
use leakhound_heap::{DiffOptions, diff_snapshots};

use crate::service::{Service, build_go};

#[test]
fn go_service_leaks_are_first_and_no_trap_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bin = build_go(dir.path(), ".", "goservice");
    let svc = Service::start(std::process::Command::new(&bin));
    let (mut heaps, mut gors) = (Vec::new(), Vec::new());
    let mut id = 0;
    for s in 0..4 {
        let h = dir.path().join(format!("heap{s}.pb.gz"));
        std::fs::write(&h, svc.get("/debug/pprof/heap?gc=1")).unwrap();
        let g = dir.path().join(format!("goroutine{s}.pb.gz"));
        std::fs::write(&g, svc.get("/debug/pprof/goroutine")).unwrap();
        heaps.push(h);
        gors.push(g);
        if s == 3 {
            break;
        }
        for _ in 0..300 {
            id += 1;
            svc.get(&format!("/work?id={id}"));
        }
    }
    drop(svc);
    let g = diff_snapshots(&gors, &DiffOptions::default()).unwrap();
    assert_eq!(g.verdict, Verdict::Leak);
    assert_eq!(
        g.findings[0].type_name, "main.watch blocked in runtime.chanrecv1",
        "{g:#?}"
    );
    assert_eq!(g.findings[0].count_delta, vec![300, 300, 300]);
    assert!(
        g.findings[0]
            .hint
            .starts_with("goroutine blocked on a channel")
    );
    let h = diff_snapshots(&heaps, &DiffOptions { top: 20 }).unwrap();
    assert_eq!(h.verdict, Verdict::Leak);
    assert_eq!(h.findings[0].type_name, "main.remember", "{h:#?}");
    // The same profiles uncompressed (`gunzip`, or `?debug=0` piped through it) read the same.
    let plain: Vec<_> = heaps
        .iter()
        .map(|p| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap()),
                &mut bytes,
            )
            .unwrap();
            let q = p.with_extension("");
            std::fs::write(&q, bytes).unwrap();
            q
        })
        .collect();
    let hp = diff_snapshots(&plain, &DiffOptions { top: 20 }).unwrap();
    assert_eq!(hp.verdict, h.verdict);
    assert_eq!(hp.findings[0].type_name, "main.remember");
    assert_eq!(hp.findings[0].bytes_delta, h.findings[0].bytes_delta);
    assert_eq!(h.findings[0].class, GroupClass::Leak);
    for trap in ["main.buildTable", "main.renderPage", "main.logLine"] {
        if let Some(f) = h.findings.iter().find(|f| f.type_name == trap) {
            assert_ne!(f.class, GroupClass::Leak, "trap {trap}: {f:#?}");
        }
    }
}
