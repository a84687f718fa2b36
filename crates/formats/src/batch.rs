//! Building FOCUS batches column by column, and the exact source totals beside them.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Decimal128Builder, DictionaryArray, Int64Builder, NullBufferBuilder,
    PrimitiveArray, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, SchemaRef};
use billow_focus::money::{ExactSum, PRECISION, SCALE};
use billow_focus::schema::{TextKey, keyed_focus_schema};

enum ColumnBuilder {
    /// Text whose values rarely repeat ([`billow_focus::schema::UNIQUE_TEXT_COLUMNS`]).
    Str(StringBuilder),
    /// Text whose values repeat: keyed, as [`keyed_focus_schema`] says.
    Keyed(KeyedText),
    Dec(Decimal128Builder),
    Ts(TimestampMicrosecondBuilder),
    Int(Int64Builder),
}

impl ColumnBuilder {
    /// Appends nulls until the column holds `rows` values.
    #[inline]
    fn fill_to(&mut self, rows: usize) {
        match self {
            ColumnBuilder::Str(b) => pad(b, rows),
            ColumnBuilder::Keyed(b) => pad(b, rows),
            ColumnBuilder::Dec(b) => pad(b, rows),
            ColumnBuilder::Ts(b) => pad(b, rows),
            ColumnBuilder::Int(b) => pad(b, rows),
        }
    }
}

/// A keyed text column being built: the batch's distinct values, each stored once and
/// numbered in the order met, and each row's number. The previous row's value is tried
/// first, and a hash lookup happens only when the value changes.
struct KeyedText {
    /// Ids of the values, found by the hash of their bytes (values live in `bytes`).
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    /// Each value's hash, by id, to grow `index` without hashing again.
    hashes: Vec<u64>,
    /// The distinct values back to back, and where each ends (`ends[0]` is 0).
    bytes: Vec<u8>,
    ends: Vec<i32>,
    keys: Vec<i32>,
    nulls: NullBufferBuilder,
    /// The id of the last value appended, if any.
    last: Option<u32>,
}

impl KeyedText {
    fn with_capacity(rows: usize) -> Self {
        KeyedText {
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            hashes: Vec::new(),
            bytes: Vec::new(),
            ends: vec![0],
            keys: Vec::with_capacity(rows),
            nulls: NullBufferBuilder::new(rows),
            last: None,
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    #[inline]
    fn value<'a>(bytes: &'a [u8], ends: &[i32], id: u32) -> &'a [u8] {
        let id = id as usize;
        &bytes[ends[id] as usize..ends[id + 1] as usize]
    }

    /// The id of `value`, numbering it if it is new.
    #[inline]
    fn id(&mut self, value: &[u8]) -> u32 {
        if let Some(last) = self.last
            && same_bytes(Self::value(&self.bytes, &self.ends, last), value)
        {
            return last;
        }
        let hash = self.hasher.hash_one(value);
        let (bytes, ends) = (&self.bytes, &self.ends);
        let id = match self
            .index
            .find(hash, |&id| same_bytes(Self::value(bytes, ends, id), value))
        {
            Some(&id) => id,
            None => {
                // A batch holds far fewer than 2³¹ rows, so ids and byte ends fit in an i32
                // as long as its distinct values stay below 2 GiB; Arrow's i32 offsets have the
                // same bound.
                let id = self.hashes.len() as u32;
                self.bytes.extend_from_slice(value);
                self.ends.push(self.bytes.len() as i32);
                self.hashes.push(hash);
                let hashes = &self.hashes;
                self.index
                    .insert_unique(hash, id, |&id| hashes[id as usize]);
                id
            }
        };
        self.last = Some(id);
        id
    }

