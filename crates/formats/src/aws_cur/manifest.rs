//! The manifests that say which files make up a delivery: the CUR 1 period manifest
//! (`assemblyId`, `billingPeriod`, `reportKeys`) and the Data Exports partition manifest
//! (`executionId`, `dataFiles`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Delivery;
use crate::timestamp::{parse_utc_micros, year_month};
use crate::{Error, Result};

/// What a CUR 1 manifest error tells the user to look for.
pub(super) const CUR_EXPECTED: &str = "the AWS CUR manifest JSON with assemblyId, billingPeriod and reportKeys; re-download the period folder";

/// What a Data Exports manifest error tells the user to look for.
const EXPORT_EXPECTED: &str = "the manifest JSON with dataFiles (and executionId) that AWS Data Exports writes to <export>/metadata/BILLING_PERIOD=YYYY-MM/; download that folder and the same period's data folder again";

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
        expected: CUR_EXPECTED,
    })?;
    let start = parse_utc_micros(manifest.billing_period.start.as_bytes()).ok_or_else(|| {
        Error::Manifest {
            path: manifest_path.clone(),
            detail: format!(
                "billingPeriod.start {:?} is not a date",
                manifest.billing_period.start
            ),
            expected: CUR_EXPECTED,
        }
    })?;
    if manifest.report_keys.is_empty() {
        return Err(Error::Manifest {
            path: manifest_path,
            detail: "reportKeys is empty".into(),
            expected: CUR_EXPECTED,
        });
    }
    let files = local_files(dir, &manifest_path, &manifest.report_keys)?;
    Ok(Delivery {
        billing_period: year_month(start),
        assembly_id: Some(manifest.assembly_id),
        payer_account: manifest.account,
        files,
        manifest: Some(manifest_path),
    })
}

/// Where the files a manifest names are on disk: `dir` is the folder the manifest's keys pass
/// through (the period folder, or the Data Exports partition), and the part of each key after
/// it is the same locally. Keys are S3 keys from the bucket root or `s3://` URIs (koku's
/// fixtures start them with `/`); a key that does not pass through `dir`'s name is looked for
/// by its file name.
fn local_files(dir: &Path, manifest_path: &Path, keys: &[String]) -> Result<Vec<PathBuf>> {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let marker = format!("/{folder}/");
    keys.iter()
        .map(|key| {
            let normalized = format!("/{}", key.trim_start_matches('/'));
            let candidate = match normalized.find(&marker) {
                Some(i) => dir.join(&normalized[i + marker.len()..]),
                None => dir.join(
                    Path::new(key.trim_start_matches('/'))
                        .file_name()
                        .unwrap_or_default(),
                ),
            };
            if candidate.is_file() {
                Ok(candidate)
            } else {
                Err(Error::MissingReportFile {
                    manifest: manifest_path.to_path_buf(),
                    key: key.clone(),
                    looked_for: candidate,
                    period: folder.clone(),
                })
            }
        })
        .collect()
}

/// The fields of a Data Exports manifest Billow uses. AWS writes it after every data file of
/// the partition, so the files it lists are the period's current version, whether the export
/// overwrites its files or writes each refresh to a new folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExportManifest {
    /// The export run that wrote this version.
    #[serde(default)]
    execution_id: Option<String>,
    /// The run's data files, as `s3://` URIs or keys.
    data_files: Option<Vec<String>>,
    /// The period covered; its shape is not documented, so only a `start` or a `YYYY-MM`
    /// text is checked.
    #[serde(default)]
    billing_period: Option<serde_json::Value>,
}

/// The current version of a Data Exports partition (`data/BILLING_PERIOD=YYYY-MM`) as its
/// manifest lists it.
pub(super) fn delivery_from_export_manifest(
    partition: &Path,
    period: String,
    manifest_path: PathBuf,
) -> Result<Delivery> {
    let bad = |detail: String| Error::Manifest {
        path: manifest_path.clone(),
        detail,
        expected: EXPORT_EXPECTED,
    };
    let bytes = std::fs::read(&manifest_path).map_err(|source| Error::Io {
        path: manifest_path.clone(),
        source,
    })?;
    let manifest: ExportManifest =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not readable ({e})")))?;
    let data_files = manifest
        .data_files
        .ok_or_else(|| bad("it has no dataFiles list".into()))?;
    if data_files.is_empty() {
        return Err(bad(
            "dataFiles is empty: the export has not delivered this period yet".into(),
        ));
    }
    if let Some(stated) = manifest.billing_period.as_ref().and_then(stated_period)
        && stated != period
    {
        return Err(bad(format!(
            "billingPeriod says {stated}, but the manifest sits in the partition of {period}"
        )));
    }
    Ok(Delivery {
        billing_period: period,
        assembly_id: manifest.execution_id,
        payer_account: None,
        files: local_files(partition, &manifest_path, &data_files)?,
        manifest: Some(manifest_path),
    })
}

/// `YYYY-MM` of a manifest's `billingPeriod`: a `{"start": ...}` object or a text.
fn stated_period(value: &serde_json::Value) -> Option<String> {
    let text = value
        .get("start")
        .and_then(|s| s.as_str())
        .or_else(|| value.as_str())?;
    let b = text.as_bytes();
    if b.len() >= 7 && b[4] == b'-' {
        return Some(text[..7].to_string());
    }
    parse_utc_micros(b).map(year_month)
}
