//! The bytes of a report as the parser reads them: a buffer of its own over
//! the member's reader, so that the parser can look ahead a few bytes and
//! read text, CDATA and comments itself in bounded pieces, and so that
//! quick-xml, which buffers one whole event (a tag, a declaration), is
//! handed at most [`Source::allow`] bytes for it.
//!
//! ```text
//! MemberReader ─▶ Source (64 KiB) ─┬▶ quick-xml: tags, declarations (≤ allowance each)
//!                                  └▶ the parser: text, CDATA, comments (streamed)
//! ```

use std::io::{self, BufRead, Read};
use std::time::Instant;

use super::model::Stop;

/// Bytes held at once.
const BUF: usize = 64 * 1024;
/// Reads between two looks at the budget (1 MiB).
const READS_PER_CHECK: u32 = 16;

pub(crate) struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Bytes consumed since the start.
    pos: u64,
    /// Bytes quick-xml may still take for the event it reads.
    allowance: usize,
    /// quick-xml asked for more than its allowance.
    pub(crate) overlong: bool,
    /// The deadline and the bytes the reader may take: checked as bytes
    /// arrive, so one endless text run (a few MB of deflate make GBs of
    /// spaces) cannot outlast them.
    deadline: Option<Instant>,
    max_bytes: u64,
    reads: u32,
    /// The budget that ran out (every read fails from then on).
    pub(crate) spent: Option<Stop>,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R) -> Source<R> {
        Source {
            inner,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
            eof: false,
            pos: 0,
            allowance: 0,
            overlong: false,
            deadline: None,
            max_bytes: u64::MAX,
            reads: 0,
            spent: None,
        }
    }

    /// Stops reading at `deadline` or past `bytes` bytes.
    pub(crate) fn budget(&mut self, deadline: Instant, bytes: u64) {
        self.deadline = Some(deadline);
        self.max_bytes = bytes;
    }

    /// Fails once a budget is spent, looking at the clock every [`READS_PER_CHECK`] reads.
    fn check(&mut self) -> io::Result<()> {
        if self.spent.is_none() {
            self.reads = self.reads.wrapping_add(1);
            if self.pos > self.max_bytes {
                self.spent = Some(Stop::Bytes);
            } else if self.reads % READS_PER_CHECK == 0
                && self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                self.spent = Some(Stop::Time);
            }
        }
        match self.spent {
            Some(_) => Err(io::Error::other("a budget is spent")),
            None => Ok(()),
        }
    }

    /// Bytes consumed so far: where the next byte is in the report.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Lets quick-xml take at most `n` bytes for its next event.
    pub(crate) fn allow(&mut self, n: usize) {
        self.allowance = n;
        self.overlong = false;
    }

    /// At least `n` (≤ 64 KiB) buffered bytes, fewer only at the end.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(BUF);
        if self.end - self.start < n && !self.eof {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < n && !self.eof {
                self.check()?;
                let got = match self
                    .inner
                    .read(self.buf.get_mut(self.end..).unwrap_or_default())
                {
                    Ok(got) => got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                self.eof = got == 0;
                self.end += got;
            }
        }
        Ok(self.buf.get(self.start..self.end).unwrap_or_default())
    }

    /// What is buffered, reading more when nothing is.
    pub(crate) fn available(&mut self) -> io::Result<&[u8]> {
        self.peek(1)
    }

    /// Consumes `n` buffered bytes.
    pub(crate) fn skip(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }

    /// Reads up to and past `delim` (found across buffer boundaries), handing
    /// what precedes it to `sink` in pieces; false when the input ends first.
    pub(crate) fn until(&mut self, delim: &[u8], mut sink: impl FnMut(&[u8])) -> io::Result<bool> {
        let keep = delim.len().saturating_sub(1);
        loop {
            let avail = self.peek(delim.len())?;
            if avail.len() < delim.len() {
                let n = avail.len();
                sink(avail);
                self.skip(n);
                return Ok(false);
            }
            match memchr::memmem::find(avail, delim) {
                Some(i) => {
                    sink(avail.get(..i).unwrap_or_default());
                    self.skip(i + delim.len());
                    return Ok(true);
                }
                None => {
                    // The last bytes may begin the delimiter: keep them for the next look.
                    let n = avail.len() - keep;
                    sink(avail.get(..n).unwrap_or_default());
                    self.skip(n);
                }
            }
        }
    }

    /// Reads text up to (not past) the next `<`, handing it to `sink` in pieces.
    pub(crate) fn text(&mut self, mut sink: impl FnMut(&[u8])) -> io::Result<()> {
        loop {
            let avail = self.available()?;
            if avail.is_empty() {
                return Ok(());
            }
            match memchr::memchr(b'<', avail) {
                Some(i) => {
                    sink(avail.get(..i).unwrap_or_default());
                    self.skip(i);
                    return Ok(());
                }
                None => {
                    let n = avail.len();
                    sink(avail);
                    self.skip(n);
                }
            }
        }
    }
}

impl<R: Read> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.allowance == 0 {
            self.overlong = true;
            return Err(io::Error::other("markup longer than wwz reads"));
        }
        let allowance = self.allowance;
        let avail = self.available()?;
        Ok(avail.get(..allowance.min(avail.len())).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.allowance = self.allowance.saturating_sub(amt);
        self.skip(amt);
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        if let (Some(to), Some(from)) = (out.get_mut(..n), avail.get(..n)) {
            to.copy_from_slice(from);
        }
        self.consume(n);
        Ok(n)
    }
}