    #[inline]
    fn append_option(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                let id = self.id(v.as_bytes());
                self.keys.push(id as i32);
                self.nulls.append_non_null();
            }
            None => {
                self.keys.push(0);
                self.nulls.append_null();
            }
        }
    }

    /// Appends the value numbered `id`, or a null for [`NULL_ID`].
    #[inline]
    fn append_id(&mut self, id: u32) {
        if id == NULL_ID {
            self.keys.push(0);
            self.nulls.append_null();
        } else {
            self.keys.push(id as i32);
            self.nulls.append_non_null();
            self.last = Some(id);
        }
    }

    fn append_nulls(&mut self, n: usize) {
        self.keys.resize(self.keys.len() + n, 0);
        self.nulls.append_n_nulls(n);
    }

    /// The column as a dictionary array; the builder is left empty.
    fn finish(&mut self) -> Result<ArrayRef, arrow::error::ArrowError> {
        let done = std::mem::replace(self, KeyedText::with_capacity(0));
        let values = StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(done.ends)),
            Buffer::from_vec(done.bytes),
            None,
        )?;
        let mut nulls = done.nulls;
        let keys = PrimitiveArray::<TextKey>::new(ScalarBuffer::from(done.keys), nulls.finish());
        Ok(Arc::new(DictionaryArray::try_new(keys, Arc::new(values))?))
    }
}

/// Accumulates rows of the `focus` schema, into batches of [`keyed_focus_schema`]; readers
/// address columns by their index in [`billow_focus::schema::focus_schema`] (see
/// [`billow_focus::schema::index_of`]). A row takes a value in the columns its source fills;
/// the others are null, padded only when the column next takes a value or the batch ends,
/// so a column a source never fills costs nothing per row.
pub struct FocusBatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    /// Per column: the text every row holds, when a reader said so ([`Self::set_constant`]).
    constants: Vec<Option<String>>,
    /// Columns appended together ([`Self::text_group`]).
    groups: Vec<GroupIndex>,
    rows: usize,
    capacity: usize,
}

/// Keyed text columns appended together, as [`FocusBatchBuilder::text_group`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextGroup(usize);

/// The combinations of a group's values met in the batch: for each, the ids of its values in
/// the group's columns.
struct GroupIndex {
    columns: Vec<usize>,
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    hashes: Vec<u64>,
    /// The distinct combinations' keys back to back, and where each ends (`key_ends[0]` is 0).
    key_bytes: Vec<u8>,
    key_ends: Vec<usize>,
    /// `columns.len()` ids per key; [`NULL_ID`] for a null value.
    ids: Vec<u32>,
    /// The row's key: its values' lengths and bytes.
    scratch: Vec<u8>,
    last: Option<u32>,
}

/// A group's id for a null value.
const NULL_ID: u32 = u32::MAX;

/// The most columns a [`TextGroup`] holds.
const MAX_GROUP_COLUMNS: usize = 8;

impl GroupIndex {
    fn new(columns: Vec<usize>) -> Self {
        GroupIndex {
            columns,
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            hashes: Vec::new(),
            key_bytes: Vec::new(),
            key_ends: vec![0],
            ids: Vec::new(),
            scratch: Vec::new(),
            last: None,
        }
    }

    /// The same group with no keys, for the next batch (ids are per batch).
    fn emptied(self) -> Self {
        GroupIndex::new(self.columns)
    }

    fn key(&self, entry: u32) -> &[u8] {
        let entry = entry as usize;
        &self.key_bytes[self.key_ends[entry]..self.key_ends[entry + 1]]
    }

    /// The entry of the key in `scratch` if the batch has met it, else the key's hash.
    #[inline]
    fn find(&self) -> Result<u32, u64> {
        if let Some(last) = self.last
            && same_bytes(self.key(last), &self.scratch)
        {
            return Ok(last);
        }
        let hash = self.hasher.hash_one(&self.scratch[..]);
        self.index
            .find(hash, |&e| same_bytes(self.key(e), &self.scratch))
            .copied()
            .ok_or(hash)
    }

    /// Numbers the key in `scratch`, whose values have the ids `ids`.
    fn insert(&mut self, hash: u64, ids: &[u32]) -> u32 {
        let entry = self.hashes.len() as u32;
        self.key_bytes.extend_from_slice(&self.scratch);
        self.key_ends.push(self.key_bytes.len());
        self.hashes.push(hash);
        self.ids.extend_from_slice(ids);
        let hashes = &self.hashes;
        self.index
            .insert_unique(hash, entry, |&e| hashes[e as usize]);
        entry
    }
}

