//! Delivery layouts: versioned (assembly folders) and overwrite mode, and reading exactly the
//! manifest's reportKeys.

use std::path::Path;

use billow_formats::aws_cur::discover;
use billow_formats::{ReadEvent, ReadOptions};
use billow_synth::aws_cur::{CurSpec, write_delivery};

fn rows(path: &Path) -> (usize, u64) {
    let deliveries = discover(path).unwrap();
    let mut n = 0;
    for d in &deliveries {
        for e in d.read(ReadOptions::new("c", "i")) {
            if let ReadEvent::Batch(b) = e.unwrap() {
                n += b.num_rows() as u64;
            }
        }
    }
    (deliveries.len(), n)
}

#[test]
fn versioned_mode_reads_only_the_current_assembly() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CurSpec::new(3, 2026, 1).with_rows(400).with_files(2);
    let v1 = write_delivery(dir.path(), &spec).unwrap();
    let v2 = write_delivery(dir.path(), &spec.clone().with_revision(1)).unwrap();
    // Both assemblies are on disk; the period manifest names v2's files only.
    assert!(v1.files[0].exists() && v2.files[0].exists());
    let found = discover(&v2.report_dir).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].assembly_id.as_deref(),
        Some(v2.assembly_id.as_str())
    );
    assert_eq!(found[0].files, v2.files);
    assert_eq!(rows(&v2.report_dir), (1, v2.expected.focus_rows));
}

#[test]
fn overwrite_mode_has_no_assembly_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = write_delivery(
        &dir.path().join("gen"),
        &CurSpec::new(4, 2026, 2).with_rows(300).with_files(3),
    )
    .unwrap();
    // Lay the same delivery out as overwrite mode: files directly in the period folder.
    let period = dir.path().join("cur/report/20260201-20260301");
    std::fs::create_dir_all(&period).unwrap();
    let mut keys = Vec::new();
    for f in &d.files {
        let name = f.file_name().unwrap();
        std::fs::copy(f, period.join(name)).unwrap();
        keys.push(format!(
            "/cur/report/20260201-20260301/{}",
            name.to_string_lossy()
        ));
    }
    let manifest = serde_json::json!({
        "assemblyId": "0c8e5a2a-1a1b-4c4c-9d9d-0123456789ab",
        "account": "123456789012",
        "billingPeriod": {"start": "20260201T000000.000Z", "end": "20260301T000000.000Z"},
        "reportKeys": keys,
        "compression": "GZIP",
    });
    std::fs::write(period.join("report-Manifest.json"), manifest.to_string()).unwrap();
    let found = discover(&dir.path().join("cur/report")).unwrap();
    assert_eq!(found[0].billing_period, "2026-02");
    assert_eq!(
        rows(&dir.path().join("cur/report")),
        (1, d.expected.focus_rows)
    );
    // The period folder itself works too.
    assert_eq!(rows(&period).1, d.expected.focus_rows);
}

#[test]
fn several_months_in_one_report_folder() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_delivery(dir.path(), &CurSpec::new(5, 2025, 12).with_rows(100)).unwrap();
    let b = write_delivery(dir.path(), &CurSpec::new(5, 2026, 1).with_rows(150)).unwrap();
    let found = discover(&a.report_dir).unwrap();
    let periods: Vec<_> = found.iter().map(|d| d.billing_period.as_str()).collect();
    assert_eq!(periods, ["2025-12", "2026-01"]);
    assert_eq!(
        rows(&a.report_dir).1,
        a.expected.focus_rows + b.expected.focus_rows
    );
}

#[test]
fn parquet_report_files_named_by_the_manifest_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let spec = CurSpec::new(6, 2026, 3).with_rows(900).with_files(2);
    let d = write_delivery(dir.path(), &spec.with_parquet()).unwrap();
    assert!(
        d.files
            .iter()
            .all(|f| f.to_string_lossy().ends_with(".snappy.parquet"))
    );
    assert_eq!(rows(&d.report_dir), (1, d.expected.focus_rows));
}

#[test]
fn a_file_that_is_not_parquet_inside_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cur.snappy.parquet");
    // Parquet's magic, then garbage: the footer cannot be read.
    std::fs::write(&p, b"PAR1 this is not a parquet file").unwrap();
    let e = discover(&p).unwrap_err().to_string();
    assert!(
        e.contains("cur.snappy.parquet") && e.contains("parquet"),
        "{e}"
    );
}
