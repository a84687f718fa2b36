//! CSV records of billing files.
//!
//! This crate owns turning a stream of CSV bytes into records: fields unquoted and unescaped,
//! with the line each record starts on. Fields are RFC 4180: quoted fields may hold
//! separators, doubled quotes and line breaks. The separators are found 64 bytes at a time as
//! bit masks (commas, line feeds, quotes), as simdjson finds JSON's structure: a prefix XOR of
//! the quote mask marks the bytes inside quotes, whose commas and line feeds are then data,
//! and each field end is the next set bit of what remains. On 300,000 CUR rows (135 fields in
//! 900 bytes each) it reads 1.6 GB/s, as fast as `simd-csv`, which it replaced for what it
//! knows on the way: whether a record is ASCII (then its text needs no UTF-8 check), how many
//! line breaks its quoted fields hold (line numbers without counting them again), and that a
//! record has grown past [`MAX_RECORD_BYTES`] (a quote never closed in a damaged file is an
//! error, not the rest of the file in memory as one field). It is a crate of its own so that
//! debug builds (the demo, the tests) still compile it optimised.

use std::io::Read;

/// Bytes held for parsing (grown for a longer record).
const BUFFER_BYTES: usize = 1 << 20;

/// The longest record accepted: beyond it a quote is almost surely never closed, and reading
/// on would hold the whole rest of the input in memory.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// Why records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the input failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The input ends inside a quoted field of the record that starts on `line`.
    #[error("a quoted field is never closed: the input ends inside it")]
    OpenQuote { line: u64 },
    /// The record starting on `line` is longer than [`MAX_RECORD_BYTES`].
    #[error(
        "a record longer than {} MiB: a quote is probably never closed",
        MAX_RECORD_BYTES >> 20
    )]
    TooLong { line: u64 },
}

/// One CSV record: its fields, unquoted and unescaped.
#[derive(Debug, Clone)]
pub struct Record {
    /// The fields' bytes in order, with what stood between them in the file (separators, the
    /// quotes taken out of a quoted field, as spaces): every field is a slice of it.
    data: Vec<u8>,
    /// Each field's start and end in `data`.
    fields: Vec<(u32, u32)>,
    /// `data` holds only ASCII bytes.
    ascii: bool,
    /// Where parsing met quotes in `data`, before taking them out.
    quotes: Vec<u32>,
}

impl Default for Record {
    fn default() -> Record {
        Record::new()
    }
}

impl Record {
    /// A record with no fields.
    pub fn new() -> Record {
        Record {
            data: Vec::new(),
            fields: Vec::new(),
            ascii: true,
            quotes: Vec::new(),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether it has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let &(start, end) = self.fields.get(i)?;
        self.data.get(start as usize..end as usize)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.fields
            .iter()
            .map(|&(start, end)| &self.data[start as usize..end as usize])
    }

    /// The bytes every field is a slice of (fields and what lay between them).
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }

    /// Field `i` as text, when it is UTF-8 (not checked at all when parsing found only ASCII
    /// bytes in the record).
    #[allow(unsafe_code)]
    #[inline]
    pub fn get_str(&self, i: usize) -> Option<&str> {
        let field = self.get(i)?;
        if self.ascii {
            debug_assert!(field.is_ascii());
            // SAFETY: `ascii` holds only when every byte of `data` is below 0x80: parsing
            // checked the high bit of each byte it copied, `push_field` checks what it
            // appends, and taking quotes out moves the record's own bytes and writes
            // spaces. ASCII text is UTF-8.
            return Some(unsafe { std::str::from_utf8_unchecked(field) });
        }
        std::str::from_utf8(field).ok()
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        self.data.clear();
        self.fields.clear();
        self.quotes.clear();
        self.ascii = true;
    }

    /// Appends a field.
    pub fn push_field(&mut self, field: &[u8]) {
        let start = self.data.len() as u32;
        self.data.extend_from_slice(field);
        self.fields.push((start, self.data.len() as u32));
        self.ascii &= field.is_ascii();
    }
}

/// The records of a CSV stream, with the line each starts on.
pub struct Reader<R> {
    input: R,
    /// Bytes read and not yet parsed: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// `input` has no more bytes.
    input_ended: bool,
    /// Line the last record read starts on (1-based).
    line: u64,
    /// Line the next record starts on.
    next_line: u64,
}