/// Bytes a string column reserves per row before it has seen a batch.
const DEFAULT_BYTES_PER_ROW: usize = 8;

impl FocusBatchBuilder {
    /// A builder with room for `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        let columns = keyed_focus_schema().fields().len();
        Self::with_string_bytes(capacity, &[], vec![None; columns], Vec::new())
    }

    /// A builder whose string column `i` reserves `string_bytes[i]` value bytes (the default
    /// where absent or zero).
    fn with_string_bytes(
        capacity: usize,
        string_bytes: &[usize],
        constants: Vec<Option<String>>,
        groups: Vec<GroupIndex>,
    ) -> Self {
        let schema = keyed_focus_schema();
        let columns: Vec<ColumnBuilder> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match f.data_type() {
                // A constant column's builder is never appended to.
                DataType::Dictionary(..) if constants[i].is_some() => {
                    ColumnBuilder::Keyed(KeyedText::with_capacity(0))
                }
                DataType::Dictionary(..) => {
                    ColumnBuilder::Keyed(KeyedText::with_capacity(capacity))
                }
                DataType::Utf8 => {
                    let bytes = string_bytes
                        .get(i)
                        .copied()
                        .filter(|&b| b > 0)
                        .unwrap_or(capacity * DEFAULT_BYTES_PER_ROW);
                    ColumnBuilder::Str(StringBuilder::with_capacity(capacity, bytes))
                }
                DataType::Decimal128(..) => ColumnBuilder::Dec(
                    Decimal128Builder::with_capacity(capacity)
                        .with_data_type(DataType::Decimal128(PRECISION, SCALE)),
                ),
                DataType::Timestamp(..) => ColumnBuilder::Ts(
                    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
                ),
                _ => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            })
            .collect();
        FocusBatchBuilder {
            schema,
            columns,
            constants,
            groups,
            rows: 0,
            capacity,
        }
    }

    /// Makes every row of the batches this builder finishes hold `value` in keyed text
    /// column `i` (a connection, an ingestion, a file, a provider): the column then takes no
    /// value per row, and readers do not append to it. `None` makes it per-row again.
    pub fn set_constant(&mut self, i: usize, value: Option<&str>) {
        if let (Some(slot), Some(ColumnBuilder::Keyed(_))) =
            (self.constants.get_mut(i), self.columns.get(i))
        {
            *slot = value.map(str::to_string);
        }
    }

    /// Declares keyed text `columns` whose values go together (a service's name, category
    /// and code; a SKU's meter, price and unit), to append them with [`Self::group_str`].
    /// Columns whose combinations are few compared with the rows gain the most.
    ///
    /// # Panics
    /// When a column is not keyed text (see [`keyed_focus_schema`]) or the group has more than
    /// eight columns: a reader's mistake, not its input's.
    pub fn text_group(&mut self, columns: &[usize]) -> TextGroup {
        assert!(
            columns.len() <= MAX_GROUP_COLUMNS,
            "a text group holds at most {MAX_GROUP_COLUMNS} columns"
        );
        for &c in columns {
            assert!(
                matches!(self.columns.get(c), Some(ColumnBuilder::Keyed(_))),
                "column {c} of a text group is not keyed text"
            );
        }
        self.groups.push(GroupIndex::new(columns.to_vec()));
        TextGroup(self.groups.len() - 1)
    }

    /// Appends `values` (one per column, in the group's order) to `group`'s columns. The
    /// values are looked up together: a batch numbers each distinct combination once, and a
    /// row whose combination it has met takes every column's id from one lookup instead of
    /// one per column.
    #[inline]
    pub fn group_str(&mut self, group: TextGroup, values: &[Option<&str>]) {
        let rows = self.rows;
        let g = &mut self.groups[group.0];
        let n = g.columns.len();
        debug_assert_eq!(values.len(), n, "one value per column of the group");
        g.scratch.clear();
        for value in values {
            // Each value's length first (a null has none), so no two combinations make the
            // same key.
            match value {
                Some(v) => {
                    g.scratch.extend_from_slice(&(v.len() as u32).to_le_bytes());
                    g.scratch.extend_from_slice(v.as_bytes());
                }
                None => g.scratch.extend_from_slice(&NULL_ID.to_le_bytes()),
            }
        }
        let entry = match g.find() {
            Ok(entry) => entry,
            Err(hash) => {
                let mut ids = [NULL_ID; MAX_GROUP_COLUMNS];
                for ((id, &c), value) in ids.iter_mut().zip(&g.columns).zip(values) {
                    if let (ColumnBuilder::Keyed(b), Some(v)) = (&mut self.columns[c], value) {
                        *id = b.id(v.as_bytes());
                    }
                }
                g.insert(hash, &ids[..n])
            }
        };
        g.last = Some(entry);
        let at = entry as usize * n;
        for (&c, &id) in g.columns.iter().zip(&g.ids[at..at + n]) {
            if let ColumnBuilder::Keyed(b) = &mut self.columns[c] {
                pad(b, rows);
                b.append_id(id);
            }
        }
    }

    /// Appends a string (or null) to column `i`.
    #[inline]
    pub fn str(&mut self, i: usize, v: Option<&str>) {
        let rows = self.rows;
        match &mut self.columns[i] {
            ColumnBuilder::Keyed(b) => {
                pad(b, rows);
                b.append_option(v)
            }
            ColumnBuilder::Str(b) => {
                pad(b, rows);
                b.append_option(v)
            }
            _ => {}
        }
    }

    /// Appends a decimal at scale 12 (or null) to column `i`.
    #[inline]
    pub fn dec(&mut self, i: usize, v: Option<i128>) {
        let rows = self.rows;
        if let ColumnBuilder::Dec(b) = &mut self.columns[i] {
            pad(b, rows);
            b.append_option(v);
        }
    }

    /// Appends a UTC timestamp in microseconds (or null) to column `i`.
    #[inline]
    pub fn ts(&mut self, i: usize, v: Option<i64>) {
        let rows = self.rows;
        if let ColumnBuilder::Ts(b) = &mut self.columns[i] {
            pad(b, rows);
            b.append_option(v);
        }
    }

    /// Appends an integer (or null) to column `i`.
    #[inline]
    pub fn int(&mut self, i: usize, v: Option<i64>) {
        let rows = self.rows;
        if let ColumnBuilder::Int(b) = &mut self.columns[i] {
            pad(b, rows);
            b.append_option(v);
        }
    }

    /// Marks the end of a row: every column has received at most one value, and those that
    /// received none are null.
    #[inline]
    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// Rows appended since the last [`FocusBatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Builds the batch and resets the builder.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let rows = self.rows;
        // The next batch of the same source holds strings of about the same sizes: reserving
        // what this one used (plus an eighth) saves regrowing, and copying, every long column.
        let per_row = rows.max(1);
        let string_bytes: Vec<usize> = self
            .columns
            .iter()
            .map(|c| match c {
                ColumnBuilder::Str(b) => {
                    let bytes = b.values_slice().len().div_ceil(per_row) * self.capacity;
                    bytes + bytes / 8
                }
                _ => 0,
            })
            .collect();
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .zip(&self.constants)
            .map(|(c, constant)| {
                if let Some(value) = constant {
                    return constant_text(value, rows);
                }
                c.fill_to(rows);
                Ok(match c {
                    ColumnBuilder::Str(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Keyed(b) => b.finish()?,
                    ColumnBuilder::Dec(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Ts(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Int(b) => Arc::new(b.finish()) as ArrayRef,
                })
            })
            .collect::<Result<_, arrow::error::ArrowError>>()?;
        // Arrow's builders hand over their buffers and start again from nothing; sizing the next
        // batch's up front avoids regrowing (and copying) them row by row.
        let constants = std::mem::take(&mut self.constants);
        let groups = std::mem::take(&mut self.groups)
            .into_iter()
            .map(GroupIndex::emptied)
            .collect();
        *self =
            FocusBatchBuilder::with_string_bytes(self.capacity, &string_bytes, constants, groups);
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
    }
}

/// Whether two byte strings are equal, compared inline a word at a time: the values compared
/// here are a few dozen bytes, for which a call to `memcmp` costs more than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_ne_bytes)
    };
    let mut at = 0;
    while at + 8 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 8;
    }
    // The last word, overlapping the one before when the length is not a multiple of 8.
    word(a, n - 8) == word(b, n - 8)
}

