//! One HTTP/1.x client connection, driven inside the task that uses it.
//!
//! hyper's usual pattern spawns the connection future as its own task; here the request and the
//! connection future are polled together in the worker's task (`select!`), which saves a
//! cross-task wake-up per request and is what lets the closed model keep up with wrk. Errors are
//! sorted into the kinds the summary reports.
//!
//! Keep-alive is handled the way wrk, oha and hyper's pooled client do it:
//! * a connection the peer closed while it sat idle is noticed before the next request is
//!   written (the connection future is polled once first: an idle connection that reached EOF
//!   finishes there, a cheap check that needs no extra system call when nothing arrived);
//! * when the peer closes a connection that was not opened for this request (it carried earlier
//!   responses, or was opened ahead and sat idle) after the request left but before any byte of
//!   the response arrived (the race with a server's idle timeout), the exchange reports
//!   [`Fail::Stale`] and the caller retries once on a fresh connection; a request that is not
//!   idempotent (`POST`, `PATCH`) only when none of it was written (RFC 9110 §9.2.2: the server
//!   may have acted on it), else it fails as a reset;
//! * `Connection: close`, an HTTP/1.0 answer without `Connection: keep-alive`, and an idle time
//!   past the server's `Keep-Alive: timeout=N` make the connection not reusable;
//! * a response whose connection finishes with it (HTTP/1.0, `Connection: close`, a body
//!   delimited by the close) is read to its end before the connection is dropped.
//!
//! Not here: timing, retries and statistics (`driver`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::header::{CONNECTION, HeaderMap, HeaderName};
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// TCP connect failed (refused, unreachable).
    Connect,
    /// The connection closed or reset with the request outstanding.
    Reset,
    /// The connection was closed by the peer before any byte of the response arrived, and either
    /// the request never left or the connection was not opened for it (an idle keep-alive
    /// connection the server closed). Reconnect and retry once; this is not the target's fault.
    Stale,
    /// Malformed response or another protocol error.
    Other,
}

/// Read buffer per connection: room for the headers of any ordinary response and a small
/// body in one read.
const READ_BUF: usize = 16 * 1024;

/// A connection is given up this long before the idle time the server announced in
/// `Keep-Alive: timeout=N` runs out: the server's clock starts when it sends the response, ours
/// when it arrives, and a request needs a moment to reach it. A quarter of a second covers both
/// on a test machine; a request that still loses the race is retried (`Fail::Stale`).
const KEEP_ALIVE_MARGIN: Duration = Duration::from_millis(250);

/// The `Keep-Alive` response header (RFC 2068 §19.7.1; not in `http`'s constants).
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

type ConnFuture = Pin<Box<Connection<TokioIo<CountingStream>, Full<Bytes>>>>;

/// A TCP stream that counts the bytes read from and written to it, so that a failed exchange
/// can tell whether any byte of the response arrived (a retry is then unsafe) and whether any
/// byte of the request left (a retry of a request that is not idempotent is then unsafe).
struct CountingStream {
    inner: TcpStream,
    read: Arc<AtomicU64>,
    written: Arc<AtomicU64>,
}

impl AsyncRead for CountingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl AsyncWrite for CountingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A connected HTTP/1.x client connection.
pub(crate) struct Conn {
    tx: SendRequest<Full<Bytes>>,
    /// The connection future; `None` once it has finished (the connection is closed).
    driver: Option<ConnFuture>,
    /// Bytes read from the socket so far.
    read: Arc<AtomicU64>,
    /// Bytes written to it so far.
    written: Arc<AtomicU64>,
    /// False once the peer said it will close (or did).
    reusable: bool,
    /// When the last response ended.
    idle_since: Instant,
    /// The idle time the server announced (`Keep-Alive: timeout=N`).
    keep_alive: Option<Duration>,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> Result<Conn, Fail> {
        let stream = TcpStream::connect(addr).await.map_err(|_| Fail::Connect)?;
        // Requests are small and latency-sensitive; never wait for Nagle.
        stream.set_nodelay(true).map_err(|_| Fail::Connect)?;
        let read = Arc::new(AtomicU64::new(0));
        let written = Arc::new(AtomicU64::new(0));
        let io = CountingStream {
            inner: stream,
            read: read.clone(),
            written: written.clone(),
        };
        let (tx, driver) = hyper::client::conn::http1::Builder::new()
            // One flat buffer per request and one `write` instead of `writev`, and a fixed read
            // buffer instead of the adaptive one: less copying for small keep-alive exchanges.
            .writev(false)
            .read_buf_exact_size(Some(READ_BUF))
            .handshake(TokioIo::new(io))
            .await
            .map_err(|_| Fail::Connect)?;
        Ok(Conn {
            tx,
            driver: Some(Box::pin(driver)),
            read,
            written,
            reusable: true,
            idle_since: Instant::now(),
            keep_alive: None,
        })
    }

    /// Whether another request may be sent on this connection at `now`, as far as we know
    /// without I/O: the peer has not closed it or said it would, and it has not been idle past
    /// the server's announced keep-alive timeout.
    pub(crate) fn is_reusable(&self, now: Instant) -> bool {
        self.reusable
            && self.driver.is_some()
            && !self.tx.is_closed()
            && self.keep_alive.is_none_or(|t| {
                now.saturating_duration_since(self.idle_since) + KEEP_ALIVE_MARGIN < t
            })
    }

