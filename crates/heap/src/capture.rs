//! Taking snapshots from running processes: Node through the inspector protocol, Java with
//! `jcmd PID GC.heap_dump`, Go from `net/http/pprof` endpoints. Only 127.0.0.1 is ever contacted.
//!
//! Not for reading the files (see `v8`, `hprof`, `pprof`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Failure to take a snapshot; names the target.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The target could not be reached or refused.
    #[error("failed to take a snapshot of {target}: {what}")]
    Target {
        /// PID or address.
        target: String,
        /// What went wrong.
        what: String,
    },
    /// The output file could not be written.
    #[error("failed to write {path}: {err}")]
    Write {
        /// Output file.
        path: std::path::PathBuf,
        /// Cause.
        #[source]
        err: std::io::Error,
    },
}

fn target_err(target: &str, what: impl Into<String>) -> CaptureError {
    CaptureError::Target {
        target: target.to_owned(),
        what: what.into(),
    }
}

/// How long to wait for an inspector to open or a dump to finish.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Plain HTTP/1.0 GET against 127.0.0.1; returns the body.
pub fn http_get(port: u16, path: &str, target: &str) -> Result<Vec<u8>, CaptureError> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| target_err(target, format!("cannot connect to 127.0.0.1:{port} ({e})")))?;
    s.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| target_err(target, e.to_string()))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n")
        .map_err(|e| target_err(target, e.to_string()))?;
    // Read until the body is complete: some servers (Node's inspector) keep the connection
    // open after the response, so end of stream cannot be relied on.
    let mut out = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    let body = loop {
        let n = s
            .read(&mut buf)
            .map_err(|e| target_err(target, e.to_string()))?;
        out.extend_from_slice(&buf[..n]);
        if let Some(h) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&out[..h]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if n == 0 || len.is_some_and(|len| out.len() >= h + 4 + len) {
                break h;
            }
        } else if n == 0 {
            return Err(target_err(target, "malformed HTTP response"));
        }
    };
    let head = String::from_utf8_lossy(&out[..body]);
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(target_err(
            target,
            format!("GET {path}: {}", head.lines().next().unwrap_or("")),
        ));
    }
    Ok(out[body + 4..].to_vec())
}

/// Where a snapshot is written until it is complete: `<out>.partial`, renamed to `out` at the
/// end, so an interrupted or failed snapshot never leaves a truncated file under the name asked
/// for.
fn partial_path(out: &Path) -> std::path::PathBuf {
    let mut p = out.as_os_str().to_owned();
    p.push(".partial");
    std::path::PathBuf::from(p)
}

