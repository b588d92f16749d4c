//! The optional full event log (`<pid>.lhevents`, off by default).
//!
//! Snapshots keep the output proportional to sites × time; when every single allocation and
//! free is wanted (replaying a heap, lifetime histograms), the agent can also write one
//! fixed-size record per event. The file is an 16-byte header ([`EVENTS_MAGIC`], version,
//! pid) followed by [`EVENT_LEN`]-byte little-endian records; a cut at any byte leaves every
//! complete record readable. Stack ids are those of the `.lhev` file of the same process, which
//! holds their frames. Events the agent had to drop (its buffer stayed full) are counted in
//! [`EventKind::Dropped`] records, never hidden.

/// First 8 bytes of an event log.
pub const EVENTS_MAGIC: [u8; 8] = *b"LHEVTS\0\x01";
/// Version of the event record layout.
pub const EVENTS_VERSION: u32 = 1;
/// Header length: magic, version (u32), pid (u32).
pub const EVENTS_HEADER_LEN: usize = 16;
/// Bytes per event: time (u64), address (u64), size (u64), stack id (u32), kind (u8), padding.
pub const EVENT_LEN: usize = 32;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A heap block was allocated (`size` bytes at `addr`, by `stack`).
    Alloc = 1,
    /// The block at `addr` (`size` bytes, from `stack`) was freed.
    Free = 2,
    /// An anonymous mapping was created.
    Map = 3,
    /// (Part of) an anonymous mapping was unmapped: `size` bytes left the mapping at `addr`.
    Unmap = 4,
    /// `size` events were dropped here because the agent's buffer stayed full.
    Dropped = 5,
}

impl EventKind {
    /// The kind with this code.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Alloc,
            2 => Self::Free,
            3 => Self::Map,
            4 => Self::Unmap,
            5 => Self::Dropped,
            _ => return None,
        })
    }
}

/// One event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Wall-clock time, ns since the Unix epoch.
    pub timestamp_ns: u64,
    /// Block or mapping address (0 for [`EventKind::Dropped`]).
    pub addr: u64,
    /// Bytes (for [`EventKind::Dropped`]: the number of events lost).
    pub size: u64,
    /// Stack id of the allocation.
    pub stack: u32,
    /// What happened.
    pub kind: EventKind,
}

/// Encodes the file header (no allocation).
pub fn encode_header(pid: u32) -> [u8; EVENTS_HEADER_LEN] {
    let mut h = [0u8; EVENTS_HEADER_LEN];
    h[..8].copy_from_slice(&EVENTS_MAGIC);
    h[8..12].copy_from_slice(&EVENTS_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&pid.to_le_bytes());
    h
}

/// Encodes one event into `out` (no allocation).
pub fn encode_event(e: &Event, out: &mut [u8; EVENT_LEN]) {
    out[..8].copy_from_slice(&e.timestamp_ns.to_le_bytes());
    out[8..16].copy_from_slice(&e.addr.to_le_bytes());
    out[16..24].copy_from_slice(&e.size.to_le_bytes());
    out[24..28].copy_from_slice(&e.stack.to_le_bytes());
    out[28] = e.kind as u8;
    out[29..].fill(0);
}

/// A decoded event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    /// Process id from the header.
    pub pid: u32,
    /// Every complete event, in file order (per thread in time order; threads interleave).
    pub events: Vec<Event>,
    /// Byte offset of an incomplete tail, if any.
    pub truncated_at: Option<usize>,
}

/// Why an event log could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventsError {
    /// The file does not start with [`EVENTS_MAGIC`] and a known version.
    NotAnEventLog,
    /// Record at this offset has an unknown kind.
    BadKind {
        /// Byte offset of the record.
        offset: usize,
    },
}

impl std::fmt::Display for EventsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnEventLog => f.write_str("failed to read event log: bad magic or version"),
            Self::BadKind { offset } => {
                write!(
                    f,
                    "failed to read event log: unknown event kind at byte {offset}"
                )
            }
        }
    }
}

impl std::error::Error for EventsError {}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Decodes an event log; a cut tail is reported, not an error.
pub fn read_events(bytes: &[u8]) -> Result<EventLog, EventsError> {
    if bytes.len() < EVENTS_HEADER_LEN
        || bytes[..8] != EVENTS_MAGIC
        || u32_at(bytes, 8) != EVENTS_VERSION
    {
        return Err(EventsError::NotAnEventLog);
    }
    let pid = u32_at(bytes, 12);
    let body = &bytes[EVENTS_HEADER_LEN..];
    let mut events = Vec::with_capacity(body.len() / EVENT_LEN);
    for (i, r) in body.chunks_exact(EVENT_LEN).enumerate() {
        let kind = EventKind::from_u8(r[28]).ok_or(EventsError::BadKind {
            offset: EVENTS_HEADER_LEN + i * EVENT_LEN,
        })?;
        events.push(Event {
            timestamp_ns: u64_at(r, 0),
            addr: u64_at(r, 8),
            size: u64_at(r, 16),
            stack: u32_at(r, 24),
            kind,
        });
    }
    let whole = EVENTS_HEADER_LEN + events.len() * EVENT_LEN;
    Ok(EventLog {
        pid,
        events,
        truncated_at: (whole < bytes.len()).then_some(whole),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_cut_tail() {
        let mut file = encode_header(42).to_vec();
        let evs = [
            Event {
                timestamp_ns: 1,
                addr: 0x1000,
                size: 24,
                stack: 3,
                kind: EventKind::Alloc,
            },
            Event {
                timestamp_ns: 2,
                addr: 0x1000,
                size: 24,
                stack: 3,
                kind: EventKind::Free,
            },
        ];
        for e in &evs {
            let mut b = [0u8; EVENT_LEN];
            encode_event(e, &mut b);
            file.extend_from_slice(&b);
        }
        let log = read_events(&file).unwrap();
        assert_eq!(
            (log.pid, log.events.as_slice(), log.truncated_at),
            (42, &evs[..], None)
        );
        let cut = read_events(&file[..file.len() - 5]).unwrap();
        assert_eq!(cut.events, evs[..1]);
        assert_eq!(cut.truncated_at, Some(EVENTS_HEADER_LEN + EVENT_LEN));
        assert_eq!(read_events(b"nope"), Err(EventsError::NotAnEventLog));
    }
}
