//! Parquet column chunks of the `focus` table, encoded here rather than by Parquet's Arrow
//! writer.
//!
//! The Arrow writer hashes and compares every string it dictionary-encodes, even the same
//! value row after row, and turns each decimal into its own reference-counted 16-byte
//! buffer. Most FOCUS string columns hold a few values in long runs (a currency, a service,
//! an account): here each row costs one comparison with the previous value and a hash lookup
//! only when the value changes, and decimals are written straight into the page. Pages are
//! what Parquet's writer makes at its version 1: a plain dictionary page and RLE-dictionary
//! data pages (plain data pages once a chunk's distinct values outgrow
//! [`DICTIONARY_LIMIT`]), definition levels in the RLE hybrid, Zstandard per page. Decimals and
//! timestamps take a dictionary too when their values repeat (unit prices, hours): Parquet
//! allows one for any type, and Spark, Trino, DuckDB, polars and Arrow read them (parquet-mr
//! only refrains from writing them for fixed-length values at version 1); costs, which hardly
//! repeat, stay plain.

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, Int64Type, TimestampMicrosecondType};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding, EncodingMask, ZstdLevel};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::{ByteArray, FixedLenByteArray};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use crate::dictionary::{Dictionary, NULL_ID};
use crate::text::TextColumn;

/// A chunk's distinct values, plain-encoded, may take this much before the chunk is written
/// plain instead (Parquet's writer falls back at 1 MiB; a dictionary page this size is still
/// read once per row group).
const DICTIONARY_LIMIT: usize = 2 * 1024 * 1024;

/// Rows per data page (Parquet's writer default), so readers can decode pages one by one.
const PAGE_ROWS: usize = 20_000;

/// Zstandard level of every page (the `focus` files' level).
const ZSTD_LEVEL: i32 = 1;

/// What encoding chunks reuses from one chunk to the next: a Zstandard context, the buffers
/// of a page, its compressed form and the chunk, and the dictionaries of fixed-width chunks.
/// Fresh buffers of these sizes, at every page, cost more in page faults than the encoding
/// itself.
pub(crate) struct ChunkBuffers {
    pages: PageBuffers,
    /// The dictionary being built of a decimal chunk, and of a timestamp or integer chunk.
    decimals: DictionaryScratch<i128>,
    integers: DictionaryScratch<i64>,
}

/// What the pages of a chunk are encoded with.
struct PageBuffers {
    zstd: zstd::bulk::Compressor<'static>,
    page: Vec<u8>,
    compressed: Vec<u8>,
    chunk: Vec<u8>,
}

impl ChunkBuffers {
    pub(crate) fn new() -> Result<Self> {
        let zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(ChunkBuffers {
            pages: PageBuffers {
                zstd,
                page: Vec::new(),
                compressed: Vec::new(),
                chunk: Vec::new(),
            },
            decimals: DictionaryScratch::default(),
            integers: DictionaryScratch::default(),
        })
    }

    /// The last chunk encoded, to append to a row group.
    pub(crate) fn chunk(&self) -> EncodedChunk<'_> {
        EncodedChunk(&self.pages.chunk)
    }
}

/// An encoded column chunk in memory, as Parquet's row group writer reads it.
pub(crate) struct EncodedChunk<'a>(&'a [u8]);

impl<'a> EncodedChunk<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        EncodedChunk(bytes)
    }

    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl Length for EncodedChunk<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl<'a> ChunkReader for EncodedChunk<'a> {
    type T = &'a [u8];

    fn get_read(&self, start: u64) -> Result<&'a [u8]> {
        self.0
            .get(start as usize..)
            .ok_or_else(|| ParquetError::EOF(format!("offset {start} past the chunk")))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let start = start as usize;
        self.0
            .get(start..start.saturating_add(length))
            .map(Bytes::copy_from_slice)
            .ok_or_else(|| ParquetError::EOF(format!("{length} bytes at {start} past the chunk")))
    }
}

