//! Sums of costs by group key, as rollups take them row by row.
//!
//! A month's rollup adds millions of rows into tens of thousands of groups in no order, and
//! with gigabytes of source text streaming through the caches each group's slot is usually in
//! main memory when its row comes: the lookup, not the addition, is the cost. So the groups
//! live in an open-addressing table whose slot for a key follows from the key's hash alone,
//! and a caller that knows the rows ahead (a batch) hashes them first and adds them together
//! ([`Sums::add_rows`]), each slot fetched a few rows before its add; and each slot is
//! small (64-bit sums, 32-bit rows), a group outgrowing them moving whole to a side table.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// A row's group: its key, the key's [`Sums::hash`] and the row.
pub(crate) type RowGroup<K> = (K, u64, u32);

/// Groups ahead of the one being added whose slots are fetched: far enough for a fetch from
/// memory to land, near enough for the line to still be in cache.
const PREFETCH_AHEAD: usize = 8;

/// One group's values: its sums of the three costs (`None` where every value was null, as
/// SQL's `SUM`) and its rows.
pub(crate) type Totals = ([Option<i128>; 3], i64);

/// Sums of three costs and rows by group key.
#[derive(Debug)]
pub(crate) struct Sums<K> {
    /// A power of two of slots (or none yet), at most three quarters used; probed linearly.
    slots: Vec<Slot<K>>,
    used: usize,
    /// Hashed with foldhash: keys are ids, not chosen by an attacker.
    hasher: foldhash::fast::FixedState,
    /// The groups whose sums or rows outgrew a [`Group`]'s 64 and 32 bits, in full.
    wide: HashMap<K, WideGroup, foldhash::fast::RandomState>,
}

