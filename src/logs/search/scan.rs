//! The searcher: walks the members under a directory in name order, matches
//! each name, reads each text member's content a chunk at a time with
//! [`MemberReader`] (`pread` or streaming inflate, never the mapping) and
//! matches it line by line, handing what it finds to a [`Print`]er. It owns
//! the budgets ([`MAX_MATCHES`], [`BYTE_BUDGET`], [`TIME_BUDGET`]) and the
//! [`Slot`] that caps how many searches run at once ([`MAX_SEARCHES`]), and
//! knows where it stands, so a stopped search can be continued.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use regex::bytes::Regex;

use super::print::{Print, SearchSummary, Stop, Stopped};
use super::query::SearchQuery;
use crate::archive::reader::MemberReader;
use crate::archive::Archive;
use crate::content::mime;
use crate::logs::format::{self, System};

pub const MAX_MATCHES: usize = 1000;
pub const BYTE_BUDGET: u64 = 1 << 30;
pub const TIME_BUDGET: Duration = Duration::from_secs(10);
pub const MAX_SEARCHES: usize = 2;
/// Content bytes read per step.
const CHUNK: usize = 1 << 20;
/// A line longer than this is matched in pieces, without waiting for its end.
const MAX_CARRY: usize = 1 << 20;
/// Whole lines handed to the matcher at once; the time is checked between
/// batches. A pattern on the regex crate's slow path (a lazy DFA that gives
/// up, then the PikeVM) costs about 10 µs a byte: a 2 MiB block matched in
/// one call overran the time budget by 20 s, a batch costs a fraction of one.
const BATCH: usize = 16 << 10;
/// The most of one long line handed to the matcher at once (a match across
/// two pieces is missed, as one across [`MAX_CARRY`] always was).
const MAX_PIECE: usize = 64 << 10;
/// The most of one matching line shown (around where its match starts): the
/// printer marks matches in it again, and the page is held until read.
const MAX_SHOWN: usize = 4 << 10;
/// Wall time of one step, so that a slow pattern still hands its results
/// (and its chance to be cancelled) back often.
const STEP_TIME: Duration = Duration::from_millis(100);
/// Bytes looked at to tell text from binary.
const SNIFF: usize = 8192;

static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Holds one of the [`MAX_SEARCHES`] slots while a search runs.
pub(crate) struct Slot;

