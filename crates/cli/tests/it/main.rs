//! Tests that run the real `billow` binary.

mod cli;
mod crash;

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

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
