//! The metrics the sampler records, with their stable column names and units.
//!
//! Column names appear in `samples.csv`, in JSON and in Prometheus metric names, so they are part
//! of the public interface: add new metrics, never rename old ones.

use crate::Unit;

/// One sampled metric of a process (or summed over a process tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Resident set size (`VmRSS`).
    RssBytes,
    /// Proportional set size, from `smaps_rollup` (shared pages divided among sharers).
    PssBytes,
    /// Unique set size: private clean + private dirty, from `smaps_rollup`.
    UssBytes,
    /// Anonymous resident memory (heap, stacks, anonymous mmaps).
    AnonBytes,
    /// Swapped-out memory.
    SwapBytes,
    /// All open file descriptors.
    Fds,
    /// File descriptors to regular files (and directories, devices).
    FdsFile,
    /// Socket file descriptors.
    FdsSocket,
    /// Pipe and FIFO file descriptors.
    FdsPipe,
    /// `anon_inode:` descriptors (eventfd, epoll, timerfd, signalfd…).
    FdsAnonInode,
    /// Any other descriptor.
    FdsOther,
    /// TCP sockets in ESTABLISHED.
    TcpEstablished,
    /// TCP sockets in CLOSE_WAIT (peer closed, we did not: the classic socket leak).
    TcpCloseWait,
    /// TCP sockets in TIME_WAIT still owned by the process.
    TcpTimeWait,
    /// Listening TCP sockets.
    TcpListen,
    /// TCP sockets in any other state.
    TcpOther,
    /// Threads.
    Threads,
    /// Processes in the tree.
    Processes,
}

impl Metric {
    /// Every metric, in `samples.csv` column order.
    pub const ALL: [Metric; 18] = [
        Metric::RssBytes,
        Metric::PssBytes,
        Metric::UssBytes,
        Metric::AnonBytes,
        Metric::SwapBytes,
        Metric::Fds,
        Metric::FdsFile,
        Metric::FdsSocket,
        Metric::FdsPipe,
        Metric::FdsAnonInode,
        Metric::FdsOther,
        Metric::TcpEstablished,
        Metric::TcpCloseWait,
        Metric::TcpTimeWait,
        Metric::TcpListen,
        Metric::TcpOther,
        Metric::Threads,
        Metric::Processes,
    ];

    /// Stable column name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::RssBytes => "rss_bytes",
            Metric::PssBytes => "pss_bytes",
            Metric::UssBytes => "uss_bytes",
            Metric::AnonBytes => "anon_bytes",
            Metric::SwapBytes => "swap_bytes",
            Metric::Fds => "fds",
            Metric::FdsFile => "fds_file",
            Metric::FdsSocket => "fds_socket",
            Metric::FdsPipe => "fds_pipe",
            Metric::FdsAnonInode => "fds_anon_inode",
            Metric::FdsOther => "fds_other",
            Metric::TcpEstablished => "tcp_established",
            Metric::TcpCloseWait => "tcp_close_wait",
            Metric::TcpTimeWait => "tcp_time_wait",
            Metric::TcpListen => "tcp_listen",
            Metric::TcpOther => "tcp_other",
            Metric::Threads => "threads",
            Metric::Processes => "processes",
        }
    }

    /// Look a metric up by its column name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Unit of the metric's values.
    pub fn unit(self) -> Unit {
        match self {
            Metric::RssBytes
            | Metric::PssBytes
            | Metric::UssBytes
            | Metric::AnonBytes
            | Metric::SwapBytes => Unit::Bytes,
            Metric::Fds
            | Metric::FdsFile
            | Metric::FdsSocket
            | Metric::FdsPipe
            | Metric::FdsAnonInode
            | Metric::FdsOther => Unit::Fds,
            Metric::TcpEstablished
            | Metric::TcpCloseWait
            | Metric::TcpTimeWait
            | Metric::TcpListen
            | Metric::TcpOther => Unit::Sockets,
            Metric::Threads => Unit::Threads,
            Metric::Processes => Unit::Processes,
        }
    }

    /// Whether the metric is memory (as opposed to a resource count).
    pub fn is_memory(self) -> bool {
        self.unit() == Unit::Bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }
}
