//! File descriptors of one process, counted by kind, plus the inodes of its sockets.
//!
//! Reads `/proc/PID/fd` and `readlink`s each entry. The link text tells the kind: `socket:[ino]`,
//! `pipe:[ino]`, `anon_inode:…` (eventfd, epoll, timerfd, signalfd, inotify…), an absolute path
//! (regular files, directories, devices, memfds — named FIFOs also show as paths and count as
//! files) or anything else (namespace fds, BPF objects…). Matching sockets to TCP states is the
//! job of [`crate::net`]; this module only collects the inodes.

use std::os::fd::BorrowedFd;

use rustix::fs::Dir;
use rustix::io::Errno;

use crate::read::{bracketed_inode, is_gone, open_dir_at};

/// Kind of one descriptor, from its `/proc/PID/fd/N` link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    File,
    /// A socket and its inode (matched against the TCP tables later).
    Socket(u64),
    Pipe,
    AnonInode,
    Other,
}

/// Classify a link target.
pub(crate) fn classify(link: &[u8]) -> FdKind {
    if link.starts_with(b"/") {
        FdKind::File
    } else if link.starts_with(b"socket:") {
        // A socket whose inode we cannot parse still counts as a socket, matching no TCP state.
        FdKind::Socket(bracketed_inode(link, b"socket:").unwrap_or(0))
    } else if link.starts_with(b"pipe:") {
        FdKind::Pipe
    } else if link.starts_with(b"anon_inode:") {
        FdKind::AnonInode
    } else {
        FdKind::Other
    }
}

/// Descriptor counts of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FdCounts {
    pub(crate) total: u32,
    pub(crate) file: u32,
    pub(crate) socket: u32,
    pub(crate) pipe: u32,
    pub(crate) anon_inode: u32,
    pub(crate) other: u32,
}

impl FdCounts {
    fn add(&mut self, kind: FdKind) {
        self.total += 1;
        match kind {
            FdKind::File => self.file += 1,
            FdKind::Socket(_) => self.socket += 1,
            FdKind::Pipe => self.pipe += 1,
            FdKind::AnonInode => self.anon_inode += 1,
            FdKind::Other => self.other += 1,
        }
    }
}

/// Link targets longer than this are cut; only their first bytes decide the kind.
const LINK_PREFIX: usize = 64;

/// Count the descriptors of the process whose `/proc/PID` directory is `pid_dir`, appending the
/// inodes of its sockets to `sockets`.
///
/// A descriptor closed between listing and `readlink` is skipped. Errors are those of opening
/// or listing the `fd` directory (`ENOENT`: the process is gone; `EACCES`: not ours to read).
pub(crate) fn count(pid_dir: BorrowedFd<'_>, sockets: &mut Vec<u64>) -> Result<FdCounts, Errno> {
    let fd_dir = open_dir_at(pid_dir, "fd")?;
    let mut dir = Dir::new(fd_dir)?;
    let mut counts = FdCounts::default();
    let mut link = [0u8; LINK_PREFIX];
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        let n = match rustix::fs::readlinkat_raw(dir.fd()?, name, &mut link[..]) {
            Ok(n) => n.min(LINK_PREFIX),
            Err(e) if is_gone(e) => continue,
            Err(e) => return Err(e),
        };
        let kind = classify(&link[..n]);
        if let FdKind::Socket(ino) = kind {
            sockets.push(ino);
        }
        counts.add(kind);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_link_targets() {
        assert_eq!(classify(b"socket:[4242]"), FdKind::Socket(4242));
        assert_eq!(classify(b"pipe:[17]"), FdKind::Pipe);
        assert_eq!(classify(b"anon_inode:[eventpoll]"), FdKind::AnonInode);
        assert_eq!(classify(b"anon_inode:inotify"), FdKind::AnonInode);
        assert_eq!(classify(b"/tmp/x (deleted)"), FdKind::File);
        assert_eq!(classify(b"/dev/null"), FdKind::File);
        assert_eq!(classify(b"net:[4026531840]"), FdKind::Other);
    }
}
