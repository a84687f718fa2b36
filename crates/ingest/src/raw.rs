//! The raw zone: exact copies of every source file, named by their SHA-256.
//!
//! The hashes identify the export version, so that an unchanged delivery is skipped. When the
//! lake holds an ingestion of files with the same names and sizes, hashing comes first, before
//! any decoding ([`hash_all`], then [`keep_all`]). Otherwise the delivery cannot be one the
//! lake holds, and each file is hashed as it is copied ([`hash_and_keep_all`]), while the
//! files are decoded: one read of every file fewer, and no wait before decoding (on 5M CUR
//! rows the hashing pass took 0.4 s of a 10 s ingest). Either way the copies are complete
//! before the new version is published. On Linux they are written with `O_DIRECT`: the source
//! is in the page cache, and a buffered write of a gigabyte costs seconds of kernel CPU (page
//! allocation, clearing, copying) that decoding needs.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use billow_lake::FileRecord;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + use<> {
    let path = path.to_path_buf();
    move |source| Error::Raw { path, source }
}

/// Name, size and SHA-256 of one source file.
fn hash(source: &Path) -> Result<FileRecord> {
    let mut file = File::open(source).map_err(io_err(source))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_err(source))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileRecord {
        name: file_name(source),
        sha256: hex::encode(hasher.finalize()),
        bytes,
        rows: 0,
    })
}

fn file_name(source: &Path) -> String {
    source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Name and size of each file, in order: what an ingestion of the same files recorded.
pub(crate) fn names_and_sizes(sources: &[PathBuf]) -> Result<Vec<(String, u64)>> {
    sources
        .iter()
        .map(|source| {
            let bytes = fs::metadata(source).map_err(io_err(source))?.len();
            Ok((file_name(source), bytes))
        })
        .collect()
}

/// Where the raw zone keeps a file with this hash.
fn raw_path(raw_dir: &Path, sha256: &str) -> PathBuf {
    raw_dir.join(&sha256[..2.min(sha256.len())]).join(sha256)
}

/// Copies `source` to `<raw>/<aa>/<sha256>` unless that content is already kept. The copy
/// lands under a temporary name, is synced, then renamed, so a kept file is always whole.
fn keep(raw_dir: &Path, source: &Path, record: &FileRecord) -> Result<()> {
    let dest = raw_path(raw_dir, &record.sha256);
    if dest.exists() {
        return Ok(());
    }
    let tmp = incoming(raw_dir);
    let copied = copy(source, &tmp, &mut |_| {}).map_err(io_err(source))?;
    check_size(source, &tmp, record.bytes, copied)?;
    publish(&tmp, &dest)
}

/// Copies `source` into the raw zone while hashing the bytes copied: its record, with the
/// size it had (`bytes`) when the ingestion started.
fn hash_and_keep(raw_dir: &Path, source: &Path, bytes: u64) -> Result<FileRecord> {
    let tmp = incoming(raw_dir);
    let mut hasher = Sha256::new();
    let copied = copy(source, &tmp, &mut |chunk| hasher.update(chunk)).map_err(io_err(source))?;
    check_size(source, &tmp, bytes, copied)?;
    let record = FileRecord {
        name: file_name(source),
        sha256: hex::encode(hasher.finalize()),
        bytes,
        rows: 0,
    };
    let dest = raw_path(raw_dir, &record.sha256);
    if dest.exists() {
        fs::remove_file(&tmp).map_err(io_err(&tmp))?;
        return Ok(record);
    }
    publish(&tmp, &dest)?;
    Ok(record)
}

/// A new temporary name in the raw zone.
fn incoming(raw_dir: &Path) -> PathBuf {
    raw_dir.join(format!(".incoming-{}", uuid::Uuid::new_v4()))
}

/// Fails (removing the copy `tmp`) when `copied` bytes were copied of a file that had `bytes`.
fn check_size(source: &Path, tmp: &Path, bytes: u64, copied: u64) -> Result<()> {
    if copied == bytes {
        return Ok(());
    }
    let _ = fs::remove_file(tmp);
    Err(Error::Raw {
        path: source.to_path_buf(),
        source: std::io::Error::other(format!(
            "the file changed while it was ingested ({bytes} bytes at first, {copied} when \
             copied); ingest again once the export is complete"
        )),
    })
}

/// Syncs the copy `tmp` and moves it to `dest`.
fn publish(tmp: &Path, dest: &Path) -> Result<()> {
    File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_err(tmp))?;
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    fs::rename(tmp, dest).map_err(io_err(dest))
}