impl<R: Read> Reader<R> {
    /// Records of `input`, the first line included.
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            buf: vec![0; BUFFER_BYTES],
            start: 0,
            end: 0,
            input_ended: false,
            line: 0,
            next_line: 1,
        }
    }

    /// Reads the next record into `record`; `false` at the end of the input. A blank line is
    /// a record of one empty field. Records may have any number of fields.
    pub fn read(&mut self, record: &mut Record) -> Result<bool, Error> {
        loop {
            let pending = &self.buf[self.start..self.end];
            match parse_record(pending, self.input_ended, record) {
                Parsed::Record { bytes, line_breaks } => {
                    self.start += bytes;
                    self.line = self.next_line;
                    self.next_line = self.line + 1 + line_breaks;
                    return Ok(true);
                }
                Parsed::End => return Ok(false),
                Parsed::OpenQuote => {
                    return Err(Error::OpenQuote {
                        line: self.next_line,
                    });
                }
                Parsed::NeedMore => self.fill()?,
            }
        }
    }

    /// Line the last record read starts on (1-based).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Moves the unparsed bytes to the front of the buffer and reads more after them.
    fn fill(&mut self) -> Result<(), Error> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.end == self.buf.len() {
            if self.buf.len() >= MAX_RECORD_BYTES {
                return Err(Error::TooLong {
                    line: self.next_line,
                });
            }
            let grown = (self.buf.len() * 2).min(MAX_RECORD_BYTES);
            self.buf.resize(grown, 0);
        }
        let n = loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        };
        self.end += n;
        self.input_ended = n == 0;
        Ok(())
    }
}

/// What [`parse_record`] found at the start of the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// A record of the first `bytes` bytes (its line feed included), with `line_breaks` line
    /// feeds inside quoted fields.
    Record { bytes: usize, line_breaks: u64 },
    /// The record goes on past the bytes given.
    NeedMore,
    /// No bytes, and the input has ended.
    End,
    /// The input ended inside a quoted field.
    OpenQuote,
}

/// Bit masks of 64 bytes: which are commas, line feeds, quotes, and not ASCII.
struct Masks {
    comma: u64,
    line_feed: u64,
    quote: u64,
    high: u64,
}

