//! A zip made of members of another archive, their data copied exactly as
//! it is stored there (stored stays stored, deflated stays deflated): the
//! layout of `DIR/?zip`. What we write (headers, the central directory, the
//! end records) and where each member's data goes, computed from the
//! central directory's fields alone; any byte range of the file walked as
//! pieces, holding one header at a time whatever the member count.
//!
//! ```text
//! [local 1][data 1] … [local n][data n] [central 1] … [central n] [ZIP64 end + locator] [end]
//! 0        ^ from the source            ^ data_end                ^ data_end + cd_size        ^ len
//! ```
//!
//! Each header is made from what the source's central directory says: name
//! (as the caller gives it), method, CRC-32, sizes, time (DOS time and a UT
//! field with the exact second); no data descriptor, Unix mode 0644, the
//! UTF-8 flag on names that are not ASCII; ZIP64 fields exactly where a
//! value does not fit ([`super::write`], the records `wwz pack` writes).
//! The same members in the same order give the same bytes: nothing here
//! reads a clock or draws a random number.

use std::ops::Range;

use super::format::{self, EXTRA_UT, FLAG_UTF8, METHOD_DEFLATED, METHOD_STORED};
use super::write::{self, put16, put32, Fields, LOCAL_ZIP64_LEN};
use crate::util::time::unix_to_dos;

/// The UT extra field: id, length, flags, modification time (i32).
const UT_LEN: usize = 9;
/// Made by Unix (its external attributes carry a mode), APPNOTE 4.5.
const MADE_BY: u16 = 0x0300 | write::VERSION_ZIP64;
/// A regular file, rw-r--r--.
const EXTERNAL_ATTRS: u32 = 0o100_644 << 16;
/// Members examined per [`Walk::step`] at most, sent or skipped: bounds the
/// work of one step when a range starts deep into a large directory.
pub const MEMBERS_PER_STEP: usize = 16_384;
/// Changes whenever the layout does, so digests (and the ETags made of
/// them) of zips laid out differently differ.
const LAYOUT_VERSION: &[u8] = b"wwz-zip-1";

/// One member of the zip being made, as the source's central directory describes it.
#[derive(Debug, Clone, Copy)]
pub struct Member<'a> {
    /// Its name in the new zip.
    pub name: &'a [u8],
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub size: u64,
    /// Unix seconds.
    pub mtime: i64,
}

impl Member<'_> {
    /// The UT field's time, when it fits the field's signed 32 bits.
    fn ut_time(&self) -> Option<i32> {
        i32::try_from(self.mtime).ok()
    }

    fn ut_len(&self) -> usize {
        if self.ut_time().is_some() {
            UT_LEN
        } else {
            0
        }
    }

    fn fields(&self) -> Fields<'_> {
        let (dos_date, dos_time) = unix_to_dos(self.mtime);
        let version_needed = match self.method {
            METHOD_STORED => 10,
            METHOD_DEFLATED => 20,
            // zstd (93), bzip2 (12), LZMA (14) and the like: APPNOTE 6.3.
            _ => 63,
        };
        Fields {
            name: self.name,
            flags: if self.name.is_ascii() { 0 } else { FLAG_UTF8 },
            method: self.method,
            dos_time,
            dos_date,
            crc32: self.crc32,
            compressed_size: self.compressed_size,
            size: self.size,
            made_by: MADE_BY,
            version_needed,
            internal_attrs: 0,
            external_attrs: EXTERNAL_ATTRS,
        }
    }

    /// The local header's length.
    fn local_len(&self) -> u64 {
        let zip64 = if self.fields().local_zip64() {
            LOCAL_ZIP64_LEN
        } else {
            0
        };
        (format::LOCAL_LEN + self.name.len() + zip64 + self.ut_len()) as u64
    }

    /// The central header's length, for a local header at `offset`.
    fn central_len(&self, offset: u64) -> u64 {
        let zip64 = self.fields().central_zip64_len(offset);
        (format::CENTRAL_LEN + self.name.len() + zip64 + self.ut_len()) as u64
    }

    fn push_ut(&self, out: &mut Vec<u8>) {
        if let Some(t) = self.ut_time() {
            put16(out, EXTRA_UT);
            put16(out, 5);
            out.push(1); // the modification time only
            put32(out, t as u32);
        }
    }

    fn push_local(&self, out: &mut Vec<u8>) -> Result<(), write::TooLong> {
        let f = self.fields();
        let mut extra = Vec::with_capacity(LOCAL_ZIP64_LEN + UT_LEN);
        if f.local_zip64() {
            f.push_local_zip64(&mut extra);
        }
        self.push_ut(&mut extra);
        f.push_local(out, &extra)
    }

    fn push_central(&self, out: &mut Vec<u8>, offset: u64) -> Result<(), write::TooLong> {
        let mut extra = Vec::with_capacity(UT_LEN);
        self.push_ut(&mut extra);
        self.fields().push_central(out, offset, &extra, b"")
    }

    /// Feeds what the layout writes about this member into `h`.
    fn digest(&self, h: &mut crc32fast::Hasher) {
        h.update(&(self.name.len() as u64).to_le_bytes());
        h.update(self.name);
        h.update(&self.method.to_le_bytes());
        h.update(&self.crc32.to_le_bytes());
        h.update(&self.compressed_size.to_le_bytes());
        h.update(&self.size.to_le_bytes());
        h.update(&self.mtime.to_le_bytes());
    }
}

