//! The Java test service (`testapps/java`) driven over 127.0.0.1, dumped with `jcmd`.

use std::process::{Command, Stdio};

use leakhound_heap::diff::{GroupClass, Verdict};
use leakhound_heap::{DiffOptions, HeapError, diff_snapshots, v8};

use crate::service::{Service, testapp};

#[test]
fn java_service_leak_is_first_and_no_trap_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = testapp("java/LeakService.java");
    let classes = dir.path().join("classes");
    let ok = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .expect("javac");
    assert!(ok.success());
    let mut java = Command::new("java");
    java.args(["-Xmx256m", "-cp"])
        .arg(&classes)
        .arg("LeakService");
    let svc = Service::start(java);
    let pid = svc.pid().to_string();
    let mut dumps = Vec::new();
    let mut id = 0;
    for s in 0..4 {
        let p = dir.path().join(format!("s{s}.hprof"));
        let st = Command::new("jcmd")
            .arg(&pid)
            .arg("GC.heap_dump")
            .arg(&p)
            .stdout(Stdio::null())
            .status()
            .expect("jcmd");
        assert!(st.success() && p.exists());
        dumps.push(p);
        if s == 3 {
            break;
        }
        for _ in 0..200 {
            id += 1;
            svc.get(&format!("/work?id={id}"));
        }
    }
    drop(svc);
    let r = diff_snapshots(&dumps, &DiffOptions { top: 20 }).unwrap();
    assert_eq!(r.verdict, Verdict::Leak, "{r:#?}");
    let first = &r.findings[0];
    assert_eq!(first.type_name, "LeakService$SessionRecord", "{r:#?}");
    assert_eq!(first.count_delta, vec![200, 200, 200]);
    let path = first.retainer_path.as_deref().unwrap();
    assert!(
        path.contains("class LeakService$SessionRegistry.SESSIONS"),
        "{path}"
    );
    assert!(
        first.hint.starts_with("static map never pruned"),
        "{}",
        first.hint
    );
    for f in &r.findings {
        if f.type_name.ends_with("[]") || f.type_name.starts_with("java.") {
            assert_ne!(
                f.class,
                GroupClass::Leak,
                "generic owner reported as a leak: {f:?}"
            );
        }
        for trap in ["PageCache", "CountryTable", "LogRing"] {
            if f.type_name.contains(trap) {
                assert_eq!(f.class, GroupClass::WarmUp, "trap {trap}: {f:?}");
            }
        }
    }
    // A dump cut anywhere is an error naming an offset, never a panic.
    let bytes = std::fs::read(&dumps[0]).unwrap();
    let cut = dir.path().join("cut.hprof");
    for k in 1..200 {
        let at = bytes.len() * k / 200;
        std::fs::write(&cut, &bytes[..at]).unwrap();
        match v8::read_path(&cut) {
            Err(HeapError::Malformed { .. } | HeapError::Format { .. }) => {}
            Err(e) => panic!("cut at {at}: {e}"),
            Ok(_) => panic!("dump cut at {at} of {} accepted", bytes.len()),
        }
    }
}
