//! A response framed as FastCGI STDOUT records, ready for one `writev`: a
//! list of segments that are either bytes of ours (record headers, the CGI
//! header block, padding, inflated output) or ranges of the archive mapping,
//! which stay where they are until the kernel copies them to the socket.
//! A large member's ranges may instead be file segments, which the kernel
//! sends with sendfile(2) from the archive's descriptor between the record
//! headers. No I/O here; [`super::connection`] writes the segments.
//!
//! ```text
//! [hdr|CGI head|...] [mapped 65528-n] [hdr] [mapped 65528] ... [pad][hdr len=0][END_REQUEST]
//!  own               mapping (or file) own  mapping (or file)   own
//! ```

use super::record::{self, kind};

/// Content per STDOUT record: a multiple of 8 below 65535, so full records need no padding.
pub const CHUNK: usize = 65528;

/// One piece of the outgoing bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// `out[start..end]`
    Own(usize, usize),
    /// Mapping bytes `offset..offset+len`.
    Mapped(u64, usize),
    /// The same bytes of the archive file, for sendfile(2).
    File(u64, usize),
}

impl Seg {
    /// Bytes the segment stands for.
    pub fn size(&self) -> usize {
        match *self {
            Seg::Own(start, end) => end - start,
            Seg::Mapped(_, len) | Seg::File(_, len) => len,
        }
    }
}

/// The bytes of the next write: our own buffer plus references into a mapping.
/// Reused from request to request, so a response allocates nothing.
#[derive(Debug, Default)]
pub struct Outgoing {
    /// Bytes of ours; replies of the protocol are appended here directly.
    pub out: Vec<u8>,
    segs: Vec<Seg>,
    own_start: usize,
    /// The STDOUT record being filled: where its header sits in `out`, and its content length.
    record: Option<(usize, usize)>,
}

impl Outgoing {
    pub fn clear(&mut self) {
        self.out.clear();
        self.segs.clear();
        self.own_start = 0;
        self.record = None;
    }

    /// The segments queued, once [`Outgoing::seal`] has closed the last one.
    pub fn segments(&self) -> &[Seg] {
        &self.segs
    }

    /// Ends the run of own bytes so far as a segment; call before writing.
    pub fn seal(&mut self) {
        if self.out.len() > self.own_start {
            self.segs.push(Seg::Own(self.own_start, self.out.len()));
            self.own_start = self.out.len();
        }
    }

    /// Starts a STDOUT record whose header is patched when it is closed.
    fn open_record(&mut self) {
        if self.record.is_none() {
            self.record = Some((self.out.len(), 0));
            self.out.extend_from_slice(&[0; record::HEADER_LEN]);
        }
    }

    /// Closes the open STDOUT record: writes its header and padding.
    pub fn close_record(&mut self, id: u16) {
        if let Some((at, len)) = self.record.take() {
            let header = record::header(kind::STDOUT, id, len);
            if let Some(slot) = self.out.get_mut(at..at + record::HEADER_LEN) {
                slot.copy_from_slice(&header);
            }
            self.out.extend_from_slice(record::padding(len));
        }
    }