/// Copies `source` to the new file `dest`, bypassing the page cache where the file system
/// allows it, shows `observe` the bytes in order, and returns the number of bytes copied.
fn copy(source: &Path, dest: &Path, observe: &mut dyn FnMut(&[u8])) -> std::io::Result<u64> {
    #[cfg(target_os = "linux")]
    {
        let mut seen = 0u64;
        let mut counted = |chunk: &[u8]| {
            seen += chunk.len() as u64;
            observe(chunk);
        };
        match direct::copy(source, dest, &mut counted) {
            Ok(copied) => return Ok(copied),
            // tmpfs and some network file systems refuse O_DIRECT (when the destination is
            // opened, or at its first write): copy through the page cache.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && seen == 0 => {
                let _ = fs::remove_file(dest);
            }
            Err(e) => return Err(e),
        }
    }
    let mut input = File::open(source)?;
    let mut output = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        observe(&buf[..n]);
        std::io::Write::write_all(&mut output, &buf[..n])?;
        copied += n as u64;
    }
}

#[cfg(target_os = "linux")]
mod direct {
    use std::fs::{File, OpenOptions};
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::Path;

    /// O_DIRECT needs buffer addresses, lengths and file offsets aligned to the device's
    /// logical block; 4096 covers every common one.
    const ALIGN: usize = 4096;
    const CHUNK: usize = 4 << 20;

