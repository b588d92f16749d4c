//! Readiness probe: wait until a URL answers 2xx (`run --ready URL`) before load starts.
//!
//! One `GET` every [`PROBE_INTERVAL`] on a fresh connection, each bounded by
//! [`PROBE_TIMEOUT`], until a 2xx answer, the overall timeout, or the caller gives up (its
//! target exited). Not here: the load itself.

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use crate::conn::{Conn, Fail};
use crate::plan::LoadError;
use crate::target::{Prepared, RequestTemplate, Target};

/// Time between probes: short enough not to delay a run, long enough not to busy-loop.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Longest wait for one probe's answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the target did not become ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadyError {
    /// The probe URL is invalid.
    #[error(transparent)]
    Url(#[from] LoadError),
    /// No 2xx answer within the timeout.
    #[error("{url} did not answer 2xx within {:.0} s (last: {last})", waited.as_secs_f64())]
    TimedOut {
        /// The probe URL.
        url: String,
        /// How long we waited.
        waited: Duration,
        /// The last probe's outcome, e.g. `connection refused` or `HTTP 503`.
        last: String,
    },
    /// The caller gave up (its target exited) before the URL answered.
    #[error("gave up waiting for {url} (last: {last})")]
    GaveUp {
        /// The probe URL.
        url: String,
        /// The last probe's outcome.
        last: String,
    },
}

/// Block until `url` answers 2xx. `give_up` is asked between probes (return true to stop).
pub fn wait_ready(
    url: &str,
    timeout: Duration,
    give_up: &mut dyn FnMut() -> bool,
) -> Result<Duration, ReadyError> {
    let (target, path) = Target::parse(url)?;
    let req = Prepared::new(&RequestTemplate::get(&path), &target)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LoadError::Runtime)?;
    let start = Instant::now();
    loop {
        let addr = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next());
        let last = if let Some(addr) = addr {
            let outcome = rt.block_on(async {
                tokio::time::timeout(PROBE_TIMEOUT, async {
                    let mut c = Conn::open(addr).await?;
                    c.exchange(req.build(0, &mut || 0), true).await
                })
                .await
            });
            match outcome {
                Ok(Ok(status)) if status.is_success() => return Ok(start.elapsed()),
                Ok(Ok(status)) => format!("HTTP {}", status.as_u16()),
                Ok(Err(Fail::Connect)) => "connection refused".to_string(),
                Ok(Err(_)) => "connection closed without an answer".to_string(),
                Err(_) => format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
            }
        } else {
            format!("cannot resolve {}", target.host)
        };
        if start.elapsed() >= timeout {
            return Err(ReadyError::TimedOut {
                url: url.to_string(),
                waited: start.elapsed(),
                last,
            });
        }
        if give_up() {
            return Err(ReadyError::GaveUp {
                url: url.to_string(),
                last,
            });
        }
        std::thread::sleep(PROBE_INTERVAL);
    }
}