/// The rows of one column in the row group being written.
#[derive(Debug)]
pub(crate) enum ColumnChunk {
    /// `Utf8`, dictionary-encoded.
    Strings(StringChunk),
    /// `Utf8` whose values rarely repeat (resource ids): plain.
    UniqueStrings(UniqueStringChunk),
    /// `Decimal128(38, s)`: 16-byte big-endian two's complement; dictionary-encoded when its
    /// values repeat (unit prices), plain otherwise (costs).
    Decimals(Values<i128>),
    /// `Timestamp(µs)`: dictionary-encoded (a month has a few hundred distinct hours) unless
    /// the values hardly repeat.
    Timestamps(Values<i64>),
    /// `Int64`: like timestamps (source line numbers never repeat: plain).
    Integers(Values<i64>),
}

impl ColumnChunk {
    /// The chunk for a column of `data_type`; `dictionary` for string columns whose values
    /// repeat. `None` for a type the `focus` table does not have.
    pub(crate) fn for_type(data_type: &DataType, dictionary: bool) -> Option<Self> {
        Some(match data_type {
            DataType::Utf8 if dictionary => ColumnChunk::Strings(StringChunk::default()),
            DataType::Utf8 => ColumnChunk::UniqueStrings(UniqueStringChunk::default()),
            DataType::Decimal128(..) => ColumnChunk::Decimals(Values::default()),
            DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, _) => {
                ColumnChunk::Timestamps(Values::default())
            }
            DataType::Int64 => ColumnChunk::Integers(Values::default()),
            _ => return None,
        })
    }

    /// Appends a batch's column; `Err` names the type expected when it has another.
    pub(crate) fn push(&mut self, values: &dyn Array) -> Result<(), &'static str> {
        match self {
            ColumnChunk::Strings(c) => c.push(&TextColumn::of(values).ok_or("Utf8")?),
            ColumnChunk::UniqueStrings(c) => c.push(&TextColumn::of(values).ok_or("Utf8")?),
            ColumnChunk::Decimals(c) => c.push(
                values
                    .as_primitive_opt::<Decimal128Type>()
                    .ok_or("Decimal128")?,
            ),
            ColumnChunk::Timestamps(c) => c.push(
                values
                    .as_primitive_opt::<TimestampMicrosecondType>()
                    .ok_or("Timestamp(µs)")?,
            ),
            ColumnChunk::Integers(c) => {
                c.push(values.as_primitive_opt::<Int64Type>().ok_or("Int64")?)
            }
        }
        Ok(())
    }

    /// Whether `self` holds exactly the rows of `other`, so that, for columns of the same
    /// nullability, its pages would be the same bytes (FOCUS repeats values across columns: a
    /// resource's name is its id, a cost in the pricing currency is the cost in the billing
    /// currency). Only the large plain chunks are compared; a dictionary chunk is small.
    pub(crate) fn same_rows(&self, other: &ColumnChunk) -> bool {
        match (self, other) {
            (ColumnChunk::Decimals(a), ColumnChunk::Decimals(b)) => a.same_rows(b),
            (ColumnChunk::Integers(a), ColumnChunk::Integers(b)) => a.same_rows(b),
            (ColumnChunk::UniqueStrings(a), ColumnChunk::UniqueStrings(b)) => {
                a.nulls == b.nulls && a.ends == b.ends && a.bytes == b.bytes
            }
            _ => false,
        }
    }

    /// Forgets the rows pushed since the last chunk was encoded (a chunk written as the copy
    /// of another, see [`ColumnChunk::same_rows`]).
    pub(crate) fn discard_rows(&mut self) {
        match self {
            ColumnChunk::Strings(c) => c.clear(),
            ColumnChunk::UniqueStrings(c) => c.clear(),
            ColumnChunk::Decimals(c) => c.clear(),
            ColumnChunk::Integers(c) => c.clear(),
            ColumnChunk::Timestamps(c) => c.clear(),
        }
    }

    /// Encodes the rows pushed since the last call as one column chunk (its pages, from offset
    /// 0, into `buffers`), and starts the next.
    pub(crate) fn finish(
        &mut self,
        column: ColumnDescPtr,
        buffers: &mut ChunkBuffers,
        with_statistics: bool,
    ) -> Result<ChunkLayout> {
        let mut chunk = ChunkPages::new(column, &mut buffers.pages);
        let statistics = match self {
            ColumnChunk::Strings(c) => c.encode(&mut chunk)?,
            ColumnChunk::UniqueStrings(c) => c.encode(&mut chunk)?,
            ColumnChunk::Decimals(c) => c.encode(&mut chunk, &mut buffers.decimals, put_decimal)?,
            ColumnChunk::Timestamps(c) | ColumnChunk::Integers(c) => {
                c.encode(&mut chunk, &mut buffers.integers, |buf, v| {
                    buf.extend_from_slice(&v.to_le_bytes())
                })?
            }
        };
        chunk.finish(with_statistics.then_some(statistics).flatten())
    }
}

