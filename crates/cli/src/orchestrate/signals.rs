//! Ctrl-C and SIGTERM handling.
//!
//! Signals only set flags (signal-hook); the sampling loop polls them, forwards the signal to
//! the target's process group, and goes on to write the verdict of what was recorded. A second
//! Ctrl-C while the target is shutting down kills it at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};

/// Flags set by SIGINT and SIGTERM.
#[derive(Debug, Clone)]
pub(crate) struct Interrupts {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl Interrupts {
    /// Install the handlers (idempotent enough for one process: each call adds a flag setter).
    pub(crate) fn register() -> anyhow::Result<Interrupts> {
        let int = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(SIGINT, Arc::clone(&int)).context("failed to handle SIGINT")?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&term))
            .context("failed to handle SIGTERM")?;
        Ok(Interrupts { int, term })
    }

    /// Whether a signal arrived that [`Interrupts::take`] has not taken yet.
    pub(crate) fn pending(&self) -> bool {
        self.int.load(Ordering::SeqCst) || self.term.load(Ordering::SeqCst)
    }

    /// The signal received since the last call, if any (SIGINT wins over SIGTERM).
    pub(crate) fn take(&self) -> Option<i32> {
        if self.int.swap(false, Ordering::SeqCst) {
            Some(SIGINT)
        } else if self.term.swap(false, Ordering::SeqCst) {
            Some(SIGTERM)
        } else {
            None
        }
    }
}
