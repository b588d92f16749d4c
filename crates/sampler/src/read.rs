//! Thin, allocation-conscious readers of `/proc` files relative to a directory descriptor.
//!
//! Every sample opens a few hundred small files, so the readers reuse one caller-owned buffer
//! and open paths relative to `/proc` or `/proc/PID` instead of walking absolute paths. They
//! also classify errors: a process that exits while we read it makes the kernel answer `ENOENT`
//! or `ESRCH`, which the sampler treats as "gone", not as a failure.

use std::os::fd::{AsFd, OwnedFd};

use rustix::buffer::spare_capacity;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// Initial read size; almost every file the sampler reads fits (stat ≈ 300 B, smaps_rollup
/// ≈ 1 KiB), and the buffer grows for long ones such as `/proc/net/tcp`.
const CHUNK: usize = 4096;

/// Open `path` relative to `dir` for reading.
pub(crate) fn open_at<Fd: AsFd>(dir: Fd, path: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(dir, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
}

/// Open directory `path` relative to `dir`.
pub(crate) fn open_dir_at<Fd: AsFd>(dir: Fd, path: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Replace the content of `buf` with the whole file `path` (relative to `dir`).
pub(crate) fn read_at<Fd: AsFd>(dir: Fd, path: &str, buf: &mut Vec<u8>) -> Result<(), Errno> {
    let fd = open_at(dir, path)?;
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < CHUNK {
            buf.reserve(CHUNK.max(buf.capacity()));
        }
        let n = rustix::io::retry_on_intr(|| rustix::io::read(&fd, spare_capacity(buf)))?;
        if n == 0 {
            return Ok(());
        }
    }
}

/// Like [`read_at`] for the single-record files of `/proc/PID` (`stat`, `status`,
/// `smaps_rollup`): the kernel renders such a file whole and hands all of it to the first `read`
/// whose buffer is big enough, so a read shorter than the buffer is the end and the extra `read`
/// that would return 0 is saved (one syscall in four per file).
pub(crate) fn read_record_at<Fd: AsFd>(
    dir: Fd,
    path: &str,
    buf: &mut Vec<u8>,
) -> Result<(), Errno> {
    let fd = open_at(dir, path)?;
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < CHUNK {
            buf.reserve(CHUNK.max(buf.capacity()));
        }
        let asked = buf.capacity() - buf.len();
        let n = rustix::io::retry_on_intr(|| rustix::io::read(&fd, spare_capacity(buf)))?;
        if n < asked {
            return Ok(());
        }
    }
}

/// Whether `err` means the process (or the fd) no longer exists.
pub(crate) fn is_gone(err: Errno) -> bool {
    err == Errno::NOENT || err == Errno::SRCH
}

/// Parse the inode out of a link target such as `socket:[12345]` or `net:[4026531840]`, given
/// the prefix before the `[`.
pub(crate) fn bracketed_inode(link: &[u8], prefix: &[u8]) -> Option<u64> {
    let inner = link.strip_prefix(prefix)?.strip_prefix(b"[")?;
    let inner = inner.strip_suffix(b"]")?;
    crate::fast::parse_u64(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracketed_inodes() {
        assert_eq!(bracketed_inode(b"socket:[12345]", b"socket:"), Some(12345));
        assert_eq!(
            bracketed_inode(b"net:[4026531840]", b"net:"),
            Some(4026531840)
        );
        assert_eq!(bracketed_inode(b"pipe:[7]", b"socket:"), None);
        assert_eq!(bracketed_inode(b"socket:[12", b"socket:"), None);
    }

    #[test]
    fn reads_a_file_longer_than_one_chunk() {
        let dir = open_dir_at(rustix::fs::CWD, "/proc/self").expect("/proc/self exists");
        let mut buf = Vec::new();
        read_at(&dir, "maps", &mut buf).expect("own maps are readable");
        assert!(buf.ends_with(b"\n"));
        let mut small = Vec::with_capacity(1);
        read_at(&dir, "stat", &mut small).expect("own stat is readable");
        assert!(crate::fast::stat::parse(&small).is_some());
        let mut once = Vec::new();
        read_record_at(&dir, "status", &mut once).expect("own status is readable");
        assert!(
            once.ends_with(b"\n") && once.len() > 500,
            "whole file in one read"
        );
        read_record_at(&dir, "smaps_rollup", &mut once).expect("own smaps_rollup is readable");
        assert!(once.windows(4).any(|w| w == b"Pss:"));
    }
}
