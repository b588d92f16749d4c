//! `leakhound analyze` on what a real Prometheus answers: two `lh-testserver`s under load (one
//! leaking 16 KiB per request, one with a bounded cache that fills and stops), scraped every
//! second by the Debian package's `prometheus` started here, queried over
//! `/api/v1/query_range` and saved as `curl` would save it; memory per request served from one
//! answer holding both the memory and the request counter.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::load::Server;
use crate::support::{free_port, json_lines, leakhound, leakhound_path};

/// `prometheus` on the PATH (`.ci/run` installs the Debian package).
fn prometheus_binary() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("prometheus"))
        .find(|p| p.is_file())
        .expect("prometheus is not installed: apt-get install -y prometheus (.ci/run does)")
}

/// A Prometheus server, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, targets: &[(&str, &str)]) -> Prometheus {
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for (job, url) in targets {
            let host = url.trim_start_matches("http://");
            config.push_str(&format!(
                "  - job_name: {job}\n    static_configs:\n      - targets: ['{host}']\n"
            ));
        }
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn prometheus");
        let p = Prometheus { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_get(p.port, "/-/ready").map(|(code, _)| code) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "prometheus not ready after 60 s: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `path` from 127.0.0.1:`port` (HTTP/1.0, so the body is not chunked): status and body.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_string()))
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_query_range_answer_from_a_real_prometheus_is_judged_as_saved() {
    let leaky = Server::start(&["--leak-bytes", "16384"]);
    let cached = Server::start(&["--cache-entries", "1000", "--cache-bytes", "8192"]);
    let dir = tempfile::tempdir().unwrap();
    let prom = Prometheus::start(
        dir.path(),
        &[("leaky", &leaky.url), ("cached", &cached.url)],
    );
    let start = unix_now();
    // 45 s at 200 requests per second on each: the leak keeps 3.2 MB/s, the cache fills 8 MB
    // in 5 s and stays.
    let load = |url: &str| {
        Command::new(leakhound_path())
            .args([
                "load",
                &format!("{url}/"),
                "--rate",
                "200",
                "--duration",
                "45s",
            ])
            .args(["--quiet", "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn leakhound load")
    };
    let mut drivers = [load(&leaky.url), load(&cached.url)];
    for d in &mut drivers {
        assert!(d.wait().unwrap().success(), "leakhound load failed");
    }
    // One more scrape after the load.
    std::thread::sleep(Duration::from_secs(2));
    let end = unix_now();
    let save = |query: &str, name: &str| {
        // Percent-encoded: PromQL has braces, quotes and `=~`.
        let query: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => char::from(b).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (code, body) = http_get(
            prom.port,
            &format!("/api/v1/query_range?query={query}&start={start:.3}&end={end:.3}&step=1"),
        )
        .expect("prometheus answers");
        assert_eq!(code, 200, "{body}");
        let f = dir.path().join(name);
        std::fs::write(&f, body).unwrap();
        f
    };
    let mem = save("process_resident_memory_bytes", "memory.json");
    let fds = save("process_open_fds", "fds.json");
    let out = leakhound()
        .args(["analyze", "--json"])
        .arg(&mem)
        .arg(&fds)
        .assert()
        .code(1);
    let recs = json_lines(&out.get_output().stdout);
    let find = |metric: &str, job: &str| {
        recs.iter()
            .find(|r| {
                let s = r["series"].as_str().unwrap();
                s.starts_with(metric) && s.contains(&format!("job=\"{job}\""))
            })
            .unwrap_or_else(|| panic!("no {metric} of {job} in {recs:#?}"))
    };
    let leak = find("process_resident_memory_bytes", "leaky");
    assert_eq!(leak["unit"], "bytes");
    assert_eq!(leak["verdict"], "leak", "{leak:#}");
    // 16 KiB × 200/s = 3.3 MB/s retained; RSS grows by at least most of it.
    let rate = leak["rate_per_s"].as_f64().unwrap();
    assert!((2.0e6..4.0e6).contains(&rate), "{leak:#}");
    let cache = find("process_resident_memory_bytes", "cached");
    assert_eq!(
        cache["verdict"],
        "no_leak",
        "{cache:#}\n{}",
        std::fs::read_to_string(&mem).unwrap()
    );
    for job in ["leaky", "cached"] {
        let f = find("process_open_fds", job);
        assert_eq!(f["unit"], "fds");
        assert_eq!(f["verdict"], "no_leak", "{f:#}");
    }
    // Memory and the request counter of one job in one answer: memory retained per request
    // served, the counter named by its metric alone.
    let both = save(
        r#"{__name__=~"process_resident_memory_bytes|lh_requests_total",job="leaky"}"#,
        "both.json",
    );
    let out = leakhound()
        .args(["analyze", "--json", "--requests", "lh_requests_total"])
        .arg(&both)
        .assert()
        .code(1);
    let per = json_lines(&out.get_output().stdout);
    assert_eq!(per.len(), 1, "{per:#?}");
    assert_eq!(per[0]["mode"], "per_request");
    assert_eq!(per[0]["verdict"], "leak");
    // The server keeps 16 KiB per request; RSS counts it in whole pages.
    let per_request = per[0]["rate_per_s"].as_f64().unwrap();
    assert!(
        (per_request - 16384.0).abs() < 0.1 * 16384.0,
        "{:#}",
        per[0]
    );
    // The human output gives the series as Prometheus names them.
    leakhound()
        .arg("analyze")
        .arg(&mem)
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "process_resident_memory_bytes{instance=\"127.0.0.1:",
        ));
}