    /// Send one request and read the whole response body. `fresh`: the connection was opened for
    /// this request (a close without an answer is then the target's failure, never
    /// [`Fail::Stale`]). The caller bounds the time.
    pub(crate) async fn exchange(
        &mut self,
        req: Request<Full<Bytes>>,
        fresh: bool,
    ) -> Result<StatusCode, Fail> {
        // Drive the connection once without waiting: an idle connection whose peer has closed
        // it reads EOF and finishes here, before the request is written.
        if let Some(d) = self.driver.as_mut() {
            let polled = std::future::poll_fn(|cx| Poll::Ready(d.as_mut().poll(cx))).await;
            if polled.is_ready() {
                self.driver = None;
            }
        }
        if self.driver.is_none() || self.tx.is_closed() {
            self.reusable = false;
            return Err(Fail::Stale);
        }
        let read_before = self.read.load(Ordering::Relaxed);
        let written_before = self.written.load(Ordering::Relaxed);
        let idempotent = req.method().is_idempotent();
        let r = {
            let Conn { tx, driver, .. } = self;
            let work = async {
                // Fails only when the connection is closed: the request did not leave.
                tx.ready().await.map_err(|_| Fail::Stale)?;
                let resp = tx.send_request(req).await.map_err(|e| classify(&e))?;
                let policy = connection_policy(&resp);
                // Read the body to its end (keep-alive needs that) without keeping it.
                let mut body = resp.into_body();
                while let Some(frame) = body.frame().await {
                    frame.map_err(|e| classify(&e))?;
                }
                Ok(policy)
            };
            tokio::pin!(work);
            let first = match driver.as_mut() {
                Some(d) => tokio::select! {
                    biased;
                    r = &mut work => Some(r),
                    _ = d.as_mut() => None,
                },
                None => None,
            };
            match first {
                Some(r) => r,
                None => {
                    // The connection finished. After a response that closes it (HTTP/1.0,
                    // `Connection: close`, a body delimited by the close) the response and its
                    // body are already buffered; after a reset the request fails. Either way it
                    // ends without more I/O.
                    *driver = None;
                    work.await
                }
            }
        };
        match r {
            Ok((status, close, keep_alive)) => {
                self.idle_since = Instant::now();
                if close {
                    self.reusable = false;
                }
                if keep_alive.is_some() {
                    self.keep_alive = keep_alive;
                }
                Ok(status)
            }
            Err(f) => {
                self.reusable = false;
                let nothing_back = self.read.load(Ordering::Relaxed) == read_before;
                let nothing_sent = self.written.load(Ordering::Relaxed) == written_before;
                match f {
                    // The peer closed a connection that had been waiting (it carried earlier
                    // responses or was opened ahead) and nothing of this response came back:
                    // the race with an idle timeout, safe to retry unless the request is not
                    // idempotent and left (the server may have acted on it).
                    Fail::Reset if !fresh && nothing_back && (idempotent || nothing_sent) => {
                        Err(Fail::Stale)
                    }
                    f => Err(f),
                }
            }
        }
    }
}

/// The status, whether the server will close the connection after this response, and the
/// idle timeout it announced.
fn connection_policy<B>(resp: &Response<B>) -> (StatusCode, bool, Option<Duration>) {
    let headers = resp.headers();
    let close = has_token(headers, "close")
        || (resp.version() <= Version::HTTP_10 && !has_token(headers, "keep-alive"));
    (resp.status(), close, keep_alive_timeout(headers))
}

/// Whether a `Connection` header lists `token` (case-insensitive, comma-separated lists).
fn has_token(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `timeout=N` (seconds) from a `Keep-Alive: timeout=N, max=M` header.
fn keep_alive_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(KEEP_ALIVE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            if !k.trim().eq_ignore_ascii_case("timeout") {
                return None;
            }
            let secs: u64 = v.trim().trim_matches('"').parse().ok()?;
            Some(Duration::from_secs(secs))
        })
}

fn classify(e: &hyper::Error) -> Fail {
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        Fail::Other
    } else {
        // Closed, canceled, incomplete message, or an I/O error (ECONNRESET, EPIPE).
        Fail::Reset
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn resp(version: Version, headers: &[(&str, &str)]) -> Response<()> {
        let mut r = Response::new(());
        *r.version_mut() = version;
        for (k, v) in headers {
            r.headers_mut().append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        r
    }

    #[test]
    fn connection_close_and_http10_are_not_reused() {
        let close = |v, h: &[(&str, &str)]| connection_policy(&resp(v, h)).1;
        assert!(!close(Version::HTTP_11, &[]));
        assert!(close(Version::HTTP_11, &[("connection", "Close")]));
        assert!(close(Version::HTTP_11, &[("connection", "upgrade, close")]));
        assert!(close(Version::HTTP_10, &[]));
        assert!(!close(Version::HTTP_10, &[("connection", "Keep-Alive")]));
        assert!(close(
            Version::HTTP_10,
            &[("connection", "keep-alive"), ("connection", "close")]
        ));
    }

    #[test]
    fn keep_alive_timeout_is_read() {
        let ka = |h: &[(&str, &str)]| connection_policy(&resp(Version::HTTP_11, h)).2;
        assert_eq!(
            ka(&[("keep-alive", "timeout=5")]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            ka(&[("keep-alive", "max=100, Timeout = 2")]),
            Some(Duration::from_secs(2))
        );
        assert_eq!(ka(&[("keep-alive", "max=100")]), None);
        assert_eq!(ka(&[("keep-alive", "timeout=soon")]), None);
        assert_eq!(ka(&[]), None);
    }
}
