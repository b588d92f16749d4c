//! TCP socket states by inode, for a whole network namespace.
//!
//! Two sources, both giving each socket's state (`include/net/tcp_states.h`) and its inode, the
//! same inode a process's `socket:[ino]` descriptor shows:
//!
//! * a `NETLINK_SOCK_DIAG` dump ([`diag_dump`]), the interface `ss` uses. It is only possible
//!   for our own network namespace, and it is cheap: the kernel walks its socket hash once for
//!   both IPv4 and IPv6;
//! * the text tables `/proc/PID/net/tcp` and `tcp6` ([`scan_table`]) for any namespace. They are
//!   costly on hosts with a large established-hash (262,144 buckets is common): the kernel serves
//!   them one page per `read`, walking the hash again for each page.
//!
//! The sampler reads one source once per namespace per sample and looks the tree's socket
//! inodes up in the result. Sockets with inode 0 belong to no descriptor (TIME_WAIT and orphaned
//! FIN_WAIT sockets) and are skipped: a TIME_WAIT socket is only counted in the rare case that a
//! descriptor still refers to it.

use std::collections::{HashMap, HashSet};

use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink};

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

/// `TCPDIAG_GETSOCK`: the original inet_diag request. Unlike `SOCK_DIAG_BY_FAMILY` it dumps
/// IPv4 and IPv6 sockets in one walk of the hash (the kernel treats its family as `AF_UNSPEC`).
const TCPDIAG_GETSOCK: u16 = 18;
/// Netlink control message types and flags (`include/uapi/linux/netlink.h`).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_HDRLEN: usize = 16;
/// `struct inet_diag_req`: family, src_len, dst_len, ext, a 48-byte socket id, states, dbs.
const INET_DIAG_REQ_LEN: usize = 60;
/// Offsets in `struct inet_diag_msg`: state at 1, inode (u32) at 68, 72 bytes in all.
const DIAG_MSG_STATE: usize = 1;
const DIAG_MSG_INODE: usize = 68;
const DIAG_MSG_LEN: usize = 72;
/// State bitmask: everything except TIME_WAIT (1 << 6) and NEW_SYN_RECV (1 << 12), which never
/// have an inode.
const STATES: u32 = !((1 << 6) | (1 << 12));
/// Receive buffer; the kernel fills up to about this much per message batch.
const RECV_BUF: usize = 64 * 1024;

/// Dump the TCP sockets of our own network namespace over `NETLINK_SOCK_DIAG`, recording the
/// state of every socket in `wanted`. `buf` is reused between calls.
pub(crate) fn diag_dump(
    wanted: &HashSet<u64>,
    out: &mut HashMap<u64, TcpState>,
    buf: &mut Vec<u8>,
) -> Result<(), Errno> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    let mut req = [0u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN];
    req[0..4].copy_from_slice(&((NLMSG_HDRLEN + INET_DIAG_REQ_LEN) as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    req[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence number
    // Payload: family AF_INET (ignored by the compat dump), lengths, ext and id all zero.
    req[NLMSG_HDRLEN] = AddressFamily::INET.as_raw() as u8;
    let states = NLMSG_HDRLEN + 4 + 48;
    req[states..states + 4].copy_from_slice(&STATES.to_ne_bytes());
    rustix::net::sendto(
        &fd,
        &req,
        SendFlags::empty(),
        &netlink::SocketAddrNetlink::new(0, 0),
    )?;

    buf.clear();
    buf.resize(RECV_BUF, 0);
    loop {
        let (n, _) =
            rustix::io::retry_on_intr(|| rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty()))?;
        if n == 0 {
            return Err(Errno::PROTO);
        }
        let mut msgs = &buf[..n];
        while msgs.len() >= NLMSG_HDRLEN {
            let len = u32_at(msgs, 0) as usize;
            let kind = u16::from_ne_bytes([msgs[4], msgs[5]]);
            if len < NLMSG_HDRLEN || len > msgs.len() {
                return Err(Errno::PROTO);
            }
            let payload = &msgs[NLMSG_HDRLEN..len];
            match kind {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    let code = payload
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    return Err(Errno::from_raw_os_error(-code));
                }
                TCPDIAG_GETSOCK if payload.len() >= DIAG_MSG_LEN => {
                    let ino = u64::from(u32_at(payload, DIAG_MSG_INODE));
                    if ino != 0 && wanted.contains(&ino) {
                        out.insert(ino, TcpState::from_code(u64::from(payload[DIAG_MSG_STATE])));
                    }
                }
                _ => {}
            }
            // Messages are padded to 4 bytes (NLMSG_ALIGN).
            let next = (len + 3) & !3;
            msgs = msgs.get(next..).unwrap_or(&[]);
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
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
    fn diag_dump_sees_our_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let fd_link = std::fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&listener)
        ))
        .expect("own fd link");
        let ino = crate::read::bracketed_inode(fd_link.to_string_lossy().as_bytes(), b"socket:")
            .expect("socket link");
        let wanted: HashSet<u64> = [ino].into_iter().collect();
        let mut out = HashMap::new();
        diag_dump(&wanted, &mut out, &mut Vec::new()).expect("sock_diag works");
        assert_eq!(out.get(&ino), Some(&TcpState::Listen));
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn state_codes() {
        assert_eq!(TcpState::from_code(6), TcpState::TimeWait);
        assert_eq!(TcpState::from_code(0x0C), TcpState::Other);
        assert_eq!(parse_hex(b"0A"), Some(10));
        assert_eq!(parse_hex(b"zz"), None);
    }
}
