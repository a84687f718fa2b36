//! Building FOCUS batches column by column, and the exact source totals beside them.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Decimal128Builder, DictionaryArray, Int64Builder, NullBufferBuilder,
    PrimitiveArray, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
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
    /// Keyed text whose rows are kept by a [`TextGroup`] (the group's `position`-th column).
    Grouped {
        group: usize,
        position: usize,
    },
    /// A column whose every row is that of another column ([`FocusBatchBuilder::mirror`]):
    /// it takes no values, and its array is the other's.
    Mirror,
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
            // The group pads its rows when the batch ends; a mirror has no rows of its own.
            ColumnBuilder::Grouped { .. } | ColumnBuilder::Mirror => {}
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
    /// Per column, the column whose rows it repeats ([`Self::mirror`]).
    mirrors: Vec<Option<usize>>,
    rows: usize,
    capacity: usize,
}

/// Keyed text columns appended together, as [`FocusBatchBuilder::text_group`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextGroup(usize);

/// The combinations of a group's values met in the batch, and each row's combination.
///
/// The group's columns share one key per row, the row's combination: column `k`'s
/// dictionary holds, for each combination, its `k`-th value (a value shared by several
/// combinations appears once per combination, which Arrow and Parquet dictionaries allow).
/// A row then costs one lookup and one key for the whole group, not one of each per column.
struct GroupIndex {
    columns: Vec<usize>,
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::FixedState,
    hashes: Vec<u64>,
    /// The distinct combinations' keys back to back, and where each ends (`key_ends[0]` is 0).
    /// A key holds each value's length and bytes ([`NULL_LENGTH`] and no bytes for a null).
    key_bytes: Vec<u8>,
    key_ends: Vec<usize>,
    /// Per row of the batch, its combination.
    rows: Vec<i32>,
    /// The key being looked up.
    scratch: Vec<u8>,
    last: Option<u32>,
}

/// In a group's key, the length that stands for a null value (no value is 4 GiB long).
const NULL_LENGTH: u32 = u32::MAX;

/// The most columns a [`TextGroup`] holds.
const MAX_GROUP_COLUMNS: usize = 8;

impl GroupIndex {
    fn new(columns: Vec<usize>, capacity: usize) -> Self {
        GroupIndex {
            columns,
            index: hashbrown::HashTable::new(),
            hasher: foldhash::fast::FixedState::default(),
            hashes: Vec::new(),
            key_bytes: Vec::new(),
            key_ends: vec![0],
            rows: Vec::with_capacity(capacity),
            scratch: Vec::new(),
            last: None,
        }
    }

    /// The same group with no rows or combinations, for the next batch.
    fn emptied(self, capacity: usize) -> Self {
        GroupIndex::new(self.columns, capacity)
    }

    fn key(&self, entry: u32) -> &[u8] {
        let entry = entry as usize;
        &self.key_bytes[self.key_ends[entry]..self.key_ends[entry + 1]]
    }

