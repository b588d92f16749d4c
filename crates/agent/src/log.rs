//! Raw stderr messages: one `write(2)` of a static byte string, no formatting, no locks.

use crate::hooks::sys;
use std::sync::atomic::{AtomicBool, Ordering};

static DISABLED_SAID: AtomicBool = AtomicBool::new(false);

/// Writes `msg` to stderr as is.
pub fn say(msg: &[u8]) {
    sys::write_all(2, msg);
}

/// Reports that the agent disabled itself, once per process.
pub fn disabled(reason: &[u8]) {
    if !DISABLED_SAID.swap(true, Ordering::Relaxed) {
        say(b"leakhound-agent: disabled: ");
        say(reason);
        say(b" (the program keeps running untraced)\n");
    }
}
