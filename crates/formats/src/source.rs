//! Opening a billing file whatever its compression: plain, gzip (also multi-member) or zip.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

#[cfg(not(feature = "isal"))]
use flate2::read::MultiGzDecoder;

use crate::{Error, Result};

/// Compression of a file, from its magic bytes (never from its name alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip.
    Gzip,
    /// zip archive.
    Zip,
    /// A Parquet file: columnar, read through [`crate::rows`], never as a text stream.
    Parquet,
    /// An Avro object container file (BigQuery's Avro export): records, never a text stream.
    Avro,
}

/// Detects the compression from the first bytes of the file.
pub fn sniff(path: &Path) -> Result<Compression> {
    let mut f = File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut f, &mut magic).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [b'P', b'K', 3, 4] | [b'P', b'K', 5, 6] => Compression::Zip,
        [b'P', b'A', b'R', b'1'] => Compression::Parquet,
        [b'O', b'b', b'j', 1] => Compression::Avro,
        _ => Compression::None,
    })
}

/// Reads until `buf` is full or the input ends; the bytes read.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A reader over the decompressed bytes that turns decoder failures into
/// [`Error::Corrupt`] naming the file.
pub struct Decompressed {
    inner: Box<dyn Read + Send>,
    /// Its compression.
    pub compression: Compression,
}

impl Decompressed {
    /// Maps an I/O error raised while reading a stream of `path` to the right [`Error`].
    pub fn error_for(path: &Path, compression: Compression, source: io::Error) -> Error {
        let compression = match compression {
            Compression::Gzip => "gzip",
            Compression::Zip => "zip",
            Compression::Parquet => "parquet",
            Compression::Avro => "avro",
            Compression::None => {
                return Error::Io {
                    path: path.to_path_buf(),
                    source,
                };
            }
        };
        Error::Corrupt {
            path: path.to_path_buf(),
            compression,
            detail: source.to_string(),
        }
    }
}

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// A streaming gzip decoder over every member of `file` (AWS and `gzip -c a b` write several).
#[cfg(feature = "isal")]
fn gzip(file: File) -> Box<dyn Read + Send> {
    Box::new(crate::isal_gzip::IsalGzip::new(file))
}

#[cfg(not(feature = "isal"))]
fn gzip(file: File) -> Box<dyn Read + Send> {
    Box::new(MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file)))
}

/// The whole decompressed content of `path`, for sources that are one document (API responses
/// saved as JSON); a damaged gzip is reported as such.
pub fn read_all(path: &Path) -> Result<Vec<u8>> {
    let mut input = open(path)?;
    let compression = input.compression;
    let mut out = Vec::new();
    input
        .read_to_end(&mut out)
        .map_err(|e| Decompressed::error_for(path, compression, e))?;
    Ok(out)
}

/// Opens `path` and returns its decompressed bytes. For a zip, the first `.csv` entry.
pub fn open(path: &Path) -> Result<Decompressed> {
    let compression = sniff(path)?;
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let inner: Box<dyn Read + Send> = match compression {
        Compression::Parquet | Compression::Avro => {
            let (compression, what) = if compression == Compression::Parquet {
                ("parquet", "a Parquet file is read by columns")
            } else {
                ("avro", "an Avro file holds records")
            };
            return Err(Error::Corrupt {
                path: path.to_path_buf(),
                compression,
                detail: format!("{what}, not as text; this reader expected CSV"),
            });
        }
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, file)),
        Compression::Gzip => gzip(file),
        Compression::Zip => {
            let corrupt = |e: zip::result::ZipError| Error::Corrupt {
                path: path.to_path_buf(),
                compression: "zip",
                detail: e.to_string(),
            };
            let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(corrupt)?;
            let names: Vec<String> = archive
                .file_names()
                .filter_map(|n| n.ok().map(|n| n.to_string()))
                .collect();
            let Some(index) = (0..archive.len()).find(|&i| {
                archive
                    .name_for_index(i)
                    .is_some_and(|n| n.is_ok_and(|n| n.to_ascii_lowercase().ends_with(".csv")))
            }) else {
                return Err(Error::NoCsvInZip {
                    path: path.to_path_buf(),
                    found: if names.is_empty() {
                        "nothing".into()
                    } else {
                        names.join(", ")
                    },
                });
            };
            // The entry reader borrows the archive, so a thread owns the archive and streams
            // the inflated bytes through a bounded channel: memory stays at a few chunks.
            let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
            std::thread::spawn(move || {
                let mut entry = match archive.by_index(index) {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e.to_string())));
                        return;
                    }
                };
                loop {
                    let mut chunk = vec![0u8; 1 << 20];
                    match read_up_to(&mut entry, &mut chunk) {
                        Ok(0) => return,
                        Ok(n) => {
                            chunk.truncate(n);
                            if tx.send(Ok(chunk)).is_err() {
                                return; // the reader was dropped: stop inflating
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
            });
            Box::new(ChannelReader {
                rx,
                current: Vec::new(),
                pos: 0,
            })
        }
    };
    Ok(Decompressed { inner, compression })
}

