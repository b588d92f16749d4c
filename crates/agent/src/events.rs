//! The optional full event log (`LEAKHOUND_EVENT_LOG=1`; off by default).
//!
//! Hooks push one event per traced allocation, free, mapping and unmapping into a bounded
//! multi-producer ring ([`RING_SLOTS`] slots in an agent [`Region`]); the writer thread, its
//! only consumer, drains it into `<pid>.lhevents` (layout: `leakhound_agent_format::events`).
//! A producer reserves a slot by advancing `head` with a CAS only when the ring has room, fills
//! it, then publishes it by storing the slot's sequence number (reservation index + 1); the
//! writer copies published slots in order and advances `tail`. Backpressure as bytehound does
//! it: a producer that finds the ring full yields up to [`FULL_WAIT_YIELDS`] times for the writer
//! to catch up, then drops the event and counts it; the writer records the count as a
//! `Dropped` event, so the log says what it is missing. In sampled mode only sampled blocks
//! produce events.

use crate::arena::Region;
use crate::hooks::sys;
use leakhound_agent_format::events::{EVENT_LEN, Event, EventKind, encode_event};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Ring capacity in events (a power of two): 256 Ki x 40 B = 10 MiB, touched only as used.
pub const RING_SLOTS: u64 = 1 << 18;
/// Words per slot: sequence, time, address, size, stack << 8 | kind.
const SLOT_WORDS: usize = 5;
/// How long a producer waits for room before dropping an event (each yield lets the writer run).
pub const FULL_WAIT_YIELDS: u32 = 10_000;

/// The ring.
#[derive(Debug)]
pub struct EventRing {
    slots: Region<AtomicU64>,
    head: AtomicU64,
    tail: AtomicU64,
    dropped: AtomicU64,
    /// False once the writer stopped draining (exit, exec): producers must not wait for it.
    open: AtomicBool,
}

impl EventRing {
    /// Maps an empty ring; `None` when the kernel refuses.
    pub fn new() -> Option<Self> {
        Some(Self {
            slots: Region::new(RING_SLOTS as usize * SLOT_WORDS)?,
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            open: AtomicBool::new(true),
        })
    }

    fn slot(&self, idx: u64) -> &[AtomicU64] {
        &self.slots[(idx & (RING_SLOTS - 1)) as usize * SLOT_WORDS..][..SLOT_WORDS]
    }

    /// Appends one event (from a hook, guard held).
    pub fn push(&self, kind: EventKind, addr: u64, size: u64, stack: u32) {
        if !self.open.load(Ordering::Relaxed) {
            return;
        }
        let mut waited = 0;
        let idx = loop {
            let head = self.head.load(Ordering::Relaxed);
            if head - self.tail.load(Ordering::Acquire) >= RING_SLOTS {
                if waited < FULL_WAIT_YIELDS {
                    waited += 1;
                    sys::yield_now();
                    continue;
                }
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if self
                .head
                .compare_exchange_weak(head, head + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                break head;
            }
        };
        let s = self.slot(idx);
        s[1].store(sys::now_ns(), Ordering::Relaxed);
        s[2].store(addr, Ordering::Relaxed);
        s[3].store(size, Ordering::Relaxed);
        s[4].store((u64::from(stack) << 8) | kind as u64, Ordering::Relaxed);
        s[0].store(idx + 1, Ordering::Release);
    }

    /// Stops (false) or resumes (true) accepting events; the writer closes the ring when it
    /// writes its end record.
    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::Relaxed);
    }

    /// Events reserved but not drained yet.
    pub fn pending(&self) -> u64 {
        self.head.load(Ordering::Relaxed) - self.tail.load(Ordering::Relaxed)
    }

    /// Forgets everything in flight (a forked child: other threads' reservations never
    /// complete there).
    pub fn reset_after_fork(&self) {
        self.tail
            .store(self.head.load(Ordering::Relaxed), Ordering::Release);
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// Encodes published events in order into `buf` (a multiple of [`EVENT_LEN`]), handing each
    /// full buffer and the last partial one to `sink`; stops at the first slot not yet
    /// published. Returns false when `sink` failed.
    pub fn drain(&self, buf: &mut [u8], sink: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        let cap = buf.len() / EVENT_LEN * EVENT_LEN;
        let mut n = 0;
        let mut ok = true;
        let mut tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        let mut put = |e: &Event, buf: &mut [u8], n: &mut usize, ok: &mut bool| {
            if *n + EVENT_LEN > cap {
                *ok &= sink(&buf[..*n]);
                *n = 0;
            }
            let mut rec = [0u8; EVENT_LEN];
            encode_event(e, &mut rec);
            buf[*n..*n + EVENT_LEN].copy_from_slice(&rec);
            *n += EVENT_LEN;
        };
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let e = Event {
                timestamp_ns: sys::now_ns(),
                addr: 0,
                size: lost,
                stack: 0,
                kind: EventKind::Dropped,
            };
            put(&e, buf, &mut n, &mut ok);
        }
        while tail < head {
            let s = self.slot(tail);
            if s[0].load(Ordering::Acquire) != tail + 1 {
                break;
            }
            let packed = s[4].load(Ordering::Relaxed);
            let e = Event {
                timestamp_ns: s[1].load(Ordering::Relaxed),
                addr: s[2].load(Ordering::Relaxed),
                size: s[3].load(Ordering::Relaxed),
                stack: (packed >> 8) as u32,
                kind: EventKind::from_u8(packed as u8).unwrap_or(EventKind::Dropped),
            };
            put(&e, buf, &mut n, &mut ok);
            tail += 1;
            self.tail.store(tail, Ordering::Release);
        }
        if n > 0 {
            ok &= sink(&buf[..n]);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakhound_agent_format::events::{EVENTS_HEADER_LEN, encode_header, read_events};

    #[test]
    fn events_from_many_threads_drain_in_order_without_loss() {
        let ring = EventRing::new().unwrap();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let ring = &ring;
                s.spawn(move || {
                    for i in 0..10_000u64 {
                        ring.push(EventKind::Alloc, t << 32 | i, i, t as u32);
                    }
                });
            }
        });
        let mut file = encode_header(7).to_vec();
        let mut buf = vec![0u8; 4096];
        assert!(ring.drain(&mut buf, &mut |b| {
            file.extend_from_slice(b);
            true
        }));
        assert_eq!(ring.pending(), 0);
        let log = read_events(&file).unwrap();
        assert_eq!(log.events.len(), 40_000);
        assert_eq!(file.len(), EVENTS_HEADER_LEN + 40_000 * EVENT_LEN);
        for t in 0..4u64 {
            let mine: Vec<u64> = log
                .events
                .iter()
                .filter(|e| e.addr >> 32 == t)
                .map(|e| e.size)
                .collect();
            assert_eq!(mine, (0..10_000).collect::<Vec<_>>(), "thread {t} in order");
        }
    }
}
