//! A small pull tokenizer over a byte stream, just enough JSON for V8 heap snapshots.
//!
//! It reads integers, strings and punctuation directly from a buffered reader and keeps the
//! byte offset for error messages. It never materialises a JSON tree: large integer arrays are
//! scanned number by number. Not a general JSON parser (no floats in the big arrays).

use std::io::Read;

use crate::window::Window;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Error of the tokenizer: what was expected and at which offset.
#[derive(Debug)]
pub(crate) struct ScanError {
    pub(crate) offset: u64,
    pub(crate) what: String,
}

pub(crate) type ScanResult<T> = Result<T, ScanError>;

/// Pull tokenizer; see the module docs.
pub(crate) struct Scanner<R: Read> {
    w: Window<R>,
}

impl<R: Read> Scanner<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            w: Window::new(inner),
        }
    }

    /// Current offset in the stream.
    pub(crate) fn offset(&self) -> u64 {
        self.w.offset()
    }

    pub(crate) fn err<T>(&self, what: impl Into<String>) -> ScanResult<T> {
        Err(ScanError {
            offset: self.offset(),
            what: what.into(),
        })
    }

    fn fill(&mut self) -> ScanResult<bool> {
        self.w.fill().map_err(|e| ScanError {
            offset: self.w.offset(),
            what: format!("read error ({e})"),
        })
    }

    /// Next byte without consuming it; `None` at end of stream.
    pub(crate) fn peek(&mut self) -> ScanResult<Option<u8>> {
        if self.fill()? {
            Ok(Some(self.w.buf[self.w.pos]))
        } else {
            Ok(None)
        }
    }

    fn next(&mut self) -> ScanResult<u8> {
        match self.peek()? {
            Some(b) => {
                self.w.pos += 1;
                Ok(b)
            }
            None => self.err("unexpected end of file (truncated snapshot?)"),
        }
    }

    pub(crate) fn skip_ws(&mut self) -> ScanResult<()> {
        while let Some(b) = self.peek()? {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.w.pos += 1;
            } else {
                break;
            }
        }
        Ok(())
    }

    /// Skips whitespace and consumes `want`.
    pub(crate) fn expect(&mut self, want: u8) -> ScanResult<()> {
        self.skip_ws()?;
        let at = self.offset();
        let got = self.next()?;
        if got == want {
            Ok(())
        } else {
            Err(ScanError {
                offset: at,
                what: format!(
                    "expected '{}', found '{}'",
                    want as char,
                    got.escape_ascii()
                ),
            })
        }
    }

    /// Skips whitespace and consumes either `,` (returns true) or `close` (returns false).
    pub(crate) fn comma_or(&mut self, close: u8) -> ScanResult<bool> {
        self.skip_ws()?;
        let at = self.offset();
        match self.next()? {
            b',' => Ok(true),
            b if b == close => Ok(false),
            b => Err(ScanError {
                offset: at,
                what: format!(
                    "expected ',' or '{}', found '{}'",
                    close as char,
                    b.escape_ascii()
                ),
            }),
        }
    }

    /// Consumes `[` and reports whether the array is empty (then `]` is consumed too).
    pub(crate) fn open_array(&mut self) -> ScanResult<bool> {
        self.expect(b'[')?;
        self.skip_ws()?;
        if self.peek()? == Some(b']') {
            self.w.pos += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// Reads an array of non-negative integers, calling `f` for each one.
    ///
    /// Items that lie wholly inside the buffer are parsed by a tight loop over the bytes; an
    /// item that crosses the buffer's end, or anything unusual (an error, a huge number), is
    /// re-read from its start by the general path, which reports errors with their offset.
    pub(crate) fn int_array(&mut self, mut f: impl FnMut(u64) -> ScanResult<()>) -> ScanResult<()> {
        if !self.open_array()? {
            return Ok(());
        }
        loop {
            let buf = &self.w.buf[..self.w.len];
            let mut p = self.w.pos;
            loop {
                let start = p;
                while p < buf.len() && is_ws(buf[p]) {
                    p += 1;
                }
                let mut v: u64 = 0;
                let mut digits = 0u32;
                while p < buf.len() {
                    let d = buf[p].wrapping_sub(b'0');
                    // 19 digits always fit in a u64; longer numbers take the checked path.
                    if d > 9 || digits == 19 {
                        break;
                    }
                    v = v * 10 + u64::from(d);
                    digits += 1;
                    p += 1;
                }
                while p < buf.len() && is_ws(buf[p]) {
                    p += 1;
                }
                if digits == 0 || p >= buf.len() {
                    p = start;
                    break;
                }
                match buf[p] {
                    b',' => {
                        self.w.pos = p + 1;
                        p += 1;
                        f(v)?;
                    }
                    b']' => {
                        self.w.pos = p + 1;
                        return f(v);
                    }
                    _ => {
                        p = start;
                        break;
                    }
                }
            }
            self.w.pos = p;
            let v = self.uint()?;
            f(v)?;
            if !self.comma_or(b']')? {
                return Ok(());
            }
        }
    }

    /// Reads one non-negative integer (the hot path of the reader).
    pub(crate) fn uint(&mut self) -> ScanResult<u64> {
        self.skip_ws()?;
        let mut v: u64 = 0;
        let mut digits = 0u32;
        loop {
            if self.w.pos >= self.w.len && !self.fill()? {
                break;
            }
            let b = self.w.buf[self.w.pos];
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d))) {
                Some(v) => v,
                None => return self.err("integer too large"),
            };
            digits += 1;
            self.w.pos += 1;
        }
        if digits == 0 {
            return match self.peek()? {
                Some(b) => self.err(format!("expected an integer, found '{}'", b.escape_ascii())),
                None => self.err("unexpected end of file (truncated snapshot?)"),
            };
        }
        Ok(v)
    }

    /// Reads a JSON string into `out` (cleared first), decoding escapes.
    pub(crate) fn string(&mut self, out: &mut String) -> ScanResult<()> {
        self.expect(b'"')?;
        out.clear();
        let mut bytes = std::mem::take(out).into_bytes();
        loop {
            if self.w.pos >= self.w.len && !self.fill()? {
                return self.err("unexpected end of file inside a string (truncated snapshot?)");
            }
            let chunk = &self.w.buf[self.w.pos..self.w.len];
            match chunk.iter().position(|&b| b == b'"' || b == b'\\') {
                None => {
                    bytes.extend_from_slice(chunk);
                    self.w.pos = self.w.len;
                }
                Some(i) => {
                    bytes.extend_from_slice(&chunk[..i]);
                    let b = chunk[i];
                    self.w.pos += i + 1;
                    if b == b'"' {
                        break;
                    }
                    self.escape(&mut bytes)?;
                }
            }
        }
        *out = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        Ok(())
    }

    /// Skips a JSON string without decoding it.
    pub(crate) fn skip_string(&mut self) -> ScanResult<()> {
        self.expect(b'"')?;
        let mut esc = false;
        loop {
            if self.w.pos >= self.w.len && !self.fill()? {
                return self.err("unexpected end of file inside a string (truncated snapshot?)");
            }
            let chunk = &self.w.buf[self.w.pos..self.w.len];
            if esc {
                esc = false;
                self.w.pos += 1;
                continue;
            }
            match chunk.iter().position(|&b| b == b'"' || b == b'\\') {
                None => self.w.pos = self.w.len,
                Some(i) => {
                    self.w.pos += i + 1;
                    if chunk[i] == b'"' {
                        return Ok(());
                    }
                    esc = true;
                }
            }
        }
    }

    fn escape(&mut self, bytes: &mut Vec<u8>) -> ScanResult<()> {
        let c = self.next()?;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if (0xD800..0xDC00).contains(&hi) && self.peek()? == Some(b'\\') {
                    self.w.pos += 1;
                    if self.next()? != b'u' {
                        return self.err("bad escape after a high surrogate");
                    }
                    let lo = self.hex4()?;
                    let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                    char::from_u32(cp).unwrap_or('\u{FFFD}')
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            other => return self.err(format!("bad escape '\\{}'", other.escape_ascii())),
        };
        let mut tmp = [0u8; 4];
        bytes.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> ScanResult<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let b = self.next()?;
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return self.err("bad \\u escape"),
            };
            v = v * 16 + u32::from(d);
        }
        Ok(v)
    }

    /// Copies one complete JSON value (object, array, string, literal) into `out`, raw.
    pub(crate) fn capture_value(&mut self, out: &mut Vec<u8>) -> ScanResult<()> {
        self.walk_value(Some(out))
    }

    /// Skips one JSON value without keeping it (for sections this reader does not use).
    pub(crate) fn skip_value(&mut self) -> ScanResult<()> {
        self.walk_value(None)
    }

    /// Walks over one complete JSON value, copying its bytes into `out` when given. A value
    /// ends at its closing bracket or quote, or (a bare literal) before the `,`, `}` or `]`
    /// after it, or at the end of the stream.
    fn walk_value(&mut self, mut out: Option<&mut Vec<u8>>) -> ScanResult<()> {
        self.skip_ws()?;
        let mut depth = 0usize;
        let mut in_str = false;
        let mut esc = false;
        let mut any = false;
        loop {
            let b = match self.peek()? {
                Some(b) => b,
                None if depth == 0 && !in_str && any => return Ok(()),
                None => return self.err("unexpected end of file (truncated snapshot?)"),
            };
            if in_str {
                self.w.pos += 1;
                if let Some(o) = out.as_deref_mut() {
                    o.push(b);
                }
                if esc {
                    esc = false;
                } else if b == b'\\' {
                    esc = true;
                } else if b == b'"' {
                    in_str = false;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        return Ok(());
                    }
                    depth -= 1;
                }
                b',' if depth == 0 => return Ok(()),
                _ => {}
            }
            self.w.pos += 1;
            any = true;
            if let Some(o) = out.as_deref_mut() {
                o.push(b);
            }
            if depth == 0 && matches!(b, b'}' | b']') {
                return Ok(());
            }
        }
    }
}
