//! Record kinds and their body layouts (all integers little-endian).
//!
//! | tag | record | body |
//! |---|---|---|
//! | 1 | [`ModuleMap`] | `base: u64, start: u64, end: u64, build_id_len: u8, build_id, path_len: u16, path` |
//! | 2 | [`StackDef`] | `stack: u32, n: u16, frames: [u64; n]` (leaf first, absolute addresses) |
//! | 3 | snapshot | `timestamp_ns: u64, n: u32, [SnapshotEntry; n]` (44 bytes each) |
//! | 4 | [`EndOfProcess`] | `timestamp_ns: u64, dropped: u64` |
//! | 5 | [`Config`] | `mode: u8, sample_mean_bytes: u64, interval_ms: u32, start_ns: u64` |
//!
//! Every record is framed as `tag: u8, body_len: u32, body`; see the crate docs. A stack is
//! defined once, before the first snapshot that mentions it. Module maps come before the
//! stacks whose addresses fall in them, so a reader can turn an address into (module, offset).
//!
//! A snapshot is a **delta**: it lists the stacks whose counters changed since the previous
//! snapshot (with their full current values); stacks not listed keep their previous values.
//! The snapshot immediately followed by [`EndOfProcess`] describes the heap at exit.
//!
//! In sampled mode ([`Config::mode`] = 1) the byte and block counters are unbiased
//! (Horvitz-Thompson) estimates and `live_samples` is the raw number of live sampled blocks
//! behind them; in exact mode `live_samples` equals `live_blocks`.

/// Bytes of the record frame (`tag` + `body_len`).
pub const FRAME_LEN: usize = 5;
/// Bytes of one encoded [`SnapshotEntry`].
pub const SNAPSHOT_ENTRY_LEN: usize = 4 + 5 * 8;
/// Longest build id the format carries (GNU build ids are 20 bytes; 255 is the u8 limit).
pub const MAX_BUILD_ID_LEN: usize = u8::MAX as usize;
/// Longest module path the format carries (u16 length field).
pub const MAX_PATH_LEN: usize = u16::MAX as usize;
/// Most frames one stack definition carries (u16 count field).
pub const MAX_FRAMES: usize = u16::MAX as usize;

/// Record tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// A loaded module (executable or shared object).
    ModuleMap = 1,
    /// A new call stack and its id.
    StackDef = 2,
    /// Per-stack counters at one instant.
    Snapshot = 3,
    /// The process finished writing (normal exit path); absent after a kill.
    EndOfProcess = 4,
    /// How the agent was configured (first record of a file).
    Config = 5,
}

impl Tag {
    /// The tag for a byte, `None` for tags this version does not know (readers skip them).
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::ModuleMap),
            2 => Some(Self::StackDef),
            3 => Some(Self::Snapshot),
            4 => Some(Self::EndOfProcess),
            5 => Some(Self::Config),
            _ => None,
        }
    }
}

/// Identifier of a call stack inside one file (dense, assigned by the agent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StackId(pub u32);

/// A module mapped into the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleMap {
    /// Load bias: runtime address minus the ELF virtual address.
    pub base: u64,
    /// Lowest runtime address of the module's loadable segments.
    pub start: u64,
    /// One past the highest runtime address of the module's loadable segments.
    pub end: u64,
    /// GNU build id (may be empty when the module has none).
    pub build_id: Vec<u8>,
    /// Path as the loader reports it (empty for the main executable on some systems).
    pub path: String,
}

/// A call stack: return addresses, leaf (the allocation's caller) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDef {
    /// The id snapshots refer to.
    pub stack: StackId,
    /// Absolute return addresses, innermost first.
    pub frames: Vec<u64>,
}

/// Counters of one stack at one snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotEntry {
    /// Which stack these counters belong to.
    pub stack: StackId,
    /// Bytes allocated from this stack and not yet freed.
    pub live_bytes: u64,
    /// Blocks allocated from this stack and not yet freed.
    pub live_blocks: u64,
    /// Bytes ever allocated from this stack.
    pub total_bytes: u64,
    /// Allocations ever made from this stack.
    pub total_allocs: u64,
    /// Live blocks actually observed (sampled mode: raw live samples; exact mode: live blocks).
    pub live_samples: u64,
}

/// Per-stack counters at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Wall-clock time of the snapshot, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// One entry per stack that has ever allocated.
    pub entries: Vec<SnapshotEntry>,
}

/// The agent finished writing this file (it saw the process exit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndOfProcess {
    /// Wall-clock time, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// Allocation events the agent could not record (table full, agent disabled mid-run).
    pub dropped: u64,
}

/// Agent configuration, written once at the start of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// 0 = exact (every allocation), 1 = sampled (Poisson by bytes).
    pub mode: u8,
    /// Mean sampling interval in bytes (sampled mode; 0 in exact mode).
    pub sample_mean_bytes: u64,
    /// Time between periodic snapshots, milliseconds.
    pub interval_ms: u32,
    /// Wall-clock time the agent started, nanoseconds since the Unix epoch.
    pub start_ns: u64,
}

/// Value of [`Config::mode`] for exact tracing.
pub const MODE_EXACT: u8 = 0;
/// Value of [`Config::mode`] for Poisson sampling by bytes.
pub const MODE_SAMPLED: u8 = 1;

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// See [`ModuleMap`].
    ModuleMap(ModuleMap),
    /// See [`StackDef`].
    StackDef(StackDef),
    /// See [`Snapshot`].
    Snapshot(Snapshot),
    /// See [`EndOfProcess`].
    EndOfProcess(EndOfProcess),
    /// See [`Config`].
    Config(Config),
}
