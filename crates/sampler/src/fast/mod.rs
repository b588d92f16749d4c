//! Allocation-free parsers for the few `/proc/PID/*` text files the sampler reads every interval.
//!
//! They take the raw bytes of a file (read into a reused buffer by [`crate::read`]) and return
//! plain numbers. They do not open files and know nothing about process trees.

pub(crate) mod smaps_rollup;
pub(crate) mod stat;
pub(crate) mod status;

/// Parse an unsigned decimal number; `None` for empty input or any non-digit.
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_and_rejects_garbage() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"-1"), None);
    }
}
