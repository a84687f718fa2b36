//! What one caller may read: the rows of some connections (for account-scoped callers, of
//! some billing accounts or sub accounts) without some columns. A session made for a scope
//! has only views that apply it, so no query run through it, however written, reaches
//! another organization's rows or a hidden cost column.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::catalog::SchemaProvider;
use datafusion::datasource::{TableProvider, ViewTable, provider_as_source};
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::prelude::{Expr, ident, lit};

use crate::tables::{BREAKDOWN, FOCUS, INGESTIONS, LakeTables, TOTALS};

/// The rows and columns of the lake one caller may read. [`Scope::everything`] is the
/// local CLI's; the server builds one per request from the caller's organization and role.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Scope {
    connections: Option<BTreeSet<String>>,
    accounts: Option<BTreeSet<String>>,
    hidden: BTreeSet<String>,
}

impl Scope {
    /// Every row and column.
    pub fn everything() -> Scope {
        Scope::default()
    }

    /// The rows of these connections only (none when empty).
    pub fn connections<I, S>(ids: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Scope {
            connections: Some(ids.into_iter().map(Into::into).collect()),
            ..Scope::default()
        }
    }

    /// Further restricted to rows whose `BillingAccountId` or `SubAccountId` is one of these
    /// (ingestion records: whose billing account is; ingestions themselves: none).
    pub fn with_accounts<I, S>(mut self, ids: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.accounts = Some(ids.into_iter().map(Into::into).collect());
        self
    }

    /// Without these columns (in every table that has them).
    pub fn hiding<I, S>(mut self, columns: I) -> Scope
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.hidden.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Whether `column` is visible.
    pub fn shows(&self, column: &str) -> bool {
        !self.hidden.contains(column)
    }

    /// Whether rows of connection `id` may be visible.
    pub fn includes_connection(&self, id: &str) -> bool {
        self.connections.as_ref().is_none_or(|c| c.contains(id))
    }

    /// Whether nothing is restricted.
    pub fn is_everything(&self) -> bool {
        self.connections.is_none() && self.accounts.is_none() && self.hidden.is_empty()
    }

    /// The account restriction, if any.
    pub(crate) fn accounts(&self) -> Option<&BTreeSet<String>> {
        self.accounts.as_ref()
    }

    /// The rows of `table` this scope shows, as a predicate (`None`: all).
    pub(crate) fn row_filter(&self, table: &str) -> Option<Expr> {
        let any_of = |column: &str, values: &BTreeSet<String>| {
            if values.is_empty() {
                lit(false)
            } else {
                ident(column).in_list(values.iter().map(|v| lit(v.as_str())).collect(), false)
            }
        };
        let (connection_column, accounts) = match table {
            FOCUS => (
                "x_ConnectionId",
                self.accounts
                    .as_ref()
                    .map(|a| any_of("BillingAccountId", a).or(any_of("SubAccountId", a).is_true())),
            ),
            TOTALS => (
                "connection_id",
                self.accounts
                    .as_ref()
                    .map(|a| any_of("billing_account_id", a)),
            ),
            BREAKDOWN => (
                "connection_id",
                self.accounts.as_ref().map(|a| {
                    any_of("billing_account_id", a).or(any_of("sub_account_id", a).is_true())
                }),
            ),
            // An ingestion's row counts cover every account of the connection.
            INGESTIONS => ("connection_id", self.accounts.as_ref().map(|_| lit(false))),
            _ => return Some(lit(false)),
        };
        let connections = self
            .connections
            .as_ref()
            .map(|c| any_of(connection_column, c));
        match (connections, accounts) {
            (None, None) => None,
            (Some(f), None) | (None, Some(f)) => Some(f),
            (Some(a), Some(b)) => Some(a.and(b)),
        }
    }
}

/// The lake's tables seen through a scope: each a view that filters the rows and drops the
/// hidden columns. The unscoped tables are not reachable by name.
#[derive(Debug)]
pub(crate) struct ScopedTables {
    pub(crate) tables: LakeTables,
    pub(crate) scope: Scope,
}

impl ScopedTables {
    async fn view(&self, name: &'static str) -> crate::Result<Arc<dyn TableProvider>> {
        let inner = self.tables.provider(name).await?;
        if self.scope.is_everything() {
            return Ok(inner);
        }
        let schema = inner.schema();
        let mut plan = LogicalPlanBuilder::scan(name, provider_as_source(inner), None)?;
        if let Some(filter) = self.scope.row_filter(name) {
            plan = plan.filter(filter)?;
        }
        let visible: Vec<Expr> = schema
            .fields()
            .iter()
            .filter(|f| self.scope.shows(f.name()))
            .map(|f| ident(f.name()))
            .collect();
        let plan = plan.project(visible)?.build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

#[async_trait::async_trait]
impl SchemaProvider for ScopedTables {
    fn table_names(&self) -> Vec<String> {
        LakeTables::NAMES.iter().map(|n| n.to_string()).collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        let Some(name) = LakeTables::NAMES.iter().find(|n| **n == name) else {
            return Ok(None);
        };
        self.view(name)
            .await
            .map(Some)
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
    }

    fn table_exist(&self, name: &str) -> bool {
        LakeTables::NAMES.contains(&name)
    }
}