impl Slot {
    pub(crate) fn take() -> Option<Slot> {
        ACTIVE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_SEARCHES).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The member being read.
struct Current {
    reader: MemberReader,
    /// Bytes of a line not yet ended by a newline.
    carry: Vec<u8>,
    /// Number of the first line in `carry`.
    line: u64,
    /// Whether a result of it was printed (and its header with it).
    shown: bool,
    sniffed: bool,
    /// The CI system that wrote it, told from its first chunk.
    system: System,
    /// Whether its reader has ended (what is left is in `carry`).
    eof: bool,
}

/// A search under one directory, from where the query says to resume.
pub(crate) struct Scan {
    _slot: Slot,
    archive: Arc<Archive>,
    dir_len: usize,
    /// The members under the directory (name, index entry), by name.
    members: Vec<(String, usize)>,
    /// `None` when there is nothing to search for.
    regex: Option<Regex>,
    q: SearchQuery,
    /// Position in `members` of the member being searched.
    at: usize,
    /// Lines of it already reported (from a continue link).
    skip: u64,
    current: Option<Current>,
    started: Instant,
    read: u64,
    matches: usize,
    /// Read buffer, [`CHUNK`] bytes once the first member is read.
    buf: Vec<u8>,
    /// The longest input handed to the matcher in one call.
    #[cfg(test)]
    widest: usize,
}

/// Where the batch of `block` from `from` ends: whole lines of at most
/// [`BATCH`] bytes, else one line of at most [`MAX_PIECE`], else a piece of it.
fn batch_after(block: &[u8], from: usize) -> usize {
    let rest = block.get(from..).unwrap_or_default();
    if rest.len() <= BATCH {
        return block.len();
    }
    if let Some(i) = memchr::memrchr(b'\n', rest.get(..BATCH).unwrap_or_default()) {
        return from + i + 1;
    }
    let line = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
    from + line.min(MAX_PIECE)
}

impl Scan {
    /// The search of the members of `archive` under `dir` (empty for the
    /// root, else ending in `/`), holding `slot` until it is dropped.
    pub(crate) fn new(
        slot: Slot,
        archive: &Arc<Archive>,
        dir: &str,
        regex: Option<Regex>,
        q: SearchQuery,
    ) -> Scan {
        let index = archive.index();
        let mut members: Vec<(String, usize)> = index
            .entries()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let name = index.name_of(e);
                let searched = name.starts_with(dir.as_bytes())
                    && !name.ends_with(b"/")
                    && !crate::site::is_config(name);
                searched.then(|| (String::from_utf8_lossy(name).into_owned(), i))
            })
            .collect();
        members.sort_unstable();
        members.dedup_by(|a, b| a.0 == b.0);
        Scan {
            _slot: slot,
            archive: Arc::clone(archive),
            dir_len: dir.len(),
            members,
            regex,
            at: q.from,
            skip: q.skip,
            q,
            current: None,
            started: Instant::now(),
            read: 0,
            matches: 0,
            buf: Vec::new(),
            #[cfg(test)]
            widest: 0,
        }
    }

    /// Whether there is anything to search for.
    pub(crate) fn searching(&self) -> bool {
        self.regex.is_some()
    }

    /// The budget spent, if one is.
    pub(crate) fn budget_stop(&self) -> Option<Stop> {
        if self.matches >= MAX_MATCHES {
            Some(Stop::Matches)
        } else if self.read >= BYTE_BUDGET {
            Some(Stop::Bytes)
        } else if self.started.elapsed() >= TIME_BUDGET {
            Some(Stop::Time)
        } else {
            None
        }
    }

    /// Whether the member being read has printed a result (so its end is
    /// still to print).
    pub(crate) fn in_shown_member(&self) -> bool {
        self.current.as_ref().is_some_and(|c| c.shown)
    }

    /// The counts so far, and where to continue after `stop`.
    pub(crate) fn summary(&self, stop: Option<Stop>) -> SearchSummary {
        SearchSummary {
            matches: self.matches,
            members: self.members.len(),
            read: self.read,
            searched: self.searching(),
            stopped: stop.map(|why| Stopped {
                why,
                at: self.at,
                // Lines before the one being read are done (a time stop
                // can fall mid-member): the continuation skips them unread.
                link: self.q.continued(
                    self.at,
                    self.current
                        .as_ref()
                        .map_or(self.skip, |c| self.skip.max(c.line.saturating_sub(1))),
                ),
            }),
        }
    }

    fn rel(&self, name: &str) -> String {
        name.get(self.dir_len..).unwrap_or(name).to_string()
    }

    /// One bounded piece of work: a member's name, or a chunk of its content.
    /// False when every member has been searched.
    pub(crate) fn step(&mut self, printer: &mut dyn Print, s: &mut String) -> bool {
        let Some((name, id)) = self.members.get(self.at).cloned() else {
            return false;
        };
        let Some(regex) = self.regex.clone() else {
            return false;
        };
        let rel = self.rel(&name);
        let Some(cur) = self.current.as_mut() else {
            // A new member: its name, then open its content.
            let shown = self.skip == 0 && regex.is_match(rel.as_bytes());
            if shown {
                self.matches += 1;
                printer.member(s, &rel, true);
            }
            let entry = self.archive.index().entries().get(id);
            let binary_type = mime::media_type(&name).is_some_and(|(_, text)| !text);
            match entry
                .filter(|_| !binary_type)
                .map(|e| MemberReader::open(&self.archive, e, 0))
            {
                Some(Ok((reader, _, _))) => {
                    self.current = Some(Current {
                        reader,
                        carry: Vec::new(),
                        line: 1,
                        shown,
                        sniffed: false,
                        system: System::Plain,
                        eof: false,
                    })
                }
                _ => self.next_member(printer, s, shown),
            }
            return true;
        };
        // Read unless a long line is already waiting to be matched in pieces.
        if !cur.eof && cur.carry.len() <= MAX_CARRY {
            if self.buf.is_empty() {
                self.buf = vec![0; CHUNK];
            }
            let got = cur.reader.read(&mut self.buf).unwrap_or(0); // a broken member ends its search; the others go on
            cur.eof = got == 0;
            cur.carry
                .extend_from_slice(self.buf.get(..got).unwrap_or_default());
            self.read += got as u64;
        }
        if !cur.sniffed {
            cur.sniffed = true;
            let head = cur
                .carry
                .get(..SNIFF.min(cur.carry.len()))
                .unwrap_or_default();
            if head.contains(&0) {
                let shown = cur.shown;
                self.next_member(printer, s, shown);
                return true;
            }
            cur.system = format::detect(&cur.carry);
        }
        let ended = cur.eof;
        // Whole lines only, unless the member ended or a line is too long to wait for.
        let upto = match memchr::memrchr(b'\n', &cur.carry) {
            _ if ended => cur.carry.len(),
            Some(i) => i + 1,
            None if cur.carry.len() > MAX_CARRY => cur.carry.len(),
            None => 0,
        };
        let mut found: Vec<(u64, Vec<u8>)> = Vec::new();
        let block = cur.carry.get(..upto).unwrap_or_default();
        let mut line = cur.line;
        let mut next_from = 0;
        // Lines a continue link says were reported are passed over unmatched,
        // so a continuation makes progress however slow the pattern.
        if line <= self.skip {
            let want = usize::try_from(self.skip - line).unwrap_or(usize::MAX);
            match memchr::memchr_iter(b'\n', block).nth(want) {
                Some(i) => {
                    next_from = i + 1;
                    line = self.skip + 1;
                }
                None => {
                    next_from = block.len();
                    line += memchr::memchr_iter(b'\n', block).count() as u64;
                }
            }
        }
        let mut counted = next_from; // bytes of `block` whose newlines are in `line`
        let room = MAX_MATCHES.saturating_sub(self.matches);
        let deadline = self.started + TIME_BUDGET;
        let pause_at = Instant::now() + STEP_TIME;
        let mut batch_end = next_from;
        let mut batches = 0;
        let mut paused = false;
        while found.len() < room {
            if batches == 0 || (next_from >= batch_end && batch_end < block.len()) {
                if batches > 0 {
                    let now = Instant::now();
                    if now >= deadline || now >= pause_at {
                        paused = true;
                        break;
                    }
                }
                batch_end = batch_after(block, next_from);
                batches += 1;
                #[cfg(test)]
                {
                    self.widest = self.widest.max(batch_end.saturating_sub(next_from));
                }
            }
            let hay = block.get(..batch_end).unwrap_or_default();
            let Some(m) = regex.find_at(hay, next_from) else {
                if batch_end >= block.len() {
                    break;
                }
                next_from = batch_end;
                continue;
            };
            let begin = memchr::memrchr(b'\n', block.get(..m.start()).unwrap_or_default())
                .map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', block.get(m.start()..).unwrap_or_default())
                .map_or(block.len(), |i| m.start() + i);
            line += memchr::memchr_iter(b'\n', block.get(counted..begin).unwrap_or_default())
                .count() as u64;
            counted = begin;
            if line > self.skip {
                // A long line is shown around where its match starts.
                let lo = begin.max(m.start().saturating_sub(MAX_SHOWN / 4));
                let hi = end.min(lo.saturating_add(MAX_SHOWN));
                found.push((line, block.get(lo..hi).unwrap_or_default().to_vec()));
            }
            next_from = end + 1;
            if next_from > block.len() {
                break;
            }
        }
        let stopped_early = found.len() >= room && room > 0;
        let consumed = if stopped_early || paused {
            // Resume after the last reported line, or where the time ran out.
            next_from.min(block.len())
        } else {
            block.len()
        };
        line += memchr::memchr_iter(b'\n', block.get(counted..consumed).unwrap_or_default()).count()
            as u64;
        cur.carry.drain(..consumed);
        cur.line = line;
        if !found.is_empty() && !cur.shown {
            cur.shown = true;
            printer.member(s, &rel, false);
        }
        let system = cur.system;
        for (n, text) in &found {
            self.matches += 1;
            printer.line(s, &regex, &rel, system, *n, text);
        }
        if stopped_early {
            // Continue from the next line of this member.
            self.skip = found.last().map_or(self.skip, |f| f.0);
            if let Some(cur) = self.current.as_mut() {
                cur.line = self.skip + 1;
            }
            return true;
        }
        if ended && self.current.as_ref().is_some_and(|c| c.carry.is_empty()) {
            let shown = self.in_shown_member();
            self.next_member(printer, s, shown);
        }
        true
    }

    fn next_member(&mut self, printer: &mut dyn Print, s: &mut String, shown: bool) {
        if shown {
            printer.member_end(s);
        }
        self.current = None;
        self.skip = 0;
        self.at += 1;
    }
}