/// What a column builder needs to be padded with nulls.
trait Padded {
    fn rows(&self) -> usize;
    fn append_null_rows(&mut self, n: usize);
}

macro_rules! padded {
    ($($builder:ty),*) => {$(
        impl Padded for $builder {
            fn rows(&self) -> usize {
                ArrayBuilder::len(self)
            }
            fn append_null_rows(&mut self, n: usize) {
                self.append_nulls(n)
            }
        }
    )*};
}
padded!(
    StringBuilder,
    Decimal128Builder,
    TimestampMicrosecondBuilder,
    Int64Builder
);

impl Padded for KeyedText {
    fn rows(&self) -> usize {
        self.len()
    }
    fn append_null_rows(&mut self, n: usize) {
        self.append_nulls(n)
    }
}

/// Pads a column with nulls up to the row being built (a column the source left empty in
/// the rows before).
#[inline]
fn pad(b: &mut impl Padded, rows: usize) {
    let len = b.rows();
    if len < rows {
        b.append_null_rows(rows - len);
    }
}

/// A keyed text column of `rows` rows that all hold `value`.
fn constant_text(value: &str, rows: usize) -> Result<ArrayRef, arrow::error::ArrowError> {
    let keys = PrimitiveArray::<TextKey>::from_value(0, rows);
    let values = StringArray::from(vec![value]);
    Ok(Arc::new(DictionaryArray::try_new(keys, Arc::new(values))?))
}

