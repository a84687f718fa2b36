//! Text columns as batches bring them: plain `Utf8`, or keyed (`Dictionary(Int32, Utf8)`), as
//! readers build them (see [`billow_focus::schema::keyed_focus_schema`]).

use arrow::array::{Array, AsArray, PrimitiveArray, StringArray};
use billow_focus::schema::TextKey;

use crate::dictionary::{Dictionary, NULL_ID};

/// One text column of a batch, either way it is encoded.
#[derive(Clone, Copy)]
pub(crate) enum TextColumn<'a> {
    /// Each row's text.
    Plain(&'a StringArray),
    /// Each row's key into the batch's distinct values.
    Keyed {
        keys: &'a PrimitiveArray<TextKey>,
        values: &'a StringArray,
    },
}

/// Marks a key not yet looked up in [`Dictionary::extend_ids`] (ids stay far below it).
const UNSEEN: u32 = NULL_ID - 1;

impl<'a> TextColumn<'a> {
    /// The column, if it is text.
    pub(crate) fn of(array: &'a dyn Array) -> Option<Self> {
        if let Some(plain) = array.as_string_opt::<i32>() {
            return Some(TextColumn::Plain(plain));
        }
        let keyed = array.as_dictionary_opt::<TextKey>()?;
        Some(TextColumn::Keyed {
            keys: keyed.keys(),
            values: keyed.values().as_string_opt::<i32>()?,
        })
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            TextColumn::Plain(a) => a.len(),
            TextColumn::Keyed { keys, .. } => keys.len(),
        }
    }

    pub(crate) fn null_count(&self) -> usize {
        match self {
            TextColumn::Plain(a) => a.null_count(),
            TextColumn::Keyed { keys, .. } => keys.null_count(),
        }
    }

    /// The text of `row`, `None` when null.
    #[inline]
    pub(crate) fn get(&self, row: usize) -> Option<&'a str> {
        match self {
            TextColumn::Plain(a) => a.is_valid(row).then(|| a.value(row)),
            TextColumn::Keyed { keys, values } => keys
                .is_valid(row)
                .then(|| values.value(keys.value(row) as usize)),
        }
    }

    /// Every row's text.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Option<&'a str>> + '_ {
        (0..self.len()).map(|row| self.get(row))
    }
}

impl Dictionary {
    /// Appends to `ids` the id of each row's value of `column` ([`NULL_ID`] for a null). A
    /// keyed column's distinct values are looked up once each, through `seen` (scratch space
    /// kept by the caller), instead of once per row.
    pub(crate) fn extend_ids(
        &mut self,
        column: &TextColumn<'_>,
        ids: &mut Vec<u32>,
        seen: &mut Vec<u32>,
    ) {
        ids.reserve(column.len());
        match *column {
            TextColumn::Plain(values) => match values.nulls().filter(|n| n.null_count() > 0) {
                Some(nulls) => ids.extend((0..values.len()).map(|row| {
                    if nulls.is_null(row) {
                        NULL_ID
                    } else {
                        self.id(values.value(row).as_bytes())
                    }
                })),
                None => {
                    ids.extend((0..values.len()).map(|row| self.id(values.value(row).as_bytes())))
                }
            },
            TextColumn::Keyed { keys, values } => {
                seen.clear();
                seen.resize(values.len(), UNSEEN);
                let mut id_of = |key: i32| {
                    let key = key as usize;
                    match seen.get(key) {
                        Some(&id) if id != UNSEEN => id,
                        Some(_) => {
                            let id = self.id(values.value(key).as_bytes());
                            seen[key] = id;
                            id
                        }
                        // A key the values do not have cannot be in an array Arrow validated.
                        None => NULL_ID,
                    }
                };
                match keys.nulls().filter(|n| n.null_count() > 0) {
                    Some(nulls) => {
                        ids.extend(keys.values().iter().enumerate().map(|(row, &key)| {
                            if nulls.is_null(row) {
                                NULL_ID
                            } else {
                                id_of(key)
                            }
                        }))
                    }
                    None => ids.extend(keys.values().iter().map(|&key| id_of(key))),
                }
            }
        }
    }
}