/// The members of a zip, in the order they are written, from any source
/// (an archive's directory; a list, in tests). Asked for once to lay the zip
/// out and twice per walk (local headers and data, then the central
/// directory): the answers must not change.
pub trait Members {
    /// Where a member's data is, for whoever sends it (an offset in the source).
    type Data: Copy;

    /// The first member at position `at` or after it, with its position and
    /// data; `None` past the last. Positions start at 0 and only grow.
    fn member_from(&self, at: usize) -> Option<(usize, Member<'_>, Self::Data)>;
}

/// Where everything of a zip goes, and what tells it from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub members: u64,
    /// Where the central directory starts: after the last member's data.
    pub data_end: u64,
    pub cd_size: u64,
    /// The zip's length in bytes.
    pub len: u64,
    /// CRC-32 of everything the headers say about the members (names,
    /// methods, CRC-32s, sizes, times), in order. The zip's bytes are these
    /// and the members' stored data, which the CRC-32s and sizes stand for.
    pub digest: u32,
    /// The newest member's time (Unix seconds; 0 with no member).
    pub newest: i64,
}

/// Why a zip cannot be laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// More members than the caller allows.
    TooManyMembers { limit: u64 },
    /// A name longer than a header holds, or a length past 2^64.
    TooLarge,
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayoutError::TooManyMembers { limit } => {
                write!(f, "more than {limit} members for one zip")
            }
            LayoutError::TooLarge => f.write_str("a name or the zip too large for zip headers"),
        }
    }
}

impl std::error::Error for LayoutError {}

impl Layout {
    /// Lays out a zip of `src`'s members, refusing more than `limit` of them.
    pub fn of<M: Members>(src: &M, limit: u64) -> Result<Layout, LayoutError> {
        let mut h = crc32fast::Hasher::new();
        h.update(LAYOUT_VERSION);
        let (mut members, mut pos, mut cd_size, mut newest) = (0u64, 0u64, 0u64, None);
        let mut at = 0;
        while let Some((found, m, _)) = src.member_from(at) {
            if members == limit {
                return Err(LayoutError::TooManyMembers { limit });
            }
            if m.name.len() > usize::from(u16::MAX) {
                return Err(LayoutError::TooLarge);
            }
            m.digest(&mut h);
            cd_size = cd_size
                .checked_add(m.central_len(pos))
                .ok_or(LayoutError::TooLarge)?;
            pos = pos
                .checked_add(m.local_len())
                .and_then(|p| p.checked_add(m.compressed_size))
                .ok_or(LayoutError::TooLarge)?;
            newest = newest.max(Some(m.mtime));
            members += 1;
            at = found.saturating_add(1);
        }
        let end = write::end_len(members, cd_size, pos, 0) as u64;
        let len = pos
            .checked_add(cd_size)
            .and_then(|l| l.checked_add(end))
            .ok_or(LayoutError::TooLarge)?;
        h.update(&members.to_le_bytes());
        Ok(Layout {
            members,
            data_end: pos,
            cd_size,
            len,
            digest: h.finalize(),
            newest: newest.unwrap_or(0),
        })
    }
}

