//! The raw zone: exact copies of every source file, named by their SHA-256.

use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use billow_lake::FileRecord;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Copies `source` into `<raw>/<aa>/<sha256>` (once per content) and returns its record.
pub(crate) fn keep(raw_dir: &Path, source: &Path) -> Result<(FileRecord, PathBuf)> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Raw { path, source }
    };
    fs::create_dir_all(raw_dir).map_err(io_err(raw_dir))?;
    let tmp = raw_dir.join(format!(".incoming-{}", uuid::Uuid::new_v4()));
    let mut reader = BufReader::with_capacity(1 << 20, File::open(source).map_err(io_err(source))?);
    let mut out = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(io_err(source))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(io_err(&tmp))?;
        bytes += n as u64;
    }
    out.sync_all().map_err(io_err(&tmp))?;
    let sha = hex::encode(hasher.finalize());
    let dir = raw_dir.join(&sha[..2]);
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let dest = dir.join(&sha);
    if dest.exists() {
        fs::remove_file(&tmp).map_err(io_err(&tmp))?;
    } else {
        fs::rename(&tmp, &dest).map_err(io_err(&dest))?;
    }
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        FileRecord {
            name,
            sha256: sha,
            bytes,
            rows: 0,
        },
        dest,
    ))
}

/// Keeps every file of a delivery, `threads` files at a time; records come back in `sources` order.
pub(crate) fn keep_all(
    raw_dir: &Path,
    sources: &[PathBuf],
    threads: usize,
) -> Result<Vec<FileRecord>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Result<FileRecord>>>> =
        std::sync::Mutex::new((0..sources.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, sources.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(source) = sources.get(i) else { return };
                    let kept = keep(raw_dir, source).map(|(record, _)| record);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(kept);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|e| Error::Internal(e.to_string()))?;
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Internal("a raw-zone copy did not run".into()))))
        .collect()
}

/// SHA-256 over the files' names and hashes in order.
pub(crate) fn fingerprint(files: &[FileRecord]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.name.as_bytes());
        h.update([0]);
        h.update(f.sha256.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}
