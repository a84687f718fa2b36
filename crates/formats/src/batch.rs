//! Building FOCUS batches column by column, and the exact source totals beside them.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Decimal128Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef};
use billow_focus::money::{ExactSum, PRECISION, SCALE};
use billow_focus::schema::focus_schema;

enum ColumnBuilder {
    Str(StringBuilder),
    Dec(Decimal128Builder),
    Ts(TimestampMicrosecondBuilder),
    Int(Int64Builder),
}

impl ColumnBuilder {
    /// Appends nulls until the column holds `rows` values.
    #[inline]
    fn fill_to(&mut self, rows: usize) {
        let missing = |len: usize| rows.saturating_sub(len);
        match self {
            ColumnBuilder::Str(b) => b.append_nulls(missing(b.len())),
            ColumnBuilder::Dec(b) => b.append_nulls(missing(b.len())),
            ColumnBuilder::Ts(b) => b.append_nulls(missing(b.len())),
            ColumnBuilder::Int(b) => b.append_nulls(missing(b.len())),
        }
    }
}

/// Accumulates rows of the `focus` schema; readers address columns by their index in
/// [`focus_schema`] (see [`billow_focus::schema::index_of`]).
pub struct FocusBatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    /// Bit `i` (of word `i / 64`) is set once column `i` has a value in the row being built,
    /// so ending a row visits only the columns left out instead of asking every column its
    /// length.
    written: Vec<u64>,
    rows: usize,
    capacity: usize,
}

/// Bytes a string column reserves per row before it has seen a batch.
const DEFAULT_BYTES_PER_ROW: usize = 8;

impl FocusBatchBuilder {
    /// A builder with room for `capacity` rows.
    pub fn new(capacity: usize) -> Self {
        Self::with_string_bytes(capacity, &[])
    }

    /// A builder whose string column `i` reserves `string_bytes[i]` value bytes (the default
    /// where absent or zero).
    fn with_string_bytes(capacity: usize, string_bytes: &[usize]) -> Self {
        let schema = focus_schema();
        let columns: Vec<ColumnBuilder> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match f.data_type() {
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
            written: vec![0; columns.len().div_ceil(64)],
            schema,
            columns,
            rows: 0,
            capacity,
        }
    }

    /// Appends a string (or null) to column `i`.
    #[inline]
    pub fn str(&mut self, i: usize, v: Option<&str>) {
        if let ColumnBuilder::Str(b) = &mut self.columns[i] {
            b.append_option(v);
            self.written[i / 64] |= 1 << (i % 64);
        }
    }

    /// Appends a decimal at scale 12 (or null) to column `i`.
    #[inline]
    pub fn dec(&mut self, i: usize, v: Option<i128>) {
        if let ColumnBuilder::Dec(b) = &mut self.columns[i] {
            b.append_option(v);
            self.written[i / 64] |= 1 << (i % 64);
        }
    }

    /// Appends a UTC timestamp in microseconds (or null) to column `i`.
    #[inline]
    pub fn ts(&mut self, i: usize, v: Option<i64>) {
        if let ColumnBuilder::Ts(b) = &mut self.columns[i] {
            b.append_option(v);
            self.written[i / 64] |= 1 << (i % 64);
        }
    }

    /// Appends an integer (or null) to column `i`.
    #[inline]
    pub fn int(&mut self, i: usize, v: Option<i64>) {
        if let ColumnBuilder::Int(b) = &mut self.columns[i] {
            b.append_option(v);
            self.written[i / 64] |= 1 << (i % 64);
        }
    }

    /// Marks the end of a row: every column has received at most one value, and those that
    /// received none are null (readers only write the columns their source fills).
    #[inline]
    pub fn end_row(&mut self) {
        self.rows += 1;
        for (w, word) in self.written.iter_mut().enumerate() {
            let columns = self.columns.len().saturating_sub(w * 64).min(64);
            let all = if columns == 64 {
                u64::MAX
            } else {
                (1 << columns) - 1
            };
            let mut missing = !*word & all;
            while missing != 0 {
                let i = w * 64 + missing.trailing_zeros() as usize;
                self.columns[i].fill_to(self.rows);
                missing &= missing - 1;
            }
            *word = 0;
        }
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
        // The next batch of the same source holds strings of about the same sizes: reserving
        // what this one used (plus an eighth) saves regrowing, and copying, every long column.
        let rows = self.rows.max(1);
        let string_bytes: Vec<usize> = self
            .columns
            .iter()
            .map(|c| match c {
                ColumnBuilder::Str(b) => {
                    let per_row = b.values_slice().len().div_ceil(rows);
                    let bytes = per_row * self.capacity;
                    bytes + bytes / 8
                }
                _ => 0,
            })
            .collect();
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| match c {
                ColumnBuilder::Str(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Dec(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Ts(b) => Arc::new(b.finish()) as ArrayRef,
                ColumnBuilder::Int(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        // Arrow's builders hand over their buffers and start again from nothing; sizing the next
        // batch's up front avoids regrowing (and copying) them row by row.
        *self = FocusBatchBuilder::with_string_bytes(self.capacity, &string_bytes);
        RecordBatch::try_new(Arc::clone(&self.schema), arrays)
    }
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
