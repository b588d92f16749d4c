//! One HTTP/1.1 keep-alive connection, driven inside the task that uses it.
//!
//! hyper's usual pattern spawns the connection future as its own task; here the request and the
//! connection future are polled together in the worker's task (`select!`), which saves a
//! cross-task wake-up per request and is what lets the closed model keep up with wrk. Errors are
//! sorted into the kinds the summary reports. Not here: timing and statistics.

use std::net::SocketAddr;
use std::pin::Pin;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    /// TCP connect failed (refused, unreachable).
    Connect,
    /// The connection closed or reset with the request outstanding.
    Reset,
    /// The connection was found closed before the request was handed over: reconnect and
    /// retry, this is not the target's fault (an idle keep-alive connection was closed).
    NotSent,
    /// Malformed response or another protocol error.
    Other,
}

/// Read buffer per connection: room for the headers of any ordinary response and a small
/// body in one read.
const READ_BUF: usize = 16 * 1024;

type ConnFuture = Pin<Box<Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// A connected HTTP/1.1 client connection.
pub(crate) struct Conn {
    tx: SendRequest<Full<Bytes>>,
    driver: ConnFuture,
}

impl Conn {
    pub(crate) async fn open(addr: SocketAddr) -> Result<Conn, Fail> {
        let stream = TcpStream::connect(addr).await.map_err(|_| Fail::Connect)?;
        // Requests are small and latency-sensitive; never wait for Nagle.
        stream.set_nodelay(true).map_err(|_| Fail::Connect)?;
        let (tx, driver) = hyper::client::conn::http1::Builder::new()
            // One flat buffer per request and one `write` instead of `writev`, and a fixed read
            // buffer instead of the adaptive one: less copying for small keep-alive exchanges.
            .writev(false)
            .read_buf_exact_size(Some(READ_BUF))
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Fail::Connect)?;
        Ok(Conn {
            tx,
            driver: Box::pin(driver),
        })
    }

    /// Whether the peer has closed the connection (as far as we know without I/O).
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Send one request and read the whole response body. The caller bounds the time.
    pub(crate) async fn exchange(&mut self, req: Request<Full<Bytes>>) -> Result<StatusCode, Fail> {
        let Conn { tx, driver } = self;
        let mut handed_over = false;
        let work = async {
            tx.ready().await.map_err(|_| Fail::NotSent)?;
            handed_over = true;
            let resp = tx.send_request(req).await.map_err(|e| classify(&e))?;
            let status = resp.status();
            // Read the body to its end (keep-alive needs that) without keeping it.
            let mut body = resp.into_body();
            while let Some(frame) = body.frame().await {
                frame.map_err(|e| classify(&e))?;
            }
            Ok(status)
        };
        let r = tokio::select! {
            biased;
            r = work => r,
            r = driver.as_mut() => Err(match r {
                Ok(()) => Fail::Reset,
                Err(e) => classify(&e),
            }),
        };
        match r {
            Err(Fail::Reset) if !handed_over => Err(Fail::NotSent),
            r => r,
        }
    }
}

fn classify(e: &hyper::Error) -> Fail {
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        Fail::Other
    } else {
        // Closed, canceled, incomplete message, or an I/O error (ECONNRESET, EPIPE).
        Fail::Reset
    }
}