impl<K> Default for Sums<K> {
    fn default() -> Self {
        Sums {
            slots: Vec::new(),
            used: 0,
            hasher: foldhash::fast::FixedState::default(),
            wide: HashMap::default(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot<K> {
    key: K,
    group: Group,
}

/// A group's sums and rows while they fit 64 and 32 bits (a day's costs of one account,
/// service and region do, in all but the largest bills), so that a key and its group take
/// one cache line or two. A group that outgrows them moves to [`WideGroup`].
#[derive(Debug, Default, Clone, Copy)]
struct Group {
    sums: [i64; 3],
    rows: u32,
    /// Bit `c` is set once `sums[c]` has had a value.
    present: u8,
    /// The slot holds a group.
    used: bool,
    /// The group's sums and rows are in [`Sums::wide`] instead.
    wide: bool,
}

/// A group's sums and rows in full.
#[derive(Debug, Default, Clone, Copy)]
struct WideGroup {
    sums: [i128; 3],
    rows: i64,
}

/// Slots of a table's first allocation.
const FIRST_SLOTS: usize = 1024;

fn present_bits(values: &[Option<i128>; 3]) -> u8 {
    values
        .iter()
        .enumerate()
        .fold(0, |bits, (c, v)| bits | (u8::from(v.is_some()) << c))
}

impl Group {
    /// Adds one row's (or group's) values; `false`, the group unchanged, when they do not fit.
    #[inline]
    fn add(&mut self, values: &[Option<i128>; 3], rows: i64) -> bool {
        if self.wide {
            return false;
        }
        let mut sums = self.sums;
        for (sum, value) in sums.iter_mut().zip(values) {
            if let Some(v) = *value {
                match i64::try_from(v).ok().and_then(|v| sum.checked_add(v)) {
                    Some(s) => *sum = s,
                    None => return false,
                }
            }
        }
        let Some(rows) = u32::try_from(rows)
            .ok()
            .and_then(|r| self.rows.checked_add(r))
        else {
            return false;
        };
        self.sums = sums;
        self.rows = rows;
        self.present |= present_bits(values);
        true
    }

    fn sums(&self, full: [i128; 3]) -> [Option<i128>; 3] {
        [0, 1, 2].map(|c| (self.present & (1 << c) != 0).then_some(full[c]))
    }
}

impl WideGroup {
    /// Adds one row's (or group's) values; `false` when a sum passed i128.
    fn add(&mut self, values: &[Option<i128>; 3], rows: i64) -> bool {
        let mut fits = true;
        for (sum, value) in self.sums.iter_mut().zip(values) {
            if let Some(v) = *value {
                match sum.checked_add(v) {
                    Some(s) => *sum = s,
                    None => fits = false,
                }
            }
        }
        self.rows += rows;
        fits
    }
}

impl<K: Hash + Eq + Copy + Default> Sums<K> {
    /// The hash of `key`, as [`Self::add_rows`] takes it.
    #[inline]
    pub(crate) fn hash(&self, key: &K) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Adds each row's values (`values` of its row) to its group, in order, each group's slot
    /// fetched [`PREFETCH_AHEAD`] groups before its add; the first row whose add passed i128,
    /// if any.
    pub(crate) fn add_rows(
        &mut self,
        groups: &[RowGroup<K>],
        values: impl Fn(usize) -> [Option<i128>; 3],
    ) -> Option<usize> {
        let mut overflow = None;
        for (i, &(key, hash, row)) in groups.iter().enumerate() {
            if let Some(&(_, ahead, _)) = groups.get(i + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            let row = row as usize;
            if !self.add_hashed(key, hash, values(row), 1) {
                overflow.get_or_insert(row);
            }
        }
        overflow
    }

    /// Asks the processor to fetch the slot where the key of `hash` is probed first, so
    /// that adding it a little later finds the slot in cache.
    #[inline]
    fn prefetch(&self, hash: u64) {
        if self.slots.is_empty() {
            return;
        }
        let slot = self.slots.as_ptr().wrapping_add(self.first_slot(hash));
        prefetch(slot.cast());
    }

    #[inline]
    fn first_slot(&self, hash: u64) -> usize {
        hash as usize & (self.slots.len() - 1)
    }

    /// Adds one row's (or group's) values; `false` when a sum passed i128.
    #[inline]
    pub(crate) fn add(&mut self, key: K, values: [Option<i128>; 3], rows: i64) -> bool {
        let hash = self.hash(&key);
        self.add_hashed(key, hash, values, rows)
    }

    /// [`Self::add`] of a key whose [`Self::hash`] the caller has.
    #[inline]
    fn add_hashed(&mut self, key: K, hash: u64, values: [Option<i128>; 3], rows: i64) -> bool {
        if (self.used + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let at = self.slot_of(key, hash);
        if !self.slots[at].group.used {
            self.slots[at] = Slot {
                key,
                group: Group {
                    used: true,
                    ..Group::default()
                },
            };
            self.used += 1;
        }
        let group = &mut self.slots[at].group;
        if group.add(&values, rows) {
            return true;
        }
        group.present |= present_bits(&values);
        let wide = self.wide.entry(key).or_insert_with(|| {
            group.wide = true;
            WideGroup {
                sums: group.sums.map(i128::from),
                rows: i64::from(group.rows),
            }
        });
        wide.add(&values, rows)
    }

    /// The slot holding `key`, or the free slot where it goes.
    #[inline]
    fn slot_of(&self, key: K, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.first_slot(hash);
        loop {
            let slot = &self.slots[at];
            if !slot.group.used || slot.key == key {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    /// Doubles the slots (or makes the first ones) and places every group again.
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(FIRST_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots]);
        for slot in old.into_iter().filter(|s| s.group.used) {
            let at = self.slot_of(slot.key, self.hash(&slot.key));
            self.slots[at] = slot;
        }
    }

    fn totals(&self, slot: &Slot<K>) -> Totals {
        let group = &slot.group;
        match group.wide.then(|| self.wide.get(&slot.key)).flatten() {
            Some(wide) => (group.sums(wide.sums), wide.rows),
            None => (
                group.sums(group.sums.map(i128::from)),
                i64::from(group.rows),
            ),
        }
    }

    /// The groups with their values and rows, in no order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, [Option<i128>; 3], i64)> {
        self.slots.iter().filter(|s| s.group.used).map(|s| {
            let (values, rows) = self.totals(s);
            (&s.key, values, rows)
        })
    }

    /// The groups' values, under byte keys that `encode` writes from each key into the buffer
    /// it is handed (`false` leaves the group out).
    pub(crate) fn encoded(
        &self,
        mut encode: impl FnMut(&K, &mut Vec<u8>) -> bool,
    ) -> Vec<(Vec<u8>, Totals)> {
        let mut out = Vec::with_capacity(self.used);
        for slot in self.slots.iter().filter(|s| s.group.used) {
            let mut key = Vec::with_capacity(64);
            if encode(&slot.key, &mut key) {
                out.push((key, self.totals(slot)));
            }
        }
        out
    }
}

/// A hint to fetch the cache line at `at` into the caches; never faults, whatever `at` is.
#[inline]
fn prefetch(at: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 reads no memory the program sees and raises no fault for any
    // address (the processor drops a prefetch it cannot make); `sse`, which provides it, is
    // part of every x86-64 processor.
    #[allow(unsafe_code)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Groups added in any order, one at a time and a batch at a time, growing the table many
    /// times over, sum as a plain map of exact sums does.
    #[test]
    fn groups_sum_as_a_map_does_through_growth() {
        let mut sums = Sums::<(i32, u32)>::default();
        // Per group, each cost's sum (`None` until it has a value) and the rows.
        let mut expected: HashMap<(i32, u32), Totals> = HashMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut batch, mut batch_values) = (Vec::new(), Vec::new());
        for row in 0..50_000_i64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let key = ((state >> 40) as i32 % 31, (state >> 20) as u32 % 700);
            let values = [
                Some(i128::from(row) * 1_000_000),
                (row % 3 == 0).then_some(-i128::from(row)),
                None,
            ];
            if row < 10_000 {
                assert!(sums.add(key, values, 1));
            } else {
                batch.push((key, sums.hash(&key), batch_values.len() as u32));
                batch_values.push(values);
            }
            let (sums, rows) = expected.entry(key).or_default();
            for (sum, value) in sums.iter_mut().zip(values) {
                if let Some(v) = value {
                    *sum = Some(sum.unwrap_or_default() + v);
                }
            }
            *rows += 1;
        }
        assert_eq!(sums.add_rows(&batch, |row| batch_values[row]), None);
        let got: HashMap<(i32, u32), Totals> = sums.iter().map(|(k, v, r)| (*k, (v, r))).collect();
        assert!(expected.len() > FIRST_SLOTS * 4, "the table grew");
        assert_eq!(got, expected);
    }

    /// Sums past 64 bits and rows past 32 move a group to its wide form without losing a
    /// unit: the totals are the exact sums, each cost's null-ness kept, before and after
    /// the move, and a group that moved keeps adding.
    #[test]
    fn groups_outgrowing_64_bits_keep_exact_sums() {
        let mut sums = Sums::<u32>::default();
        let near = i128::from(i64::MAX) - 5;
        assert!(sums.add(1, [Some(near), None, Some(-3)], 1));
        assert!(sums.add(2, [Some(7), None, None], 1));
        // Past i64 in the first cost: the whole group moves.
        assert!(sums.add(1, [Some(10), None, Some(-4)], 1));
        assert!(sums.add(1, [Some(1), None, None], 2));
        // A value that never fitted 64 bits, and rows past 32 bits (a merged group's).
        let huge = i128::from(i64::MAX) * 4;
        assert!(sums.add(2, [Some(huge), None, Some(1)], i64::from(u32::MAX)));
        let mut totals: Vec<(u32, [Option<i128>; 3], i64)> =
            sums.iter().map(|(k, v, r)| (*k, v, r)).collect();
        totals.sort_unstable_by_key(|t| t.0);
        assert_eq!(
            totals,
            vec![
                (1, [Some(near + 11), None, Some(-7)], 4),
                (2, [Some(huge + 7), None, Some(1)], i64::from(u32::MAX) + 1),
            ]
        );
        // Beyond i128, a wide group reports it.
        assert!(!sums.add(1, [Some(i128::MAX), None, None], 1));
    }
}
