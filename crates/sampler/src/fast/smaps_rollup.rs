//! Parser for `/proc/PID/smaps_rollup`: PSS, USS, anonymous and swapped memory.
//!
//! The file is one header line followed by `Key:   <n> kB` lines, the per-mapping `smaps` fields
//! summed over the whole address space (Linux 4.14+). USS is private clean + private dirty, the
//! memory that would be freed if the process exited. Missing keys stay `None` (older kernels
//! lack some; a process without an address space prints nothing at all).

use super::parse_u64;

/// Memory figures from `smaps_rollup`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Rollup {
    pub(crate) pss: Option<u64>,
    pub(crate) uss: Option<u64>,
    pub(crate) anon: Option<u64>,
    pub(crate) swap: Option<u64>,
}

/// The kernel prints these sizes in kibibytes (the `kB` suffix means KiB).
const KIB: u64 = 1024;

/// Parse the content of `smaps_rollup`.
pub(crate) fn parse(buf: &[u8]) -> Rollup {
    let mut r = Rollup::default();
    let (mut private_clean, mut private_dirty) = (None, None);
    for line in buf.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = &line[..colon];
        let slot = match key {
            b"Pss" => &mut r.pss,
            b"Private_Clean" => &mut private_clean,
            b"Private_Dirty" => &mut private_dirty,
            b"Anonymous" => &mut r.anon,
            b"Swap" => &mut r.swap,
            _ => continue,
        };
        let value = line[colon + 1..].trim_ascii();
        let digits = value.strip_suffix(b"kB").unwrap_or(value).trim_ascii();
        *slot = parse_u64(digits).map(|kib| kib * KIB);
    }
    r.uss = match (private_clean, private_dirty) {
        (Some(c), Some(d)) => Some(c + d),
        _ => None,
    };
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &[u8] =
        b"55d0c0a4d000-7ffd4a5f1000 ---p 00000000 00:00 0                          [rollup]
Rss:                5432 kB
Pss:                1234 kB
Pss_Dirty:           800 kB
Pss_Anon:            700 kB
Pss_File:            534 kB
Pss_Shmem:             0 kB
Shared_Clean:       4000 kB
Shared_Dirty:          0 kB
Private_Clean:       100 kB
Private_Dirty:       900 kB
Referenced:         5432 kB
Anonymous:           700 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                 12 kB
SwapPss:              12 kB
Locked:                0 kB
";

    #[test]
    fn parses_the_rollup_fields() {
        let r = parse(TEXT);
        assert_eq!(r.pss, Some(1234 * 1024));
        assert_eq!(r.uss, Some(1000 * 1024));
        assert_eq!(r.anon, Some(700 * 1024));
        assert_eq!(r.swap, Some(12 * 1024));
    }

    #[test]
    fn empty_file_gives_nothing() {
        assert_eq!(parse(b""), Rollup::default());
    }
}
