//! AWS legacy Cost and Usage Report (CUR 1): gzip/zip/plain CSV, hourly or daily, with
//! resource ids, in versioned (`<period>/<assemblyId>/`) or overwrite layout.
//!
//! A delivery is found through the period manifest, `<report>-Manifest.json` in a
//! `yyyymmdd-yyyymmdd` folder, and only the files of its `reportKeys` are read: versioned mode
//! keeps every earlier assembly beside the current one, and reading them all would count the
//! month several times. A single downloaded CUR file is accepted too; its billing period comes
//! from its rows.

mod manifest;
mod reader;
mod services;

use std::path::{Path, PathBuf};

pub use manifest::Manifest;
pub use reader::{CurFileReader, CurFiles};
pub use services::service_category;

use crate::read::{Consumer, ParallelRead, ReadFiles, ReadOptions};
use crate::{Error, Result};

/// Source format name stored in `x_SourceFormat`.
pub const SOURCE_FORMAT: &str = "aws-cur1";

/// One complete CUR delivery of one billing period: the files of one assembly.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `YYYY-MM`.
    pub billing_period: String,
    /// Export version: the manifest's `assemblyId`, or the content hash prefix for a single file.
    pub assembly_id: Option<String>,
    /// Payer account from the manifest.
    pub payer_account: Option<String>,
    /// Data files, in manifest order.
    pub files: Vec<PathBuf>,
    /// The period manifest, when there is one.
    pub manifest: Option<PathBuf>,
}

impl Delivery {
    /// Reads every file of the delivery, decoding them in parallel on `options.threads` threads.
    /// Batches arrive as they are produced; each file ends with [`ReadEvent::FileDone`].
    /// Dropping the iterator stops the workers.
    pub fn read(&self, options: ReadOptions) -> ParallelRead {
        let threads = options.threads;
        let period = self.billing_period.clone();
        ParallelRead::start(self.files.clone(), threads, move |path| {
            CurFileReader::open(path, Some(&period), options.clone())
        })
    }

    /// Reads every file of the delivery with one thread per consumer, each thread handing its
    /// batches to its own consumer; see [`CurFiles`].
    pub fn read_into<C: Consumer>(
        &self,
        options: &ReadOptions,
        consumers: Vec<C>,
    ) -> std::result::Result<Vec<C>, C::Error> {
        CurFiles::new(Some(self.billing_period.clone())).read_files(&self.files, options, consumers)
    }
}

/// Finds the CUR deliveries under `path`: a report folder (all its periods), a period folder,
/// one data file, or a Data Exports export (`<export>/data/BILLING_PERIOD=YYYY-MM/`, CUR 2.0 or
/// FOCUS), each partition one delivery of its period.
pub fn discover(path: &Path) -> Result<Vec<Delivery>> {
    let meta = std::fs::metadata(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.is_file() {
        return single_file(path).map(|d| vec![d]);
    }
    let mut period_dirs = Vec::new();
    collect_period_dirs(path, &mut period_dirs, 0)?;
    period_dirs.sort();
    if period_dirs.is_empty() {
        return Err(Error::NotFound {
            path: path.to_path_buf(),
            looked_for: "folders named yyyymmdd-yyyymmdd holding a <report>-Manifest.json, or Data Exports partitions data/BILLING_PERIOD=YYYY-MM",
        });
    }
    period_dirs
        .iter()
        .map(|dir| match export_partition_period(dir) {
            Some(period) => delivery_from_export_partition(dir, period),
            None => manifest::delivery_from_period_dir(dir),
        })
        .collect()
}

/// `YYYY-MM` of a Data Exports partition folder (`data/BILLING_PERIOD=2023-11`; its twin
/// under `metadata/` holds the manifest, not data).
fn export_partition_period(dir: &Path) -> Option<String> {
    let parent = dir.parent()?.file_name()?;
    if !parent.eq_ignore_ascii_case("data") {
        return None;
    }
    let name = dir.file_name()?.to_str()?;
    let (key, period) = name.split_once('=')?;
    let b = period.as_bytes();
    (key.eq_ignore_ascii_case("BILLING_PERIOD")
        && b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit))
    .then(|| period.to_string())
}

/// A Data Exports partition. Its manifest (`<export>/metadata/BILLING_PERIOD=YYYY-MM/
/// <export>-Manifest.json`) names the files of the current version, and its `executionId` is
/// the version. Without a manifest, the files in the partition are taken as the current
/// version: the "overwrite" delivery rewrites them on every refresh. A partition holding run
/// folders ("create new") and no manifest has several versions; which one is current is for
/// the user to say.
fn delivery_from_export_partition(dir: &Path, period: String) -> Result<Delivery> {
    if let Some(manifest) = export_manifest(dir) {
        return manifest::delivery_from_export_manifest(dir, period, manifest);
    }
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if path.is_dir() {
            runs.push(path);
        } else if [".csv.gz", ".csv", ".parquet", ".gz", ".zip"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            files.push(path);
        }
    }
    if files.is_empty() {
        runs.sort();
        return Err(Error::Manifest {
            path: dir.to_path_buf(),
            detail: if runs.is_empty() {
                "the partition holds no data files and there is no manifest".into()
            } else {
                format!(
                    "the partition holds {} export runs (the \"create new\" delivery), no files \
                     of its own, and there is no manifest to say which run is current; ingest \
                     the run folder that is current, e.g. {}",
                    runs.len(),
                    runs.last()
                        .map(|r| r.display().to_string())
                        .unwrap_or_default()
                )
            },
            expected: if runs.is_empty() {
                "the export's data files here; wait for the export to be delivered"
            } else {
                "the export's manifest beside the data folder; download <export>/metadata/ too"
            },
        });
    }
    files.sort();
    Ok(Delivery {
        billing_period: period,
        assembly_id: None,
        payer_account: None,
        files,
        manifest: None,
    })
}

/// The manifest of a Data Exports partition: `<export>-Manifest.json` in the partition's twin
/// under `metadata/`.
fn export_manifest(partition: &Path) -> Option<PathBuf> {
    let export = partition.parent()?.parent()?;
    let metadata = export.join("metadata").join(partition.file_name()?);
    let mut found: Vec<PathBuf> = std::fs::read_dir(metadata)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with("-Manifest.json"))
        .collect();
    found.sort();
    found.into_iter().next()
}

fn single_file(path: &Path) -> Result<Delivery> {
    let period = reader::peek_billing_period(path)?;
    Ok(Delivery {
        billing_period: period,
        assembly_id: None,
        payer_account: None,
        files: vec![path.to_path_buf()],
        manifest: None,
    })
}

fn is_period_dir_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() == 17 && b[8] == b'-' && b[..8].iter().chain(&b[9..]).all(u8::is_ascii_digit)
}

fn collect_period_dirs(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) -> Result<()> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if export_partition_period(dir).is_some() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    if is_period_dir_name(name) {
        if manifest::find_period_manifest(dir)?.is_some() {
            out.push(dir.to_path_buf());
        }
        return Ok(());
    }
    if depth > 6 {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            collect_period_dirs(&entry.path(), out, depth + 1)?;
        }
    }
    Ok(())
}
