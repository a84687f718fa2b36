//! How fast records are read from a CSV file already in memory: the best of 15 passes.
//!
//!     cargo run --profile fast -p billow-csv --example parse_speed -- file.csv
//!
//! (A CUR month decompressed, e.g. `zcat …csv.gz | head -300000 > file.csv`.) Not a test: a
//! tool for comparing versions of the parser on the same bytes.

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parse_speed FILE.csv");
        std::process::exit(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let mut best = f64::MAX;
    for _ in 0..15 {
        let t = std::time::Instant::now();
        let mut reader = billow_csv::Reader::new(&bytes[..]);
        let mut record = billow_csv::Record::new();
        let mut fields = 0u64;
        while reader
            .read(&mut record)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
        {
            fields += record.len() as u64;
        }
        assert!(fields > 0);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = bytes.len() as f64 / best / 1e9;
    println!("best of 15: {best:.4} s ({rate:.2} GB/s)");
}