/// A piece of the zip: bytes we wrote, or `len` bytes of a member's data
/// from `skip` bytes into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a, D> {
    Bytes(&'a [u8]),
    Data { at: D, skip: u64, len: u64 },
}

/// The members changed between the layout and the walk (the archive was
/// rewritten in place): the bytes sent can no longer match the length promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Changed;

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the members changed while their zip was sent")
    }
}

impl std::error::Error for Changed {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Local headers and data.
    Members,
    Central,
    End,
    Done,
}

/// A byte range of a laid-out zip, walked a step at a time.
#[derive(Debug)]
pub struct Walk {
    layout: Layout,
    range: Range<u64>,
    phase: Phase,
    /// The source position to ask for next.
    at: usize,
    /// Where the current item (a member's local header and data, or its
    /// central header) starts in the zip.
    pos: u64,
    /// Bytes of the current member already walked (a member's data may be
    /// split between steps).
    done: u64,
    /// In the central directory: where the current member's local header is.
    local_at: u64,
    /// Members walked in this phase.
    count: u64,
    header: Vec<u8>,
}

impl Walk {
    /// A walk of bytes `range` (clamped to the zip) of the zip `layout` describes.
    pub fn new(layout: Layout, range: Range<u64>) -> Walk {
        let end = range.end.min(layout.len);
        Walk {
            layout,
            range: range.start.min(end)..end,
            phase: Phase::Members,
            at: 0,
            pos: 0,
            done: 0,
            local_at: 0,
            count: 0,
            header: Vec::new(),
        }
    }

