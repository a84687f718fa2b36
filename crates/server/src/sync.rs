//! Syncs: a connection whose exports arrive in a folder on the server (`settings.source`) is
//! read again on demand (Refresh) or by the scheduler, through the same readers and commit
//! as `billow ingest`. One sync per connection runs at a time, in the background; its
//! progress and last outcome are kept in memory and its result in the store's sync state.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use billow_ingest::{IngestOptions, Outcome, PeriodReport, Progress};
use billow_store::{Access, Connection};

use crate::error::ApiError;
use crate::state::AppState;

/// The syncs running now and the last outcome of each connection's.
#[derive(Default)]
pub(crate) struct Syncs {
    running: Mutex<HashMap<String, Arc<Job>>>,
    finished: Mutex<HashMap<String, Finished>>,
}

/// A running sync's progress, updated by the readers.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) started_at: i64,
    pub(crate) actor: String,
    pub(crate) files: AtomicU64,
    pub(crate) files_done: AtomicU64,
    pub(crate) rows: AtomicU64,
}

impl Progress for Job {
    fn period_started(&self, _billing_period: &str, files: usize, _bytes: u64) {
        self.files.fetch_add(files as u64, Ordering::Relaxed);
    }
    fn rows_read(&self, rows: u64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }
    fn file_done(&self) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// How a connection's last sync (since the server started) ended.
#[derive(Clone)]
pub(crate) struct Finished {
    pub(crate) started_at: i64,
    pub(crate) finished_at: i64,
    pub(crate) actor: String,
    /// Each billing period read: (period, `published` or `unchanged`, rows).
    pub(crate) periods: Vec<(String, &'static str, u64)>,
    pub(crate) error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Syncs {
    /// The running sync of a connection, if any.
    pub(crate) fn running(&self, connection_id: &str) -> Option<Arc<Job>> {
        lock(&self.running).get(connection_id).cloned()
    }

    /// The last finished sync of a connection, if any.
    pub(crate) fn finished(&self, connection_id: &str) -> Option<Finished> {
        lock(&self.finished).get(connection_id).cloned()
    }

    /// Registers a sync of `connection_id`, or returns the one already running.
    fn begin(&self, connection_id: &str, actor: &str) -> Result<Arc<Job>, Arc<Job>> {
        let mut running = lock(&self.running);
        if let Some(job) = running.get(connection_id) {
            return Err(Arc::clone(job));
        }
        let job = Arc::new(Job {
            started_at: now_micros(),
            actor: actor.to_string(),
            files: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            rows: AtomicU64::new(0),
        });
        running.insert(connection_id.to_string(), Arc::clone(&job));
        Ok(job)
    }

    fn end(&self, connection_id: &str, finished: Finished) {
        lock(&self.finished).insert(connection_id.to_string(), finished);
    }
}

/// Where a connection's source may be when an API caller sets it: `text` as a path inside
/// `root` (relative paths are taken from `root`), existing. Object-store URLs are for the
/// provider connectors, which do not read them yet.
pub(crate) fn check_source(root: &Path, text: &str) -> Result<PathBuf, ApiError> {
    let unusable =
        |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", message);
    if text.contains("://") {
        return Err(unusable(format!(
            "source {text:?}: this server reads exports from its own disk only"
        ))
        .hint(format!(
            "copy the export into a folder under {} (for example `aws s3 sync s3://bucket/prefix {}/aws`) and set that folder",
            root.display(),
            root.display()
        )));
    }
    let root = root.canonicalize().map_err(|e| {
        unusable(format!(
            "the server's exports folder {} is unusable: {e}",
            root.display()
        ))
        .hint("the operator creates it, or starts `billow serve --exports-root <folder>`")
    })?;
    let path = resolve(&root, text);
    let real = path.canonicalize().map_err(|e| {
        unusable(format!("source {text:?}: {e}")).hint(format!(
            "give a folder or file under {} (relative paths start there)",
            root.display()
        ))
    })?;
    if !real.starts_with(&root) {
        return Err(
            unusable(format!("source {text:?} is outside the server's exports folder"))
                .hint(format!(
                    "give a folder or file under {}; the operator chooses it with `billow serve --exports-root`",
                    root.display()
                )),
        );
    }
    Ok(real)
}

/// A source's path: absolute as given, relative from the exports root.
pub(crate) fn resolve(root: &Path, text: &str) -> PathBuf {
    let path = Path::new(text);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// Starts a sync of `connection` in the background. `Err` when it has no source (422) or
/// one is running already (409).
pub(crate) fn start(
    state: &AppState,
    access: &Access,
    connection: &Connection,
) -> Result<Arc<Job>, ApiError> {
    let (job, path) = begin(state, access, connection)?;
    let (state, access, connection) = (state.clone(), access.clone(), connection.clone());
    let running = Arc::clone(&job);
    tokio::spawn(async move {
        run(&state, &access, &connection, &path, &running).await;
    });
    Ok(job)
}

/// Registers a sync of `connection` and returns it with the path to read.
fn begin(
    state: &AppState,
    access: &Access,
    connection: &Connection,
) -> Result<(Arc<Job>, PathBuf), ApiError> {
    let Some(source) = connection.source() else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            format!("connection {:?} has no source to sync from", connection.name),
        )
        .hint(format!(
            "set settings.source to the folder its exports arrive in (PATCH /api/v1/connections/{}), or upload files to it",
            connection.name
        )));
    };
    let path = resolve(state.exports_root(), source);
    let job = state
        .syncs()
        .begin(&connection.id, &access.actor)
        .map_err(|running| {
            ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "a sync of {:?} is running since {}",
                    connection.name,
                    crate::routes::rfc3339(running.started_at)
                ),
            )
            .hint("wait for it to finish; GET /api/v1/connections/{name} shows its progress")
        })?;
    Ok((job, path))
}

