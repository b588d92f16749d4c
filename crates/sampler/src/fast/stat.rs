//! Parser for `/proc/PID/stat`: identity (PID, parent, start time), state, threads and RSS.
//!
//! One small read gives everything the tree scan needs and most of what a sample needs, which is
//! why the sampler prefers it over `status` (about five times longer) and `statm`. Field numbers
//! follow proc(5). The command name may contain spaces and parentheses, so it is taken between
//! the first `(` and the *last* `)`.

use super::parse_u64;

/// The fields of `/proc/PID/stat` the sampler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 1.
    pub(crate) pid: u32,
    /// Field 4.
    pub(crate) ppid: u32,
    /// Field 5, the process group.
    pub(crate) pgrp: u32,
    /// Field 3, one letter (`R`, `S`, `D`, `Z`, `X`, ...).
    pub(crate) state: u8,
    /// Field 20.
    pub(crate) threads: u64,
    /// Field 22, clock ticks after boot; with the PID it identifies a process across PID reuse.
    pub(crate) starttime: u64,
    /// Field 24, resident pages.
    pub(crate) rss_pages: u64,
    /// Byte range of the command name inside the parsed buffer.
    pub(crate) comm: (usize, usize),
}

impl Stat {
    /// Zombie (`Z`) or dead (`X`, `x`): exited, holds no memory, only waits to be reaped.
    pub(crate) fn has_exited(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Index, among the fields after the command name, of the fields we read. Field 3 (state) is
/// index 0, so field `n` is index `n - 3`.
const STATE: usize = 0;
const PPID: usize = 4 - 3;
const PGRP: usize = 5 - 3;
const NUM_THREADS: usize = 20 - 3;
const STARTTIME: usize = 22 - 3;
const RSS: usize = 24 - 3;

/// Parse the content of `/proc/PID/stat`; `None` if it is not in the documented format.
pub(crate) fn parse(buf: &[u8]) -> Option<Stat> {
    let open = buf.iter().position(|&b| b == b'(')?;
    let close = buf.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = parse_u64(buf[..open].trim_ascii())?;
    let rest = buf.get(close + 1..)?;
    let mut state = None;
    let (mut ppid, mut pgrp, mut threads, mut starttime, mut rss) = (None, None, None, None, None);
    for (i, field) in rest
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .enumerate()
    {
        match i {
            STATE => state = field.first().copied(),
            PPID => ppid = parse_u64(field),
            PGRP => pgrp = parse_u64(field),
            NUM_THREADS => threads = parse_u64(field),
            STARTTIME => starttime = parse_u64(field),
            RSS => {
                // The kernel prints rss as a signed long; it is never negative in practice.
                rss = parse_u64(field.trim_ascii());
                break;
            }
            _ => {}
        }
    }
    Some(Stat {
        pid: u32::try_from(pid).ok()?,
        ppid: u32::try_from(ppid?).ok()?,
        pgrp: u32::try_from(pgrp?).ok()?,
        state: state?,
        threads: threads?,
        starttime: starttime?,
        rss_pages: rss?,
        comm: (open + 1, close),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &[u8] = b"4242 (my (odd) prog) S 17 4242 4242 0 -1 4194560 1393 0 0 0 3 1 0 0 20 0 3 0 987654 12345678 789 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn parses_fields_after_a_command_with_spaces_and_parentheses() {
        let s = parse(LINE).expect("valid line");
        assert_eq!(s.pid, 4242);
        assert_eq!(s.ppid, 17);
        assert_eq!(s.state, b'S');
        assert_eq!(s.threads, 3);
        assert_eq!(s.starttime, 987654);
        assert_eq!(s.rss_pages, 789);
        assert_eq!(&LINE[s.comm.0..s.comm.1], b"my (odd) prog");
        assert!(!s.has_exited());
    }

    #[test]
    fn zombie_has_exited() {
        let s = parse(b"7 (z) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0 0\n").expect("valid");
        assert!(s.has_exited());
        assert_eq!(s.rss_pages, 0);
    }

    #[test]
    fn truncated_line_is_rejected() {
        assert_eq!(parse(b"7 (z) S 1 7 7"), None);
        assert_eq!(parse(b"garbage"), None);
        assert_eq!(parse(b""), None);
    }
}