/// Group of a source total: (BillingAccountId, ChargeCategory).
pub type TotalsKey = (String, String);

/// The source's own totals, summed exactly from the raw cells' text, per billing account and
/// charge category, with the row count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTotals {
    /// Per (billing account, charge category): (billed, effective, rows).
    pub groups: BTreeMap<TotalsKey, GroupTotals>,
}

/// Exact sums of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTotals {
    /// Σ of the source's billed (unblended, invoiced) cost cells.
    pub billed: ExactSum,
    /// Σ of the source's amortized cost, by the provider's documented formula over raw cells.
    pub effective: ExactSum,
    /// Rows.
    pub rows: u64,
}

impl SourceTotals {
    /// Adds another file's totals.
    pub fn merge(&mut self, other: &SourceTotals) -> Result<(), billow_focus::money::SumOverflow> {
        for (k, v) in &other.groups {
            let g = self.groups.entry(k.clone()).or_default();
            g.billed.merge(&v.billed)?;
            g.effective.merge(&v.effective)?;
            g.rows += v.rows;
        }
        Ok(())
    }

    /// Total rows.
    pub fn rows(&self) -> u64 {
        self.groups.values().map(|g| g.rows).sum()
    }
}

/// Exact sums per billing period and (billing account, charge category), as readers keep them.
pub(crate) type PeriodTotals = BTreeMap<String, BTreeMap<(String, &'static str), GroupTotals>>;

/// Adds one source row to `totals`: the text of its billed and effective cost cells, summed
/// exactly. `Err` when a sum leaves the representable range.
pub(crate) fn add_row(
    totals: &mut PeriodTotals,
    period: String,
    group: (String, &'static str),
    billed: &str,
    effective: &str,
) -> Result<(), ()> {
    let exact = |text: &str| {
        let mut sum = ExactSum::default();
        sum.add_text(text.as_bytes()).map(|_| sum).map_err(|_| ())
    };
    add_row_sums(totals, period, group, &exact(billed)?, &exact(effective)?)
}

/// Adds one source row whose billed and effective amounts are already exact sums (a row whose
/// cost spans several cells).
pub(crate) fn add_row_sums(
    totals: &mut PeriodTotals,
    period: String,
    group: (String, &'static str),
    billed: &ExactSum,
    effective: &ExactSum,
) -> Result<(), ()> {
    let g = totals.entry(period).or_default().entry(group).or_default();
    g.billed.merge(billed).map_err(|_| ())?;
    g.effective.merge(effective).map_err(|_| ())?;
    g.rows += 1;
    Ok(())
}

/// Source totals per billing period, from each period's exact sums keyed by (billing account,
/// charge category).
pub(crate) fn totals_by_period<G>(periods: BTreeMap<String, G>) -> BTreeMap<String, SourceTotals>
where
    G: IntoIterator<Item = ((String, &'static str), GroupTotals)>,
{
    periods
        .into_iter()
        .map(|(period, groups)| {
            let mut t = SourceTotals::default();
            for ((account, category), g) in groups {
                t.groups.insert((account, category.to_string()), g);
            }
            (period, t)
        })
        .collect()
}

/// Appends `"key":"value"` to a JSON object of text values being built in `out`, opening
/// the object on its first member; [`close_json_object`] ends it. An object without members
/// stays empty text, which readers store as null.
pub(crate) fn push_json_member(out: &mut String, key: &str, value: &str) {
    out.push(if out.is_empty() { '{' } else { ',' });
    push_json_string(out, key);
    out.push(':');
    push_json_string(out, value);
}

/// [`push_json_member`] with the key already a JSON string literal (escaped once, for keys
/// that every row repeats).
pub(crate) fn push_json_member_literal(out: &mut String, key_literal: &str, value: &str) {
    out.push(if out.is_empty() { '{' } else { ',' });
    out.push_str(key_literal);
    out.push(':');
    push_json_string(out, value);
}

/// Ends an object started by [`push_json_member`]; an empty one stays empty.
pub(crate) fn close_json_object(out: &mut String) {
    if !out.is_empty() {
        out.push('}');
    }
}

/// Appends `s` to `out` as a JSON string literal (for Tags objects built cell by cell).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Tag keys and values rarely hold a character JSON escapes: copy those whole.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Repeating text columns come out keyed, each distinct value of a batch stored once,
    /// and read back as appended: runs, values that come back after others, nulls given and
    /// nulls left out (a row that skips the column), a column left null on every row, a
    /// constant column, and a second batch that starts its values afresh.
    #[test]
    fn repeating_text_is_keyed_and_reads_back_as_appended() {
        use arrow::array::{Array, AsArray};
        use billow_focus::schema::{index_of, plain_text};
        let (service, region, resource, name) = (
            index_of("ServiceName"),
            index_of("RegionId"),
            index_of("ResourceId"),
            index_of("SubAccountName"),
        );
        let services = ["EC2", "EC2", "S3", "EC2", "Lambda", "S3"];
        let regions = [
            Some("eu-west-1"),
            None,
            Some("us-east-1"),
            Some("eu-west-1"),
            None,
            None,
        ];
        let connection = index_of("x_ConnectionId");
        let mut builder = FocusBatchBuilder::new(4);
        builder.set_constant(connection, Some("aws-main"));
        let mut batches = Vec::new();
        for round in 0..2 {
            for (i, (s, r)) in services.iter().zip(regions).enumerate() {
                builder.str(service, Some(s));
                // Nulls both ways: given, and left out of the row.
                if r.is_some() || i % 2 == 0 {
                    builder.str(region, r);
                }
                builder.str(resource, Some(&format!("i-{round}-{i}")));
                fill_required(&mut builder, Some(connection));
                builder.end_row();
            }
            batches.push(builder.finish().unwrap());
        }
        for (round, batch) in batches.iter().enumerate() {
            let keyed = batch.column(service).as_dictionary::<TextKey>();
            assert_eq!(keyed.values().len(), 3, "EC2, S3 and Lambda once each");
            assert!(batch.column(resource).as_string_opt::<i32>().is_some());
            let plain = plain_text(batch).unwrap();
            assert_eq!(plain.schema(), billow_focus::schema::focus_schema());
            let text = |c: usize| -> Vec<Option<String>> {
                plain
                    .column(c)
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect()
            };
            let owned = |v: &[Option<&str>]| -> Vec<Option<String>> {
                v.iter().map(|v| v.map(str::to_string)).collect()
            };
            assert_eq!(text(service), owned(&services.map(Some)));
            assert_eq!(text(region), owned(&regions));
            assert_eq!(text(name), vec![None; services.len()]);
            assert_eq!(plain.column(name).null_count(), services.len());
            assert_eq!(text(resource)[1].as_deref(), Some(&*format!("i-{round}-1")));
            assert_eq!(
                text(connection),
                vec![Some("aws-main".to_string()); services.len()]
            );
        }
    }

    /// Grouped columns read back as appended: combinations that come back, combinations
    /// sharing some values (each value still stored once per column), nulls inside a
    /// combination, rows that leave the group out, a column of the group also given alone
    /// in a row, and a second batch that numbers its combinations afresh.
    #[test]
    fn grouped_text_reads_back_as_appended() {
        use arrow::array::AsArray;
        use billow_focus::schema::{index_of, plain_text};
        let (id, name, region) = (
            index_of("SubAccountId"),
            index_of("SubAccountName"),
            index_of("RegionId"),
        );
        let rows: [Option<[Option<&str>; 2]>; 7] = [
            Some([Some("111"), Some("prod")]),
            Some([Some("222"), Some("dev")]),
            Some([Some("111"), Some("prod")]),
            None,
            Some([Some("111"), None]),
            Some([Some("222"), Some("prod")]),
            Some([None, None]),
        ];
        let mut builder = FocusBatchBuilder::new(4);
        let group = builder.text_group(&[id, name]);
        let mut batches = Vec::new();
        for _ in 0..2 {
            for (i, row) in rows.iter().enumerate() {
                match row {
                    Some(values) => builder.group_str(group, values),
                    // A row that fills the group's columns one by one.
                    None => {
                        builder.str(id, Some("333"));
                        builder.str(name, Some("test"));
                    }
                }
                builder.str(region, Some(["eu-west-1", "us-east-1"][i % 2]));
                fill_required(&mut builder, None);
                builder.end_row();
            }
            batches.push(builder.finish().unwrap());
        }
        let expected = |c: usize, alone: &'static str| -> Vec<Option<&str>> {
            rows.iter()
                .map(|r| r.map_or(Some(alone), |v| v[c]))
                .collect()
        };
        for batch in &batches {
            for c in [id, name] {
                let keyed = batch.column(c).as_dictionary::<TextKey>();
                assert_eq!(keyed.values().len(), 3, "each value once per column");
            }
            let plain = plain_text(batch).unwrap();
            let text = |c: usize| -> Vec<Option<&str>> {
                plain.column(c).as_string::<i32>().iter().collect()
            };
            assert_eq!(text(id), expected(0, "333"));
            assert_eq!(text(name), expected(1, "test"));
            assert_eq!(text(region)[5], Some("us-east-1"));
        }
    }

    /// Gives every column that may not be null a value, except `constant` (a column the
    /// builder fills itself).
    fn fill_required(builder: &mut FocusBatchBuilder, constant: Option<usize>) {
        for (c, f) in keyed_focus_schema().fields().iter().enumerate() {
            if f.is_nullable() || Some(c) == constant {
                continue;
            }
            match f.data_type() {
                DataType::Decimal128(..) => builder.dec(c, Some(1)),
                DataType::Timestamp(..) => builder.ts(c, Some(0)),
                DataType::Int64 => builder.int(c, Some(1)),
                _ => builder.str(c, Some("required")),
            }
        }
    }

    /// Strings without a character to escape are copied whole; the others are escaped so
    /// that the object parses back to the same texts.
    #[test]
    fn json_members_escape_what_json_needs_and_nothing_else() {
        let pairs = [
            ("team", "payments"),
            ("naïve", "日本 €"),
            ("q\"uote", "back\\slash"),
            ("lines", "a\nb\r\tc"),
            ("bell", "\u{7}"),
            ("", ""),
        ];
        let mut out = String::new();
        for (k, v) in pairs {
            push_json_member(&mut out, k, v);
        }
        close_json_object(&mut out);
        assert!(out.starts_with(r#"{"team":"payments","naïve":"日本 €","q\"uote""#));
        assert!(out.contains(r#""bell":"\u0007""#));
        let parsed: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.len(), pairs.len());
        for (k, v) in pairs {
            assert_eq!(parsed[k], v);
        }
    }
}
