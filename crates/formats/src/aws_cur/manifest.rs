//! The CUR 1 manifest: `assemblyId`, `billingPeriod`, `reportKeys`, `columns`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Delivery;
use crate::timestamp::{parse_utc_micros, year_month};
use crate::{Error, Result};

/// The fields of a CUR 1 manifest Billow uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Export version id; also the folder name in versioned mode.
    pub assembly_id: String,
    /// Payer account.
    #[serde(default)]
    pub account: Option<String>,
    /// Billing period with compact ISO instants, end exclusive.
    pub billing_period: ManifestPeriod,
    /// S3 keys of the data files.
    pub report_keys: Vec<String>,
    /// Report name.
    #[serde(default)]
    pub report_name: Option<String>,
    /// `GZIP`, `ZIP` or `Parquet`.
    #[serde(default)]
    pub compression: Option<String>,
}

/// `billingPeriod` of a manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestPeriod {
    /// e.g. `20180801T000000.000Z`.
    pub start: String,
    /// e.g. `20180901T000000.000Z` (exclusive).
    pub end: String,
}

/// The period-level manifest in `dir` (not an assembly's copy): a `*-Manifest.json` file.
pub(super) fn find_period_manifest(dir: &Path) -> Result<Option<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with("-Manifest.json") && entry.path().is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found.into_iter().next())
}

pub(super) fn delivery_from_period_dir(dir: &Path) -> Result<Delivery> {
    let manifest_path = find_period_manifest(dir)?.ok_or_else(|| Error::NotFound {
        path: dir.to_path_buf(),
        looked_for: "a <report>-Manifest.json in the period folder",
    })?;
    let bytes = std::fs::read(&manifest_path).map_err(|source| Error::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::Manifest {
        path: manifest_path.clone(),
        detail: e.to_string(),
    })?;
    let start = parse_utc_micros(manifest.billing_period.start.as_bytes()).ok_or_else(|| {
        Error::Manifest {
            path: manifest_path.clone(),
            detail: format!(
                "billingPeriod.start {:?} is not a date",
                manifest.billing_period.start
            ),
        }
    })?;
    if manifest.report_keys.is_empty() {
        return Err(Error::Manifest {
            path: manifest_path,
            detail: "reportKeys is empty".into(),
        });
    }
    let period_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut files = Vec::with_capacity(manifest.report_keys.len());
    for key in &manifest.report_keys {
        // Keys are S3 keys from the bucket root (koku's fixtures start them with '/'); the part
        // after the period folder is the same on disk.
        let marker = format!("/{period_name}/");
        let normalized = format!("/{}", key.trim_start_matches('/'));
        let relative = normalized
            .find(&marker)
            .map(|i| &normalized[i + marker.len()..]);
        let candidate = match relative {
            Some(rel) => dir.join(rel),
            None => dir.join(
                Path::new(key.trim_start_matches('/'))
                    .file_name()
                    .unwrap_or_default(),
            ),
        };
        if !candidate.is_file() {
            return Err(Error::MissingReportFile {
                manifest: manifest_path.clone(),
                key: key.clone(),
                looked_for: candidate,
                period: period_name.clone(),
            });
        }
        files.push(candidate);
    }
    Ok(Delivery {
        billing_period: year_month(start),
        assembly_id: Some(manifest.assembly_id),
        payer_account: manifest.account,
        files,
        manifest: Some(manifest_path),
    })
}
