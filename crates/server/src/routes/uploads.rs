//! Uploads: a billing file sent to a connection is recognized, ingested through the same
//! readers as `billow ingest`, and published period by period. The body is streamed to disk
//! and refused (413) past the server's limit; a file Billow cannot use is a 422 that names
//! the line or cell, and leaves the published data as it was.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use billow_ingest::{IngestOptions, NoProgress};
use billow_store::Permission;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiQuery, Caller};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub(crate) struct UploadQuery {
    /// The file's name as the provider wrote it (its extension tells `.csv`, `.csv.gz`,
    /// `.zip`, `.json`, `.parquet`…).
    #[param(example = "billow-cur-00001.csv.gz")]
    filename: String,
}

/// One billing period of an upload.
#[derive(Serialize, ToSchema)]
pub(crate) struct UploadedPeriod {
    #[schema(example = "2026-10")]
    billing_period: String,
    /// `published` (a new version replaced the period) or `unchanged` (the lake holds this
    /// exact file already).
    outcome: String,
    ingestion_id: String,
    rows: u64,
}

/// What an upload published.
#[derive(Serialize, ToSchema)]
pub(crate) struct UploadResult {
    filename: String,
    /// The recognized format (`aws-cur`, `focus`, `azure`, `gcp`…).
    format: String,
    bytes: u64,
    periods: Vec<UploadedPeriod>,
}

/// A file name safe to write: its last path part, in a small alphabet.
fn safe_name(filename: &str) -> ApiResult<String> {
    let last = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() || name.len() > 200 {
        return Err(
            ApiError::bad_request(format!("filename {filename:?} is not usable")).hint(
                "send the file's own name, 1 to 200 characters, e.g. filename=report-00001.csv.gz",
            ),
        );
    }
    Ok(name.to_string())
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the upload is larger than this server's limit of {limit} bytes"),
    )
    .hint("split the export by month, or ingest it on the server with `billow ingest <path>`; `billow serve --max-upload-mb` raises the limit")
}

/// Upload one billing file (CUR, FOCUS, Azure, GCP, OCI, DigitalOcean or SaaS export) to a
/// connection; its billing periods are published as `billow ingest` would.
#[utoipa::path(post, path = "/api/v1/connections/{name}/uploads", tag = "connections", security(("bearer" = [])),
    params(("name" = String, Path, description = "The connection's name or id"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes, as the provider wrote them"),
    responses((status = 201, body = UploadResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    Caller(access): Caller,
    Path(name): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<UploadResult>)> {
    access.require(Permission::RunIngestion)?;
    let connection = state.store().connection(&access, &name).await?;
    let filename = safe_name(&q.filename)?;
    let limit = state.max_upload_bytes();
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }

    // In the data directory, so a large file does not fill a small /tmp; removed on return.
    let uploads = state.lake().root().join("uploads");
    let staging = tokio::fs::create_dir_all(&uploads)
        .await
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix(".upload-")
                .tempdir_in(&uploads)
        })
        .map_err(|e| ApiError::internal(&e))?;
    let path = staging.path().join(&filename);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mut bytes = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(format!("the upload ended early: {e}"))
                .hint("send the whole file again")
        })?;
        bytes += chunk.len() as u64;
        if bytes > limit {
            return Err(too_large(limit));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    }
    file.flush().await.map_err(|e| ApiError::internal(&e))?;
    drop(file);
    if bytes == 0 {
        return Err(ApiError::bad_request("the upload is empty")
            .hint("send the file's bytes as the request body"));
    }

    let options = IngestOptions::new(&connection.id);
    let result = billow_ingest::ingest_for_provider(
        state.lake(),
        &connection.provider,
        &path,
        &options,
        &NoProgress,
    )
    .await;
    // Where the server wrote the file is not the user's business: errors name the file.
    let staged = format!("{}/", staging.path().display());
    let failure = result
        .as_ref()
        .err()
        .map(|e| e.to_string().replace(&staged, ""));
    let version = result
        .as_ref()
        .ok()
        .and_then(|(_, reports)| crate::sync::latest_version(reports));
    state
        .store()
        .record_sync(
            &access,
            &connection.id,
            version.as_deref(),
            failure.as_deref(),
        )
        .await?;
    let (format, reports) = result.map_err(|e| match e {
        billow_ingest::Error::Format(_)
        | billow_ingest::Error::MixedFormats { .. }
        | billow_ingest::Error::NoRows { .. }
        | billow_ingest::Error::WrongProvider { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            failure.unwrap_or_default(),
        )
        .hint("fix or re-download the file and upload it to the connection of its provider; the published data is unchanged"),
        other => ApiError::from(other),
    })?;
    Ok((
        StatusCode::CREATED,
        Json(UploadResult {
            filename,
            format: format.command().to_string(),
            bytes,
            periods: crate::sync::outcomes(&reports)
                .into_iter()
                .zip(&reports)
                .map(|((billing_period, outcome, rows), r)| UploadedPeriod {
                    billing_period,
                    outcome: outcome.into(),
                    ingestion_id: r.ingestion_id.clone(),
                    rows,
                })
                .collect(),
        }),
    ))
}
