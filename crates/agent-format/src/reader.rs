//! Truncation-tolerant reader for agent files.
//!
//! A killed process leaves a file that stops anywhere, even inside the header; that is normal
//! input, not an error. The reader returns every complete record and says whether (and where) the
//! file was cut. Errors are reserved for files that are not agent files, have an unsupported
//! version, or hold a complete record whose body contradicts its own lengths.

use crate::header::{FORMAT_VERSION, HEADER_LEN, Header, MAGIC};
use crate::record::{
    Config, EndOfProcess, FRAME_LEN, ModuleMap, Record, SNAPSHOT_ENTRY_LEN, Snapshot,
    SnapshotEntry, StackDef, StackId, Tag,
};

/// Why a byte stream could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The first bytes are not the agent file magic.
    BadMagic,
    /// The file was written by an incompatible format version.
    UnsupportedVersion {
        /// Version found in the header.
        found: u16,
    },
    /// A complete record's body does not match its declared layout.
    Malformed {
        /// Byte offset of the record's tag.
        offset: usize,
        /// The record's tag byte.
        tag: u8,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadMagic => write!(f, "failed to read agent file: not a leakhound agent file"),
            Self::UnsupportedVersion { found } => write!(
                f,
                "failed to read agent file: format version {found} (this reader knows {FORMAT_VERSION})"
            ),
            Self::Malformed { offset, tag } => write!(
                f,
                "failed to read agent file: malformed record (tag {tag}) at byte {offset}"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// Everything readable from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The header; `None` only when the file ends inside it.
    pub header: Option<Header>,
    /// Complete records in file order.
    pub records: Vec<Record>,
    /// Byte offset where an incomplete tail starts, if the file was cut.
    pub truncated_at: Option<usize>,
}

/// Reads all complete records of an agent file.
pub fn read_stream(bytes: &[u8]) -> Result<Stream, ReadError> {
    let mut reader = match Reader::new(bytes) {
        Ok(r) => r,
        Err(ReaderStart::ShortHeader) => {
            return Ok(Stream {
                header: None,
                records: Vec::new(),
                truncated_at: Some(0),
            });
        }
        Err(ReaderStart::Error(e)) => return Err(e),
    };
    let mut records = Vec::new();
    while let Some(r) = reader.next_record()? {
        records.push(r);
    }
    Ok(Stream {
        header: Some(reader.header()),
        records,
        truncated_at: reader.truncated_at(),
    })
}

/// Why [`Reader::new`] could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderStart {
    /// The bytes are a prefix of a valid header: the file was cut inside it.
    ShortHeader,
    /// Not a readable agent file.
    Error(ReadError),
}

/// Record-by-record reader over a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    header: Header,
    pos: usize,
    truncated_at: Option<usize>,
}

impl<'a> Reader<'a> {
    /// Checks the header and positions the reader on the first record.
    pub fn new(bytes: &'a [u8]) -> Result<Self, ReaderStart> {
        if bytes.len() < HEADER_LEN {
            let n = bytes.len().min(MAGIC.len());
            return if bytes[..n] == MAGIC[..n] {
                Err(ReaderStart::ShortHeader)
            } else {
                Err(ReaderStart::Error(ReadError::BadMagic))
            };
        }
        let header = Header::decode(bytes).ok_or(ReaderStart::Error(ReadError::BadMagic))?;
        if header.version != FORMAT_VERSION {
            return Err(ReaderStart::Error(ReadError::UnsupportedVersion {
                found: header.version,
            }));
        }
        Ok(Self {
            bytes,
            header,
            pos: HEADER_LEN,
            truncated_at: None,
        })
    }

    /// The file header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// Offset of the incomplete tail, once the reader has reached it.
    pub fn truncated_at(&self) -> Option<usize> {
        self.truncated_at
    }

