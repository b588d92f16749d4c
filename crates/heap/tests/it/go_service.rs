//! The Go test service (`testapps/go`) driven over 127.0.0.1 with real pprof profiles.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use leakhound_heap::diff::{GroupClass, Verdict};
use leakhound_heap::{DiffOptions, diff_snapshots};

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the go service");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(out.starts_with(b"HTTP/1.0 200"), "{path}");
    let body = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("http header end")
        + 4;
    out[body..].to_vec()
}

#[test]
fn go_service_leaks_are_first_and_no_trap_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testapps/go");
    let bin = dir.path().join("goservice");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .env("GOCACHE", dir.path().join("gocache"))
        .env("GOFLAGS", "-mod=mod")
        .status()
        .expect("go is required for this test (apt-get install golang-go)");
    assert!(built.success());
    let mut child = Command::new(&bin).stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let svc = Service(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port: u16 = line
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .expect("port line");
    let (mut heaps, mut gors) = (Vec::new(), Vec::new());
    let mut id = 0;
    for s in 0..4 {
        let h = dir.path().join(format!("heap{s}.pb.gz"));
        std::fs::write(&h, get(port, "/debug/pprof/heap?gc=1")).unwrap();
        let g = dir.path().join(format!("goroutine{s}.pb.gz"));
        std::fs::write(&g, get(port, "/debug/pprof/goroutine")).unwrap();
        heaps.push(h);
        gors.push(g);
        if s == 3 {
            break;
        }
        for _ in 0..300 {
            id += 1;
            get(port, &format!("/work?id={id}"));
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
    assert_eq!(h.findings[0].class, GroupClass::Leak);
    for trap in ["main.buildTable", "main.renderPage", "main.logLine"] {
        if let Some(f) = h.findings.iter().find(|f| f.type_name == trap) {
            assert_ne!(f.class, GroupClass::Leak, "trap {trap}: {f:#?}");
        }
    }
}