#[cfg(test)]
mod tests {
    // unwrap/expect here act on inputs the tests build themselves, never on
    // bytes from the network or an archive in service: a failure is the test's.
    use super::*;
    use crate::logs::search::print::printer;

    /// A slot, waiting for the other tests' searches to give one back.
    fn slot() -> Slot {
        loop {
            if let Some(slot) = Slot::take() {
                return slot;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn scan_of(archive: &Arc<Archive>, pattern: &str) -> (Scan, Box<dyn Print>) {
        let q = SearchQuery {
            text: pattern.into(),
            re: true,
            json: true,
            ..SearchQuery::default()
        };
        let regex = q.regex().unwrap();
        let p = printer(&q, "t");
        (Scan::new(slot(), archive, "", Some(regex), q), p)
    }

    /// With its time spent, a step matches one batch of its chunk, not all
    /// of it (the budget was checked only between 1 MiB steps), and the
    /// continue link skips what was matched.
    #[test]
    fn a_step_stops_at_the_deadline_inside_its_chunk() {
        let line = b"0123456789 compiling something that does not match\n";
        let log = line.repeat(4 * CHUNK / line.len());
        let (_dir, a) = super::super::tests::archive(&[("big.log", &log)]);
        let (mut scan, mut p) = scan_of(&a, "never-there");
        let mut s = String::new();
        assert!(scan.step(p.as_mut(), &mut s), "the name");
        scan.started = Instant::now()
            .checked_sub(TIME_BUDGET)
            .unwrap_or(scan.started);
        assert!(scan.step(p.as_mut(), &mut s), "a chunk");
        let done = scan.current.as_ref().map_or(0, |c| c.line - 1);
        assert!(done > 0, "a step makes progress");
        assert!(
            done as usize <= BATCH / line.len() + 1,
            "{done} lines matched past the deadline"
        );
        assert_eq!(scan.budget_stop(), Some(Stop::Time));
        let link = scan.summary(Some(Stop::Time)).stopped.unwrap().link;
        assert!(link.ends_with(&format!("&from=0&skip={done}")), "{link}");
    }

    /// A pathological pattern on one 4 MiB line: the matcher is handed
    /// pieces of at most [`MAX_PIECE`] (it was handed 2 MiB at once).
    #[test]
    fn a_long_line_reaches_the_matcher_in_bounded_pieces() {
        let mut x = 7u64;
        let log: Vec<u8> = (0..4 * CHUNK)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x & 1 == 0 {
                    b'a'
                } else {
                    b'b'
                }
            })
            .collect();
        let (_dir, a) = super::super::tests::archive(&[("ab.log", &log)]);
        let (mut scan, mut p) = scan_of(&a, "(?-u:[ab]){0,200}a(?-u:[ab]){200}Q");
        let mut s = String::new();
        let mut steps = 0;
        // Enough steps to read past MAX_CARRY and match pieces of the line.
        while steps < 10 && scan.step(p.as_mut(), &mut s) {
            steps += 1;
        }
        assert_eq!(steps, 10);
        assert!(
            scan.widest > 0 && scan.widest <= MAX_PIECE,
            "{}",
            scan.widest
        );
    }
}