/// Reads bytes that another thread sends in chunks.
struct ChannelReader {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip_member(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    /// Several gzip members (what `cat a.gz b.gz` and some exporters produce) read as one
    /// stream, byte for byte, across the decoder's internal buffer sizes.
    #[test]
    fn gzip_members_read_as_one_stream() {
        let first: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| format!("{i},{}\n", i % 97).into_bytes())
            .collect();
        let second = b"last,member\n".to_vec();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two-members.csv.gz");
        let mut bytes = gzip_member(&first);
        bytes.extend(gzip_member(&second));
        std::fs::write(&path, bytes).unwrap();

        let mut out = Vec::new();
        open(&path).unwrap().read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), first.len() + second.len());
        assert!(out[..first.len()] == first[..], "first member differs");
        assert_eq!(&out[first.len()..], &second[..]);
    }

    /// Many small members in one read of the decoder's input, read through a buffer smaller
    /// than a line, still make the one stream.
    #[test]
    fn many_members_read_in_small_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("members.csv.gz");
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for m in 0..2_000u32 {
            let member: Vec<u8> = (0..m % 50)
                .flat_map(|i| format!("{m},{i}\n").into_bytes())
                .collect();
            bytes.extend(gzip_member(&member));
            expected.extend(member);
        }
        std::fs::write(&path, bytes).unwrap();
        let mut input = open(&path).unwrap();
        let mut out = Vec::new();
        let mut piece = [0u8; 7];
        loop {
            let n = input.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        assert_eq!(out.len(), expected.len());
        assert!(out == expected, "members differ");
    }

    /// A file cut short, inside the compressed data or inside the trailer that holds the
    /// checksum, is an error, never a shorter stream.
    #[test]
    fn truncated_gzip_is_an_error() {
        let data: Vec<u8> = (0..400_000u32)
            .flat_map(|i| format!("{i},{}\n", i % 13).into_bytes())
            .collect();
        let bytes = gzip_member(&data);
        let dir = tempfile::tempdir().unwrap();
        for cut in [bytes.len() / 2, bytes.len() - 4, bytes.len() - 1] {
            let path = dir.path().join(format!("cut-{cut}.csv.gz"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let mut out = Vec::new();
            let read = open(&path).unwrap().read_to_end(&mut out);
            assert!(
                read.is_err(),
                "cut at {cut}: read {} bytes without error",
                out.len()
            );
        }
    }

    /// A damaged byte in the middle is an error, never a shorter stream.
    #[test]
    fn damaged_gzip_is_an_error() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut bytes = gzip_member(&data);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xFF;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.csv.gz");
        std::fs::write(&path, bytes).unwrap();
        let mut out = Vec::new();
        let read = open(&path).unwrap().read_to_end(&mut out);
        assert!(
            read.is_err(),
            "read {} of {} bytes without error",
            out.len(),
            data.len()
        );
    }
}