/// Where an encoded chunk's pages sit and what they hold: what a row group needs to append
/// the chunk's bytes as a column, whichever column (of the same nullability) that is.
#[derive(Debug, Clone)]
pub(crate) struct ChunkLayout {
    bytes_written: u64,
    rows: u64,
    compressed: u64,
    uncompressed: u64,
    dictionary_offset: Option<i64>,
    data_offset: Option<i64>,
    encodings: Vec<Encoding>,
    statistics: Option<Statistics>,
}

impl ChunkLayout {
    /// The chunk as `column`'s, for [`parquet::file::writer::SerializedRowGroupWriter::append_column`].
    pub(crate) fn close(&self, column: ColumnDescPtr) -> Result<ColumnCloseResult> {
        let mut metadata = ColumnChunkMetaData::builder(column)
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
            .set_encodings_mask(EncodingMask::new_from_encodings(self.encodings.iter()))
            .set_total_compressed_size(self.compressed as i64)
            .set_total_uncompressed_size(self.uncompressed as i64)
            .set_num_values(self.rows as i64)
            .set_data_page_offset(self.data_offset.unwrap_or_default())
            .set_dictionary_page_offset(self.dictionary_offset);
        if let Some(statistics) = self.statistics.clone() {
            metadata = metadata.set_statistics(statistics);
        }
        Ok(ColumnCloseResult {
            bytes_written: self.bytes_written,
            rows_written: self.rows,
            metadata: metadata.build()?,
            bloom_filter: None,
            column_index: None,
            offset_index: None,
        })
    }
}

/// Pages of one column chunk being written into memory, and their sizes.
struct ChunkPages<'a> {
    column: ColumnDescPtr,
    zstd: &'a mut zstd::bulk::Compressor<'static>,
    compressed_page: &'a mut Vec<u8>,
    sink: TrackedWrite<&'a mut Vec<u8>>,
    /// The pages written so far (sizes, offsets, encodings); complete at [`Self::finish`].
    layout: ChunkLayout,
    /// The page being built.
    buf: &'a mut Vec<u8>,
}

impl<'a> ChunkPages<'a> {
    fn new(column: ColumnDescPtr, buffers: &'a mut PageBuffers) -> Self {
        let PageBuffers {
            zstd,
            page,
            compressed,
            chunk,
        } = buffers;
        chunk.clear();
        page.clear();
        ChunkPages {
            column,
            zstd,
            compressed_page: compressed,
            sink: TrackedWrite::new(chunk),
            layout: ChunkLayout {
                bytes_written: 0,
                rows: 0,
                compressed: 0,
                uncompressed: 0,
                dictionary_offset: None,
                data_offset: None,
                encodings: vec![Encoding::RLE],
                statistics: None,
            },
            buf: page,
        }
    }

    /// `self.buf`, compressed.
    fn compress_page(&mut self) -> Result<Bytes> {
        self.compressed_page.clear();
        self.compressed_page
            .reserve(zstd::zstd_safe::compress_bound(self.buf.len()));
        self.zstd
            .compress_to_buffer(&self.buf[..], &mut *self.compressed_page)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(Bytes::copy_from_slice(self.compressed_page))
    }

    fn nullable(&self) -> bool {
        self.column.max_def_level() > 0
    }

    /// Fails when a required column has nulls.
    fn check_nulls(&self, nulls: usize) -> Result<()> {
        if nulls > 0 && !self.nullable() {
            return Err(ParquetError::General(format!(
                "column {} is required but {nulls} rows are null",
                self.column.name()
            )));
        }
        Ok(())
    }

