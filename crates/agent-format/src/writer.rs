//! Allocation-free encoder into a caller-supplied buffer.
//!
//! The agent calls this from its writer thread with a buffer it mapped itself. A record is either
//! written whole or not at all: on [`BufferFull`] nothing changes, so the caller can flush the
//! buffer to the file and retry. Nothing here allocates, locks or touches thread-local storage.

use crate::header::{HEADER_LEN, Header};
use crate::record::{
    Config, FRAME_LEN, MAX_BUILD_ID_LEN, MAX_FRAMES, MAX_PATH_LEN, SNAPSHOT_ENTRY_LEN,
    SnapshotEntry, StackId, Tag,
};

/// The record does not fit in the space left in the buffer (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferFull {
    /// Bytes the record needs.
    pub needed: usize,
}

/// Appends encoded records to a byte buffer.
#[derive(Debug)]
pub struct Encoder<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Encoder<'a> {
    /// An encoder that writes from the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// Whether nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.pos]
    }

    /// Forgets the written bytes (after the caller flushed them).
    pub fn clear(&mut self) {
        self.pos = 0;
    }

    /// Total space of the buffer.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Writes the file header.
    pub fn header(&mut self, header: &Header) -> Result<(), BufferFull> {
        self.reserve(HEADER_LEN)?;
        self.put(&header.encode());
        Ok(())
    }

    /// Encoded size of a module map record (with `build_id`/`path` already clamped).
    pub fn module_map_len(build_id: &[u8], path: &[u8]) -> usize {
        FRAME_LEN + 24 + 1 + build_id.len().min(MAX_BUILD_ID_LEN) + 2 + path.len().min(MAX_PATH_LEN)
    }

    /// Writes a module map record. A build id or path longer than the format allows is cut.
    pub fn module_map(
        &mut self,
        base: u64,
        range: (u64, u64),
        build_id: &[u8],
        path: &[u8],
    ) -> Result<(), BufferFull> {
        let build_id = &build_id[..build_id.len().min(MAX_BUILD_ID_LEN)];
        let path = &path[..path.len().min(MAX_PATH_LEN)];
        let total = Self::module_map_len(build_id, path);
        self.reserve(total)?;
        self.frame(Tag::ModuleMap, total - FRAME_LEN);
        self.put(&base.to_le_bytes());
        self.put(&range.0.to_le_bytes());
        self.put(&range.1.to_le_bytes());
        self.put(&[build_id.len() as u8]);
        self.put(build_id);
        self.put(&(path.len() as u16).to_le_bytes());
        self.put(path);
        Ok(())
    }

    /// Encoded size of a stack definition with `frames` frames (clamped to the format limit).
    pub fn stack_def_len(frames: usize) -> usize {
        FRAME_LEN + 4 + 2 + 8 * frames.min(MAX_FRAMES)
    }

    /// Writes a stack definition; frames beyond [`MAX_FRAMES`] are cut.
    pub fn stack_def(&mut self, stack: StackId, frames: &[u64]) -> Result<(), BufferFull> {
        let frames = &frames[..frames.len().min(MAX_FRAMES)];
        let total = Self::stack_def_len(frames.len());
        self.reserve(total)?;
        self.frame(Tag::StackDef, total - FRAME_LEN);
        self.put(&stack.0.to_le_bytes());
        self.put(&(frames.len() as u16).to_le_bytes());
        for f in frames {
            self.put(&f.to_le_bytes());
        }
        Ok(())
    }

    /// Encoded size of a snapshot with `entries` entries.
    pub fn snapshot_len(entries: usize) -> usize {
        FRAME_LEN + 8 + 4 + SNAPSHOT_ENTRY_LEN * entries
    }

    /// Writes a snapshot. Fails with [`BufferFull`] also when the entry count exceeds what one
    /// record can frame (more than 119 million stacks); split such snapshots.
    pub fn snapshot(
        &mut self,
        timestamp_ns: u64,
        entries: &[SnapshotEntry],
    ) -> Result<(), BufferFull> {
        self.snapshot_iter(timestamp_ns, entries.iter().copied())
    }

    /// Writes a snapshot from an iterator that yields exactly its reported length.
    pub fn snapshot_iter<I>(&mut self, timestamp_ns: u64, entries: I) -> Result<(), BufferFull>
    where
        I: ExactSizeIterator<Item = SnapshotEntry>,
    {
        let total = Self::snapshot_len(entries.len());
        let body = total - FRAME_LEN;
        if u32::try_from(body).is_err() {
            return Err(BufferFull { needed: total });
        }
        self.reserve(total)?;
        self.frame(Tag::Snapshot, body);
        self.put(&timestamp_ns.to_le_bytes());
        self.put(&(entries.len() as u32).to_le_bytes());
        let start = self.pos;
        for e in entries.take((body - 12) / SNAPSHOT_ENTRY_LEN) {
            self.put(&e.stack.0.to_le_bytes());
            self.put(&e.live_bytes.to_le_bytes());
            self.put(&e.live_blocks.to_le_bytes());
            self.put(&e.total_bytes.to_le_bytes());
            self.put(&e.total_allocs.to_le_bytes());
            self.put(&e.live_samples.to_le_bytes());
        }
        // An iterator that yielded fewer items than it reported would leave a malformed
        // record: roll the whole record back instead.
        if self.pos - start != body - 12 {
            self.pos = start - 12 - FRAME_LEN;
            return Err(BufferFull { needed: total });
        }
        Ok(())
    }

    /// Encoded size of a config record.
    pub const CONFIG_LEN: usize = FRAME_LEN + 1 + 8 + 4 + 8;

    /// Writes the agent configuration record.
    pub fn config(&mut self, config: &Config) -> Result<(), BufferFull> {
        self.reserve(Self::CONFIG_LEN)?;
        self.frame(Tag::Config, Self::CONFIG_LEN - FRAME_LEN);
        self.put(&[config.mode]);
        self.put(&config.sample_mean_bytes.to_le_bytes());
        self.put(&config.interval_ms.to_le_bytes());
        self.put(&config.start_ns.to_le_bytes());
        Ok(())
    }

    /// Encoded size of an end-of-process record.
    pub const END_LEN: usize = FRAME_LEN + 16;

    /// Writes the end-of-process marker.
    pub fn end_of_process(&mut self, timestamp_ns: u64, dropped: u64) -> Result<(), BufferFull> {
        self.reserve(Self::END_LEN)?;
        self.frame(Tag::EndOfProcess, 16);
        self.put(&timestamp_ns.to_le_bytes());
        self.put(&dropped.to_le_bytes());
        Ok(())
    }

    fn reserve(&self, needed: usize) -> Result<(), BufferFull> {
        if self.buf.len() - self.pos < needed {
            Err(BufferFull { needed })
        } else {
            Ok(())
        }
    }

    fn frame(&mut self, tag: Tag, body_len: usize) {
        self.put(&[tag as u8]);
        // Body lengths are bounded by the per-field limits above (or checked in `snapshot`).
        self.put(&(body_len as u32).to_le_bytes());
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes);
        self.pos += bytes.len();
    }
}
