//! Numbering the distinct values of a column, for rollups and for Parquet dictionaries.

use std::collections::HashMap;

/// Distinct byte strings of one column, numbered in the order they are first met. The last
/// value met is tried first: neighbouring rows often share an account, a service, a region.
#[derive(Debug, Default)]
pub(crate) struct Dictionary {
    ids: HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>,
    values: Vec<Box<[u8]>>,
    last: u32,
    value_bytes: usize,
}

/// The id of a null value in a [`Dictionary`]'s column.
pub(crate) const NULL_ID: u32 = u32::MAX;

impl Dictionary {
    #[inline]
    pub(crate) fn id(&mut self, value: &[u8]) -> u32 {
        if self
            .values
            .get(self.last as usize)
            .is_some_and(|last| **last == *value)
        {
            return self.last;
        }
        let id = match self.ids.get(value) {
            Some(&id) => id,
            None => {
                // A column has far fewer than 2³² distinct values in what one dictionary spans.
                let id = self.values.len() as u32;
                self.ids.insert(value.into(), id);
                self.values.push(value.into());
                self.value_bytes += value.len();
                id
            }
        };
        self.last = id;
        id
    }

    /// The value of an id (`None` for [`NULL_ID`]).
    pub(crate) fn value(&self, id: u32) -> Option<&[u8]> {
        self.values.get(id as usize).map(|v| &v[..])
    }

    /// The values, in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &[u8]> {
        self.values.iter().map(|v| &v[..])
    }

    pub(crate) fn contains(&self, value: &[u8]) -> bool {
        self.ids.contains_key(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Bytes of all values together.
    pub(crate) fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    /// Forgets every value (keeping the allocations).
    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.values.clear();
        self.last = 0;
        self.value_bytes = 0;
    }
}
