//! What every reader yields, and decoding a delivery's files on several threads.
//!
//! A delivery is several files (AWS splits a month into many gzip parts). Every thread hands
//! its batches to its own [`Consumer`], so the work that follows decoding (the lake's Parquet
//! encoding) runs on the same core while the batch is still in its cache, and no single
//! downstream thread limits how many cores are busy.
//!
//! Most readers decode a file start to end on one thread ([`read_parallel`]). A reader whose
//! file splits into records read in order and mapped independently ([`SharedFile`]) is read
//! by [`read_shared`] instead: once fewer files are left than threads, the idle threads join a
//! file still being read, taking turns to read a chunk of its records under the file's lock
//! and each mapping its own chunks (one large file, or the last of many, keeps every core
//! busy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use arrow::array::RecordBatch;

use crate::batch::{FocusBatchBuilder, SourceTotals};
use crate::csv_file::Record;
use crate::{Error, Result};

/// What a reader stamps on every row, and how it works.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// `x_ConnectionId`.
    pub connection_id: String,
    /// `x_IngestionId`.
    pub ingestion_id: String,
    /// Rows per batch.
    pub batch_rows: usize,
    /// Decoding threads.
    pub threads: usize,
}

impl ReadOptions {
    /// Options with 16,384-row batches (about 20 MB each) and one thread per core.
    pub fn new(connection_id: impl Into<String>, ingestion_id: impl Into<String>) -> Self {
        ReadOptions {
            connection_id: connection_id.into(),
            ingestion_id: ingestion_id.into(),
            batch_rows: 16_384,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }

    /// Sets the batch size.
    pub fn with_batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// Sets how many threads decode.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }
}

/// What a reader yields.
#[derive(Debug)]
pub enum ReadEvent {
    /// FOCUS rows.
    Batch(RecordBatch),
    /// A file was read to its end.
    FileDone(FileSummary),
}

/// What a reader learned from one whole file.
#[derive(Debug, Clone)]
pub struct FileSummary {
    /// The file.
    pub file: PathBuf,
    /// FOCUS rows made from it.
    pub rows: u64,
    /// Its exact source totals per billing period (`YYYY-MM`) it holds rows of.
    pub totals: BTreeMap<String, SourceTotals>,
    /// Its format as stored in `x_SourceFormat` (one reader may read several spellings).
    pub source_format: &'static str,
}

impl FileSummary {
    /// Adds what another part of the same file held (parts mapped on other threads).
    pub(crate) fn merge(&mut self, other: &FileSummary) -> Result<()> {
        self.rows += other.rows;
        for (period, totals) in &other.totals {
            self.totals
                .entry(period.clone())
                .or_default()
                .merge(totals)
                .map_err(|_| Error::TotalOverflow {
                    path: self.file.clone(),
                    column: "cost",
                })?;
        }
        Ok(())
    }
}

/// How far a file reader is: whether its rows are exhausted and whether its last event (its
/// summary or an error) was returned.
#[derive(Debug, Default)]
pub(crate) struct ReadState {
    finished: bool,
    done: bool,
}

/// A file reader that maps one source row at a time into a batch; [`next_event`] makes it
/// the event iterator every reader is.
pub(crate) trait FillBatches {
    /// Maps the next source row into the batch being built; `false` at the end of the file.
    fn read_row(&mut self) -> Result<bool>;
    /// The batch being built.
    fn builder(&mut self) -> &mut crate::batch::FocusBatchBuilder;
    /// FOCUS rows per batch.
    fn batch_rows(&self) -> usize;
    /// Where the reader is.
    fn state(&mut self) -> &mut ReadState;
    /// What the whole file held; asked once, after its last batch.
    fn summary(&mut self) -> FileSummary;
}

/// Makes a reader the event iterator every reader is. The reader has the fields `builder`
/// ([`crate::batch::FocusBatchBuilder`]), `options` ([`ReadOptions`]) and `state`
/// ([`ReadState`]), and the methods `read_row(&mut self) -> Result<bool>` (map one source row)
/// and `file_summary(&mut self) -> FileSummary` (what the file held, asked once at its end).
macro_rules! batch_reader {
    ($reader:ty) => {
        impl $crate::read::FillBatches for $reader {
            fn read_row(&mut self) -> $crate::Result<bool> {
                <$reader>::read_row(self)
            }

            fn builder(&mut self) -> &mut $crate::batch::FocusBatchBuilder {
                &mut self.builder
            }

            fn batch_rows(&self) -> usize {
                self.options.batch_rows
            }

            fn state(&mut self) -> &mut $crate::read::ReadState {
                &mut self.state
            }

            fn summary(&mut self) -> $crate::read::FileSummary {
                <$reader>::file_summary(self)
            }
        }

        impl Iterator for $reader {
            type Item = $crate::Result<$crate::read::ReadEvent>;

            /// Batches, then one `ReadEvent::FileDone`; after an error, nothing more.
            fn next(&mut self) -> Option<Self::Item> {
                $crate::read::next_event(self)
            }
        }
    };
}
pub(crate) use batch_reader;

/// Batches, then one [`ReadEvent::FileDone`]; after an error, nothing more.
pub(crate) fn next_event(reader: &mut impl FillBatches) -> Option<Result<ReadEvent>> {
    if reader.state().done {
        return None;
    }
    let batch_rows = reader.batch_rows();
    while !reader.state().finished && reader.builder().len() < batch_rows {
        match reader.read_row() {
            Ok(true) => {}
            Ok(false) => reader.state().finished = true,
            Err(e) => {
                reader.state().done = true;
                return Some(Err(e));
            }
        }
    }
    let builder = reader.builder();
    if !builder.is_empty() {
        return Some(builder.finish().map(ReadEvent::Batch).map_err(Error::from));
    }
    reader.state().done = true;
    Some(Ok(ReadEvent::FileDone(reader.summary())))
}

/// Receives the events of the files one decoding thread reads, in order.
pub trait Consumer: Send {
    /// The consumer's error; a reader's error converts into it.
    type Error: From<Error> + Send;

