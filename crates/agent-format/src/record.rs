//! Record kinds and their body layouts (all integers little-endian).
//!
//! | tag | record | body |
//! |---|---|---|
//! | 1 | [`ModuleMap`] | `base: u64, build_id_len: u8, build_id, path_len: u16, path` |
//! | 2 | [`StackDef`] | `stack: u32, n: u16, frames: [u64; n]` (leaf first, absolute addresses) |
//! | 3 | snapshot | `timestamp_ns: u64, n: u32, [SnapshotEntry; n]` (36 bytes each) |
//! | 4 | [`EndOfProcess`] | `timestamp_ns: u64, dropped: u64` |
//!
//! Every record is framed as `tag: u8, body_len: u32, body`; see the crate docs. A stack is
//! defined once, before the first snapshot that mentions it. Module maps come before the
//! stacks whose addresses fall in them, so a reader can turn an address into (module, offset).

/// Bytes of the record frame (`tag` + `body_len`).
pub const FRAME_LEN: usize = 5;
/// Bytes of one encoded [`SnapshotEntry`].
pub const SNAPSHOT_ENTRY_LEN: usize = 4 + 4 * 8;
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
}

impl Tag {
    /// The tag for a byte, `None` for tags this version does not know (readers skip them).
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::ModuleMap),
            2 => Some(Self::StackDef),
            3 => Some(Self::Snapshot),
            4 => Some(Self::EndOfProcess),
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
}