    /// Writes `self.buf` as the dictionary page of `values` plain values.
    fn dictionary_page(&mut self, values: usize) -> Result<()> {
        let page = Page::DictionaryPage {
            buf: self.compress_page()?,
            num_values: values as u32,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let spec = SerializedPageWriter::new(&mut self.sink)
            .write_page(CompressedPage::new(page, self.buf.len()))?;
        let layout = &mut self.layout;
        layout.dictionary_offset = Some(spec.offset as i64);
        layout.compressed += spec.compressed_size as u64;
        layout.uncompressed += spec.uncompressed_size as u64;
        layout.encodings.push(Encoding::PLAIN);
        Ok(())
    }

    /// Starts a data page of rows whose validity `valid` gives (`None`: all valid): writes
    /// their definition levels into `self.buf`.
    fn start_data_page(&mut self, rows: usize, valid: Option<&mut dyn Iterator<Item = bool>>) {
        self.buf.clear();
        if !self.nullable() {
            return;
        }
        // Version 1 pages prefix the levels with their length.
        self.buf.extend_from_slice(&[0; 4]);
        match valid {
            None => {
                put_varint(self.buf, (rows as u64) << 1);
                self.buf.push(1);
            }
            Some(valid) => {
                let levels: Vec<u32> = valid.map(u32::from).collect();
                encode_hybrid(&levels, 1, self.buf);
            }
        }
        let length = (self.buf.len() - 4) as u32;
        self.buf[..4].copy_from_slice(&length.to_le_bytes());
    }

    /// Writes the data pages of rows given as dictionary ids ([`NULL_ID`] for a null) into
    /// a dictionary of `values` values.
    fn id_pages(&mut self, ids: &[u32], has_nulls: bool, values: usize) -> Result<()> {
        let bit_width = bits_for(values.saturating_sub(1) as u32);
        let mut keys: Vec<u32> = Vec::with_capacity(PAGE_ROWS);
        for rows in ids.chunks(PAGE_ROWS) {
            let mut valid = rows.iter().map(|&id| id != NULL_ID);
            self.start_data_page(
                rows.len(),
                has_nulls.then_some(&mut valid as &mut dyn Iterator<Item = bool>),
            );
            keys.clear();
            keys.extend(rows.iter().copied().filter(|&id| id != NULL_ID));
            self.buf.push(bit_width);
            encode_hybrid(&keys, bit_width, self.buf);
            self.data_page(rows.len(), Encoding::RLE_DICTIONARY)?;
        }
        Ok(())
    }

    /// Writes `self.buf` (levels, then values) as a data page of `rows` rows.
    fn data_page(&mut self, rows: usize, encoding: Encoding) -> Result<()> {
        let page = Page::DataPage {
            buf: self.compress_page()?,
            num_values: rows as u32,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut self.sink)
            .write_page(CompressedPage::new(page, self.buf.len()))?;
        let layout = &mut self.layout;
        layout.data_offset.get_or_insert(spec.offset as i64);
        layout.compressed += spec.compressed_size as u64;
        layout.uncompressed += spec.uncompressed_size as u64;
        layout.rows += rows as u64;
        if !layout.encodings.contains(&encoding) {
            layout.encodings.push(encoding);
        }
        Ok(())
    }

    fn finish(self, statistics: Option<Statistics>) -> Result<ChunkLayout> {
        let bytes_written = self.sink.bytes_written() as u64;
        self.sink.into_inner()?;
        Ok(ChunkLayout {
            bytes_written,
            statistics,
            ..self.layout
        })
    }
}

/// A string column whose values repeat.
#[derive(Debug, Default)]
pub(crate) struct StringChunk {
    dictionary: Dictionary,
    /// One per row: the value's id, or [`NULL_ID`].
    ids: Vec<u32>,
    nulls: usize,
    /// Scratch space of [`Dictionary::extend_ids`].
    seen: Vec<u32>,
}

impl StringChunk {
    fn push(&mut self, values: &TextColumn<'_>) {
        self.nulls += values.null_count();
        self.dictionary
            .extend_ids(values, &mut self.ids, &mut self.seen);
    }

