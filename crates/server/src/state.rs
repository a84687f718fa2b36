//! The state every handler shares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use billow_lake::{Lake, Scope};
use billow_store::{Access, AccountScope, CostType, CostTypes, Store};

use crate::metrics::Metrics;

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
}

impl AppState {
    /// State over a store and a lake.
    pub fn new(store: Store, lake: Lake) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store,
                lake,
                logins: LoginLimiter::default(),
                metrics: Metrics::default(),
            }),
        }
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
        let connections = self.store().connection_ids(access).await?;
        let mut scope = Scope::connections(connections).hiding(hidden_columns(access.cost_types));
        if let AccountScope::Only(accounts) = &access.accounts {
            scope = scope.with_accounts(accounts.iter().cloned());
        }
        Ok(scope)
    }
}

/// The lake columns each cost type needs. Until the Billing Engine writes its own billed
/// cost, Billed is the provider's BilledCost; Provider guards what reveals the provider's
/// price to the customer (negotiated prices and the provider's own extension columns).
pub(crate) fn hidden_columns(cost_types: CostTypes) -> Vec<&'static str> {
    let mut hidden = Vec::new();
    let columns: [(CostType, &[&str]); 4] = [
        (
            CostType::Billed,
            &["BilledCost", "source_billed", "source_billed_exact"],
        ),
        (
            CostType::Effective,
            &[
                "EffectiveCost",
                "source_effective",
                "source_effective_exact",
            ],
        ),
        (CostType::List, &["ListCost", "ListUnitPrice"]),
        (
            CostType::Provider,
            &["ContractedCost", "ContractedUnitPrice", "x_Extensions"],
        ),
    ];
    for (cost_type, names) in columns {
        if !cost_types.contains(cost_type) {
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