    /// The next complete record, `None` at the end of the data (clean or cut). Records with
    /// unknown tags are skipped.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        loop {
            let rest = &self.bytes[self.pos..];
            if rest.is_empty() {
                return Ok(None);
            }
            if rest.len() < FRAME_LEN {
                self.truncated_at = Some(self.pos);
                return Ok(None);
            }
            let tag = rest[0];
            let body_len = u32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let Some(body) = rest.get(FRAME_LEN..FRAME_LEN + body_len) else {
                self.truncated_at = Some(self.pos);
                return Ok(None);
            };
            let offset = self.pos;
            self.pos += FRAME_LEN + body_len;
            let Some(kind) = Tag::from_u8(tag) else {
                continue;
            };
            let malformed = ReadError::Malformed { offset, tag };
            return decode_body(kind, body).map(Some).ok_or(malformed);
        }
    }
}

/// Little-endian cursor over one record body; every read is bounds-checked.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.b.get(..n)?, self.b.get(n..)?);
        self.b = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn decode_body(kind: Tag, body: &[u8]) -> Option<Record> {
    let mut c = Cursor { b: body };
    let record = match kind {
        Tag::ModuleMap => {
            let base = c.u64()?;
            let start = c.u64()?;
            let end = c.u64()?;
            let n = c.u8()? as usize;
            let build_id = c.take(n)?.to_vec();
            let n = c.u16()? as usize;
            let path = String::from_utf8_lossy(c.take(n)?).into_owned();
            Record::ModuleMap(ModuleMap {
                base,
                start,
                end,
                build_id,
                path,
            })
        }
        Tag::StackDef => {
            let stack = StackId(c.u32()?);
            let n = c.u16()? as usize;
            let frames = (0..n).map(|_| c.u64()).collect::<Option<Vec<_>>>()?;
            Record::StackDef(StackDef { stack, frames })
        }
        Tag::Snapshot => {
            let timestamp_ns = c.u64()?;
            let n = c.u32()? as usize;
            if c.b.len() != n.checked_mul(SNAPSHOT_ENTRY_LEN)? {
                return None;
            }
            let mut entries = Vec::with_capacity(n);
            for _ in 0..n {
                entries.push(SnapshotEntry {
                    stack: StackId(c.u32()?),
                    live_bytes: c.u64()?,
                    live_blocks: c.u64()?,
                    total_bytes: c.u64()?,
                    total_allocs: c.u64()?,
                    live_samples: c.u64()?,
                });
            }
            Record::Snapshot(Snapshot {
                timestamp_ns,
                entries,
            })
        }
        Tag::EndOfProcess => Record::EndOfProcess(EndOfProcess {
            timestamp_ns: c.u64()?,
            dropped: c.u64()?,
        }),
        Tag::Config => Record::Config(Config {
            mode: c.u8()?,
            sample_mean_bytes: c.u64()?,
            interval_ms: c.u32()?,
            start_ns: c.u64()?,
        }),
    };
    // Trailing bytes inside a known record are a layout mismatch, not padding.
    c.b.is_empty().then_some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::Encoder;

    fn entry(stack: u32, live: u64) -> SnapshotEntry {
        SnapshotEntry {
            stack: StackId(stack),
            live_bytes: live,
            live_blocks: live / 8,
            total_bytes: live * 3,
            total_allocs: live / 2,
            live_samples: live / 8,
        }
    }

    const CONFIG: Config = Config {
        mode: 1,
        sample_mean_bytes: 524_288,
        interval_ms: 1000,
        start_ns: 500,
    };

    /// A small stream with every record kind, plus the records it should decode to.
    fn sample() -> (Vec<u8>, Vec<Record>) {
        let mut buf = [0u8; 2048];
        let mut enc = Encoder::new(&mut buf);
        enc.header(&Header::new(77)).unwrap();
        enc.config(&CONFIG).unwrap();
        enc.module_map(
            0x5555_0000,
            (0x5555_1000, 0x5556_0000),
            &[0xab, 0xcd],
            b"/usr/bin/x",
        )
        .unwrap();
        enc.stack_def(StackId(1), &[0x10, 0x20, 0x30]).unwrap();
        enc.snapshot(1_000, &[entry(1, 256)]).unwrap();
        enc.stack_def(StackId(2), &[0x40]).unwrap();
        enc.snapshot(2_000, &[entry(1, 512), entry(2, 8)]).unwrap();
        enc.end_of_process(3_000, 5).unwrap();
        let expected = vec![
            Record::Config(CONFIG),
            Record::ModuleMap(ModuleMap {
                base: 0x5555_0000,
                start: 0x5555_1000,
                end: 0x5556_0000,
                build_id: vec![0xab, 0xcd],
                path: "/usr/bin/x".into(),
            }),
            Record::StackDef(StackDef {
                stack: StackId(1),
                frames: vec![0x10, 0x20, 0x30],
            }),
            Record::Snapshot(Snapshot {
                timestamp_ns: 1_000,
                entries: vec![entry(1, 256)],
            }),
            Record::StackDef(StackDef {
                stack: StackId(2),
                frames: vec![0x40],
            }),
            Record::Snapshot(Snapshot {
                timestamp_ns: 2_000,
                entries: vec![entry(1, 512), entry(2, 8)],
            }),
            Record::EndOfProcess(EndOfProcess {
                timestamp_ns: 3_000,
                dropped: 5,
            }),
        ];
        (enc.as_bytes().to_vec(), expected)
    }

    #[test]
    fn full_stream_round_trips() {
        let (bytes, expected) = sample();
        let s = read_stream(&bytes).unwrap();
        assert_eq!(s.header, Some(Header::new(77)));
        assert_eq!(s.records, expected);
        assert_eq!(s.truncated_at, None);
    }

    #[test]
    fn truncation_at_every_offset_yields_a_prefix_of_records() {
        let (bytes, expected) = sample();
        // Record boundaries: the offsets at which a cut leaves exactly k complete records.
        let mut boundaries = vec![HEADER_LEN];
        let mut pos = HEADER_LEN;
        while pos < bytes.len() {
            let len = u32::from_le_bytes(bytes[pos + 1..pos + 5].try_into().unwrap()) as usize;
            pos += FRAME_LEN + len;
            boundaries.push(pos);
        }
        assert_eq!(boundaries.len(), expected.len() + 1);
        for cut in 0..bytes.len() {
            let s = read_stream(&bytes[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let complete = boundaries
                .iter()
                .filter(|&&b| b <= cut)
                .count()
                .saturating_sub(1);
            assert_eq!(s.records, expected[..complete], "cut at {cut}");
            if cut < HEADER_LEN {
                assert_eq!(s.header, None, "cut at {cut}");
            } else {
                assert_eq!(s.header, Some(Header::new(77)), "cut at {cut}");
            }
            let clean = boundaries.contains(&cut);
            assert_eq!(s.truncated_at.is_some(), !clean, "cut at {cut}");
        }
    }

    #[test]
    fn unknown_tags_are_skipped() {
        let (mut bytes, expected) = sample();
        // Insert an unknown record (tag 200, 3-byte body) right after the header.
        let unknown = [200u8, 3, 0, 0, 0, 9, 9, 9];
        bytes.splice(HEADER_LEN..HEADER_LEN, unknown);
        assert_eq!(read_stream(&bytes).unwrap().records, expected);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        assert_eq!(read_stream(b"not an agent file"), Err(ReadError::BadMagic));
        assert_eq!(read_stream(b"LHEX"), Err(ReadError::BadMagic));
        let mut v2 = Header::new(1).encode();
        v2[8] = 2;
        assert_eq!(
            read_stream(&v2),
            Err(ReadError::UnsupportedVersion { found: 2 })
        );
        // A complete end-of-process record whose body is one byte short.
        let mut bytes = Header::new(1).encode().to_vec();
        bytes.extend_from_slice(&[4, 15, 0, 0, 0]);
        bytes.extend_from_slice(&[0; 15]);
        let err = read_stream(&bytes).unwrap_err();
        assert_eq!(err, ReadError::Malformed { offset: 16, tag: 4 });
        assert!(err.to_string().starts_with("failed to read agent file"));
    }

    #[test]
    fn encoder_writes_nothing_when_full() {
        let mut buf = [0u8; 20];
        let mut enc = Encoder::new(&mut buf);
        enc.header(&Header::new(1)).unwrap();
        let err = enc.stack_def(StackId(1), &[1, 2]).unwrap_err();
        assert_eq!(err.needed, Encoder::stack_def_len(2));
        assert_eq!(enc.len(), HEADER_LEN);
    }
}