    fn encode(&mut self, chunk: &mut ChunkPages<'_>) -> Result<Option<Statistics>> {
        chunk.check_nulls(self.nulls)?;
        // Plain-encoded, a dictionary takes each value with its 4-byte length.
        let dictionary_bytes = self.dictionary.value_bytes() + 4 * self.dictionary.len();
        let use_dictionary = dictionary_bytes <= DICTIONARY_LIMIT;
        if use_dictionary {
            chunk.buf.clear();
            chunk.buf.reserve(dictionary_bytes);
            for value in self.dictionary.values() {
                put_plain(chunk.buf, value);
            }
            chunk.dictionary_page(self.dictionary.len())?;
        }
        if use_dictionary {
            chunk.id_pages(&self.ids, self.nulls > 0, self.dictionary.len())?;
        } else {
            for rows in self.ids.chunks(PAGE_ROWS) {
                let mut valid = rows.iter().map(|&id| id != NULL_ID);
                chunk.start_data_page(
                    rows.len(),
                    (self.nulls > 0).then_some(&mut valid as &mut dyn Iterator<Item = bool>),
                );
                for &id in rows {
                    if let Some(value) = self.dictionary.value(id) {
                        put_plain(chunk.buf, value);
                    }
                }
                chunk.data_page(rows.len(), Encoding::PLAIN)?;
            }
        }
        // Every value of the dictionary occurs in the chunk.
        let bound = |v: &[u8]| ByteArray::from(v.to_vec());
        let statistics = Statistics::byte_array(
            self.dictionary.values().min().map(bound),
            self.dictionary.values().max().map(bound),
            None,
            Some(self.nulls as u64),
            false,
        );
        self.clear();
        Ok(Some(statistics))
    }

    fn clear(&mut self) {
        self.dictionary.clear();
        self.ids.clear();
        self.nulls = 0;
    }
}

/// A string column whose values rarely repeat: plain-encoded as they come.
#[derive(Debug, Default)]
pub(crate) struct UniqueStringChunk {
    /// Per row: the end of its value in `bytes`, or `None` when null.
    ends: Vec<Option<usize>>,
    bytes: Vec<u8>,
    nulls: usize,
}

impl UniqueStringChunk {
    fn push(&mut self, values: &TextColumn<'_>) {
        self.ends.reserve(values.len());
        for value in values.iter() {
            match value {
                Some(v) => {
                    self.bytes.extend_from_slice(v.as_bytes());
                    self.ends.push(Some(self.bytes.len()));
                }
                None => {
                    self.nulls += 1;
                    self.ends.push(None);
                }
            }
        }
    }

    fn encode(&mut self, chunk: &mut ChunkPages<'_>) -> Result<Option<Statistics>> {
        chunk.check_nulls(self.nulls)?;
        let mut start = 0usize;
        for rows in self.ends.chunks(PAGE_ROWS) {
            let mut valid = rows.iter().map(Option::is_some);
            chunk.start_data_page(
                rows.len(),
                (self.nulls > 0).then_some(&mut valid as &mut dyn Iterator<Item = bool>),
            );
            for &end in rows.iter().flatten() {
                put_plain(chunk.buf, &self.bytes[start..end]);
                start = end;
            }
            chunk.data_page(rows.len(), Encoding::PLAIN)?;
        }
        self.clear();
        // Chunk statistics of such columns would be as long as the values and skip nothing.
        Ok(None)
    }

