//! The read buffer both streaming readers (V8 JSON, HPROF) parse from: a fixed window over the
//! decompressed stream that remembers where it is in the stream, for error offsets.

use std::io::Read;

/// Read buffer size: large enough that refills are rare, small enough to be irrelevant in RSS.
const BUF_SIZE: usize = 256 * 1024;

/// `buf[pos..len]` are the unread bytes; `base` is the stream offset of `buf[0]`. The parsers
/// read `buf`, `pos` and `len` directly in their hot loops.
pub(crate) struct Window<R: Read> {
    inner: R,
    pub(crate) buf: Box<[u8]>,
    pub(crate) pos: usize,
    pub(crate) len: usize,
    base: u64,
    eof: bool,
}

impl<R: Read> Window<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            len: 0,
            base: 0,
            eof: false,
        }
    }

    /// Current offset in the stream.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Refills the window when it is used up (retrying interrupted reads); `Ok(false)` at the
    /// end of the stream.
    pub(crate) fn fill(&mut self) -> std::io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        self.base += self.len as u64;
        self.pos = 0;
        self.len = 0;
        loop {
            match self.inner.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.len = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