    /// A batch of FOCUS rows.
    fn batch(&mut self, batch: RecordBatch) -> std::result::Result<(), Self::Error>;

    /// A file was read to its end.
    fn file_done(&mut self, summary: FileSummary) -> std::result::Result<(), Self::Error>;

    /// Every file this thread will read is read: what the consumer still has to do with its
    /// batches (close its last file) runs here, on its decoding thread, while other threads
    /// still read, instead of one consumer after another once all are done. Not called
    /// after an error.
    fn finish(&mut self) -> std::result::Result<(), Self::Error> {
        Ok(())
    }
}

/// Decodes `files` with one thread per consumer: each thread takes the next unread file,
/// opens it with `open` and hands its events to its consumer. The first error stops every
/// thread at its next batch and is returned; otherwise the consumers come back for their
/// owners to finish.
pub fn read_parallel<R, C>(
    files: &[PathBuf],
    open: impl Fn(&Path) -> Result<R> + Sync,
    consumers: Vec<C>,
) -> std::result::Result<Vec<C>, C::Error>
where
    R: Iterator<Item = Result<ReadEvent>>,
    C: Consumer,
{
    for_each_file(
        files,
        consumers,
        |path, consumer, stopped| {
            for event in open(path)? {
                if stopped() {
                    return Ok(());
                }
                match event? {
                    ReadEvent::Batch(b) => consumer.batch(b)?,
                    ReadEvent::FileDone(summary) => consumer.file_done(summary)?,
                }
            }
            Ok(())
        },
        C::finish,
    )
}

/// Runs `work` over `files` with one thread per worker state: each thread takes the next file
/// nobody has taken, and runs `finish` on its state when none is left. The first error stops
/// every thread before its next file (and, where `work` asks `stopped`, within it) and is
/// returned; otherwise the states come back.
pub(crate) fn for_each_file<S, E>(
    files: &[PathBuf],
    states: Vec<S>,
    work: impl Fn(&Path, &mut S, &dyn Fn() -> bool) -> std::result::Result<(), E> + Sync,
    finish: impl Fn(&mut S) -> std::result::Result<(), E> + Sync,
) -> std::result::Result<Vec<S>, E>
where
    S: Send,
    E: Send,
{
    let next = AtomicUsize::new(0);
    on_threads(states, |state, stopped| {
        loop {
            if stopped() {
                return Ok(());
            }
            let Some(path) = files.get(next.fetch_add(1, Ordering::SeqCst)) else {
                return finish(state);
            };
            work(path, state, stopped)?;
        }
    })
}

/// Runs `work` on one thread per state. A thread's error makes `stopped` true for the others
/// and is returned (the first in thread order); otherwise the states come back. A thread's
/// panic resumes here.
fn on_threads<S, E>(
    states: Vec<S>,
    work: impl Fn(&mut S, &dyn Fn() -> bool) -> std::result::Result<(), E> + Sync,
) -> std::result::Result<Vec<S>, E>
where
    S: Send,
    E: Send,
{
    let failed = AtomicBool::new(false);
    let results: Vec<std::result::Result<S, E>> = std::thread::scope(|scope| {
        let workers: Vec<_> = states
            .into_iter()
            .map(|mut state| {
                let (failed, work) = (&failed, &work);
                scope.spawn(move || {
                    let stopped = || failed.load(Ordering::SeqCst);
                    match work(&mut state, &stopped) {
                        Ok(()) => Ok(state),
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            Err(e)
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.into_iter().collect()
}

/// How an export's files are read on several threads, each thread handing its batches to its
/// own consumer: a function opening one file's reader ([`read_parallel`]), or a format whose
/// files several threads read at once (like [`crate::aws_cur::CurFiles`]).
pub trait ReadFiles: Send + Sync {
    /// How many of `threads` threads can be kept busy reading `files` files.
    fn useful_threads(&self, files: usize, threads: usize) -> usize {
        threads.min(files).max(1)
    }

    /// Reads `files` with one thread per consumer; the first error stops every thread and is
    /// returned, otherwise the consumers come back.
    fn read_files<C: Consumer>(
        &self,
        files: &[PathBuf],
        options: &ReadOptions,
        consumers: Vec<C>,
    ) -> std::result::Result<Vec<C>, C::Error>;
}

impl<F, R> ReadFiles for F
where
    F: Fn(&Path, &ReadOptions) -> Result<R> + Send + Sync,
    R: Iterator<Item = Result<ReadEvent>>,
{
    fn read_files<C: Consumer>(
        &self,
        files: &[PathBuf],
        options: &ReadOptions,
        consumers: Vec<C>,
    ) -> std::result::Result<Vec<C>, C::Error> {
        read_parallel(files, |path| self(path, options), consumers)
    }
}

/// Records a thread reads at once from a file that several threads share: about a quarter of
/// a megabyte of CUR text, enough that the decoder's state, which moves to the reading
/// thread's core with the lock, is used for a while before it moves again.
const CHUNK_RECORDS: usize = 256;

/// Records a thread alone on a file reads and maps before it lets another thread that wants
/// to join the file take the lock (a millisecond or two of work).
const SOLO_RECORDS: usize = 1024;

/// Records read together from one file, each with the line it starts on.
#[derive(Default)]
pub(crate) struct RecordChunk {
    /// The chunk's records first; the rest are buffers kept for the next chunk.
    records: Vec<Record>,
    lines: Vec<u64>,
}

impl RecordChunk {
    fn clear(&mut self) {
        self.lines.clear();
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    /// Reads up to [`CHUNK_RECORDS`] records of `file`.
    fn fill(&mut self, file: &mut impl SharedFile) -> Result<()> {
        self.clear();
        while self.len() < CHUNK_RECORDS {
            if self.records.len() == self.len() {
                self.records.push(Record::new());
            }
            let record = &mut self.records[self.lines.len()];
            let Some(line) = file.read_record(record)? else {
                break;
            };
            self.lines.push(line);
        }
        Ok(())
    }
}

/// A file whose records are read in order but mapped independently of each other, so that
/// several threads can share it: one at a time reads records (under the file's lock), and
/// maps them with its own [`MapRecords`] of the file.
pub(crate) trait SharedFile: Send {
    /// Maps the file's records.
    type Mapper: MapRecords;

    /// Reads the next data record into `record`, and the line it starts on; `None` at the end
    /// of the file.
    fn read_record(&mut self, record: &mut Record) -> Result<Option<u64>>;

    /// A mapper of the file's records for one more thread, with no rows yet.
    fn mapper(&self) -> Self::Mapper;
}

/// Maps records of one file into FOCUS rows: one thread's part of a [`SharedFile`].
pub(crate) trait MapRecords: Send {
    /// Maps `record`, which starts on `line` (the mapper may change the record).
    fn map_record(&mut self, record: &mut Record, line: u64) -> Result<()>;
    /// The batch being built.
    fn builder(&mut self) -> &mut FocusBatchBuilder;
    /// FOCUS rows per batch.
    fn batch_rows(&self) -> usize;
    /// What the records this mapper mapped held.
    fn summary(&mut self) -> FileSummary;
}

/// A file being read by [`read_shared`].
struct OpenFile<S> {
    /// `None` once every record is read.
    source: Mutex<Option<S>>,
    /// Set (under the `source` lock) once every record is read.
    exhausted: AtomicBool,
    /// Set once a second thread joins the file: from then on it is read in chunks.
    shared: AtomicBool,
    /// Threads that read from the file and have not yet handed back their part.
    ending: Mutex<Ending>,
}

struct Ending {
    holders: usize,
    summary: Option<FileSummary>,
}

/// Locks `mutex`, also when a thread panicked holding it (the panic resumes once the threads
/// are joined, and voids every thread's result; these locks guard only counters and lists,
/// consistent at every point a panic could leave them).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One thread's mapper of a file it has read from.
struct Part<S: SharedFile> {
    file: Arc<OpenFile<S>>,
    mapper: S::Mapper,
}

/// Decodes `files` with one thread per consumer: each thread reads its own file, mapping each
/// record as soon as it is read, and opens the next unopened file when its file ends. Once no
/// file is left unopened, a thread whose file ended joins one still being read; from then on
/// the threads of that file take turns to read chunks of its records, each mapping its own
/// chunks. Each file's summary, merged from every thread that mapped part of it, reaches the
/// consumer of the thread that hands back the last part. Errors as in [`read_parallel`].
pub(crate) fn read_shared<S, C>(
    files: &[PathBuf],
    open: impl Fn(&Path) -> Result<S> + Sync,
    consumers: Vec<C>,
) -> std::result::Result<Vec<C>, C::Error>
where
    S: SharedFile,
    C: Consumer,
{
    let next = AtomicUsize::new(0);
    let reading = Mutex::new(Reading {
        files: Vec::new(),
        opened: 0,
    });
    let opened = Condvar::new();
    let shared = Shared {
        files,
        open: &open,
        next: &next,
        reading: &reading,
        opened: &opened,
    };
    on_threads(consumers, |consumer, stopped| {
        shared.work(consumer, stopped)
    })
}

/// What the threads of [`read_shared`] share.
struct Shared<'a, S, O> {
    files: &'a [PathBuf],
    open: &'a O,
    /// The next file nobody has opened.
    next: &'a AtomicUsize,
    reading: &'a Mutex<Reading<S>>,
    /// Signalled when a thread is done opening a file.
    opened: &'a Condvar,
}

struct Reading<S> {
    /// Files opened and not yet known to be read to their end, in the order opened.
    files: Vec<Arc<OpenFile<S>>>,
    /// Files whose opening is over (opened or failed).
    opened: usize,
}

impl<S, O> Shared<'_, S, O>
where
    S: SharedFile,
    O: Fn(&Path) -> Result<S> + Sync,
{
    /// One thread's loop: read records of its file and map them, hand batches to `consumer`,
    /// and hand back its parts of the files that ended.
    fn work<C: Consumer>(
        &self,
        consumer: &mut C,
        stopped: &dyn Fn() -> bool,
    ) -> std::result::Result<(), C::Error> {
        let mut parts: Vec<Part<S>> = Vec::new();
        let mut chunk = RecordChunk::default();
        let mut record = Record::new();
        let mut current: Option<Arc<OpenFile<S>>> = None;
        loop {
            if stopped() {
                return Ok(());
            }
            let file = match current.take() {
                Some(file) if !file.exhausted.load(Ordering::SeqCst) => file,
                _ => match self.next_file(stopped)? {
                    Some(file) => file,
                    None => break,
                },
            };
            let part = {
                // A thread that panicked while reading the file may have left its decoder
                // half-way: stop (the panic resumes once the threads are joined).
                let Ok(mut source) = file.source.lock() else {
                    return Ok(());
                };
                let Some(reader) = source.as_mut() else {
                    continue;
                };
                // A thread's first read of a file makes it a holder of a part, under the lock
                // that also marks the end: the file cannot end without it.
                let at = match parts.iter().position(|p| Arc::ptr_eq(&p.file, &file)) {
                    Some(at) => at,
                    None => {
                        lock(&file.ending).holders += 1;
                        parts.push(Part {
                            file: Arc::clone(&file),
                            mapper: reader.mapper(),
                        });
                        parts.len() - 1
                    }
                };
                chunk.clear();
                let ended = if file.shared.load(Ordering::SeqCst) {
                    chunk.fill(reader)?;
                    chunk.len() == 0
                } else {
                    // Alone on the file: each record is mapped as soon as it is read, while
                    // it is still in the core's first-level cache, until the batch is full.
                    let mapper = &mut parts[at].mapper;
                    let batch_rows = mapper.batch_rows();
                    let mut ended = false;
                    for _ in 0..SOLO_RECORDS {
                        let Some(line) = reader.read_record(&mut record)? else {
                            ended = true;
                            break;
                        };
                        mapper.map_record(&mut record, line)?;
                        if mapper.builder().len() >= batch_rows {
                            break;
                        }
                    }
                    ended
                };
                if ended {
                    *source = None;
                    file.exhausted.store(true, Ordering::SeqCst);
                }
                at
            };
            let mapper = &mut parts[part].mapper;
            let batch_rows = mapper.batch_rows();
            for (record, &line) in chunk.records.iter_mut().zip(&chunk.lines) {
                mapper.map_record(record, line)?;
                send_batch(mapper, batch_rows, consumer)?;
            }
            // Alone on the file, the thread mapped its records under the lock: send here.
            send_batch(mapper, batch_rows, consumer)?;
            current = Some(file);
            self.hand_back_ended(&mut parts, consumer)?;
        }
        self.hand_back_ended(&mut parts, consumer)?;
        debug_assert!(parts.is_empty(), "every file a thread read from has ended");
        consumer.finish()
    }

    /// The file a thread whose file ended reads next: an unopened one, else the file being
    /// read that was opened last (it likely has the most records left); `None` when every
    /// file is read to its end.
    fn next_file(&self, stopped: &dyn Fn() -> bool) -> Result<Option<Arc<OpenFile<S>>>> {
        if let Some(path) = self.files.get(self.next.fetch_add(1, Ordering::SeqCst)) {
            let source = (self.open)(path);
            let mut reading = lock(self.reading);
            reading.opened += 1;
            self.opened.notify_all();
            let file = Arc::new(OpenFile {
                source: Mutex::new(Some(source?)),
                exhausted: AtomicBool::new(false),
                shared: AtomicBool::new(false),
                ending: Mutex::new(Ending {
                    holders: 0,
                    summary: None,
                }),
            });
            reading.files.push(Arc::clone(&file));
            return Ok(Some(file));
        }
        let mut reading = lock(self.reading);
        loop {
            reading
                .files
                .retain(|f| !f.exhausted.load(Ordering::SeqCst));
            if let Some(file) = reading.files.last() {
                file.shared.store(true, Ordering::SeqCst);
                return Ok(Some(Arc::clone(file)));
            }
            if reading.opened >= self.files.len() || stopped() {
                return Ok(None);
            }
            // Another thread is still opening a file (reading its header): wait to join it.
            reading = match self.opened.wait_timeout(reading, Duration::from_millis(10)) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Hands back this thread's parts of files read to their end: the rest of their rows as a
    /// batch, their summary merged into the file's; the last part's thread sends the file's.
    fn hand_back_ended<C: Consumer>(
        &self,
        parts: &mut Vec<Part<S>>,
        consumer: &mut C,
    ) -> std::result::Result<(), C::Error> {
        let mut k = 0;
        while k < parts.len() {
            if !parts[k].file.exhausted.load(Ordering::SeqCst) {
                k += 1;
                continue;
            }
            let Part { file, mut mapper } = parts.swap_remove(k);
            send_batch(&mut mapper, 1, consumer)?;
            let summary = mapper.summary();
            let done = {
                let mut ending = lock(&file.ending);
                match &mut ending.summary {
                    Some(merged) => merged.merge(&summary)?,
                    None => ending.summary = Some(summary),
                }
                ending.holders -= 1;
                if ending.holders == 0 {
                    ending.summary.take()
                } else {
                    None
                }
            };
            if let Some(summary) = done {
                consumer.file_done(summary)?;
            }
        }
        Ok(())
    }
}

/// Hands the batch `mapper` is building to `consumer` once it holds `at_least` rows.
fn send_batch<M: MapRecords, C: Consumer>(
    mapper: &mut M,
    at_least: usize,
    consumer: &mut C,
) -> std::result::Result<(), C::Error> {
    if mapper.builder().len() >= at_least.max(1) {
        let batch = mapper.builder().finish().map_err(Error::from)?;
        consumer.batch(batch)?;
    }
    Ok(())
}

/// The events of a parallel read as one iterator (in arrival order), for callers that
/// consume on a single thread; see [`crate::aws_cur::Delivery::read`].
pub struct ParallelRead {
    rx: Receiver<Result<ReadEvent>>,
}

/// Forwards one decoding thread's events into the shared channel.
struct Forward(SyncSender<Result<ReadEvent>>);

/// Why a forwarding thread stopped: a reader's error, or the iterator was dropped.
struct Stopped(Option<Error>);

impl From<Error> for Stopped {
    fn from(e: Error) -> Self {
        Stopped(Some(e))
    }
}

impl Consumer for Forward {
    type Error = Stopped;

    fn batch(&mut self, batch: RecordBatch) -> std::result::Result<(), Stopped> {
        self.0
            .send(Ok(ReadEvent::Batch(batch)))
            .map_err(|_| Stopped(None))
    }

    fn file_done(&mut self, summary: FileSummary) -> std::result::Result<(), Stopped> {
        self.0
            .send(Ok(ReadEvent::FileDone(summary)))
            .map_err(|_| Stopped(None))
    }
}

impl ParallelRead {
    /// Starts decoding `files` on `threads` threads in the background; an error ends the
    /// iteration after it.
    pub fn start<R>(
        files: Vec<PathBuf>,
        threads: usize,
        open: impl Fn(&Path) -> Result<R> + Send + Sync + 'static,
    ) -> Self
    where
        R: Iterator<Item = Result<ReadEvent>>,
    {
        let threads = threads.min(files.len()).max(1);
        let (tx, rx) = sync_channel::<Result<ReadEvent>>(threads);
        std::thread::spawn(move || {
            let consumers = (0..threads).map(|_| Forward(tx.clone())).collect();
            if let Err(Stopped(Some(e))) = read_parallel(&files, open, consumers) {
                let _ = tx.send(Err(e));
            }
        });
        ParallelRead { rx }
    }
}

impl Iterator for ParallelRead {
    type Item = Result<ReadEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}
