//! Buffered big-endian input for the HPROF reader: fixed-size integers, object ids, skips and
//! byte runs, each failing with the offset where the stream ended. Not a record parser.

use std::io::Read;

use crate::window::Window;

/// Failure: offset in the decompressed stream and what went wrong.
pub(super) type R<T> = Result<T, (u64, String)>;

/// Buffered reader over the decompressed dump; see the module docs.
pub(super) struct Input<Rd: Read> {
    w: Window<Rd>,
    /// Identifier size (4 or 8) once the header is read.
    pub(super) id: usize,
}

impl<Rd: Read> Input<Rd> {
    pub(super) fn new(inner: Rd) -> Self {
        Self {
            w: Window::new(inner),
            id: 4,
        }
    }

    /// Current offset in the stream.
    pub(super) fn pos(&self) -> u64 {
        self.w.offset()
    }

    fn truncated(&self) -> (u64, String) {
        (
            self.pos(),
            "unexpected end of file (truncated dump?)".into(),
        )
    }

    /// Refills the buffer when it is used up; false at end of stream.
    fn fill(&mut self) -> R<bool> {
        self.w
            .fill()
            .map_err(|e| (self.w.offset(), format!("read error ({e})")))
    }

    /// Whether the stream has ended.
    pub(super) fn at_eof(&mut self) -> R<bool> {
        Ok(!self.fill()?)
    }

    /// Reads exactly `out.len()` bytes.
    fn exact(&mut self, out: &mut [u8]) -> R<()> {
        let mut done = 0;
        while done < out.len() {
            if !self.fill()? {
                return Err(self.truncated());
            }
            let k = (self.w.len - self.w.pos).min(out.len() - done);
            out[done..done + k].copy_from_slice(&self.w.buf[self.w.pos..self.w.pos + k]);
            self.w.pos += k;
            done += k;
        }
        Ok(())
    }

    pub(super) fn u1(&mut self) -> R<u8> {
        if self.w.pos < self.w.len {
            self.w.pos += 1;
            return Ok(self.w.buf[self.w.pos - 1]);
        }
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    pub(super) fn u2(&mut self) -> R<u16> {
        let mut b = [0u8; 2];
        self.exact(&mut b)?;
        Ok(u16::from_be_bytes(b))
    }

    pub(super) fn u4(&mut self) -> R<u32> {
        let mut b = [0u8; 4];
        self.exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }

    /// An object or string id of the dump's identifier size.
    pub(super) fn id(&mut self) -> R<u64> {
        if self.w.pos + self.id <= self.w.len {
            let v = be(&self.w.buf[self.w.pos..self.w.pos + self.id]);
            self.w.pos += self.id;
            return Ok(v);
        }
        let mut b = [0u8; 8];
        let n = self.id;
        self.exact(&mut b[..n])?;
        Ok(be(&b[..n]))
    }

    /// Reads `n` ids, calling `f` for each (object array elements), without buffering them.
    pub(super) fn ids(&mut self, n: u64, mut f: impl FnMut(u64)) -> R<()> {
        for _ in 0..n {
            f(self.id()?);
        }
        Ok(())
    }

    /// Skips `n` bytes.
    pub(super) fn skip(&mut self, mut n: u64) -> R<()> {
        while n > 0 {
            if !self.fill()? {
                return Err(self.truncated());
            }
            let k = ((self.w.len - self.w.pos) as u64).min(n);
            self.w.pos += k as usize;
            n -= k;
        }
        Ok(())
    }

    /// Skips forward to stream offset `end` (no-op when already there).
    pub(super) fn skip_to(&mut self, end: u64) -> R<()> {
        let here = self.pos();
        if end > here {
            self.skip(end - here)?;
        }
        Ok(())
    }

    /// Reads `n` bytes into `out` (replacing its content). The buffer grows only as bytes
    /// actually arrive, so a corrupt length cannot allocate more than the stream holds.
    pub(super) fn bytes(&mut self, n: usize, out: &mut Vec<u8>) -> R<()> {
        out.clear();
        let mut left = n;
        while left > 0 {
            if !self.fill()? {
                return Err(self.truncated());
            }
            let k = (self.w.len - self.w.pos).min(left);
            out.extend_from_slice(&self.w.buf[self.w.pos..self.w.pos + k]);
            self.w.pos += k;
            left -= k;
        }
        Ok(())
    }
}

/// Big-endian integer of up to 8 bytes.
fn be(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}
