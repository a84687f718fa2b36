//! What every reader yields, and decoding a delivery's files on several threads.
//!
//! A delivery is several files (AWS splits a month into many gzip parts); each file is
//! decoded start to end by one thread. Every thread hands its batches to its own
//! [`Consumer`], so the work that follows decoding (the lake's Parquet encoding) runs on the
//! same core while the batch is still in its cache, and no single downstream thread limits
//! how many cores are busy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow::array::RecordBatch;

use crate::batch::SourceTotals;
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
    /// Files decoded at once.
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

    /// Sets how many files are decoded at once.
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
    let failed = AtomicBool::new(false);
    let results: Vec<std::result::Result<S, E>> = std::thread::scope(|scope| {
        let workers: Vec<_> = states
            .into_iter()
            .map(|mut state| {
                let (next, failed, work, finish) = (&next, &failed, &work, &finish);
                scope.spawn(move || {
                    let stopped = || failed.load(Ordering::SeqCst);
                    loop {
                        if stopped() {
                            return Ok(state);
                        }
                        let Some(path) = files.get(next.fetch_add(1, Ordering::SeqCst)) else {
                            if let Err(e) = finish(&mut state) {
                                failed.store(true, Ordering::SeqCst);
                                return Err(e);
                            }
                            return Ok(state);
                        };
                        if let Err(e) = work(path, &mut state, &stopped) {
                            failed.store(true, Ordering::SeqCst);
                            return Err(e);
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
