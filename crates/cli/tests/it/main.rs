//! Tests that run the real `billow` binary.

mod admin;
mod cli;
mod crash;
mod detect;

use std::path::Path;
use std::process::{Command, Output};

pub(crate) fn billow(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_billow"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("BILLOW_DATA")
        .output()
        .expect("billow runs")
}

/// Generates `spec` under `dir/src` and ingests it through the binary into `dir/data` as
/// `connection`; returns the data directory and the delivery.
pub(crate) fn ingested(
    dir: &Path,
    spec: &billow_synth::aws_cur::CurSpec,
    connection: &str,
) -> (std::path::PathBuf, billow_synth::aws_cur::Delivery) {
    let data = dir.join("data");
    let d = billow_synth::aws_cur::write_delivery(&dir.join("src"), spec).unwrap();
    let out = billow(
        &data,
        &[
            "ingest",
            "aws-cur",
            d.report_dir.to_str().unwrap(),
            "--connection",
            connection,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    (data, d)
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