    /// Appends bytes of ours to the STDOUT stream, records filled up to [`CHUNK`].
    pub fn own(&mut self, id: u16, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            self.open_record();
            let used = self.record.map_or(0, |(_, len)| len);
            let (now, rest) = bytes.split_at((CHUNK - used).min(bytes.len()));
            self.out.extend_from_slice(now);
            self.grow_record(id, now.len());
            bytes = rest;
        }
    }

    /// Appends mapped bytes to the STDOUT stream, by reference.
    pub fn mapped(&mut self, id: u16, offset: u64, len: u64) {
        self.reference(id, offset, len, Seg::Mapped);
    }

    /// Appends archive bytes to the STDOUT stream as file segments, for sendfile(2).
    pub fn file(&mut self, id: u16, offset: u64, len: u64) {
        self.reference(id, offset, len, Seg::File);
    }

    /// Appends `len` archive bytes at `offset` as segments made by `seg`, one
    /// per record they fall in.
    fn reference(&mut self, id: u16, mut offset: u64, len: u64, seg: fn(u64, usize) -> Seg) {
        let mut left = len;
        while left > 0 {
            self.open_record();
            let used = self.record.map_or(0, |(_, len)| len);
            let n = (CHUNK - used).min(usize::try_from(left).unwrap_or(CHUNK));
            self.seal();
            self.segs.push(seg(offset, n));
            self.grow_record(id, n);
            offset += n as u64;
            left -= n as u64;
        }
    }

    fn grow_record(&mut self, id: u16, n: usize) {
        if let Some((_, len)) = &mut self.record {
            *len += n;
            if *len >= CHUNK {
                self.close_record(id);
            }
        }
    }

    /// Ends the STDOUT stream and the request.
    pub fn end(&mut self, id: u16) {
        self.close_record(id);
        self.out
            .extend_from_slice(&record::header(kind::STDOUT, id, 0));
        record::push_end_request(&mut self.out, id, 0, record::status::REQUEST_COMPLETE);
        self.seal();
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;

    /// The bytes `out` stands for, with mapped segments drawn from `mapping`.
    fn flatten(out: &Outgoing, mapping: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for seg in out.segments() {
            match *seg {
                Seg::Own(s, e) => bytes.extend_from_slice(&out.out[s..e]),
                Seg::Mapped(o, n) | Seg::File(o, n) => {
                    bytes.extend_from_slice(&mapping[o as usize..o as usize + n])
                }
            }
        }
        bytes
    }

    /// Decodes STDOUT content and the END_REQUEST that follows it.
    fn unframe(mut bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut content = Vec::new();
        let mut ended = false;
        while let Some((r, used)) = record::decode(bytes).unwrap() {
            match r.kind {
                kind::STDOUT => {
                    assert!(r.content.len() <= CHUNK);
                    content.extend_from_slice(r.content)
                }
                kind::END_REQUEST => ended = true,
                k => panic!("unexpected record type {k}"),
            }
            bytes = &bytes[used..];
        }
        assert!(bytes.is_empty());
        (content, ended)
    }

    #[test]
    fn head_and_mapped_body_reassemble() {
        let mapping: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for (offset, len) in [
            (0u64, 0u64),
            (3, 1),
            (10, 65_528),
            (7, 66_000),
            (1, 199_999),
        ] {
            let mut out = Outgoing::default();
            out.own(1, b"Status: 200 OK\r\n\r\n");
            out.mapped(1, offset, len);
            out.own(1, b"tail");
            out.end(1);
            let (content, ended) = unframe(&flatten(&out, &mapping));
            assert!(ended);
            let mut want = b"Status: 200 OK\r\n\r\n".to_vec();
            want.extend_from_slice(&mapping[offset as usize..(offset + len) as usize]);
            want.extend_from_slice(b"tail");
            assert_eq!(content, want, "offset {offset} len {len}");
            // Mapped bytes are referenced, never copied into our buffer.
            assert!(out.out.len() < 200, "{}", out.out.len());
        }
    }

    /// File segments frame exactly like mapped ones: each lies inside one
    /// record, so the writer can send a record header, then sendfile(2) the
    /// segment, and the records stay whole.
    #[test]
    fn file_segments_frame_like_mapped_ones() {
        const HEAD: &[u8] = b"Status: 206 Partial Content\r\n\r\n";
        let mapping: Vec<u8> = (0..300_000u32).map(|i| (i % 249) as u8).collect();
        for (offset, len) in [(0u64, 1u64), (5, 65_528), (9, 65_529), (3, 250_001)] {
            let mut file = Outgoing::default();
            file.own(1, HEAD);
            file.file(1, offset, len);
            file.own(1, b"--boundary--");
            file.end(1);
            let mut mapped = Outgoing::default();
            mapped.own(1, HEAD);
            mapped.mapped(1, offset, len);
            mapped.own(1, b"--boundary--");
            mapped.end(1);
            assert_eq!(flatten(&file, &mapping), flatten(&mapped, &mapping));
            let files: Vec<_> = file
                .segments()
                .iter()
                .filter_map(|s| match *s {
                    Seg::File(o, n) => Some((o, n)),
                    _ => None,
                })
                .collect();
            assert!(files.iter().all(|&(_, n)| n > 0 && n <= CHUNK));
            assert_eq!(files.iter().map(|&(_, n)| n as u64).sum::<u64>(), len);
            assert!(!file.segments().iter().any(|s| matches!(s, Seg::Mapped(..))));
            let (content, ended) = unframe(&flatten(&file, &mapping));
            assert!(ended);
            assert_eq!(content.len() as u64, HEAD.len() as u64 + len + 12);
        }
    }

    #[test]
    fn records_need_no_padding_when_full() {
        let mut out = Outgoing::default();
        out.own(1, &vec![b'x'; CHUNK * 2 + 3]);
        out.end(1);
        // Two full records, one of 3 bytes padded to 8, the empty record, END_REQUEST.
        assert_eq!(out.out.len(), (8 + CHUNK) * 2 + (8 + 3 + 5) + 8 + 16);
    }
}