    pub(super) fn copy(
        source: &Path,
        dest: &Path,
        observe: &mut dyn FnMut(&[u8]),
    ) -> std::io::Result<u64> {
        let mut input = File::open(source)?;
        let mut output = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_DIRECT)
            .open(dest)?;
        let mut storage = vec![0u8; CHUNK + ALIGN];
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        let chunk = &mut storage[start..start + CHUNK];
        let mut copied = 0u64;
        loop {
            let mut filled = 0;
            while filled < CHUNK {
                match input.read(&mut chunk[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Bytes are shown once written: a file system that refuses O_DIRECT does so at the
            // first write, and the copy starts again through the page cache.
            if filled == CHUNK {
                output.write_all(chunk)?;
                observe(chunk);
                copied += CHUNK as u64;
                continue;
            }
            // The last block is written whole (zero padded), then the file is cut to size.
            let padded = filled.div_ceil(ALIGN) * ALIGN;
            chunk[filled..padded].fill(0);
            output.write_all(&chunk[..padded])?;
            observe(&chunk[..filled]);
            copied += filled as u64;
            output.set_len(copied)?;
            return Ok(copied);
        }
    }
}

/// Runs `work` on every index of `sources`, `threads` at a time; results come back in order.
fn each_parallel<T: Send>(
    sources: &[PathBuf],
    threads: usize,
    work: impl Fn(usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Result<T>>>> =
        std::sync::Mutex::new((0..sources.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, sources.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= sources.len() {
                        return;
                    }
                    let done = work(i);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(done);
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
        .map(|r| r.unwrap_or_else(|| Err(Error::Internal("a raw-zone task did not run".into()))))
        .collect()
}

/// Hashes every file of a delivery, `threads` files at a time; records come back in
/// `sources` order.
pub(crate) fn hash_all(sources: &[PathBuf], threads: usize) -> Result<Vec<FileRecord>> {
    each_parallel(sources, threads, |i| hash(&sources[i]))
}

/// Keeps every file of a delivery in the raw zone (`records` from [`hash_all`], same order).
pub(crate) fn keep_all(raw_dir: &Path, sources: &[PathBuf], records: &[FileRecord]) -> Result<()> {
    fs::create_dir_all(raw_dir).map_err(io_err(raw_dir))?;
    // The kernel does the copying; one file at a time leaves the cores to decoding.
    each_parallel(sources, 1, |i| keep(raw_dir, &sources[i], &records[i])).map(|_| ())
}

/// Keeps every file of a delivery in the raw zone, hashing each as it is copied, one file at
/// a time (decoding has the cores); `sizes` from [`names_and_sizes`], the records in order.
pub(crate) fn hash_and_keep_all(
    raw_dir: &Path,
    sources: &[PathBuf],
    sizes: &[(String, u64)],
) -> Result<Vec<FileRecord>> {
    fs::create_dir_all(raw_dir).map_err(io_err(raw_dir))?;
    each_parallel(sources, 1, |i| {
        hash_and_keep(raw_dir, &sources[i], sizes.get(i).map_or(0, |s| s.1))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around the O_DIRECT block and chunk boundaries, where padding and the final
    /// truncation must leave exactly the source bytes.
    const SIZES: [usize; 7] = [0, 1, 4095, 4096, 4097, (4 << 20) + 1, (8 << 20) + 12345];

    fn copies_exactly_in(dir: &Path) {
        for size in SIZES {
            let source = dir.join(format!("source-{size}"));
            let bytes: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            fs::write(&source, &bytes).unwrap();
            let dest = dir.join(format!("dest-{size}"));
            let mut seen = Vec::new();
            let copied = copy(&source, &dest, &mut |chunk| seen.extend_from_slice(chunk));
            assert_eq!(copied.unwrap(), size as u64);
            assert_eq!(fs::read(&dest).unwrap(), bytes, "{size} bytes");
            assert!(seen == bytes, "{size} bytes shown in order");
        }
        hashing_while_copying_keeps_what_hashing_first_keeps(dir);
    }

    /// Both ways of filling the raw zone give the same records and the same kept files, and
    /// a file whose size changed since it was listed is an error that keeps nothing.
    fn hashing_while_copying_keeps_what_hashing_first_keeps(dir: &Path) {
        let sources: Vec<PathBuf> = [0usize, 5000, (4 << 20) + 3]
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let path = dir.join(format!("part-{i}.csv.gz"));
                fs::write(
                    &path,
                    (0..size).map(|k| (k * 7 % 253) as u8).collect::<Vec<_>>(),
                )
                .unwrap();
                path
            })
            .collect();
        let (first, second) = (dir.join("raw-first"), dir.join("raw-second"));
        let records = hash_all(&sources, 2).unwrap();
        keep_all(&first, &sources, &records).unwrap();
        let sizes = names_and_sizes(&sources).unwrap();
        assert_eq!(
            hash_and_keep_all(&second, &sources, &sizes).unwrap(),
            records
        );
        // Kept again: the content is there already.
        assert_eq!(
            hash_and_keep_all(&second, &sources, &sizes).unwrap(),
            records
        );
        for record in &records {
            let kept = fs::read(raw_path(&second, &record.sha256)).unwrap();
            assert_eq!(kept, fs::read(raw_path(&first, &record.sha256)).unwrap());
        }
        let listed = names_and_sizes(&sources).unwrap();
        fs::write(&sources[1], b"rewritten").unwrap();
        let third = dir.join("raw-third");
        let err = hash_and_keep_all(&third, &sources, &listed).unwrap_err();
        assert!(
            err.to_string().contains("changed while it was ingested"),
            "{err}"
        );
        let left: Vec<_> = fs::read_dir(&third).unwrap().flatten().collect();
        assert!(
            left.iter().all(|e| e.file_type().unwrap().is_dir()),
            "no partial copy left"
        );
    }

    #[test]
    fn copies_are_exact_on_a_disk_file_system() {
        copies_exactly_in(tempfile::tempdir().unwrap().path());
    }

    /// tmpfs refuses O_DIRECT; the copy falls back to the page cache.
    #[test]
    fn copies_are_exact_where_direct_io_is_refused() {
        let shm = Path::new("/dev/shm");
        if !shm.is_dir() {
            return;
        }
        copies_exactly_in(tempfile::tempdir_in(shm).unwrap().path());
    }
}
