//! Parser for the memory lines of `/proc/PID/status`: anonymous resident memory and swap.
//!
//! `RssAnon` and `VmSwap` come from the kernel's per-process counters, so reading them costs the
//! same for a 10 MiB and a 10 GiB process, unlike `smaps_rollup`, which walks every page table.
//! That is why the sampler takes anonymous and swapped memory from here at every sample and
//! reads `smaps_rollup` (PSS, USS) on a CPU budget. Kernel threads have neither line.

use super::parse_u64;

/// Memory figures from `status`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StatusMemory {
    pub(crate) anon: Option<u64>,
    pub(crate) swap: Option<u64>,
}

/// The kernel prints these sizes in kibibytes (the `kB` suffix means KiB).
const KIB: u64 = 1024;

/// Parse the content of `status`.
pub(crate) fn parse(buf: &[u8]) -> StatusMemory {
    let mut m = StatusMemory::default();
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let slot = match &line[..colon] {
            b"RssAnon" => &mut m.anon,
            b"VmSwap" => &mut m.swap,
            _ => continue,
        };
        let v = line[colon + 1..].trim_ascii();
        let digits = v.strip_suffix(b"kB").unwrap_or(v).trim_ascii();
        *slot = parse_u64(digits).map(|kib| kib * KIB);
        if m.anon.is_some() && m.swap.is_some() {
            break;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_anon_and_swap() {
        let text = b"Name:\tpython3\nState:\tS (sleeping)\nVmRSS:\t   10240 kB\nRssAnon:\t    4096 kB\nRssFile:\t    6144 kB\nRssShmem:\t       0 kB\nVmSwap:\t      12 kB\nThreads:\t1\n";
        let m = parse(text);
        assert_eq!(m.anon, Some(4096 * 1024));
        assert_eq!(m.swap, Some(12 * 1024));
    }

    #[test]
    fn kernel_thread_has_none() {
        let m = parse(b"Name:\tkthreadd\nState:\tS (sleeping)\nThreads:\t1\n");
        assert_eq!(m, StatusMemory::default());
    }
}
