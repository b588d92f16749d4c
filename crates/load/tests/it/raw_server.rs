//! Tiny HTTP servers written on `std::net::TcpListener` (127.0.0.1 only), one thread per
//! connection, each with one connection-handling habit seen in real servers: HTTP/1.0 with one
//! answer per connection, idle keep-alive connections closed after a timeout (Node's
//! `keepAliveTimeout`), the request that arrives just as the server closes, and a server that
//! never answers. They count what they did, so a test can tell which client path was taken.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server treats its connections.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// `HTTP/1.0 200 OK`, one answer per connection, then close. The body is delimited by the
    /// close unless `content_length` (then `Content-Length` is sent, as Python's `http.server`
    /// does).
    Http10 { content_length: bool },
    /// HTTP/1.1 keep-alive; a connection idle for `after` is closed (FIN), like Node's
    /// `keepAliveTimeout`. `announce` adds `Keep-Alive: timeout=<after in s>`.
    IdleClose { after: Duration, announce: bool },
    /// HTTP/1.1 keep-alive; a request arriving on a connection idle for longer than `after`
    /// (since the last answer, or since it was accepted) is read and dropped unanswered and the
    /// connection closed: the request that crossed the server's close on the wire, made
    /// deterministic. Counted in `refused`.
    LazyExpire { after: Duration, announce: bool },
    /// HTTP/1.1 keep-alive without `Connection: close`, but only one answer per connection: the
    /// second request is not read and the connection is closed under it (RST). Counted in
    /// `refused`.
    OneAnswer,
    /// Every connection is closed as soon as a request arrives, unanswered. Counted in `refused`.
    NeverAnswer,
}

/// What the server did.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) answered: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// A running server; stops accepting when dropped.
pub(crate) struct RawServer {
    pub(crate) url: String,
    pub(crate) stats: Arc<Stats>,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

const BODY: &[u8] = b"hello from a raw test server\n";

/// Longest wait for the rest of a request once its first byte arrived.
const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection with no idle policy waits for the next request before giving up (the
/// load driver holds its connections to the end of a test; this only bounds a stray thread).
const MAX_IDLE: Duration = Duration::from_secs(30);

impl RawServer {
    pub(crate) fn start(mode: Mode) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stats.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if sp.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                st.connections.fetch_add(1, Ordering::Relaxed);
                let st = st.clone();
                std::thread::spawn(move || serve(stream, mode, &st));
            }
        });
        RawServer {
            url: format!("http://{addr}"),
            stats,
            addr,
            stop,
            accept: Some(accept),
        }
    }

    pub(crate) fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::Relaxed)
    }
    pub(crate) fn answered(&self) -> u64 {
        self.stats.answered.load(Ordering::Relaxed)
    }
    pub(crate) fn refused(&self) -> u64 {
        self.stats.refused.load(Ordering::Relaxed)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// Read one request (head and `Content-Length` body). `None` on EOF, timeout or junk.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<()> {
    let mut line = String::new();
    let mut content_length = 0usize;
    let mut first = true;
    loop {
        line.clear();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if first {
            // The first byte is in: the rest of the request must follow promptly.
            r.get_ref()
                .set_read_timeout(Some(REQUEST_READ_TIMEOUT))
                .ok()?;
            first = false;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            content_length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; content_length];
    r.read_exact(&mut body).ok()?;
    Some(())
}

fn answer(w: &mut TcpStream, head: &str, stats: &Stats) -> Option<()> {
    let mut out = head.as_bytes().to_vec();
    out.extend_from_slice(BODY);
    w.write_all(&out).ok()?;
    stats.answered.fetch_add(1, Ordering::Relaxed);
    Some(())
}

fn keep_alive_head(after: Duration, announce: bool) -> String {
    let mut h = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        BODY.len()
    );
    if announce {
        h.push_str(&format!(
            "Connection: keep-alive\r\nKeep-Alive: timeout={}\r\n",
            after.as_secs()
        ));
    }
    h.push_str("\r\n");
    h
}

fn serve(stream: TcpStream, mode: Mode, stats: &Stats) {
    let Ok(mut w) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    match mode {
        Mode::Http10 { content_length } => {
            let _ = r.get_ref().set_read_timeout(Some(MAX_IDLE));
            if read_request(&mut r).is_none() {
                return;
            }
            let head = if content_length {
                format!(
                    "HTTP/1.0 200 OK\r\nServer: raw/1.0\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    BODY.len()
                )
            } else {
                "HTTP/1.0 200 OK\r\nServer: raw/1.0\r\nContent-Type: text/plain\r\n\r\n".to_string()
            };
            let _ = answer(&mut w, &head, stats);
            // Dropping both halves closes the connection: the end of the body.
        }
        Mode::IdleClose { after, announce } => {
            let head = keep_alive_head(after, announce);
            loop {
                // Waiting for the next request is the idle time.
                if r.get_ref().set_read_timeout(Some(after)).is_err()
                    || read_request(&mut r).is_none()
                    || answer(&mut w, &head, stats).is_none()
                {
                    return;
                }
            }
        }
        Mode::LazyExpire { after, announce } => {
            let head = keep_alive_head(after, announce);
            let _ = r.get_ref().set_read_timeout(Some(MAX_IDLE));
            let mut last = std::time::Instant::now();
            loop {
                if read_request(&mut r).is_none() {
                    return;
                }
                let _ = r.get_ref().set_read_timeout(Some(MAX_IDLE));
                if last.elapsed() > after {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                if answer(&mut w, &head, stats).is_none() {
                    return;
                }
                last = std::time::Instant::now();
            }
        }
        Mode::OneAnswer => {
            let _ = r.get_ref().set_read_timeout(Some(MAX_IDLE));
            let head = keep_alive_head(Duration::ZERO, false);
            if read_request(&mut r).is_none() || answer(&mut w, &head, stats).is_none() {
                return;
            }
            // Wait until the next request is there, then close with it unread (a reset).
            let mut b = [0u8; 1];
            if matches!(r.get_ref().peek(&mut b), Ok(n) if n > 0) {
                stats.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
        Mode::NeverAnswer => {
            let _ = r.get_ref().set_read_timeout(Some(MAX_IDLE));
            if read_request(&mut r).is_some() {
                stats.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
