//! A CUR delivery read by several threads at once: threads join a file still being read, and
//! still every row arrives once, with its own line, and each file's summary once, exact and
//! the same as when one thread reads the file alone.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use billow_formats::aws_cur::{CurFileReader, discover};
use billow_formats::{Consumer, FileSummary, ReadEvent, ReadOptions};
use billow_synth::aws_cur::{CurSpec, write_delivery};

/// (file, line, BilledCost) of each row, in the order they arrived.
type Rows = Vec<(String, i64, i128)>;

fn rows_of(batch: &RecordBatch) -> Rows {
    let column = |name: &str| {
        let (i, _) = batch.schema().column_with_name(name).unwrap();
        Arc::clone(batch.column(i))
    };
    let files = arrow::compute::cast(&column("x_SourceFile"), &DataType::Utf8).unwrap();
    let files = files.as_string::<i32>();
    let lines = column("x_SourceLine");
    let lines = lines.as_primitive::<Int64Type>();
    let billed = column("BilledCost");
    let billed = billed.as_primitive::<Decimal128Type>();
    (0..batch.num_rows())
        .map(|i| {
            assert!(!lines.is_null(i), "every row has its line");
            (files.value(i).to_string(), lines.value(i), billed.value(i))
        })
        .collect()
}

/// Consumers that each wait, at their first batch, until every consumer has one: they pass
/// only if every thread mapped part of the delivery, which for a single file means the
/// threads shared it.
struct Meeting {
    arrived: Mutex<usize>,
    all_there: Condvar,
    expected: usize,
}

impl Meeting {
    fn arrive(&self) {
        let mut arrived = self.arrived.lock().unwrap();
        *arrived += 1;
        self.all_there.notify_all();
        let (arrived, _) = self
            .all_there
            .wait_timeout_while(arrived, Duration::from_secs(120), |n| *n < self.expected)
            .unwrap();
        assert_eq!(
            *arrived, self.expected,
            "every thread maps some of the rows"
        );
    }
}

struct Collect {
    meeting: Arc<Meeting>,
    rows: Rows,
    files: Vec<FileSummary>,
    finished: bool,
}

impl Consumer for Collect {
    type Error = billow_formats::Error;

    fn batch(&mut self, batch: RecordBatch) -> billow_formats::Result<()> {
        if self.rows.is_empty() {
            self.meeting.arrive();
        }
        self.rows.extend(rows_of(&batch));
        Ok(())
    }

    fn file_done(&mut self, summary: FileSummary) -> billow_formats::Result<()> {
        self.files.push(summary);
        Ok(())
    }

    fn finish(&mut self) -> billow_formats::Result<()> {
        self.finished = true;
        Ok(())
    }
}

fn file_name(summary: &FileSummary) -> String {
    summary
        .file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Reads the delivery of `spec` on `threads` threads and checks it against each file read
/// alone.
fn check(spec: CurSpec, threads: usize) {
    let dir = tempfile::tempdir().unwrap();
    let written = write_delivery(dir.path(), &spec).unwrap();
    let delivery = discover(&written.report_dir).unwrap().remove(0);
    // Batches far smaller than a chunk of records: every chunk a thread maps ends a batch.
    let options = ReadOptions::new("c", "i").with_batch_rows(64);

    let mut alone: Rows = Vec::new();
    let mut alone_files = BTreeMap::new();
    for path in &delivery.files {
        let reader =
            CurFileReader::open(path, Some(&delivery.billing_period), options.clone()).unwrap();
        for event in reader {
            match event.unwrap() {
                ReadEvent::Batch(b) => alone.extend(rows_of(&b)),
                ReadEvent::FileDone(s) => {
                    assert!(alone_files.insert(file_name(&s), s).is_none());
                }
            }
        }
    }

    let meeting = Arc::new(Meeting {
        arrived: Mutex::new(0),
        all_there: Condvar::new(),
        expected: threads,
    });
    let consumers = (0..threads)
        .map(|_| Collect {
            meeting: Arc::clone(&meeting),
            rows: Vec::new(),
            files: Vec::new(),
            finished: false,
        })
        .collect();
    let done = delivery.read_into(&options, consumers).unwrap();
    assert!(done.iter().all(|c| c.finished));

    let mut shared: Rows = done.iter().flat_map(|c| c.rows.clone()).collect();
    // Within one thread, a file's rows keep their order.
    for c in &done {
        let mut last: BTreeMap<&str, i64> = BTreeMap::new();
        for (file, line, _) in &c.rows {
            let before = last.insert(file, *line).unwrap_or(0);
            assert!(*line >= before, "{file}: line {line} after {before}");
        }
    }
    let mut files = BTreeMap::new();
    for summary in done.into_iter().flat_map(|c| c.files) {
        let name = file_name(&summary);
        assert!(
            files.insert(name, summary).is_none(),
            "one summary per file"
        );
    }

    assert_eq!(shared.len() as u64, written.expected.focus_rows);
    shared.sort();
    alone.sort();
    assert!(shared == alone, "the same rows as each file read alone");
    assert_eq!(files.len(), delivery.files.len());
    for (name, summary) in &files {
        let one = &alone_files[name];
        assert_eq!(summary.rows, one.rows, "{name}");
        assert_eq!(summary.totals, one.totals, "{name}");
        assert_eq!(summary.source_format, one.source_format, "{name}");
    }
    // And the exact totals are the generator's.
    let mut by_group: BTreeMap<(String, String), (i128, i128)> = BTreeMap::new();
    for summary in files.values() {
        for totals in summary.totals.values() {
            for (key, group) in &totals.groups {
                let sums = by_group.entry(key.clone()).or_default();
                sums.0 += group.billed.at_lake_scale();
                sums.1 += group.effective.at_lake_scale();
            }
        }
    }
    // The generator counts in units of 10⁻¹⁰ (CUR's precision), the lake in 10⁻¹².
    let expected: BTreeMap<_, _> = written
        .expected
        .by_account_category
        .iter()
        .map(|(key, (billed, effective))| (key.clone(), (billed * 100, effective * 100)))
        .collect();
    assert_eq!(by_group, expected);
}

#[test]
fn two_threads_share_one_file() {
    check(CurSpec::new(21, 2026, 3).with_rows(6_000).with_files(1), 2);
}

#[test]
fn three_threads_share_one_file() {
    check(CurSpec::new(22, 2026, 4).with_rows(6_000).with_files(1), 3);
}

#[test]
fn threads_join_the_last_files_of_many() {
    check(CurSpec::new(23, 2026, 5).with_rows(9_000).with_files(5), 2);
}