/// Parses the record at the start of `input` into `record`; `ended`: nothing follows `input`.
fn parse_record(input: &[u8], ended: bool, record: &mut Record) -> Parsed {
    record.clear();
    if input.is_empty() {
        return if ended { Parsed::End } else { Parsed::NeedMore };
    }
    // All ones while inside quotes at the end of the last block.
    let mut in_quotes_carry = 0u64;
    let mut high = 0u64;
    let mut line_breaks = 0u64;
    let mut field_start = 0u32;
    let mut offset = 0usize;
    let mut ends = [0u32; 64 + 4];
    let record_end = loop {
        if offset >= input.len() {
            if !ended {
                return Parsed::NeedMore;
            }
            if in_quotes_carry != 0 {
                return Parsed::OpenQuote;
            }
            break input.len();
        }
        let block = &input[offset..];
        let (masks, valid) = match block.first_chunk::<64>() {
            Some(full) => (block_masks(full), u64::MAX),
            None => {
                let mut padded = [0u8; 64];
                padded[..block.len()].copy_from_slice(block);
                (block_masks(&padded), (1u64 << block.len()) - 1)
            }
        };
        // Most blocks have no quote: then they are all inside or all outside.
        let in_quotes = if masks.quote == 0 {
            in_quotes_carry
        } else {
            prefix_xor(masks.quote) ^ in_quotes_carry
        };
        in_quotes_carry = ((in_quotes as i64) >> 63) as u64;
        let mut separators = (masks.comma | masks.line_feed) & !in_quotes & valid;
        // The record's bytes in this block: all of them unless its line feed is here.
        let mut within = valid;
        let mut ends_here = None;
        let line_feeds = separators & masks.line_feed;
        if line_feeds != 0 {
            let bit = line_feeds.trailing_zeros();
            separators &= u64::MAX >> (63 - bit);
            within = (1u64 << bit) - 1;
            ends_here = Some(offset + bit as usize);
        }
        // Field ends go first into a small array, four at a time (one loop test per four
        // fields), then all at once into the record (one reservation, not a capacity check per
        // field). A slot written once no separator is left holds `base + 64` (`trailing_zeros`
        // of 0), past any position in this block, and is given back. (Not `count_ones`: the
        // x86-64 baseline has no POPCNT instruction, and its replacement costs more; measured
        // on 300,000 CUR rows, writing a fixed 16 slots per block instead was 35% slower.)
        let base = offset as u32;
        let mut found = 0;
        while separators != 0 && found < 64 {
            for slot in &mut ends[found..found + 4] {
                *slot = base + separators.trailing_zeros();
                separators &= separators.wrapping_sub(1);
            }
            found += 4;
        }
        while found > 0 && ends[found - 1] == base + 64 {
            found -= 1;
        }
        record.fields.extend(ends[..found].iter().map(|&end| {
            let start = field_start;
            field_start = end + 1;
            (start, end)
        }));
        let mut quotes = masks.quote & within;
        while quotes != 0 {
            record
                .quotes
                .push((offset + quotes.trailing_zeros() as usize) as u32);
            quotes &= quotes - 1;
        }
        high |= masks.high & within;
        let quoted_line_feeds = masks.line_feed & in_quotes & within;
        if quoted_line_feeds != 0 {
            line_breaks += u64::from(quoted_line_feeds.count_ones());
        }
        if let Some(end) = ends_here {
            break end;
        }
        offset += 64;
    };
    if record_end == input.len() {
        // The last record of an input without a final line feed.
        record.fields.push((field_start, record_end as u32));
    }
    record.data.extend_from_slice(&input[..record_end]);
    record.ascii = high == 0;
    // A CRLF line end: the carriage return is not part of the last field.
    if let Some(last) = record.fields.last_mut()
        && last.1 > last.0
        && record.data[last.1 as usize - 1] == b'\r'
    {
        last.1 -= 1;
    }
    if !record.quotes.is_empty() {
        let Record {
            data,
            fields,
            quotes,
            ..
        } = record;
        // Each quoted field once: the one a quote falls in starts at or before it, and the
        // next starts after it (starts do not move when quotes are taken out; ends do).
        let (mut field, mut done) = (0, usize::MAX);
        for &quote in quotes.iter() {
            while field + 1 < fields.len() && fields[field + 1].0 <= quote {
                field += 1;
            }
            if field != done {
                unquote(data, &mut fields[field]);
                done = field;
            }
        }
    }
    let bytes = if record_end == input.len() {
        record_end
    } else {
        record_end + 1
    };
    Parsed::Record { bytes, line_breaks }
}

/// Takes the quotes out of `data[field]` in place: each quote opens or closes a quoted
/// stretch, and inside one a doubled quote stands for a quote. The bytes freed at the end
/// become spaces (so the record's bytes stay valid UTF-8).
fn unquote(data: &mut [u8], field: &mut (u32, u32)) {
    let (start, end) = (field.0 as usize, field.1 as usize);
    let Some(first) = memchr::memchr(b'"', &data[start..end]) else {
        return;
    };
    let mut out = start + first;
    let mut i = out;
    let mut quoted = false;
    // `data[i]` is a quote: it opens or closes a quoted stretch, or with the next stands for
    // one; then the bytes up to the next quote move down as one run.
    while i < end {
        if quoted && i + 1 < end && data[i + 1] == b'"' {
            data[out] = b'"';
            out += 1;
            i += 2;
        } else {
            quoted = !quoted;
            i += 1;
        }
        let next = memchr::memchr(b'"', &data[i..end]).map_or(end, |k| i + k);
        data.copy_within(i..next, out);
        out += next - i;
        i = next;
    }
    data[out..end].fill(b' ');
    field.1 = out as u32;
}

