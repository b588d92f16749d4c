//! File header: magic, format version, flags and the writing process's id.
//!
//! Layout (16 bytes, little-endian): `magic[8] | version: u16 | flags: u16 | pid: u32`. The magic
//! identifies the file type; the version is bumped on any incompatible change to record layouts.

/// First eight bytes of every agent file.
pub const MAGIC: [u8; 8] = *b"LHEV\0agt";

/// Format version written by this crate and the only one its reader accepts.
pub const FORMAT_VERSION: u16 = 1;

/// Size of the encoded header in bytes.
pub const HEADER_LEN: usize = 16;

/// Decoded file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version ([`FORMAT_VERSION`] for files this crate writes).
    pub version: u16,
    /// Reserved flag bits; 0 in version 1.
    pub flags: u16,
    /// Process id of the traced process that wrote the file.
    pub pid: u32,
}

impl Header {
    /// A version-1 header for process `pid`.
    pub fn new(pid: u32) -> Self {
        Self {
            version: FORMAT_VERSION,
            flags: 0,
            pid,
        }
    }

    /// Encodes the header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&self.version.to_le_bytes());
        out[10..12].copy_from_slice(&self.flags.to_le_bytes());
        out[12..16].copy_from_slice(&self.pid.to_le_bytes());
        out
    }

    /// Decodes a header; `None` when the bytes are too short or the magic does not match.
    /// The version is returned as found; checking it is the reader's job.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b = bytes.get(..HEADER_LEN)?;
        if b[..8] != MAGIC {
            return None;
        }
        Some(Self {
            version: u16::from_le_bytes([b[8], b[9]]),
            flags: u16::from_le_bytes([b[10], b[11]]),
            pid: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_rejects_bad_magic() {
        let h = Header::new(4242);
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes), Some(h));
        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(Header::decode(&bad), None);
        assert_eq!(Header::decode(&bytes[..15]), None);
    }
}