/// Run `write` against the partial file, then rename it to `out`; the partial file is removed
/// when `write` fails.
fn write_atomically(
    out: &Path,
    write: impl FnOnce(&Path) -> Result<(), CaptureError>,
) -> Result<(), CaptureError> {
    let partial = partial_path(out);
    let r = write(&partial).and_then(|()| {
        std::fs::rename(&partial, out).map_err(|err| CaptureError::Write {
            path: out.to_owned(),
            err,
        })
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    r
}

fn write_file(out: &Path, bytes: &[u8]) -> Result<(), CaptureError> {
    write_atomically(out, |p| {
        std::fs::write(p, bytes).map_err(|err| CaptureError::Write {
            path: out.to_owned(),
            err,
        })
    })
}

/// Go: `/debug/pprof/heap?gc=1` into `out`, and the goroutine profile next to it
/// (`<out>.goroutine.pb.gz`). `target` is `PORT` or `127.0.0.1:PORT`.
pub fn go(target: &str, out: &Path) -> Result<std::path::PathBuf, CaptureError> {
    let port = parse_port(target)?;
    write_file(out, &http_get(port, "/debug/pprof/heap?gc=1", target)?)?;
    let mut g = out.as_os_str().to_owned();
    g.push(".goroutine.pb.gz");
    let g = std::path::PathBuf::from(g);
    write_file(&g, &http_get(port, "/debug/pprof/goroutine", target)?)?;
    Ok(g)
}

fn parse_port(target: &str) -> Result<u16, CaptureError> {
    let p = target
        .strip_prefix("127.0.0.1:")
        .or_else(|| target.strip_prefix("localhost:"))
        .unwrap_or(target);
    p.parse()
        .map_err(|_| target_err(target, "expected PORT or 127.0.0.1:PORT"))
}

/// Java: `jcmd PID GC.heap_dump OUT` (OUT made absolute: jcmd resolves it in the target's cwd).
pub fn java(pid: &str, out: &Path) -> Result<(), CaptureError> {
    let abs = std::path::absolute(out).map_err(|err| CaptureError::Write {
        path: out.to_owned(),
        err,
    })?;
    write_atomically(&abs, |partial| {
        // jcmd refuses to overwrite a file.
        let _ = std::fs::remove_file(partial);
        let o = Command::new("jcmd")
            .arg(pid)
            .arg("GC.heap_dump")
            .arg(partial)
            .output()
            .map_err(|e| target_err(pid, format!("cannot run jcmd ({e})")))?;
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        if !o.status.success() || !partial.exists() {
            return Err(target_err(
                pid,
                format!(
                    "jcmd GC.heap_dump failed: {}",
                    text.lines()
                        .filter(|l| !l.trim().is_empty())
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            ));
        }
        Ok(())
    })
}

/// Node: SIGUSR1 opens the inspector (default port 9229) when `target` is a PID; `target` may
/// also be `127.0.0.1:PORT` of an open inspector. Streams `HeapProfiler.takeHeapSnapshot`
/// chunks into `out`.
pub fn node(target: &str, out: &Path) -> Result<(), CaptureError> {
    let port = if let Some(p) = target.strip_prefix("127.0.0.1:") {
        p.parse().map_err(|_| target_err(target, "bad port"))?
    } else {
        let pid: u32 = target
            .parse()
            .map_err(|_| target_err(target, "expected a PID or 127.0.0.1:PORT"))?;
        let st = Command::new("kill")
            .arg("-USR1")
            .arg(pid.to_string())
            .status()
            .map_err(|e| target_err(target, e.to_string()))?;
        if !st.success() {
            return Err(target_err(target, "kill -USR1 failed (no such process?)"));
        }
        9229
    };
    let start = Instant::now();
    let list = loop {
        match http_get(port, "/json/list", target) {
            Ok(b) => break b,
            Err(e) if start.elapsed() > Duration::from_secs(10) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let list: serde_json::Value = serde_json::from_slice(&list)
        .map_err(|e| target_err(target, format!("bad /json/list ({e})")))?;
    let url = list
        .get(0)
        .and_then(|t| t.get("webSocketDebuggerUrl"))
        .and_then(|u| u.as_str())
        .ok_or_else(|| target_err(target, "inspector lists no debugger URL"))?
        .to_owned();
    // Always talk to 127.0.0.1:port ourselves; only the path of the advertised URL is used.
    let rest = url.strip_prefix("ws://").unwrap_or("");
    let (host, ws_path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = host.split(':').next().unwrap_or("");
    if host != "127.0.0.1" && host != "localhost" {
        return Err(target_err(
            target,
            format!("inspector is not on 127.0.0.1: {url}"),
        ));
    }
    let url = format!("ws://127.0.0.1:{port}{ws_path}");
    let stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| target_err(target, e.to_string()))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| target_err(target, e.to_string()))?;
    let (mut ws, _) = tungstenite::client::client(url.as_str(), stream)
        .map_err(|e| target_err(target, format!("WebSocket handshake failed ({e})")))?;
    let send = |ws: &mut tungstenite::WebSocket<TcpStream>, m: String| {
        ws.send(tungstenite::Message::Text(m.into()))
            .map_err(|e| target_err(target, e.to_string()))
    };
    send(&mut ws, r#"{"id":1,"method":"HeapProfiler.enable"}"#.into())?;
    send(
        &mut ws,
        r#"{"id":2,"method":"HeapProfiler.takeHeapSnapshot","params":{"reportProgress":false}}"#
            .into(),
    )?;
    write_atomically(out, |partial| stream_chunks(&mut ws, target, out, partial))?;
    let _ = ws.close(None);
    Ok(())
}

/// Read the inspector's `addHeapSnapshotChunk` messages into `partial` until the snapshot
/// request (id 2) is answered.
fn stream_chunks(
    ws: &mut tungstenite::WebSocket<TcpStream>,
    target: &str,
    out: &Path,
    partial: &Path,
) -> Result<(), CaptureError> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(partial).map_err(|err| {
        CaptureError::Write {
            path: out.to_owned(),
            err,
        }
    })?);
    loop {
        let msg = ws
            .read()
            .map_err(|e| target_err(target, format!("inspector connection: {e}")))?;
        let tungstenite::Message::Text(text) = msg else {
            continue;
        };
        let v: serde_json::Value =
            serde_json::from_str(text.as_str()).map_err(|e| target_err(target, e.to_string()))?;
        if v.get("method").and_then(|m| m.as_str()) == Some("HeapProfiler.addHeapSnapshotChunk") {
            if let Some(c) = v.pointer("/params/chunk").and_then(|c| c.as_str()) {
                file.write_all(c.as_bytes())
                    .map_err(|err| CaptureError::Write {
                        path: out.to_owned(),
                        err,
                    })?;
            }
        } else if v.get("id").and_then(|i| i.as_u64()) == Some(2) {
            if let Some(e) = v.get("error") {
                return Err(target_err(target, format!("takeHeapSnapshot: {e}")));
            }
            break;
        }
    }
    file.flush().map_err(|err| CaptureError::Write {
        path: out.to_owned(),
        err,
    })
}