    /// Puts the key of `values` (one per column) in `scratch`.
    #[inline]
    fn set_scratch<'v>(&mut self, values: impl IntoIterator<Item = Option<&'v [u8]>>) {
        self.scratch.clear();
        for value in values {
            // Each value's length first (a null has none), so no two combinations make the
            // same key.
            match value {
                Some(v) => {
                    self.scratch
                        .extend_from_slice(&(v.len() as u32).to_le_bytes());
                    self.scratch.extend_from_slice(v);
                }
                None => self.scratch.extend_from_slice(&NULL_LENGTH.to_le_bytes()),
            }
        }
    }

    /// The combination whose key is in `scratch`, numbered if the batch has not met it.
    #[inline]
    fn entry(&mut self) -> u32 {
        if let Some(last) = self.last
            && same_bytes(self.key(last), &self.scratch)
        {
            return last;
        }
        let hash = self.hasher.hash_one(&self.scratch[..]);
        let found = self
            .index
            .find(hash, |&e| same_bytes(self.key(e), &self.scratch))
            .copied();
        let entry = match found {
            Some(entry) => entry,
            None => {
                // A batch holds far fewer than 2³¹ rows, so combinations fit an i32 key.
                let entry = self.hashes.len() as u32;
                self.key_bytes.extend_from_slice(&self.scratch);
                self.key_ends.push(self.key_bytes.len());
                self.hashes.push(hash);
                let hashes = &self.hashes;
                self.index
                    .insert_unique(hash, entry, |&e| hashes[e as usize]);
                entry
            }
        };
        self.last = Some(entry);
        entry
    }

    /// Gives row `row` the combination in `scratch`; rows before it that left the group out
    /// take the combination of nulls.
    #[inline]
    fn set_row(&mut self, row: usize) {
        let entry = self.entry() as i32;
        self.pad_to(row);
        match self.rows.get_mut(row) {
            Some(slot) => *slot = entry,
            None => self.rows.push(entry),
        }
    }

    /// Gives the rows before `rows` that left the group out the combination of nulls.
    fn pad_to(&mut self, rows: usize) {
        if self.rows.len() < rows {
            let last = self.last;
            self.set_scratch(std::iter::repeat_n(None, self.columns.len()));
            let nulls = self.entry() as i32;
            self.last = last;
            self.rows.resize(rows, nulls);
        }
    }

    /// The values of a combination, in column order (`None` for a null).
    fn values(&self, entry: u32) -> impl Iterator<Item = Option<&[u8]>> {
        let mut key = self.key(entry);
        std::iter::from_fn(move || {
            let (len, rest) = key.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len);
            if len == NULL_LENGTH {
                key = rest;
                return Some(None);
            }
            let (value, rest) = rest.split_at(len as usize);
            key = rest;
            Some(Some(value))
        })
    }

    /// Gives column `position` of row `row` the value `value`, the row's other values staying
    /// as they are (a reader that fills one column of a group alone).
    fn set_value(&mut self, row: usize, position: usize, value: Option<&[u8]>) {
        self.pad_to(row + 1);
        let current = self.rows[row] as u32;
        let values: Vec<Option<Vec<u8>>> = self
            .values(current)
            .enumerate()
            .map(|(k, v)| if k == position { value } else { v }.map(<[u8]>::to_vec))
            .collect();
        self.set_scratch(values.iter().map(Option::as_deref));
        self.set_row(row);
    }

    /// The group's columns over `rows` rows, in column order, each a dictionary of one value
    /// per combination keyed by the rows' shared combination.
    fn finish(&mut self, rows: usize) -> Result<Vec<ArrayRef>, arrow::error::ArrowError> {
        self.pad_to(rows);
        let n = self.columns.len();
        let entries = self.hashes.len();
        let mut offsets: Vec<Vec<i32>> = (0..n).map(|_| vec![0]).collect();
        let mut bytes: Vec<Vec<u8>> = vec![Vec::new(); n];
        // Per column, whether each combination holds a null in it.
        let mut null_in: Vec<Vec<bool>> = vec![Vec::with_capacity(entries); n];
        for entry in 0..entries as u32 {
            for (k, value) in self.values(entry).enumerate() {
                bytes[k].extend_from_slice(value.unwrap_or_default());
                offsets[k].push(bytes[k].len() as i32);
                null_in[k].push(value.is_none());
            }
        }
        let keys = ScalarBuffer::from(std::mem::take(&mut self.rows));
        let mut arrays = Vec::with_capacity(n);
        for ((offsets, bytes), null_in) in offsets.into_iter().zip(bytes).zip(null_in) {
            let values = StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                Buffer::from_vec(bytes),
                None,
            )?;
            let nulls = null_in.contains(&true).then(|| {
                NullBuffer::new(BooleanBuffer::collect_bool(keys.len(), |row| {
                    !null_in[keys[row] as usize]
                }))
            });
            let keys = PrimitiveArray::<TextKey>::new(keys.clone(), nulls);
            arrays.push(Arc::new(DictionaryArray::try_new(keys, Arc::new(values))?) as ArrayRef);
        }
        Ok(arrays)
    }
}

/// Bytes a string column reserves per row before it has seen a batch.
const DEFAULT_BYTES_PER_ROW: usize = 8;

