//! The state every handler shares.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billow_lake::{Lake, Scope};
use billow_store::{Access, AccountScope, CostType, CostTypes, Store};

use crate::metrics::Metrics;
use crate::sync::Syncs;

/// The server's shared state: the store, the lake, the login limiter and the metrics.
/// Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    lake: Lake,
    logins: LoginLimiter,
    metrics: Metrics,
    syncs: Syncs,
    options: ServerOptions,
}

/// The largest billing file an upload may carry unless the server is told otherwise: a
/// month of a large CUR file compressed.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 2 << 30;

/// How a server is set up beyond its store and lake.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Uploads past this are refused (413).
    pub max_upload_bytes: u64,
    /// The folder a connection's `source` must be in when an API caller sets it (the
    /// operator's CLI may set any); relative sources start here.
    pub exports_root: PathBuf,
}

impl ServerOptions {
    /// The defaults for a lake: 2 GiB uploads, exports under `<data>/exports`.
    pub fn for_lake(lake: &Lake) -> ServerOptions {
        ServerOptions {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            exports_root: lake.root().join("exports"),
        }
    }
}

impl AppState {
    /// State over a store and a lake, with the default options.
    pub fn new(store: Store, lake: Lake) -> AppState {
        let options = ServerOptions::for_lake(&lake);
        AppState::with_options(store, lake, options)
    }

    /// State with `options`.
    pub fn with_options(store: Store, lake: Lake, options: ServerOptions) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                lake,
                logins: LoginLimiter::default(),
                metrics: Metrics::default(),
                syncs: Syncs::default(),
                options,
            }),
        }
    }

    pub(crate) fn max_upload_bytes(&self) -> u64 {
        self.inner.options.max_upload_bytes
    }

    pub(crate) fn exports_root(&self) -> &Path {
        &self.inner.options.exports_root
    }

    pub(crate) fn syncs(&self) -> &Syncs {
        &self.inner.syncs
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn lake(&self) -> &Lake {
        &self.inner.lake
    }

    pub(crate) fn logins(&self) -> &LoginLimiter {
        &self.inner.logins
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// What of the lake `access` may read: its organization's connections, its accounts,
    /// without the cost columns of the cost types it lacks. Every lake read of a request
    /// goes through this.
    pub(crate) async fn scope(&self, access: &Access) -> Result<Scope, billow_store::Error> {
        self.scope_showing(access, access.cost_types).await
    }

    /// [`AppState::scope`] showing only the cost types of `shown` that `access` may see.
    pub(crate) async fn scope_showing(
        &self,
        access: &Access,
        shown: CostTypes,
    ) -> Result<Scope, billow_store::Error> {
        let connections = self.store().connection_ids(access).await?;
        let visible = access.cost_types.intersection(shown);
        let mut scope = Scope::connections(connections).hiding(hidden_columns(visible));
        if let AccountScope::Only(accounts) = &access.accounts {
            scope = scope.with_accounts(accounts.iter().cloned());
        }
        Ok(scope)
    }
}

/// The lake columns of each cost type. Until the Billing Engine writes its own billed cost,
/// Billed and Provider both read the provider's BilledCost (the API labels the sum by the
/// types the caller may see); Provider alone guards what reveals the provider's price terms
/// (negotiated prices and the provider's own extension columns).
pub(crate) fn hidden_columns(cost_types: CostTypes) -> Vec<&'static str> {
    let columns: [(&[CostType], &[&str]); 4] = [
        (
            &[CostType::Billed, CostType::Provider],
            &["BilledCost", "source_billed", "source_billed_exact"],
        ),
        (
            &[CostType::Effective],
            &[
                "EffectiveCost",
                "source_effective",
                "source_effective_exact",
            ],
        ),
        (&[CostType::List], &["ListCost", "ListUnitPrice"]),
        (
            &[CostType::Provider],
            &["ContractedCost", "ContractedUnitPrice", "x_Extensions"],
        ),
    ];
    let mut hidden = Vec::new();
    for (needed_by, names) in columns {
        if !needed_by.iter().any(|c| cost_types.contains(*c)) {
            hidden.extend_from_slice(names);
        }
    }
    hidden
}

/// Login attempts per client address and email: at most [`LoginLimiter::LIMIT`] in a
/// window, after which the client waits for the window's end.
#[derive(Default)]
pub(crate) struct LoginLimiter {
    attempts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl LoginLimiter {
    const LIMIT: u32 = 10;
    const WINDOW: Duration = Duration::from_secs(300);

    /// `Err(seconds to wait)` when the key has used its attempts.
    pub(crate) fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut attempts = match self.attempts.lock() {
            Ok(a) => a,
            Err(poisoned) => poisoned.into_inner(),
        };
        if attempts.len() > 100_000 {
            attempts.retain(|_, (start, _)| now.duration_since(*start) < Self::WINDOW);
        }
        let entry = attempts.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Self::WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= Self::LIMIT {
            let wait = Self::WINDOW.saturating_sub(now.duration_since(entry.0));
            return Err(wait.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}