    /// Hands the pieces of the range to `each`, in order, until about
    /// `budget` bytes (or [`MEMBERS_PER_STEP`] members) have been walked;
    /// `Ok(false)` once the range is complete. Headers go whole, data may be
    /// split between steps.
    pub fn step<M: Members>(
        &mut self,
        src: &M,
        budget: u64,
        mut each: impl FnMut(Piece<'_, M::Data>),
    ) -> Result<bool, Changed> {
        let mut spent = 0u64;
        let mut examined = 0;
        loop {
            if self.pos.saturating_add(self.done) >= self.range.end {
                self.phase = Phase::Done;
            }
            if self.phase == Phase::Done {
                return Ok(false);
            }
            if spent >= budget || examined >= MEMBERS_PER_STEP {
                return Ok(true);
            }
            examined += 1;
            match self.phase {
                Phase::Members => match src.member_from(self.at) {
                    None => {
                        if self.pos != self.layout.data_end || self.count != self.layout.members {
                            return Err(Changed);
                        }
                        self.next_phase(Phase::Central);
                    }
                    Some((found, m, data)) => {
                        spent += self.member(&m, data, budget - spent, &mut each)?;
                        self.at = found;
                        if self.done == 0 {
                            self.at = found.saturating_add(1);
                        }
                    }
                },
                Phase::Central => match src.member_from(self.at) {
                    None => {
                        let cd_end = self.layout.data_end.saturating_add(self.layout.cd_size);
                        if self.pos != cd_end || self.count != self.layout.members {
                            return Err(Changed);
                        }
                        self.next_phase(Phase::End);
                    }
                    Some((found, m, _)) => {
                        let len = m.central_len(self.local_at);
                        let item = self.pos..self.pos.saturating_add(len);
                        if self.overlaps(&item) {
                            self.header.clear();
                            m.push_central(&mut self.header, self.local_at)
                                .map_err(|_| Changed)?;
                            spent += self.emit_header(item.start, &mut each);
                        }
                        self.pos = item.end;
                        self.local_at = self
                            .local_at
                            .saturating_add(m.local_len())
                            .saturating_add(m.compressed_size);
                        self.count += 1;
                        self.at = found.saturating_add(1);
                    }
                },
                Phase::End => {
                    let l = self.layout;
                    self.header.clear();
                    write::push_end(&mut self.header, l.members, l.cd_size, l.data_end, b"")
                        .map_err(|_| Changed)?;
                    if self.pos.saturating_add(self.header.len() as u64) != l.len {
                        return Err(Changed);
                    }
                    spent += self.emit_header(self.pos, &mut each);
                    self.pos = l.len;
                    self.phase = Phase::Done;
                }
                Phase::Done => {}
            }
        }
    }

    /// Walks what is left of member `m` (local header, then data) within
    /// `budget` data bytes; returns the bytes handed over. `self.done` is 0
    /// again once the member is complete.
    fn member<D: Copy>(
        &mut self,
        m: &Member<'_>,
        data: D,
        budget: u64,
        each: &mut impl FnMut(Piece<'_, D>),
    ) -> Result<u64, Changed> {
        let header_len = m.local_len();
        let data_start = self.pos.saturating_add(header_len);
        let end = data_start.saturating_add(m.compressed_size);
        let mut spent = 0;
        if self.done < header_len {
            let item = self.pos..data_start;
            if self.overlaps(&item) {
                self.header.clear();
                m.push_local(&mut self.header).map_err(|_| Changed)?;
                spent += self.emit_header(self.pos, each);
            }
            self.done = header_len;
        }
        let from = self.pos.saturating_add(self.done).max(self.range.start);
        let to = end
            .min(self.range.end)
            .min(from.saturating_add(budget.max(1)));
        if from < to {
            each(Piece::Data {
                at: data,
                skip: from - data_start,
                len: to - from,
            });
            spent += to - from;
            self.done = to - self.pos;
        } else {
            self.done = end - self.pos;
        }
        if self.pos.saturating_add(self.done) >= end {
            self.pos = end;
            self.done = 0;
            self.count += 1;
        }
        Ok(spent)
    }

    /// Whether `item` has bytes in the range.
    fn overlaps(&self, item: &Range<u64>) -> bool {
        item.start < self.range.end && item.end > self.range.start
    }

    /// Hands over the part of `self.header` (which starts at `start` in the
    /// zip) that lies in the range; returns its length.
    fn emit_header<D>(&self, start: u64, each: &mut impl FnMut(Piece<'_, D>)) -> u64 {
        let end = start.saturating_add(self.header.len() as u64);
        let from = self.range.start.max(start);
        let to = self.range.end.min(end);
        if from >= to {
            return 0;
        }
        let (Ok(a), Ok(b)) = (usize::try_from(from - start), usize::try_from(to - start)) else {
            return 0;
        };
        match self.header.get(a..b) {
            Some(bytes) => {
                each(Piece::Bytes(bytes));
                bytes.len() as u64
            }
            None => 0,
        }
    }

    fn next_phase(&mut self, phase: Phase) {
        self.phase = phase;
        self.at = 0;
        self.count = 0;
        self.done = 0;
        self.local_at = 0;
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use std::io::Read;

    /// Members and their (already compressed) data, as a list.
    struct List(Vec<(String, u16, Vec<u8>, u64, u32, i64)>);

    impl List {
        /// Stored members named `names` with made-up contents.
        fn stored(names: &[&str]) -> List {
            List(
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let data = format!("{n} holds {i}").repeat(i + 1).into_bytes();
                        let crc = crc32fast::hash(&data);
                        let size = data.len() as u64;
                        (
                            n.to_string(),
                            METHOD_STORED,
                            data,
                            size,
                            crc,
                            1_700_000_000 + i as i64,
                        )
                    })
                    .collect(),
            )
        }
    }

    impl Members for List {
        type Data = usize;
        fn member_from(&self, at: usize) -> Option<(usize, Member<'_>, usize)> {
            let (name, method, data, size, crc32, mtime) = self.0.get(at)?;
            Some((
                at,
                Member {
                    name: name.as_bytes(),
                    method: *method,
                    crc32: *crc32,
                    compressed_size: data.len() as u64,
                    size: *size,
                    mtime: *mtime,
                },
                at,
            ))
        }
    }

    /// The bytes of `range` of the zip of `list`, walked with `budget` per step.
    fn bytes(list: &List, range: Range<u64>, budget: u64) -> Vec<u8> {
        let layout = Layout::of(list, u64::MAX).unwrap();
        let mut walk = Walk::new(layout, range);
        let mut out = Vec::new();
        let mut steps = 0;
        while walk
            .step(list, budget, |p| match p {
                Piece::Bytes(b) => out.extend_from_slice(b),
                Piece::Data { at, skip, len } => {
                    let d = &list.0[at].2;
                    out.extend_from_slice(&d[skip as usize..(skip + len) as usize]);
                }
            })
            .unwrap()
        {
            steps += 1;
            assert!(steps < 1_000_000);
        }
        out
    }

    /// The whole zip: its length is the layout's, and the zip crate (a
    /// reader of its own) reads every member back, names, times and bytes.
    #[test]
    fn whole_zip_reads_back() {
        let list = List::stored(&["a.txt", "dir/b.log", "dir/sub/ünïcode.txt", "empty"]);
        let layout = Layout::of(&list, u64::MAX).unwrap();
        let zip = bytes(&list, 0..u64::MAX, 1 << 20);
        assert_eq!(zip.len() as u64, layout.len);
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
        assert_eq!(archive.len(), 4);
        for (i, (name, _, data, ..)) in list.0.iter().enumerate() {
            let mut f = archive.by_index(i).unwrap();
            assert_eq!(f.name().unwrap(), name.as_str());
            let mut got = Vec::new();
            f.read_to_end(&mut got).unwrap();
            assert_eq!(&got, data);
        }
        // The serving index reads it too, every member where the headers say.
        let index = crate::zip::Index::build(&zip[..]).unwrap();
        for (name, _, data, ..) in &list.0 {
            assert_eq!(index.served(&zip, name), Some(&data[..]), "{name}");
            let e = index.get(name.as_bytes()).unwrap();
            assert_eq!(e.mtime(), list.0.iter().find(|m| &m.0 == name).unwrap().5);
        }
        assert_eq!(layout.newest, 1_700_000_003);
    }

    /// Every range, cut anywhere (inside headers, data, the directory, the
    /// end records) and walked with any step budget, is the same slice of
    /// the whole.
    #[test]
    fn ranges_across_piece_boundaries() {
        let list = List::stored(&["a", "bb/c", "bb/d.txt", "e"]);
        let whole = bytes(&list, 0..u64::MAX, u64::MAX);
        let len = whole.len() as u64;
        for budget in [1, 7, 100, u64::MAX] {
            for start in (0..len).step_by(3) {
                for end in [start + 1, start + 31, (start + len) / 2 + 1, len] {
                    if end <= start || end > len {
                        continue;
                    }
                    let got = bytes(&list, start..end, budget);
                    assert_eq!(
                        got,
                        &whole[start as usize..end as usize],
                        "{start}..{end} by {budget}"
                    );
                }
            }
        }
        assert!(bytes(&list, len..len + 10, 10).is_empty());
    }

    /// Identical members give identical bytes and digest; any change to
    /// what the headers say changes the digest.
    #[test]
    fn digest_follows_content() {
        let a = List::stored(&["x", "y"]);
        let b = List::stored(&["x", "y"]);
        let la = Layout::of(&a, 10).unwrap();
        assert_eq!(la, Layout::of(&b, 10).unwrap());
        assert_eq!(bytes(&a, 0..u64::MAX, 5), bytes(&b, 0..u64::MAX, 9));
        let mut c = List::stored(&["x", "y"]);
        c.0[1].4 ^= 1;
        assert_ne!(Layout::of(&c, 10).unwrap().digest, la.digest);
        let mut d = List::stored(&["x", "y"]);
        d.0[0].5 += 2;
        assert_ne!(Layout::of(&d, 10).unwrap().digest, la.digest);
        assert_eq!(
            Layout::of(&a, 1),
            Err(LayoutError::TooManyMembers { limit: 1 })
        );
    }

    /// A walk that finds other members than were laid out stops rather than
    /// send a body of another length.
    #[test]
    fn changed_members_stop_the_walk() {
        let list = List::stored(&["a", "b"]);
        let layout = Layout::of(&list, 10).unwrap();
        let fewer = List::stored(&["a"]);
        let mut walk = Walk::new(layout, 0..layout.len);
        let mut result = Ok(true);
        while result == Ok(true) {
            result = walk.step(&fewer, 1 << 20, |_| {});
        }
        assert_eq!(result, Err(Changed));
    }

    /// More than 65,535 members: ZIP64 end records, which Python's zipfile
    /// and the zip crate read (their counts, every name).
    #[test]
    fn zip64_end_records_for_many_members() {
        let list = List(
            (0..65_536)
                .map(|i| {
                    (
                        format!("d/{i}"),
                        METHOD_STORED,
                        Vec::new(),
                        0,
                        0,
                        1_700_000_000,
                    )
                })
                .collect(),
        );
        let zip = bytes(&list, 0..u64::MAX, 1 << 20);
        let layout = Layout::of(&list, u64::MAX).unwrap();
        assert_eq!(zip.len() as u64, layout.len);
        assert_eq!(
            layout.len - layout.data_end - layout.cd_size,
            (write::ZIP64_END_LEN + format::EOCD_LEN) as u64
        );
        let archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
        assert_eq!(archive.len(), 65_536);
        let index = crate::zip::Index::build(&zip[..]).unwrap();
        assert_eq!(index.len(), 65_536);
    }

    /// Sizes and offsets past 4 GiB: ZIP64 fields in the local header (both
    /// sizes), the central header (the fields that overflow) and the end
    /// records, read back by our own parser without materialising 4 GiB.
    #[test]
    fn zip64_fields_for_large_members() {
        let big = 5u64 << 30;
        struct Big(u64);
        impl Members for Big {
            type Data = ();
            fn member_from(&self, at: usize) -> Option<(usize, Member<'_>, ())> {
                let name: &[u8] = [&b"big.bin"[..], &b"after.txt"[..]].get(at)?;
                let size = if at == 0 { self.0 } else { 3 };
                Some((
                    at,
                    Member {
                        name,
                        method: METHOD_STORED,
                        crc32: 7,
                        compressed_size: size,
                        size,
                        mtime: 1_700_000_000,
                    },
                    (),
                ))
            }
        }
        let src = Big(big);
        let layout = Layout::of(&src, 10).unwrap();
        // Everything but the data: headers are whole pieces, data is skipped.
        let mut headers = Vec::new();
        let mut data = 0u64;
        let mut walk = Walk::new(layout, 0..layout.len);
        while walk
            .step(&src, u64::MAX, |p| match p {
                Piece::Bytes(b) => headers.push(b.to_vec()),
                Piece::Data { len, .. } => data += len,
            })
            .unwrap()
        {}
        assert_eq!(data, big + 3);
        let local = &headers[0];
        let (l, _) = format::LocalHeader::parse(local).unwrap();
        assert_eq!((l.size, l.compressed_size), (big, big));
        let (l2, _) = format::LocalHeader::parse(&headers[1]).unwrap();
        assert_eq!(l2.size, 3);
        let (c1, n1) = format::CentralHeader::parse(&headers[2]).unwrap();
        assert_eq!((c1.size, c1.local_offset), (big, 0));
        let (c2, _) = format::CentralHeader::parse(&headers[3]).unwrap();
        let second_local = local.len() as u64 + big;
        assert_eq!((c2.size, c2.local_offset), (3, second_local));
        assert!(c2.local_offset > u64::from(u32::MAX));
        assert_eq!(n1, headers[2].len());
        let end = &headers[4];
        assert_eq!(end.len(), write::ZIP64_END_LEN + format::EOCD_LEN);
        assert_eq!(format::u32_at(end, 0), Some(format::ZIP64_EOCD_SIG));
        assert_eq!(format::u64_at(end, 48), Some(layout.data_end));
        let total: u64 = headers.iter().map(|h| h.len() as u64).sum::<u64>() + data;
        assert_eq!(total, layout.len);
    }
}