/// Bit `i` set for every bit at or after a set bit of `x` an odd number of times: the bytes
/// from an opening quote up to (not including) its closing quote.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn block_masks(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut masks = Masks {
        comma: 0,
        line_feed: 0,
        quote: 0,
        high: 0,
    };
    // SAFETY: SSE2, the only instruction set used, is part of every x86-64 CPU; each load
    // reads 16 bytes of `block`, and `_mm_loadu_si128` has no alignment requirement.
    unsafe {
        let (comma, line_feed, quote) = (
            _mm_set1_epi8(b',' as i8),
            _mm_set1_epi8(b'\n' as i8),
            _mm_set1_epi8(b'"' as i8),
        );
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            let bits = |m| u64::from(_mm_movemask_epi8(m) as u16) << (16 * k);
            masks.comma |= bits(_mm_cmpeq_epi8(v, comma));
            masks.line_feed |= bits(_mm_cmpeq_epi8(v, line_feed));
            masks.quote |= bits(_mm_cmpeq_epi8(v, quote));
            masks.high |= bits(v);
        }
    }
    masks
}

#[cfg(not(target_arch = "x86_64"))]
fn block_masks(block: &[u8; 64]) -> Masks {
    let mut masks = Masks {
        comma: 0,
        line_feed: 0,
        quote: 0,
        high: 0,
    };
    for (i, &byte) in block.iter().enumerate() {
        let bit = 1u64 << i;
        match byte {
            b',' => masks.comma |= bit,
            b'\n' => masks.line_feed |= bit,
            b'"' => masks.quote |= bit,
            _ if byte >= 0x80 => masks.high |= bit,
            _ => {}
        }
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of `text`, read `ended` or in the pieces a short buffer would give.
    fn records(text: &[u8]) -> Vec<(Vec<String>, u64)> {
        let mut out = Vec::new();
        let mut record = Record::new();
        let mut at = 0;
        let mut line = 1;
        loop {
            match parse_record(&text[at..], true, &mut record) {
                Parsed::Record { bytes, line_breaks } => {
                    let fields = record
                        .iter()
                        .map(|f| String::from_utf8(f.to_vec()).unwrap())
                        .collect();
                    out.push((fields, line));
                    line += 1 + line_breaks;
                    at += bytes;
                }
                Parsed::End => return out,
                other => panic!("{other:?} at {at}"),
            }
        }
    }

    fn fields(text: &str) -> Vec<Vec<String>> {
        records(text.as_bytes()).into_iter().map(|r| r.0).collect()
    }

    #[test]
    fn plain_quoted_and_escaped_fields() {
        assert_eq!(
            fields("a,b,c\n1,\"x, y\",\"say \"\"hi\"\"\"\n,,\n"),
            [
                vec!["a", "b", "c"],
                vec!["1", "x, y", "say \"hi\""],
                vec!["", "", ""]
            ]
        );
        assert_eq!(fields("\"\",\"\"\"\"\n"), [vec!["", "\""]]);
    }

    #[test]
    fn line_ends_blank_lines_and_a_missing_last_line_feed() {
        assert_eq!(
            fields("a,b\r\n\r\n\nc,\"d\"\r\ne"),
            [
                vec!["a", "b"],
                vec![""],
                vec![""],
                vec!["c", "d"],
                vec!["e"]
            ]
        );
    }

    #[test]
    fn line_breaks_inside_quotes_count_towards_the_next_line() {
        let text = "h1,h2\n\"two\nlines\",x\n\"three\n\n\",y\nlast,z\n";
        let read = records(text.as_bytes());
        let lines: Vec<u64> = read.iter().map(|r| r.1).collect();
        assert_eq!(lines, [1, 2, 4, 7]);
        assert_eq!(read[1].0, ["two\nlines", "x"]);
        assert_eq!(read[2].0, ["three\n\n", "y"]);
    }

    /// Fields and quotes on both sides of every 64-byte block boundary, in records of every
    /// length around it, read as a byte-at-a-time reference parser reads them.
    #[test]
    fn block_boundaries_change_nothing() {
        for pad in 0..140 {
            let filler = "p".repeat(pad);
            let text =
                format!("{filler},\"q,{filler}\n\",\"\"\"{filler}\"\"\",é{filler}\n\"{filler}\"\n");
            let mut reference = Vec::new();
            let (mut field, mut row, mut quoted) = (String::new(), Vec::new(), false);
            let chars: Vec<char> = text.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                match c {
                    '"' if quoted && chars.get(i + 1) == Some(&'"') => {
                        field.push('"');
                        i += 1;
                    }
                    '"' => quoted = !quoted,
                    ',' if !quoted => row.push(std::mem::take(&mut field)),
                    '\n' if !quoted => {
                        row.push(std::mem::take(&mut field));
                        reference.push(std::mem::take(&mut row));
                    }
                    _ => field.push(c),
                }
                i += 1;
            }
            assert_eq!(fields(&text), reference, "pad {pad}");
        }
    }

    /// Blocks holding more than 16 and up to 64 field ends.
    #[test]
    fn crowded_blocks_keep_every_field() {
        for width in [1, 2, 3, 17, 33, 63, 64, 65, 200] {
            let empty = ",".repeat(width - 1);
            assert_eq!(fields(&format!("{empty}\n")), [vec![""; width]], "{width}");
            for lead in [0, 5, 40] {
                let cells: Vec<String> = (0..width).map(|i| (i % 10).to_string()).collect();
                let text = format!("{}\n{}\nz\n", "x".repeat(lead), cells.join(","));
                let expected = [vec!["x".repeat(lead)], cells, vec!["z".into()]];
                assert_eq!(fields(&text), expected, "{width} after {lead}");
            }
        }
    }

    #[test]
    fn a_record_cut_short_asks_for_more_and_an_open_quote_at_the_end_is_an_error() {
        let mut record = Record::new();
        assert_eq!(parse_record(b"a,b,c", false, &mut record), Parsed::NeedMore);
        assert_eq!(
            parse_record(b"a,\"b\n", false, &mut record),
            Parsed::NeedMore
        );
        assert_eq!(
            parse_record(b"a,\"b\nc", true, &mut record),
            Parsed::OpenQuote
        );
        assert_eq!(parse_record(b"", true, &mut record), Parsed::End);
    }

    #[test]
    fn records_know_when_they_are_ascii() {
        let mut record = Record::new();
        parse_record("a,\"b\"\"\",c\n".as_bytes(), true, &mut record);
        assert!(record.ascii);
        assert_eq!(record.get_str(1), Some("b\""));
        parse_record("a,é\n".as_bytes(), true, &mut record);
        assert!(!record.ascii);
        assert_eq!(record.get_str(1), Some("é"));
        parse_record(b"a,\xff\n", true, &mut record);
        assert_eq!((record.get_str(0), record.get_str(1)), (Some("a"), None));
        let mut built = Record::new();
        built.push_field(b"x");
        built.push_field("ü".as_bytes());
        assert_eq!(
            built.iter().collect::<Vec<_>>(),
            [&b"x"[..], "ü".as_bytes()]
        );
        assert!(!built.ascii);
    }

    /// A stream read through the buffer, which must grow for a record longer than it.
    #[test]
    fn a_stream_with_a_record_longer_than_the_buffer() {
        let long = "x".repeat(BUFFER_BYTES * 2 + 17);
        let mut text = String::from("h1,h2\n");
        for i in 0..50_000 {
            text.push_str(&format!("{i},\"v{i}\"\n"));
        }
        text.push_str(&format!("long,\"{long}\"\nend,1"));
        let mut file = Reader::new(text.as_bytes());
        let mut record = Record::new();
        let mut rows = 0;
        let mut last = Vec::new();
        while file.read(&mut record).unwrap() {
            rows += 1;
            if record.get(0) == Some(b"long") {
                assert_eq!(record.get(1).unwrap().len(), long.len());
            }
            last = record.iter().map(<[u8]>::to_vec).collect();
        }
        assert_eq!(rows, 50_003);
        assert_eq!(file.line(), 50_003);
        assert_eq!(last, [b"end".to_vec(), b"1".to_vec()]);
    }
}

#[cfg(test)]
mod stream_tests {
    use super::*;

    #[test]
    fn an_open_quote_or_an_endless_record_is_an_error_naming_its_line() {
        let mut record = Record::new();
        let mut reader = Reader::new(&b"a,b\nc,\"d\n\ne"[..]);
        assert!(reader.read(&mut record).unwrap());
        let err = reader.read(&mut record).unwrap_err();
        assert!(matches!(err, Error::OpenQuote { line: 2 }), "{err}");

        let endless = std::iter::once(b'"')
            .chain(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10))
            .collect::<Vec<u8>>();
        let mut reader = Reader::new(&endless[..]);
        let err = reader.read(&mut record).unwrap_err();
        assert!(matches!(err, Error::TooLong { line: 1 }), "{err}");
    }
}