    fn clear(&mut self) {
        self.ends.clear();
        self.bytes.clear();
        self.nulls = 0;
    }
}

/// A column of fixed-width values: dictionary-encoded when few distinct values repeat, plain
/// otherwise.
#[derive(Debug, Default)]
pub(crate) struct Values<T> {
    /// The non-null values, in row order.
    values: Vec<T>,
    /// Per row, whether it has a value; kept only once a null has been met.
    valid: Vec<bool>,
    rows: usize,
    nulls: usize,
}

/// A chunk's dictionary being built: its values, their ids, and each row's id. One serves
/// every chunk of a type in turn.
#[derive(Debug, Default)]
struct DictionaryScratch<T> {
    ids: HashMap<T, u32, foldhash::fast::RandomState>,
    values: Vec<T>,
    /// One per row: the value's id, or [`NULL_ID`].
    rows: Vec<u32>,
}

/// Values looked at before deciding that a chunk's values hardly repeat.
const DICTIONARY_PROBE: usize = 4096;

impl<T> Values<T>
where
    T: arrow::datatypes::ArrowNativeType + Ord + std::hash::Hash,
{
    fn same_rows(&self, other: &Self) -> bool {
        self.rows == other.rows
            && self.nulls == other.nulls
            && self.values == other.values
            && self.valid == other.valid
    }

    fn clear(&mut self) {
        self.values.clear();
        self.valid.clear();
        self.rows = 0;
        self.nulls = 0;
    }

    fn push<P>(&mut self, array: &arrow::array::PrimitiveArray<P>)
    where
        P: arrow::datatypes::ArrowPrimitiveType<Native = T>,
    {
        match array.nulls().filter(|n| n.null_count() > 0) {
            None => {
                self.values.extend_from_slice(array.values());
                if self.nulls > 0 {
                    self.valid.extend(std::iter::repeat_n(true, array.len()));
                }
            }
            Some(nulls) => {
                if self.nulls == 0 {
                    self.valid.clear();
                    self.valid.extend(std::iter::repeat_n(true, self.rows));
                }
                self.nulls += nulls.null_count();
                for (i, value) in array.values().iter().enumerate() {
                    let valid = nulls.is_valid(i);
                    self.valid.push(valid);
                    if valid {
                        self.values.push(*value);
                    }
                }
            }
        }
        self.rows += array.len();
    }

    /// Builds the chunk's dictionary into `scratch` when its values repeat enough to be
    /// worth one: at most one distinct value in eight (a quarter of the first
    /// [`DICTIONARY_PROBE`], so costs, which hardly repeat, are given up on early), and a
    /// dictionary page within [`DICTIONARY_LIMIT`].
    fn dictionary(&self, scratch: &mut DictionaryScratch<T>) -> bool {
        if self.values.is_empty() {
            return false;
        }
        let most = (self.values.len() / 8)
            .min(DICTIONARY_LIMIT / std::mem::size_of::<T>())
            .max(1);
        let DictionaryScratch { ids, values, rows } = scratch;
        ids.clear();
        values.clear();
        rows.clear();
        rows.reserve(self.rows);
        let mut last: Option<(T, u32)> = None;
        for (k, &value) in self.values.iter().enumerate() {
            let id = match last {
                Some((previous, id)) if previous == value => id,
                _ => {
                    let next = values.len() as u32;
                    let id = *ids.entry(value).or_insert(next);
                    if id == next {
                        values.push(value);
                        if values.len() > most
                            || (k < DICTIONARY_PROBE && values.len() > DICTIONARY_PROBE / 4)
                        {
                            return false;
                        }
                    }
                    last = Some((value, id));
                    id
                }
            };
            rows.push(id);
        }
        if self.nulls > 0 {
            // Spread the ids over the rows, nulls included, from the back.
            rows.resize(self.rows, NULL_ID);
            let mut next = self.values.len();
            for row in (0..self.rows).rev() {
                rows[row] = if self.valid[row] {
                    next -= 1;
                    rows[next]
                } else {
                    NULL_ID
                };
            }
        }
        true
    }

    fn encode(
        &mut self,
        chunk: &mut ChunkPages<'_>,
        scratch: &mut DictionaryScratch<T>,
        put: impl Fn(&mut Vec<u8>, T),
    ) -> Result<Option<Statistics>>
    where
        T: StatisticsBound,
    {
        chunk.check_nulls(self.nulls)?;
        // The bounds are looked for among the distinct values when there is a dictionary
        // (every one of them occurs in the chunk).
        let distinct = if self.dictionary(scratch) {
            chunk.buf.clear();
            for &value in &scratch.values {
                put(chunk.buf, value);
            }
            chunk.dictionary_page(scratch.values.len())?;
            chunk.id_pages(&scratch.rows, self.nulls > 0, scratch.values.len())?;
            &scratch.values
        } else {
            self.plain_pages(chunk, &put)?;
            &self.values
        };
        let min = distinct.iter().min().copied();
        let max = distinct.iter().max().copied();
        let statistics = T::statistics(min, max, self.nulls as u64);
        self.clear();
        Ok(Some(statistics))
    }

    fn plain_pages(
        &self,
        chunk: &mut ChunkPages<'_>,
        put: &impl Fn(&mut Vec<u8>, T),
    ) -> Result<()> {
        let mut next = 0usize;
        for start in (0..self.rows).step_by(PAGE_ROWS) {
            let rows = PAGE_ROWS.min(self.rows - start);
            let present = if self.nulls > 0 {
                let valid = &self.valid[start..start + rows];
                let mut levels = valid.iter().copied();
                chunk.start_data_page(rows, Some(&mut levels));
                valid.iter().filter(|v| **v).count()
            } else {
                chunk.start_data_page(rows, None);
                rows
            };
            for value in &self.values[next..next + present] {
                put(chunk.buf, *value);
            }
            next += present;
            chunk.data_page(rows, Encoding::PLAIN)?;
        }
        Ok(())
    }
}

/// Parquet chunk statistics of a value type.
pub(crate) trait StatisticsBound: Sized {
    fn statistics(min: Option<Self>, max: Option<Self>, nulls: u64) -> Statistics;
}

// Both sort signed, so the bounds also go in the fields older readers use, as Parquet's
// writer does.
impl StatisticsBound for i64 {
    fn statistics(min: Option<i64>, max: Option<i64>, nulls: u64) -> Statistics {
        Statistics::Int64(
            ValueStatistics::new(min, max, None, Some(nulls), false)
                .with_backwards_compatible_min_max(true),
        )
    }
}

impl StatisticsBound for i128 {
    fn statistics(min: Option<i128>, max: Option<i128>, nulls: u64) -> Statistics {
        let bound = |v: i128| FixedLenByteArray::from(v.to_be_bytes().to_vec());
        Statistics::FixedLenByteArray(
            ValueStatistics::new(min.map(bound), max.map(bound), None, Some(nulls), false)
                .with_backwards_compatible_min_max(true),
        )
    }
}

/// A decimal as Parquet stores `Decimal128(38, s)`: 16 bytes, big-endian two's complement.
fn put_decimal(buf: &mut Vec<u8>, value: i128) {
    buf.extend_from_slice(&value.to_be_bytes());
}

/// A value in Parquet's plain encoding: its length (4 bytes, little-endian), then its bytes.
fn put_plain(buf: &mut Vec<u8>, value: &[u8]) {
    buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
    buf.extend_from_slice(value);
}

/// Bits needed to write `max`.
fn bits_for(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Values per bit-packed run at most (63 groups of 8, as a one-byte header allows; some
/// readers expect no more).
const MAX_PACKED: usize = 63 * 8;

/// Appends `values` (each below 2^`bit_width`) in Parquet's RLE / bit-packing hybrid
/// encoding: values bit-packed in groups of 8 (the last group padded with zeros; readers stop
/// at the page's value count), and a run of equal values that fills a whole group from where
/// the bit-packed values end repeated as one value (as long as it lasts).
///
/// Runs are looked for a group at a time: a group is one comparison of its 8 values with its
/// first, without a branch per value, so ids that change at every row cost no misprediction
/// each (a run that starts inside a group is repeated from the next group on).
pub(crate) fn encode_hybrid(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    let value_bytes = usize::from(bit_width).div_ceil(8);
    let repeat = |out: &mut Vec<u8>, count: usize, value: u32| {
        put_varint(out, (count as u64) << 1);
        out.extend_from_slice(&value.to_le_bytes()[..value_bytes]);
    };
    // A column of one value (a currency, a file name) is one run, found without looking for
    // runs group by group.
    if let Some(&first) = values.first()
        && values.iter().all(|&v| v == first)
    {
        repeat(out, values.len(), first);
        return;
    }
    // `values[packed..group]` wait to be bit-packed; `group` starts the next group of 8.
    let mut packed = 0;
    let mut group = 0;
    while let Some(eight) = values.get(group..group + 8) {
        let first = eight[0];
        let differ = eight.iter().fold(0, |any, &v| any | (v ^ first));
        if differ != 0 {
            group += 8;
            continue;
        }
        let end = group
            + 8
            + values[group + 8..]
                .iter()
                .take_while(|&&v| v == first)
                .count();
        put_packed(&values[packed..group], bit_width, out);
        repeat(out, end - group, first);
        packed = end;
        group = end;
    }
    put_packed(&values[packed..], bit_width, out);
}

/// Bit-packs `values` in runs of at most [`MAX_PACKED`], padding the last group with zeros.
fn put_packed(values: &[u32], bit_width: u8, out: &mut Vec<u8>) {
    for run in values.chunks(MAX_PACKED) {
        let groups = run.len().div_ceil(8);
        put_varint(out, ((groups as u64) << 1) | 1);
        if bit_width <= 16 {
            // A group of 8 values is `bit_width` bytes: build it in one register.
            let width = usize::from(bit_width);
            for group in run.chunks(8) {
                let mut bits = 0u128;
                for (k, &v) in group.iter().enumerate() {
                    bits |= u128::from(v) << (k * width);
                }
                out.extend_from_slice(&bits.to_le_bytes()[..width]);
            }
            continue;
        }
        let (mut bits, mut filled) = (0u64, 0u8);
        for k in 0..groups * 8 {
            bits |= u64::from(run.get(k).copied().unwrap_or(0)) << filled;
            filled += bit_width;
            while filled >= 8 {
                out.push(bits as u8);
                bits >>= 8;
                filled -= 8;
            }
        }
    }
}

/// ULEB128.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::{bits_for, encode_hybrid};

    /// Decodes the hybrid encoding as the Parquet format describes it.
    fn decode(mut bytes: &[u8], bit_width: u8, count: usize) -> Vec<u32> {
        let mut out = Vec::new();
        let varint = |bytes: &mut &[u8]| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let b = bytes[0];
                *bytes = &bytes[1..];
                v |= u64::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    return v;
                }
            }
        };
        while out.len() < count {
            let header = varint(&mut bytes);
            if header & 1 == 1 {
                let values = (header >> 1) as usize * 8;
                let (mut bits, mut have, mut used) = (0u64, 0u8, 0);
                for _ in 0..values {
                    while have < bit_width {
                        bits |= u64::from(bytes[used]) << have;
                        used += 1;
                        have += 8;
                    }
                    out.push((bits & ((1u64 << bit_width) - 1)) as u32);
                    bits >>= bit_width;
                    have -= bit_width;
                }
                bytes = &bytes[used..];
            } else {
                let n = (header >> 1) as usize;
                let width = usize::from(bit_width).div_ceil(8);
                let mut le = [0u8; 4];
                le[..width].copy_from_slice(&bytes[..width]);
                bytes = &bytes[width..];
                out.extend(std::iter::repeat_n(u32::from_le_bytes(le), n));
            }
        }
        assert!(bytes.is_empty(), "{} bytes left over", bytes.len());
        out.truncate(count);
        out
    }

    #[test]
    fn the_hybrid_encoding_round_trips_runs_and_scattered_values() {
        let mut cases: Vec<Vec<u32>> = vec![
            vec![],
            vec![0; 1],
            vec![0; 100_000],
            (0..1000).map(|i| i % 7).collect(),
            (0..1000).map(|i| (i / 13) % 5).collect(),
            [vec![1, 2, 3], vec![4; 9], vec![5, 6], vec![7; 30], vec![1]].concat(),
            (0..5000)
                .map(|i: u32| i.wrapping_mul(2_654_435_761) % 70_000)
                .collect(),
        ];
        // Runs of every length around a group boundary.
        for run in 1..20 {
            for lead in 0..10 {
                cases.push([vec![3; lead], vec![9; run], vec![1, 2]].concat());
            }
        }
        for values in cases {
            let width = bits_for(values.iter().copied().max().unwrap_or(0));
            let mut out = Vec::new();
            encode_hybrid(&values, width, &mut out);
            assert_eq!(decode(&out, width, values.len()), values);
        }
    }

    /// A long run is repeated even when it starts inside a group of 8.
    #[test]
    fn a_long_run_starting_inside_a_group_takes_a_few_bytes() {
        let values = [vec![1, 2, 3], vec![9; 10_000], vec![4, 5]].concat();
        let mut out = Vec::new();
        encode_hybrid(&values, 4, &mut out);
        assert!(out.len() <= 16, "{} bytes", out.len());
    }

    #[test]
    fn one_value_repeated_takes_a_few_bytes() {
        let mut out = Vec::new();
        encode_hybrid(&[0; 20_000], 0, &mut out);
        assert!(out.len() <= 4, "{} bytes", out.len());
        let mut out = Vec::new();
        encode_hybrid(&vec![1; 20_000], 1, &mut out);
        assert!(out.len() <= 4, "{} bytes", out.len());
    }
}