/// Removes a job from the running ones when dropped, so a sync that panics does not block
/// its connection until the server restarts.
struct Running<'a> {
    syncs: &'a Syncs,
    connection_id: &'a str,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock(&self.syncs.running).remove(self.connection_id);
    }
}

/// Reads the source, records the outcome in the store, and ends the job whatever happens.
async fn run(state: &AppState, access: &Access, connection: &Connection, path: &Path, job: &Job) {
    let _running = Running {
        syncs: state.syncs(),
        connection_id: &connection.id,
    };
    let options = IngestOptions::new(&connection.id);
    let result =
        billow_ingest::ingest_for_provider(state.lake(), &connection.provider, path, &options, job)
            .await;
    let (periods, version, error) = match &result {
        Ok((_, reports)) => (outcomes(reports), latest_version(reports), None),
        Err(e) => (Vec::new(), None, Some(e.to_string())),
    };
    if let Some(error) = &error {
        tracing::warn!(connection = %connection.id, "sync failed: {error}");
    }
    if let Err(e) = state
        .store()
        .record_sync(access, &connection.id, version.as_deref(), error.as_deref())
        .await
    {
        tracing::error!(connection = %connection.id, "recording the sync failed: {e}");
    }
    state.syncs().end(
        &connection.id,
        Finished {
            started_at: job.started_at,
            finished_at: now_micros(),
            actor: job.actor.clone(),
            periods,
            error,
        },
    );
}

/// Each period's outcome, as the API names it.
pub(crate) fn outcomes(reports: &[PeriodReport]) -> Vec<(String, &'static str, u64)> {
    reports
        .iter()
        .map(|r| {
            let outcome = match r.outcome {
                Outcome::Published { .. } => "published",
                Outcome::Unchanged => "unchanged",
            };
            (r.key.billing_period.clone(), outcome, r.rows)
        })
        .collect()
}

/// The version a sync leaves the connection at: its newest ingestion.
pub(crate) fn latest_version(reports: &[PeriodReport]) -> Option<String> {
    reports
        .iter()
        .map(|r| r.ingestion_id.as_str())
        .max()
        .map(str::to_string)
}

/// Syncs every connection with a source every `every`, first after one interval (a
/// restarted server does not re-read everything at once). A connection already syncing is
/// skipped until the next round.
pub async fn schedule(state: AppState, every: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let connections = match state.store().scheduled_connections().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("the scheduler cannot list connections: {e}");
                continue;
            }
        };
        // One at a time: a sync uses every core already.
        for (access, connection) in connections {
            match begin(&state, &access, &connection) {
                Ok((job, path)) => run(&state, &access, &connection, &path, &job).await,
                Err(e) => {
                    tracing::info!(connection = %connection.id, "not synced: {}", e.message())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sync_per_connection_and_a_dropped_run_frees_it() {
        let syncs = Syncs::default();
        let first = syncs.begin("aws", "ann@acme.example").unwrap();
        let running = syncs.begin("aws", "bob@acme.example").unwrap_err();
        assert!(Arc::ptr_eq(&first, &running));
        assert_eq!(running.actor, "ann@acme.example");
        // Another connection is independent.
        assert!(syncs.begin("gcp", "bob@acme.example").is_ok());
        drop(Running {
            syncs: &syncs,
            connection_id: "aws",
        });
        assert!(syncs.running("aws").is_none());
        assert!(syncs.begin("aws", "bob@acme.example").is_ok());
    }

    #[test]
    fn sources_stay_under_the_exports_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("exports");
        std::fs::create_dir_all(root.join("aws/cur")).unwrap();
        std::fs::create_dir_all(dir.path().join("lake")).unwrap();
        let real = root.canonicalize().unwrap();
        assert_eq!(
            check_source(&root, "aws/cur").unwrap(),
            real.join("aws/cur")
        );
        let absolute = real.join("aws");
        assert_eq!(
            check_source(&root, absolute.to_str().unwrap()).unwrap(),
            absolute
        );
        for outside in ["..", "../lake", "aws/../../lake", "/", "nowhere"] {
            let e = check_source(&root, outside).unwrap_err();
            assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY, "{outside}");
        }
        // A link inside the root that leads out of it is outside.
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("lake"), root.join("escape")).unwrap();
            assert!(check_source(&root, "escape").is_err());
        }
    }
}