impl FocusBatchBuilder {
    /// A builder with room for `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        let columns = keyed_focus_schema().fields().len();
        Self::with_string_bytes(
            capacity,
            &[],
            vec![None; columns],
            Vec::new(),
            vec![None; columns],
        )
    }

    /// A builder whose string column `i` reserves `string_bytes[i]` value bytes (the default
    /// where absent or zero).
    fn with_string_bytes(
        capacity: usize,
        string_bytes: &[usize],
        constants: Vec<Option<String>>,
        groups: Vec<GroupIndex>,
        mirrors: Vec<Option<usize>>,
    ) -> Self {
        let schema = keyed_focus_schema();
        // Per column, its (group, position) if it is in a text group.
        let mut grouped = vec![None; schema.fields().len()];
        for (group, g) in groups.iter().enumerate() {
            for (position, &c) in g.columns.iter().enumerate() {
                grouped[c] = Some((group, position));
            }
        }
        let columns: Vec<ColumnBuilder> = schema
            .fields()
            .iter()
            .zip(grouped)
            .enumerate()
            .map(|(i, (f, grouped))| match (f.data_type(), grouped) {
                _ if mirrors[i].is_some() => ColumnBuilder::Mirror,
                (DataType::Dictionary(..), Some((group, position))) => {
                    ColumnBuilder::Grouped { group, position }
                }
                // A constant column's builder is never appended to.
                (DataType::Dictionary(..), _) if constants[i].is_some() => {
                    ColumnBuilder::Keyed(KeyedText::with_capacity(0))
                }
                (DataType::Dictionary(..), _) => {
                    ColumnBuilder::Keyed(KeyedText::with_capacity(capacity))
                }
                (DataType::Utf8, _) => {
                    let bytes = string_bytes
                        .get(i)
                        .copied()
                        .filter(|&b| b > 0)
                        .unwrap_or(capacity * DEFAULT_BYTES_PER_ROW);
                    ColumnBuilder::Str(StringBuilder::with_capacity(capacity, bytes))
                }
                (DataType::Decimal128(..), _) => ColumnBuilder::Dec(
                    Decimal128Builder::with_capacity(capacity)
                        .with_data_type(DataType::Decimal128(PRECISION, SCALE)),
                ),
                (DataType::Timestamp(..), _) => ColumnBuilder::Ts(
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
            mirrors,
            rows: 0,
            capacity,
        }
    }

    /// Makes every row of the batches this builder finishes hold `value` in keyed text
    /// column `i` (a connection, an ingestion, a file, a provider): the column then takes no
    /// value per row, and readers do not append to it. `None` makes it per-row again.
    pub fn set_constant(&mut self, i: usize, value: Option<&str>) {
        if let (Some(slot), Some(ColumnBuilder::Keyed(_) | ColumnBuilder::Grouped { .. })) =
            (self.constants.get_mut(i), self.columns.get(i))
        {
            *slot = value.map(str::to_string);
        }
    }

    /// Makes column `column` of every batch repeat column `source` (one array, shared), for a
    /// source that has one value for both (AWS: a resource's name is its id; CUR 1's list
    /// cost is its contracted cost): the value is appended once, to `source`, and what
    /// follows (the lake's Parquet encoding) sees that the columns are one. Values appended
    /// to `column` are ignored, but for [`Self::dec_or_same`]'s.
    ///
    /// # Panics
    /// When the columns are the same or differ in type, when either is a constant, in a text
    /// group or already a mirror, or when another column repeats `column`: a reader's
    /// mistake, not its input's.
    pub fn mirror(&mut self, column: usize, source: usize) {
        let plain = |c: usize| match self.columns.get(c) {
            Some(ColumnBuilder::Grouped { .. } | ColumnBuilder::Mirror) | None => false,
            Some(_) => self.constants.get(c).is_some_and(Option::is_none),
        };
        assert!(
            column != source
                && !self.mirrors.contains(&Some(column))
                && plain(column)
                && plain(source)
                && self.schema.field(column).data_type() == self.schema.field(source).data_type(),
            "column {column} cannot repeat column {source}"
        );
        self.mirrors[column] = Some(source);
        self.columns[column] = ColumnBuilder::Mirror;
    }

    /// Declares keyed text `columns` whose values go together (a service's name, category
    /// and code; a SKU's meter, price and unit), to append them with [`Self::group_str`].
    /// Columns whose combinations are few compared with the rows gain the most: the group's
    /// columns share one key per row (see [`GroupIndex`]).
    ///
    /// # Panics
    /// When a column is not keyed text (see [`keyed_focus_schema`]) or is in another group,
    /// or the group has more than eight columns: a reader's mistake, not its input's.
    pub fn text_group(&mut self, columns: &[usize]) -> TextGroup {
        assert!(
            columns.len() <= MAX_GROUP_COLUMNS,
            "a text group holds at most {MAX_GROUP_COLUMNS} columns"
        );
        let group = self.groups.len();
        for (position, &c) in columns.iter().enumerate() {
            let column = self.columns.get_mut(c);
            assert!(
                matches!(column, Some(ColumnBuilder::Keyed(_))),
                "column {c} of a text group is not keyed text outside a group"
            );
            if let Some(column) = column {
                *column = ColumnBuilder::Grouped { group, position };
            }
        }
        self.groups
            .push(GroupIndex::new(columns.to_vec(), self.capacity));
        TextGroup(group)
    }

    /// Appends `values` (one per column, in the group's order) to `group`'s columns. The
    /// values are looked up together: a batch numbers each distinct combination once, and a
    /// row whose combination it has met costs one lookup for all the group's columns.
    #[inline]
    pub fn group_str(&mut self, group: TextGroup, values: &[Option<&str>]) {
        let g = &mut self.groups[group.0];
        debug_assert_eq!(values.len(), g.columns.len(), "one value per column");
        g.set_scratch(values.iter().map(|v| v.map(str::as_bytes)));
        g.set_row(self.rows);
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
            &mut ColumnBuilder::Grouped { group, position } => {
                self.groups[group].set_value(rows, position, v.map(str::as_bytes))
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

    /// Appends a decimal (or null) to column `i`, which [`Self::mirror`] made repeat another
    /// column: the column stays the other's array for as long as every row's value is the
    /// other's in the same row (appended first), and holds values of its own from the first
    /// row that differs to the end of the batch. For a column that usually repeats another,
    /// as a cost in the pricing currency does when that is the billing currency. On a column
    /// that repeats none, the same as [`Self::dec`].
    #[inline]
    pub fn dec_or_same(&mut self, i: usize, v: Option<i128>) {
        let rows = self.rows;
        if let Some(ColumnBuilder::Mirror) = self.columns.get(i)
            && let Some(&Some(source)) = self.mirrors.get(i)
        {
            let ColumnBuilder::Dec(from) = &self.columns[source] else {
                return;
            };
            let value_of = |row: usize| {
                (row < from.len()).then(|| {
                    let valid = from
                        .validity_slice()
                        .is_none_or(|bits| arrow::util::bit_util::get_bit(bits, row));
                    valid.then(|| from.values_slice()[row])
                })
            };
            if value_of(rows) == Some(v) {
                return;
            }
            // The first row that differs: the rows so far become the column's own.
            let mut own = Decimal128Builder::with_capacity(self.capacity)
                .with_data_type(DataType::Decimal128(PRECISION, SCALE));
            for row in 0..rows {
                own.append_option(value_of(row).flatten());
            }
            self.columns[i] = ColumnBuilder::Dec(own);
        }
        self.dec(i, v);
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
        let mut grouped = self
            .groups
            .iter_mut()
            .map(|g| g.finish(rows))
            .collect::<Result<Vec<_>, _>>()?;
        let mut arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .zip(&self.constants)
            .map(|(c, constant)| {
                let grouped = match c {
                    ColumnBuilder::Grouped { group, position } => grouped
                        .get_mut(*group)
                        .and_then(|arrays| arrays.get_mut(*position))
                        .map(|array| std::mem::replace(array, Arc::new(StringArray::new_null(0)))),
                    _ => None,
                };
                if let Some(value) = constant {
                    return constant_text(value, rows);
                }
                c.fill_to(rows);
                Ok(match c {
                    // Set once every other column is built.
                    ColumnBuilder::Mirror => Arc::new(StringArray::new_null(0)) as ArrayRef,
                    ColumnBuilder::Str(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Keyed(b) => b.finish()?,
                    ColumnBuilder::Dec(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Ts(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Int(b) => Arc::new(b.finish()) as ArrayRef,
                    ColumnBuilder::Grouped { .. } => grouped.ok_or_else(|| {
                        arrow::error::ArrowError::InvalidArgumentError(
                            "a text group finished without one of its columns".into(),
                        )
                    })?,
                })
            })
            .collect::<Result<_, arrow::error::ArrowError>>()?;
        for (column, source) in self.mirrors.iter().enumerate() {
            // A column that held values of its own in this batch keeps its array.
            if let Some(&source) = source.as_ref()
                && let Some(ColumnBuilder::Mirror) = self.columns.get(column)
                && let Some(array) = arrays.get(source).map(Arc::clone)
            {
                arrays[column] = array;
            }
        }
        // Arrow's builders hand over their buffers and start again from nothing; sizing the next
        // batch's up front avoids regrowing (and copying) them row by row.
        let constants = std::mem::take(&mut self.constants);
        let mirrors = std::mem::take(&mut self.mirrors);
        let groups = std::mem::take(&mut self.groups)
            .into_iter()
            .map(|g| g.emptied(self.capacity))
            .collect();
        *self = FocusBatchBuilder::with_string_bytes(
            self.capacity,
            &string_bytes,
            constants,
            groups,
            mirrors,
        );
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
    }
}

/// Whether two byte strings are equal, compared inline a word at a time: the values compared
/// here are a few dozen bytes, for which a call to `memcmp` costs more than the comparison.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
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

    /// A column that repeats another is that column's array in every batch, nulls and all,
    /// whatever was appended to it.
    #[test]
    fn a_mirrored_column_is_its_sources_array() {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::Decimal128Type;
        use billow_focus::schema::index_of;
        let (id, name) = (index_of("ResourceId"), index_of("ResourceName"));
        let (list, contracted) = (index_of("ListCost"), index_of("ContractedCost"));
        let mut builder = FocusBatchBuilder::new(4);
        builder.mirror(name, id);
        builder.mirror(contracted, list);
        for round in 0..2 {
            for i in 0..5 {
                builder.str(
                    id,
                    (i % 3 != 1).then(|| format!("i-{round}-{i}")).as_deref(),
                );
                builder.str(name, Some("ignored"));
                fill_required(&mut builder, None);
                builder.dec(list, Some(i * 10 + round));
                builder.end_row();
            }
            let batch = builder.finish().unwrap();
            assert!(Arc::ptr_eq(batch.column(name), batch.column(id)));
            assert!(Arc::ptr_eq(batch.column(contracted), batch.column(list)));
            let names = batch.column(name).as_string::<i32>();
            assert_eq!(names.null_count(), 2);
            assert_eq!(names.value(2), format!("i-{round}-2"));
            let costs = batch.column(contracted).as_primitive::<Decimal128Type>();
            assert_eq!(costs.value(4), 40 + round);
        }
    }

    /// A column that repeats another until a row differs: shared while every row is the
    /// same, its own (the rows before copied, nulls included) from the batch where one
    /// differs, and shared again in the next batch.
    #[test]
    fn a_column_repeats_another_until_a_row_differs() {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::Decimal128Type;
        use billow_focus::schema::index_of;
        let (price, copy) = (
            index_of("ListUnitPrice"),
            index_of("PricingCurrencyListUnitPrice"),
        );
        let mut builder = FocusBatchBuilder::new(4);
        builder.mirror(copy, price);
        let rounds: [&[(Option<i128>, Option<i128>)]; 3] = [
            &[(Some(5), Some(5)), (None, None), (Some(7), Some(7))],
            &[
                (Some(5), Some(5)),
                (None, None),
                (Some(7), None),
                (Some(8), Some(8)),
            ],
            &[(Some(1), Some(1))],
        ];
        for (round, rows) in rounds.iter().enumerate() {
            for &(source, own) in *rows {
                fill_required(&mut builder, None);
                builder.dec(price, source);
                builder.dec_or_same(copy, own);
                builder.end_row();
            }
            let batch = builder.finish().unwrap();
            assert_eq!(
                Arc::ptr_eq(batch.column(copy), batch.column(price)),
                round != 1
            );
            let values = batch.column(copy).as_primitive::<Decimal128Type>();
            let read: Vec<Option<i128>> = values.iter().collect();
            let expected: Vec<Option<i128>> = rows.iter().map(|r| r.1).collect();
            assert_eq!(read, expected, "round {round}");
            assert_eq!(values.data_type(), batch.column(price).data_type());
        }
    }

    #[test]
    #[should_panic(expected = "cannot repeat")]
    fn a_column_mirrors_only_one_of_its_type() {
        use billow_focus::schema::index_of;
        FocusBatchBuilder::new(4).mirror(index_of("ResourceName"), index_of("ListCost"));
    }

    /// Grouped columns read back as appended: combinations that come back, combinations
    /// sharing some values, nulls inside a combination, rows that leave the group out, a
    /// column of the group also given alone in a row, and a second batch that numbers its
    /// combinations afresh. The group's columns share one key per row.
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
            let (ids, names) = (
                batch.column(id).as_dictionary::<TextKey>(),
                batch.column(name).as_dictionary::<TextKey>(),
            );
            assert!(ids.keys().values().ptr_eq(names.keys().values()));
            // The six combinations the rows hold, and (333, null), which the row given its
            // values one by one held in between.
            assert_eq!(ids.values().len(), 7);
            assert_eq!(names.values().len(), 7);
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
