//! TCP socket states from `/proc/PID/net/tcp` and `/proc/PID/net/tcp6`.
//!
//! Each table row has the socket's state (hex code of `include/net/tcp_states.h`) and its inode,
//! the same inode a process's `socket:[ino]` descriptor shows. The tables describe a whole network
//! namespace, so the sampler reads them once per namespace per sample and looks the tree's
//! socket inodes up in the result. Rows with inode 0 belong to no descriptor (TIME_WAIT and
//! orphaned FIN_WAIT sockets) and are skipped: a TIME_WAIT socket is therefore only counted in
//! the rare case that a descriptor still refers to it.

use std::collections::{HashMap, HashSet};

use crate::fast::parse_u64;

/// The TCP states leakhound reports separately; the rest fall under `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpState {
    Established,
    CloseWait,
    TimeWait,
    Listen,
    Other,
}

impl TcpState {
    /// Map the kernel's state code (`TCP_ESTABLISHED` = 1 ... `TCP_NEW_SYN_RECV` = 12).
    fn from_code(code: u64) -> TcpState {
        match code {
            0x01 => TcpState::Established,
            0x06 => TcpState::TimeWait,
            0x08 => TcpState::CloseWait,
            0x0A => TcpState::Listen,
            _ => TcpState::Other,
        }
    }
}

/// Column of the state (`st`) and of the inode in a table row, counted in whitespace-separated
/// fields: `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
/// inode ...`.
const STATE_FIELD: usize = 3;
const INODE_FIELD: usize = 9;

/// Parse one `tcp` or `tcp6` table, recording the state of every socket in `wanted`.
pub(crate) fn scan_table(text: &[u8], wanted: &HashSet<u64>, out: &mut HashMap<u64, TcpState>) {
    // The first line is the column header.
    for line in text.split(|&b| b == b'\n').skip(1) {
        let mut state = None;
        for (i, field) in line
            .split(|&b| b == b' ')
            .filter(|f| !f.is_empty())
            .enumerate()
        {
            if i == STATE_FIELD {
                state = parse_hex(field);
            } else if i == INODE_FIELD {
                if let (Some(code), Some(ino)) = (state, parse_u64(field))
                    && ino != 0
                    && wanted.contains(&ino)
                {
                    out.insert(ino, TcpState::from_code(code));
                }
                break;
            }
        }
    }
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    for &b in s {
        let d = (b as char).to_digit(16)?;
        v = v * 16 + u64::from(d);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &[u8] = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:D2A6 08 00000000:00000001 00:00000000 00000000     0        0 1003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:D2A8 0100007F:1F90 06 00000000:00000000 03:00000F5A 00000000     0        0 0 3 0000000000000000
   4: 0100007F:1F90 0100007F:D2AA 04 00000000:00000000 01:00000014 00000000     0        0 1005 1 0000000000000000 20 4 30 10 -1
   5: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 9999 1 0000000000000000 100 0 0 10 0
";

    const TCP6: &[u8] = b"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn records_states_of_wanted_inodes_only() {
        let wanted: HashSet<u64> = [1001, 1002, 1003, 1005, 2001, 0].into_iter().collect();
        let mut out = HashMap::new();
        scan_table(TCP, &wanted, &mut out);
        scan_table(TCP6, &wanted, &mut out);
        assert_eq!(out.get(&1001), Some(&TcpState::Listen));
        assert_eq!(out.get(&1002), Some(&TcpState::Established));
        assert_eq!(out.get(&1003), Some(&TcpState::CloseWait));
        assert_eq!(out.get(&1005), Some(&TcpState::Other));
        assert_eq!(out.get(&2001), Some(&TcpState::Listen));
        assert!(!out.contains_key(&9999), "not wanted");
        assert!(!out.contains_key(&0), "inode 0 is no descriptor");
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn state_codes() {
        assert_eq!(TcpState::from_code(6), TcpState::TimeWait);
        assert_eq!(TcpState::from_code(0x0C), TcpState::Other);
        assert_eq!(parse_hex(b"0A"), Some(10));
        assert_eq!(parse_hex(b"zz"), None);
    }
}
