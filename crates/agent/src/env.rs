//! Reads the agent's settings from the environment once, at load time.
//!
//! `getenv(3)` returns a pointer into `environ` without allocating; `std::env::var` would take
//! the environment lock and allocate. Values are copied out immediately.

use std::ffi::CStr;

/// The value of `name`, if set, as bytes (borrowed from `environ`, so read it right away).
pub(crate) fn get(name: &CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated; getenv returns NULL or a NUL-terminated string in
    // `environ`, which nothing in the agent modifies.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null result of getenv is a valid C string (see above).
    Some(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// Parses a decimal `u64` environment value; `None` when unset or not a number.
pub(crate) fn get_u64(name: &CStr) -> Option<u64> {
    let v = get(name)?;
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0'))
    })
}
