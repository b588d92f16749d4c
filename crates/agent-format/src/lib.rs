//! On-disk format of the leakhound native heap agent (`<pid>.lhev` files).
//!
//! A file is a 16-byte [`header::Header`] followed by self-delimiting records
//! (`tag: u8, body_len: u32 LE, body`). Each record is complete on its own, so a file cut off at
//! any byte (the target was SIGKILLed, the disk filled up) still reads up to its last complete
//! record; the reader reports the cut instead of failing. Unknown tags are skipped, which lets
//! newer agents add record kinds without breaking older readers.
//!
//! The writing side ([`writer`]) never allocates: it encodes into a caller-supplied buffer, as the
//! agent must inside a process whose allocator it is tracing. The reading side ([`reader`]) is
//! for the analyzer and allocates freely. This crate is not the analysis: symbolization and
//! per-site series live in `leakhound-native`. The optional full event log (`<pid>.lhevents`,
//! off by default) has its own fixed-record layout: [`events`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod events;
pub mod header;
pub mod reader;
pub mod record;
pub mod writer;

pub use header::{FORMAT_VERSION, HEADER_LEN, Header, MAGIC};
pub use reader::{ReadError, Reader, Stream, read_stream};
pub use record::{
    Config, EndOfProcess, MODE_EXACT, MODE_SAMPLED, ModuleMap, Record, Snapshot, SnapshotEntry,
    StackDef, StackId, Tag,
};
pub use writer::{BufferFull, Encoder};
